"""The event and announcement cards, rendered from the `event_*` / `announce_*` templates, and German wording."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from typing import Any, Sequence

from cards.render import CardRenderer
from events.broadcast import Progress
from events.models import BERLIN, Announcement, Event
from events.rsvp import Roster

WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
MONTHS = ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September", "Oktober",
          "November", "Dezember")
USER_GROUP_LABELS = {"all": "Alle mit dem Bot", "pilots": "Nur Digitallots*innen",
                     "departments": "Ausgewählte Ämter", "none": "Keine Personen (nur Kanäle)"}
EXPORT_LINK_S = 15 * 60
MAX_LISTED = 100


def number(n: int) -> str:
    """10000 → "10 000" (narrow no-break space, as in German typesetting)."""
    return f"{n:,}".replace(",", "\u202f")


def german_date(day: dt.date) -> str:
    return f"{WEEKDAYS[day.weekday()]}, {day.day}. {MONTHS[day.month - 1]} {day.year}"


def when(event: Event) -> str:
    """"Donnerstag, 3. Dezember 2026, 14:00–16:00 Uhr" (or without times)."""
    if event.date is None:
        return ""
    text = german_date(event.date)
    if event.start and event.end:
        return f"{text}, {event.start:%H:%M}–{event.end:%H:%M} Uhr"
    if event.start:
        return f"{text}, {event.start:%H:%M} Uhr"
    return text


def moment(at: dt.datetime) -> str:
    at = at.astimezone(BERLIN)
    return f"{at.day}.{at.month}.{at.year}, {at:%H:%M} Uhr"


def eta(seconds: float | None) -> str:
    if seconds is None:
        return ""
    if seconds < 60:
        return f"noch etwa {max(1, round(seconds))} s"
    if seconds < 3600:
        return f"noch etwa {round(seconds / 60)} min"
    return f"noch etwa {seconds / 3600:.1f} h".replace(".", ",")


def before(minutes: int) -> str:
    """How a reminder names its offset: "morgen" style phrasing is avoided, it is exact."""
    if minutes % 1440 == 0:
        days = minutes // 1440
        return "in 24 Stunden" if days == 1 else f"in {days} Tagen"
    if minutes % 60 == 0:
        hours = minutes // 60
        return "in einer Stunde" if hours == 1 else f"in {hours} Stunden"
    return f"in {minutes} Minuten"


def count_line(participants: int, capacity: int | None, waiting: int) -> str:
    """"Zusagen: 8 · Freie Plätze: 2 von 10 · Warteliste: 3"."""
    parts = [f"Zusagen: {number(participants)}"]
    if capacity is not None:
        parts.append(f"Freie Plätze: {number(max(0, capacity - participants))} von {number(capacity)}")
    if waiting:
        parts.append(f"Warteliste: {number(waiting)}")
    return " · ".join(parts)


def progress_line(p: Progress) -> str:
    """"zugestellt 3 120 / 10 000 · 12 fehlgeschlagen · noch etwa 2 min"."""
    parts = [f"zugestellt {number(p.sent)} / {number(p.total)}"]
    if p.failed:
        parts.append(f"{number(p.failed)} fehlgeschlagen")
    if p.blocked:
        parts.append(f"{number(p.blocked)} blockiert")
    if not p.done and p.eta_seconds is not None:
        parts.append(eta(p.eta_seconds))
    return " · ".join(parts)


class EventLinks:
    """The bot's public links for an event: calendar file and the short-lived CSV export."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url.rstrip("/")

    def ics(self, announcement: Announcement) -> str:
        if not self.base_url or not announcement.event.is_event:
            return ""
        return f"{self.base_url}/api/events/{announcement.id}/{announcement.ics_token}.ics"

    def csv(self, announcement: Announcement, now: float) -> str:
        if not self.base_url:
            return ""
        expires = int(now) + EXPORT_LINK_S
        return (f"{self.base_url}/api/events/{announcement.id}/teilnehmende.csv"
                f"?bis={expires}&sig={export_signature(announcement, expires)}")


def export_signature(announcement: Announcement, expires: int) -> str:
    message = f"{announcement.id}:{expires}".encode()
    return hmac.new(announcement.export_secret.encode(), message, hashlib.sha256).hexdigest()


class EventCards:
    """Builds every card of the feature; templates get plain values only."""

    def __init__(self, renderer: CardRenderer, links: EventLinks) -> None:
        self._cards = renderer
        self.links = links

    def _event_data(self, ann: Announcement, roster: Roster | None, now: dt.datetime) -> dict[str, Any]:
        event = ann.event
        capacity = event.capacity
        participants = len(roster.participants) if roster else 0
        waiting = len(roster.waiting) if roster else 0
        counts = ""
        if event.is_event:
            counts = count_line(participants, capacity, waiting)
        open_ = ann.status != "cancelled" and event.registration_open(now)
        closed_reason = ""
        if event.is_event and ann.status != "cancelled" and not open_:
            closed_reason = "Die Anmeldung ist geschlossen."
        return {"id": ann.id, "title": event.title, "when": when(event), "place": event.place, "link": event.link,
                "description": event.description, "counts": counts, "is_event": event.is_event,
                "cancelled": ann.status == "cancelled", "changed": ann.changed and ann.status != "cancelled",
                "open": open_, "closed_reason": closed_reason, "full": capacity is not None and participants >= capacity,
                "ics_url": self.links.ics(ann),
                "deadline": moment(event.deadline) if event.deadline else ""}

    def event(self, ann: Announcement, roster: Roster | None, now: dt.datetime, *, viewer: str = "",
              viewer_key: str = "", preview: bool = False) -> dict[str, Any]:
        """The card recipients see; with `viewer` the personal view (their status, auto-refresh for them)."""
        status, position = roster.status_of(viewer_key) if roster and viewer_key else ("none", 0)
        return self._cards.render("event_card", e=self._event_data(ann, roster, now), viewer=viewer,
                                  status=status if viewer else "", position=position, preview=preview)

    def preview(self, ann: Announcement, roster: Roster | None, now: dt.datetime, *, editing: bool) -> dict[str, Any]:
        """The event card exactly as sent, framed by the author's choices."""
        audience = ann.event.audience
        lines = [f"Empfänger*innen: {USER_GROUP_LABELS.get(audience.users, audience.users)}"]
        if audience.departments:
            lines.append("Ämter: " + ", ".join(audience.departments))
        if audience.channels:
            lines.append("Kanäle: " + ("alle mit dem Bot" if "*" in audience.channels else str(len(audience.channels))))
        return self._cards.render("announce_preview", card=self.event(ann, roster, now, preview=True),
                                  id=ann.id, lines=lines, editing=editing,
                                  default_date=now.date().isoformat())

    def form(self, values: dict[str, str], errors: dict[str, str], *, channels: Sequence[tuple[str, str]],
             departments: Sequence[str], editing: str = "", heading: str = "Neue Ankündigung") -> dict[str, Any]:
        return self._cards.render("announce_form", v=values, errors=errors, channels=list(channels),
                                  departments=list(departments), editing=editing, heading=heading,
                                  groups=list(USER_GROUP_LABELS.items()))

    def progress(self, ann: Announcement, p: Progress) -> dict[str, Any]:
        failures = [f"{who}: {why}" for who, why in p.failures[:20]]
        more = max(0, len(p.failures) - 20) + max(0, p.failed + p.blocked - len(p.failures))
        return self._cards.render("announce_progress", title=ann.event.title, line=progress_line(p), done=p.done,
                                  failures=failures, more=more, total=p.total)

    def listing(self, items: list[dict[str, Any]], *, author: bool) -> dict[str, Any]:
        return self._cards.render("event_list", items=items, author=author)

    def participants(self, ann: Announcement, roster: Roster, csv_url: str) -> dict[str, Any]:
        people = [a.name or a.key for a in roster.participants[:MAX_LISTED]]
        waiting = [f"{i}. {a.name or a.key}" for i, a in enumerate(roster.waiting[:MAX_LISTED], 1)]
        hidden = max(0, len(roster.participants) - MAX_LISTED) + max(0, len(roster.waiting) - MAX_LISTED)
        return self._cards.render("event_participants", title=ann.event.title, when=when(ann.event),
                                  people=people, waiting=waiting, hidden=hidden, csv_url=csv_url,
                                  counts=count_line(len(roster.participants), ann.event.capacity,
                                                    len(roster.waiting)))

    def reminder(self, ann: Announcement, minutes: int) -> dict[str, Any]:
        return self._cards.render("event_reminder", title=ann.event.title, when=when(ann.event),
                                  place=ann.event.place, link=ann.event.link, ics_url=self.links.ics(ann),
                                  soon=before(minutes))

    def notice(self, title: str, *lines: str) -> dict[str, Any]:
        return self._cards.render("notice", title=title, lines=list(lines))

    def confirm_cancel(self, ann: Announcement) -> dict[str, Any]:
        return self._cards.render("announce_confirm", id=ann.id, title=ann.event.title, when=when(ann.event))
