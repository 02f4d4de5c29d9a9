"""Fixtures shared by the outbound tests: the local Bot Connector and an address book on SQLite."""

from __future__ import annotations

import pytest

from storage.conversations import ConversationBook
from storage.sqlite import SqliteStore
from tests.fakes.connector import FakeConnector


@pytest.fixture
async def connector():
    async with FakeConnector() as fake:
        yield fake


@pytest.fixture
async def book():
    store = SqliteStore(":memory:")
    await store.open(["conversations"])
    yield ConversationBook(store.container("conversations"))
    await store.close()
