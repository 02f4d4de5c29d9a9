"""/api/messages over real HTTP, replies checked at the local Bot Connector (local mode, SQLite)."""

from __future__ import annotations

import json

import pytest

from tests.fakes import teams
from tests.fakes.harness import BotHarness, local_settings


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(local_settings(tmp_path)) as harness:
        yield harness


def _texts(card: dict) -> str:
    """Every visible string in a card, for assertions that do not depend on layout."""
    return json.dumps(card, ensure_ascii=False)


async def test_message_reply_is_posted_to_the_activity_service_url(bot):
    status, _ = await bot.post(teams.message(bot.url, "hilfe"))
    assert status == 201
    replies = bot.connector.sent("a:personal-29:user-1")
    assert len(replies) == 1
    reply = replies[0].body
    assert reply["type"] == "message"
    assert reply["conversation"]["id"] == "a:personal-29:user-1"
    assert reply["replyToId"]
    card = replies[0].card
    assert card["version"] == "1.5"
    assert "lots*in fragen" in _texts(card)
    assert "hilfe" in _texts(card)


async def test_mention_in_a_channel_is_removed_before_routing(bot):
    activity = teams.message(bot.url, "hilfe", mention=True, conversation_type="channel",
                             conversation_id="19:general@thread.tacv2;messageid=1")
    status, _ = await bot.post(activity)
    assert status == 201
    [reply] = bot.connector.sent()
    assert "So können Sie mit mir arbeiten" in _texts(reply.card)


async def test_adaptive_card_invoke_gets_200_with_a_card(bot):
    status, body = await bot.post(teams.card_execute(bot.url, "none_of_these", {"question": "wie backe ich brot"}))
    assert status == 200
    assert body["statusCode"] == 200
    assert body["type"] == "application/vnd.microsoft.card.adaptive"
    assert body["value"]["type"] == "AdaptiveCard"
    assert "Digitallots*in fragen" in _texts(body["value"])


async def test_unknown_card_verb_gets_a_polite_answer_not_an_error(bot):
    status, body = await bot.post(teams.card_execute(bot.url, "no-such-verb", {"x": 1}))
    assert status == 200 and body["statusCode"] == 200
    [reply] = bot.connector.sent()
    assert "nicht mehr aktuell" in reply.text


async def test_unknown_submit_verb_gets_a_polite_answer(bot):
    status, _ = await bot.post(teams.card_submit(bot.url, "gibt-es-nicht"))
    assert status == 201
    [reply] = bot.connector.sent()
    assert "nicht mehr aktuell" in reply.text


async def test_install_sends_welcome_and_stores_the_reference_with_tenant(bot):
    status, _ = await bot.post(teams.bot_added(bot.url))
    assert status == 201
    [welcome] = bot.connector.sent()
    assert "Digitallots*in" in _texts(welcome.card)
    record = await bot.parts["book"].get("a:personal-29:user-1")
    assert record.tenant_id == teams.TENANT
    assert record.scope == "personal"
    assert record.user_aad_id == "aad-0001"
    assert record.service_url == bot.url
    assert record.status == "active"


async def test_uninstall_marks_the_conversation_inactive(bot):
    await bot.post(teams.bot_added(bot.url))
    status, _ = await bot.post(teams.installation(bot.url, "remove"))
    assert status == 201
    record = await bot.parts["book"].get("a:personal-29:user-1")
    assert record.status == "inactive"


async def test_every_message_captures_the_reference_with_scope(bot):
    await bot.post(teams.message(bot.url, "hilfe", conversation_type="groupChat", conversation_id="19:chat@thread.v2",
                                 mention=True))
    record = await bot.parts["book"].get("19:chat@thread.v2")
    assert record.scope == "groupChat" and record.tenant_id == teams.TENANT
    assert record.user_id == ""  # a group chat is not a 1:1 address


@pytest.mark.parametrize("payload, status", [
    (b"{not json", 400),
    (b"[]", 400),
    (b'"text"', 400),
    (json.dumps({"type": "message"}).encode(), 400),
    (json.dumps({"type": 7, "serviceUrl": "http://x/", "conversation": {"id": "c"}, "from": {"id": "u"},
                 "recipient": {"id": "b"}}).encode(), 400),
    (json.dumps({"type": "message", "serviceUrl": "ftp://x/", "conversation": {"id": "c"}, "from": {"id": "u"},
                 "recipient": {"id": "b"}}).encode(), 400),
    (json.dumps({"type": "message", "serviceUrl": "http://x/", "conversation": {"id": ""}, "from": {"id": "u"},
                 "recipient": {"id": "b"}}).encode(), 400),
    (json.dumps({"type": "message", "serviceUrl": "http://x/", "conversation": {"id": "c"}, "from": {"id": "u"},
                 "recipient": {"id": "b"}, "text": {"a": 1}}).encode(), 400),
    (json.dumps({"type": "message", "serviceUrl": "http://x/", "conversation": {"id": "c"}, "from": {"id": "u"},
                 "recipient": {"id": "b"}, "entities": "nope"}).encode(), 400),
    (b"\xff\xfe\x00", 400),
])
async def test_junk_gets_4xx_never_5xx(bot, payload, status):
    got, body = await bot.post(None, raw=payload)
    assert got == status
    assert body["error"]["message"]
    assert bot.connector.calls == []


async def test_non_json_content_type_is_415(bot):
    got, _ = await bot.post(None, raw=b"hello", headers={"Content-Type": "text/plain"})
    assert got == 415


async def test_body_over_the_limit_is_413(tmp_path):
    async with BotHarness(local_settings(tmp_path, MAX_BODY_BYTES=2048)) as bot:
        big = teams.message(bot.url, "x" * 5000)
        got, _ = await bot.post(big)
        assert got == 413
        assert bot.connector.calls == []


async def test_unknown_activity_type_is_accepted_and_ignored(bot):
    activity = teams.message(bot.url, "hi")
    activity["type"] = "somethingNew"
    got, _ = await bot.post(activity)
    assert got == 201
    assert bot.connector.calls == []


async def test_unknown_invoke_name_gets_200(bot):
    activity = teams.card_execute(bot.url, "x")
    activity["name"] = "composeExtension/query"
    got, _ = await bot.post(activity)
    assert got == 200


async def test_foreign_tenant_is_403_and_not_processed(tmp_path):
    async with BotHarness(local_settings(tmp_path, ALLOWED_TENANT_IDS=teams.TENANT)) as bot:
        got, _ = await bot.post(teams.message(bot.url, "hilfe", tenant="99999999-0000-4000-8000-000000000009"))
        assert got == 403
        assert bot.connector.calls == []
        assert await bot.parts["book"].get("a:personal-29:user-1") is None
        got, _ = await bot.post(teams.message(bot.url, "hilfe"))
        assert got == 201


async def test_health_and_readiness(bot):
    assert (await bot.client.get("/healthz")).status == 200
    ready = await bot.client.get("/readyz")
    assert ready.status == 200 and (await ready.json())["status"] == "ok"


async def test_proactive_send_update_delete_into_a_stored_conversation(bot):
    from dialogs.context import Message

    await bot.post(teams.bot_added(bot.url))
    sender = bot.parts["sender"]
    card = {"type": "AdaptiveCard", "version": "1.5", "body": []}
    sent = await sender.send("a:personal-29:user-1", Message(card=card, summary="Neu"))
    assert sent.ok and sent.activity_id
    post = bot.connector.sent("a:personal-29:user-1")[-1]
    assert post.card == card and post.body["from"]["id"] == teams.BOT["id"]  # the id Teams used in that chat
    updated = await sender.update("a:personal-29:user-1", sent.activity_id, Message(text="geändert"))
    assert updated.ok and bot.connector.updates()[-1].activity_id == sent.activity_id
    deleted = await sender.delete("a:personal-29:user-1", sent.activity_id)
    assert deleted.ok and bot.connector.calls[-1].method == "DELETE"


async def test_proactive_send_to_a_new_user_opens_a_chat_at_the_tenants_service_url(bot):
    from dialogs.context import Message

    await bot.post(teams.bot_added(bot.url))  # teaches the bot this tenant's service URL
    delivery = await bot.parts["sender"].send_to_user(user_id="29:user-7", tenant_id=teams.TENANT,
                                                      message=Message(text="Hallo"))
    assert delivery.ok
    create = next(c for c in bot.connector.calls if c.path == "/v3/conversations")
    assert create.body["members"] == [{"id": "29:user-7"}]
    assert create.body["channelData"] == {"tenant": {"id": teams.TENANT}}
    record = await bot.parts["book"].personal_for(user_id="29:user-7")
    assert record is not None and record.service_url == bot.url


async def test_blocked_user_is_marked_and_not_retried(bot):
    from dialogs.context import Message

    await bot.post(teams.bot_added(bot.url))
    before = len(bot.connector.calls)
    bot.connector.fail_next(403, conversation_id="a:personal-29:user-1")
    delivery = await bot.parts["sender"].send("a:personal-29:user-1", Message(text="x"))
    assert delivery.status == "blocked"
    assert len(bot.connector.calls) == before + 1
    assert (await bot.parts["book"].get("a:personal-29:user-1")).status == "blocked"


async def test_a_failing_turn_logs_a_traceback_with_a_code_and_tells_the_user_in_german(bot, caplog):
    await bot.parts["store"].close()  # a real fault below the dialogs: the database is gone
    with caplog.at_level("INFO"):
        status, _ = await bot.post(teams.message(bot.url, "wie teile ich meinen bildschirm"))
    assert status == 201
    [reply] = bot.connector.sent()
    card_text = json.dumps(reply.card, ensure_ascii=False)
    assert "nicht geklappt" in card_text
    [failure] = [r for r in caplog.records if r.getMessage() == "turn failed"]
    assert failure.exc_info is not None
    assert failure.correlation_id in card_text
    assert "Traceback" not in card_text and "sqlite" not in card_text.lower()


async def test_user_text_never_appears_in_info_logs(bot, caplog):
    secret = "meine geheime frage zur bildschirmfreigabe xyz123"
    with caplog.at_level("INFO"):
        await bot.post(teams.message(bot.url, secret))
        await bot.post(teams.card_execute(bot.url, "none_of_these", {"question": secret}))
    assert caplog.records, "the turn should have logged something"
    for record in caplog.records:
        assert "xyz123" not in record.getMessage()
        assert "xyz123" not in json.dumps({k: str(v) for k, v in vars(record).items()})
