"""A local stand-in for Teams' Bot Connector service: the REST API a bot calls back on.

It speaks the real wire format (v3 conversations API), records every call the bot makes, and can be
told to answer the next calls with an error (429 with Retry-After, 403, 5xx) the way Teams does.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Callable

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class Call:
    """One request the bot made to the connector."""

    method: str
    path: str
    conversation_id: str | None
    activity_id: str | None
    body: Any
    authorization: str | None
    at: float = field(default_factory=time.monotonic)

    @property
    def text(self) -> str | None:
        return self.body.get("text") if isinstance(self.body, dict) else None

    @property
    def card(self) -> dict | None:
        """The first Adaptive Card attached to the activity, if any."""
        if not isinstance(self.body, dict):
            return None
        for attachment in self.body.get("attachments") or []:
            if attachment.get("contentType") == "application/vnd.microsoft.card.adaptive":
                return attachment.get("content")
        return None


@dataclass
class Failure:
    status: int
    retry_after: float | None
    remaining: int
    conversation_id: str | None
    body: dict


class FakeConnector:
    """Run with `async with FakeConnector() as connector:`; `connector.url` is the serviceUrl."""

    def __init__(self) -> None:
        self.calls: list[Call] = []
        self._failures: deque[Failure] = deque()
        self._ids = itertools.count(1)
        self._server: TestServer | None = None
        self._changed = asyncio.Event()
        self.url = ""

    async def __aenter__(self) -> "FakeConnector":
        app = web.Application()
        app.router.add_post("/v3/conversations", self._create_conversation)
        app.router.add_post("/v3/conversations/{cid}/activities", self._send)
        app.router.add_post("/v3/conversations/{cid}/activities/{aid}", self._send)
        app.router.add_put("/v3/conversations/{cid}/activities/{aid}", self._update)
        app.router.add_delete("/v3/conversations/{cid}/activities/{aid}", self._delete)
        app.router.add_get("/v3/conversations/{cid}/members/{mid}", self._member)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.url = str(self._server.make_url("/")).rstrip("/") + "/"
        return self

    async def __aexit__(self, *exc) -> None:
        if self._server is not None:
            await self._server.close()

    def fail_next(self, status: int, *, times: int = 1, retry_after: float | None = None,
                  conversation_id: str | None = None, code: str = "") -> None:
        """Answer the next `times` sends/updates (optionally only to one conversation) with `status`."""
        body = {"error": {"code": code or {403: "ConversationBlockedByUser", 429: "Throttled"}.get(status, "ServiceError"),
                          "message": "fake connector"}}
        self._failures.append(Failure(status, retry_after, times, conversation_id, body))

    def _failure_for(self, conversation_id: str | None) -> web.Response | None:
        for failure in self._failures:
            if failure.conversation_id in (None, conversation_id):
                failure.remaining -= 1
                if failure.remaining <= 0:
                    self._failures.remove(failure)
                headers = {"Retry-After": f"{failure.retry_after:g}"} if failure.retry_after is not None else {}
                return web.json_response(failure.body, status=failure.status, headers=headers)
        return None

    async def _record(self, request: web.Request) -> Call:
        raw = await request.read()
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        call = Call(request.method, request.path, request.match_info.get("cid"), request.match_info.get("aid"),
                    body, request.headers.get("Authorization"))
        self.calls.append(call)
        self._changed.set()
        return call

    async def _create_conversation(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        failed = self._failure_for(None)
        if failed is not None:
            return failed
        members = (call.body or {}).get("members") or [{}]
        return web.json_response({"id": f"a:conv-{members[0].get('id', 'x')}-{next(self._ids)}",
                                  "serviceUrl": self.url}, status=201)

    async def _send(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        failed = self._failure_for(call.conversation_id)
        if failed is not None:
            return failed
        return web.json_response({"id": f"activity-{next(self._ids)}"}, status=201)

    async def _update(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        failed = self._failure_for(call.conversation_id)
        return failed or web.json_response({"id": call.activity_id}, status=200)

    async def _delete(self, request: web.Request) -> web.Response:
        call = await self._record(request)
        failed = self._failure_for(call.conversation_id)
        return failed or web.Response(status=200)

    async def _member(self, request: web.Request) -> web.Response:
        await self._record(request)
        mid = request.match_info["mid"]
        return web.json_response({"id": mid, "name": "Test Person", "aadObjectId": f"aad-{mid}"})

    # -- what tests read --------------------------------------------------------------------

    def sent(self, conversation_id: str | None = None) -> list[Call]:
        """Activities the bot POSTed (sends and replies), optionally to one conversation."""
        return [c for c in self.calls if c.method == "POST" and c.conversation_id is not None
                and conversation_id in (None, c.conversation_id)]

    def updates(self) -> list[Call]:
        return [c for c in self.calls if c.method == "PUT"]

    async def wait_for(self, predicate: Callable[["FakeConnector"], bool], timeout: float = 5.0) -> None:
        """Wait until `predicate(self)` holds; fail the test with what was received otherwise."""
        deadline = time.monotonic() + timeout
        while not predicate(self):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"connector condition not met; calls: {[(c.method, c.path) for c in self.calls]}")
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                pass
