"""Leases (storage/lease.py) on every backend."""

from __future__ import annotations

import asyncio
import time

import pytest

from storage.base import DocumentStore
from storage.lease import Leases

T0 = time.time()


@pytest.fixture
def leases(store: DocumentStore) -> Leases:
    return Leases(store.container("leases"))


async def test_acquire_free_lease_and_others_are_refused(leases: Leases) -> None:
    assert await leases.acquire("digest", "a", 30, now=T0) is True
    assert await leases.acquire("digest", "b", 30, now=T0 + 1) is False
    assert await leases.acquire("other-job", "b", 30, now=T0 + 1) is True  # leases are independent


async def test_owner_renews_and_extends(leases: Leases) -> None:
    assert await leases.acquire("digest", "a", 30, now=T0)
    assert await leases.acquire("digest", "a", 30, now=T0 + 20) is True
    assert await leases.acquire("digest", "b", 30, now=T0 + 40) is False  # renewed: runs to T0 + 50
    assert await leases.acquire("digest", "b", 30, now=T0 + 51) is True


async def test_takeover_after_expiry(leases: Leases) -> None:
    assert await leases.acquire("digest", "a", 10, now=T0)
    assert await leases.acquire("digest", "b", 10, now=T0 + 9.9) is False
    assert await leases.acquire("digest", "b", 10, now=T0 + 10) is True
    assert await leases.acquire("digest", "a", 10, now=T0 + 11) is False  # the old owner lost it
    assert await leases.acquire("digest", "b", 10, now=T0 + 12) is True


async def test_expired_owner_may_renew_when_nobody_took_over(leases: Leases) -> None:
    assert await leases.acquire("digest", "a", 10, now=T0)
    assert await leases.acquire("digest", "a", 10, now=T0 + 60) is True
    assert await leases.acquire("digest", "b", 10, now=T0 + 65) is False


async def test_release(leases: Leases) -> None:
    assert await leases.acquire("digest", "a", 30, now=T0)
    assert await leases.release("digest", "b") is False  # not the owner: nothing happens
    assert await leases.acquire("digest", "b", 30, now=T0 + 1) is False
    assert await leases.release("digest", "a") is True
    assert await leases.release("digest", "a") is False
    assert await leases.acquire("digest", "b", 30, now=T0 + 2) is True
    assert await leases.release("never-taken", "a") is False


async def test_real_clock_default(leases: Leases) -> None:
    assert await leases.acquire("digest", "a", 30) is True
    assert await leases.acquire("digest", "b", 30) is False
    assert await leases.acquire("digest", "a", 30) is True


async def test_invalid_arguments(leases: Leases) -> None:
    with pytest.raises(ValueError):
        await leases.acquire("bad/name", "a", 30)
    with pytest.raises(ValueError):
        await leases.acquire("digest", "", 30)
    with pytest.raises(ValueError):
        await leases.acquire("digest", "a", 0)


async def test_concurrent_acquire_of_free_lease_has_one_winner(leases: Leases) -> None:
    results = await asyncio.gather(*(leases.acquire("digest", f"owner{i}", 30, now=T0) for i in range(20)))
    assert results.count(True) == 1, results


async def test_concurrent_takeover_of_expired_lease_has_one_winner(leases: Leases) -> None:
    assert await leases.acquire("digest", "old", 10, now=T0)
    results = await asyncio.gather(*(leases.acquire("digest", f"owner{i}", 30, now=T0 + 20) for i in range(20)))
    assert results.count(True) == 1, results
    winner = f"owner{results.index(True)}"
    assert await leases.acquire("digest", winner, 30, now=T0 + 21) is True
    assert await leases.acquire("digest", "old", 10, now=T0 + 21) is False
