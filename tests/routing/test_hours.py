"""Business-hours arithmetic (Europe/Berlin) and the dates pilots type."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from routing.hours import BusinessHours, HoursError, parse_date

BERLIN = ZoneInfo("Europe/Berlin")
HOURS = BusinessHours.parse("Mo-Fr 08:00-16:00")


def at(text: str) -> float:
    """Epoch seconds of a Berlin wall-clock time 'YYYY-MM-DD HH:MM'."""
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M").replace(tzinfo=BERLIN).timestamp()


def wall(epoch: float) -> str:
    return dt.datetime.fromtimestamp(epoch, BERLIN).strftime("%a %Y-%m-%d %H:%M")


@pytest.mark.parametrize("start, hours, due", [
    ("2026-11-24 09:00", 4, "Tue 2026-11-24 13:00"),      # inside one day
    ("2026-11-24 14:00", 4, "Wed 2026-11-25 10:00"),      # spills into the next morning
    ("2026-11-27 15:00", 4, "Mon 2026-11-30 11:00"),      # Friday afternoon → Monday
    ("2026-11-28 10:00", 4, "Mon 2026-11-30 12:00"),      # offered on a Saturday: the clock starts Monday 8:00
    ("2026-11-24 06:30", 1, "Tue 2026-11-24 09:00"),      # before opening
    ("2026-11-24 17:00", 8, "Wed 2026-11-25 16:00"),      # after closing: a full next day
    ("2026-11-24 09:00", 0.5, "Tue 2026-11-24 09:30"),
    ("2026-11-24 09:00", 24, "Fri 2026-11-27 09:00"),     # three working days
])
def test_timeouts_count_working_time_only(start, hours, due):
    assert wall(HOURS.add(at(start), hours)) == due


def test_summer_time_change_does_not_shift_the_working_day():
    # Sunday 29 March 2026 clocks go forward; Friday 15:00 + 4 h is Monday 11:00 local time, not 12:00.
    assert wall(HOURS.add(at("2026-03-27 15:00"), 4)) == "Mon 2026-03-30 11:00"
    # Sunday 25 October 2026 clocks go back.
    assert wall(HOURS.add(at("2026-10-23 15:00"), 4)) == "Mon 2026-10-26 11:00"


def test_several_groups_and_a_short_friday():
    hours = BusinessHours.parse("Mo-Do 07:30-16:00; Fr 07:30-12:00")
    assert wall(hours.add(at("2026-11-27 11:00"), 2)) == "Mon 2026-11-30 08:30"
    assert hours.is_open(at("2026-11-27 11:59")) and not hours.is_open(at("2026-11-27 12:30"))
    assert not hours.is_open(at("2026-11-28 10:00"))


def test_other_zone():
    hours = BusinessHours.parse("Mo-Fr 09:00-17:00", "America/New_York")
    start = dt.datetime(2026, 11, 24, 16, 0, tzinfo=ZoneInfo("America/New_York")).timestamp()
    due = dt.datetime.fromtimestamp(hours.add(start, 2), ZoneInfo("America/New_York"))
    assert (due.day, due.hour) == (25, 10)


@pytest.mark.parametrize("spec, zone", [
    ("", "Europe/Berlin"), ("Mo-Fr", "Europe/Berlin"), ("Mo-Fr 16:00-08:00", "Europe/Berlin"),
    ("Xy 08:00-16:00", "Europe/Berlin"), ("Fr-Mo 08:00-16:00", "Europe/Berlin"), ("Mo 25:00-26:00", "Europe/Berlin"),
    ("Mo-Fr 08:00-16:00", "Mars/Olympus"),
])
def test_bad_specifications_are_rejected_with_a_german_reason(spec, zone):
    with pytest.raises(HoursError):
        BusinessHours.parse(spec, zone)


def test_describe_is_short_and_local():
    assert HOURS.describe(at("2026-11-24 14:30")) == "Di 24.11., 14:30 Uhr"


TODAY = dt.date(2026, 11, 21)


@pytest.mark.parametrize("text, expected", [
    ("12.12.", dt.date(2026, 12, 12)),
    ("12.12", dt.date(2026, 12, 12)),
    ("12.12.2026", dt.date(2026, 12, 12)),
    ("3.1.", dt.date(2027, 1, 3)),               # already past this year: next year
    ("21.11.", dt.date(2026, 11, 21)),           # today counts
    ("5.1.27", dt.date(2027, 1, 5)),
    ("2026-12-24", dt.date(2026, 12, 24)),
    ("Freitag, 12. Dezember", dt.date(2026, 12, 12)),
    ("12. Dez. 2027", dt.date(2027, 12, 12)),
    ("einschließlich 1. März", dt.date(2027, 3, 1)),
])
def test_german_dates(text, expected):
    assert parse_date(text, TODAY) == expected


@pytest.mark.parametrize("text", ["", "morgen", "31.02.", "12.13.", "irgendwann im Dezember", "32. Mai"])
def test_not_a_date(text):
    assert parse_date(text, TODAY) is None
