"""A broadcast to N recipients against a connector with Teams' limits: `python -m bench.broadcast --recipients N`.

Three processes:

* connector (`--role connector`): a local Bot Connector (aiohttp) that enforces Teams' limits - at most
  50 accepted requests in any sliding second per app and 7 per conversation; over that it answers 429
  with `Retry-After: 1` - and injects faults decided per conversation from the seed: about 0.5 % get
  a 500/502/503 on their first attempt, about 0.2 % have blocked the bot (403 every time). It counts
  accepted messages per conversation, so lost recipients and duplicates are measured at the receiver.
* sender (`--role sender`): the real engine (events/broadcast.py) with the real ProactiveSender,
  ConnectorClient and RateLimiter from bot/ (SEND_RATE 50/s, 5 attempts, concurrency 20) on SQLite in
  a temporary directory. It submits the job (idempotent) and works it until done.
* this process: starts both, fills the address book, and with `--crash-at F` kills the sender with
  SIGKILL once F x N messages have been accepted, then starts it again (same instance id, as a
  restarted container would be) to resume. After the kill it counts the records left in_flight: the
  duplicate bound of that crash.

seconds: from starting the sender until the (last) sender exits, restart included.
msgs_per_s: messages the connector accepted (2xx) / seconds. lost: conversations that have not blocked
the bot and received nothing. duplicates: accepted messages beyond the first per conversation.
Prints last: `broadcast recipients=<N> msgs_per_s=<x> lost=<n> duplicates=<d> seconds=<s>`.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import deque
from pathlib import Path

from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
JOB_ID = "bench-broadcast"
INSTANCE = "bench-host-1"
TENANT, BOT = "00000000-0000-4000-8000-000000000001", "28:lotsenbot-bench"
CARD = {"type": "AdaptiveCard", "version": "1.5", "body": [
    {"type": "TextBlock", "text": "Vernetzungstreffen der Digitallots*innen", "weight": "Bolder"},
    {"type": "TextBlock", "text": "Donnerstag, 14 Uhr, Rathaus und online", "wrap": True}]}


def conversation_id(i: int) -> str:
    return f"a:1bench-personal-chat-{i:06d}"


def fault(seed: int, cid: str, error_rate: float, blocked_rate: float) -> str:
    """'blocked', '5xx' or '' for a conversation, fixed by the seed."""
    x = int.from_bytes(hashlib.sha256(f"{seed}:{cid}".encode()).digest()[:8], "big") / 2 ** 64
    return "blocked" if x < blocked_rate else "5xx" if x < blocked_rate + error_rate else ""


# -- connector process -------------------------------------------------------------------------------

class LimitedConnector:
    """Teams' limits and a few faults; counts what it accepted per conversation."""

    def __init__(self, seed: int, error_rate: float, blocked_rate: float, app_rate: int = 50, conv_rate: int = 7) -> None:
        self.seed, self.error_rate, self.blocked_rate = seed, error_rate, blocked_rate
        self.app_rate, self.conv_rate = app_rate, conv_rate
        self.accepted: deque[float] = deque()
        self.per_conversation: dict[str, deque[float]] = {}
        self.delivered: dict[str, int] = {}
        self.attempts: dict[str, int] = {}
        self.blocked: set[str] = set()
        self.stats = {"requests": 0, "accepted": 0, "r429_app": 0, "r429_conversation": 0, "r5xx": 0, "r403": 0}
        self._ids = 0
        self.first_at = self.last_at = 0.0

    async def send(self, request: web.Request) -> web.Response:
        cid = request.match_info["cid"]
        await request.read()
        self.stats["requests"] += 1
        now = time.monotonic()
        window = self.per_conversation.setdefault(cid, deque())
        for q in (self.accepted, window):
            while q and q[0] <= now - 1.0:
                q.popleft()
        if len(self.accepted) >= self.app_rate or len(window) >= self.conv_rate:
            self.stats["r429_app" if len(self.accepted) >= self.app_rate else "r429_conversation"] += 1
            return web.json_response({"error": {"code": "Throttled", "message": "Too many requests"}},
                                     status=429, headers={"Retry-After": "1"})
        self.accepted.append(now)
        window.append(now)
        self.first_at = self.first_at or now
        self.last_at = now
        attempt = self.attempts[cid] = self.attempts.get(cid, 0) + 1
        kind = fault(self.seed, cid, self.error_rate, self.blocked_rate)
        if kind == "blocked":
            self.blocked.add(cid)
            self.stats["r403"] += 1
            return web.json_response({"error": {"code": "ConversationBlockedByUser", "message": "blocked"}}, status=403)
        if kind == "5xx" and attempt == 1:
            self.stats["r5xx"] += 1
            status = (500, 502, 503)[sum(map(ord, cid)) % 3]
            return web.json_response({"error": {"code": "ServiceError", "message": "injected"}}, status=status)
        self.stats["accepted"] += 1
        self.delivered[cid] = self.delivered.get(cid, 0) + 1
        self._ids += 1
        return web.json_response({"id": f"1:{self._ids}"}, status=201)

    async def report(self, _: web.Request) -> web.Response:
        return web.json_response({**self.stats, "blocked": sorted(self.blocked), "delivered": self.delivered,
                                  "sending_seconds": self.last_at - self.first_at})

    async def progress(self, _: web.Request) -> web.Response:
        return web.json_response({"accepted": self.stats["accepted"]})


async def serve_connector(args: argparse.Namespace) -> None:
    connector = LimitedConnector(args.seed, args.error_rate, args.blocked_rate)
    app = web.Application()
    app.router.add_post("/v3/conversations/{cid}/activities", connector.send)
    app.router.add_get("/_report", connector.report)
    app.router.add_get("/_progress", connector.progress)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    print(f"READY {port}", flush=True)
    await asyncio.Event().wait()


# -- sender process ----------------------------------------------------------------------------------

async def run_sender(args: argparse.Namespace) -> None:
    from bot.connector import ConnectorClient
    from bot.proactive import ProactiveSender
    from bot.throttle import RateLimiter
    from dialogs.context import Message
    from events.broadcast import BroadcastEngine, Progress, Recipient
    from storage.base import CONTAINERS
    from storage.conversations import ConversationBook
    from storage.lease import Leases
    from storage.sqlite import SqliteStore

    store = SqliteStore(args.db)
    await store.open(CONTAINERS)

    async def show(p: Progress) -> None:
        eta = f"{p.eta_seconds:.0f} s" if p.eta_seconds is not None else "?"
        print(f"  zugestellt {p.sent} / {p.total} · {p.failed} fehlgeschlagen · {p.blocked} blockiert · "
              f"noch etwa {eta}", file=sys.stderr, flush=True)

    async with ConnectorClient() as client:
        sender = ProactiveSender(client, ConversationBook(store.container("conversations")),
                                 RateLimiter(args.rate), bot_id=BOT, bot_name="Lotsenbot", max_attempts=5)
        engine = BroadcastEngine(store.container("jobs"), store.container("deliveries"),
                                 Leases(store.container("leases")), sender, instance_id=INSTANCE,
                                 concurrency=args.concurrency, on_progress=show, progress_every=args.progress_every)
        recipients = [Recipient(conversation_id(i), "user", f"Person {i}") for i in range(args.recipients)]
        await engine.submit(JOB_ID, Message(card=CARD, summary="Einladung zum Vernetzungstreffen"), recipients)
        while not (progress := await engine.progress(JOB_ID)).done:
            if await engine.run_pending() == 0:
                await asyncio.sleep(0.5)
    print(json.dumps({"sent": progress.sent, "failed": progress.failed, "blocked": progress.blocked,
                      "pending": progress.pending}), flush=True)
    await store.close()


# -- orchestration -----------------------------------------------------------------------------------

async def fill_book(db: Path, url: str, n: int) -> None:
    from storage.base import CONTAINERS
    from storage.conversations import ConversationBook, ConversationRecord
    from storage.sqlite import SqliteStore

    store = SqliteStore(db)
    await store.open(CONTAINERS)
    book = ConversationBook(store.container("conversations"), cache_size=1)
    for i in range(n):
        await book.remember(ConversationRecord(conversation_id(i), url, TENANT, "personal", BOT,
                                               user_id=f"29:bench-{i}", user_name=f"Person {i}"))
    await store.close()


def get_json(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as response:  # loopback only
        return json.loads(response.read())


def count_in_flight(db: Path) -> int:
    import sqlite3
    with sqlite3.connect(db) as conn:
        return conn.execute("SELECT COUNT(*) FROM docs WHERE container='deliveries' AND "
                            "json_extract(body, '$.status')='in_flight'").fetchone()[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recipients", type=int, default=10_000)
    parser.add_argument("--crash-at", type=float, default=None, help="kill the sender after this fraction")
    parser.add_argument("--rate", type=float, default=50.0, help="the sender's global rate (SEND_RATE_PER_SECOND)")
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--error-rate", type=float, default=0.005)
    parser.add_argument("--blocked-rate", type=float, default=0.002)
    parser.add_argument("--progress-every", type=float, default=10.0)
    parser.add_argument("--role", choices=("main", "connector", "sender"), default="main", help=argparse.SUPPRESS)
    parser.add_argument("--db", default="", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "connector":
        asyncio.run(serve_connector(args))
        return 0
    if args.role == "sender":
        logging.basicConfig(level=logging.ERROR)  # the retries and blocked users are counted, not logged
        asyncio.run(run_sender(args))
        return 0
    if args.recipients < 1 or (args.crash_at is not None and not 0 < args.crash_at < 1):
        parser.error("--recipients >= 1 and 0 < --crash-at < 1")
    common = [f"--seed={args.seed}", f"--error-rate={args.error_rate}", f"--blocked-rate={args.blocked_rate}"]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    connector = subprocess.Popen([sys.executable, "-m", "bench.broadcast", "--role=connector", *common],
                                 cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
    try:
        ready = connector.stdout.readline().split()  # type: ignore[union-attr]
        if not ready or ready[0] != "READY":
            raise RuntimeError("connector did not start")
        url = f"http://127.0.0.1:{ready[1]}/"
        with tempfile.TemporaryDirectory() as tmp:
            db = Path(tmp) / "bench.sqlite3"
            asyncio.run(fill_book(db, url, args.recipients))
            sender_cmd = [sys.executable, "-m", "bench.broadcast", "--role=sender", f"--db={db}",
                          f"--recipients={args.recipients}", f"--rate={args.rate}",
                          f"--concurrency={args.concurrency}", f"--progress-every={args.progress_every}"]
            start = time.monotonic()
            sender = subprocess.Popen(sender_cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            in_flight_at_crash = None
            if args.crash_at is not None:
                threshold = args.crash_at * args.recipients
                while sender.poll() is None and get_json(url + "_progress")["accepted"] < threshold:
                    time.sleep(0.02)
                if sender.poll() is None:
                    sender.send_signal(signal.SIGKILL)
                    sender.wait()
                    in_flight_at_crash = count_in_flight(db)
                    print(f"killed the sender (SIGKILL) at {get_json(url + '_progress')['accepted']} accepted, "
                          f"{in_flight_at_crash} deliveries in_flight; restarting", file=sys.stderr, flush=True)
                    sender = subprocess.Popen(sender_cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, text=True)
            out, _ = sender.communicate()
            seconds = time.monotonic() - start
            if sender.returncode != 0:
                raise RuntimeError(f"sender exited with {sender.returncode}")
        engine_counts = json.loads(out.strip().splitlines()[-1])
        report = get_json(url + "_report")
    finally:
        connector.terminate()
        connector.wait()
    delivered, blocked = report["delivered"], set(report["blocked"])
    expected = [conversation_id(i) for i in range(args.recipients) if conversation_id(i) not in blocked]
    lost = sum(1 for cid in expected if not delivered.get(cid))
    duplicates = sum(n - 1 for n in delivered.values() if n > 1)
    accepted = report["accepted"]
    print(f"connector: requests={report['requests']} accepted={accepted} 429_app={report['r429_app']} "
          f"429_conversation={report['r429_conversation']} 5xx={report['r5xx']} 403={report['r403']} "
          f"blocked_conversations={len(blocked)} first_to_last_request_s={report['sending_seconds']:.1f}")
    print(f"engine: {json.dumps(engine_counts)}"
          + (f" in_flight_at_crash={in_flight_at_crash}" if in_flight_at_crash is not None else ""))
    print(f"broadcast recipients={args.recipients} msgs_per_s={accepted / seconds:.1f} lost={lost} "
          f"duplicates={duplicates} seconds={seconds:.1f}")
    return 0 if lost == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
