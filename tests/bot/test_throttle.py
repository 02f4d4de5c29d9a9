"""RateLimiter on virtual time: global token bucket, Teams' per-conversation windows, pauses, memory."""

from __future__ import annotations

import asyncio
import heapq
import itertools

import pytest

from bot.throttle import TEAMS_CONVERSATION_LIMITS, RateLimiter


class VirtualClock:
    """Virtual time: sleepers wake in deadline order once every task is blocked."""

    def __init__(self) -> None:
        self.now = 0.0
        self._sleepers: list[tuple[float, int, asyncio.Future]] = []
        self._seq = itertools.count()

    def __call__(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        future = asyncio.get_running_loop().create_future()
        heapq.heappush(self._sleepers, (self.now + max(0.0, seconds), next(self._seq), future))
        await future

    async def run(self, *coroutines):
        tasks = [asyncio.ensure_future(c) for c in coroutines]
        while not all(t.done() for t in tasks):
            for _ in range(20):
                await asyncio.sleep(0)
            if self._sleepers and not all(t.done() for t in tasks):
                deadline, _, future = heapq.heappop(self._sleepers)
                self.now = max(self.now, deadline)
                future.set_result(None)
        return [t.result() for t in tasks]


def limiter(clock: VirtualClock, rate: float = 1000.0, burst: int = 1000, **kwargs) -> RateLimiter:
    return RateLimiter(rate, burst=burst, clock=clock, sleep=clock.sleep, **kwargs)


async def grant_times(clock: VirtualClock, rl: RateLimiter, conversation_ids: list[str]) -> list[float]:
    """Acquire one after another; the virtual time of each grant."""
    async def run() -> list[float]:
        times = []
        for conversation_id in conversation_ids:
            await rl.acquire(conversation_id)
            times.append(clock.now)
        return times
    return (await clock.run(run()))[0]


def max_in_window(times: list[float], window: float) -> int:
    """Most grants inside any half-open window [t, t + window)."""
    return max(sum(1 for u in times if t <= u < t + window) for t in times)


async def test_global_rate_is_fifty_per_second():
    clock = VirtualClock()
    times = await grant_times(clock, limiter(clock, rate=50.0, burst=1), [f"c{n}" for n in range(200)])
    assert max_in_window(times, 1.0) == 50
    assert times[-1] == pytest.approx(199 / 50)


async def test_global_burst_then_steady_rate():
    clock = VirtualClock()
    times = await grant_times(clock, limiter(clock, rate=50.0, burst=10), [f"c{n}" for n in range(20)])
    assert times[:10] == [0.0] * 10
    assert times[10] == pytest.approx(0.02) and times[19] == pytest.approx(0.2)


async def test_concurrent_callers_share_the_global_rate():
    clock, granted = VirtualClock(), []
    rl = limiter(clock, rate=50.0, burst=1)

    async def one(n: int) -> None:
        await rl.acquire(f"c{n}")
        granted.append(clock.now)

    await clock.run(*(one(n) for n in range(120)))
    assert len(granted) == 120 and max_in_window(granted, 1.0) == 50


async def test_seven_per_second_and_eight_per_two_seconds_per_conversation():
    clock = VirtualClock()
    times = await grant_times(clock, limiter(clock), ["chat"] * 40)
    assert times[:9] == [0.0] * 7 + [1.0, 2.0]
    assert max_in_window(times, 1.0) == 7
    assert max_in_window(times, 2.0) == 8
    assert all(times[i + 8] - times[i] >= 2.0 for i in range(len(times) - 8))


async def test_sixty_per_thirty_seconds_per_conversation():
    clock = VirtualClock()
    times = await grant_times(clock, limiter(clock), ["chat"] * 130)
    assert times[60] == pytest.approx(30.0)
    assert max_in_window(times, 30.0) == 60


async def test_hourly_limit_per_conversation():
    clock = VirtualClock()
    rl = limiter(clock, limits=((10, 1.0),) + TEAMS_CONVERSATION_LIMITS[-1:])   # 1800 sends in 180 s
    times = await grant_times(clock, rl, ["chat"] * 1801)
    assert times[1799] == pytest.approx(179.0)
    assert times[1800] == pytest.approx(3600.0)


async def test_a_busy_conversation_does_not_hold_up_others():
    clock, granted = VirtualClock(), {}
    rl = limiter(clock)

    async def send(conversation_id: str, n: int) -> None:
        await rl.acquire(conversation_id)
        granted[(conversation_id, n)] = clock.now

    await clock.run(*(send("busy", n) for n in range(20)), send("quiet", 0))
    assert granted[("quiet", 0)] == 0.0
    busy = sorted(t for (c, _), t in granted.items() if c == "busy")
    assert busy[:9] == [0.0] * 7 + [1.0, 2.0]


async def test_pause_all_holds_back_every_conversation():
    clock = VirtualClock()
    rl = limiter(clock)
    rl.pause_all(4.0)
    times = await grant_times(clock, rl, ["a", "b", "c"])
    assert times == [4.0, 4.0, 4.0]
    rl.pause_all(1.0)
    rl.pause_all(0.5)        # a shorter pause never shortens the current one
    assert await grant_times(clock, rl, [None]) == [5.0]


async def test_idle_conversations_are_forgotten():
    clock = VirtualClock()
    rl = limiter(clock)
    await grant_times(clock, rl, [f"c{n}" for n in range(100)])
    assert rl.tracked() == 100
    clock.now += 3601
    await grant_times(clock, rl, ["fresh"])
    assert rl.tracked() == 1


async def test_memory_is_capped():
    clock = VirtualClock()
    rl = limiter(clock, max_conversations=50)
    await grant_times(clock, rl, [f"c{n}" for n in range(500)])
    assert rl.tracked() == 50


def test_invalid_configuration_is_rejected():
    with pytest.raises(ValueError):
        RateLimiter(0)
    with pytest.raises(ValueError):
        RateLimiter(10, burst=0)
