"""Who comes: one roster document per event, every write conditional on its ETag.

One document per event (not one per person) because the capacity rule spans everybody: "at most N
participants, the rest wait in order" can only be kept race-free if the seat is taken in the same
atomic write that checks the count. Two clicks at once: one write wins, the other re-reads and
re-applies its vote, so no vote is lost and no seat is given twice. Waiting people move up in the
order they asked, in the same write that frees a seat.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Literal

from storage.base import Conflict, Container, PreconditionFailed

Status = Literal["participant", "waiting", "none"]


class RsvpBusy(Exception):
    """Too many simultaneous writes on one event; the caller asks the person to try again."""


@dataclass(frozen=True)
class Attendee:
    """A person on the roster. `key` is the Entra object id (or the Teams id when Teams sent none)."""

    key: str
    user_id: str = ""
    aad_id: str = ""
    name: str = ""
    at: float = 0.0

    def to_body(self) -> dict[str, Any]:
        return {"key": self.key, "user_id": self.user_id, "aad_id": self.aad_id, "name": self.name, "at": self.at}


@dataclass(frozen=True)
class Roster:
    """Participants and the waiting list of one event, as stored."""

    event_id: str
    capacity: int | None = None
    participants: tuple[Attendee, ...] = ()
    waiting: tuple[Attendee, ...] = ()
    declined: int = 0
    etag: str = ""

    @property
    def free(self) -> int | None:
        return None if self.capacity is None else max(0, self.capacity - len(self.participants))

    def status_of(self, key: str) -> tuple[Status, int]:
        """("participant" | "waiting" | "none", 1-based position on the waiting list or 0)."""
        if any(a.key == key for a in self.participants):
            return "participant", 0
        for position, attendee in enumerate(self.waiting, 1):
            if attendee.key == key:
                return "waiting", position
        return "none", 0

    def to_body(self) -> dict[str, Any]:
        return {"event_id": self.event_id, "capacity": self.capacity,
                "participants": [a.to_body() for a in self.participants],
                "waiting": [a.to_body() for a in self.waiting], "declined": self.declined}

    @classmethod
    def from_body(cls, body: dict[str, Any], etag: str = "") -> "Roster":
        return cls(event_id=body["event_id"], capacity=body.get("capacity"),
                   participants=tuple(Attendee(**a) for a in body.get("participants", ())),
                   waiting=tuple(Attendee(**a) for a in body.get("waiting", ())),
                   declined=body.get("declined", 0), etag=etag)


@dataclass(frozen=True)
class RsvpResult:
    """What a click changed: the person's status afterwards, and who moved up from the waiting list."""

    status: Status
    position: int
    roster: Roster
    changed: bool
    promoted: tuple[Attendee, ...] = ()


def _settle(participants: list[Attendee], waiting: list[Attendee], capacity: int | None) -> list[Attendee]:
    """Move waiting people up while seats are free; returns who moved."""
    moved: list[Attendee] = []
    while waiting and (capacity is None or len(participants) < capacity):
        moved.append(waiting.pop(0))
        participants.append(moved[-1])
    return moved


class RsvpBook:
    """Joins, leaves and capacity changes on the roster container (id = partition = event id)."""

    def __init__(self, container: Container, *, attempts: int = 200,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 clock: Callable[[], float] = time.time, rng: random.Random | None = None) -> None:
        self._container = container
        self._attempts = attempts
        self._sleep = sleep
        self._clock = clock
        self._rng = rng or random.Random()

    async def roster(self, event_id: str, capacity: int | None = None) -> Roster:
        doc = await self._container.read(event_id, event_id)
        if doc is None:
            return Roster(event_id, capacity)
        return Roster.from_body(doc.body, doc.etag)

    async def join(self, event_id: str, person: Attendee, capacity: int | None) -> RsvpResult:
        """"Ich nehme teil": a seat if one is free, else the end of the waiting list. Repeating changes nothing."""
        person = Attendee(person.key, person.user_id, person.aad_id, person.name, person.at or self._clock())

        def apply(participants: list[Attendee], waiting: list[Attendee]) -> bool:
            if any(a.key == person.key for a in participants + waiting):
                return False
            waiting.append(person)
            return True

        return await self._write(event_id, person.key, capacity, apply)

    async def leave(self, event_id: str, person: Attendee, capacity: int | None) -> RsvpResult:
        """"Absagen": off the roster; the first waiting person takes the seat in the same write."""

        def apply(participants: list[Attendee], waiting: list[Attendee]) -> bool:
            before = len(participants) + len(waiting)
            participants[:] = [a for a in participants if a.key != person.key]
            waiting[:] = [a for a in waiting if a.key != person.key]
            return len(participants) + len(waiting) != before

        return await self._write(event_id, person.key, capacity, apply, declined=True)

    async def set_capacity(self, event_id: str, capacity: int | None) -> RsvpResult:
        """An edited capacity: more places let waiting people move up (nobody is ever moved down)."""
        return await self._write(event_id, "", capacity, lambda p, w: False)

    async def _write(self, event_id: str, key: str, capacity: int | None,
                     apply: Callable[[list[Attendee], list[Attendee]], bool], declined: bool = False) -> RsvpResult:
        for attempt in range(self._attempts):
            current = await self.roster(event_id, capacity)
            participants, waiting = list(current.participants), list(current.waiting)
            changed = apply(participants, waiting)
            # Fewer places than participants (never allowed by an edit) moves nobody down, only nobody up.
            promoted = _settle(participants, waiting, capacity)
            if not changed and not promoted and (current.capacity == capacity or not current.etag):
                return self._result(current, key, False)
            roster = Roster(event_id, capacity, tuple(participants), tuple(waiting),
                            current.declined + (1 if declined and changed else 0))
            try:
                if current.etag:
                    doc = await self._container.replace(event_id, event_id, roster.to_body(), etag=current.etag)
                else:
                    doc = await self._container.create(event_id, event_id, roster.to_body())
            except (PreconditionFailed, Conflict):
                # Somebody else wrote first: back off a little (spread the retries) and apply again.
                await self._sleep(self._rng.uniform(0, min(0.25, 0.004 * 2 ** min(attempt, 6))))
                continue
            saved = Roster(event_id, capacity, roster.participants, roster.waiting, roster.declined, doc.etag)
            newly = tuple(a for a in promoted if a.key != key)
            return self._result(saved, key, changed or bool(promoted), newly)
        raise RsvpBusy(f"roster {event_id} kept changing")

    @staticmethod
    def _result(roster: Roster, key: str, changed: bool, promoted: tuple[Attendee, ...] = ()) -> RsvpResult:
        status, position = roster.status_of(key) if key else ("none", 0)
        return RsvpResult(status, position, roster, changed, promoted)
