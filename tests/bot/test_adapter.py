"""The adapter's own connector path and the lazily built SDK clients."""

from __future__ import annotations

from bot.adapter import LazyConnectorFactory, _DeferredUserTokenClient
from bot.tokens import BotCredentialsFactory


async def test_lazy_connector_client_is_built_only_when_used_and_then_works(connector):
    factory = LazyConnectorFactory(BotCredentialsFactory("", None), None)
    client = await factory.create(connector.url, None)
    assert object.__getattribute__(client, "_client") is None, "creating must not build the msrest client"
    member = await client.conversations.get_conversation_member("a:conv-1", "29:user-9")
    assert member.id == "29:user-9"
    assert connector.calls[-1].method == "GET" and connector.calls[-1].path.endswith("/members/29:user-9")


async def test_deferred_user_token_client_creates_on_first_call_only():
    created = []

    class Inner:
        async def get_token_status(self, user_id, channel_id, include_filter):
            return [user_id, channel_id, include_filter]

    async def create():
        created.append(1)
        return Inner()

    client = _DeferredUserTokenClient(create)
    assert created == []
    assert await client.get_token_status("u", "msteams", "x") == ["u", "msteams", "x"]
    await client.get_token_status("u", "msteams", "x")
    assert created == [1]
