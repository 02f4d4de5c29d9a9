"""Audiences resolve to the right conversations; event cards survive any text; progress reads as specified."""

from __future__ import annotations

import datetime as dt
import json

import pytest

from cards.render import CardRenderer
from events.audience import AudienceResolver, pilots_of
from events.broadcast import Progress
from events.cards import EventCards, EventLinks, progress_line
from events.models import ALL_CHANNELS, BERLIN, Announcement, Audience, Author, Event
from events.rsvp import Attendee, Roster
from routing.people import Departments
from routing.pilots import Pilot, PilotDirectory
from storage.conversations import ConversationBook, ConversationRecord
from storage.sqlite import SqliteStore
from tests.cards.parts import strings

NASTY = ['He said "hi"', "back\\slash\\", "{{ x }} {% if %}", "[klick](https://evil.example)", "<b>html</b> &amp;",
         "Kolleg*innen und Digitallots*innen", "😀 \u202e \x00", "}\n{"]


@pytest.fixture
async def world():
    store = SqliteStore(":memory:")
    await store.open(["conversations", "users", "pilots"])
    book = ConversationBook(store.container("conversations"))
    for n in range(1, 7):
        await book.remember(ConversationRecord(f"a:p{n}", "https://smba.example/", "t", "personal", "28:b",
                                               user_id=f"29:u{n}", user_aad_id=f"aad-{n}", user_name=f"Person {n}"))
    await book.remember(ConversationRecord("19:c1@thread.tacv2", "https://smba.example/", "t", "channel", "28:b",
                                           team_id="team-1"))
    await book.remember(ConversationRecord("19:c2@thread.tacv2", "https://smba.example/", "t", "channel", "28:b",
                                           team_id="team-2"))
    await book.set_status("a:p6", "blocked")
    directory = PilotDirectory(store.container("pilots"))
    await directory.add(Pilot(key="pilot-01", name="Lotsin Eins", upn="eins@stadt.example", aad_id="aad-2",
                              department="Amt 10"))
    await directory.add(Pilot(key="pilot-02", name="Lotse Zwei", upn="zwei@stadt.example", aad_id="",
                              teams_id="29:u3", department="Amt 20"))
    departments = Departments(store.container("users"))
    await departments.remember("aad-4", "Amt 51 – Jugendamt")
    await departments.remember("aad-5", "Amt 10, Hauptamt")
    yield AudienceResolver(book, store.container("users"), pilots_of(directory))
    await store.close()


async def ids(resolver, audience) -> set[str]:
    return {r.conversation_id for r in await resolver.recipients(audience)}


async def test_all_means_every_active_personal_chat(world):
    assert await ids(world, Audience("all")) == {"a:p1", "a:p2", "a:p3", "a:p4", "a:p5"}


async def test_pilots_come_from_the_pilot_directory_by_object_id_or_teams_id(world):
    assert await ids(world, Audience("pilots")) == {"a:p2", "a:p3"}


async def test_departments_match_by_amt_number_or_name(world):
    assert await ids(world, Audience("departments", departments=("Amt 51",))) == {"a:p4"}
    assert await ids(world, Audience("departments", departments=("amt 10  hauptamt",))) == {"a:p5"}
    assert await world.departments() == ["Amt 10, Hauptamt", "Amt 51 – Jugendamt"]


async def test_channels_chosen_or_all_and_nobody_twice(world):
    assert await ids(world, Audience("none", channels=("19:c2@thread.tacv2",))) == {"19:c2@thread.tacv2"}
    both = await world.recipients(Audience("pilots", channels=(ALL_CHANNELS,)))
    assert {r.conversation_id for r in both} == {"a:p2", "a:p3", "19:c1@thread.tacv2", "19:c2@thread.tacv2"}
    assert [r.kind for r in both] == ["user", "user", "channel", "channel"]
    assert len(await world.channels()) == 2


def test_progress_line_reads_as_specified():
    line = progress_line(Progress("x-send", 10_000, 3_120, 12, 0, 6_868, False, 118.0))
    assert line == "zugestellt 3\u202f120 / 10\u202f000 · 12 fehlgeschlagen · noch etwa 2 min"
    done = progress_line(Progress("x-send", 10, 9, 0, 1, 0, True, 0.0))
    assert done == "zugestellt 9 / 10 · 1 blockiert"


@pytest.mark.parametrize("text", NASTY)
def test_user_text_never_breaks_an_event_card(text):
    cards = EventCards(CardRenderer(), EventLinks("https://bot.example"))
    now = dt.datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)
    event = Event(title=text, description=text, date=dt.date(2026, 12, 3), start=dt.time(14), place=text,
                  link="https://x.example/?q=\"", capacity=3)
    ann = Announcement(id="a1", event=event, author=Author(), status="sent", ics_token="t")
    roster = Roster("a1", 3, (Attendee("k", name=text),), (Attendee("w", name=text),))
    rendered = [cards.event(ann, roster, now), cards.event(ann, roster, now, viewer="29:u", viewer_key="w"),
                cards.preview(ann, roster, now, editing=False), cards.reminder(ann, 60),
                cards.form({"title": text, "description": text}, {"title": text}, channels=[("19:c", text)],
                           departments=[text]),
                cards.participants(ann, roster, "https://bot.example/x.csv"), cards.confirm_cancel(ann),
                cards.progress(ann, Progress("a1-send", 2, 1, 1, 0, 0, True, 0.0, ((text, text),))),
                cards.listing([{"id": "a1", "title": text, "when": "w", "place": text, "counts": "c", "status": ""}],
                              author=True)]
    for card in rendered:
        assert card["version"] == "1.5"
        blob = json.dumps(card)
        assert '"type": "TextBlock"' not in blob, "user text only in TextRuns"
        assert any(text in s for s in strings(card))
