"""The document-store contract: containers of JSON documents with ETag concurrency.

Both implementations (SQLite, Cosmos DB) honour exactly this contract; the same test suite
runs against each. Domain code depends on this module only.
"""

from __future__ import annotations

import re
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Iterable, Literal

Op = Literal["=", "!=", "<", "<=", ">", ">="]
OPS: frozenset[str] = frozenset({"=", "!=", "<", "<=", ">", ">="})

# Field paths are interpolated into SQL on both backends; this pattern is the injection guard.
_FIELD = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$")
_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")

EXPIRES_FIELD = "_expires"  # epoch seconds; a document past it is treated as absent


class StoreError(Exception):
    """Base class of storage errors that callers are expected to handle."""


class NotFound(StoreError):
    """The document does not exist (or has expired)."""


class Conflict(StoreError):
    """create() found a document with the same id and partition."""


class PreconditionFailed(StoreError):
    """The ETag given no longer matches: somebody else wrote first."""


@dataclass(frozen=True)
class Document:
    """One stored document. `body` never contains the storage bookkeeping fields."""

    id: str
    partition: str
    body: dict[str, Any]
    etag: str
    expires_at: float | None = None


@dataclass(frozen=True)
class Filter:
    """`field op value` on a top-level or dotted body field."""

    field: str
    op: Op
    value: Any

    def __post_init__(self) -> None:
        check_field(self.field)
        if self.op not in OPS:
            raise ValueError(f"unknown operator {self.op!r}")


@dataclass(frozen=True)
class Query:
    """A deliberately small query language that both backends can run natively."""

    partition: str | None = None
    filters: tuple[Filter, ...] = ()
    order_by: str | None = None
    descending: bool = False
    limit: int | None = None

    def __post_init__(self) -> None:
        if self.order_by is not None:
            check_field(self.order_by)
        if self.limit is not None and self.limit < 1:
            raise ValueError("limit must be positive")


def where(partition: str | None = None, *, order_by: str | None = None, descending: bool = False,
          limit: int | None = None, **equals: Any) -> Query:
    """Shorthand for the common equality query: where("p", status="open")."""
    return Query(partition=partition, filters=tuple(Filter(k, "=", v) for k, v in equals.items()),
                 order_by=order_by, descending=descending, limit=limit)


def check_field(path: str) -> str:
    if not _FIELD.match(path):
        raise ValueError(f"invalid field path {path!r}")
    return path


def check_name(name: str) -> str:
    if not _NAME.match(name):
        raise ValueError(f"invalid container name {name!r}")
    return name


def check_key(value: str, what: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 255 or any(c in value for c in "/\\?#"):
        raise ValueError(f"invalid {what} {value!r}")
    return value


def scalar_kind(value: Any) -> str:
    """The JSON type a filter compares within: both backends match only values of the same kind."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, (int, float)):
        return "number"
    if isinstance(value, str):
        return "string"
    raise ValueError("filters compare scalars only")


def is_expired(expires_at: float | None, now: float | None = None) -> bool:
    return expires_at is not None and expires_at <= (time.time() if now is None else now)


class Container(ABC):
    """A named set of documents, each addressed by (partition, id)."""

    name: str

    @abstractmethod
    async def read(self, id: str, partition: str) -> Document | None:
        """Point read; None when absent or expired."""

    @abstractmethod
    async def create(self, id: str, partition: str, body: dict[str, Any], *,
                     expires_at: float | None = None) -> Document:
        """Insert only if absent (an expired document counts as absent); else Conflict."""

    @abstractmethod
    async def replace(self, id: str, partition: str, body: dict[str, Any], *, etag: str,
                      expires_at: float | None = None) -> Document:
        """Overwrite only if the stored ETag equals `etag`; PreconditionFailed or NotFound otherwise."""

    @abstractmethod
    async def upsert(self, id: str, partition: str, body: dict[str, Any], *,
                     expires_at: float | None = None) -> Document:
        """Unconditional write. Only for data nobody races on."""

    @abstractmethod
    async def delete(self, id: str, partition: str, *, etag: str | None = None) -> bool:
        """Delete; with `etag` only if it matches (else PreconditionFailed). False when absent."""

    @abstractmethod
    async def query(self, query: Query) -> list[Document]:
        """Documents matching all filters, expired ones left out."""

    @abstractmethod
    async def count(self, query: Query) -> int:
        """How many documents match (order and limit ignored)."""

    @abstractmethod
    async def purge_expired(self, now: float | None = None) -> int:
        """Physically remove expired documents; returns how many."""


class DocumentStore(ABC):
    """Opens containers; created at start if missing."""

    @abstractmethod
    async def open(self, containers: Iterable[str]) -> None:
        """Connect and make sure every named container exists."""

    _containers: dict[str, Container]  # filled by open()

    def container(self, name: str) -> Container:
        """A container opened by open()."""
        try:
            return self._containers[name]
        except KeyError:
            raise ValueError(f"container {name!r} was not opened") from None

    def bind(self, name: str) -> Container:
        """A handle usable before open(): wiring builds services first, the store opens at start-up."""
        return _Bound(self, check_name(name))

    @abstractmethod
    async def ping(self) -> bool:
        """True when the backing store answers (readiness)."""

    @abstractmethod
    async def close(self) -> None:
        """Release connections."""


# Every container the application uses, so both stores create the same set at start.
CONTAINERS: tuple[str, ...] = (
    "conversations", "bot_state", "feedback", "pilots", "requests", "leases", "announcements",
    "deliveries", "rsvps", "users", "jobs",
)


class _Bound(Container):
    """Forwards to the store's container of that name, looked up at call time."""

    def __init__(self, store: DocumentStore, name: str) -> None:
        self._store = store
        self.name = name

    def _target(self) -> Container:
        return self._store.container(self.name)

    async def read(self, id, partition):
        return await self._target().read(id, partition)

    async def create(self, id, partition, body, *, expires_at=None):
        return await self._target().create(id, partition, body, expires_at=expires_at)

    async def replace(self, id, partition, body, *, etag, expires_at=None):
        return await self._target().replace(id, partition, body, etag=etag, expires_at=expires_at)

    async def upsert(self, id, partition, body, *, expires_at=None):
        return await self._target().upsert(id, partition, body, expires_at=expires_at)

    async def delete(self, id, partition, *, etag=None):
        return await self._target().delete(id, partition, etag=etag)

    async def query(self, query):
        return await self._target().query(query)

    async def count(self, query):
        return await self._target().count(query)

    async def purge_expired(self, now=None):
        return await self._target().purge_expired(now)
