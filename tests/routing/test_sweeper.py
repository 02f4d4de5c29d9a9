"""Timers in the store: timeouts in business hours → next candidate → the pilots' channel → a reminder,
worked off by one sweeper at a time (a lease), on both stores, with a controllable clock."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import replace
from zoneinfo import ZoneInfo

import pytest

from bot.connector import ConnectorClient
from bot.proactive import ProactiveSender
from bot.throttle import RateLimiter
from cards.render import CardRenderer
from dialogs.escalation_cards import EscalationCards
from dialogs.escalation_flow import EscalationFlow, Policy
from routing import requests as rq
from routing.hours import BusinessHours
from routing.pilots import PilotDirectory
from routing.request_book import Applied, RequestBook
from routing.requests import HelpRequest, Person
from routing.sweeper import Sweeper
from storage.conversations import ConversationBook, ConversationRecord
from storage.lease import Leases
from tests.fakes.connector import FakeConnector

BERLIN = ZoneInfo("Europe/Berlin")
MONDAY_9 = dt.datetime(2026, 11, 23, 9, 0, tzinfo=BERLIN).timestamp()
HOUR = 3600.0
TENANT = "tenant-s"
CHANNEL = "19:lotsen@thread.tacv2"
ASKER = Person(user_id="29:asker", aad_id="aad-asker", name="Fragende Person", department="Amt 51")
PILOTS = """
pilots:
  - {key: p1, name: Anna, upn: anna@beispielstadt.example, aad_id: aad-p1, teams_id: "29:p1", department: Amt 51,
     topics: [whiteboard]}
  - {key: p2, name: Bernd, upn: bernd@beispielstadt.example, aad_id: aad-p2, teams_id: "29:p2", department: Amt 20,
     topics: [whiteboard]}
  - {key: p3, name: Clara, upn: clara@beispielstadt.example, aad_id: aad-p3, teams_id: "29:p3", department: Amt 40}
"""


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class World:
    """The routing services over one store and a fake Bot Connector."""

    def __init__(self, store, connector: FakeConnector, seed, *, channel: bool) -> None:
        self.clock = Clock(MONDAY_9)
        self.book = ConversationBook(store.container("other"))
        self.client = ConnectorClient(None)
        sender = ProactiveSender(self.client, self.book, RateLimiter(1000, burst=100), bot_id="28:bot",
                                 service_url_for=self.book.latest_service_url)
        hours = BusinessHours.parse("Mo-Fr 08:00-16:00")
        self.requests = RequestBook(store.container("items"))
        self.directory = PilotDirectory(store.container("other"), seed_file=seed)
        self.flow = EscalationFlow(self.requests, self.directory, sender, EscalationCards(CardRenderer(), hours, {}),
                                   hours, Policy(4.0, 2, CHANNEL if channel else ""), self.book, clock=self.clock)
        self.leases = Leases(store.container("leases"))
        self.connector = connector

    def sweeper(self, owner: str) -> Sweeper:
        return Sweeper(self.requests, self.leases, self.flow, clock=self.clock, owner=owner)

    async def start(self) -> None:
        await self.client.start()
        await self.directory.start()
        url = self.connector.url
        await self.book.remember(ConversationRecord("a:asker", url, TENANT, "personal", "28:bot", user_id="29:asker",
                                                    user_aad_id="aad-asker"))
        await self.book.remember(ConversationRecord(CHANNEL, url, TENANT, "channel", "28:bot", team_id="19:team"))

    async def submit(self, rid: str = "r1") -> HelpRequest:
        request = HelpRequest(id=rid, text="Whiteboard exportieren", requester=ASKER, tenant_id=TENANT,
                              created_at=self.clock.now, updated_at=self.clock.now, topics=("whiteboard",))
        return await self.flow.submit(request)

    def told(self) -> list[str]:
        """Headings of what the requester was told."""
        return [c.card["body"][0]["inlines"][0]["text"] for c in self.connector.sent("a:asker") if c.card]


@pytest.fixture
async def world(store, tmp_path):
    seed = tmp_path / "pilots.yaml"
    seed.write_text(PILOTS, encoding="utf-8")
    async with FakeConnector() as connector:
        w = World(store, connector, seed, channel=True)
        await w.start()
        yield w
        await w.client.stop()


async def test_timeouts_walk_the_candidates_then_the_channel_then_remind(world):
    request = await world.submit()
    assert request.status == "offered" and request.holder.pilot_key == "p1"
    due = request.deadline
    assert due == MONDAY_9 + 4 * HOUR
    sweeper = world.sweeper("a")

    report = await sweeper.run_once(due - 1)
    assert report.ran and report.timed_out == 0
    report = await sweeper.run_once(due)
    assert report.timed_out == 1
    request = await world.requests.get("r1")
    assert request.holder.pilot_key == "p2" and request.offers[0].outcome == "timed_out"
    assert any(c.method == "PUT" and c.activity_id == request.offers[0].activity_id for c in world.connector.calls)
    assert world.told()[-1] == "Ihre Anfrage liegt bei Bernd"

    # Offered at 13:00 with 4 business hours: due on Tuesday at 09:00.
    assert request.deadline == dt.datetime(2026, 11, 24, 9, 0, tzinfo=BERLIN).timestamp()
    await sweeper.run_once(request.deadline)
    request = await world.requests.get("r1")
    assert request.status == "open"                       # two candidates tried: into the channel
    channel_posts = world.connector.sent(CHANNEL)
    assert channel_posts and "Übernehmen" in str(channel_posts[-1].card)
    assert world.told()[-1] == "Ihre Anfrage liegt im Kanal der Digitallots*innen"

    report = await sweeper.run_once(request.deadline)
    assert report.reminded == 1
    assert world.told()[-1] == "Noch hat niemand Ihre Anfrage übernommen"
    assert (await sweeper.run_once(request.deadline + 100 * HOUR)).reminded == 0   # reminded once


async def test_the_weekend_does_not_count(world):
    world.clock.now = dt.datetime(2026, 11, 27, 15, 0, tzinfo=BERLIN).timestamp()   # Friday 15:00
    request = await world.submit()
    saturday = dt.datetime(2026, 11, 28, 12, 0, tzinfo=BERLIN).timestamp()
    assert (await world.sweeper("a").run_once(saturday)).timed_out == 0
    assert request.deadline == dt.datetime(2026, 11, 30, 11, 0, tzinfo=BERLIN).timestamp()


async def test_urgent_requests_get_half_the_time(world):
    request = HelpRequest(id="u1", text="Whiteboard", requester=ASKER, tenant_id=TENANT, created_at=MONDAY_9,
                          updated_at=MONDAY_9, urgency="dringend")
    placed = await world.flow.submit(request)
    assert placed.deadline == MONDAY_9 + 2 * HOUR


async def test_two_instances_sweep_once(world):
    request = await world.submit()
    first, second = world.sweeper("instance-a"), world.sweeper("instance-b")
    reports = await asyncio.gather(first.run_once(request.deadline), second.run_once(request.deadline))
    assert sorted(r.ran for r in reports) == [False, True]
    stored = await world.requests.get("r1")
    assert [o.outcome for o in stored.offers] == ["timed_out", "pending"]


async def test_a_crashed_instance_loses_the_lease_after_its_ttl(world):
    await world.submit()
    crashed, other = world.sweeper("crashed"), world.sweeper("other")
    assert (await crashed.run_once(MONDAY_9)).ran                     # holds the lease, then "dies"
    assert not (await other.run_once(MONDAY_9 + 60)).ran
    assert (await other.run_once(MONDAY_9 + 181)).ran                # lease TTL is 180 s


async def test_even_without_the_lease_each_timeout_happens_once(world):
    """If a lease ran out mid-sweep, two sweepers may work the same request: the ETag lets one win."""
    request = await world.submit()
    due = request.deadline
    results = await asyncio.gather(*(world.requests.apply("r1", lambda r: rq.time_out(r, now=due))
                                     for _ in range(5)), return_exceptions=True)
    assert sum(1 for r in results if isinstance(r, Applied) and r.changed) == 1


async def test_a_request_left_between_two_steps_is_picked_up(world):
    request = await world.submit()
    await world.requests.apply("r1", lambda r: rq.decline(r, r.holder, now=MONDAY_9, reason="keine Zeit"))
    sweeper = world.sweeper("a")
    assert (await sweeper.run_once(MONDAY_9 + 60)).resumed == 0        # a live handler may still be at it
    report = await sweeper.run_once(MONDAY_9 + 600)
    assert report.resumed == 1
    assert (await world.requests.get("r1")).holder.pilot_key == "p2"
    assert request.id == "r1"


async def test_without_channel_and_available_pilots_the_request_is_closed_as_unassigned(store, tmp_path):
    seed = tmp_path / "pilots.yaml"
    seed.write_text(PILOTS, encoding="utf-8")
    async with FakeConnector() as connector:
        w = World(store, connector, seed, channel=False)
        await w.start()
        try:
            for key in ("p1", "p2", "p3"):
                await w.directory.update(key, lambda p: replace(p, absent_until="2026-12-31"))
            request = await w.submit()
            assert (request.status, request.closed_reason) == ("unassigned", "nobody")
        finally:
            await w.client.stop()
