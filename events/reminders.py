"""Event reminders as persisted, deferred broadcast jobs: once per participant, even across restarts.

Each (event, offset, start time) is one job with a deterministic id, due at `start - offset`. Nothing
about the participants is fixed in advance: when the job is due, the engine asks `participants` and
`message`, so whoever registered until that moment is reminded, and a cancelled event (message None)
reminds nobody. The job's delivery records make it once per participant: scheduling again (e.g. at
every start-up) finds the same job, and a restart resumes it like any broadcast (duplicates only
within the engine's in-flight bound, see events/broadcast.py).
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable, Sequence

from dialogs.context import Message
from events.broadcast import BroadcastEngine, Recipient

SOURCE = "event_reminder"
DEFAULT_OFFSETS: tuple[float, ...] = (24 * 3600.0, 3600.0)

Participants = Callable[[str], Awaitable[Sequence[Recipient]]]
ReminderMessage = Callable[[str, float], Awaitable[Message | None]]


class Reminders:
    """Schedules and cancels the reminders of events; register before the engine starts."""

    def __init__(self, engine: BroadcastEngine, participants: Participants, message: ReminderMessage, *,
                 offsets: Sequence[float] = DEFAULT_OFFSETS, clock: Callable[[], float] = time.time) -> None:
        if not offsets or any(o <= 0 for o in offsets):
            raise ValueError("reminder offsets must be positive seconds before the start")
        self._engine = engine
        self._participants = participants
        self._message = message
        self._offsets = tuple(sorted(set(offsets), reverse=True))
        self._clock = clock
        engine.register_source(SOURCE, self._resolve)

    @staticmethod
    def job_id(event_id: str, offset: float, starts_at: float) -> str:
        """The reminder job of one event, offset and start time (a moved event gets new reminders)."""
        return f"reminder.{event_id}.{int(offset)}.{int(starts_at)}"

    @staticmethod
    def group(event_id: str) -> str:
        return f"reminder.{event_id}"

    async def schedule(self, event_id: str, starts_at: float) -> list[str]:
        """Make sure the event's reminders exist (idempotent); offsets already past are skipped."""
        now, scheduled = self._clock(), []
        for offset in self._offsets:
            due = starts_at - offset
            if due <= now:
                continue
            job_id = self.job_id(event_id, offset, starts_at)
            await self._engine.submit_deferred(
                job_id, source=SOURCE, not_before=due, group=self.group(event_id),
                meta={"event_id": event_id, "offset": offset, "starts_at": starts_at})
            scheduled.append(job_id)
        return scheduled

    async def reschedule(self, event_id: str, starts_at: float) -> list[str]:
        """After the start time changed: drop reminders not yet sent and schedule for the new time."""
        await self.cancel(event_id)
        return await self.schedule(event_id, starts_at)

    async def cancel(self, event_id: str) -> int:
        """The event is cancelled or moved: reminders not yet sent are dropped; returns how many jobs."""
        return await self._engine.cancel_group(self.group(event_id))

    async def _resolve(self, job_id: str, meta: dict) -> tuple[Message | None, Sequence[Recipient]]:
        """Called by the engine when a reminder is due: the message and today's participants."""
        event_id, starts_at = str(meta["event_id"]), float(meta["starts_at"])
        if self._clock() >= starts_at:
            return None, ()  # the bot was down until after the start: a reminder would only confuse
        message = await self._message(event_id, float(meta["offset"]))
        if message is None:
            return None, ()
        return message, await self._participants(event_id)
