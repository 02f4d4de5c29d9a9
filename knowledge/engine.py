"""The answer engine: an in-memory index over the articles and the answer/suggest/unknown decision.

Ranking is BM25F (questions, title and synonyms weigh more than the body) blended with coverage;
confidence is coverage: the IDF-weighted share of the question's words that the article contains
(a word found only in the body counts half). Coverage separates answerable from unanswerable
questions better than raw BM25 (see /work/shared/notes/german-search.md) and is comparable across
questions, so the thresholds can be fixed numbers.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

from knowledge.analysis import Options, Slot, Vocabulary
from knowledge.articles import Article, KnowledgeBase
from knowledge.text import clauses, clip, is_content, stem, words

Decision = Literal["answer", "suggest", "unknown"]


@dataclass(frozen=True)
class Hit:
    id: str
    title: str
    score: float


@dataclass(frozen=True)
class Result:
    decision: Decision
    hits: tuple[Hit, ...]
    confidence: float


@dataclass(frozen=True)
class Thresholds:
    """When to answer, suggest or admit not knowing. Scores and confidence are in [0, 1]."""
    answer: float = 0.62        # confidence needed to answer directly ...
    margin: float = 0.08        # ... with this lead of the best score over the runner-up
    suggest: float = 0.40       # below this confidence: "unknown"
    related: float = 0.75       # further hits must score at least this share of the best one
    max_suggestions: int = 3
    max_hits: int = 5


@dataclass(frozen=True)
class Weights:
    """Index weights; chosen by measurement on the tune split (see README of knowledge/)."""
    title: float = 3.0
    questions: float = 2.0
    synonyms: float = 3.0
    body: float = 1.0
    k1: float = 1.2
    b: float = 0.5
    body_cover: float = 0.3     # a word found only in the body covers this much
    unknown_idf: float = 0.5    # weight of a word the index does not know, relative to the rarest word
    blend: float = 0.4          # share of the normalised BM25F in the ranking score
    partial_compound: float = 0.5  # an article with only one part of a split compound gets this share


_STRONG = ("title", "questions", "synonyms")


def _fields(a: Article) -> dict[str, list[str]]:
    body = "\n".join([a.body] + [link.title for link in a.links])
    return {"title": [a.title], "questions": list(a.questions), "synonyms": list(a.synonyms), "body": [body]}


class AnswerEngine:
    def __init__(self, kb: KnowledgeBase, vocab: Vocabulary, postings: dict[str, list[tuple[int, float, float]]],
                 idf: dict[str, float], thresholds: Thresholds, weights: Weights):
        self.kb = kb
        self.vocab = vocab
        self.thresholds = thresholds
        self.weights = weights
        self._ids = list(kb.articles)
        self._postings = postings
        self._idf = idf
        self._unknown_idf = weights.unknown_idf * math.log(1 + (len(self._ids) + 0.5) / 0.5)

    @classmethod
    def build(cls, kb: KnowledgeBase, thresholds: Thresholds = Thresholds(), *,
              weights: Weights = Weights(), options: Options = Options()) -> "AnswerEngine":
        articles = list(kb.articles.values())
        texts = [_fields(a) for a in articles]
        doc_stems: Counter[str] = Counter()
        surfaces: set[str] = set()
        for fields in texts:
            seen = set()
            for values in fields.values():
                for text in values:
                    for w in words(text):
                        if is_content(w):
                            seen.add(stem(w))
                            surfaces.add(w)
            doc_stems.update(seen)
        vocab = Vocabulary(doc_stems, surfaces, options)

        n = len(articles)
        tfs: list[dict[str, Counter[str]]] = []
        lengths: dict[str, list[int]] = defaultdict(list)
        for fields in texts:
            per_field = {}
            for name, values in fields.items():
                tf: Counter[str] = Counter()
                for text in values:
                    for slot in vocab.slots(clauses(text)):
                        tf.update(t for t, _ in slot.terms)
                per_field[name] = tf
                lengths[name].append(sum(tf.values()))
            tfs.append(per_field)
        avg = {name: max(1.0, sum(v) / max(1, len(v))) for name, v in lengths.items()}
        df: Counter[str] = Counter()
        for per_field in tfs:
            df.update(set().union(*per_field.values()))
        idf = {t: math.log(1 + (n - k + 0.5) / (k + 0.5)) for t, k in df.items()}
        field_weight = {"title": weights.title, "questions": weights.questions,
                        "synonyms": weights.synonyms, "body": weights.body}
        postings: dict[str, list[tuple[int, float, float]]] = defaultdict(list)
        for d, per_field in enumerate(tfs):
            pseudo: dict[str, float] = defaultdict(float)
            strong: set[str] = set()
            for name, tf in per_field.items():
                norm = 1 - weights.b + weights.b * sum(tf.values()) / avg[name]
                for t, k in tf.items():
                    pseudo[t] += field_weight[name] * k / norm
                if name in _STRONG:
                    strong.update(tf)
            for t, p in pseudo.items():
                contrib = idf[t] * p * (weights.k1 + 1) / (p + weights.k1)
                postings[t].append((d, contrib, 1.0 if t in strong else weights.body_cover))
        return cls(kb, vocab, dict(postings), idf, thresholds, weights)

    # -- asking ------------------------------------------------------------------------------------

    def analyse(self, text: str) -> list[Slot]:
        """The question's content words as slots (repeated words once)."""
        slots, seen = [], set()
        for slot in self.vocab.slots(clauses(clip(text or ""))):
            key = slot.terms or slot.word
            if key not in seen:
                seen.add(key)
                slots.append(slot)
        return slots

    def score(self, text: str) -> list[tuple[int, float, float]]:
        """[(doc, ranking score, coverage)], best first."""
        total = best_possible = 0.0
        cover: dict[int, float] = defaultdict(float)
        bm25: dict[int, float] = defaultdict(float)
        k1p1 = self.weights.k1 + 1
        for slot in self.analyse(text):
            if not slot.terms:
                total += self._unknown_idf
                continue
            if slot.compound:
                self._score_compound(slot, cover, bm25)
                weight = max(self._idf.get(t, 0.0) for t, _ in slot.terms)
            else:
                weight = self._score_word(slot, cover, bm25)
            total += weight
            best_possible += weight * k1p1
        if not cover or total <= 0:
            return []
        blend = self.weights.blend
        ranked = []
        for d, c in cover.items():
            coverage = c / total
            ranked.append((d, (1 - blend) * coverage + blend * min(1.0, bm25[d] / best_possible), coverage))
        ranked.sort(key=lambda r: (-r[1], -r[2], r[0]))
        return ranked

    def _matches(self, terms: tuple[tuple[str, float], ...]) -> tuple[dict[int, float], dict[int, float]]:
        """Per doc: best coverage strength and best BM25F contribution among alternative terms."""
        cov: dict[int, float] = {}
        bm: dict[int, float] = {}
        for term, factor in terms:
            for d, contrib, strength in self._postings.get(term, ()):
                c, b = strength * factor, contrib * factor
                if c > cov.get(d, 0.0):
                    cov[d] = c
                if b > bm.get(d, 0.0):
                    bm[d] = b
        return cov, bm

    def _score_word(self, slot: Slot, cover: dict[int, float], bm25: dict[int, float]) -> float:
        weight = max(self._idf.get(t, 0.0) for t, _ in slot.terms)
        cov, bm = self._matches(slot.terms)
        for d, c in cov.items():
            cover[d] += weight * c
        for d, b in bm.items():
            bm25[d] += b
        return weight

    def _score_compound(self, slot: Slot, cover: dict[int, float], bm25: dict[int, float]) -> None:
        """A split compound counts as one word; an article with only one of its parts gets half of that."""
        weight = max(self._idf.get(t, 0.0) for t, _ in slot.terms)
        parts = [(self._idf.get(t, 0.0), self._matches(((t, f),))) for t, f in slot.terms]
        part_sum = sum(w for w, _ in parts) or 1.0
        docs = set().union(*(cov for _, (cov, _) in parts))
        for d in docs:
            got = [(w, cov[d]) for w, (cov, _) in parts if d in cov]
            share = sum(w * c for w, c in got) / part_sum
            cover[d] += weight * share * (1.0 if len(got) == len(parts) else self.weights.partial_compound)
            bm25[d] += sum(bm.get(d, 0.0) for _, (_, bm) in parts)

    def ask(self, text: str) -> Result:
        th = self.thresholds
        try:
            ranked = self.score(text if isinstance(text, str) else "")
        except Exception:  # never let a strange input break a conversation
            ranked = []
        if not ranked:
            return Result("unknown", (), 0.0)
        confidence = ranked[0][2]
        if confidence < th.suggest:
            return Result("unknown", (), round(confidence, 4))
        top = ranked[0][1]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        decision: Decision = "answer" if confidence >= th.answer and top - runner_up >= th.margin else "suggest"
        limit = th.max_hits if decision == "answer" else th.max_suggestions
        hits = []
        for d, s, c in ranked[:limit]:
            if hits and (s < th.related * top or c < th.suggest):
                break
            a = self.kb.articles[self._ids[d]]
            hits.append(Hit(a.id, a.title, round(s, 4)))
        return Result(decision, tuple(hits), round(confidence, 4))

    def tags_for(self, text: str) -> tuple[str, ...]:
        """Topic tags of the best hits, strongest first; empty when nothing fits."""
        result = self.ask(text)
        if result.decision == "unknown":
            return ()
        weight: dict[str, float] = defaultdict(float)
        for hit in result.hits[: self.thresholds.max_suggestions]:
            for i, tag in enumerate(self.kb.articles[hit.id].tags):
                weight[tag] += hit.score * (1.0 if i == 0 else 0.5)
        return tuple(sorted(weight, key=lambda t: -weight[t]))
