"""SQLite document store: the embedded default.

All SQLite work runs on one dedicated thread, so the event loop never blocks on disk and the single
connection serialises writes inside this process. WAL plus a busy timeout lets several processes
share one file; every conditional write is one UPDATE/DELETE statement, which SQLite runs atomically.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Callable, Iterable, TypeVar

from storage.base import (
    Conflict, Container, Document, DocumentStore, NotFound, PreconditionFailed, Query, check_key,
    check_name, scalar_kind,
)

T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS docs (
    container TEXT NOT NULL,
    pk TEXT NOT NULL,
    id TEXT NOT NULL,
    body TEXT NOT NULL,
    etag TEXT NOT NULL,
    expires REAL,
    PRIMARY KEY (container, pk, id)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS docs_expires ON docs (container, expires) WHERE expires IS NOT NULL;
"""

_SQL_OPS = {"=": "=", "!=": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def _new_etag() -> str:
    return uuid.uuid4().hex


def _json_path(field: str) -> str:
    return "$." + field


_JSON_TYPES = {"null": "('null')", "bool": "('true', 'false')", "number": "('integer', 'real')", "string": "('text')"}


def _json_types(value: Any) -> str:
    return _JSON_TYPES[scalar_kind(value)]


class SqliteStore(DocumentStore):
    """Documents in one SQLite file (or `:memory:`), one table for all containers."""

    def __init__(self, path: str | Path) -> None:
        self._path = str(path)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite")
        self._conn: sqlite3.Connection | None = None
        self._containers: dict[str, SqliteContainer] = {}

    async def run(self, fn: Callable[[sqlite3.Connection], T]) -> T:
        """Run `fn(connection)` on the store's thread."""
        conn = self._conn
        if conn is None:
            raise RuntimeError("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._executor, fn, conn)

    async def open(self, containers: Iterable[str]) -> None:
        def connect() -> sqlite3.Connection:
            if self._path != ":memory:":
                Path(self._path).parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self._path, isolation_level=None, check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            conn.execute("PRAGMA busy_timeout=5000")
            conn.executescript(_SCHEMA)
            return conn

        if self._conn is None:
            self._conn = await asyncio.get_running_loop().run_in_executor(self._executor, connect)
        for name in containers:
            self._containers[check_name(name)] = SqliteContainer(self, name)

    async def ping(self) -> bool:
        try:
            return await self.run(lambda c: c.execute("SELECT 1").fetchone()[0] == 1)
        except Exception:  # readiness must answer, not raise
            return False

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._executor, conn.close)
        self._executor.shutdown(wait=True)


class SqliteContainer(Container):
    def __init__(self, store: SqliteStore, name: str) -> None:
        self._store = store
        self.name = name

    def _doc(self, row: tuple) -> Document:
        pk, id_, body, etag, expires = row
        return Document(id=id_, partition=pk, body=json.loads(body), etag=etag, expires_at=expires)

    async def read(self, id: str, partition: str) -> Document | None:
        now = time.time()

        def op(c: sqlite3.Connection):
            return c.execute(
                "SELECT pk, id, body, etag, expires FROM docs WHERE container=? AND pk=? AND id=?"
                " AND (expires IS NULL OR expires > ?)", (self.name, partition, id, now)).fetchone()

        row = await self._store.run(op)
        return self._doc(row) if row else None

    async def create(self, id: str, partition: str, body: dict[str, Any], *,
                     expires_at: float | None = None) -> Document:
        check_key(id, "id"), check_key(partition, "partition")
        data, etag, now = json.dumps(body, ensure_ascii=False), _new_etag(), time.time()

        def op(c: sqlite3.Connection) -> bool:
            c.execute("BEGIN IMMEDIATE")
            try:
                c.execute("DELETE FROM docs WHERE container=? AND pk=? AND id=? AND expires <= ?",
                          (self.name, partition, id, now))
                c.execute("INSERT INTO docs (container, pk, id, body, etag, expires) VALUES (?,?,?,?,?,?)",
                          (self.name, partition, id, data, etag, expires_at))
            except sqlite3.IntegrityError:
                c.execute("ROLLBACK")
                return False
            c.execute("COMMIT")
            return True

        if not await self._store.run(op):
            raise Conflict(f"{self.name}/{partition}/{id} exists")
        return Document(id, partition, json.loads(data), etag, expires_at)

    async def replace(self, id: str, partition: str, body: dict[str, Any], *, etag: str,
                      expires_at: float | None = None) -> Document:
        data, new_etag, now = json.dumps(body, ensure_ascii=False), _new_etag(), time.time()

        def op(c: sqlite3.Connection) -> str:
            cur = c.execute(
                "UPDATE docs SET body=?, etag=?, expires=? WHERE container=? AND pk=? AND id=? AND etag=?"
                " AND (expires IS NULL OR expires > ?)",
                (data, new_etag, expires_at, self.name, partition, id, etag, now))
            if cur.rowcount == 1:
                return "ok"
            exists = c.execute(
                "SELECT 1 FROM docs WHERE container=? AND pk=? AND id=? AND (expires IS NULL OR expires > ?)",
                (self.name, partition, id, now)).fetchone()
            return "stale" if exists else "missing"

        outcome = await self._store.run(op)
        if outcome == "missing":
            raise NotFound(f"{self.name}/{partition}/{id}")
        if outcome == "stale":
            raise PreconditionFailed(f"{self.name}/{partition}/{id}")
        return Document(id, partition, json.loads(data), new_etag, expires_at)

    async def upsert(self, id: str, partition: str, body: dict[str, Any], *,
                     expires_at: float | None = None) -> Document:
        check_key(id, "id"), check_key(partition, "partition")
        data, etag = json.dumps(body, ensure_ascii=False), _new_etag()

        def op(c: sqlite3.Connection) -> None:
            c.execute(
                "INSERT INTO docs (container, pk, id, body, etag, expires) VALUES (?,?,?,?,?,?)"
                " ON CONFLICT (container, pk, id) DO UPDATE SET body=excluded.body, etag=excluded.etag,"
                " expires=excluded.expires", (self.name, partition, id, data, etag, expires_at))

        await self._store.run(op)
        return Document(id, partition, json.loads(data), etag, expires_at)

    async def delete(self, id: str, partition: str, *, etag: str | None = None) -> bool:
        now = time.time()

        def op(c: sqlite3.Connection) -> str:
            sql = "DELETE FROM docs WHERE container=? AND pk=? AND id=?"
            args: tuple = (self.name, partition, id)
            if etag is not None:
                cur = c.execute(sql + " AND etag=? AND (expires IS NULL OR expires > ?)", args + (etag, now))
                if cur.rowcount:
                    return "deleted"
                exists = c.execute(
                    "SELECT 1 FROM docs WHERE container=? AND pk=? AND id=? AND (expires IS NULL OR expires > ?)",
                    args + (now,)).fetchone()
                return "stale" if exists else "missing"
            live = c.execute(sql + " AND (expires IS NULL OR expires > ?)", args + (now,)).rowcount
            c.execute(sql, args)  # an expired leftover goes too, but does not count as deleted
            return "deleted" if live else "missing"

        outcome = await self._store.run(op)
        if outcome == "stale":
            raise PreconditionFailed(f"{self.name}/{partition}/{id}")
        return outcome == "deleted"

    def _where(self, query: Query, now: float) -> tuple[str, list[Any]]:
        clauses = ["container=?", "(expires IS NULL OR expires > ?)"]
        args: list[Any] = [self.name, now]
        if query.partition is not None:
            clauses.append("pk=?")
            args.append(query.partition)
        for f in query.filters:
            expr = "json_extract(body, ?)"
            if f.value is None and f.op in ("=", "!="):
                clauses.append(f"{expr} IS {'NOT ' if f.op == '!=' else ''}NULL")
                args.append(_json_path(f.field))
                continue
            value = f.value
            # Comparisons stay within one JSON type, as on Cosmos DB (SQLite would rank text above numbers).
            clauses.append(f"json_type(body, ?) IN {_json_types(value)} AND {expr} {_SQL_OPS[f.op]} ?")
            args.extend([_json_path(f.field), _json_path(f.field), value])
        return " AND ".join(clauses), args

    async def query(self, query: Query) -> list[Document]:
        sql_where, args = self._where(query, time.time())
        sql = f"SELECT pk, id, body, etag, expires FROM docs WHERE {sql_where}"
        if query.order_by:
            sql += f" ORDER BY json_extract(body, ?) {'DESC' if query.descending else 'ASC'}, id"
            args.append(_json_path(query.order_by))
        if query.limit:
            sql += " LIMIT ?"
            args.append(query.limit)
        rows = await self._store.run(lambda c: c.execute(sql, args).fetchall())
        return [self._doc(r) for r in rows]

    async def count(self, query: Query) -> int:
        sql_where, args = self._where(query, time.time())
        return await self._store.run(
            lambda c: c.execute(f"SELECT COUNT(*) FROM docs WHERE {sql_where}", args).fetchone()[0])

    async def purge_expired(self, now: float | None = None) -> int:
        at = time.time() if now is None else now
        return await self._store.run(lambda c: c.execute(
            "DELETE FROM docs WHERE container=? AND expires IS NOT NULL AND expires <= ?",
            (self.name, at)).rowcount)
