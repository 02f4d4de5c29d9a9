"""A local stand-in for Microsoft Graph's users endpoint, in its real wire format.

`GET /v1.0/users/{id | userPrincipalName}` with `$select`, bearer tokens required, Graph's error bodies
(`{"error": {"code": ..., "message": ..., "innerError": {...}}}`), and injectable failures (429 with
Retry-After, 403, 5xx). Records every request so tests can count calls and check the token and $select.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer


@dataclass
class GraphRequest:
    path: str
    select: str
    authorization: str


class FakeGraph:
    """`async with FakeGraph(users) as graph:`; `graph.url` is the GRAPH_BASE_URL."""

    def __init__(self, users: list[dict[str, Any]] | None = None) -> None:
        self.users = list(users or [])
        self.requests: list[GraphRequest] = []
        self._failures: list[tuple[int, str | None]] = []
        self._ids = itertools.count(1)
        self._server: TestServer | None = None
        self.url = ""

    async def __aenter__(self) -> "FakeGraph":
        app = web.Application()
        app.router.add_get("/v1.0/users/{id}", self._user)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.url = str(self._server.make_url("")).rstrip("/")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    def fail_next(self, status: int, retry_after: str | None = None) -> None:
        self._failures.append((status, retry_after))

    async def _user(self, request: web.Request) -> web.Response:
        wanted = request.match_info["id"]
        select = request.query.get("$select", "")
        auth = request.headers.get("Authorization", "")
        self.requests.append(GraphRequest(request.path, select, auth))
        if not auth.startswith("Bearer ") or len(auth) <= len("Bearer "):
            return self._error(401, "InvalidAuthenticationToken", "Access token is empty.")
        if self._failures:
            status, retry_after = self._failures.pop(0)
            code = {429: "TooManyRequests", 403: "Authorization_RequestDenied"}.get(status, "generalException")
            return self._error(status, code, "fake failure", {"Retry-After": retry_after} if retry_after else {})
        user = next((u for u in self.users if wanted.casefold() in
                     (u["id"].casefold(), u.get("userPrincipalName", "").casefold())), None)
        if user is None:
            return self._error(404, "Request_ResourceNotFound",
                               f"Resource '{wanted}' does not exist or one of its queried reference-property "
                               "objects are not present.")
        fields = [f for f in select.split(",") if f] or ["id", "displayName", "userPrincipalName", "mail"]
        body = {"@odata.context": f"https://graph.microsoft.com/v1.0/$metadata#users({','.join(fields)})/$entity"}
        body.update({f: user.get(f) for f in fields})
        return web.json_response(body)

    def _error(self, status: int, code: str, message: str, headers: dict | None = None) -> web.Response:
        request_id = f"00000000-0000-0000-0000-{next(self._ids):012d}"
        return web.json_response({"error": {"code": code, "message": message, "innerError": {
            "date": "2026-11-24T09:00:00", "request-id": request_id, "client-request-id": request_id}}},
            status=status, headers=headers or {})
