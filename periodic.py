"""A background task that runs one step every few seconds until it is stopped.

Used by the knowledge poller, the escalation sweeper and the announcement scheduler, so that starting,
stopping and surviving a failing step work the same way in all three.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Awaitable, Callable

log = logging.getLogger(__name__)

Step = Callable[[], Awaitable[object]]


class Periodic:
    """Runs `step()` every `every` seconds; a step that fails is logged and the next one runs as planned."""

    def __init__(self, name: str, step: Step, every: float, *, wait_first: bool = True,
                 on_stop: Step | None = None) -> None:
        if every <= 0:
            raise ValueError("a periodic task needs a positive interval")
        self.name = name
        self._step = step
        self._every = every
        self._wait_first = wait_first
        self._on_stop = on_stop
        self._task: asyncio.Task | None = None

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    async def start(self) -> None:
        if not self.running:
            self._task = asyncio.create_task(self._loop(), name=self.name)

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            try:
                await task
            except asyncio.CancelledError:
                pass
        if self._on_stop is not None:
            try:
                await self._on_stop()
            except Exception:  # shutting down: the store may already be closing; a lease then simply expires
                log.debug("%s: clean-up on stop failed", self.name, exc_info=True)

    async def _loop(self) -> None:
        if self._wait_first:
            await asyncio.sleep(self._every)
        while True:
            try:
                await self._step()
            except Exception:  # one failing pass (a store hiccup, a bug) must not end the loop
                log.exception("%s: periodic step failed", self.name, extra={"event": "periodic_step_failed",
                                                                            "task": self.name})
            await asyncio.sleep(self._every)
