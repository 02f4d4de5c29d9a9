"""Feedback on answers and the questions the bot could not answer, without personal data.

Two kinds of documents:
- events (partition "answer_feedback" and "unanswered"): article id, decision, helpful yes/no, time rounded
  to the hour. No user, no text. They are kept; they are what the counts are made of.
- question texts (partition "question_text"): the text of an unanswered question, stored apart from the
  event and with the store's expiry set to now + retention, so the text disappears after the retention
  period while the event (and with it the count) stays.

Both kinds may live in the same container (the runtime opens one named "feedback"); the partitions
keep them apart.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal, NamedTuple

from storage.base import Container, Query, where
from knowledge.text import question_key

FEEDBACK = "answer_feedback"
UNANSWERED = "unanswered"
QUESTION_TEXT = "question_text"
MAX_TEXT = 500
HOUR = 3600.0

UnansweredDecision = Literal["unknown", "suggest"]


@dataclass(frozen=True)
class QuestionGap:
    text: str          # the most recent wording of this question
    count: int         # how often it was asked within the retention period
    last_at: float


@dataclass(frozen=True)
class ArticleVotes:
    article_id: str
    not_helpful: int
    helpful: int


class Gaps(NamedTuple):
    questions: list[QuestionGap]    # most asked unanswered questions (texts still within retention)
    articles: list[ArticleVotes]    # articles with the most 👎
    unanswered_total: int           # all unanswered events, also those whose text has expired


def _hour(now: float) -> float:
    return now - now % HOUR


class FeedbackLog:
    def __init__(self, events: Container, questions: Container, retention_days: int) -> None:
        if retention_days < 1:
            raise ValueError("retention_days must be at least 1")
        self.events = events
        self.questions = questions
        self.retention_seconds = retention_days * 86400.0

    async def record_feedback(self, article_id: str, helpful: bool, decision: str = "answer", *,
                              now: float | None = None) -> None:
        """👍/👎 on a shown article."""
        at = _hour(time.time() if now is None else now)
        await self.events.create(uuid.uuid4().hex, FEEDBACK, {
            "article_id": article_id, "decision": decision, "helpful": bool(helpful), "at": at})

    async def record_unanswered(self, text: str, decision: UnansweredDecision, *,
                                now: float | None = None) -> None:
        """A question answered with "unknown", or suggestions of which the user picked none."""
        now = time.time() if now is None else now
        at = _hour(now)
        await self.events.create(uuid.uuid4().hex, UNANSWERED, {"decision": decision, "at": at})
        text = " ".join((text or "").split())[:MAX_TEXT]
        key = question_key(text)
        if key:
            await self.questions.create(uuid.uuid4().hex, QUESTION_TEXT,
                                        {"text": text, "key": key, "decision": decision, "at": at},
                                        expires_at=now + self.retention_seconds)

    async def gaps(self, limit: int = 10) -> Gaps:
        """The most frequent unanswered questions and the articles with the most 👎."""
        groups: dict[str, list[dict]] = defaultdict(list)
        for doc in await self.questions.query(Query(partition=QUESTION_TEXT)):
            groups[doc.body.get("key", "")].append(doc.body)
        questions = []
        for bodies in groups.values():
            latest = max(bodies, key=lambda b: b.get("at", 0))
            questions.append(QuestionGap(latest.get("text", ""), len(bodies), latest.get("at", 0.0)))
        questions.sort(key=lambda q: (-q.count, -q.last_at, q.text))

        votes: dict[str, Counter[bool]] = defaultdict(Counter)
        for doc in await self.events.query(Query(partition=FEEDBACK)):
            votes[doc.body.get("article_id", "?")][bool(doc.body.get("helpful"))] += 1
        articles = [ArticleVotes(a, c[False], c[True]) for a, c in votes.items() if c[False]]
        articles.sort(key=lambda v: (-v.not_helpful, v.helpful, v.article_id))
        total = await self.events.count(where(UNANSWERED))
        return Gaps(questions[:limit], articles[:limit], total)

    async def purge_expired(self) -> int:
        """Physically remove expired question texts (the store already hides them)."""
        return await self.questions.purge_expired()
