"""FeedbackLog on the SQLite store: counts stay, question texts expire after the retention period."""

from __future__ import annotations

import subprocess
import sys
import time

import pytest

from knowledge.feedback import FEEDBACK, QUESTION_TEXT, UNANSWERED, FeedbackLog
from storage.base import Query
from storage.sqlite import SqliteStore
from tests.knowledge.conftest import ROOT

DAY = 86400.0


@pytest.fixture
async def feedback_container(tmp_path):
    store = SqliteStore(tmp_path / "lotsenbot.sqlite3")
    await store.open(["feedback"])
    try:
        yield store.container("feedback")
    finally:
        await store.close()


@pytest.fixture
def log(feedback_container) -> FeedbackLog:
    return FeedbackLog(feedback_container, feedback_container, retention_days=30)


async def test_expired_question_text_is_gone_but_counts_stay(log, feedback_container):
    now = time.time()
    await log.record_unanswered("Wo ist die Kantine?", "unknown", now=now - 40 * DAY)
    await log.record_unanswered("wo ist die  kantine", "unknown", now=now - 1 * DAY)
    await log.record_unanswered("Wo ist die Kantine?", "suggest", now=now - 2 * DAY)
    await log.record_unanswered("wie backe ich einen kuchen", "unknown", now=now - 3 * DAY)

    gaps = await log.gaps(limit=10)
    assert [(q.text, q.count) for q in gaps.questions] == [("wo ist die kantine", 2),
                                                            ("wie backe ich einen kuchen", 1)]
    assert gaps.unanswered_total == 4  # the expired one still counts

    texts = await feedback_container.query(Query(partition=QUESTION_TEXT))
    assert len(texts) == 3
    assert all(d.expires_at == pytest.approx(d.body["at"] + 30 * DAY, abs=3600) for d in texts)
    assert await log.purge_expired() == 1
    events = await feedback_container.query(Query(partition=UNANSWERED))
    assert len(events) == 4
    assert all(set(d.body) == {"decision", "at"} for d in events)  # no text, no user
    assert all(d.expires_at is None for d in events)


async def test_articles_with_most_thumbs_down(log, feedback_container):
    for article, helpful in [("a", False), ("a", False), ("a", True), ("b", False), ("c", True), ("b", True)]:
        await log.record_feedback(article, helpful)
    gaps = await log.gaps()
    assert [(v.article_id, v.not_helpful, v.helpful) for v in gaps.articles] == [("a", 2, 1), ("b", 1, 1)]
    [doc, *_] = await feedback_container.query(Query(partition=FEEDBACK))
    assert set(doc.body) == {"article_id", "decision", "helpful", "at"}
    assert doc.body["at"] % 3600 == 0  # only the hour is kept


async def test_gaps_limit_and_empty_store(log):
    assert (await log.gaps()).questions == [] and (await log.gaps()).articles == []
    for i in range(5):
        await log.record_unanswered(f"frage nummer {i}", "unknown")
    assert len((await log.gaps(limit=3)).questions) == 3


async def test_long_and_empty_texts(log, feedback_container):
    await log.record_unanswered("x" * 5000, "unknown")
    await log.record_unanswered("   ", "unknown")
    [doc] = await feedback_container.query(Query(partition=QUESTION_TEXT))
    assert len(doc.body["text"]) == 500
    assert (await log.gaps()).unanswered_total == 2


def test_retention_must_be_positive(feedback_container):
    with pytest.raises(ValueError):
        FeedbackLog(feedback_container, feedback_container, retention_days=0)


async def test_gaps_cli_reads_the_store(tmp_path, log):
    await log.record_unanswered("wo kann ich parken", "unknown")
    await log.record_feedback("passwort-zuruecksetzen", False)
    done = subprocess.run([sys.executable, "-m", "knowledge", "gaps"], cwd=ROOT, capture_output=True, text=True,
                          env={"DATA_DIR": str(tmp_path), "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0, done.stderr
    assert "wo kann ich parken" in done.stdout and "passwort-zuruecksetzen" in done.stdout


async def test_gaps_command_reads_the_configured_store(tmp_path):
    store = SqliteStore(tmp_path / "lotsenbot.sqlite3")
    await store.open(["feedback"])
    c = store.container("feedback")
    log = FeedbackLog(c, c, retention_days=30)
    await log.record_unanswered("wo ist die kantine", "unknown")
    await log.record_unanswered("wo ist die kantine", "unknown")
    await log.record_feedback("passwort-zuruecksetzen", False)
    await store.close()
    proc = subprocess.run([sys.executable, "-m", "knowledge", "gaps"], cwd=ROOT, capture_output=True, text=True,
                          env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path)}, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "2  wo ist die kantine" in proc.stdout
    assert "passwort-zuruecksetzen" in proc.stdout
    empty = subprocess.run([sys.executable, "-m", "knowledge", "gaps"], cwd=ROOT, capture_output=True, text=True,
                           env={"PATH": "/usr/bin:/bin", "DATA_DIR": str(tmp_path / "nichts")}, timeout=60)
    assert empty.returncode == 1 and "Noch keine Daten" in empty.stderr
