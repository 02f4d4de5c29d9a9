"""An RFC 5545 calendar file for one event, served behind an unguessable link."""

from __future__ import annotations

import datetime as dt
import hmac

from events.models import Announcement

PRODID = "-//Lotsenbot//Veranstaltungen//DE"

# Europe/Berlin as a VTIMEZONE (RFC 5545 3.6.5): DTSTART/DTEND carry TZID, so clients show local time
# even where their own zone database differs. Rules since 1996: last Sunday of March/October.
_VTIMEZONE = (
    "BEGIN:VTIMEZONE", "TZID:Europe/Berlin",
    "BEGIN:DAYLIGHT", "TZOFFSETFROM:+0100", "TZOFFSETTO:+0200", "TZNAME:CEST", "DTSTART:19700329T020000",
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU", "END:DAYLIGHT",
    "BEGIN:STANDARD", "TZOFFSETFROM:+0200", "TZOFFSETTO:+0100", "TZNAME:CET", "DTSTART:19701025T030000",
    "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU", "END:STANDARD",
    "END:VTIMEZONE",
)


def escape(text: str) -> str:
    """TEXT value escaping (RFC 5545 3.3.11)."""
    return (text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
            .replace("\r\n", "\\n").replace("\n", "\\n").replace("\r", "\\n"))


def fold(line: str) -> str:
    """Split a content line into lines of at most 75 octets, never inside a UTF-8 character (3.1)."""
    out: list[str] = []
    current, size = "", 0
    for char in line:
        width = len(char.encode("utf-8"))
        if size + width > (75 if not out else 74):   # continuation lines start with one space
            out.append(current)
            current, size = "", 0
        current += char
        size += width
    out.append(current)
    return "\r\n ".join(out)


def _local(moment: dt.datetime) -> str:
    return moment.strftime("%Y%m%dT%H%M%S")


def calendar(announcement: Announcement, *, now: dt.datetime, url: str = "") -> str:
    """The VCALENDAR text (CRLF line ends) for an announcement that has a date."""
    event = announcement.event
    if event.date is None:
        raise ValueError("only events with a date have a calendar entry")
    stamp = now.astimezone(dt.timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", f"PRODID:{PRODID}", "CALSCALE:GREGORIAN", "METHOD:PUBLISH"]
    all_day = event.start is None
    if not all_day:
        lines.extend(_VTIMEZONE)
    lines += ["BEGIN:VEVENT", f"UID:{announcement.id}@lotsenbot", f"DTSTAMP:{stamp}",
              f"SEQUENCE:{announcement.version - 1}"]
    if all_day:
        lines += [f"DTSTART;VALUE=DATE:{event.date.strftime('%Y%m%d')}",
                  f"DTEND;VALUE=DATE:{(event.date + dt.timedelta(days=1)).strftime('%Y%m%d')}"]
    else:
        lines += [f"DTSTART;TZID=Europe/Berlin:{_local(event.starts_at)}",
                  f"DTEND;TZID=Europe/Berlin:{_local(event.ends_at)}"]
    lines.append(f"SUMMARY:{escape(event.title)}")
    description = event.description
    if event.link:
        description = f"{description}\n\n{event.link}".strip()
    if description:
        lines.append(f"DESCRIPTION:{escape(description)}")
    if event.place:
        lines.append(f"LOCATION:{escape(event.place)}")
    if event.link or url:
        lines.append(f"URL:{event.link or url}")
    lines.append(f"STATUS:{'CANCELLED' if announcement.status == 'cancelled' else 'CONFIRMED'}")
    lines += ["TRANSP:OPAQUE", "END:VEVENT", "END:VCALENDAR"]
    return "".join(fold(line) + "\r\n" for line in lines)


def token_matches(announcement: Announcement, token: str) -> bool:
    """Constant-time check of the link's secret part."""
    return bool(announcement.ics_token) and hmac.compare_digest(announcement.ics_token.encode(), token.encode())
