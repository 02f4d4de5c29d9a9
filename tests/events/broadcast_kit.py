"""What the broadcast tests share: a fake clock, a connector that can hold requests, and a sender stack.

The stack is the real one (ProactiveSender + ConnectorClient + RateLimiter) against the local Bot
Connector fake; only time is fake, so throttling and back-off run without waiting.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

from bot.connector import ConnectorClient
from bot.proactive import ProactiveSender
from bot.throttle import RateLimiter
from events.broadcast import BroadcastEngine, Progress, Recipient
from storage.base import DocumentStore
from storage.conversations import ConversationBook, ConversationRecord
from storage.lease import Leases
from tests.fakes.connector import FakeConnector

# Small on purpose: at epoch magnitude a float step is ~2e-7 s, and the limiter's fake sleeps would vanish.
T0 = 1000.0
TENANT, BOT = "tenant-1", "28:bot-app"
CONTAINERS = ("jobs", "deliveries", "conversations", "leases")


class Clock:
    """Fake time shared by limiter, sender and engine; sleeping advances it."""

    def __init__(self, now: float = T0) -> None:
        self.now = now
        self.sender_sleeps: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    async def limiter_sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)

    async def sender_sleep(self, seconds: float) -> None:
        self.sender_sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class MaxJitter:
    """Full jitter at its upper bound, so the back-off schedule is predictable."""

    def uniform(self, low: float, high: float) -> float:
        return high


class HoldingConnector(FakeConnector):
    """FakeConnector that can keep chosen sends unanswered: they have reached Teams, the answer has not."""

    def __init__(self) -> None:
        super().__init__()
        self.held: set[str] = set()
        self.waiting: set[str] = set()
        self.concurrent = 0
        self.max_concurrent = 0
        self._gate = asyncio.Event()

    def hold(self, *conversation_ids: str) -> None:
        self.held.update(conversation_ids)
        self.waiting.clear()
        self._gate.clear()

    def release(self) -> None:
        self.held.clear()
        self._gate.set()

    async def _send(self, request: web.Request) -> web.Response:
        cid = request.match_info.get("cid")
        self.concurrent += 1
        self.max_concurrent = max(self.max_concurrent, self.concurrent)
        try:
            if cid not in self.held:
                return await super()._send(request)
            await self._record(request)  # it has reached "Teams"; only the answer is held back
            self.waiting.add(cid)
            await self._gate.wait()
            return web.json_response({"id": f"activity-{next(self._ids)}"}, status=201)
        finally:
            self.concurrent -= 1

    def posts_per_conversation(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for call in self.sent():
            counts[call.conversation_id] = counts.get(call.conversation_id, 0) + 1
        return counts


@dataclass
class Stack:
    """One 'process': its own HTTP client, limiter and sender, an engine on the shared store."""

    engine: BroadcastEngine
    client: ConnectorClient
    reports: list[Progress] = field(default_factory=list)


class World:
    """A store with the broadcast containers, an address book of N conversations, and engine factory."""

    def __init__(self, store: DocumentStore, connector: FakeConnector, clock: Clock) -> None:
        self.store = store
        self.connector = connector
        self.clock = clock
        self.book = ConversationBook(store.bind("conversations"))
        self.stacks: list[Stack] = []

    async def __aenter__(self) -> "World":
        await self.store.open(CONTAINERS)
        return self

    async def __aexit__(self, *exc: object) -> None:
        for stack in self.stacks:
            await stack.engine.stop(timeout=1)
            await stack.client.stop()

    async def recipients(self, n: int, prefix: str = "a:user-") -> list[Recipient]:
        found = []
        for i in range(n):
            cid = f"{prefix}{i:04d}"
            await self.book.remember(ConversationRecord(cid, self.connector.url, TENANT, "personal", BOT,
                                                        user_name=f"Person {i}"))
            found.append(Recipient(cid, "user", f"Person {i}"))
        return found

    async def channel(self, cid: str = "19:kanal@thread.tacv2", label: str = "Team Digital / Allgemein") -> Recipient:
        await self.book.remember(ConversationRecord(cid, self.connector.url, TENANT, "channel", BOT, team_id="t1"))
        return Recipient(cid, "channel", label)

    async def engine(self, instance_id: str = "instance-a", *, sender_attempts: int = 5, **options) -> BroadcastEngine:
        client = ConnectorClient()
        await client.start()
        limiter = RateLimiter(50, clock=self.clock, sleep=self.clock.limiter_sleep)
        sender = ProactiveSender(client, self.book, limiter, bot_id=BOT, bot_name="Lotsenbot",
                                 max_attempts=sender_attempts, sleep=self.clock.sender_sleep, rng=MaxJitter(),
                                 service_url=self.connector.url)
        reports: list[Progress] = []

        async def on_progress(progress: Progress) -> None:
            reports.append(progress)

        settings = {"concurrency": 8, "lease_seconds": 30, "grace_seconds": 120, "on_progress": on_progress,
                    **options}
        engine = BroadcastEngine(self.store.container("jobs"), self.store.container("deliveries"),
                                 Leases(self.store.container("leases")), sender, instance_id=instance_id,
                                 clock=self.clock, **settings)
        self.stacks.append(Stack(engine, client, reports))
        return engine

    def reports(self, engine: BroadcastEngine) -> list[Progress]:
        return next(s.reports for s in self.stacks if s.engine is engine)
