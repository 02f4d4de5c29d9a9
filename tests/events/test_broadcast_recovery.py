"""Crashes, several instances on one store, and reminders that are sent once across restarts.

A crash is simulated by cancelling the engine's pass while some sends have reached the connector and
are still unanswered: nothing of the engine runs afterwards (no outcome written, no lease released),
as after kill -9. The next engine is a separate 'process' (own HTTP client, limiter, sender).
"""

from __future__ import annotations

import asyncio

import pytest

from dialogs.context import Message
from events.broadcast import BroadcastEngine, Recipient
from events.reminders import Reminders
from tests.events.broadcast_kit import Clock, HoldingConnector, World

ANNOUNCEMENT = Message(text="Vernetzungstreffen am Donnerstag", summary="Einladung")
DAY, HOUR = 24 * 3600.0, 3600.0


async def crash_mid_job(engine: BroadcastEngine, connector: HoldingConnector, held: list[Recipient]) -> None:
    """Run `engine` until every held send has reached the connector, then kill it."""
    connector.hold(*(r.conversation_id for r in held))
    task = asyncio.create_task(engine.run_pending())
    await connector.wait_for(lambda c: len(c.waiting) == len(held))
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    connector.release()  # the held requests were delivered; the dead engine never learnt it


async def test_resume_after_crash_loses_nobody_and_duplicates_only_the_in_flight(world: World, connector,
                                                                                 clock: Clock) -> None:
    people = await world.recipients(30)
    first = await world.engine("instance-a", concurrency=4)
    await first.submit("ann-1", ANNOUNCEMENT, people)
    await crash_mid_job(first, connector, people[10:14])
    in_flight = [d for d in await first.store.records("ann-1") if d.body["status"] == "in_flight"]
    assert len(in_flight) == 4  # at most `concurrency`

    second = await world.engine("instance-b", concurrency=4)
    assert await second.run_pending() == 0          # the dead instance's lease has not expired yet
    clock.advance(31)
    await second.run_pending()                      # takes over; leaves the young in-flight ones alone
    progress = await second.progress("ann-1")
    assert (progress.done, progress.sent, progress.pending) == (False, 26, 4)
    clock.advance(120)
    await second.run_pending()                      # past the grace period: retried
    progress = await second.progress("ann-1")
    assert (progress.done, progress.sent, progress.pending) == (True, 30, 0)

    posts = connector.posts_per_conversation()
    assert set(posts) == {r.conversation_id for r in people}                      # nobody lost
    duplicated = {cid for cid, n in posts.items() if n > 1}
    assert duplicated == {r.conversation_id for r in people[10:14]}               # only the in-flight ones
    assert all(n <= 2 for n in posts.values())
    attempts = {d.body["conversation_id"]: d.body["attempts"] for d in await second.store.records("ann-1")}
    assert all(attempts[r.conversation_id] == 2 for r in people[10:14])


async def test_restart_with_the_same_instance_id_resumes_at_once(world: World, connector) -> None:
    people = await world.recipients(12)
    before = await world.engine("host-1", concurrency=3)
    await before.submit("ann-1", ANNOUNCEMENT, people)
    await crash_mid_job(before, connector, people[3:6])
    after = await world.engine("host-1", concurrency=3)   # same slot, new process: no waiting
    await after.run_pending()
    progress = await after.progress("ann-1")
    assert (progress.done, progress.sent) == (True, 12)
    posts = connector.posts_per_conversation()
    assert set(posts) == {r.conversation_id for r in people}
    assert sum(posts.values()) - len(people) == 3


async def test_a_recipient_is_not_claimed_more_than_max_attempts(world: World, connector, clock) -> None:
    people = await world.recipients(3)
    target = people[1]
    for run in range(3):
        engine = await world.engine("host-1", concurrency=1, max_attempts=2)
        if run == 0:
            await engine.submit("ann-1", ANNOUNCEMENT, people)
        if run < 2:
            await crash_mid_job(engine, connector, [target])  # this recipient kills the sender every time
        else:
            await engine.run_pending()
    progress = await engine.progress("ann-1")
    assert (progress.done, progress.sent, progress.failed) == (True, 2, 1)
    assert progress.failures == (("Person 1", "Abgebrochen nach 2 unterbrochenen Versuchen"),)
    assert connector.posts_per_conversation()[target.conversation_id] == 2


async def test_two_engines_on_one_store_send_each_delivery_once(world: World, connector) -> None:
    people = await world.recipients(40)
    a = await world.engine("instance-a")
    b = await world.engine("instance-b")
    await a.submit("ann-1", ANNOUNCEMENT, people[:20])
    await b.submit("ann-2", ANNOUNCEMENT, people[20:])
    await a.submit("ann-3", ANNOUNCEMENT, people)
    await asyncio.gather(a.run_pending(), b.run_pending(), a.run_pending(), b.run_pending())
    await asyncio.gather(a.run_pending(), b.run_pending())
    posts = connector.posts_per_conversation()
    assert posts == {r.conversation_id: 2 for r in people}   # ann-3 plus one of ann-1/ann-2 each
    for job_id in ("ann-1", "ann-2", "ann-3"):
        assert (await a.progress(job_id)).done
        owners = {d.body["owner"] for d in await a.store.records(job_id)}
        assert len(owners) == 1  # the lease kept each job on one instance


async def test_an_engine_that_lost_its_lease_stops_claiming(world: World, connector, clock: Clock) -> None:
    people = await world.recipients(10)
    slow = await world.engine("instance-a", concurrency=1)
    other = await world.engine("instance-b", concurrency=1)
    await slow.submit("ann-1", ANNOUNCEMENT, people)
    connector.hold(people[2].conversation_id)
    task = asyncio.create_task(slow.run_pending())
    await connector.wait_for(lambda c: len(c.waiting) == 1)
    clock.advance(200)                 # 'slow' stalled past its lease and the grace period
    taking_over = asyncio.create_task(other.run_pending())
    stalled = people[2].conversation_id
    await connector.wait_for(lambda c: c.posts_per_conversation().get(stalled) == 2)
    connector.release()
    await taking_over                  # took over and finished the job
    await task                         # 'slow' notices at its next tick and stops
    posts = connector.posts_per_conversation()
    assert set(posts) == {r.conversation_id for r in people}
    assert sum(posts.values()) - len(people) == 1   # only the one stalled send is doubled
    progress = await other.progress("ann-1")
    assert (progress.done, progress.sent) == (True, 10)


async def test_reminders_reach_each_participant_once_across_restarts(world: World, connector, clock: Clock) -> None:
    people = await world.recipients(6)
    participants = {"evt-1": people[:3]}
    asked: list[tuple[str, float]] = []

    async def who(event_id: str) -> list[Recipient]:
        return list(participants.get(event_id, []))

    async def text(event_id: str, offset: float) -> Message | None:
        asked.append((event_id, offset))
        return Message(text=f"Erinnerung: in {int(offset // HOUR)} Stunden geht es los")

    starts = clock.now + 3 * DAY
    engine = await world.engine("host-1")
    reminders = Reminders(engine, who, text, clock=clock)
    ids = await reminders.schedule("evt-1", starts)
    assert ids == [Reminders.job_id("evt-1", DAY, starts), Reminders.job_id("evt-1", HOUR, starts)]
    assert await engine.run_pending() == 0 and asked == []

    clock.advance(2 * DAY)                                    # 24 h before
    assert await engine.run_pending() == 3
    participants["evt-1"] = people[:4]                        # a late registration

    restarted = await world.engine("host-2")                  # restart: sources registered again
    again = Reminders(restarted, who, text, clock=clock)
    assert await again.schedule("evt-1", starts) == ids[1:]   # the 24 h one is past; nothing doubled
    assert await restarted.run_pending() == 0
    clock.advance(DAY - HOUR)                                 # 1 h before
    await restarted.run_pending()
    await restarted.run_pending()
    texts: dict[str, list[str]] = {}
    for call in connector.sent():
        texts.setdefault(call.conversation_id, []).append(call.text)
    assert texts == {**{r.conversation_id: ["Erinnerung: in 24 Stunden geht es los",
                                            "Erinnerung: in 1 Stunden geht es los"] for r in people[:3]},
                     people[3].conversation_id: ["Erinnerung: in 1 Stunden geht es los"]}


async def test_cancelled_or_moved_events_are_not_reminded(world: World, connector, clock: Clock) -> None:
    people = await world.recipients(2)
    engine = await world.engine()

    async def who(event_id: str) -> list[Recipient]:
        return people

    async def text(event_id: str, offset: float) -> Message | None:
        return None if event_id == "evt-gone" else Message(text=f"Erinnerung {event_id}")

    reminders = Reminders(engine, who, text, offsets=(HOUR,), clock=clock)
    start = clock.now + DAY
    await reminders.schedule("evt-cancelled", start)
    await reminders.schedule("evt-gone", start)
    await reminders.schedule("evt-moved", start)
    assert await reminders.cancel("evt-cancelled") == 1
    moved = await reminders.reschedule("evt-moved", start + DAY)
    clock.advance(DAY - HOUR)                       # 1 h before the original start
    await engine.run_pending()
    assert connector.sent() == []
    assert (await engine.progress(Reminders.job_id("evt-gone", HOUR, start))).done
    clock.advance(DAY)                              # 1 h before the new start
    await engine.run_pending()
    assert {c.text for c in connector.sent()} == {"Erinnerung evt-moved"} and len(connector.sent()) == 2
    assert moved == [Reminders.job_id("evt-moved", HOUR, start + DAY)]
