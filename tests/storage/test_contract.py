"""The document-store contract (storage/base.py), run unchanged against every backend."""

from __future__ import annotations

import asyncio
import operator
import time

import pytest

from storage.base import (
    Conflict, Container, Document, DocumentStore, Filter, NotFound, PreconditionFailed, Query, where,
)

OPS = {"=": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le, ">": operator.gt,
       ">=": operator.ge}


@pytest.fixture
def items(store: DocumentStore) -> Container:
    return store.container("items")


def ids(docs: list[Document]) -> list[str]:
    return [d.id for d in docs]


async def test_create_then_read(items: Container) -> None:
    created = await items.create("a", "p", {"n": 1, "tags": ["x"], "nested": {"k": "v"}})
    assert (created.id, created.partition, created.body, created.expires_at) == (
        "a", "p", {"n": 1, "tags": ["x"], "nested": {"k": "v"}}, None)
    assert created.etag
    read = await items.read("a", "p")
    assert read == created
    assert await items.read("a", "other-partition") is None
    assert await items.read("missing", "p") is None


async def test_create_twice_conflicts(items: Container) -> None:
    await items.create("a", "p", {"v": 1})
    with pytest.raises(Conflict):
        await items.create("a", "p", {"v": 2})
    assert (await items.read("a", "p")).body == {"v": 1}
    await items.create("a", "q", {"v": 3})  # same id, other partition: a different document


async def test_containers_are_separate(store: DocumentStore) -> None:
    await store.container("items").create("a", "p", {"v": 1})
    assert await store.container("other").read("a", "p") is None
    await store.container("other").create("a", "p", {"v": 2})
    with pytest.raises(ValueError):
        store.container("never_opened")


async def test_replace_with_current_etag(items: Container) -> None:
    first = await items.create("a", "p", {"v": 1})
    second = await items.replace("a", "p", {"v": 2}, etag=first.etag)
    assert second.body == {"v": 2} and second.etag != first.etag
    assert await items.read("a", "p") == second


async def test_replace_with_stale_etag_fails(items: Container) -> None:
    first = await items.create("a", "p", {"v": 1})
    second = await items.replace("a", "p", {"v": 2}, etag=first.etag)
    with pytest.raises(PreconditionFailed):
        await items.replace("a", "p", {"v": 3}, etag=first.etag)
    assert await items.read("a", "p") == second


async def test_replace_missing_is_not_found(items: Container) -> None:
    with pytest.raises(NotFound):
        await items.replace("missing", "p", {"v": 1}, etag="whatever")
    doc = await items.create("a", "p", {"v": 1})
    with pytest.raises(NotFound):
        await items.replace("a", "other-partition", {"v": 2}, etag=doc.etag)


async def test_upsert_creates_then_overwrites(items: Container) -> None:
    first = await items.upsert("a", "p", {"v": 1})
    assert await items.read("a", "p") == first
    second = await items.upsert("a", "p", {"v": 2})
    assert second.etag != first.etag
    assert await items.read("a", "p") == second
    with pytest.raises(PreconditionFailed):
        await items.replace("a", "p", {"v": 3}, etag=first.etag)


async def test_delete_without_etag(items: Container) -> None:
    await items.create("a", "p", {"v": 1})
    assert await items.delete("a", "p") is True
    assert await items.read("a", "p") is None
    assert await items.delete("a", "p") is False
    assert await items.delete("missing", "p") is False
    await items.create("a", "p", {"v": 2})  # the id is free again


async def test_delete_with_etag(items: Container) -> None:
    first = await items.create("a", "p", {"v": 1})
    second = await items.replace("a", "p", {"v": 2}, etag=first.etag)
    with pytest.raises(PreconditionFailed):
        await items.delete("a", "p", etag=first.etag)
    assert await items.read("a", "p") == second
    assert await items.delete("a", "p", etag=second.etag) is True
    assert await items.read("a", "p") is None
    assert await items.delete("a", "p", etag=second.etag) is False


async def test_query_by_partition_and_across_partitions(items: Container) -> None:
    for i, part in enumerate(["p", "p", "q", "r"]):
        await items.create(f"d{i}", part, {"kind": "x", "i": i})
    await items.create("other", "p", {"kind": "y", "i": 9})
    assert sorted(ids(await items.query(where("p", kind="x")))) == ["d0", "d1"]
    assert sorted(ids(await items.query(where(kind="x")))) == ["d0", "d1", "d2", "d3"]
    assert sorted(ids(await items.query(where("p")))) == ["d0", "d1", "other"]
    assert sorted(ids(await items.query(Query()))) == ["d0", "d1", "d2", "d3", "other"]
    assert await items.query(where("nobody")) == []
    docs = {d.id: d for d in await items.query(where("q"))}
    assert docs["d2"] == await items.read("d2", "q")  # query results are complete documents


@pytest.mark.parametrize("op", sorted(OPS))
@pytest.mark.parametrize("values", [[1, 2, 2.5, 3, -4], ["a", "B", "b", "ä", "ab"]], ids=["numbers", "strings"])
async def test_each_operator(items: Container, op: str, values: list) -> None:
    for i, v in enumerate(values):
        await items.create(f"d{i}", "p", {"v": v, "deep": {"v": v}})
    pivot = values[1]
    expected = sorted(f"d{i}" for i, v in enumerate(values) if OPS[op](v, pivot))
    for field in ("v", "deep.v"):
        query = Query(filters=(Filter(field, op, pivot),))
        assert sorted(ids(await items.query(query))) == expected, (field, op, pivot)
        assert await items.count(query) == len(expected)
        in_partition = Query(partition="p", filters=(Filter(field, op, pivot),))
        assert sorted(ids(await items.query(in_partition))) == expected


async def test_several_filters_all_apply(items: Container) -> None:
    for i in range(6):
        await items.create(f"d{i}", "p", {"n": i, "even": i % 2 == 0})
    query = Query(filters=(Filter("n", ">=", 1), Filter("n", "<", 5), Filter("even", "=", True)))
    assert sorted(ids(await items.query(query))) == ["d2", "d4"]
    assert sorted(ids(await items.query(where(even=False)))) == ["d1", "d3", "d5"]


async def test_comparisons_stay_within_one_type(items: Container) -> None:
    bodies = {"num": {"v": 3}, "numstr": {"v": "3"}, "str": {"v": "z"}, "true": {"v": True},
              "one": {"v": 1}, "null": {"v": None}, "missing": {}, "obj": {"v": {"a": 1}}}
    for id_, body in bodies.items():
        await items.create(id_, "p", body)

    async def matching(op: str, value) -> list[str]:
        return sorted(ids(await items.query(Query(filters=(Filter("v", op, value),)))))

    assert await matching(">", 0) == ["num", "one"]
    assert await matching("!=", 3) == ["one"]
    assert await matching("=", "3") == ["numstr"]
    assert await matching(">=", "") == ["numstr", "str"]
    assert await matching("=", True) == ["true"]
    assert await matching("=", 1) == ["one"]
    assert await matching("!=", False) == ["true"]
    with pytest.raises(ValueError):
        await items.query(Query(filters=(Filter("v", "=", {"a": 1}),)))


async def test_order_by_and_limit(items: Container) -> None:
    for i, (part, rank) in enumerate([("p", 5), ("q", 1), ("p", 4), ("r", 3), ("q", 2)]):
        await items.create(f"d{i}", part, {"rank": rank, "name": f"n{rank}"})
    assert ids(await items.query(Query(order_by="rank"))) == ["d1", "d4", "d3", "d2", "d0"]
    assert ids(await items.query(Query(order_by="rank", descending=True))) == ["d0", "d2", "d3", "d4", "d1"]
    assert ids(await items.query(Query(order_by="name", limit=2))) == ["d1", "d4"]
    assert ids(await items.query(Query(order_by="rank", descending=True, limit=3))) == ["d0", "d2", "d3"]
    assert ids(await items.query(Query(partition="q", order_by="rank", descending=True))) == ["d4", "d1"]
    assert ids(await items.query(Query(partition="p", order_by="rank", limit=1))) == ["d2"]
    filtered = Query(filters=(Filter("rank", ">", 1),), order_by="rank", limit=2)
    assert ids(await items.query(filtered)) == ["d4", "d3"]
    assert len(await items.query(Query(limit=3))) == 3
    assert len(await items.query(Query(limit=50))) == 5


async def test_equality_with_none_matches_null_and_missing(items: Container) -> None:
    await items.create("null", "p", {"v": None, "o": {"v": None}})
    await items.create("missing", "p", {"o": {}})
    await items.create("no_parent", "p", {})
    await items.create("zero", "p", {"v": 0, "o": {"v": 0}})
    await items.create("empty", "p", {"v": "", "o": {"v": ""}})
    await items.create("false", "p", {"v": False, "o": {"v": False}})
    assert sorted(ids(await items.query(where(v=None)))) == ["missing", "no_parent", "null"]
    assert sorted(ids(await items.query(where("p", v=None)))) == ["missing", "no_parent", "null"]
    assert sorted(ids(await items.query(Query(filters=(Filter("o.v", "=", None),))))) == [
        "missing", "no_parent", "null"]
    not_none = Query(filters=(Filter("v", "!=", None),))
    assert sorted(ids(await items.query(not_none))) == ["empty", "false", "zero"]
    assert await items.count(where(v=None)) == 3
    assert await items.count(not_none) == 3


async def test_count(items: Container) -> None:
    for i in range(7):
        await items.create(f"d{i}", "p" if i < 4 else "q", {"n": i})
    assert await items.count(Query()) == 7
    assert await items.count(where("p")) == 4
    assert await items.count(where("q")) == 3
    assert await items.count(Query(filters=(Filter("n", ">=", 3),))) == 4
    assert await items.count(Query(partition="q", filters=(Filter("n", "<", 6),))) == 2
    assert await items.count(Query(order_by="n", descending=True, limit=2)) == 7  # order and limit ignored
    assert await items.count(where("nobody")) == 0


async def test_expired_documents_are_absent(items: Container) -> None:
    past, future = time.time() - 60, time.time() + 3600
    gone = await items.create("gone", "p", {"kind": "x"}, expires_at=past)
    live = await items.create("live", "p", {"kind": "x"}, expires_at=future)
    await items.create("forever", "p", {"kind": "x"})
    assert live.expires_at == pytest.approx(future)
    assert await items.read("gone", "p") is None
    assert await items.read("live", "p") == live
    assert sorted(ids(await items.query(where(kind="x")))) == ["forever", "live"]
    assert sorted(ids(await items.query(where("p", order_by="kind", limit=10)))) == ["forever", "live"]
    assert await items.count(where("p")) == 2
    with pytest.raises(NotFound):
        await items.replace("gone", "p", {"kind": "y"}, etag=gone.etag)
    assert await items.delete("gone", "p", etag=gone.etag) is False
    assert await items.read("gone", "p") is None


async def test_create_over_expired_document(items: Container) -> None:
    await items.create("a", "p", {"v": 1}, expires_at=time.time() - 1)
    fresh = await items.create("a", "p", {"v": 2})
    assert fresh.expires_at is None
    assert await items.read("a", "p") == fresh
    with pytest.raises(Conflict):
        await items.create("a", "p", {"v": 3})
    await items.upsert("b", "p", {"v": 1}, expires_at=time.time() - 1)
    assert await items.read("b", "p") is None
    assert (await items.upsert("b", "p", {"v": 2})).body == {"v": 2}
    assert (await items.read("b", "p")).body == {"v": 2}


async def test_replace_can_set_and_clear_expiry(items: Container) -> None:
    doc = await items.create("a", "p", {"v": 1})
    doc = await items.replace("a", "p", {"v": 2}, etag=doc.etag, expires_at=time.time() + 3600)
    assert (await items.read("a", "p")).expires_at == pytest.approx(doc.expires_at)
    doc = await items.replace("a", "p", {"v": 3}, etag=doc.etag)
    assert (await items.read("a", "p")).expires_at is None
    await items.replace("a", "p", {"v": 4}, etag=doc.etag, expires_at=time.time() - 1)
    assert await items.read("a", "p") is None


async def test_purge_expired(items: Container) -> None:
    now = time.time()
    await items.create("old1", "p", {}, expires_at=now - 10)
    await items.create("old2", "q", {}, expires_at=now - 5)
    await items.create("soon", "p", {}, expires_at=now + 100)
    await items.create("forever", "p", {})
    assert await items.purge_expired() == 2
    assert await items.purge_expired() == 0
    await items.create("old1", "p", {"again": True})  # purged ids are free
    assert await items.purge_expired(now=now + 200) == 1
    assert sorted(ids(await items.query(Query()))) == ["forever", "old1"]


AWKWARD = [
    'double "quotes" and \'single\' ones',
    "back\\slash \\\\ and \\u00e9 literally",
    "emoji 🤖🚀 and a flag 🇩🇪",
    "Umlaute: Grüße aus Köln, Straße, ÄÖÜ",
    "new\nline\ttab",
    "'; DROP TABLE docs; -- ",
    "SELECT * FROM c WHERE c.id = @v",
    "%_*?[]{}$.",
]


async def test_awkward_text_round_trips_and_matches(items: Container) -> None:
    for i, text in enumerate(AWKWARD):
        await items.create(f"d{i}", "p", {"text": text, "list": [text], text.replace(".", ""): i})
    for i, text in enumerate(AWKWARD):
        doc = await items.read(f"d{i}", "p")
        assert doc.body == {"text": text, "list": [text], text.replace(".", ""): i}
        assert ids(await items.query(where(text=text))) == [f"d{i}"]
    assert await items.count(Query()) == len(AWKWARD)
    doc = await items.create("Grüße-🤖", "Köln 'p'", {"ok": True})
    assert await items.read("Grüße-🤖", "Köln 'p'") == doc
    assert ids(await items.query(where("Köln 'p'"))) == ["Grüße-🤖"]


@pytest.mark.parametrize("bad", ["", "a-b", "1a", "a..b", "a.", "a b", "a;DROP", "c.id) OR (1=1", "a'b", "a[0]"])
async def test_invalid_field_paths_are_rejected(items: Container, bad: str) -> None:
    with pytest.raises(ValueError):
        Filter(bad, "=", 1)
    with pytest.raises(ValueError):
        Query(order_by=bad)
    with pytest.raises(ValueError):
        where(**{bad: 1})


async def test_invalid_operator_and_limit_are_rejected(items: Container) -> None:
    with pytest.raises(ValueError):
        Filter("a", "LIKE", "x")  # type: ignore[arg-type]
    with pytest.raises(ValueError):
        Query(limit=0)


async def test_concurrent_conditional_replaces_have_one_winner(items: Container) -> None:
    base = await items.create("hot", "p", {"winner": None})
    results = await asyncio.gather(
        *(items.replace("hot", "p", {"winner": n}, etag=base.etag) for n in range(50)),
        return_exceptions=True)
    winners = [r for r in results if isinstance(r, Document)]
    losers = [r for r in results if isinstance(r, PreconditionFailed)]
    assert len(winners) == 1 and len(losers) == 49, results
    assert await items.read("hot", "p") == winners[0]


async def test_ping(store: DocumentStore) -> None:
    assert await store.ping() is True
    await store.close()
    assert await store.ping() is False
