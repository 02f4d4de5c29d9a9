"""Proactive messages into stored conversations: throttled, retried, and blocked users recorded.

Implements `dialogs.ports.Messenger`. One retry policy for every call: 429 waits Retry-After (and
pauses all sends), 412/5xx/network errors back off exponentially with full jitter, 403 marks the
conversation blocked, 404 is final.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Awaitable, Callable

from bot.connector import ConnectorClient, ConnectorError, personal_conversation_params
from bot.throttle import RateLimiter
from dialogs.context import Message
from dialogs.ports import Delivery
from storage.conversations import ConversationBook, ConversationRecord

log = logging.getLogger(__name__)

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
# Teams' global service URL; valid for proactive calls when no tenant-specific one is known.
DEFAULT_SERVICE_URL = "https://smba.trafficmanager.net/teams/"
RETRY_STATUSES = frozenset({0, 412, 429, 500, 502, 503, 504})


def build_activity(message: Message, conversation_id: str, bot: dict) -> dict:
    """The v3 message activity for `message` (text, Adaptive Card, summary)."""
    activity: dict = {"type": "message", "from": bot, "conversation": {"id": conversation_id}}
    if message.text:
        activity["text"] = message.text
    if message.card is not None:
        activity["attachments"] = [{"contentType": CARD_CONTENT_TYPE, "content": message.card}]
    if message.summary:
        activity["summary"] = message.summary
    return activity


class ProactiveSender:
    """Sends, updates and deletes bot messages in conversations of the address book."""

    def __init__(self, connector: ConnectorClient, book: ConversationBook, limiter: RateLimiter, *,
                 bot_id: str, bot_name: str = "", max_attempts: int = 5,
                 sleep: Callable[[float], Awaitable[object]] = asyncio.sleep, rng: random.Random | None = None,
                 service_url: str = DEFAULT_SERVICE_URL,
                 service_url_for: Callable[[str], Awaitable[str | None]] | None = None,
                 base_delay: float = 1.0, max_delay: float = 30.0, max_retry_after: float = 300.0) -> None:
        if not bot_id or max_attempts < 1:
            raise ValueError("bot_id is required and max_attempts must be at least 1")
        self._connector = connector
        self._book = book
        self._limiter = limiter
        self._bot_id = bot_id
        self._bot_name = bot_name
        self._max_attempts = max_attempts
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._service_url = service_url
        self._service_url_for = service_url_for
        self._base_delay = base_delay
        self._max_delay = max_delay
        self._max_retry_after = max_retry_after

    async def send(self, conversation_id: str, message: Message) -> Delivery:
        """Post `message` into a stored, active conversation."""
        record = await self._active(conversation_id)
        if record is None:
            return self._missing("send", conversation_id)
        return await self._send_to(record, message)

    async def update(self, conversation_id: str, activity_id: str, message: Message) -> Delivery:
        """Replace the bot's message `activity_id` (e.g. a card after a click) with `message`."""
        record = await self._active(conversation_id)
        if record is None:
            return self._missing("update", conversation_id)
        activity = {**build_activity(message, record.conversation_id, self._bot(record)), "id": activity_id}
        delivery, _ = await self._attempt("update", record, lambda: self._connector.update_activity(
            record.service_url, record.conversation_id, activity_id, activity))
        return delivery

    async def delete(self, conversation_id: str, activity_id: str) -> Delivery:
        """Delete the bot's message `activity_id`."""
        record = await self._active(conversation_id)
        if record is None:
            return self._missing("delete", conversation_id)

        async def call() -> str:
            await self._connector.delete_activity(record.service_url, record.conversation_id, activity_id)
            return activity_id

        delivery, _ = await self._attempt("delete", record, call)
        return delivery

    async def send_to_user(self, *, aad_id: str = "", user_id: str = "", tenant_id: str = "",
                           message: Message) -> Delivery:
        """Write to a user 1:1: the stored personal chat, or a newly opened one (then remembered)."""
        if not (aad_id or user_id):
            raise ValueError("send_to_user needs aad_id or user_id")
        record = await self._book.personal_for(aad_id=aad_id, user_id=user_id)
        if record is None:
            if not tenant_id:
                return self._finish("create", Delivery("failed", "", attempts=0,
                                                       error="tenant_id is required to open a 1:1 chat"))
            service_url = (await self._service_url_for(tenant_id) if self._service_url_for else None) \
                or self._service_url
            # Teams documents the 29: user id as member id; an Entra object id is the fallback.
            params = personal_conversation_params(bot_id=self._bot_id, bot_name=self._bot_name,
                                                  member_id=user_id or aad_id, tenant_id=tenant_id)
            created, conversation_id = await self._attempt(
                "create", None, lambda: self._connector.create_conversation(service_url, params))
            if not created.ok:
                return created
            record = ConversationRecord(
                conversation_id=conversation_id, service_url=service_url, tenant_id=tenant_id,
                scope="personal", bot_id=self._bot_id, bot_name=self._bot_name,
                user_id=user_id, user_aad_id=aad_id)
            await self._book.remember(record)
        return await self._send_to(record, message)

    # -- internals ---------------------------------------------------------------------------

    async def _active(self, conversation_id: str) -> ConversationRecord | None:
        record = await self._book.get(conversation_id)
        return record if record is not None and record.status == "active" else None

    def _bot(self, record: ConversationRecord) -> dict:
        name = record.bot_name or self._bot_name
        return {"id": record.bot_id or self._bot_id, **({"name": name} if name else {})}

    async def _send_to(self, record: ConversationRecord, message: Message) -> Delivery:
        activity = build_activity(message, record.conversation_id, self._bot(record))
        delivery, _ = await self._attempt("send", record, lambda: self._connector.post_activity(
            record.service_url, record.conversation_id, activity))
        return delivery

    async def _attempt(self, op: str, record: ConversationRecord | None,
                       call: Callable[[], Awaitable[str]]) -> tuple[Delivery, str]:
        """Run `call` under the limiter with the retry policy; (delivery, returned id)."""
        conversation_id = record.conversation_id if record else ""
        error: ConnectorError | None = None
        attempt = 0
        for attempt in range(1, self._max_attempts + 1):
            await self._limiter.acquire(conversation_id or None)
            try:
                result = await call()
            except ConnectorError as exc:
                error = exc
            else:
                return self._finish(op, Delivery("sent", conversation_id, result if op != "create" else "",
                                                 attempt)), result
            if error.status == 429 and error.retry_after is not None:
                # Teams asked the app to slow down: every send holds off, even if this one gives up.
                self._limiter.pause_all(min(error.retry_after, self._max_retry_after))
            if error.status == 403:
                await self._mark_blocked(record)
                return self._finish(op, Delivery("blocked", conversation_id, attempts=attempt, error=str(error))), ""
            if error.status == 404:
                return self._finish(op, Delivery("not_found", conversation_id, attempts=attempt,
                                                 error=str(error))), ""
            if error.status not in RETRY_STATUSES or attempt == self._max_attempts:
                break
            delay = self._delay(error, attempt)
            log.warning("proactive %s retry in %.2fs", op, delay, extra={
                "event": "proactive_retry", "op": op, "conversation_id": conversation_id, "attempt": attempt,
                "http_status": error.status, "error_code": error.code, "retry_in": round(delay, 3)})
            await self._sleep(delay)
        return self._finish(op, Delivery("failed", conversation_id, attempts=attempt, error=str(error))), ""

    def _delay(self, error: ConnectorError, attempt: int) -> float:
        if error.retry_after is not None:
            return min(error.retry_after, self._max_retry_after)
        return self._rng.uniform(0.0, min(self._max_delay, self._base_delay * 2 ** (attempt - 1)))

    async def _mark_blocked(self, record: ConversationRecord | None) -> None:
        if record is None:
            return
        try:
            await self._book.set_status(record.conversation_id, "blocked")
        except Exception:  # the delivery outcome stands even if the bookkeeping write fails
            log.warning("could not mark conversation blocked", exc_info=True,
                        extra={"event": "proactive_block_write_failed", "conversation_id": record.conversation_id})

    def _missing(self, op: str, conversation_id: str) -> Delivery:
        return self._finish(op, Delivery("not_found", conversation_id, attempts=0,
                                         error="unknown or inactive conversation"))

    @staticmethod
    def _finish(op: str, delivery: Delivery) -> Delivery:
        # Never the message text: only ids, outcome and the connector's error.
        log.log(logging.INFO if delivery.ok else logging.WARNING, "proactive %s %s", op, delivery.status, extra={
            "event": "proactive", "op": op, "conversation_id": delivery.conversation_id,
            "delivery": delivery.status, "attempts": delivery.attempts, "activity_id": delivery.activity_id,
            "error": delivery.error})
        return delivery
