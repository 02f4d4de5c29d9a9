"""Loading articles and the lint rules of docs/knowledge-format.md."""

from __future__ import annotations

import datetime as dt
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from knowledge.articles import ArticleError, KnowledgeBase, Link
from knowledge.lint import ALLOWED_TAGS, lint
from tests.knowledge.conftest import ARTICLES, QUESTIONS, ROOT, SITE, write_article


# -- the shipped content ----------------------------------------------------------------------------

def test_shipped_articles_pass_lint():
    problems = lint(ARTICLES, SITE)
    assert problems == [], "\n".join(map(str, problems))


def test_lint_cli_exits_0_on_shipped_content():
    done = subprocess.run([sys.executable, "-m", "knowledge", "lint"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_shipped_articles_load_with_site_values_rendered(shipped_kb):
    assert len(shipped_kb.articles) >= 1
    for article in shipped_kb.articles.values():
        assert "{{" not in article.body and "{%" not in article.body, article.id
        assert all(link.url.startswith("https://") for link in article.links), article.id
        assert isinstance(article.reviewed, dt.date)
        assert len(article.questions) >= 3


def test_every_evaluated_article_exists(shipped_kb):
    expected = {json.loads(line)["expect"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines()}
    assert expected - {None} <= set(shipped_kb.articles)


def test_allowed_tags_match_the_format_doc():
    doc = (ROOT / "docs" / "knowledge-format.md").read_text(encoding="utf-8")
    section = doc.split("## Themen (Tags)", 1)[1].split("##", 1)[0]
    assert set(re.findall(r"`([a-z-]+)`", section)) == ALLOWED_TAGS


# -- loading ----------------------------------------------------------------------------------------

def test_load_renders_site_variables_in_body_and_links(tmp_path, site_file):
    write_article(tmp_path, "probe", body="Fragen: {{ site.service_desk_name }}.",
                  links='links:\n  - title: "Intranet von {{ site.service_desk_name }}"\n'
                        '    url: "{{ site.intranet_url }}/hilfe"\n',
                  synonyms="synonyms: [Screensharing, bildschirmfreigabe]\n")
    kb = KnowledgeBase.load(tmp_path, site_file)
    article = kb.get("probe")
    assert article.body == "Fragen: IT-Servicedesk."
    assert article.links == (Link("Intranet von IT-Servicedesk", "https://intranet.example/hilfe"),)
    assert article.synonyms == ("screensharing", "bildschirmfreigabe")
    assert article.tags == ("teams",) and article.reviewed == dt.date(2026, 11, 1)
    assert kb.get("gibt-es-nicht") is None


def test_article_dataclasses_are_frozen(tmp_path, site_file):
    write_article(tmp_path, "probe")
    article = KnowledgeBase.load(tmp_path, site_file).get("probe")
    with pytest.raises(AttributeError):
        article.title = "anders"  # type: ignore[misc]


def test_unknown_site_variable_fails_loading(tmp_path, site_file):
    write_article(tmp_path, "probe", body="{{ site.gibt_es_nicht }}")
    with pytest.raises(ArticleError, match="probe.md"):
        KnowledgeBase.load(tmp_path, site_file)


def test_sandbox_blocks_attribute_tricks(tmp_path, site_file):
    write_article(tmp_path, "probe", body="{{ site.__class__.__mro__ }}")
    with pytest.raises(ArticleError):
        KnowledgeBase.load(tmp_path, site_file)


def test_skip_broken_leaves_out_only_the_broken_file(tmp_path, site_file):
    write_article(tmp_path, "gut")
    (tmp_path / "kaputt.md").write_text("kein front matter", encoding="utf-8")
    assert set(KnowledgeBase.load(tmp_path, site_file, skip_broken=True).articles) == {"gut"}
    with pytest.raises(ArticleError, match="kaputt.md"):
        KnowledgeBase.load(tmp_path, site_file)


# -- lint rules -------------------------------------------------------------------------------------

def _messages(directory: Path, site: Path) -> list[str]:
    return [str(p) for p in lint(directory, site)]


def test_a_clean_article_has_no_problems(tmp_path, site_file):
    write_article(tmp_path, "probe", body="Hilfe: {{ site.service_desk_name }}")
    assert _messages(tmp_path, site_file) == []


@pytest.mark.parametrize("kwargs, expected", [
    ({"questions": ("eins", "zwei")}, "at least 3"),
    ({"tags": "[teams, kantine]"}, "'kantine' is not in the topic list"),
    ({"tags": "[]"}, "1-3 topics"),
    ({"tags": "[chat, teams, office, dateien]"}, "1-3 topics"),
    ({"body": "Siehe {{ site.gibt_es_nicht }}"}, "unknown site variable 'gibt_es_nicht'"),
    ({"body": "{% if true %}ja{% endif %}"}, "only {{ site.<name> }} is allowed"),
    ({"body": "{{ 7 * 7 }}"}, "only {{ site.<name> }} is allowed"),
    ({"body": "{# kommentar #}"}, "only {{ site.<name> }} is allowed"),
    ({"reviewed": "gestern"}, "'reviewed' must be a date"),
    ({"reviewed": "2026-13-45"}, "month must be in 1..12"),
    ({"extra": "autor: jemand\n"}, "unknown field 'autor'"),
    ({"links": "links:\n  - title: Seite\n    url: http://unsicher.example\n"}, "must start with https://"),
    ({"links": "links:\n  - url: https://a.example\n"}, "needs exactly a 'title' and a 'url'"),
    ({"body": ""}, "the body is empty"),
    ({"questions": ("Wie geht das?", "wie geht das", "noch eine")}, "repeated in the same article"),
])
def test_lint_finds(tmp_path, site_file, kwargs, expected):
    write_article(tmp_path, "probe", **kwargs)
    messages = _messages(tmp_path, site_file)
    assert any(expected in m and m.startswith("probe.md: ") for m in messages), messages


def test_lint_finds_id_different_from_file_name(tmp_path, site_file):
    path = write_article(tmp_path, "probe")
    path.rename(tmp_path / "anders.md")
    assert any("differs from the file name 'anders'" in m for m in _messages(tmp_path, site_file))


def test_lint_finds_missing_fields_and_broken_yaml(tmp_path, site_file):
    (tmp_path / "leer.md").write_text("---\nid: leer\n---\nText\n", encoding="utf-8")
    (tmp_path / "kaputt.md").write_text("---\nid: [kaputt\n---\nText\n", encoding="utf-8")
    (tmp_path / "ohne.md").write_text("Nur Text\n", encoding="utf-8")
    messages = _messages(tmp_path, site_file)
    assert any(m.startswith("leer.md: missing field 'questions'") for m in messages)
    assert any(m.startswith("kaputt.md: front matter is not valid YAML") for m in messages)
    assert any(m.startswith("ohne.md: no front matter") for m in messages)


def test_lint_finds_the_same_question_in_two_articles(tmp_path, site_file):
    write_article(tmp_path, "erster", questions=("Wie teile ich den Bildschirm?", "a frage", "b frage"))
    write_article(tmp_path, "zweiter", questions=("wie teile ich den  bildschirm", "c frage", "d frage"))
    messages = _messages(tmp_path, site_file)
    assert any(m.startswith("erster.md: ") and "zweiter.md" in m for m in messages), messages
    assert any(m.startswith("zweiter.md: ") and "erster.md" in m for m in messages), messages


def test_lint_finds_a_duplicate_id(tmp_path, site_file):
    write_article(tmp_path, "probe")
    (tmp_path / "kopie.md").write_text((tmp_path / "probe.md").read_text(encoding="utf-8"), encoding="utf-8")
    messages = _messages(tmp_path, site_file)
    assert any("id 'probe' is used by" in m for m in messages)


def test_lint_cli_exits_1_with_the_file_name(tmp_path, site_file):
    write_article(tmp_path, "probe", questions=("nur eine",))
    done = subprocess.run([sys.executable, "-m", "knowledge", "--articles", str(tmp_path), "--site",
                           str(site_file), "lint"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 1
    assert "probe.md" in done.stdout


def test_ask_cli_names_a_broken_article_in_one_line(tmp_path, site_file):
    write_article(tmp_path, "probe")
    (tmp_path / "kaputt.md").write_text("---\nid: kaputt\nquestions: a: b\n---\nText\n", encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "knowledge", "--articles", str(tmp_path), "--site",
                           str(site_file), "ask", "passwort vergessen"], cwd=ROOT, capture_output=True, text=True)
    assert done.returncode == 2
    assert done.stderr.startswith("Artikel fehlerhaft: kaputt.md") and "Traceback" not in done.stderr
