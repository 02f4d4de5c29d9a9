"""Persistence of broadcast jobs: job documents, recipient pages and delivery records.

All documents of one job share the partition `job_id`:

- container `jobs`: the job document (id = job_id): state, message, schedule, page ids, total.
- container `deliveries`: recipient pages (id `p.<nonce>.<n>`, up to PAGE_SIZE recipients each,
  written once when the recipients are known) and one delivery record per recipient (id = sha1 of
  the conversation id) holding status, attempts and the sent activity id.

A recipient listed on a page but without a delivery record is pending. The record is created by the
claim (pending -> in_flight), which must be a conditional write anyway: a delivery then costs two
writes (claim create, result replace) instead of three, and submitting 10,000 recipients costs 20
page writes instead of 10,000 creates (the store contract has no batch write).
"""

from __future__ import annotations

import hashlib
import logging
import uuid
from dataclasses import dataclass
from typing import Any, Awaitable, Callable, Iterable, Sequence

from dialogs.context import Message
from dialogs.ports import Delivery
from storage.base import Conflict, Container, Document, Filter, NotFound, PreconditionFailed, Query

log = logging.getLogger(__name__)

FAILURES_SHOWN = 500
PAGE_SIZE = 500              # ~75 KB per page with Teams-length conversation ids; Cosmos allows 2 MB
MUTATE_ATTEMPTS = 10
TERMINAL = ("sent", "failed", "blocked")


@dataclass(frozen=True)
class Entry:
    """One recipient of a job as stored on a page; `target` is the activity to update or delete."""

    conversation_id: str
    kind: str = "user"
    label: str = ""
    target: str = ""
    version: int = 0

    @property
    def record_id(self) -> str:
        return record_id(self.conversation_id)


def record_id(conversation_id: str) -> str:
    # Conversation ids can be longer than a store key allows and contain ';' '@' ':'; a digest cannot.
    return hashlib.sha1(conversation_id.encode("utf-8")).hexdigest()


def message_body(message: Message | None) -> dict | None:
    if message is None:
        return None
    return {"text": message.text, "card": message.card, "summary": message.summary}


def message_from(body: dict | None) -> Message | None:
    return None if not body else Message(text=body.get("text") or "", card=body.get("card"),
                                          summary=body.get("summary") or "")


# Resolves a deferred job when it is due: (job_id, meta) -> (message or None to drop it, recipients).
Source = Callable[[str, dict], Awaitable[tuple[Message | None, Sequence["Recipient"]]]]


@dataclass(frozen=True)
class Recipient:
    """One address: a personal chat or a channel conversation from the address book."""

    conversation_id: str
    kind: str = "user"      # "user" | "channel"
    label: str = ""         # e.g. user name or channel name, for reports


@dataclass(frozen=True)
class Progress:
    """Where a job stands; `failures` holds (label or conversation id, German reason)."""

    job_id: str
    total: int
    sent: int
    failed: int
    blocked: int
    pending: int
    done: bool
    eta_seconds: float | None
    failures: tuple[tuple[str, str], ...] = ()
    kind: str = ""
    cancelled: bool = False


def entries_for(recipients: Sequence[Recipient]) -> list[Entry]:
    """Recipients as page entries, each conversation once (someone can be in two audiences)."""
    seen: dict[str, Entry] = {}
    for r in recipients:
        if not isinstance(r, Recipient) or not r.conversation_id:
            raise ValueError("recipients must be Recipient objects with a conversation id")
        seen.setdefault(r.conversation_id, Entry(r.conversation_id, r.kind, r.label))
    return list(seen.values())


def outcome(delivery: Delivery) -> tuple[str, str]:
    """Record status and German reason for what the Messenger reports."""
    if delivery.status == "sent":
        return "sent", ""
    if delivery.status == "blocked":
        return "blocked", "Bot blockiert oder entfernt"
    if delivery.status == "not_found":
        return "failed", "Unterhaltung nicht (mehr) erreichbar"
    detail = " ".join(delivery.error.split())[:120]
    return "failed", f"Nach {delivery.attempts} Versuchen fehlgeschlagen ({detail})"


class JobStore:
    """Reads and writes the documents of broadcast jobs; every contended write is conditional."""

    def __init__(self, jobs: Container, deliveries: Container) -> None:
        self._jobs = jobs
        self._deliveries = deliveries

    # -- job documents ----------------------------------------------------------------------------

    async def read(self, job_id: str) -> Document | None:
        return await self._jobs.read(job_id, job_id)

    async def create(self, job_id: str, body: dict) -> Document:
        """Create the job document; Conflict when the job exists already."""
        return await self._jobs.create(job_id, job_id, body)

    async def mutate(self, job_id: str, change: Callable[[dict], dict | None]) -> dict | None:
        """Read-modify-write with the ETag, retried on a concurrent write; `change` returns None for no-op.

        Returns the body as stored afterwards (None when the job does not exist).
        """
        for _ in range(MUTATE_ATTEMPTS):
            doc = await self.read(job_id)
            if doc is None:
                return None
            body = change(dict(doc.body))
            if body is None:
                return doc.body
            try:
                return (await self._jobs.replace(job_id, job_id, body, etag=doc.etag)).body
            except PreconditionFailed:
                continue
            except NotFound:
                return None
        raise PreconditionFailed(f"job {job_id} kept changing")

    async def open_jobs(self, now: float) -> list[dict]:
        """Open jobs whose time has come, earliest first."""
        docs = await self._jobs.query(Query(filters=(
            Filter("type", "=", "job"), Filter("state", "=", "open"), Filter("not_before", "<=", now))))
        return sorted((d.body for d in docs), key=lambda b: (b.get("not_before", 0), b.get("created_at", 0)))

    async def jobs_where(self, **equals: Any) -> list[dict]:
        filters = (Filter("type", "=", "job"),) + tuple(Filter(k, "=", v) for k, v in equals.items())
        return [d.body for d in await self._jobs.query(Query(filters=filters))]

    # -- recipient pages --------------------------------------------------------------------------

    async def write_pages(self, job_id: str, entries: list[Entry]) -> list[str]:
        """Store the recipients on fresh pages; returns their ids (the job document points at them)."""
        nonce = uuid.uuid4().hex[:10]
        ids: list[str] = []
        for number, start in enumerate(range(0, len(entries), PAGE_SIZE)):
            page_id = f"p.{nonce}.{number}"
            rows = [[e.conversation_id, e.kind, e.label, e.target, e.version]
                    for e in entries[start:start + PAGE_SIZE]]
            await self._deliveries.create(page_id, job_id, {"type": "page", "recipients": rows})
            ids.append(page_id)
        return ids

    async def read_pages(self, job_id: str, page_ids: Iterable[str]) -> list[Entry]:
        entries: list[Entry] = []
        for page_id in page_ids:
            doc = await self._deliveries.read(page_id, job_id)
            if doc is None:
                raise NotFound(f"page {page_id} of job {job_id} is missing")
            entries.extend(Entry(*row) for row in doc.body["recipients"])
        return entries

    async def drop_pages(self, job_id: str, page_ids: Iterable[str]) -> None:
        """Remove pages nobody points at (a lost race); failures only leave garbage behind."""
        for page_id in page_ids:
            try:
                await self._deliveries.delete(page_id, job_id)
            except Exception:  # garbage, not a correctness problem
                log.warning("could not drop page", extra={"event": "broadcast_page_drop_failed",
                                                          "job_id": job_id, "page": page_id})

    # -- delivery records -------------------------------------------------------------------------

    async def records(self, job_id: str, status: str | None = None, limit: int | None = None) -> list[Document]:
        """The job's delivery records (one partition query), optionally of one status."""
        filters = [Filter("type", "=", "delivery")]
        if status is not None:
            filters.append(Filter("status", "=", status))
        return await self._deliveries.query(Query(partition=job_id, filters=tuple(filters), limit=limit))

    async def count(self, job_id: str, status: str) -> int:
        return await self._deliveries.count(Query(partition=job_id, filters=(
            Filter("type", "=", "delivery"), Filter("status", "=", status))))

    async def young_in_flight(self, job_id: str, since: float) -> int:
        """Records claimed after `since` and not settled: somebody may still be sending them."""
        return await self._deliveries.count(Query(partition=job_id, filters=(
            Filter("type", "=", "delivery"), Filter("status", "=", "in_flight"), Filter("claimed_at", ">", since))))

    async def claim(self, job_id: str, entry: Entry, body: dict, previous: Document | None) -> Document | None:
        """Mark a recipient in_flight: create its record, or replace the stale one by ETag.

        None when somebody else claimed or settled it first.
        """
        try:
            if previous is None:
                return await self._deliveries.create(entry.record_id, job_id, body)
            return await self._deliveries.replace(entry.record_id, job_id, body, etag=previous.etag)
        except (Conflict, PreconditionFailed, NotFound):
            return None

    async def settle(self, job_id: str, claim: Document, body: dict) -> bool:
        """Write the outcome over our claim; False when another instance has re-claimed it meanwhile."""
        try:
            await self._deliveries.replace(claim.id, job_id, body, etag=claim.etag)
            return True
        except (PreconditionFailed, NotFound):
            return False
