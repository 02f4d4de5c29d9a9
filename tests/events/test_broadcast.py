"""The broadcast engine through the real ProactiveSender/ConnectorClient against the local Bot Connector.

Time is a fake clock (throttling and back-off advance it); stores are SQLite, and where the behaviour
rests on the store contract also Cosmos DB (the `store` fixture).
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from dialogs.context import Message
from events.broadcast import BroadcastEngine, Recipient
from storage.sqlite import SqliteStore
from tests.events.broadcast_kit import Clock, HoldingConnector, World

CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "Vernetzungstreffen"}]}
NEW_CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [{"type": "TextBlock", "text": "geändert"}]}
ANNOUNCEMENT = Message(card=CARD, summary="Einladung zum Vernetzungstreffen")


@pytest.fixture
async def sqlite_world(tmp_path: Path, connector, clock):
    store = SqliteStore(tmp_path / "broadcast.sqlite3")
    async with World(store, connector, clock) as w:
        yield w
    await store.close()


async def test_every_recipient_gets_the_card_once(world: World, connector: HoldingConnector) -> None:
    people = await world.recipients(40)
    channel = await world.channel()
    engine = await world.engine()
    first = await engine.submit("ann-1", ANNOUNCEMENT, people + [channel, people[3]])
    assert (first.total, first.pending, first.done) == (41, 41, False)  # the duplicate address counts once
    assert await engine.run_pending() == 41
    assert connector.posts_per_conversation() == {r.conversation_id: 1 for r in people + [channel]}
    assert all(call.card == CARD and call.body["summary"] == ANNOUNCEMENT.summary for call in connector.sent())
    progress = await engine.progress("ann-1")
    assert (progress.sent, progress.failed, progress.blocked, progress.pending, progress.done) == (41, 0, 0, 0, True)
    delivered = await engine.delivered("ann-1")
    assert set(delivered) == {r.conversation_id for r in people + [channel]}
    assert all(aid.startswith("activity-") for aid in delivered.values())
    final = world.reports(engine)[-1]
    assert (final.done, final.sent, final.eta_seconds, final.kind) == (True, 41, 0.0, "announcement")
    assert await engine.run_pending() == 0 and len(connector.sent()) == 41


async def test_sends_run_concurrently_up_to_the_limit(sqlite_world: World, connector: HoldingConnector) -> None:
    people = await sqlite_world.recipients(12)
    engine = await sqlite_world.engine(concurrency=4)
    connector.hold(*(r.conversation_id for r in people))
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    task = asyncio.create_task(engine.run_pending())
    await connector.wait_for(lambda c: len(c.waiting) == 4)
    for _ in range(20):  # let anything else that would go out do so
        await asyncio.sleep(0)
    assert len(connector.waiting) == 4 and connector.max_concurrent == 4
    connector.release()
    assert await task == 12
    assert connector.max_concurrent == 4 and len(connector.sent()) == 12


async def test_429_retry_after_is_honoured(sqlite_world: World, connector, clock: Clock) -> None:
    people = await sqlite_world.recipients(10)
    engine = await sqlite_world.engine(concurrency=1)
    connector.fail_next(429, retry_after=2.5, conversation_id=people[4].conversation_id)
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    start = clock.now
    await engine.run_pending()
    assert 2.5 in clock.sender_sleeps
    assert clock.now - start >= 2.5  # every later send waited for the pause as well
    assert connector.posts_per_conversation()[people[4].conversation_id] == 2
    progress = await engine.progress("ann-1")
    assert (progress.sent, progress.failed) == (10, 0)


async def test_5xx_is_retried_with_backoff(sqlite_world: World, connector, clock: Clock) -> None:
    people = await sqlite_world.recipients(5)
    engine = await sqlite_world.engine()
    target = people[2].conversation_id
    connector.fail_next(503, times=2, conversation_id=target)
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    await engine.run_pending()
    assert connector.posts_per_conversation()[target] == 3 and clock.sender_sleeps == [1.0, 2.0]
    [record] = [d for d in await engine.store.records("ann-1") if d.body["conversation_id"] == target]
    assert (record.body["status"], record.body["tries"], record.body["attempts"]) == ("sent", 3, 1)


async def test_403_is_blocked_and_not_retried(world: World, connector) -> None:
    people = await world.recipients(6)
    engine = await world.engine()
    target = people[1].conversation_id
    connector.fail_next(403, conversation_id=target, code="MessageWritesBlocked")
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    await engine.run_pending()
    await engine.run_pending()
    assert connector.posts_per_conversation()[target] == 1
    progress = await engine.progress("ann-1")
    assert (progress.sent, progress.blocked, progress.failed, progress.done) == (5, 1, 0, True)
    assert progress.failures == (("Person 1", "Bot blockiert oder entfernt"),)
    assert (await world.book.get(target)).status == "blocked"


async def test_gives_up_after_max_attempts_and_reports(sqlite_world: World, connector) -> None:
    people = await sqlite_world.recipients(4)
    engine = await sqlite_world.engine(sender_attempts=3)
    target = people[0].conversation_id
    connector.fail_next(500, times=10, conversation_id=target)
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    await engine.run_pending()
    assert connector.posts_per_conversation()[target] == 3
    progress = await engine.progress("ann-1")
    assert (progress.sent, progress.failed, progress.done) == (3, 1, True)
    [(label, reason)] = progress.failures
    assert label == "Person 0" and reason.startswith("Nach 3 Versuchen fehlgeschlagen (500 ServiceError")
    final = sqlite_world.reports(engine)[-1]
    assert final.failures == progress.failures and final.done
    assert await engine.run_pending() == 0  # a failed delivery is final


async def test_unknown_conversation_is_reported_failed(sqlite_world: World, connector) -> None:
    people = await sqlite_world.recipients(2)
    engine = await sqlite_world.engine()
    await engine.submit("ann-1", ANNOUNCEMENT, people + [Recipient("a:gone", "user", "Ehemalige Person")])
    await engine.run_pending()
    progress = await engine.progress("ann-1")
    assert (progress.sent, progress.failed) == (2, 1)
    assert progress.failures == (("Ehemalige Person", "Unterhaltung nicht (mehr) erreichbar"),)


async def test_submit_is_idempotent(world: World, connector) -> None:
    people = await world.recipients(8)
    engine = await world.engine()
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    again = await engine.submit("ann-1", Message(text="anders"), people[:3])
    assert (again.total, again.pending) == (8, 8)
    await engine.run_pending()
    assert (await engine.submit("ann-1", ANNOUNCEMENT, people)).sent == 8
    await engine.run_pending()
    assert connector.posts_per_conversation() == {r.conversation_id: 1 for r in people}
    assert all(call.card == CARD for call in connector.sent())


async def test_update_and_delete_delivered_cards(world: World, connector) -> None:
    people = await world.recipients(6)
    engine = await world.engine()
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    await engine.run_pending()
    delivered = await engine.delivered("ann-1")
    update = await engine.submit_update("ann-1.u1", "ann-1", Message(card=NEW_CARD))
    assert update.done is False
    await engine.run_pending()
    puts = connector.updates()
    assert {(c.conversation_id, c.activity_id) for c in puts} == set(delivered.items())
    assert all(c.card == NEW_CARD for c in puts)
    assert (await engine.progress("ann-1.u1")).sent == 6 and await engine.delivered("ann-1.u1") == delivered
    await engine.submit_delete("ann-1.d", "ann-1")
    await engine.run_pending()
    deletes = [c for c in connector.calls if c.method == "DELETE"]
    assert {(c.conversation_id, c.activity_id) for c in deletes} == set(delivered.items())
    assert (await engine.progress("ann-1.d")).done
    with pytest.raises(KeyError):
        await engine.submit_update("x.u", "no-such-job", Message(text="x"))


async def test_update_before_delivery_sends_the_new_version_directly(sqlite_world: World, connector) -> None:
    people = await sqlite_world.recipients(5)
    engine = await sqlite_world.engine()
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    await engine.submit_update("ann-1.u1", "ann-1", Message(card=NEW_CARD))
    await engine.run_pending()        # the update waits for the original job
    await engine.run_pending()
    assert all(call.card == NEW_CARD for call in connector.sent()) and len(connector.sent()) == 5
    assert connector.updates() == []
    assert (await engine.progress("ann-1.u1")).done
    assert [(p.total, p.done) for p in sqlite_world.reports(engine) if p.job_id == "ann-1.u1"] == [(0, True)]


async def test_recall_while_sending_stops_the_job_and_deletes_what_went_out(sqlite_world: World, connector) -> None:
    people = await sqlite_world.recipients(10)
    engine = await sqlite_world.engine(concurrency=2)
    connector.hold(people[2].conversation_id, people[3].conversation_id)
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    task = asyncio.create_task(engine.run_pending())
    await connector.wait_for(lambda c: len(c.waiting) == 2)
    await engine.submit_delete("ann-1.d", "ann-1")
    sqlite_world.clock.advance(5)     # the next tick notices the cancellation
    connector.release()
    await task
    original = await engine.progress("ann-1")
    assert original.cancelled and original.done and original.sent == 4 and original.pending == 6
    await engine.run_pending()
    deletes = {c.conversation_id for c in connector.calls if c.method == "DELETE"}
    assert deletes == {r.conversation_id for r in people[:4]}


async def test_progress_is_reported_every_few_seconds(sqlite_world: World, connector) -> None:
    people = await sqlite_world.recipients(100)
    engine = await sqlite_world.engine(progress_every=0.5)
    await engine.submit("ann-1", ANNOUNCEMENT, people)
    await engine.run_pending()        # the limiter's 50/s advance the clock by about 2 s
    reports = sqlite_world.reports(engine)
    assert len(reports) >= 4
    middle = [p for p in reports if 0 < p.sent < 100]
    assert middle and all(p.eta_seconds is not None and p.eta_seconds > 0 for p in middle)
    assert [p.sent for p in reports] == sorted(p.sent for p in reports)
    assert reports[-1].done and reports[-1].sent == 100 and reports[-1].pending == 0


async def test_cancel_and_schedule(sqlite_world: World, connector, clock: Clock) -> None:
    people = await sqlite_world.recipients(3)
    engine = await sqlite_world.engine()
    await engine.submit("later", ANNOUNCEMENT, people, not_before=clock.now + 3600)
    await engine.submit("dropped", ANNOUNCEMENT, people, not_before=clock.now + 3600)
    assert await engine.run_pending() == 0
    cancelled = await engine.cancel("dropped")
    assert cancelled.cancelled and cancelled.done
    clock.advance(3600)
    assert await engine.run_pending() == 3
    assert len(connector.sent()) == 3 and (await engine.progress("later")).done


async def test_bad_input_is_refused_and_empty_jobs_are_done(sqlite_world: World) -> None:
    engine = await sqlite_world.engine()
    with pytest.raises(ValueError):
        await engine.submit("a/b", ANNOUNCEMENT, [])
    with pytest.raises(ValueError):
        await engine.submit("ok", ANNOUNCEMENT, ["a:not-a-recipient"])  # type: ignore[list-item]
    with pytest.raises(ValueError):
        BroadcastEngine(*([None] * 4), instance_id="", concurrency=1)  # type: ignore[arg-type]
    empty = await engine.submit("empty", ANNOUNCEMENT, [])
    assert empty.done and empty.total == 0
    with pytest.raises(KeyError):
        await engine.progress("unknown")


async def test_background_loop_works_submitted_jobs_and_stops_cleanly(world: World, connector) -> None:
    people = await world.recipients(15)
    engine = await world.engine(concurrency=3)
    await engine.start()
    await engine.submit("ann-1", ANNOUNCEMENT, people)     # wakes the loop; no polling delay
    await connector.wait_for(lambda c: len(c.sent()) == 15)
    await engine.stop()
    assert (await engine.progress("ann-1")).done
    single = await world.engine("instance-b", concurrency=1)
    connector.hold(people[0].conversation_id)
    await single.start()
    await single.submit("ann-2", ANNOUNCEMENT, people)
    await connector.wait_for(lambda c: len(c.waiting) == 1)
    stopping = asyncio.create_task(single.stop())           # waits for the send in flight
    await asyncio.sleep(0)
    connector.release()
    await stopping
    progress = await single.progress("ann-2")
    assert (progress.done, progress.sent, progress.pending) == (False, 1, 14)
    records = await single.store.records("ann-2")
    assert all(d.body["status"] == "sent" for d in records)  # nothing left in flight after a clean stop
