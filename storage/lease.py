"""Leases in the document store, so that only one of several bot instances runs a background job.

A lease is one document (id and partition = the lease name) holding its owner and expiry. Every write
is conditional (create-if-absent or replace-if-ETag-matches), so of two instances racing for the same
lease exactly one wins. Expiry is judged against the acquirer's clock: keep `ttl_s` well above the
clock skew between instances and renew well before it runs out.
"""

from __future__ import annotations

import time

from storage.base import Conflict, Container, NotFound, PreconditionFailed, check_key


class Leases:
    """Acquire, renew and release named leases stored in `container`."""

    def __init__(self, container: Container) -> None:
        self._container = container

    async def acquire(self, name: str, owner: str, ttl_s: float, now: float | None = None) -> bool:
        """True when `owner` holds the lease for `ttl_s` seconds from `now` after this call."""
        check_key(name, "lease name")
        if not owner or ttl_s <= 0:
            raise ValueError("a lease needs an owner and a positive ttl")
        at = time.time() if now is None else now
        body = {"owner": owner, "expires": at + ttl_s}
        current = await self._container.read(name, name)
        if current is None:
            try:
                await self._container.create(name, name, body)
                return True
            except Conflict:
                return False
        held_by_other = current.body.get("owner") != owner and current.body.get("expires", 0) > at
        if held_by_other:
            return False
        try:
            await self._container.replace(name, name, body, etag=current.etag)
            return True
        except (PreconditionFailed, NotFound):
            return False  # somebody else renewed, took over or released first

    async def release(self, name: str, owner: str) -> bool:
        """Give the lease up if `owner` holds it; True when it was released."""
        current = await self._container.read(name, name)
        if current is None or current.body.get("owner") != owner:
            return False
        try:
            return await self._container.delete(name, name, etag=current.etag)
        except PreconditionFailed:
            return False  # taken over after it expired: no longer ours to release
