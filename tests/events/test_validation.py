"""What authors write is checked field by field, with German reasons; nothing invalid becomes an event."""

from __future__ import annotations

import datetime as dt

import pytest

from events.announcements import MAX_DESCRIPTION, MAX_TITLE, form_values, parse_send_at, validate
from events.models import BERLIN, Announcement, Author

NOW = dt.datetime(2026, 11, 21, 10, 0, tzinfo=BERLIN)


def form(**changes: object) -> dict:
    values = {"title": "Vernetzungstreffen Digitallots*innen", "date": "2026-12-03", "start": "14:00",
              "end": "16:00", "place": "Rathaus, Raum 101", "link": "https://teams.microsoft.com/l/meetup-join/x",
              "description": "Austausch und Kaffee.", "capacity": "30", "deadline_date": "2026-12-01",
              "deadline_time": "12:00", "users": "all"}
    values.update(changes)
    return values


def test_a_complete_event_is_accepted_in_berlin_time():
    event, errors = validate(form(), NOW)
    assert errors == {}
    assert event.title == "Vernetzungstreffen Digitallots*innen"
    assert event.starts_at == dt.datetime(2026, 12, 3, 14, 0, tzinfo=BERLIN)
    assert event.starts_at.utcoffset() == dt.timedelta(hours=1)   # CET in December
    assert event.capacity == 30 and event.deadline == dt.datetime(2026, 12, 1, 12, 0, tzinfo=BERLIN)
    assert event.audience.users == "all"


@pytest.mark.parametrize("changes, field, reason", [
    ({"title": "  "}, "title", "Titel ein"),
    ({"title": "x" * (MAX_TITLE + 1)}, "title", "zu lang"),
    ({"description": "x" * (MAX_DESCRIPTION + 1)}, "description", "zu lang"),
    ({"end": "13:00"}, "end", "Ende liegt vor dem Beginn"),
    ({"end": "14:00"}, "end", "Ende liegt vor dem Beginn"),
    ({"date": "2026-11-20"}, "date", "Vergangenheit"),
    ({"date": "2026-11-21", "start": "09:00", "end": "10:30", "deadline_date": ""}, "start", "Vergangenheit"),
    ({"date": "03.12.2026"}, "date", "JJJJ-MM-TT"),
    ({"start": "25:00"}, "start", "HH:MM"),
    ({"date": "", "capacity": "", "deadline_date": "", "deadline_time": ""}, "start", "auch ein Datum"),
    ({"link": "http://unsicher.example"}, "link", "https://"),
    ({"link": "javascript:alert(1)"}, "link", "https://"),
    ({"capacity": "0"}, "capacity", "1 bis"),
    ({"capacity": "2.5"}, "capacity", "ganze Zahl"),
    ({"capacity": "viele"}, "capacity", "ganze Zahl"),
    ({"deadline_date": "2026-12-04"}, "deadline_date", "nach dem Beginn"),
    ({"deadline_date": "2026-11-20"}, "deadline_date", "Vergangenheit"),
    ({"users": "departments", "departments": ""}, "departments", "mindestens ein Amt"),
    ({"users": "none"}, "users", "mindestens einen Kanal"),
    ({"users": "alle-mitarbeitenden"}, "users", "angebotenen"),
    ({"title": 42.0, "place": ["kein", "text"]}, "place", "Text"),
])
def test_invalid_input_names_the_field_in_german_and_gives_no_event(changes, field, reason):
    event, errors = validate(form(**changes), NOW)
    assert event is None
    assert reason in errors[field], errors


def test_all_errors_are_reported_at_once_in_form_order():
    _, errors = validate(form(title="", end="13:00", link="ftp://x", capacity="-1"), NOW)
    assert list(errors) == ["title", "end", "link", "capacity"]


def test_news_without_a_date_has_no_registration():
    event, errors = validate({"title": "Neue Whiteboard-Vorlagen", "description": "Jetzt im Intranet."}, NOW)
    assert errors == {} and not event.is_event and not event.registration_open(NOW)


def test_channels_must_be_reachable_and_star_means_all():
    _, errors = validate(form(channels="19:gone@thread.tacv2"), NOW, channel_ids=frozenset({"19:a@thread.tacv2"}))
    assert "nicht (mehr) erreichbar" in errors["channels"]
    event, errors = validate(form(users="none", channels="*,19:a@thread.tacv2"), NOW,
                             channel_ids=frozenset({"19:a@thread.tacv2"}))
    assert errors == {} and event.audience.channels == ("*",)


def test_an_edit_cannot_shrink_the_places_below_the_participants():
    _, errors = validate(form(capacity="5"), NOW, min_capacity=8)
    assert "schon 8 Personen" in errors["capacity"]


def test_departments_come_as_list_or_comma_text():
    event, _ = validate(form(users="departments", departments="Amt 10, Amt 51 – Jugendamt,Amt 10"), NOW)
    assert event.audience.departments == ("Amt 10", "Amt 51 – Jugendamt")
    event, _ = validate(form(users="departments", departments=["Amt 20"]), NOW)
    assert event.audience.departments == ("Amt 20",)


def test_send_at_must_be_in_the_future():
    assert parse_send_at("2026-11-21T09:00", NOW)[1] == "Der Versandzeitpunkt liegt in der Vergangenheit."
    when, error = parse_send_at("2026-11-22T08:30", NOW)
    assert error == "" and when == dt.datetime(2026, 11, 22, 8, 30, tzinfo=BERLIN)
    assert "ungültig" in parse_send_at("morgen", NOW)[1]


def test_stored_form_round_trips():
    event, _ = validate(form(), NOW)
    ann = Announcement(id="a1", event=event, author=Author(aad_id="x"))
    again = Announcement.from_body("a1", ann.to_body())
    assert again.event == event
    assert validate(form_values(event), NOW)[0] == event
