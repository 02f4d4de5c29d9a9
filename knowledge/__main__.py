"""Command line: python -m knowledge lint | ask | eval | gaps."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path

from knowledge.articles import ArticleError, KnowledgeBase
from knowledge.engine import AnswerEngine
from knowledge.evaluate import by_style, format_report, read_cases, tally
from knowledge.lint import lint

ROOT = Path(__file__).resolve().parent
ARTICLES = ROOT / "articles"
SITE = ROOT / "site.yaml"
MAX_RESULTS = 5


def _settings():
    """The bot's settings; a bad value ends the command with one line, as it ends the bot's start-up."""
    from settings import Settings, SettingsError

    try:
        return Settings.from_env()
    except SettingsError as exc:
        print(f"Einstellung fehlerhaft: {exc}", file=sys.stderr)
        raise SystemExit(2) from None


def _engine(args: argparse.Namespace) -> AnswerEngine:
    """The engine with the thresholds the bot would use (ANSWER_CONFIDENCE, ANSWER_MARGIN, SUGGEST_CONFIDENCE).

    A broken article ends the command with one line naming the file (the bot itself keeps its last index).
    """
    try:
        kb = KnowledgeBase.load(args.articles, args.site)
    except ArticleError as exc:
        print(f"Artikel fehlerhaft: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    return AnswerEngine.build(kb, _settings().thresholds)


def cmd_lint(args: argparse.Namespace) -> int:
    problems = lint(args.articles, args.site)
    for p in problems:
        print(p)
    n = len(list(Path(args.articles).glob("*.md")))
    print(f"{n} articles, {len(problems)} problems", file=sys.stderr)
    return 1 if problems else 0


def _as_json(q: str, engine: AnswerEngine) -> dict:
    r = engine.ask(q)
    return {"q": q, "decision": r.decision, "confidence": r.confidence,
            "results": [{"id": h.id, "title": h.title, "score": h.score} for h in r.hits[:MAX_RESULTS]]}


def cmd_ask(args: argparse.Namespace) -> int:
    engine = _engine(args)
    if args.jsonl:
        for line in sys.stdin:
            q = line.rstrip("\n")
            if q.strip():
                print(json.dumps(_as_json(q, engine), ensure_ascii=False), flush=True)
        return 0
    if not args.question:
        print("a question is needed (or --jsonl)", file=sys.stderr)
        return 2
    q = " ".join(args.question)
    r = engine.ask(q)
    print(f"{r.decision} (confidence {r.confidence:.2f})")
    for i, h in enumerate(r.hits, 1):
        print(f"  {i}. {h.id}  {h.score:.3f}  {h.title}")
    if args.explain:
        for slot in engine.analyse(q):
            alts = [f"{t}x{f:g}" for t, f in slot.terms] + (["+".join(slot.parts)] if slot.parts else [])
            print(f"  {slot.word!r}: {' | '.join(alts) or 'unknown'}")
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    cases = read_cases(args.file, args.split)
    engine = _engine(args)
    results = [engine.ask(case.q) for case in cases]  # asked once, counted in total and per style
    print(format_report(tally(cases, results), verbose=args.verbose))
    for style, report in by_style(cases, results).items():
        if report.n_in:
            print(f"  style {style}: {report.n_in} in scope, top-1 {report.rate('top1'):.3f}, "
                  f"top-3 {report.rate('top3'):.3f}, unknown {report.in_unknown}")
    return 0


async def _gaps(limit: int) -> int:
    """The curators' to-do list from the configured store (SQLite locally, Cosmos DB in production)."""
    from knowledge.feedback import FeedbackLog
    from storage.factory import open_store

    settings = _settings()
    if settings.storage == "sqlite" and not settings.sqlite_path.exists():
        print(f"Noch keine Daten unter {settings.sqlite_path}", file=sys.stderr)
        return 1
    store = open_store(settings)
    await store.open(["feedback"])
    try:
        c = store.container("feedback")
        gaps = await FeedbackLog(c, c, retention_days=settings.question_retention_days).gaps(limit)
    finally:
        await store.close()
    print(f"Unbeantwortete Fragen (gesamt): {gaps.unanswered_total}")
    print("Häufigste unbeantwortete Fragen (innerhalb der Aufbewahrungsfrist):")
    for g in gaps.questions:
        print(f"  {g.count:4d}  {g.text}")
    print("Artikel mit den meisten 👎:")
    for a in gaps.articles:
        print(f"  {a.not_helpful:4d} 👎 {a.helpful:4d} 👍  {a.article_id}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m knowledge")
    parser.add_argument("--articles", default=str(ARTICLES), help=argparse.SUPPRESS)
    parser.add_argument("--site", default=str(SITE), help=argparse.SUPPRESS)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("lint", help="check the articles; exit 1 on problems").set_defaults(fn=cmd_lint)
    p = sub.add_parser("ask", help="ask one question, or --jsonl from stdin")
    p.add_argument("question", nargs="*")
    p.add_argument("--jsonl", action="store_true", help="one question per stdin line, JSON lines out")
    p.add_argument("--explain", action="store_true", help="show how the words were understood")
    p.set_defaults(fn=cmd_ask)
    p = sub.add_parser("eval", help="top-1/top-3 and out-of-scope figures for a JSONL file")
    p.add_argument("file")
    p.add_argument("--split", choices=("holdout", "tune", "all"), default="all")
    p.add_argument("-v", "--verbose", action="store_true", help="list every miss")
    p.set_defaults(fn=cmd_eval)
    p = sub.add_parser("gaps", help="unanswered questions and articles with the most 👎")
    p.add_argument("--limit", type=int, default=20)
    p.set_defaults(fn=lambda a: asyncio.run(_gaps(a.limit)))
    args = parser.parse_args(argv)
    return args.fn(args)


if __name__ == "__main__":
    sys.exit(main())
