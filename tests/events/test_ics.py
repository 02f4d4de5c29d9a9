"""The calendar file is valid RFC 5545: CRLF, folded at 75 octets, escaped text, Berlin time zone."""

from __future__ import annotations

import datetime as dt
import re

from events.ics import calendar, fold, token_matches
from events.models import BERLIN, Announcement, Author, Event

NOW = dt.datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)


def announcement(**changes) -> Announcement:
    event = Event(title="Vernetzung; Digitallots*innen, IT & HR", description="Zeile eins\nZeile zwei mit Ümläuten " * 6,
                  date=dt.date(2026, 12, 3), start=dt.time(14, 0), end=dt.time(16, 30), place="Rathaus, Raum 1",
                  link="https://teams.microsoft.com/l/meetup-join/abc")
    values = {"id": "a1b2", "event": event, "author": Author(), "status": "sent", "ics_token": "secret-token"}
    values.update(changes)
    return Announcement(**values)


def unfold(text: str) -> list[str]:
    assert text.endswith("\r\n") and "\n" not in text.replace("\r\n", "")
    return text.replace("\r\n ", "").split("\r\n")[:-1]


def properties(lines: list[str]) -> dict[str, str]:
    props: dict[str, str] = {}
    for line in lines:
        name, _, value = line.partition(":")
        props.setdefault(name, value)
    return props


def unescape(value: str) -> str:
    return re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)


def test_structure_and_required_properties():
    text = calendar(announcement(), now=NOW)
    lines = unfold(text)
    assert lines[0] == "BEGIN:VCALENDAR" and lines[-1] == "END:VCALENDAR"
    stack = []
    for line in lines:
        if line.startswith("BEGIN:"):
            stack.append(line[6:])
        elif line.startswith("END:"):
            assert stack.pop() == line[4:]
    assert stack == []
    props = properties(lines)
    assert props["VERSION"] == "2.0" and props["PRODID"]
    assert props["UID"] == "a1b2@lotsenbot"
    assert props["DTSTAMP"] == "20261121T090000Z"
    assert props["DTSTART;TZID=Europe/Berlin"] == "20261203T140000"
    assert props["DTEND;TZID=Europe/Berlin"] == "20261203T163000"
    assert "TZID:Europe/Berlin" in lines and props["STATUS"] == "CONFIRMED"


def test_lines_are_folded_at_75_octets_without_splitting_characters():
    text = calendar(announcement(), now=NOW)
    for physical in text.split("\r\n")[:-1]:
        assert len(physical.encode("utf-8")) <= 75
    assert fold("Ä" * 100).count("\r\n ") >= 2
    for part in fold("Ä" * 100).split("\r\n "):
        part.encode("utf-8")   # every piece is whole UTF-8


def test_text_is_escaped_and_round_trips():
    ann = announcement()
    props = properties(unfold(calendar(ann, now=NOW)))
    assert unescape(props["SUMMARY"]) == ann.event.title
    assert unescape(props["LOCATION"]) == "Rathaus, Raum 1"
    assert unescape(props["DESCRIPTION"]).startswith("Zeile eins\nZeile zwei")
    assert ann.event.link in unescape(props["DESCRIPTION"])
    assert re.search(r"(?<!\\)[;,]", props["SUMMARY"]) is None


def test_all_day_event_and_cancellation_and_edits():
    ann = announcement(event=Event(title="Tag der Digitalisierung", date=dt.date(2027, 6, 1)), status="cancelled",
                       version=3)
    props = properties(unfold(calendar(ann, now=NOW)))
    assert props["DTSTART;VALUE=DATE"] == "20270601" and props["DTEND;VALUE=DATE"] == "20270602"
    assert props["STATUS"] == "CANCELLED" and props["SEQUENCE"] == "2"
    assert "BEGIN:VTIMEZONE" not in calendar(ann, now=NOW)


def test_token_check():
    ann = announcement()
    assert token_matches(ann, "secret-token") and not token_matches(ann, "secret-tokem")
    assert not token_matches(announcement(ics_token=""), "")
