"""botbuilder's ConversationState over our store: the SDK's own state API, persisted with ETags."""

from __future__ import annotations

import pytest
from botbuilder.core import ConversationState, TurnContext
from botbuilder.core.adapters import TestAdapter
from botbuilder.schema import Activity, ActivityTypes, ChannelAccount, ConversationAccount

from bot.state import DocumentStorage, doc_id
from storage.base import PreconditionFailed
from storage.sqlite import SqliteStore


@pytest.fixture
async def storage(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite3")
    await store.open(["bot_state"])
    yield DocumentStorage(store.container("bot_state"))
    await store.close()


async def test_read_of_missing_keys_returns_nothing(storage):
    assert await storage.read(["msteams/conversations/none/"]) == {}


async def test_write_read_roundtrip_and_etag(storage):
    await storage.write({"k/1": {"count": 1, "text": 'a "quoted" \\ text'}})
    item = (await storage.read(["k/1"]))["k/1"]
    assert item["count"] == 1 and item["text"] == 'a "quoted" \\ text'
    assert item["e_tag"]
    item["count"] = 2
    await storage.write({"k/1": item})
    stale = dict(item)  # still carries the old etag
    with pytest.raises(PreconditionFailed):
        await storage.write({"k/1": stale})
    assert (await storage.read(["k/1"]))["k/1"]["count"] == 2


async def test_star_etag_overwrites_and_delete_removes(storage):
    await storage.write({"k": {"v": 1}})
    await storage.write({"k": {"v": 5, "e_tag": "*"}})
    assert (await storage.read(["k"]))["k"]["v"] == 5
    await storage.delete(["k"])
    assert await storage.read(["k"]) == {}


def test_long_and_slashy_keys_become_safe_ids():
    assert "/" not in doc_id("msteams/conversations/a:1/")
    assert len(doc_id("x" * 1000)) <= 200


async def test_conversation_state_persists_between_turns(storage):
    state = ConversationState(storage)
    counter = state.create_property("counter")

    async def logic(context: TurnContext):
        value = await counter.get(context, lambda: 0)
        await counter.set(context, value + 1)
        await context.send_activity(f"turn {value + 1}")
        await state.save_changes(context)

    template = Activity(channel_id="msteams", conversation=ConversationAccount(id="conv-1"),
                        from_property=ChannelAccount(id="29:u"), recipient=ChannelAccount(id="28:b"))
    adapter = TestAdapter(logic, template)
    step = await adapter.send(Activity(type=ActivityTypes.message, text="a"))
    await step.assert_reply("turn 1")
    step = await adapter.send(Activity(type=ActivityTypes.message, text="b"))
    await step.assert_reply("turn 2")
