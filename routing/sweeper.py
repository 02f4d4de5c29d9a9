"""The timers of help requests, kept in the store and worked off by one bot instance at a time.

Every `interval_s` the sweeper takes a lease in the store (storage/lease.py); the instance holding it
times out overdue offers and hands each to the `Rerouter` (the next candidate, or the pilots' channel),
reminds requesters whose channel post has waited a full timeout, and picks up requests a crash left
waiting between two steps. Each step is a conditional write, so even two sweepers working the same
request (a lease expired mid-sweep) change it once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Protocol

from routing.request_book import RequestBook
from routing.requests import ROUTABLE, Refused, remind, time_out
from periodic import Periodic
from storage.lease import Leases

log = logging.getLogger(__name__)

LEASE_NAME = "escalation-sweeper"


class Rerouter(Protocol):
    """What happens to a request after its timer fired (implemented by the escalation flow)."""

    async def reroute(self, request_id: str, now: float) -> None: ...

    async def remind_open(self, request_id: str, now: float) -> None: ...


@dataclass(frozen=True)
class SweepReport:
    ran: bool                   # False: another instance holds the lease
    timed_out: int = 0
    reminded: int = 0
    resumed: int = 0            # requests a crash had left between two steps


class Sweeper:
    """Background service: `start()` runs the loop, `run_once(now)` one sweep (tests call it directly)."""

    def __init__(self, requests: RequestBook, leases: Leases, rerouter: Rerouter, *,
                 clock: Callable[[], float] = time.time, interval_s: float = 60.0, lease_ttl_s: float = 180.0,
                 grace_s: float = 120.0, owner: str = "") -> None:
        if interval_s <= 0 or lease_ttl_s <= interval_s:
            raise ValueError("the lease must outlive one interval")
        self._requests = requests
        self._leases = leases
        self._rerouter = rerouter
        self._clock = clock
        self._lease_ttl_s = lease_ttl_s
        self._grace_s = grace_s
        self.owner = owner or f"sweeper-{uuid.uuid4().hex[:12]}"
        self._running = asyncio.Lock()
        self._periodic = Periodic("escalation-sweeper", self.run_once, interval_s, on_stop=self._release)

    async def start(self) -> None:
        await self._periodic.start()

    async def stop(self) -> None:
        await self._periodic.stop()

    async def _release(self) -> None:
        await self._leases.release(LEASE_NAME, self.owner)

    async def run_once(self, now: float | None = None) -> SweepReport:
        """One sweep at `now` (default: the clock), if this instance gets the lease."""
        at = self._clock() if now is None else now
        async with self._running:  # the loop and a direct call in the same process never overlap
            if not await self._leases.acquire(LEASE_NAME, self.owner, self._lease_ttl_s, now=at):
                return SweepReport(ran=False)
            timed_out = await self._time_out(at)
            reminded = await self._remind(at)
            resumed = await self._resume(at)
        if timed_out or reminded or resumed:
            log.info("escalation sweep", extra={"event": "sweep", "timed_out": timed_out, "reminded": reminded,
                                                "resumed": resumed})
        return SweepReport(True, timed_out, reminded, resumed)

    async def _time_out(self, now: float) -> int:
        count = 0
        for request in await self._requests.due("offered", now):
            try:
                applied = await self._requests.apply(request.id, lambda r: time_out(r, now=now))
            except Refused:
                continue   # accepted, declined or cancelled in the meantime
            if applied.changed:
                count += 1
                await self._guarded(self._rerouter.reroute, request.id, now)
        return count

    async def _remind(self, now: float) -> int:
        count = 0
        for request in await self._requests.due("open", now):
            try:
                applied = await self._requests.apply(request.id, lambda r: remind(r, now=now))
            except Refused:
                continue
            if applied.changed:
                count += 1
                await self._guarded(self._rerouter.remind_open, request.id, now)
        return count

    async def _resume(self, now: float) -> int:
        count = 0
        for status in sorted(ROUTABLE):
            for request in await self._requests.in_status(status, updated_before=now - self._grace_s):
                count += 1
                await self._guarded(self._rerouter.reroute, request.id, now)
        return count

    @staticmethod
    async def _guarded(step: Callable, request_id: str, now: float) -> None:
        # One request that cannot be routed (a bug, a store hiccup) must not hold up all the others.
        try:
            await step(request_id, now)
        except Exception:
            log.exception("escalation step failed", extra={"event": "sweep_step_failed", "request": request_id})
