"""Fixtures shared by the broadcast tests: a connector that can hold sends, a fake clock, the engine's world."""

from __future__ import annotations

import pytest

from tests.events.broadcast_kit import Clock, HoldingConnector, World


@pytest.fixture
async def connector():
    async with HoldingConnector() as fake:
        yield fake
        fake.release()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
async def world(store, connector, clock):
    async with World(store, connector, clock) as w:
        yield w
