"""Outbound rate limits: a global token bucket plus Teams' per-conversation sliding windows.

Teams allows a bot per conversation 7 sends / 1 s, 8 / 2 s, 60 / 30 s and 1800 / hour, and an app
about 50 requests / s per tenant. We stay inside both instead of collecting 429s.
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_right
from collections import OrderedDict
from typing import Awaitable, Callable

TEAMS_CONVERSATION_LIMITS: tuple[tuple[int, float], ...] = ((7, 1.0), (8, 2.0), (60, 30.0), (1800, 3600.0))
_EPSILON = 1e-9


class RateLimiter:
    """`await acquire(conversation_id)` before each call; returns once the call may go out."""

    def __init__(self, rate_per_second: float = 50.0, *, burst: int = 1,
                 limits: tuple[tuple[int, float], ...] = TEAMS_CONVERSATION_LIMITS,
                 clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
                 max_conversations: int = 100_000) -> None:
        if rate_per_second <= 0 or burst < 1 or not limits:
            raise ValueError("rate_per_second > 0, burst >= 1 and at least one limit are required")
        self._rate = rate_per_second
        self._burst = float(burst)
        self._limits = tuple(limits)
        self._horizon = max(window for _, window in limits)
        self._keep = max(count for count, _ in limits)
        self._clock = clock
        self._sleep = sleep
        self._max_conversations = max_conversations
        self._tokens = float(burst)
        self._filled_at = clock()
        self._paused_until = -math.inf
        self._global = asyncio.Lock()
        # Send times per conversation, least recently used first, so idle ones are dropped from the front.
        self._history: OrderedDict[str, list[float]] = OrderedDict()
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def pause_all(self, seconds: float) -> None:
        """Hold back every send for `seconds` (Teams answered 429 with Retry-After)."""
        if seconds > 0:
            self._paused_until = max(self._paused_until, self._clock() + seconds)

    async def acquire(self, conversation_id: str | None = None) -> None:
        """Wait for a global slot and, given a conversation, for room in all of its windows."""
        if not conversation_id:
            await self._acquire_global()
            return
        lock = self._enter(conversation_id)
        try:
            # The conversation lock makes waiters of one conversation go in order; the global lock is
            # taken only after the conversation has room, so one busy chat never holds up the others.
            async with lock:
                while (wait := self._conversation_wait(conversation_id)) > _EPSILON:
                    await self._sleep(wait)
                await self._acquire_global()
                self._record(conversation_id)
        finally:
            self._leave(conversation_id)

    def tracked(self) -> int:
        """How many conversations are remembered (for tests and metrics)."""
        return len(self._history)

    async def _acquire_global(self) -> None:
        async with self._global:
            while (wait := self._global_wait()) > _EPSILON:
                await self._sleep(wait)
            self._tokens -= 1.0

    def _global_wait(self) -> float:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + max(0.0, now - self._filled_at) * self._rate)
        self._filled_at = now
        missing = 1.0 - self._tokens
        token_wait = missing / self._rate if missing > _EPSILON else 0.0
        return max(token_wait, self._paused_until - now)

    def _conversation_wait(self, conversation_id: str) -> float:
        events = self._history.get(conversation_id)
        if not events:
            return 0.0
        now = self._clock()
        wait = 0.0
        for count, window in self._limits:
            if len(events) >= count:
                # The count-th most recent send must have left the window before the next one.
                wait = max(wait, events[-count] + window - now)
        return wait

    def _record(self, conversation_id: str) -> None:
        now = self._clock()
        events = self._history.setdefault(conversation_id, [])
        self._history.move_to_end(conversation_id)
        events.append(now)
        del events[:bisect_right(events, now - self._horizon)]
        if len(events) > self._keep:
            del events[:-self._keep]
        self._forget_idle(now)

    def _forget_idle(self, now: float) -> None:
        history = self._history
        while history:
            oldest_id, events = next(iter(history.items()))
            if events[-1] > now - self._horizon and len(history) <= self._max_conversations:
                break
            if oldest_id in self._locks:  # someone is waiting on it: keep its history
                break
            history.popitem(last=False)

    def _enter(self, conversation_id: str) -> asyncio.Lock:
        lock, users = self._locks.get(conversation_id) or (asyncio.Lock(), 0)
        self._locks[conversation_id] = (lock, users + 1)
        return lock

    def _leave(self, conversation_id: str) -> None:
        lock, users = self._locks[conversation_id]
        if users <= 1:
            del self._locks[conversation_id]
        else:
            self._locks[conversation_id] = (lock, users - 1)
