"""KnowledgeService: answers from the current articles and rebuilds the index when they change."""

from __future__ import annotations

import asyncio
import logging
import shutil
import time
from pathlib import Path

import pytest

from knowledge.service import KnowledgeService
from tests.knowledge.conftest import ARTICLES, SITE, write_article

POLL = 0.02
WAIT = 10.0


@pytest.fixture
def content(tmp_path) -> tuple[Path, Path]:
    """A private copy of the shipped articles and site.yaml."""
    articles = tmp_path / "articles"
    shutil.copytree(ARTICLES, articles)
    site = tmp_path / "site.yaml"
    shutil.copy(SITE, site)
    return articles, site


async def wait_for(condition, timeout: float = WAIT) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(POLL)
    return condition()


def _append_question(path: Path, question: str) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("questions:\n", f"questions:\n  - {question}\n", 1), encoding="utf-8")


async def test_service_answers_like_the_engine(content):
    service = KnowledgeService(*content)
    result = service.ask("wie teile ich meinen bildschirm")
    assert result.decision == "answer" and result.hits[0].id == "bildschirm-teilen"
    assert service.article("bildschirm-teilen").title == result.hits[0].title
    assert service.article("gibt-es-nicht") is None
    assert service.tags_for("wie teile ich meinen bildschirm in der besprechung")


async def test_changed_article_is_picked_up_without_restart(content):
    articles, site = content
    service = KnowledgeService(articles, site, poll_seconds=POLL)
    word = "zebrastreifenquiz"
    assert service.ask(word).decision == "unknown"
    await service.start()
    try:
        _append_question(articles / "whiteboard-starten.md", f"wie starte ich das {word} whiteboard")
        assert await wait_for(lambda: service.ask(f"{word} whiteboard").hits[:1]
                              and service.ask(f"{word} whiteboard").hits[0].id == "whiteboard-starten")
        assert service.rebuilds >= 1
    finally:
        await service.stop()


async def test_new_and_deleted_articles_are_picked_up(content):
    articles, site = content
    service = KnowledgeService(articles, site, poll_seconds=POLL)
    await service.start()
    try:
        write_article(articles, "kaffeeautomat-bedienen", title="Den Kaffeeautomaten bedienen", tags="[arbeitsplatz]",
                      questions=("kaffeeautomat bedienen", "wie bekomme ich einen kaffee am automaten",
                                 "kaffeeautomat geht nicht"), body="Drücken Sie die Taste.")
        assert await wait_for(lambda: service.article("kaffeeautomat-bedienen") is not None)
        assert service.ask("kaffeeautomat bedienen").hits[0].id == "kaffeeautomat-bedienen"
        (articles / "kaffeeautomat-bedienen.md").unlink()
        assert await wait_for(lambda: service.article("kaffeeautomat-bedienen") is None)
    finally:
        await service.stop()


async def test_broken_change_keeps_the_previous_index(content, caplog):
    articles, site = content
    service = KnowledgeService(articles, site, poll_seconds=POLL)
    before = service.engine
    (articles / "kaputt.md").write_text("---\nid: [kaputt\n---\nText\n", encoding="utf-8")
    _append_question(articles / "whiteboard-starten.md", "wie starte ich das zebrastreifenquiz whiteboard")
    with caplog.at_level(logging.ERROR, logger="knowledge.service"):
        assert service.reload_if_changed() is False
    assert service.engine is before
    assert "kaputt.md" in (service.last_error or "")
    assert any("keeping the previous index" in r.getMessage() for r in caplog.records)
    assert service.ask("zebrastreifenquiz").decision == "unknown"  # the half-finished change is not served
    (articles / "kaputt.md").unlink()
    assert service.reload_if_changed() is True
    assert service.ask("zebrastreifenquiz whiteboard").hits[0].id == "whiteboard-starten"
    assert service.last_error is None


async def test_article_failing_lint_keeps_the_previous_index(content):
    articles, site = content
    service = KnowledgeService(articles, site, poll_seconds=POLL)
    write_article(articles, "zu-wenig", questions=("nur eine frage",))
    assert service.reload_if_changed() is False
    assert service.article("zu-wenig") is None and "zu-wenig.md" in service.last_error


async def test_site_change_rebuilds_with_new_values(content):
    articles, site = content
    service = KnowledgeService(articles, site, poll_seconds=POLL)
    site.write_text(site.read_text(encoding="utf-8").replace('"IT-Servicedesk"', '"IT-Hilfe Nord"'),
                    encoding="utf-8")
    assert service.reload_if_changed() is True
    assert any("IT-Hilfe Nord" in a.body for a in service.engine.kb.articles.values())


async def test_broken_content_at_start_still_starts(content, caplog):
    articles, site = content
    (articles / "kaputt.md").write_text("kein front matter", encoding="utf-8")
    with caplog.at_level(logging.ERROR, logger="knowledge.service"):
        service = KnowledgeService(articles, site)
    assert service.last_error and "kaputt.md" in service.last_error
    assert service.ask("passwort vergessen").hits[0].id == "passwort-zuruecksetzen"


async def test_start_and_stop_are_idempotent(content):
    service = KnowledgeService(*content, poll_seconds=POLL)
    await service.start()
    await service.start()
    await service.stop()
    await service.stop()
