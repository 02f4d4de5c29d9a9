"""The real app on a loopback port, talking to a FakeConnector: how every HTTP-level test runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from app import PARTS, create_app
from settings import Settings
from tests.fakes.connector import FakeConnector


def local_settings(data_dir: Path, **overrides: Any) -> Settings:
    """Local-mode settings (no app id, SQLite under data_dir) read through the real parser."""
    env = {"DATA_DIR": str(data_dir), "LOG_LEVEL": "WARNING"}
    env.update({k: str(v) for k, v in overrides.items()})
    return Settings.from_env(env)


class BotHarness:
    """`async with BotHarness(settings) as bot:` → bot.post(activity), bot.connector, bot.client.

    With `connector`, the app runs against a connector the caller already started and keeps running (a
    restart on the same data: stored serviceUrls still work).
    """

    def __init__(self, settings: Settings, connector: FakeConnector | None = None) -> None:
        self.settings = settings
        self._owns_connector = connector is None
        self.connector = connector or FakeConnector()
        self.client: TestClient | None = None

    async def __aenter__(self) -> "BotHarness":
        if self._owns_connector:
            await self.connector.__aenter__()
        self.app = create_app(self.settings)
        self.client = TestClient(TestServer(self.app, host="127.0.0.1"))
        await self.client.start_server()
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self.client is not None:
            await self.client.close()
        if self._owns_connector:
            await self.connector.__aexit__(*exc)

    @property
    def url(self) -> str:
        return self.connector.url

    @property
    def parts(self) -> dict[str, Any]:
        return self.app[PARTS]

    async def post(self, activity: Any, *, headers: dict[str, str] | None = None, raw: bytes | None = None):
        """POST an activity (or raw bytes) to /api/messages; returns (status, json-or-None)."""
        assert self.client is not None
        if raw is not None:
            resp = await self.client.post("/api/messages", data=raw,
                                          headers=headers or {"Content-Type": "application/json"})
        else:
            resp = await self.client.post("/api/messages", json=activity, headers=headers)
        try:
            body = await resp.json(content_type=None)
        except ValueError:
            body = None
        return resp.status, body
