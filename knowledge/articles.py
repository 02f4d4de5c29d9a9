"""Loading the how-to articles: front matter + Markdown body, `{{ site.X }}` rendered from site.yaml.

Plain Python on purpose: the bot runtime, the CLI and the tests all load articles through this module.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import yaml
from jinja2 import StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

ARTICLE_GLOB = "*.md"
_FRONT = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)(.*)\Z", re.S)


class ArticleError(ValueError):
    """An article file or site.yaml cannot be parsed or rendered."""


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass(frozen=True)
class Article:
    id: str
    title: str
    tags: tuple[str, ...]
    questions: tuple[str, ...]
    synonyms: tuple[str, ...]
    links: tuple[Link, ...]
    reviewed: dt.date
    owner: str
    body: str


def read_site(site_file: str | Path) -> dict[str, Any]:
    """site.yaml as a flat mapping; every top-level key is a `site.<name>`."""
    try:
        data = yaml.safe_load(Path(site_file).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ArticleError(f"{Path(site_file).name}: {exc}") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ArticleError(f"{Path(site_file).name}: expected a mapping of names to values")
    return data


def split_front_matter(text: str) -> tuple[dict[str, Any], str]:
    """(front matter, body) of one article; ArticleError if the front matter is missing or not YAML."""
    text = text.lstrip("\ufeff")
    m = _FRONT.match(text)
    if not m:
        raise ArticleError("no front matter: the file must start with '---' and close it with '---'")
    try:
        meta = yaml.safe_load(m.group(1))
    except (yaml.YAMLError, ValueError, TypeError) as exc:  # ValueError: an impossible date like 2026-13-45
        raise ArticleError(f"front matter is not valid YAML: {exc}") from exc
    if not isinstance(meta, dict):
        raise ArticleError("front matter must be a mapping")
    return meta, m.group(2).strip()


def make_env() -> SandboxedEnvironment:
    """The only template environment for articles: sandboxed, strict, no autoescape (Markdown)."""
    return SandboxedEnvironment(undefined=StrictUndefined, autoescape=False, keep_trailing_newline=True)


def render(env: SandboxedEnvironment, source: str, site: Mapping[str, Any]) -> str:
    if "{" not in source:  # nothing to render: skip the template compiler
        return source
    try:
        return env.from_string(source).render(site=site)
    except TemplateError as exc:
        raise ArticleError(f"template error: {exc}") from exc


def _strings(meta: Mapping[str, Any], key: str) -> tuple[str, ...]:
    value = meta.get(key) or ()
    if isinstance(value, str) or not all(isinstance(v, str) for v in value):
        raise ArticleError(f"'{key}' must be a list of strings")
    return tuple(v.strip() for v in value if v.strip())


def build_article(meta: Mapping[str, Any], body: str, site: Mapping[str, Any],
                  env: SandboxedEnvironment) -> Article:
    """An Article from parsed front matter; raises ArticleError on missing or mistyped fields."""
    for key in ("id", "title", "owner"):
        if not isinstance(meta.get(key), str) or not meta[key].strip():
            raise ArticleError(f"'{key}' is missing or not a text")
    reviewed = meta.get("reviewed")
    if not isinstance(reviewed, dt.date) or isinstance(reviewed, dt.datetime):
        raise ArticleError("'reviewed' must be a date YYYY-MM-DD")
    links = []
    for item in meta.get("links") or ():
        if not isinstance(item, dict) or not isinstance(item.get("title"), str) \
                or not isinstance(item.get("url"), str):
            raise ArticleError("every link needs a 'title' and a 'url'")
        links.append(Link(render(env, item["title"], site).strip(), render(env, item["url"], site).strip()))
    return Article(
        id=meta["id"].strip(), title=meta["title"].strip(), tags=_strings(meta, "tags"),
        questions=_strings(meta, "questions"), synonyms=tuple(s.lower() for s in _strings(meta, "synonyms")),
        links=tuple(links), reviewed=reviewed, owner=meta["owner"].strip(), body=render(env, body, site))


def article_files(articles_dir: str | Path) -> list[Path]:
    return sorted(p for p in Path(articles_dir).glob(ARTICLE_GLOB) if p.is_file())


@dataclass(frozen=True)
class KnowledgeBase:
    articles: dict[str, Article]

    @classmethod
    def load(cls, articles_dir: str | Path, site_file: str | Path, *,
             skip_broken: bool = False) -> "KnowledgeBase":
        """Every article in `articles_dir`; ArticleError names the first file that fails.

        With `skip_broken`, files that fail (and later duplicates of an id) are left out instead.
        """
        site, env = read_site(site_file), make_env()
        articles: dict[str, Article] = {}
        for path in article_files(articles_dir):
            try:
                meta, body = split_front_matter(path.read_text(encoding="utf-8"))
                article = build_article(meta, body, site, env)
                if article.id in articles:
                    raise ArticleError(f"duplicate id {article.id!r}")
            except (OSError, UnicodeDecodeError, ArticleError) as exc:
                if skip_broken:
                    continue
                raise ArticleError(f"{path.name}: {exc}") from exc
            articles[article.id] = article
        return cls(articles)

    def get(self, id: str) -> Article | None:
        return self.articles.get(id)

    def __len__(self) -> int:
        return len(self.articles)
