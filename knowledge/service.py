"""What the bot holds: the current answer engine, rebuilt in the background when the articles change."""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from pathlib import Path

from knowledge.articles import Article, ArticleError, KnowledgeBase, article_files
from knowledge.engine import AnswerEngine, Result, Thresholds
from knowledge.lint import lint
from periodic import Periodic

log = logging.getLogger(__name__)

Signature = tuple[tuple[str, int, int], ...]


class ContentError(Exception):
    """The article set fails lint or cannot be loaded."""


@dataclass(frozen=True)
class _Loaded:
    engine: AnswerEngine
    signature: Signature


class KnowledgeService:
    """Answers from the current article set.

    The first index is built in the constructor. If the shipped content is broken then, the service still
    starts with whatever parses (and logs the problems); later changes are only taken over when the whole
    set passes lint, otherwise the previous index stays in place.
    """

    def __init__(self, articles_dir: str | Path, site_file: str | Path, thresholds: Thresholds = Thresholds(),
                 poll_seconds: float = 5.0) -> None:
        self.articles_dir = Path(articles_dir)
        self.site_file = Path(site_file)
        self.thresholds = thresholds
        self.poll_seconds = poll_seconds
        self._poller = Periodic("knowledge-reload", self._reload_in_thread, poll_seconds)
        self.rebuilds = 0          # successful rebuilds after start-up
        self.last_error: str | None = None
        try:
            self._loaded = self._build(strict=True)
        except ContentError as exc:
            log.error("knowledge content has problems, starting with what parses: %s", exc)
            self.last_error = str(exc)
            self._loaded = self._build(strict=False)

    # -- queries (pure CPU, no await) ---------------------------------------------------------------

    @property
    def engine(self) -> AnswerEngine:
        return self._loaded.engine

    def ask(self, text: str) -> Result:
        return self._loaded.engine.ask(text)

    def article(self, id: str) -> Article | None:
        return self._loaded.engine.kb.get(id)

    def tags_for(self, text: str) -> tuple[str, ...]:
        return self._loaded.engine.tags_for(text)

    # -- reloading ----------------------------------------------------------------------------------

    def signature(self) -> Signature:
        """Name, mtime and size of every article and of site.yaml: any change rebuilds."""
        out = []
        for path in [self.site_file, *article_files(self.articles_dir)]:
            try:
                st = path.stat()
            except OSError:
                continue
            out.append((str(path), st.st_mtime_ns, st.st_size))
        return tuple(out)

    def _build(self, strict: bool) -> _Loaded:
        signature = self.signature()
        if strict:
            problems = lint(self.articles_dir, self.site_file)
            if problems:
                raise ContentError("; ".join(map(str, problems[:20])) + (" ..." if len(problems) > 20 else ""))
            try:
                kb = KnowledgeBase.load(self.articles_dir, self.site_file)
            except ArticleError as exc:
                raise ContentError(str(exc)) from exc
        else:
            try:
                kb = KnowledgeBase.load(self.articles_dir, self.site_file, skip_broken=True)
            except ArticleError:  # site.yaml itself is broken: start empty, answer "unknown"
                kb = KnowledgeBase({})
        started = time.perf_counter()
        engine = AnswerEngine.build(kb, self.thresholds)
        log.info("knowledge index built: %d articles in %.0f ms", len(kb.articles),
                 (time.perf_counter() - started) * 1000)
        return _Loaded(engine, signature)

    def reload_if_changed(self) -> bool:
        """Synchronous check-and-rebuild; True when a new index was swapped in."""
        if self.signature() == self._loaded.signature:
            return False
        try:
            loaded = self._build(strict=True)
        except ContentError as exc:
            if str(exc) != self.last_error:
                log.error("knowledge content changed but fails checks, keeping the previous index: %s", exc)
            self.last_error = str(exc)
            return False
        except Exception:  # an engine bug must not take the poller down
            log.exception("rebuilding the knowledge index failed, keeping the previous index")
            return False
        self._loaded = loaded  # one reference assignment: readers see the old or the new index, never a mix
        self.last_error = None
        self.rebuilds += 1
        return True

    async def _reload_in_thread(self) -> None:
        await asyncio.to_thread(self.reload_if_changed)  # parsing and indexing must not block the turns

    async def start(self) -> None:
        await self._poller.start()

    async def stop(self) -> None:
        await self._poller.stop()
