"""Evaluation on a JSONL file of {"q": ..., "expect": article id or null, "split": "tune"|"holdout"} and an
optional "style" (how the blind writer was asked to phrase it: short, formal, situation, typed, oos).

Counting rules (strict: what the user would actually see):
- top-1: in-scope question, decision is not "unknown" and the first hit is the expected article;
- top-3: in-scope question, decision is not "unknown" and the expected article is among the first three hits;
- out-of-scope recall: share of out-of-scope questions that got "unknown";
  out-of-scope precision: share of "unknown" decisions that were out-of-scope;
- out-of-scope answered: out-of-scope questions that got a direct "answer" (the worst case).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from knowledge.engine import AnswerEngine, Result


@dataclass(frozen=True)
class Case:
    q: str
    expect: str | None
    split: str
    style: str = ""


@dataclass
class Report:
    n_in: int = 0
    top1: int = 0
    top3: int = 0
    answered_right: int = 0
    answered_wrong: int = 0
    in_unknown: int = 0
    n_oos: int = 0
    oos_unknown: int = 0
    oos_answered: int = 0
    unknown_total: int = 0
    misses: list[str] = field(default_factory=list)

    def rate(self, name: str) -> float:
        base = self.n_oos if name.startswith("oos") else self.n_in
        return getattr(self, name) / base if base else 0.0

    @property
    def oos_precision(self) -> float:
        return self.oos_unknown / self.unknown_total if self.unknown_total else 1.0


def read_cases(path: str | Path, split: str = "all") -> list[Case]:
    cases = []
    for line in Path(path).read_text(encoding="utf-8").splitlines():
        if line.strip():
            d = json.loads(line)
            case = Case(d["q"], d.get("expect"), d.get("split", "tune"), d.get("style", ""))
            if split == "all" or case.split == split:
                cases.append(case)
    return cases


def evaluate(engine: AnswerEngine, cases: list[Case]) -> Report:
    return tally(cases, [engine.ask(case.q) for case in cases])


def tally(cases: list[Case], results: list[Result]) -> Report:
    """The report for cases whose engine results are already known (results[i] answers cases[i])."""
    r = Report()
    for case, res in zip(cases, results, strict=True):
        ids = [h.id for h in res.hits]
        shown = f"{res.decision} {res.confidence:.2f} {ids[:3]}"
        if res.decision == "unknown":
            r.unknown_total += 1
        if case.expect is None:
            r.n_oos += 1
            if res.decision == "unknown":
                r.oos_unknown += 1
            else:
                r.misses.append(f"OOS   {case.q!r} -> {shown}")
            if res.decision == "answer":
                r.oos_answered += 1
            continue
        r.n_in += 1
        seen = res.decision != "unknown"
        first = seen and ids[:1] == [case.expect]
        r.top1 += first
        r.top3 += seen and case.expect in ids[:3]
        if res.decision == "unknown":
            r.in_unknown += 1
        elif res.decision == "answer":
            r.answered_right += first
            r.answered_wrong += not first
        if not first:
            r.misses.append(f"MISS  {case.q!r} [{case.expect}] -> {shown}")
    return r


def by_style(cases: list[Case], results: list[Result]) -> dict[str, Report]:
    """One report per phrasing style, for the cases that have one (in-scope styles and "oos")."""
    out = {}
    for style in sorted({c.style for c in cases if c.style}):
        picked = [i for i, c in enumerate(cases) if c.style == style]
        out[style] = tally([cases[i] for i in picked], [results[i] for i in picked])
    return out


def format_report(r: Report, verbose: bool = False) -> str:
    lines = [
        f"in scope: {r.n_in}  top-1 {r.rate('top1'):.3f} ({r.top1})  top-3 {r.rate('top3'):.3f} ({r.top3})",
        f"  answered right {r.answered_right}, answered wrong {r.answered_wrong}, unknown {r.in_unknown}",
        f"out of scope: {r.n_oos}  recall {r.rate('oos_unknown'):.3f} ({r.oos_unknown})  "
        f"precision {r.oos_precision:.3f}  answered {r.rate('oos_answered'):.3f} ({r.oos_answered})",
    ]
    if verbose:
        lines += r.misses
    return "\n".join(lines)
