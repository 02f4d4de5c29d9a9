"""The answer engine: an in-memory index over the articles and the answer/suggest/unknown decision.

Ranking: BM25F over title, questions, synonyms and body (the first three weigh more), blended with
coverage. Confidence: coverage alone, the IDF-weighted share of the question's words that the best
article contains (a word found only in its body counts 0.3, a word no article knows still counts in the
denominator). On the tune split coverage separated answerable from unanswerable questions with AUROC 0.99,
the normalised BM25F score with 0.81 (the notes in /work/shared/notes/german-search.md found the same), and
coverage is comparable across questions, so the thresholds can be fixed numbers.
"""

from __future__ import annotations

import heapq
import logging
import math
from collections import Counter, defaultdict
from dataclasses import dataclass
from typing import Literal

from knowledge.analysis import Options, Slot, Vocabulary
from knowledge.articles import Article, KnowledgeBase
from knowledge.text import clauses, clip, readings

log = logging.getLogger(__name__)

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
    """When to answer, suggest or admit not knowing (tuned on the tune split; see knowledge/README.md).

    confidence < suggest                                   -> "unknown", no hits
    confidence >= answer and best score - runner-up >= margin -> "answer", up to max_hits hits
    otherwise                                              -> "suggest", up to max_suggestions hits
    After the first, a hit is only listed while its score is >= related * the best score.
    A long question (more than long_from content words) describes a situation with incidental details
    that no article contains, so its suggest threshold falls by up to long_relief (reached at long_to).
    """
    answer: float = 0.70
    margin: float = 0.10
    suggest: float = 0.34
    long_relief: float = 0.06
    long_from: int = 5
    long_to: int = 10
    related: float = 0.6
    max_suggestions: int = 3
    max_hits: int = 5


@dataclass(frozen=True)
class Weights:
    """Index weights, chosen by measurement on the tune split (see knowledge/README.md)."""
    title: float = 2.0
    questions: float = 2.0
    synonyms: float = 3.0
    body: float = 1.0
    k1: float = 2.0
    b: float = 0.3
    body_cover: float = 0.3     # a word found only in the body covers this much
    unknown_idf: float = 0.5    # weight of a word the index does not know, relative to the rarest word
    blend: float = 0.7          # share of the normalised BM25F in the ranking score
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
        texts = [{name: [clauses(t) for t in values] for name, values in _fields(a).items()} for a in articles]
        vocab = Vocabulary.from_clauses(([t for values in f.values() for t in values] for f in texts), options)

        n = len(articles)
        tfs: list[dict[str, Counter[str]]] = []
        lengths: dict[str, list[int]] = defaultdict(list)
        for fields in texts:
            per_field = {}
            for name, values in fields.items():
                terms = [t for parsed in values for slot in vocab.slots(parsed) for t, _ in slot.terms]
                tf = per_field[name] = Counter(terms)
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
        for slot in self.vocab.slots(clauses(clip(text or ""))):  # clip: score() may be called directly
            key = slot.all_terms or slot.word
            if key not in seen:
                seen.add(key)
                slots.append(slot)
        return slots

    def score(self, text: str, limit: int | None = None) -> list[tuple[int, float, float]]:
        """[(doc, ranking score, coverage)] of the `limit` best articles (all when None), best first.

        ranking score = (1 - blend) * coverage + blend * BM25F / (best possible BM25F of this question)
        """
        return self._score(self.analyse(text), limit)

    def suggest_threshold(self, n_words: int) -> float:
        """The confidence below which a question of `n_words` content words gets "unknown"."""
        th = self.thresholds
        if n_words <= th.long_from:
            return th.suggest
        share = min(1.0, (n_words - th.long_from) / max(1, th.long_to - th.long_from))
        return th.suggest - th.long_relief * share

    def _score(self, slots: list[Slot], limit: int | None) -> list[tuple[int, float, float]]:
        plan, total, best_possible = [], 0.0, 0.0
        k1p1 = self.weights.k1 + 1
        for slot in slots:
            weight = max((self._idf.get(t, 0.0) for t in slot.all_terms), default=0.0)
            if weight:
                plan.append((slot, weight))
                best_possible += weight * k1p1
                total += weight
            elif slot.word.isalpha():  # unknown words lower the confidence; codes and numbers do not
                total += self._unknown_idf
        if not plan:
            return []
        n = len(self._ids)
        cover, score = [0.0] * n, [0.0] * n
        blend = self.weights.blend
        per_cover, per_bm = (1 - blend) / total, blend / best_possible
        for slot, weight in plan:
            if len(slot.terms) == 1 and not slot.parts:  # the common case, kept tight
                term, factor = slot.terms[0]
                wc, bf = weight * factor, per_bm * factor
                wcs = wc * per_cover
                for d, contrib, strength in self._postings.get(term, ()):
                    cover[d] += wc * strength
                    score[d] += wcs * strength + bf * contrib
                continue
            cov, bm = self._matches(slot.terms)
            if slot.parts:
                self._add_compound(slot.parts, slot.parts_factor, cov, bm)
            for d, c in cov.items():
                cover[d] += weight * c
                score[d] += per_cover * weight * c
            for d, b in bm.items():
                score[d] += per_bm * b
        order = heapq.nlargest(limit or n, range(n), key=score.__getitem__)
        return [(d, score[d], cover[d] / total) for d in order if cover[d] > 0]

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

    def _add_compound(self, parts: tuple[str, ...], factor: float, cov: dict[int, float],
                      bm: dict[int, float]) -> None:
        """Matching a compound by its parts: both parts count fully, one part alone counts partially."""
        covered: dict[int, float] = defaultdict(float)
        found: dict[int, int] = defaultdict(int)
        summed: dict[int, float] = defaultdict(float)
        part_sum = 0.0
        for t in parts:
            w = self._idf.get(t, 0.0)
            part_sum += w
            for d, contrib, strength in self._postings.get(t, ()):  # at most one posting per doc
                covered[d] += w * strength
                found[d] += 1
                summed[d] += contrib
        scale, partial, n_parts = factor / (part_sum or 1.0), self.weights.partial_compound, len(parts)
        for d, c in covered.items():
            share = scale * c if found[d] == n_parts else scale * c * partial
            if share > cov.get(d, 0.0):
                cov[d] = share
            b = factor * summed[d]
            if b > bm.get(d, 0.0):
                bm[d] = b

    def ask(self, text: str) -> Result:
        th = self.thresholds
        limit = max(th.max_hits, th.max_suggestions) + 1
        try:
            analysed = [self.analyse(t) for t in readings(text if isinstance(text, str) else "")]
            n_words, ranked = max(((len(slots), self._score(slots, limit)) for slots in analysed),
                                  key=lambda r: r[1][0][2] if r[1] else -1.0)
        except Exception:  # never let a strange input break a conversation
            log.exception("answer engine failed on a question of %d characters", len(str(text)))
            ranked = []
        if not ranked:
            return Result("unknown", (), 0.0)
        confidence = ranked[0][2]
        if confidence < self.suggest_threshold(n_words):
            return Result("unknown", (), round(confidence, 4))
        top = ranked[0][1]
        runner_up = ranked[1][1] if len(ranked) > 1 else 0.0
        decision: Decision = "answer" if confidence >= th.answer and top - runner_up >= th.margin else "suggest"
        limit = th.max_hits if decision == "answer" else th.max_suggestions
        hits = []
        for d, s, c in ranked[:limit]:
            if hits and s < th.related * top:
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
