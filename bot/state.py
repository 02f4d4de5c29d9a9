"""botbuilder's Storage (ConversationState, UserState) as an adapter over our document store."""

from __future__ import annotations

import copy
import hashlib
from typing import Any
from urllib.parse import quote

from botbuilder.core import Storage

from storage.base import Conflict, Container, NotFound, PreconditionFailed


def doc_id(key: str) -> str:
    """A store-safe id for a botbuilder key ("msteams/conversations/<id>/" has slashes)."""
    safe = quote(key, safe="")
    return safe if len(safe) <= 200 else "h-" + hashlib.sha256(key.encode()).hexdigest()


class DocumentStorage(Storage):
    """Items are dicts; their "e_tag" key carries our ETag, as in botbuilder's own stores."""

    def __init__(self, container: Container) -> None:
        self._container = container

    async def read(self, keys: list[str]) -> dict[str, Any]:
        """Found items only; absent keys are left out (the SDK expects that, not KeyError)."""
        found: dict[str, Any] = {}
        for key in keys:
            doc = await self._container.read(doc_id(key), doc_id(key))
            if doc is not None:
                item = copy.deepcopy(doc.body["item"])
                item["e_tag"] = doc.etag
                found[key] = item
        return found

    async def write(self, changes: dict[str, Any]) -> None:
        """Overwrite for e_tag None or "*"; otherwise only if the stored ETag still matches."""
        for key, item in changes.items():
            data = dict(item) if isinstance(item, dict) else dict(vars(item))
            etag = data.pop("e_tag", None)
            body = {"key": key, "item": data}
            ident = doc_id(key)
            if etag in (None, "*"):
                await self._container.upsert(ident, ident, body)
                continue
            try:
                await self._container.replace(ident, ident, body, etag=etag)
            except NotFound:
                try:
                    await self._container.create(ident, ident, body)
                except Conflict:
                    raise PreconditionFailed(f"state {key!r} was written concurrently") from None

    async def delete(self, keys: list[str]) -> None:
        for key in keys:
            await self._container.delete(doc_id(key), doc_id(key))
