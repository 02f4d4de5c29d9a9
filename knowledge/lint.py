"""Checks the article files against docs/knowledge-format.md. Returns problems, never raises."""

from __future__ import annotations

import datetime as dt
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

from knowledge.articles import (
    ArticleError, article_files, build_article, make_env, read_site, split_front_matter,
)
from knowledge.text import question_key

# The topic list of docs/knowledge-format.md ("Themen (Tags)"); a test keeps both in step.
ALLOWED_TAGS: frozenset[str] = frozenset({
    "chat", "teams-kanaele", "besprechung", "whiteboard", "dateien", "office", "aufgaben", "kalender",
    "telefonie", "mobiles-arbeiten", "arbeitsplatz", "hardware", "mobilgeraete", "zugang", "sicherheit",
    "datenschutz", "it-portfolio", "fortbildung", "projektmanagement", "it-service", "digitallotsen",
    "veranstaltungen", "innovation", "transformation", "barrierefreiheit", "teams",
})
REQUIRED = ("id", "title", "tags", "questions", "reviewed", "owner")
OPTIONAL = ("synonyms", "links")
MIN_QUESTIONS = 3
MAX_TAGS = 3
_SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_SITE_VAR = re.compile(r"\{\{\s*site\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_JINJA = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}|\{\{|\{%|\{#", re.S)


@dataclass(frozen=True)
class Problem:
    file: str
    message: str

    def __str__(self) -> str:
        return f"{self.file}: {self.message}"


def _template_problems(text: str, site: Mapping[str, Any], where: str) -> list[str]:
    out = []
    for m in _ANY_JINJA.finditer(text):
        var = _SITE_VAR.fullmatch(m.group(0))
        if var is None:
            out.append(f"{where}: only {{{{ site.<name> }}}} is allowed, found {m.group(0)[:40]!r}")
        elif var.group(1) not in site:
            out.append(f"{where}: unknown site variable {var.group(1)!r} (not in site.yaml)")
    return out


def _field_problems(meta: Mapping[str, Any], stem: str) -> list[str]:
    out = [f"missing field '{k}'" for k in REQUIRED if k not in meta]
    out += [f"unknown field '{k}'" for k in meta if k not in REQUIRED + OPTIONAL]
    ident = meta.get("id")
    if isinstance(ident, str):
        if ident != stem:
            out.append(f"id {ident!r} differs from the file name {stem!r}")
        if not _SLUG.match(ident):
            out.append(f"id {ident!r} is not a slug (a-z, 0-9, '-')")
    elif "id" in meta:
        out.append("'id' must be a text")
    tags = meta.get("tags")
    if "tags" in meta:
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            out.append("'tags' must be a list of topics")
        else:
            if not 1 <= len(tags) <= MAX_TAGS:
                out.append(f"'tags' needs 1-{MAX_TAGS} topics, has {len(tags)}")
            out += [f"tag {t!r} is not in the topic list" for t in tags if t not in ALLOWED_TAGS]
            if len(set(tags)) != len(tags):
                out.append("'tags' repeats a topic")
    questions = meta.get("questions")
    if "questions" in meta:
        if not isinstance(questions, list) or not all(isinstance(q, str) and q.strip() for q in questions):
            out.append("'questions' must be a list of non-empty texts")
        elif len(questions) < MIN_QUESTIONS:
            out.append(f"'questions' needs at least {MIN_QUESTIONS}, has {len(questions)}")
    synonyms = meta.get("synonyms")
    if synonyms is not None and (not isinstance(synonyms, list)
                                 or not all(isinstance(s, str) and s.strip() for s in synonyms)):
        out.append("'synonyms' must be a list of texts")
    if "reviewed" in meta and (not isinstance(meta["reviewed"], dt.date)
                               or isinstance(meta["reviewed"], dt.datetime)):
        out.append(f"'reviewed' must be a date YYYY-MM-DD, found {meta['reviewed']!r}")
    links = meta.get("links")
    if links is not None:
        if not isinstance(links, list):
            out.append("'links' must be a list")
        else:
            for i, link in enumerate(links, 1):
                if not isinstance(link, dict) or set(link) != {"title", "url"} \
                        or not all(isinstance(v, str) and v.strip() for v in link.values()):
                    out.append(f"link {i} needs exactly a 'title' and a 'url'")
    return out


def _texts(meta: Mapping[str, Any], body: str) -> list[tuple[str, str]]:
    """Every text that may contain templates, with where it stands."""
    items = [("body", body)]
    for key in ("title", "owner"):
        if isinstance(meta.get(key), str):
            items.append((key, meta[key]))
    for key in ("questions", "synonyms"):
        for i, v in enumerate(meta.get(key) or () if isinstance(meta.get(key), list) else (), 1):
            if isinstance(v, str):
                items.append((f"{key}[{i}]", v))
    for i, link in enumerate(meta.get("links") or () if isinstance(meta.get("links"), list) else (), 1):
        if isinstance(link, dict):
            items += [(f"link {i} {k}", v) for k, v in link.items() if isinstance(v, str)]
    return items


def lint(articles_dir: str | Path, site_file: str | Path) -> list[Problem]:
    """All problems of the article set, each with its file name; an empty list means fine."""
    try:
        site = read_site(site_file)
    except ArticleError as exc:
        return [Problem(Path(site_file).name, str(exc))]
    env, problems = make_env(), []
    files = article_files(articles_dir)
    if not files:
        problems.append(Problem(str(articles_dir), "no articles found"))
    ids: dict[str, list[str]] = defaultdict(list)
    owners_of_question: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for path in files:
        name = path.name
        try:
            meta, body = split_front_matter(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ArticleError) as exc:
            problems.append(Problem(name, str(exc)))
            continue
        found = _field_problems(meta, path.stem)
        for where, text in _texts(meta, body):
            found += _template_problems(text, site, where)
        if not body:
            found.append("the body is empty")
        if not found:
            try:
                article = build_article(meta, body, site, env)
            except ArticleError as exc:
                found.append(str(exc))
            else:
                found += [f"link {link.title!r}: the url must start with https://, found {link.url!r}"
                          for link in article.links if not link.url.startswith("https://")]
        problems += [Problem(name, msg) for msg in found]
        if isinstance(meta.get("id"), str):
            ids[meta["id"]].append(name)
        seen_here: set[str] = set()
        for q in meta.get("questions") or () if isinstance(meta.get("questions"), list) else ():
            if not isinstance(q, str):
                continue
            key = question_key(q)
            if key in seen_here:
                problems.append(Problem(name, f"question repeated in the same article: {q!r}"))
                continue
            seen_here.add(key)
            owners_of_question[key].append((name, q))
    for ident, names in ids.items():
        if len(names) > 1:
            problems += [Problem(n, f"id {ident!r} is used by {', '.join(names)}") for n in names]
    for key, owners in owners_of_question.items():
        names = sorted({n for n, _ in owners})
        if len(names) > 1:
            for n in names:
                others = ", ".join(o for o in names if o != n)
                problems.append(Problem(n, f"question {owners[0][1]!r} also stands in {others}"))
    return problems
