"""Azure Cosmos DB (NoSQL API) document store.

Each document is one item `{"id", "pk", "body", "_expires", "ttl"?}` in a container partitioned on
`/pk`. `_expires` is what the contract relies on: expired items are hidden on every read path here.
`ttl` only lets a real account delete them eventually (containers get `default_ttl=-1`, which turns
per-item TTL on without expiring anything by default).
"""

from __future__ import annotations

import math
import time
from typing import Any, Iterable

from azure.core import MatchConditions
from azure.core.credentials_async import AsyncTokenCredential
from azure.cosmos import PartitionKey
from azure.cosmos.aio import ContainerProxy, CosmosClient, DatabaseProxy
from azure.cosmos.exceptions import (
    CosmosAccessConditionFailedError, CosmosResourceExistsError, CosmosResourceNotFoundError,
)

from storage.base import (
    Conflict, Container, Document, DocumentStore, NotFound, PreconditionFailed, Query, check_field,
    check_key, check_name, is_expired, scalar_kind,
)

_FIELDS = "c.id, c.pk, c.body, c._etag, c._expires"
_LIVE = "(NOT IS_NUMBER(c._expires) OR c._expires > @now)"
_CREATE_ATTEMPTS = 5


_TYPE_CHECK = {"null": "IS_NULL", "bool": "IS_BOOL", "number": "IS_NUMBER", "string": "IS_STRING"}


def _type_check(value: Any) -> str:
    """The Cosmos type predicate for a filter value; comparisons are kept within one JSON type."""
    return _TYPE_CHECK[scalar_kind(value)]


class CosmosStore(DocumentStore):
    """Documents in one Cosmos DB database, one Cosmos container per store container.

    `credential` is an account key or an azure-core async TokenCredential (e.g. a managed identity).
    `verify_tls=False` exists ONLY for the local test server with its self-signed certificate;
    never set it against a real account.
    """

    def __init__(self, endpoint: str, credential: str | AsyncTokenCredential, database: str, *,
                 verify_tls: bool = True) -> None:
        self._endpoint = endpoint
        self._credential = credential
        self._database_name = database
        self._verify_tls = verify_tls
        self._client: CosmosClient | None = None
        self._db: DatabaseProxy | None = None
        self._containers: dict[str, CosmosContainer] = {}

    async def open(self, containers: Iterable[str]) -> None:
        names = [check_name(n) for n in containers]
        if self._client is None:
            self._client = CosmosClient(self._endpoint, credential=self._credential,
                                        connection_verify=self._verify_tls)
            self._db = await self._client.create_database_if_not_exists(self._database_name)
        assert self._db is not None
        for name in names:
            proxy = await self._db.create_container_if_not_exists(
                id=name, partition_key=PartitionKey(path="/pk"), default_ttl=-1)
            self._containers[name] = CosmosContainer(proxy, name)

    async def ping(self) -> bool:
        try:
            if self._db is None:
                return False
            await self._db.read()
            return True
        except Exception:  # readiness must answer, not raise
            return False

    async def close(self) -> None:
        client, self._client, self._db = self._client, None, None
        if client is not None:
            await client.close()


class CosmosContainer(Container):
    def __init__(self, proxy: ContainerProxy, name: str) -> None:
        self._c = proxy
        self.name = name

    @staticmethod
    def _item(id: str, partition: str, body: dict[str, Any], expires_at: float | None) -> dict[str, Any]:
        item: dict[str, Any] = {"id": id, "pk": partition, "body": body, "_expires": expires_at}
        if expires_at is not None:
            # Rounded up plus a second of slack: the account must never delete before `_expires`.
            item["ttl"] = max(1, math.ceil(expires_at - time.time()) + 1)
        return item

    @staticmethod
    def _doc(item: dict[str, Any]) -> Document:
        expires = item.get("_expires")
        return Document(id=item["id"], partition=item["pk"], body=item["body"], etag=item["_etag"],
                        expires_at=None if expires is None else float(expires))

    async def _raw(self, id: str, partition: str) -> dict[str, Any] | None:
        """The stored item, expired or not; None when absent."""
        try:
            return await self._c.read_item(id, partition_key=partition)
        except CosmosResourceNotFoundError:
            return None

    async def read(self, id: str, partition: str) -> Document | None:
        item = await self._raw(id, partition)
        return None if item is None or is_expired(item.get("_expires")) else self._doc(item)

    async def create(self, id: str, partition: str, body: dict[str, Any], *,
                     expires_at: float | None = None) -> Document:
        check_key(id, "id"), check_key(partition, "partition")
        item = self._item(id, partition, body, expires_at)
        for _ in range(_CREATE_ATTEMPTS):
            try:
                return self._doc(await self._c.create_item(item))
            except CosmosResourceExistsError:
                pass
            old = await self._raw(id, partition)
            if old is None:
                continue  # deleted since our create: try again
            if not is_expired(old.get("_expires")):
                break
            # Overwrite the expired leftover only if nobody else has touched it meanwhile.
            try:
                return self._doc(await self._c.replace_item(
                    id, item, etag=old["_etag"], match_condition=MatchConditions.IfNotModified))
            except (CosmosAccessConditionFailedError, CosmosResourceNotFoundError):
                continue
        raise Conflict(f"{self.name}/{partition}/{id} exists")

    async def replace(self, id: str, partition: str, body: dict[str, Any], *, etag: str,
                      expires_at: float | None = None) -> Document:
        # An expired item must look absent, and the conditional write cannot tell, so read first.
        old = await self._raw(id, partition)
        if old is None or is_expired(old.get("_expires")):
            raise NotFound(f"{self.name}/{partition}/{id}")
        try:
            return self._doc(await self._c.replace_item(
                id, self._item(id, partition, body, expires_at), etag=etag,
                match_condition=MatchConditions.IfNotModified))
        except CosmosAccessConditionFailedError:
            raise PreconditionFailed(f"{self.name}/{partition}/{id}") from None
        except CosmosResourceNotFoundError:
            raise NotFound(f"{self.name}/{partition}/{id}") from None

    async def upsert(self, id: str, partition: str, body: dict[str, Any], *,
                     expires_at: float | None = None) -> Document:
        check_key(id, "id"), check_key(partition, "partition")
        return self._doc(await self._c.upsert_item(self._item(id, partition, body, expires_at)))

    async def delete(self, id: str, partition: str, *, etag: str | None = None) -> bool:
        old = await self._raw(id, partition)
        if old is None:
            return False
        live = not is_expired(old.get("_expires"))
        if not live and etag is not None:
            return False
        try:
            if etag is None:
                await self._c.delete_item(id, partition_key=partition)
            else:
                await self._c.delete_item(id, partition_key=partition, etag=etag,
                                          match_condition=MatchConditions.IfNotModified)
        except CosmosResourceNotFoundError:
            return False
        except CosmosAccessConditionFailedError:
            raise PreconditionFailed(f"{self.name}/{partition}/{id}") from None
        return live  # an expired leftover goes too, but does not count as deleted

    def _where(self, query: Query, now: float) -> tuple[str, list[dict[str, Any]]]:
        clauses = [_LIVE]
        params: list[dict[str, Any]] = [{"name": "@now", "value": now}]
        if query.partition is not None:
            # Redundant with partition_key= on a real account; the test server only scopes by this.
            clauses.append("c.pk = @pk")
            params.append({"name": "@pk", "value": query.partition})
        for i, f in enumerate(query.filters):
            path = "c.body." + check_field(f.field)
            if f.value is None and f.op == "=":
                clauses.append(f"(NOT IS_DEFINED({path}) OR IS_NULL({path}))")
            elif f.value is None and f.op == "!=":
                clauses.append(f"(IS_DEFINED({path}) AND NOT IS_NULL({path}))")
            else:
                clauses.append(f"({_type_check(f.value)}({path}) AND {path} {f.op} @v{i})")
                params.append({"name": f"@v{i}", "value": f.value})
        return " AND ".join(clauses), params

    async def _run(self, sql: str, params: list[dict[str, Any]], partition: str | None) -> list[Any]:
        kwargs: dict[str, Any] = {"parameters": params}
        if partition is not None:
            kwargs["partition_key"] = partition
        return [row async for row in self._c.query_items(sql, **kwargs)]

    async def query(self, query: Query) -> list[Document]:
        where, params = self._where(query, time.time())
        top = ""
        if query.limit is not None:
            top = "TOP @limit "
            params.append({"name": "@limit", "value": int(query.limit)})
        sql = f"SELECT {top}{_FIELDS} FROM c WHERE {where}"
        if query.order_by:
            # One key only: a tie-breaker (e.g. c.id) would need a composite index for every field.
            sql += f" ORDER BY c.body.{check_field(query.order_by)} {'DESC' if query.descending else 'ASC'}"
        return [self._doc(row) for row in await self._run(sql, params, query.partition)]

    async def count(self, query: Query) -> int:
        where, params = self._where(query, time.time())
        rows = await self._run(f"SELECT VALUE COUNT(1) FROM c WHERE {where}", params, query.partition)
        return int(sum(rows))  # one row per partition range unless the SDK aggregated already

    async def purge_expired(self, now: float | None = None) -> int:
        at = time.time() if now is None else now
        rows = await self._run("SELECT c.id, c.pk, c._etag FROM c WHERE IS_NUMBER(c._expires)"
                               " AND c._expires <= @at", [{"name": "@at", "value": at}], None)
        purged = 0
        for row in rows:
            try:
                await self._c.delete_item(row["id"], partition_key=row["pk"], etag=row["_etag"],
                                          match_condition=MatchConditions.IfNotModified)
                purged += 1
            except (CosmosResourceNotFoundError, CosmosAccessConditionFailedError):
                pass  # rewritten or removed meanwhile: not ours to purge
        return purged
