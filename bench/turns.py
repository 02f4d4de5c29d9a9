"""Turn latency of Lotsenbot against the bare botbuilder echo sample: `python -m bench.turns`.

One turn is what Teams sees: HTTP POST /api/messages with a Teams-shaped message activity -> the bot
POSTs its reply to the Bot Connector (here a local stand-in in this process) -> the HTTP response to
the first POST arrives. Measured from just before the POST is written until its response body is read.

Two bots run in the same invocation, each in its own subprocess started (and always killed) here:

* echo: `python -m bot.echo_reference` - the classic botbuilder sample (ActivityHandler echo,
  CloudAdapter, stock `adapter.process`), answering any text with "Echo: <text>";
* lotsenbot: `python app.py` in local mode (PORT, DATA_DIR=<temp dir>, LOG_LEVEL=WARNING, SQLite),
  answering the command `hilfe` with the help card.

Load: `--concurrency` conversations (default 20; distinct conversation ids and users), each sending
its next message as soon as the previous turn completed (closed loop, one turn in flight per
conversation). Each bot is warmed up (`--warmup` turns, discarded), then `--turns` turns per bot are
measured in `--rounds` segments in ABBA order (echo, ours | ours, echo | ...), so drift and noise on the
machine hit both bots alike; samples are pooled per bot. The load generator (aiohttp client with a
keep-alive pool of `--concurrency` connections) and the connector share this process's event loop.
Back to back, the bot is saturated: mean turn time ~= concurrency x the bot's cost per turn. With
`--pause-ms N` each conversation waits an exponentially distributed think time (mean N ms) between its
turns instead, which shows the latency of an unsaturated bot (the headline figures use no pause).

Besides latency the table shows the cost per turn, which is robust against other load on the machine:
CPU seconds of the bot process (all threads, from /proc) and of this process per measured turn, and the
TCP connections the bot's replies arrived on at the connector (distinct per segment, summed): about one
per turn means a new connection for every reply, about `--concurrency` per segment means keep-alive.
`--profile-ours FILE` runs Lotsenbot under cProfile (the figures of that run are then not comparable).

Correctness is checked on every turn, warm-up included: HTTP status 2xx and exactly one reply POST at
the connector for that conversation, addressed to the incoming activity (replyToId in the path), with
the expected content ("Echo: <text>" / the help card). Replies no turn was waiting for are errors too.
Errors are counted, the first few printed, and a run with errors says so (exit status 1).

The last line is machine-readable:

    turn ratio_vs_echo=<mean ours / mean echo> p99_ms=<p99 of ours> concurrency=<n>

Why the ratio uses means: in a closed loop, throughput = concurrency / mean turn time (Little's law),
so the ratio of means is the ratio of the bots' costs per turn, and stable between runs; tail
percentiles on a small machine are dominated by scheduler and GC hiccups, so the tail is reported
absolutely (our p99).

Not a test: nothing here asserts on timing. Figures and their interpretation: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import json
import math
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import aiohttp
from aiohttp import web

REPO = Path(__file__).resolve().parents[1]
TENANT = "00000000-0000-4000-8000-000000000001"
BOT_ACCOUNT = {"id": "28:lotsenbot-bench", "name": "Lotsenbot"}
HELP_TITLE = "So können Sie mit mir arbeiten"
CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
START_TIMEOUT = 60.0
MAX_ERRORS_SHOWN = 10


# -- the local Bot Connector ------------------------------------------------------------------------

@dataclass
class Reply:
    activity_id: str | None     # the {aid} of .../activities/{aid}: the activity replied to
    body: Any


class LocalConnector:
    """The part of the Bot Connector REST API a replying bot uses: POST .../activities[/{aid}] -> 201.

    A turn registers its conversation in `pending` before POSTing to the bot and takes the bucket out
    after the response; replies for a conversation nobody waits for, and any other request, are `stray`.
    """

    def __init__(self) -> None:
        self.pending: dict[str, list[Reply]] = {}
        self.stray: list[str] = []
        self.peers: set[tuple] = set()      # TCP connections the replies came in on (reset per segment)
        self.url = ""
        self._ids = itertools.count(1)
        self._runner: web.AppRunner | None = None

    async def start(self) -> None:
        app = web.Application()
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_route("*", "/{tail:.*}", self._other)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = self._runner.addresses[0][1]
        self.url = f"http://127.0.0.1:{port}/"

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _send(self, request: web.Request) -> web.Response:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw[:200].decode("utf-8", "replace")
        cid = request.match_info["cid"]
        self.peers.add(request.transport.get_extra_info("peername") if request.transport else None)
        bucket = self.pending.get(cid)
        if bucket is None:
            self.stray.append(f"reply to {cid} while no turn of that conversation was in flight")
        else:
            bucket.append(Reply(request.match_info.get("aid"), body))
        return web.json_response({"id": f"reply-{next(self._ids)}"}, status=201)

    async def _other(self, request: web.Request) -> web.Response:
        self.stray.append(f"unexpected connector call {request.method} {request.path}")
        return web.json_response({"error": {"code": "NotFound", "message": "bench connector"}}, status=404)


# -- the two bots -------------------------------------------------------------------------------------

def _message(service_url: str, conversation_id: str, user: int, activity_id: str, text: str) -> dict[str, Any]:
    """A personal-chat message as Teams posts it to the bot."""
    return {
        "type": "message", "id": activity_id, "timestamp": "2026-11-21T09:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams",
        "from": {"id": f"29:bench-user-{user}", "name": f"Benchperson {user}", "aadObjectId": f"aad-bench-{user:04d}"},
        "recipient": dict(BOT_ACCOUNT),
        "conversation": {"id": conversation_id, "conversationType": "personal", "tenantId": TENANT},
        "locale": "de-DE", "channelData": {"tenant": {"id": TENANT}},
        "textFormat": "plain", "text": text,
    }


def _check_echo(reply: dict, text: str) -> str | None:
    if reply.get("text") != f"Echo: {text}":
        return f"text {str(reply.get('text'))[:60]!r}, expected {'Echo: ' + text!r}"
    return None


def _check_help(reply: dict, text: str) -> str | None:
    cards = [a.get("content") for a in reply.get("attachments") or [] if a.get("contentType") == CARD_CONTENT_TYPE]
    if len(cards) != 1 or not isinstance(cards[0], dict):
        return f"expected one Adaptive Card, got attachments {reply.get('attachments')!r:.80}"
    card = cards[0]
    dumped = json.dumps(card, ensure_ascii=False)
    if card.get("type") != "AdaptiveCard" or HELP_TITLE not in dumped or "lots*in fragen" not in dumped:
        return f"card is not the help card: {dumped[:80]}"
    return None


@dataclass
class Bot:
    name: str
    command: list[str]
    env: dict[str, str]
    ready: str                              # "tcp" or a GET path answering 200
    text: Callable[[str, int], str]         # (conversation id, turn number) -> message text
    check: Callable[[dict, str], str | None]
    port: int = 0
    log_path: Path | None = None
    process: subprocess.Popen | None = None
    samples: list[float] = field(default_factory=list)
    busy: float = 0.0                       # wall seconds of its measured segments
    cpu: float = 0.0                        # CPU seconds of its process (all threads) in those segments
    bench_cpu: float = 0.0                  # CPU seconds of this process (load + connector) in those segments
    connections: int = 0                    # TCP connections its replies arrived on
    round_means: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warmup_errors: int = 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def define_bots(data_dir: Path, log_dir: Path, profile_ours: str | None) -> list[Bot]:
    echo_port, ours_port = _free_port(), _free_port()
    base = dict(os.environ, PYTHONUNBUFFERED="1")
    ours_env = dict(base, PORT=str(ours_port), DATA_DIR=str(data_dir), LOG_LEVEL="WARNING", HOST="127.0.0.1",
                    # local mode whatever ./.env or the shell say: environment beats .env in Settings
                    MicrosoftAppId="", MicrosoftAppPassword="", MicrosoftAppTenantId="", STORAGE="sqlite",
                    ALLOWED_TENANT_IDS="")
    ours_cmd = [sys.executable, "app.py"]
    if profile_ours:
        ours_cmd = [sys.executable, "-m", "cProfile", "-o", str(Path(profile_ours).resolve()), "app.py"]
    return [
        Bot("echo", [sys.executable, "-m", "bot.echo_reference", "--port", str(echo_port)], base, "tcp",
            text=lambda cid, n: f"ping {cid} {n}", check=_check_echo, port=echo_port,
            log_path=log_dir / "echo.log"),
        Bot("lotsenbot", ours_cmd, ours_env, "/healthz",
            text=lambda cid, n: "hilfe", check=_check_help, port=ours_port, log_path=log_dir / "lotsenbot.log"),
    ]


def _log_tail(bot: Bot, lines: int = 15) -> str:
    try:
        text = bot.log_path.read_text(encoding="utf-8", errors="replace") if bot.log_path else ""
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


async def start(bot: Bot, session: aiohttp.ClientSession) -> None:
    """Start the subprocess and wait until it answers (TCP connect or GET path -> 200)."""
    log = open(bot.log_path, "wb")  # the child keeps its own descriptor
    try:
        bot.process = subprocess.Popen(bot.command, cwd=REPO, env=bot.env, stdin=subprocess.DEVNULL,
                                       stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if bot.process.poll() is not None:
            raise RuntimeError(f"{bot.name} exited with {bot.process.returncode} during start-up:\n{_log_tail(bot)}")
        try:
            if bot.ready == "tcp":
                _, writer = await asyncio.open_connection("127.0.0.1", bot.port)
                writer.close()
                await writer.wait_closed()
                return
            async with session.get(f"http://127.0.0.1:{bot.port}{bot.ready}") as resp:
                if resp.status == 200:
                    return
        except (OSError, aiohttp.ClientError):
            pass
        if time.monotonic() > deadline:
            raise RuntimeError(f"{bot.name} did not answer within {START_TIMEOUT:.0f} s:\n{_log_tail(bot)}")
        await asyncio.sleep(0.1)


def cpu_seconds(process: subprocess.Popen | None) -> float:
    """User + system CPU time of a running process, all threads (Linux /proc; NaN elsewhere)."""
    try:
        with open(f"/proc/{process.pid}/stat", "rb") as f:
            fields = f.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, AttributeError, IndexError, ValueError):
        return math.nan


def died(bot: Bot) -> bool:
    """True (and an error listed first) if the bot's process has exited while it should be serving."""
    if bot.process is None or bot.process.poll() is None:
        return False
    code = bot.process.returncode
    message = f"{bot.name} process exited with {code}{' (killed by signal ' + str(-code) + ')' if code < 0 else ''} " \
              f"during the run; measurement stopped"
    if message not in bot.errors:
        bot.errors.insert(0, message)
    return True


def stop(bots: list[Bot]) -> None:
    """SIGTERM to all (aiohttp shuts down cleanly, cProfile writes its file), SIGKILL after 10 s."""
    running = [b.process for b in bots if b.process is not None and b.process.poll() is None]
    for process in running:
        process.terminate()
    deadline = time.monotonic() + 10
    for process in running:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# -- load -----------------------------------------------------------------------------------------------

@dataclass
class Segment:
    samples: list[float]
    errors: list[str]
    wall: float
    cpu: float          # the bot process
    bench_cpu: float    # this process
    connections: int


async def run_segment(bot: Bot, connector: LocalConnector, session: aiohttp.ClientSession, turns: int,
                      concurrency: int, label: str, fresh: bool, pause: float = 0.0) -> Segment:
    """`turns` turns spread over `concurrency` conversations, each sending back to back (or after a think time)."""
    url = f"http://127.0.0.1:{bot.port}/api/messages"
    headers = {"Content-Type": "application/json"}
    remaining = turns
    samples: list[float] = []
    errors: list[str] = []

    def claim() -> bool:
        nonlocal remaining
        if remaining <= 0:
            return False
        remaining -= 1
        return True

    async def conversation(index: int) -> None:
        think = random.Random(f"{label}-{index}")  # exponential think time (mean `pause`): no lockstep bursts
        n = 0
        while claim():
            if pause:
                await asyncio.sleep(think.expovariate(1 / pause))
            n += 1
            cid = f"a:bench-{bot.name}-{index}" + (f"-{label}-{n}" if fresh else "")
            activity_id = f"bench-{bot.name}-{label}-{index}-{n}"
            text = bot.text(cid, n)
            data = json.dumps(_message(connector.url, cid, index, activity_id, text)).encode()
            bucket: list[Reply] = []
            connector.pending[cid] = bucket
            started = time.perf_counter()
            try:
                async with session.post(url, data=data, headers=headers) as resp:
                    await resp.read()
                    status = resp.status
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                errors.append(f"{cid} #{n}: request failed: {type(exc).__name__}: {exc}")
                connector.pending.pop(cid, None)
                continue
            samples.append(time.perf_counter() - started)
            connector.pending.pop(cid, None)
            problem = None
            if not 200 <= status < 300:
                problem = f"HTTP {status}"
            elif len(bucket) != 1:
                problem = f"{len(bucket)} replies at the connector, expected 1"
            else:
                reply = bucket[0]
                body = reply.body if isinstance(reply.body, dict) else {}
                if reply.activity_id != activity_id:
                    problem = f"reply addressed to activity {reply.activity_id!r}, expected {activity_id!r}"
                elif body.get("type") != "message" or (body.get("conversation") or {}).get("id") != cid:
                    problem = f"reply is not a message to {cid}: {str(reply.body)[:80]}"
                else:
                    problem = bot.check(body, text)
            if problem:
                errors.append(f"{cid} #{n}: {problem}")

    connector.peers.clear()
    cpu, bench_cpu, started = cpu_seconds(bot.process), time.process_time(), time.perf_counter()
    await asyncio.gather(*(conversation(i) for i in range(concurrency)))
    wall = time.perf_counter() - started
    cpu, bench_cpu = cpu_seconds(bot.process) - cpu, time.process_time() - bench_cpu
    stray, connector.stray[:] = list(connector.stray), []
    errors.extend(f"{bot.name}: {s}" for s in stray)
    return Segment(samples, errors, wall, cpu, bench_cpu, len(connector.peers))


def split(total: int, parts: int) -> list[int]:
    return [total // parts + (1 if i < total % parts else 0) for i in range(parts)]


def percentile(sorted_values: list[float], p: float) -> float:
    """Nearest-rank percentile."""
    if not sorted_values:
        return math.nan
    return sorted_values[max(0, math.ceil(p / 100 * len(sorted_values)) - 1)]


async def run(args: argparse.Namespace) -> int:
    with tempfile.TemporaryDirectory(prefix="lotsenbot-bench-") as tmp:
        bots = define_bots(Path(tmp) / "data", Path(tmp), args.profile_ours)
        (Path(tmp) / "data").mkdir()
        echo, ours = bots
        connector = LocalConnector()
        await connector.start()
        timeout = aiohttp.ClientTimeout(total=args.timeout)
        sessions = {b.name: aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=args.concurrency, limit_per_host=args.concurrency),
            timeout=timeout) for b in bots}
        try:
            for bot in bots:
                await start(bot, sessions[bot.name])
            for bot in bots:
                warm = await run_segment(bot, connector, sessions[bot.name], args.warmup, args.concurrency, "warm",
                                         args.fresh_conversations, args.pause_ms / 1000)
                bot.warmup_errors = len(warm.errors)
                bot.errors.extend(f"warm-up: {e}" for e in warm.errors)
            if not any([died(b) for b in bots]):
                for number, turns in enumerate(split(args.turns, args.rounds)):
                    for bot in bots if number % 2 == 0 else bots[::-1]:
                        segment = await run_segment(bot, connector, sessions[bot.name], turns, args.concurrency,
                                                    f"r{number}", args.fresh_conversations, args.pause_ms / 1000)
                        bot.samples.extend(segment.samples)
                        bot.busy += segment.wall
                        bot.cpu += segment.cpu
                        bot.bench_cpu += segment.bench_cpu
                        bot.connections += segment.connections
                        bot.errors.extend(segment.errors)
                        if segment.samples:
                            bot.round_means.append(1000 * sum(segment.samples) / len(segment.samples))
                    if any([died(b) for b in bots]):
                        break
            for bot in bots:
                died(bot)
        finally:
            for session in sessions.values():
                await session.close()
            stop(bots)
            await connector.stop()
        logs = {b.name: _log_tail(b, 5) for b in bots if b.errors}
    return report(args, echo, ours, logs)


def report(args: argparse.Namespace, echo: Bot, ours: Bot, logs: dict[str, str]) -> int:
    pause = f", mean {args.pause_ms:g} ms think time between a conversation's turns" if args.pause_ms else ""
    fresh = ", fresh conversation per turn" if args.fresh_conversations else ""
    print(f"Turns: POST /api/messages -> reply POST at a local connector -> HTTP response; "
          f"{args.concurrency} concurrent conversations{pause}{fresh}, {args.turns} measured turns per bot in "
          f"{args.rounds} ABBA rounds after {args.warmup} warm-up turns; Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs")
    print()
    print(f"{'bot':<11}{'turns':>7}{'errors':>8}{'p50 ms':>9}{'p90 ms':>9}{'p99 ms':>9}{'mean ms':>9}{'turns/s':>9}")
    means = {}
    for bot in (echo, ours):
        values = sorted(bot.samples)
        mean = 1000 * sum(values) / len(values) if values else math.nan
        means[bot.name] = mean
        rate = len(values) / bot.busy if bot.busy else math.nan
        print(f"{bot.name:<11}{len(values):>7}{len(bot.errors):>8}{1000 * percentile(values, 50):>9.1f}"
              f"{1000 * percentile(values, 90):>9.1f}{1000 * percentile(values, 99):>9.1f}{mean:>9.2f}{rate:>9.0f}")
    print()
    print(f"{'cost':<11}{'bot CPU ms/turn':>17}{'bench CPU ms/turn':>19}{'reply TCP conns':>17}")
    for bot in (echo, ours):
        n = len(bot.samples) or math.nan
        print(f"{bot.name:<11}{1000 * bot.cpu / n:>17.2f}{1000 * bot.bench_cpu / n:>19.2f}{bot.connections:>17}")
    print()
    for bot in (echo, ours):
        print(f"mean per round, {bot.name}: " + (" ".join(f"{m:.2f}" for m in bot.round_means) or "-") + " ms")
    failed = [b for b in (echo, ours) if b.errors]
    for bot in failed:
        print(f"\n{bot.name}: {len(bot.errors)} errors ({bot.warmup_errors} in warm-up); first {MAX_ERRORS_SHOWN}:")
        for line in bot.errors[:MAX_ERRORS_SHOWN]:
            print(f"  {line}")
        if logs.get(bot.name):
            print("  last lines of its log:\n    " + logs[bot.name].replace("\n", "\n    "))
    if args.profile_ours:
        print(f"\ncProfile of lotsenbot written to {args.profile_ours} (the profiler slows it down: "
              f"figures of this run are not comparable)")
    print()
    if failed:
        print(f"RUN HAS ERRORS ({', '.join(f'{b.name}: {len(b.errors)}' for b in failed)}): figures are not valid")
    ratio = means["lotsenbot"] / means["echo"] if means["echo"] else math.nan
    p99 = 1000 * percentile(sorted(ours.samples), 99)
    print(f"turn ratio_vs_echo={ratio:.2f} p99_ms={p99:.1f} concurrency={args.concurrency}")
    return 1 if failed else 0


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.turns", description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=2000, help="measured turns per bot (default 2000)")
    parser.add_argument("--concurrency", type=int, default=20, help="concurrent conversations (default 20)")
    parser.add_argument("--warmup", type=int, default=200, help="discarded turns per bot first (default 200)")
    parser.add_argument("--rounds", type=int, default=4, help="measured segments per bot, ABBA order (default 4)")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per HTTP request (default 30)")
    parser.add_argument("--pause-ms", type=float, default=0.0,
                        help="mean think time between a conversation's turns, exponentially distributed "
                             "(default 0: back to back, which saturates the bot)")
    parser.add_argument("--fresh-conversations", action="store_true",
                        help="a new conversation id for every turn (forces Lotsenbot's address-book write)")
    parser.add_argument("--profile-ours", metavar="FILE",
                        help="run Lotsenbot under cProfile and write the stats to FILE (slows it down)")
    args = parser.parse_args(argv)
    if args.turns < 1 or args.concurrency < 1 or args.warmup < 0 or args.rounds < 1 or args.pause_ms < 0:
        parser.error("--turns, --concurrency and --rounds must be positive, --warmup and --pause-ms not negative")
    signal.signal(signal.SIGTERM, _interrupt)  # like Ctrl-C: cancel the run, stop both bots
    try:
        return asyncio.run(run(args))
    except RuntimeError as exc:  # a bot did not start; both processes are stopped by then
        print(f"bench.turns: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("bench.turns: interrupted (bots stopped)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
