"""Turning words into index terms with the help of the knowledge base's own vocabulary.

A word the articles know becomes its (canonical) stem. Everything else goes through rescue steps that
only ever produce terms the articles actually contain, so they cannot invent a match out of nothing:

- stem variants: 'druckt' -> druck, 'geteilt' -> teil, 'Kurs' == 'Kurse' (Snowball leaves these apart);
- separable verbs: 'wie nehm ich das auf' -> aufnehm, when a clause ends in a particle and the joined
  verb is an article word;
- restricted compounds: a word unknown to the index (or in at most RARE_DF articles) splits once into two
  known parts of >= 4 letters, with an optional linking s/es/n/en/er/e
  ('besprechungsaufzeichnung' -> besprechung + aufzeichnung); 'breakout raum' also matches 'breakoutraum';
- colloquial clipping and compound heads: 'präsi' -> präsentation, 'schirm' -> bildschirm;
- typo correction, last: a word unknown to the index, >= 5 letters (4 letters: only a missing double
  letter, 'stum' -> stumm), one edit (two from 10 letters) from an
  article word with the same first letter; words under 9 letters only by a missing, extra or swapped
  letter, because one changed letter often turns a real word into another (wetter/weiter, kurze/kurse).
"""

from __future__ import annotations

import bisect
from collections import Counter
from dataclasses import dataclass
from typing import Iterable, Mapping

from rapidfuzz import process
from rapidfuzz.distance import OSA

from knowledge.text import FILLER_VERBS, LINKING, PARTICLES, STRONG_VERBS, clause_words, clauses, is_content, stem

MIN_PART = 4          # shortest compound part
CACHE_SIZE = 50_000   # words remembered per vocabulary
RARE_DF = 2           # a known word in at most this many articles is split too ...
KNOWN_PARTS_FACTOR = 0.8  # ... but its parts count less than the word itself
MIN_TYPO_LEN = 5      # shorter words are corrected only by a missing double letter
TYPO2_LEN = 10        # from this length two edits are allowed
SUBST_LEN = 9         # shorter words are not corrected by replacing a letter
TYPO_FACTOR = 0.85    # a corrected word counts a little less than a typed one
RESCUE_FACTOR = 0.8   # so do clipped words ('präsi') and compound heads ('schirm')

# Suffixes Snowball leaves on inflected forms, tried longest first and only into known stems.
_SUFFIXES = ("iert", "ert", "est", "st", "et", "in", "t", "e", "s")


@dataclass(frozen=True)
class Slot:
    """One word of the question: alternative index terms that would satisfy it, each with a factor <= 1,
    and for a compound the two parts, which should both match (an article may match either way)."""
    word: str
    terms: tuple[tuple[str, float], ...]
    parts: tuple[str, ...] = ()
    parts_factor: float = 1.0

    @property
    def all_terms(self) -> tuple[str, ...]:
        return tuple(t for t, _ in self.terms) + self.parts


@dataclass(frozen=True)
class Options:
    variants: bool = True
    particles: bool = True
    compounds: bool = True
    typos: bool = True
    clipping: bool = True
    heads: bool = True
    join_pairs: bool = True


_PARTICLE_GE = tuple((p, p + "ge") for p in sorted(PARTICLES))


def _variants(s: str) -> Iterable[str]:
    """Shorter forms a stem may stand for, most specific first."""
    bases = [s]
    if s.endswith("inn") and len(s) >= 7:  # 'Kolleginnen' -> kolleginn -> kolleg, as in 'Kolleg*innen'
        yield s[:-3]
    if s.startswith("ge") and s.endswith("t") and len(s) > 6:  # geteilt -> teil, gespeichert -> speich
        bases.append(s[2:])
    for p, pge in _PARTICLE_GE:  # eingelad -> einlad, freigegeb -> freigeb, ausgeschalt -> ausschalt
        if s.startswith(pge) and len(s) > len(p) + 4:
            yield p + s[len(pge):]
            bases.append(p + s[len(pge):])
    for base in bases:
        for suffix in _SUFFIXES:
            if base.endswith(suffix) and len(base) - len(suffix) >= 3:
                yield base[: -len(suffix)] + ("i" if suffix == "iert" else "")


class Vocabulary:
    """The stems (with document frequency) and surface words of one article set."""

    def __init__(self, raw_stems: Mapping[str, int], surfaces: Iterable[str], options: Options = Options()):
        self.options = options
        self.canon: dict[str, str] = {}
        if options.variants:
            for s in sorted(raw_stems, key=len):
                for v in _variants(s):
                    if v != s and v in raw_stems:
                        self.canon[s] = self.canon.get(v, v)
                        break
        self.df: dict[str, int] = {}
        for s, n in raw_stems.items():
            c = self.canon.get(s, s)
            self.df[c] = self.df.get(c, 0) + n
        # Typo candidates by first letter, most frequent first (ties go to the commoner word).
        by_letter: dict[str, list[str]] = {}
        self._surface_term: dict[str, str] = {}
        for w in surfaces:
            if len(w) >= MIN_TYPO_LEN - 1 and w.isalpha() and w not in self._surface_term:
                term = self.known(stem(w))
                if term:
                    self._surface_term[w] = term
                    by_letter.setdefault(w[0], []).append(w)
        self._by_letter = {k: sorted(v, key=lambda w: -self.df[self._surface_term[w]])
                           for k, v in by_letter.items()}
        self._sorted = sorted(self._surface_term)
        self._reversed = sorted(w[::-1] for w in self._surface_term)
        # Word-level results depend only on this vocabulary: memoised (bounded) for build and queries.
        self._term_cache: dict[str, str | None] = {}
        self._slot_cache: dict[str, tuple[Slot, ...]] = {}

    @classmethod
    def from_documents(cls, documents: Iterable[Iterable[str]], options: Options = Options()) -> "Vocabulary":
        """The vocabulary of some documents, each given as its texts."""
        return cls.from_clauses(([clauses(text) for text in texts] for texts in documents), options)

    @classmethod
    def from_clauses(cls, documents: Iterable[Iterable[list[list[str]]]],
                     options: Options = Options()) -> "Vocabulary":
        """The same from texts already split by text.clauses (the index build splits each text once)."""
        doc_stems: Counter[str] = Counter()
        content_stem: dict[str, str | None] = {}  # articles repeat their words: decide each word once
        for texts in documents:
            seen = set()
            for parsed in texts:
                for w in clause_words(parsed):
                    try:
                        s = content_stem[w]
                    except KeyError:
                        s = content_stem[w] = stem(w) if is_content(w) else None
                    if s is not None:
                        seen.add(s)
            doc_stems.update(seen)
        surfaces = (w for w, s in content_stem.items() if s is not None)
        return cls(doc_stems, surfaces, options)

    def known(self, s: str) -> str | None:
        """The index term for a raw stem, or None."""
        c = self.canon.get(s, s)
        if c in self.df:
            return c
        if self.options.variants:
            for v in _variants(s):
                c = self.canon.get(v, v)
                if c in self.df:
                    return c
            for ending in ("s", "t"):  # Snowball drops a final s ('kurs' -> kur, 'kurse' -> kurs) and keeps
                c = self.canon.get(s + ending, s + ending)  # -elt/-ert ('klingeln' -> klingel, 'klingelt')
                if c in self.df:
                    return c
        return None

    def word_term(self, word: str) -> str | None:
        try:
            return self._term_cache[word]
        except KeyError:
            pass
        if len(self._term_cache) >= CACHE_SIZE:
            self._term_cache.clear()
        term = self._term_cache[word] = self.known(stem(word))
        return term

    def split(self, word: str) -> tuple[str, str] | None:
        """Two known parts of an unknown compound, the most balanced split first."""
        if not self.options.compounds or len(word) < 2 * MIN_PART:
            return None
        best, best_len = None, 0
        for i in range(MIN_PART, len(word) - MIN_PART + 1):
            head = word[i:]
            head_term = self.word_term(head)
            if head_term is None:
                continue
            left = word[:i]
            for link in LINKING:
                if link and not left.endswith(link):
                    continue
                base = left[: len(left) - len(link)] if link else left
                if len(base) < MIN_PART:
                    continue
                base_term = self.word_term(base)
                if base_term and min(len(base), len(head)) > best_len:
                    best, best_len = (base_term, head_term), min(len(base), len(head))
        return best

    def correct(self, word: str) -> str | None:
        """The index term of the closest article word, for a typo that is unknown to the index."""
        if not self.options.typos or not word.isalpha():
            return None
        if len(word) == MIN_TYPO_LEN - 1:  # short words: only a missing double letter ('stum' -> stumm)
            for i, c in enumerate(word):
                term = self._surface_term.get(word[: i + 1] + c + word[i + 1:])
                if term:
                    return term
            return None
        if len(word) < MIN_TYPO_LEN:
            return None
        candidates = self._by_letter.get(word[0])
        if not candidates:
            return None
        limit = 1 if len(word) < TYPO2_LEN else 2
        found = process.extract(word, candidates, scorer=OSA.distance, score_cutoff=limit, limit=None)
        for cand, _, _ in sorted(found, key=lambda f: (f[1], f[2])):
            # Short words: a wrong letter turns one real word into another (wetter/weiter, kurze/kurse);
            # a missing, extra or swapped letter rarely does.
            if len(word) >= SUBST_LEN or len(cand) != len(word) or sorted(cand) == sorted(word):
                return self._surface_term[cand]
        return None

    def _most_common(self, found: Iterable[str]) -> str | None:
        terms = {self._surface_term[w] for w in found}
        return max(sorted(terms), key=lambda t: self.df[t]) if terms else None

    def clipped(self, word: str) -> str | None:
        """Colloquial clipping: 'präsi' -> präsentation, 'mikro' -> mikrofon."""
        if not self.options.clipping or len(word) < 5 or word[-1] not in "io" or word in PARTICLES:
            return None
        prefix = word[:-1]
        i = bisect.bisect_left(self._sorted, prefix)
        found = []
        while i < len(self._sorted) and self._sorted[i].startswith(prefix):
            if len(self._sorted[i]) >= len(word) + 2:
                found.append(self._sorted[i])
            i += 1
        return self._most_common(found)

    def head(self, word: str) -> str | None:
        """A compound's head stands for it: 'schirm' -> bildschirm (only for unknown words of >= 6 letters)."""
        if not self.options.heads or len(word) < 6:
            return None
        rev = word[::-1]
        i = bisect.bisect_left(self._reversed, rev)
        found = []
        while i < len(self._reversed) and self._reversed[i].startswith(rev):
            if len(self._reversed[i]) >= len(word) + MIN_PART:
                found.append(self._reversed[i][::-1])
            i += 1
        return self._most_common(found)

    def slots(self, clauses: list[list[str]]) -> list[Slot]:
        """The question's content words as slots, in order."""
        out: list[Slot] = []
        for tokens in clauses:
            joined: dict[int, str] = {}
            if self.options.particles and len(tokens) > 1 and tokens[-1] in PARTICLES:
                particle = tokens[-1]
                for i, tok in enumerate(tokens[:-1]):
                    if tok.isalpha() and (is_content(tok) or tok in FILLER_VERBS):  # 'her … einer' is not 'hereiner'
                        term = self.word_term(particle + STRONG_VERBS.get(tok, tok))
                        if term:
                            joined[i] = term
                if joined:
                    tokens = tokens[:-1]
            clause: list[Slot] = []
            for i, tok in enumerate(tokens):
                if i in joined:
                    clause.append(Slot(tok, ((joined[i], 1.0),)))
                elif "-" in tok:
                    for part in tok.split("-"):
                        clause.extend(self._word_slots(part))
                else:
                    clause.extend(self._word_slots(tok))
            if self.options.join_pairs:
                self._join_pairs(clause)
            out += clause
        return out

    def _word_slots(self, word: str) -> tuple[Slot, ...]:
        """The slots of one word, none for a stop word (memoised: the hot path of build and query)."""
        try:
            return self._slot_cache[word]
        except KeyError:
            pass
        if len(self._slot_cache) >= CACHE_SIZE:
            self._slot_cache.clear()
        slots = self._slot_cache[word] = self._analyse_word(word) if is_content(word) else ()
        return slots

    def _analyse_word(self, word: str) -> tuple[Slot, ...]:
        term = self.word_term(word)
        if term and self.df[term] > RARE_DF:
            return (Slot(word, ((term, 1.0),)),)
        parts = self.split(word)  # also for rare known words: 'hintergrundbild' in one article only
        if term:
            return (Slot(word, ((term, 1.0),), parts or (), KNOWN_PARTS_FACTOR),)
        if parts:
            return (Slot(word, (), parts),)
        for rescue in (self.clipped, self.head):
            term = rescue(word)
            if term:
                return (Slot(word, ((term, RESCUE_FACTOR),)),)
        fixed = self.correct(word)
        if fixed:
            return (Slot(word, ((fixed, TYPO_FACTOR),)),)
        return (Slot(word, ()),)

    def _join_pairs(self, slots: list[Slot]) -> None:
        """'breakout raum' also matches 'breakoutraum': add the joined term to both words."""
        cache = self._term_cache
        for i in range(len(slots) - 1):
            a, b = slots[i], slots[i + 1]
            if a.parts or b.parts:
                continue
            joined = a.word + b.word
            term = cache[joined] if joined in cache else self.word_term(joined)
            if term:
                slots[i] = Slot(a.word, a.terms + ((term, 1.0),))
                slots[i + 1] = Slot(b.word, b.terms + ((term, 1.0),))
