"""Checking what authors write (German messages per field) and storing announcements with ETags."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from typing import Any, Awaitable, Callable, Mapping
from urllib.parse import urlsplit

from events.models import ALL_CHANNELS, BERLIN, USER_GROUPS, Announcement, Audience, Event
from storage.base import Container, Filter, NotFound, PreconditionFailed, Query

MAX_TITLE = 120
MAX_DESCRIPTION = 4000
MAX_PLACE = 200
MAX_LINK = 1000
MAX_CAPACITY = 5000
MAX_DEPARTMENTS = 50
MAX_DEPARTMENT = 100
MAX_CHANNELS = 200
MAX_DAYS_AHEAD = 2 * 365

# The fields of the form and of the API, in the order errors are reported.
FIELDS = ("title", "description", "date", "start", "end", "place", "link", "capacity", "deadline_date",
          "deadline_time", "users", "departments", "channels", "send_at")
_TIME = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)(:00)?$")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")

Errors = dict[str, str]


def _text(raw: Mapping[str, Any], name: str) -> str:
    value = raw.get(name)
    if value is None:
        return ""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    return _CONTROL.sub("", value).strip() if isinstance(value, str) else "\x00invalid"


def _items(raw: Mapping[str, Any], name: str) -> list[str] | None:
    """A list from a JSON array or from a card's comma-separated multi-select value; None if malformed."""
    value = raw.get(name)
    if value is None or value == "":
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return None
    seen: list[str] = []
    for item in (_CONTROL.sub("", v).strip() for v in value):
        if item and item not in seen:
            seen.append(item)
    return seen


def _date(value: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _time(value: str) -> dt.time | None:
    match = _TIME.match(value)
    return dt.time(int(match.group(1)), int(match.group(2))) if match else None


def validate(raw: Mapping[str, Any], now: dt.datetime, *, channel_ids: frozenset[str] | None = None,
             min_capacity: int = 0) -> tuple[Event | None, Errors]:
    """The event the form or API describes, or the German reason per field why not.

    `channel_ids`: the channels that may be chosen (None: not checked). `min_capacity`: participants
    already registered, so an edit cannot shrink the places below them.
    """
    now = now.astimezone(BERLIN)
    errors: Errors = {}
    text = {name: _text(raw, name) for name in ("title", "description", "date", "start", "end", "place", "link",
                                                "capacity", "deadline_date", "deadline_time", "users")}
    for name, value in text.items():
        if value == "\x00invalid":
            errors[name] = "Bitte geben Sie hier einen Text ein."
            text[name] = ""

    title = text["title"]
    if not title:
        errors.setdefault("title", "Bitte geben Sie einen Titel ein.")
    elif len(title) > MAX_TITLE:
        errors["title"] = f"Der Titel ist zu lang (höchstens {MAX_TITLE} Zeichen, jetzt {len(title)})."
    if len(text["description"]) > MAX_DESCRIPTION:
        errors["description"] = (f"Die Beschreibung ist zu lang (höchstens {MAX_DESCRIPTION} Zeichen, "
                                 f"jetzt {len(text['description'])}).")
    if len(text["place"]) > MAX_PLACE:
        errors["place"] = f"Der Ort ist zu lang (höchstens {MAX_PLACE} Zeichen)."

    link = text["link"]
    if link:
        parts = urlsplit(link) if len(link) <= MAX_LINK and " " not in link else None
        if parts is None or parts.scheme != "https" or not parts.netloc:
            errors["link"] = "Der Link muss eine vollständige Adresse sein, die mit https:// beginnt."

    day = start = end = None
    if text["date"]:
        day = _date(text["date"])
        if day is None:
            errors["date"] = "Das Datum ist ungültig (erwartet wird JJJJ-MM-TT)."
        elif day < now.date():
            errors["date"] = "Das Datum liegt in der Vergangenheit."
        elif (day - now.date()).days > MAX_DAYS_AHEAD:
            errors["date"] = "Das Datum liegt mehr als zwei Jahre in der Zukunft."
    for name in ("start", "end"):
        if text[name]:
            parsed = _time(text[name])
            if parsed is None:
                errors[name] = "Die Uhrzeit ist ungültig (erwartet wird HH:MM)."
            elif not text["date"]:
                errors[name] = "Bitte geben Sie zur Uhrzeit auch ein Datum an."
            elif name == "start":
                start = parsed
            else:
                end = parsed
    if end is not None and start is None and "start" not in errors:
        errors["start"] = "Bitte geben Sie zum Ende auch den Beginn an."
    if start is not None and end is not None and end <= start:
        errors["end"] = "Das Ende liegt vor dem Beginn."
    if day is not None and start is not None and "date" not in errors:
        if dt.datetime.combine(day, start, BERLIN) <= now:
            errors["start"] = "Der Beginn liegt in der Vergangenheit."

    capacity = None
    if text["capacity"]:
        try:
            capacity = int(float(text["capacity"])) if float(text["capacity"]).is_integer() else -1
        except ValueError:
            capacity = -1
        if not 1 <= capacity <= MAX_CAPACITY:
            errors["capacity"] = f"Die Zahl der Plätze muss eine ganze Zahl von 1 bis {MAX_CAPACITY} sein."
        elif not text["date"]:
            errors["capacity"] = "Plätze gibt es nur bei einer Veranstaltung mit Datum."
        elif capacity < min_capacity:
            errors["capacity"] = (f"Es sind schon {min_capacity} Personen angemeldet. "
                                  f"Die Zahl der Plätze kann nicht darunter sinken.")

    deadline = _deadline(text, day, start, now, errors)
    audience = _audience(raw, text["users"], channel_ids, errors)
    if errors:
        return None, {name: errors[name] for name in FIELDS if name in errors}
    return Event(title=title, description=text["description"], date=day, start=start, end=end,
                 place=text["place"], link=link, capacity=capacity, deadline=deadline,
                 audience=audience), {}


def _deadline(text: dict[str, str], day: dt.date | None, start: dt.time | None, now: dt.datetime,
              errors: Errors) -> dt.datetime | None:
    if not text["deadline_date"]:
        if text["deadline_time"]:
            errors["deadline_date"] = "Bitte geben Sie zur Uhrzeit des Anmeldeschlusses auch ein Datum an."
        return None
    if not text["date"]:
        errors["deadline_date"] = "Einen Anmeldeschluss gibt es nur bei einer Veranstaltung mit Datum."
        return None
    deadline_day = _date(text["deadline_date"])
    if deadline_day is None:
        errors["deadline_date"] = "Das Datum des Anmeldeschlusses ist ungültig (erwartet wird JJJJ-MM-TT)."
        return None
    at = dt.time(23, 59)
    if text["deadline_time"]:
        at = _time(text["deadline_time"])
        if at is None:
            errors["deadline_time"] = "Die Uhrzeit ist ungültig (erwartet wird HH:MM)."
            return None
    deadline = dt.datetime.combine(deadline_day, at, BERLIN)
    if deadline <= now:
        errors["deadline_date"] = "Der Anmeldeschluss liegt in der Vergangenheit."
    elif day is not None and deadline > dt.datetime.combine(day, start or dt.time(23, 59), BERLIN):
        errors["deadline_date"] = "Der Anmeldeschluss liegt nach dem Beginn der Veranstaltung."
    return deadline


def _audience(raw: Mapping[str, Any], users: str, channel_ids: frozenset[str] | None, errors: Errors) -> Audience:
    users = users or "all"
    if users not in USER_GROUPS:
        errors["users"] = "Bitte wählen Sie eine der angebotenen Empfängergruppen."
        users = "none"
    departments = _items(raw, "departments")
    if departments is None:
        errors["departments"] = "Bitte nennen Sie die Ämter als Liste von Namen."
        departments = []
    elif len(departments) > MAX_DEPARTMENTS or any(len(d) > MAX_DEPARTMENT for d in departments):
        errors["departments"] = f"Bitte nennen Sie höchstens {MAX_DEPARTMENTS} Ämter mit kurzen Namen."
    elif users == "departments" and not departments:
        errors["departments"] = "Bitte nennen Sie mindestens ein Amt."
    channels = _items(raw, "channels")
    if channels is None or len(channels or ()) > MAX_CHANNELS:
        errors["channels"] = "Bitte wählen Sie die Kanäle aus der Liste."
        channels = []
    elif ALL_CHANNELS in channels:
        channels = [ALL_CHANNELS]
    elif channel_ids is not None and any(c not in channel_ids for c in channels):
        errors["channels"] = "Mindestens ein gewählter Kanal ist nicht (mehr) erreichbar."
    if users == "none" and not channels and "users" not in errors:
        errors["users"] = "Bitte wählen Sie eine Empfängergruppe oder mindestens einen Kanal."
    return Audience(users=users, departments=tuple(departments) if users == "departments" else (),  # type: ignore[arg-type]
                    channels=tuple(channels))


def parse_send_at(value: Any, now: dt.datetime) -> tuple[dt.datetime | None, str]:
    """A scheduled sending time ("JJJJ-MM-TTTHH:MM", Europe/Berlin unless it names a zone), or a reason."""
    if value in (None, ""):
        return None, ""
    if not isinstance(value, str):
        return None, "Der Versandzeitpunkt ist ungültig (erwartet wird JJJJ-MM-TTTHH:MM)."
    try:
        when = dt.datetime.fromisoformat(value.strip())
    except ValueError:
        return None, "Der Versandzeitpunkt ist ungültig (erwartet wird JJJJ-MM-TTTHH:MM)."
    when = when.replace(tzinfo=BERLIN) if when.tzinfo is None else when.astimezone(BERLIN)
    if when <= now:
        return None, "Der Versandzeitpunkt liegt in der Vergangenheit."
    if (when - now).days > MAX_DAYS_AHEAD:
        return None, "Der Versandzeitpunkt liegt mehr als zwei Jahre in der Zukunft."
    return when, ""


def form_values(event: Event) -> dict[str, str]:
    """The form's input values for an existing event (to edit it)."""
    return {
        "title": event.title, "description": event.description,
        "date": event.date.isoformat() if event.date else "",
        "start": event.start.strftime("%H:%M") if event.start else "",
        "end": event.end.strftime("%H:%M") if event.end else "",
        "place": event.place, "link": event.link, "capacity": str(event.capacity or ""),
        "deadline_date": event.deadline.date().isoformat() if event.deadline else "",
        "deadline_time": event.deadline.strftime("%H:%M") if event.deadline else "",
        "users": event.audience.users, "departments": ", ".join(event.audience.departments),
        "channels": ",".join(event.audience.channels),
    }


class AnnouncementStore:
    """Announcements in their container (id = partition = announcement id); writes are conditional."""

    def __init__(self, container: Container, *, attempts: int = 8,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self._container = container
        self._attempts = attempts
        self._sleep = sleep

    async def get(self, id: str) -> Announcement | None:
        if not isinstance(id, str) or not re.fullmatch(r"[A-Za-z0-9_]{1,80}", id):
            return None     # ids come back from cards and URLs: never let junk reach the store
        doc = await self._container.read(id, id)
        return Announcement.from_body(doc.id, doc.body, doc.etag) if doc else None

    async def create(self, announcement: Announcement) -> Announcement:
        doc = await self._container.create(announcement.id, announcement.id, announcement.to_body())
        return announcement.but(etag=doc.etag)

    async def save(self, announcement: Announcement) -> Announcement:
        """Write back what was read; PreconditionFailed if somebody else wrote in between."""
        doc = await self._container.replace(announcement.id, announcement.id, announcement.to_body(),
                                            etag=announcement.etag)
        return announcement.but(etag=doc.etag)

    async def change(self, id: str, edit: Callable[[Announcement], Announcement | None]) -> Announcement | None:
        """Read, apply `edit`, write conditionally; re-read and re-apply on a concurrent write.

        `edit` returns None to leave the document as it is; the result is then the current state.
        """
        for attempt in range(self._attempts):
            current = await self.get(id)
            if current is None:
                return None
            changed = edit(current)
            if changed is None:
                return current
            try:
                return await self.save(changed)
            except PreconditionFailed:
                await self._sleep(0.01 * (attempt + 1))
            except NotFound:
                return None
        raise PreconditionFailed(f"announcement {id} kept changing")

    async def delete(self, announcement: Announcement) -> bool:
        return await self._container.delete(announcement.id, announcement.id, etag=announcement.etag)

    async def upcoming(self, now: float, statuses: tuple[str, ...] = ("sent",)) -> list[Announcement]:
        """Events that start at or after `now`, soonest first."""
        docs = await self._container.query(Query(
            filters=(Filter("type", "=", "announcement"), Filter("starts_at", ">=", now)), order_by="starts_at"))
        found = [Announcement.from_body(d.id, d.body, d.etag) for d in docs]
        return [a for a in found if a.status in statuses]

    async def scheduled_due(self, now: float) -> list[Announcement]:
        docs = await self._container.query(Query(filters=(
            Filter("type", "=", "announcement"), Filter("status", "=", "scheduled"), Filter("send_at", "<=", now))))
        return [Announcement.from_body(d.id, d.body, d.etag) for d in docs]

    async def by_status(self, status: str) -> list[Announcement]:
        docs = await self._container.query(Query(filters=(
            Filter("type", "=", "announcement"), Filter("status", "=", status))))
        return [Announcement.from_body(d.id, d.body, d.etag) for d in docs]

    async def recent(self, limit: int = 20) -> list[Announcement]:
        docs = await self._container.query(Query(filters=(Filter("type", "=", "announcement"),),
                                                 order_by="created_at", descending=True, limit=limit))
        return [Announcement.from_body(d.id, d.body, d.etag) for d in docs]
