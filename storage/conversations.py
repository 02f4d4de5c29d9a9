"""The address book: every conversation the bot can write to, with what Teams needs to reach it.

Captured on installation, members-added and every message. Escalations and announcements read it to
send proactively. Plain data: no botbuilder types, so routing and events can use it directly.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, replace
from typing import Literal

from storage.base import Container, Filter, PreconditionFailed, Query

Scope = Literal["personal", "channel", "groupChat"]
Status = Literal["active", "inactive", "blocked"]


@dataclass(frozen=True)
class ConversationRecord:
    """One conversation reference plus what botbuilder drops (tenant) and what we need to find it."""

    conversation_id: str
    service_url: str
    tenant_id: str
    scope: Scope
    bot_id: str
    bot_name: str = ""
    channel_id: str = "msteams"
    user_id: str = ""           # Teams user id (29:...) in personal scope
    user_aad_id: str = ""       # Entra object id in personal scope
    user_name: str = ""
    team_id: str = ""
    status: Status = "active"
    updated_at: float = 0.0

    def fingerprint(self) -> tuple:
        """What must change for the stored record to be rewritten (not the timestamp)."""
        return tuple(v for k, v in asdict(self).items() if k != "updated_at")

    @classmethod
    def from_body(cls, body: dict) -> "ConversationRecord":
        fields = cls.__dataclass_fields__
        return cls(**{k: v for k, v in body.items() if k in fields})


class ConversationBook:
    """Reads and writes conversation records; remembers what it wrote to skip needless writes."""

    def __init__(self, container: Container, cache_size: int = 10_000) -> None:
        self._container = container
        self._seen: dict[str, tuple] = {}
        self._cache_size = cache_size

    async def remember(self, record: ConversationRecord) -> None:
        """Store the record if anything but its timestamp changed since we last saw it."""
        key = record.conversation_id
        if self._seen.get(key) == record.fingerprint():
            return
        stored = await self.get(key)
        if stored is None or stored.fingerprint() != record.fingerprint():
            await self._write(replace(record, updated_at=time.time()))
        if len(self._seen) >= self._cache_size:
            self._seen.pop(next(iter(self._seen)))
        self._seen[key] = record.fingerprint()

    async def get(self, conversation_id: str) -> ConversationRecord | None:
        doc = await self._container.read(conversation_id, conversation_id)
        return ConversationRecord.from_body(doc.body) if doc else None

    async def set_status(self, conversation_id: str, status: Status) -> ConversationRecord | None:
        """Mark a conversation inactive (uninstalled) or blocked (403); retried on a concurrent write."""
        for _ in range(5):
            doc = await self._container.read(conversation_id, conversation_id)
            if doc is None:
                return None
            record = replace(ConversationRecord.from_body(doc.body), status=status, updated_at=time.time())
            try:
                await self._container.replace(conversation_id, conversation_id, asdict(record), etag=doc.etag)
            except PreconditionFailed:
                continue
            self._seen.pop(conversation_id, None)
            return record
        raise PreconditionFailed(f"conversation {conversation_id} kept changing")

    async def personal_for(self, *, aad_id: str = "", user_id: str = "") -> ConversationRecord | None:
        """The active 1:1 conversation with a user, by Entra object id or Teams user id."""
        field, value = ("user_aad_id", aad_id) if aad_id else ("user_id", user_id)
        if not value:
            return None
        docs = await self._container.query(Query(filters=(
            Filter(field, "=", value), Filter("scope", "=", "personal"), Filter("status", "=", "active"))))
        records = sorted((ConversationRecord.from_body(d.body) for d in docs), key=lambda r: r.updated_at)
        return records[-1] if records else None

    async def active(self, scope: Scope | None = None) -> list[ConversationRecord]:
        """Every active conversation, optionally of one scope (the audience of a broadcast)."""
        filters = [Filter("status", "=", "active")]
        if scope:
            filters.append(Filter("scope", "=", scope))
        docs = await self._container.query(Query(filters=tuple(filters), order_by="conversation_id"))
        return [ConversationRecord.from_body(d.body) for d in docs]

    async def latest_service_url(self, tenant_id: str) -> str | None:
        """The service URL Teams used most recently for a tenant: where to open a new 1:1 chat."""
        docs = await self._container.query(Query(filters=(Filter("tenant_id", "=", tenant_id),),
                                                 order_by="updated_at", descending=True, limit=1))
        return ConversationRecord.from_body(docs[0].body).service_url if docs else None

    async def _write(self, record: ConversationRecord) -> None:
        # Last writer wins on purpose: both writers hold the same facts from Teams; status changes
        # (blocked/inactive) go through set_status, which is conditional.
        await self._container.upsert(record.conversation_id, record.conversation_id, asdict(record))
