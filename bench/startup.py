"""Start-up to first answer, and the memory of the whole bot process (`python -m bench.startup`).

Spawns the real bot (`python app.py`, local mode, fresh SQLite), times from the spawn until the reply
to a first question has reached a local Bot Connector, then sends every question of the evaluation
file through the bot and reads the process's resident memory (VmRSS) and its peak (VmHWM) from /proc.
Goals (issue 3): first answer ≤ 2 s, whole bot process ≤ 150 MB RSS. Prints last:
`startup first_answer_ms=<x> rss_mb=<y> peak_rss_mb=<z> questions=<n>`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.turns import LocalConnector, _free_port, _message

ROOT = Path(__file__).resolve().parents[1]
QUESTIONS = ROOT / "tests" / "knowledge" / "questions.jsonl"


def _memory_mb(pid: int) -> tuple[float, float]:
    """(VmRSS, VmHWM) of a process in MB."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values["VmRSS"], values["VmHWM"]


async def _ask(session: aiohttp.ClientSession, port: int, connector: LocalConnector, cid: str, n: int,
               text: str) -> None:
    connector.pending[cid] = []
    try:
        async with session.post(f"http://127.0.0.1:{port}/api/messages",
                                json=_message(connector.url, cid, 1, f"q-{n}", text)) as resp:
            if resp.status >= 300:
                raise RuntimeError(f"bot answered HTTP {resp.status}")
        if len(connector.pending[cid]) != 1:
            raise RuntimeError(f"expected one reply, got {len(connector.pending[cid])}")
    finally:
        connector.pending.pop(cid, None)


async def run(questions: int) -> int:
    texts = [json.loads(line)["q"] for line in QUESTIONS.read_text(encoding="utf-8").splitlines() if line.strip()]
    texts = (texts * (questions // max(len(texts), 1) + 1))[:questions]
    connector = LocalConnector()
    await connector.start()
    port = _free_port()
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "PORT": str(port), "DATA_DIR": data_dir, "LOG_LEVEL": "WARNING"}
        started = time.monotonic()
        proc = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            async with aiohttp.ClientSession() as session:
                while True:
                    if proc.poll() is not None:
                        raise RuntimeError(f"bot exited: {proc.stderr.read().decode()[-500:]}")
                    try:
                        async with session.get(f"http://127.0.0.1:{port}/healthz") as resp:
                            if resp.status == 200:
                                break
                    except aiohttp.ClientError:
                        await asyncio.sleep(0.01)
                await _ask(session, port, connector, "a:bench-first", 0, "wie teile ich meinen bildschirm")
                first_ms = (time.monotonic() - started) * 1000
                for n, text in enumerate(texts, 1):
                    await _ask(session, port, connector, f"a:bench-{n % 20}", n, text)
                rss, peak = _memory_mb(proc.pid)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
            await connector.stop()
    if connector.stray:
        print(f"stray connector calls: {connector.stray[:3]}")
    print(f"python {sys.version.split()[0]}, {os.cpu_count()} cores")
    print(f"startup first_answer_ms={first_ms:.0f} rss_mb={rss:.1f} peak_rss_mb={peak:.1f} questions={len(texts)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--questions", type=int, default=1000, help="questions sent before memory is read")
    return asyncio.run(run(parser.parse_args(argv).questions))


if __name__ == "__main__":
    sys.exit(main())
