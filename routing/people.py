"""Who is asking: the requester's department (and mail for the chat link) from Microsoft Graph, or from
what the person told the bot.

Graph: `GET /v1.0/users/{id}?$select=...` with an app token (client credentials, `User.Read.All`), from the
process-wide token provider (cached, acquired off the event loop). Local mode has no Graph. When Graph is
off or has no department, the bot asks once ("In welchem Amt arbeiten Sie?") and remembers the answer in the
"users" container; what a person states wins over Graph, and they can change it ("mein amt …").
"""

from __future__ import annotations

import asyncio
import logging
import time
from dataclasses import dataclass
from typing import Callable, Literal
from urllib.parse import quote

import aiohttp

from entra.tokens import GRAPH_SCOPE, TokenError, TokenSource
from storage.base import Conflict, Container, PreconditionFailed

log = logging.getLogger(__name__)

PARTITION = "department"
SELECT = "id,displayName,userPrincipalName,mail,department"
GRAPH_CACHE_SECONDS = 7 * 86400.0
MAX_DEPARTMENT = 120
DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=8, connect=4)


@dataclass(frozen=True)
class Profile:
    """What Graph says about a user."""

    aad_id: str
    name: str = ""
    upn: str = ""
    department: str = ""


class GraphPeople:
    """Reads user profiles from Microsoft Graph. Failures are logged and answered with None."""

    def __init__(self, tokens: TokenSource, base_url: str = "https://graph.microsoft.com", *,
                 timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT, ssl: bool | object = True) -> None:
        self._tokens = tokens
        self._base = base_url.rstrip("/")
        self._timeout = timeout
        self._ssl = ssl
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": "Lotsenbot"})

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def profile(self, user: str) -> Profile | None:
        """The profile of a user by Entra object id or UPN; None if unknown or Graph cannot answer."""
        if not user or self._session is None:
            return None
        try:
            token = await self._tokens.token(GRAPH_SCOPE)
        except TokenError as exc:
            log.warning("no Graph token", extra={"event": "graph_token_failed", "error": str(exc)})
            return None
        url = f"{self._base}/v1.0/users/{quote(user, safe='@')}"
        try:
            async with self._session.get(url, params={"$select": SELECT}, ssl=self._ssl,
                                         headers={"Authorization": f"Bearer {token}"}) as response:
                status = response.status
                body = await response.json(content_type=None) if status == 200 else await response.read()
        except (aiohttp.ClientError, asyncio.TimeoutError, ValueError) as exc:
            log.warning("Graph request failed", extra={"event": "graph_failed", "error": type(exc).__name__})
            return None
        if status != 200 or not isinstance(body, dict):
            # 404: not in this tenant; 403: the app lacks User.Read.All; 429/5xx: try again next time.
            log.log(logging.INFO if status == 404 else logging.WARNING, "Graph user lookup answered %s", status,
                    extra={"event": "graph_user_lookup", "http_status": status})
            return None
        return Profile(aad_id=str(body.get("id") or ""), name=str(body.get("displayName") or ""),
                       upn=str(body.get("userPrincipalName") or body.get("mail") or ""),
                       department=" ".join(str(body.get("department") or "").split())[:MAX_DEPARTMENT])


@dataclass(frozen=True)
class KnownDepartment:
    department: str                 # "" when nobody knows
    upn: str = ""
    source: Literal["stated", "graph", "none"] = "none"


class Departments:
    """The department of a person: what they told us, else Graph (cached for a week), else unknown."""

    def __init__(self, container: Container, graph: GraphPeople | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self._container = container
        self._graph = graph
        self._clock = clock

    @property
    def asks(self) -> bool:
        """Whether the bot has to ask people for their department (no Graph)."""
        return self._graph is None

    async def of(self, key: str, aad_id: str = "") -> KnownDepartment:
        """The department of the person with this key (Entra object id, else Teams id)."""
        doc = await self._container.read(key, PARTITION) if key else None
        stored = doc.body if doc else {}
        if stored.get("stated"):
            return KnownDepartment(stored["stated"], stored.get("upn", ""), "stated")
        now = self._clock()
        if stored.get("graph_at", 0) > now - GRAPH_CACHE_SECONDS:
            return KnownDepartment(stored.get("graph", ""), stored.get("upn", ""),
                                   "graph" if stored.get("graph") else "none")
        if self._graph is None or not aad_id:
            return KnownDepartment("")
        profile = await self._graph.profile(aad_id)
        if profile is None:
            return KnownDepartment(stored.get("graph", ""), stored.get("upn", ""),
                                   "graph" if stored.get("graph") else "none")
        await self._merge(key, graph=profile.department, upn=profile.upn, graph_at=now)
        return KnownDepartment(profile.department, profile.upn, "graph" if profile.department else "none")

    async def remember(self, key: str, department: str) -> str:
        """Store what the person said about their department; returns the cleaned text."""
        cleaned = " ".join(department.split())[:MAX_DEPARTMENT]
        await self._merge(key, stated=cleaned, stated_at=self._clock())
        return cleaned

    async def _merge(self, key: str, **fields: object) -> None:
        # Only the person's own turns write here, but two quick clicks can still overlap: merge, don't clobber.
        for _ in range(5):
            doc = await self._container.read(key, PARTITION)
            body = {**(doc.body if doc else {}), **fields}
            try:
                if doc is None:
                    await self._container.create(key, PARTITION, body)
                else:
                    await self._container.replace(key, PARTITION, body, etag=doc.etag)
                return
            except (PreconditionFailed, Conflict):
                continue
        log.warning("department not stored", extra={"event": "department_not_stored"})
