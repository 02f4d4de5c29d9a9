"""Time-driven work: scheduled announcements go out, and sends left half-done by a crash resume.

Reminders are not here: they are deferred broadcast jobs (events/reminders.py), due in the engine itself.
A lease makes one instance do the passes; publishing claims each announcement with a conditional write
and the engine's job ids are idempotent, so two overlapping passes still send nothing twice.
"""

from __future__ import annotations

import time
from typing import Callable

from events.publishing import Publisher, PublishError
from periodic import Periodic
from storage.lease import Leases

LEASE = "events-scheduler"


class Scheduler:
    """Runs `run_due` every `every` seconds on the instance holding the scheduler lease."""

    def __init__(self, publisher: Publisher, leases: Leases, *, instance_id: str, every: float = 30.0,
                 clock: Callable[[], float] = time.time) -> None:
        self._publisher = publisher
        self._leases = leases
        self._instance_id = instance_id
        self._every = every
        self._clock = clock
        self._periodic = Periodic("events-scheduler", self._pass, every, wait_first=False, on_stop=self._release)

    async def run_due(self, now: float | None = None) -> int:
        """One pass at `now` (default: the clock); returns how many jobs were handed to the engine."""
        now = self._clock() if now is None else now
        done = 0
        for ann in await self._publisher.store.scheduled_due(now):
            try:
                await self._publisher.publish(ann.id)
                done += 1
            except PublishError:
                continue    # sent or cancelled meanwhile
        done += await self._publisher.redeliver_stale(now)
        return done

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _pass(self) -> None:
        if await self._leases.acquire(LEASE, self._instance_id, ttl_s=max(60.0, 3 * self._every)):
            await self.run_due()

    async def _release(self) -> None:
        await self._leases.release(LEASE, self._instance_id)
