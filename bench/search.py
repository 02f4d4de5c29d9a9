"""Search benchmark: python -m bench.search

Builds the index for the shipped articles and for 500 articles (the shipped set replicated under altered
ids), asks every evaluation question many times against the 500-article index and prints the figures.
The last line is machine-readable: `search p99_ms=<x> build_ms=<y> rss_mb=<z> articles=500`.
"""

from __future__ import annotations

import argparse
import dataclasses
import resource
import time
from pathlib import Path

from knowledge.articles import KnowledgeBase
from knowledge.engine import AnswerEngine
from knowledge.evaluate import read_cases

ROOT = Path(__file__).resolve().parent.parent
ARTICLES = ROOT / "knowledge" / "articles"
SITE = ROOT / "knowledge" / "site.yaml"
QUESTIONS = ROOT / "tests" / "knowledge" / "questions.jsonl"


def replicate(kb: KnowledgeBase, n: int) -> KnowledgeBase:
    """`n` articles: the shipped ones, then copies with ids suffixed -2, -3, ..."""
    base = list(kb.articles.values())
    out = {}
    for i in range(n):
        a = base[i % len(base)]
        copy = a if i < len(base) else dataclasses.replace(a, id=f"{a.id}-{i // len(base) + 1}")
        out[copy.id] = copy
    return KnowledgeBase(out)


def rss_mb() -> float:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build_ms(kb: KnowledgeBase, repeat: int = 3) -> tuple[AnswerEngine, float]:
    best, engine = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        engine = AnswerEngine.build(kb)
        best = min(best, (time.perf_counter() - started) * 1000)
    return engine, best


def percentile(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(round(p / 100 * (len(values) - 1))))]


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.search")
    parser.add_argument("--rounds", type=int, default=20, help="how often every question is asked")
    parser.add_argument("--articles", type=int, default=500)
    args = parser.parse_args()

    started = time.perf_counter()
    kb = KnowledgeBase.load(ARTICLES, SITE)
    load_ms = (time.perf_counter() - started) * 1000
    _, shipped_ms = build_ms(kb)
    big = replicate(kb, args.articles)
    engine, big_ms = build_ms(big)
    questions = [c.q for c in read_cases(QUESTIONS)]
    questions += ["", "🙂🙂", "?!?", "how do I share my screen", "Bildschirm " * 700]

    timings = []
    for _ in range(args.rounds):
        for q in questions:
            t = time.perf_counter()
            engine.ask(q)
            timings.append((time.perf_counter() - t) * 1000)
    first = timings[: len(questions)]  # the first round sees every word for the first time
    p50, p99, worst = percentile(timings, 50), percentile(timings, 99), max(timings)
    rss = rss_mb()
    print(f"load {len(kb.articles)} articles: {load_ms:.0f} ms; build shipped: {shipped_ms:.1f} ms; "
          f"build {len(big.articles)}: {big_ms:.0f} ms")
    print(f"first round ({len(first)} questions, cold word caches): p50 {percentile(first, 50):.3f} ms, "
          f"p99 {percentile(first, 99):.3f} ms")
    print(f"all {len(timings)} questions: p50 {p50:.3f} ms, p99 {p99:.3f} ms, max {worst:.3f} ms")
    print(f"search p99_ms={p99:.3f} build_ms={big_ms:.0f} rss_mb={rss:.0f} articles={len(big.articles)}")


if __name__ == "__main__":
    main()
