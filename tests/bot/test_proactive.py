"""ProactiveSender and ConnectorClient against the local Bot Connector fake: wire format and retries."""

from __future__ import annotations

import logging
import random
import socket
import time
from email.utils import formatdate

import pytest

from bot.connector import ConnectorClient, ConnectorError, parse_retry_after
from bot.proactive import CARD_CONTENT_TYPE, ProactiveSender
from bot.throttle import RateLimiter
from dialogs.context import Message
from storage.conversations import ConversationBook, ConversationRecord

TENANT, BOT = "tenant-1", "28:bot-app"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Neue Frage"}]}


class Clock:
    """Fake time for limiter and sender: sleeping advances it and is recorded."""

    def __init__(self) -> None:
        self.now = 0.0
        self.limiter_sleeps: list[float] = []
        self.sender_sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    async def limiter_sleep(self, seconds: float) -> None:
        self.limiter_sleeps.append(seconds)
        self.now += seconds

    async def sender_sleep(self, seconds: float) -> None:
        self.sender_sleeps.append(seconds)
        self.now += seconds


class MaxJitter:
    """Full jitter at its upper bound, so the backoff schedule is visible."""

    def uniform(self, low: float, high: float) -> float:
        return high


@pytest.fixture
async def client():
    async with ConnectorClient() as connector_client:
        yield connector_client


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def make_sender(client, book, clock, connector):
    def make(**kwargs) -> ProactiveSender:
        limiter = RateLimiter(50, clock=clock, sleep=clock.limiter_sleep)
        options = {"bot_id": BOT, "bot_name": "Lotsenbot", "max_attempts": 5, "sleep": clock.sender_sleep,
                   "rng": MaxJitter(), "service_url": connector.url, **kwargs}
        return ProactiveSender(client, book, limiter, **options)
    return make


async def stored(book: ConversationBook, url: str, conversation_id: str = "a:chat-1", **kwargs) -> str:
    await book.remember(ConversationRecord(conversation_id, url, TENANT, kwargs.pop("scope", "personal"), BOT,
                                           **kwargs))
    return conversation_id


async def test_plain_text_send(connector, book, make_sender):
    cid = await stored(book, connector.url)
    delivery = await make_sender().send(cid, Message(text="Hallo"))
    assert (delivery.status, delivery.conversation_id, delivery.attempts) == ("sent", cid, 1)
    [call] = connector.sent(cid)
    assert call.path == "/v3/conversations/a:chat-1/activities"
    assert call.body == {"type": "message", "from": {"id": BOT, "name": "Lotsenbot"},
                         "conversation": {"id": cid}, "text": "Hallo"}
    assert delivery.activity_id.startswith("activity-") and call.authorization is None


async def test_card_send_with_summary(connector, book, make_sender):
    cid = await stored(book, connector.url, "19:abc@thread.tacv2;messageid=17", scope="channel")
    delivery = await make_sender().send(cid, Message(card=CARD, summary="Neue Frage im Kanal"))
    assert delivery.ok
    [call] = connector.sent(cid)    # the id survives quoting in the path
    assert call.body["attachments"] == [{"contentType": CARD_CONTENT_TYPE, "content": CARD}]
    assert call.card == CARD and call.body["summary"] == "Neue Frage im Kanal" and "text" not in call.body


async def test_429_waits_retry_after_then_succeeds(connector, book, make_sender, clock):
    cid = await stored(book, connector.url)
    connector.fail_next(429, retry_after=2.5)
    delivery = await make_sender().send(cid, Message(text="Hallo"))
    assert (delivery.status, delivery.attempts) == ("sent", 2)
    assert clock.sender_sleeps == [2.5]
    assert len(connector.sent(cid)) == 2


async def test_429_with_retry_after_pauses_all_sends(connector, book, make_sender, clock):
    await stored(book, connector.url, "a:one")
    await stored(book, connector.url, "a:two")
    sender = make_sender(max_attempts=1)
    connector.fail_next(429, retry_after=3, conversation_id="a:one")
    assert (await sender.send("a:one", Message(text="x"))).status == "failed"
    assert (await sender.send("a:two", Message(text="y"))).ok
    assert clock.limiter_sleeps == [3.0] and clock.now == 3.0


async def test_503_twice_then_success_with_backoff(connector, book, make_sender, clock):
    cid = await stored(book, connector.url)
    connector.fail_next(503, times=2)
    delivery = await make_sender().send(cid, Message(text="Hallo"))
    assert (delivery.status, delivery.attempts) == ("sent", 3)
    assert clock.sender_sleeps == [1.0, 2.0]
    assert len(connector.sent(cid)) == 3


async def test_backoff_is_capped_and_jittered(connector, book, make_sender, clock):
    cid = await stored(book, connector.url)
    connector.fail_next(502, times=7)
    await make_sender(max_attempts=8).send(cid, Message(text="Hallo"))
    assert clock.sender_sleeps == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
    clock.sender_sleeps.clear()
    connector.fail_next(500, times=3)
    await make_sender(rng=random.Random(7)).send(cid, Message(text="Hallo"))
    assert all(0.0 <= wait <= cap for wait, cap in zip(clock.sender_sleeps, [1.0, 2.0, 4.0]))


async def test_403_marks_blocked_without_retry(connector, book, make_sender):
    cid = await stored(book, connector.url)
    connector.fail_next(403)
    sender = make_sender()
    delivery = await sender.send(cid, Message(text="Hallo"))
    assert (delivery.status, delivery.attempts) == ("blocked", 1)
    assert "ConversationBlockedByUser" in delivery.error
    assert len(connector.sent(cid)) == 1
    assert (await book.get(cid)).status == "blocked"
    assert (await sender.send(cid, Message(text="nochmal"))).status == "not_found"
    assert len(connector.sent(cid)) == 1


async def test_gives_up_after_max_attempts(connector, book, make_sender, clock):
    cid = await stored(book, connector.url)
    connector.fail_next(500, times=10)
    delivery = await make_sender(max_attempts=3).send(cid, Message(text="Hallo"))
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    assert delivery.error.startswith("500 ServiceError")
    assert len(connector.sent(cid)) == 3 and len(clock.sender_sleeps) == 2


async def test_other_client_errors_are_not_retried(connector, book, make_sender):
    cid = await stored(book, connector.url)
    connector.fail_next(400, code="BadArgument")
    assert (await make_sender().send(cid, Message(text="x"))).status == "failed"
    connector.fail_next(404, code="ConversationNotFound")
    assert (await make_sender().send(cid, Message(text="x"))).status == "not_found"
    assert len(connector.sent(cid)) == 2


async def test_network_errors_are_retried(book, make_sender, clock):
    with socket.socket() as probe:            # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/"
    cid = await stored(book, dead)
    delivery = await make_sender(max_attempts=2).send(cid, Message(text="x"))
    assert (delivery.status, delivery.attempts) == ("failed", 2) and delivery.error.startswith("0 ")
    assert clock.sender_sleeps == [1.0]


async def test_unknown_or_inactive_conversation_is_not_found(connector, book, make_sender):
    cid = await stored(book, connector.url, status="inactive")
    sender = make_sender()
    assert (await sender.send("a:nobody", Message(text="x"))).status == "not_found"
    assert (await sender.send(cid, Message(text="x"))).status == "not_found"
    assert (await sender.update(cid, "activity-1", Message(text="x"))).status == "not_found"
    assert connector.calls == []


async def test_update_and_delete(connector, book, make_sender):
    cid = await stored(book, connector.url)
    sender = make_sender()
    sent = await sender.send(cid, Message(card=CARD))
    updated = await sender.update(cid, sent.activity_id, Message(text="Erledigt", card=CARD))
    assert (updated.status, updated.activity_id) == ("sent", sent.activity_id)
    [put] = connector.updates()
    assert put.path == f"/v3/conversations/{cid}/activities/{sent.activity_id}"
    assert put.body["id"] == sent.activity_id and put.body["text"] == "Erledigt" and put.card == CARD
    connector.fail_next(503)
    deleted = await sender.delete(cid, sent.activity_id)
    assert (deleted.status, deleted.attempts) == ("sent", 2)
    deletes = [c for c in connector.calls if c.method == "DELETE"]
    assert len(deletes) == 2 and deletes[0].activity_id == sent.activity_id


async def test_send_to_user_creates_stores_and_reuses_the_chat(connector, book, make_sender):
    sender = make_sender()
    first = await sender.send_to_user(user_id="29:user-1", aad_id="aad-1", tenant_id=TENANT,
                                      message=Message(text="Willkommen"))
    assert first.ok
    [create] = [c for c in connector.calls if c.path == "/v3/conversations"]
    assert create.body == {"isGroup": False, "bot": {"id": BOT, "name": "Lotsenbot"}, "members": [{"id": "29:user-1"}],
                           "tenantId": TENANT, "channelData": {"tenant": {"id": TENANT}}}
    record = await book.personal_for(aad_id="aad-1")
    assert record is not None and record.conversation_id == first.conversation_id
    assert (record.scope, record.service_url, record.tenant_id, record.user_id) == (
        "personal", connector.url, TENANT, "29:user-1")
    second = await sender.send_to_user(aad_id="aad-1", message=Message(text="Noch was"))
    assert second.ok and second.conversation_id == first.conversation_id
    assert len([c for c in connector.calls if c.path == "/v3/conversations"]) == 1
    assert [c.text for c in connector.sent(first.conversation_id)] == ["Willkommen", "Noch was"]


async def test_send_to_user_asks_for_the_tenant_service_url(connector, book, make_sender):
    asked = []

    async def service_url_for(tenant_id: str) -> str:
        asked.append(tenant_id)
        return connector.url

    sender = make_sender(service_url="https://unused.invalid/", service_url_for=service_url_for)
    assert (await sender.send_to_user(user_id="29:u", tenant_id=TENANT, message=Message(text="x"))).ok
    assert asked == [TENANT]


async def test_send_to_user_blocked_or_without_tenant(connector, book, make_sender):
    sender = make_sender()
    connector.fail_next(403, code="MessageWritesBlocked")
    delivery = await sender.send_to_user(user_id="29:u", tenant_id=TENANT, message=Message(text="x"))
    assert delivery.status == "blocked" and await book.personal_for(user_id="29:u") is None
    assert (await sender.send_to_user(user_id="29:v", message=Message(text="x"))).status == "failed"
    with pytest.raises(ValueError):
        await sender.send_to_user(tenant_id=TENANT, message=Message(text="x"))


async def test_message_text_never_reaches_the_log(connector, book, make_sender, caplog):
    cid = await stored(book, connector.url)
    connector.fail_next(503)
    with caplog.at_level(logging.DEBUG, logger="bot"):
        await make_sender().send(cid, Message(text="GEHEIME-FRAGE", summary="GEHEIM-SUMMARY"))
    assert caplog.records
    for record in caplog.records:
        assert "GEHEIM" not in record.getMessage() and "GEHEIM" not in repr(vars(record))
    done = [r for r in caplog.records if getattr(r, "event", "") == "proactive"]
    assert [(r.op, r.delivery, r.attempts, r.conversation_id) for r in done] == [("send", "sent", 2, cid)]


async def test_connector_sends_bearer_token_and_parses_errors(connector):
    class Tokens:
        async def token(self) -> str:
            return "tok-1"

    async with ConnectorClient(Tokens()) as client:
        cid = await client.create_conversation(connector.url, {"isGroup": False, "members": [{"id": "29:x"}]})
        assert await client.post_activity(connector.url, cid, {"type": "message", "text": "x"})
        connector.fail_next(429, retry_after=7)
        with pytest.raises(ConnectorError) as caught:
            await client.post_activity(connector.url, cid, {"type": "message", "text": "x"})
    assert (caught.value.status, caught.value.retry_after, caught.value.code) == (429, 7.0, "Throttled")
    assert {c.authorization for c in connector.calls} == {"Bearer tok-1"}


async def test_connector_must_be_started(connector):
    with pytest.raises(RuntimeError):
        await ConnectorClient().post_activity(connector.url, "a:x", {"type": "message"})


def test_parse_retry_after():
    now = time.time()
    assert parse_retry_after("3") == 3.0 and parse_retry_after("0.5") == 0.5
    assert parse_retry_after(formatdate(now + 30, usegmt=True), now=now) == pytest.approx(30, abs=1)
    assert parse_retry_after(formatdate(now - 30, usegmt=True), now=now) == 0.0
    assert parse_retry_after(None) is None and parse_retry_after("soon") is None
    assert parse_retry_after("nan") is None and parse_retry_after("-5") == 0.0
