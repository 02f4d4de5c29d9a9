"""Help requests in the store: every change is one conditional write of a pure transition (routing.requests).

A closed request (resolved, cancelled, unassigned) gets an expiry: names and texts are not kept longer than
the retention period. Rating and proposal clicks on a closed request keep the same expiry.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable

from routing.requests import CLOSED, HelpRequest, Refused
from storage.base import Conflict, Container, Document, Filter, PreconditionFailed, Query

PARTITION = "help_request"
WRITE_ATTEMPTS = 12
_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")


@dataclass(frozen=True)
class Applied:
    request: HelpRequest
    changed: bool               # False: the transition was a repeat, nothing was written
    before: HelpRequest


class RequestBook:
    """Help requests in the "requests" container, changed only through conditional writes."""

    def __init__(self, container: Container, *, retention_days: int = 180, attempts: int = WRITE_ATTEMPTS) -> None:
        self._container = container
        self._retention_s = retention_days * 86400.0
        self._attempts = attempts

    async def create(self, request: HelpRequest) -> tuple[HelpRequest, bool]:
        """(stored request, created). A second confirm of the same draft finds the first one."""
        try:
            await self._container.create(request.id, PARTITION, request.to_body())
            return request, True
        except Conflict:
            existing = await self.get(request.id)
            return (existing or request), False

    async def get(self, request_id: str) -> HelpRequest | None:
        doc = await self._read(request_id)
        return HelpRequest.from_body(doc.body) if doc else None

    async def _read(self, request_id: str) -> Document | None:
        # Ids come back from card data, which the client controls: anything odd is simply not found.
        if not isinstance(request_id, str) or not _ID.fullmatch(request_id):
            return None
        return await self._container.read(request_id, PARTITION)

    async def apply(self, request_id: str, change: Callable[[HelpRequest], HelpRequest]) -> Applied:
        """Read, transition, write if changed; on a concurrent write start over from the new state."""
        for _ in range(self._attempts):
            doc = await self._read(request_id)
            if doc is None:
                raise Refused("not_found")
            current = HelpRequest.from_body(doc.body)
            updated = change(current)
            if updated == current:
                return Applied(current, False, current)
            expires = doc.expires_at
            if updated.status in CLOSED and expires is None:
                expires = updated.updated_at + self._retention_s
            try:
                await self._container.replace(request_id, PARTITION, updated.to_body(), etag=doc.etag,
                                              expires_at=expires)
            except PreconditionFailed:
                continue
            return Applied(updated, True, current)
        raise Refused("busy")

    async def _query(self, *filters: Filter, order_by: str = "created_at", limit: int | None = None,
                     descending: bool = False) -> list[HelpRequest]:
        docs = await self._container.query(Query(partition=PARTITION, filters=filters, order_by=order_by,
                                                 descending=descending, limit=limit))
        return [HelpRequest.from_body(d.body) for d in docs]

    async def due(self, status: str, now: float) -> list[HelpRequest]:
        """Requests in `status` whose deadline has passed."""
        return await self._query(Filter("status", "=", status), Filter("deadline", "<=", now), order_by="deadline")

    async def in_status(self, status: str, *, updated_before: float | None = None) -> list[HelpRequest]:
        filters = [Filter("status", "=", status)]
        if updated_before is not None:
            filters.append(Filter("updated_at", "<=", updated_before))
        return await self._query(*filters)

    async def loads(self) -> dict[str, int]:
        """Open requests per pilot key (offered to them or accepted by them)."""
        counts: dict[str, int] = {}
        for status in ("offered", "accepted"):
            for request in await self._query(Filter("status", "=", status)):
                holder = request.holder
                if holder is not None and holder.pilot_key:
                    counts[holder.pilot_key] = counts.get(holder.pilot_key, 0) + 1
        return counts

    async def held_by(self, holder: str) -> list[HelpRequest]:
        return [r for r in await self._query(Filter("holder", "=", holder)) if r.status in ("offered", "accepted")]

    async def asked_by(self, requester_key: str, limit: int = 20) -> list[HelpRequest]:
        return await self._query(Filter("requester_key", "=", requester_key), descending=True, limit=limit)
