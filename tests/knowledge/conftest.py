"""Fixtures for the knowledge tests: the shipped article set and small article sets written on the fly."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest

from knowledge.articles import KnowledgeBase
from knowledge.engine import AnswerEngine

ROOT = Path(__file__).resolve().parents[2]
ARTICLES = ROOT / "knowledge" / "articles"
SITE = ROOT / "knowledge" / "site.yaml"
QUESTIONS = Path(__file__).with_name("questions.jsonl")


@pytest.fixture(scope="session")
def shipped_kb() -> KnowledgeBase:
    return KnowledgeBase.load(ARTICLES, SITE)


@pytest.fixture(scope="session")
def engine(shipped_kb: KnowledgeBase) -> AnswerEngine:
    return AnswerEngine.build(shipped_kb)


def write_article(directory: Path, id: str, *, title: str = "Ein Titel", tags: str = "[teams]",
                  questions: tuple[str, ...] = ("erste frage", "zweite frage", "dritte frage"),
                  synonyms: str = "", links: str = "", reviewed: str = "2026-11-01",
                  body: str = "Ein kurzer Text.", extra: str = "") -> Path:
    """One article file in the documented format; each keyword replaces one part."""
    qs = "\n".join(f"  - {q}" for q in questions)
    text = dedent("""\
        ---
        id: {id}
        title: {title}
        tags: {tags}
        questions:
        {qs}
        {synonyms}{links}reviewed: {reviewed}
        owner: CDO-Büro
        {extra}---
        {body}
        """).format(id=id, title=title, tags=tags, qs=qs, synonyms=synonyms, links=links, reviewed=reviewed,
                    extra=extra, body=body)
    path = directory / f"{id}.md"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site_file(tmp_path: Path) -> Path:
    path = tmp_path / "site.yaml"
    path.write_text('service_desk_name: "IT-Servicedesk"\nintranet_url: "https://intranet.example"\n',
                    encoding="utf-8")
    return path
