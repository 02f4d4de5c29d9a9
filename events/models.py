"""Announcements and events as plain, frozen data, with their stored (JSON) form."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, replace
from typing import Any, Literal
from zoneinfo import ZoneInfo

BERLIN = ZoneInfo("Europe/Berlin")

UserGroup = Literal["all", "pilots", "departments", "none"]
Status = Literal["draft", "scheduled", "sending", "sent", "cancelled"]
USER_GROUPS: tuple[str, ...] = ("all", "pilots", "departments", "none")
ALL_CHANNELS = "*"   # in Audience.channels: every team channel where the bot is installed


@dataclass(frozen=True)
class Audience:
    """Who receives an announcement: a group of users and/or team channels."""

    users: UserGroup = "all"
    departments: tuple[str, ...] = ()
    channels: tuple[str, ...] = ()      # channel conversation ids, or (ALL_CHANNELS,)

    def to_body(self) -> dict[str, Any]:
        return {"users": self.users, "departments": list(self.departments), "channels": list(self.channels)}

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Audience":
        return cls(users=body.get("users", "all"), departments=tuple(body.get("departments", ())),
                   channels=tuple(body.get("channels", ())))


@dataclass(frozen=True)
class Event:
    """What an author writes. Without a date it is a plain announcement (news): no RSVP, no calendar."""

    title: str
    description: str = ""
    date: dt.date | None = None
    start: dt.time | None = None
    end: dt.time | None = None
    place: str = ""
    link: str = ""
    capacity: int | None = None
    deadline: dt.datetime | None = None     # aware, Europe/Berlin
    audience: Audience = field(default_factory=Audience)

    @property
    def is_event(self) -> bool:
        return self.date is not None

    @property
    def starts_at(self) -> dt.datetime | None:
        if self.date is None:
            return None
        return dt.datetime.combine(self.date, self.start or dt.time(0, 0), BERLIN)

    @property
    def ends_at(self) -> dt.datetime | None:
        if self.date is None:
            return None
        if self.end is not None:
            return dt.datetime.combine(self.date, self.end, BERLIN)
        if self.start is not None:
            return self.starts_at + dt.timedelta(hours=1)   # a calendar entry needs an end
        return dt.datetime.combine(self.date + dt.timedelta(days=1), dt.time(0, 0), BERLIN)

    def registration_open(self, now: dt.datetime) -> bool:
        """Whether "Ich nehme teil" is still accepted at `now`."""
        if not self.is_event:
            return False
        closes = self.deadline or self.starts_at
        return now < closes

    def to_body(self) -> dict[str, Any]:
        return {
            "title": self.title, "description": self.description,
            "date": self.date.isoformat() if self.date else None,
            "start": self.start.strftime("%H:%M") if self.start else None,
            "end": self.end.strftime("%H:%M") if self.end else None,
            "place": self.place, "link": self.link, "capacity": self.capacity,
            "deadline": self.deadline.isoformat() if self.deadline else None,
            "audience": self.audience.to_body(),
        }

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Event":
        return cls(
            title=body["title"], description=body.get("description", ""),
            date=dt.date.fromisoformat(body["date"]) if body.get("date") else None,
            start=dt.time.fromisoformat(body["start"]) if body.get("start") else None,
            end=dt.time.fromisoformat(body["end"]) if body.get("end") else None,
            place=body.get("place", ""), link=body.get("link", ""), capacity=body.get("capacity"),
            deadline=dt.datetime.fromisoformat(body["deadline"]).astimezone(BERLIN) if body.get("deadline") else None,
            audience=Audience.from_body(body.get("audience") or {}),
        )


@dataclass(frozen=True)
class Author:
    """Who wrote an announcement, and where their progress card goes ("" when it came via the API)."""

    aad_id: str = ""
    user_id: str = ""
    name: str = ""
    conversation_id: str = ""
    app_id: str = ""        # the calling application, for announcements posted through the API


@dataclass(frozen=True)
class Announcement:
    """A stored announcement: the event, its lifecycle and the secrets of its links."""

    id: str
    event: Event
    author: Author
    status: Status = "draft"
    version: int = 1                    # raised by every edit after sending
    changed: bool = False               # edited after it went out: cards say "geändert"
    send_at: float | None = None        # scheduled sending (epoch seconds)
    sent_at: float | None = None
    created_at: float = 0.0
    ics_token: str = ""                 # the unguessable part of the calendar link
    export_secret: str = ""             # signs short-lived CSV export links
    progress_activity: str = ""         # the author's progress card, updated in place
    etag: str = ""

    @property
    def send_job(self) -> str:
        return f"{self.id}-send"

    def to_body(self) -> dict[str, Any]:
        return {
            "type": "announcement", "event": self.event.to_body(),
            "author": {"aad_id": self.author.aad_id, "user_id": self.author.user_id, "name": self.author.name,
                       "conversation_id": self.author.conversation_id, "app_id": self.author.app_id},
            "status": self.status, "version": self.version, "changed": self.changed, "send_at": self.send_at,
            "sent_at": self.sent_at, "created_at": self.created_at, "ics_token": self.ics_token,
            "export_secret": self.export_secret, "progress_activity": self.progress_activity,
            # Top-level copies so the store can filter and sort without reading the nested event.
            "starts_at": self.event.starts_at.timestamp() if self.event.starts_at else None,
        }

    @classmethod
    def from_body(cls, id: str, body: dict[str, Any], etag: str = "") -> "Announcement":
        return cls(
            id=id, event=Event.from_body(body["event"]), author=Author(**body.get("author", {})),
            status=body.get("status", "draft"), version=body.get("version", 1), changed=body.get("changed", False),
            send_at=body.get("send_at"), sent_at=body.get("sent_at"), created_at=body.get("created_at", 0.0),
            ics_token=body.get("ics_token", ""), export_secret=body.get("export_secret", ""),
            progress_activity=body.get("progress_activity", ""), etag=etag,
        )

    def but(self, **changes: Any) -> "Announcement":
        return replace(self, **changes)


def berlin_now(epoch: float) -> dt.datetime:
    return dt.datetime.fromtimestamp(epoch, BERLIN)
