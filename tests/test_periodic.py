"""The shared background loop: runs its step until stopped, survives failing steps, cleans up once."""

from __future__ import annotations

import asyncio

import pytest

from periodic import Periodic


class Steps:
    """A step that records its calls, fails when told to, and lets a test wait for the n-th call."""

    def __init__(self, fail_on: set[int] = frozenset()) -> None:
        self.calls = 0
        self.fail_on = fail_on
        self._reached: dict[int, asyncio.Event] = {}

    def reached(self, n: int) -> asyncio.Event:
        event = self._reached.setdefault(n, asyncio.Event())
        if self.calls >= n:
            event.set()
        return event

    async def __call__(self) -> None:
        self.calls += 1
        for n, event in self._reached.items():
            if self.calls >= n:
                event.set()
        if self.calls in self.fail_on:
            raise RuntimeError(f"step {self.calls} fails")


async def test_a_failing_step_is_logged_and_the_loop_goes_on(caplog):
    steps = Steps(fail_on={1, 2})
    loop = Periodic("test-loop", steps, every=0.001)
    await loop.start()
    await asyncio.wait_for(steps.reached(4).wait(), timeout=10)
    await loop.stop()
    assert not loop.running
    assert [r.getMessage() for r in caplog.records].count("test-loop: periodic step failed") == 2


async def test_stop_ends_the_loop_and_runs_the_clean_up_once():
    steps, cleaned = Steps(), []

    async def clean_up() -> None:
        cleaned.append(steps.calls)

    loop = Periodic("test-loop", steps, every=0.001, on_stop=clean_up)
    await loop.start()
    await asyncio.wait_for(steps.reached(2).wait(), timeout=10)
    await loop.stop()
    calls = steps.calls
    await asyncio.sleep(0.02)
    assert steps.calls == calls and cleaned == [calls]


async def test_a_failing_clean_up_does_not_break_shutdown():
    async def clean_up() -> None:
        raise ConnectionError("store already closed")

    loop = Periodic("test-loop", Steps(), every=60, on_stop=clean_up)
    await loop.start()
    await loop.stop()   # must not raise
    assert not loop.running


async def test_wait_first_decides_whether_the_first_step_runs_at_once():
    eager, patient = Steps(), Steps()
    loops = [Periodic("eager", eager, every=60, wait_first=False), Periodic("patient", patient, every=60)]
    for loop in loops:
        await loop.start()
    await asyncio.wait_for(eager.reached(1).wait(), timeout=10)
    await asyncio.sleep(0.01)
    for loop in loops:
        await loop.stop()
    assert (eager.calls, patient.calls) == (1, 0)


async def test_starting_twice_keeps_one_loop():
    steps = Steps()
    loop = Periodic("test-loop", steps, every=60, wait_first=False)
    await loop.start()
    await loop.start()
    await asyncio.wait_for(steps.reached(1).wait(), timeout=10)
    await asyncio.sleep(0.01)
    await loop.stop()
    assert steps.calls == 1


def test_the_interval_must_be_positive():
    with pytest.raises(ValueError):
        Periodic("test-loop", Steps(), every=0)
