"""Business-hours arithmetic and the German date words pilots type ("abwesend bis 12.12.").

Timeouts count working time only: a request offered on Friday at 15:00 with four hours to go is due on
Monday at 11:00 (with Mo–Fr 08:00–16:00). All instants are epoch seconds; the zone (Europe/Berlin by
default) decides what "08:00" and "today" mean, including the change to and from summer time.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAY_NAMES = ("mo", "di", "mi", "do", "fr", "sa", "so")
SHORT_DAYS = ("Mo", "Di", "Mi", "Do", "Fr", "Sa", "So")
MONTHS = {"januar": 1, "jan": 1, "jänner": 1, "februar": 2, "feb": 2, "märz": 3, "maerz": 3, "mär": 3, "mrz": 3,
          "april": 4, "apr": 4, "mai": 5, "juni": 6, "jun": 6, "juli": 7, "jul": 7, "august": 8, "aug": 8,
          "september": 9, "sep": 9, "sept": 9, "oktober": 10, "okt": 10, "november": 11, "nov": 11,
          "dezember": 12, "dez": 12}
_GROUP = re.compile(r"^\s*(?P<days>[a-zA-Z,\-\s]+?)\s+(?P<open>\d{1,2}:\d{2})\s*-\s*(?P<close>\d{1,2}:\d{2})\s*$")
_NUMERIC = re.compile(r"(?<!\d)(\d{1,2})\.\s*(\d{1,2})\.?(?:\s*(\d{2}|\d{4}))?(?!\d)")
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})(?!\d)")
_WORDY = re.compile(r"(?<!\d)(\d{1,2})\.?\s+([a-zäö]+)\.?(?:\s+(\d{4}))?")
MAX_DAYS_SCANNED = 14  # a week has at least one working day; two weeks is a safe bound for the search


class HoursError(ValueError):
    """A business-hours specification that cannot be understood."""


@dataclass(frozen=True)
class BusinessHours:
    """Working windows per weekday (0 = Monday) in one time zone."""

    windows: tuple[tuple[dt.time, dt.time] | None, ...]   # seven entries, None = closed
    zone: ZoneInfo

    @classmethod
    def parse(cls, spec: str, zone: str = "Europe/Berlin") -> "BusinessHours":
        """`Mo-Fr 08:00-16:00` or several groups separated by `;`, e.g. `Mo-Do 07:30-16:00; Fr 07:30-13:00`."""
        try:
            tz = ZoneInfo(zone)
        except (ZoneInfoNotFoundError, ValueError):
            raise HoursError(f"unbekannte Zeitzone {zone!r}") from None
        windows: list[tuple[dt.time, dt.time] | None] = [None] * 7
        groups = [g for g in spec.split(";") if g.strip()]
        if not groups:
            raise HoursError("keine Arbeitszeiten angegeben (Beispiel: Mo-Fr 08:00-16:00)")
        for group in groups:
            match = _GROUP.match(group)
            if not match:
                raise HoursError(f"{group.strip()!r} nicht verstanden (Beispiel: Mo-Fr 08:00-16:00)")
            opens, closes = _clock(match["open"]), _clock(match["close"])
            if opens >= closes:
                raise HoursError(f"{group.strip()!r}: Beginn muss vor dem Ende liegen")
            for day in _days(match["days"]):
                windows[day] = (opens, closes)
        return cls(tuple(windows), tz)

    def add(self, start: float, hours: float) -> float:
        """The instant `hours` of working time after `start` (epoch seconds)."""
        remaining = max(0.0, hours) * 3600.0
        at = start
        for _ in range(MAX_DAYS_SCANNED * 53):  # bounded: a year of weeks is far more than any timeout needs
            window = self._window_at_or_after(at)
            opens, closes = window
            at = max(at, opens)
            available = closes - at
            if remaining <= available:
                return at + remaining
            remaining -= available
            at = closes
        raise HoursError("Zeitraum zu lang")

    def is_open(self, at: float) -> bool:
        opens, _ = self._window_at_or_after(at)
        return opens <= at

    def today(self, at: float) -> dt.date:
        return dt.datetime.fromtimestamp(at, self.zone).date()

    def describe(self, at: float) -> str:
        """A short German time stamp, e.g. `Di 14:30`, for "bitte bis … übernehmen"."""
        local = dt.datetime.fromtimestamp(at, self.zone)
        return f"{SHORT_DAYS[local.weekday()]} {local:%d.%m., %H:%M} Uhr"

    def _window_at_or_after(self, at: float) -> tuple[float, float]:
        """(open, close) epoch seconds of the first working window that ends after `at`."""
        day = dt.datetime.fromtimestamp(at, self.zone).date()
        for offset in range(MAX_DAYS_SCANNED):
            date = day + dt.timedelta(days=offset)
            window = self.windows[date.weekday()]
            if window is None:
                continue
            opens = dt.datetime.combine(date, window[0], tzinfo=self.zone).timestamp()
            closes = dt.datetime.combine(date, window[1], tzinfo=self.zone).timestamp()
            if closes > at:
                return opens, closes
        raise HoursError("keine Arbeitszeit in den nächsten zwei Wochen")


def _clock(text: str) -> dt.time:
    hours, minutes = (int(p) for p in text.split(":"))
    if hours == 24 and minutes == 0:
        return dt.time(23, 59, 59)
    if not (0 <= hours < 24 and 0 <= minutes < 60):
        raise HoursError(f"{text!r} ist keine Uhrzeit")
    return dt.time(hours, minutes)


def _days(text: str) -> list[int]:
    days: list[int] = []
    for part in (p.strip().lower() for p in text.split(",") if p.strip()):
        first, _, last = (s.strip()[:2] for s in part.partition("-"))
        if first not in DAY_NAMES or (last and last not in DAY_NAMES):
            raise HoursError(f"{part!r}: Tage als Mo, Di, Mi, Do, Fr, Sa, So angeben")
        a, b = DAY_NAMES.index(first), DAY_NAMES.index(last or first)
        if b < a:
            raise HoursError(f"{part!r}: Tagesbereich rückwärts")
        days.extend(range(a, b + 1))
    return days


def parse_date(text: str, today: dt.date) -> dt.date | None:
    """A date as Germans write it: `12.12.`, `12.12.2026`, `12.12.26`, `12. Dezember`, `2026-12-12`.

    Without a year, the next such day on or after `today`. None when nothing date-like is found.
    """
    lowered = text.casefold()
    found: tuple[int, int, int | None] | None = None
    if (m := _ISO.search(lowered)) is not None:
        found = (int(m[3]), int(m[2]), int(m[1]))
    elif (m := _NUMERIC.search(lowered)) is not None:
        year = int(m[3]) if m[3] else None
        found = (int(m[1]), int(m[2]), year + 2000 if year is not None and year < 100 else year)
    elif (m := _WORDY.search(lowered)) is not None and m[2] in MONTHS:
        found = (int(m[1]), MONTHS[m[2]], int(m[3]) if m[3] else None)
    if found is None:
        return None
    day, month, year = found
    try:
        if year is not None:
            return dt.date(year, month, day)
        candidate = dt.date(today.year, month, day)
        return candidate if candidate >= today else dt.date(today.year + 1, month, day)
    except ValueError:
        return None


def german_date(date: dt.date) -> str:
    return f"{date:%d.%m.%Y}"
