"""A small Bot Connector v3 REST client for proactive calls.

Not botbuilder's connector: the SDK never retries POSTs and its msrest pipeline retries PUT/DELETE
on its own, so retry and throttling could not be owned in one place (bot/proactive.py).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import time
from datetime import timezone
from typing import Any
from urllib.parse import quote

import aiohttp
from yarl import URL

from entra.tokens import TokenError, TokenSource

DEFAULT_TIMEOUT = aiohttp.ClientTimeout(total=30, connect=10, sock_read=30)


class ConnectorError(Exception):
    """A connector call failed: HTTP status (0 for network/timeout/token), Retry-After, error code."""

    def __init__(self, status: int, retry_after: float | None = None, code: str = "", message: str = "") -> None:
        super().__init__(f"{status} {code}: {message}".strip())
        self.status = status
        self.retry_after = retry_after
        self.code = code
        self.message = message


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date); None if absent/invalid."""
    if not value or not value.strip():
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value.strip())
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=timezone.utc)
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _one_line(text: object, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def _error(status: int, headers: Any, raw: bytes, reason: str | None) -> ConnectorError:
    code, message = "", ""
    try:
        body = json.loads(raw) if raw else None
    except ValueError:
        body = None
    if isinstance(body, dict):
        detail = body.get("error") if isinstance(body.get("error"), dict) else body
        code, message = str(detail.get("code") or ""), str(detail.get("message") or "")
    elif raw:
        message = raw.decode("utf-8", "replace")
    return ConnectorError(status, parse_retry_after(headers.get("Retry-After")), _one_line(code, 100),
                          _one_line(message or reason or ""))


class ConnectorClient:
    """Bot Connector v3 calls with a bearer token from `provider` (None: no Authorization header)."""

    def __init__(self, provider: TokenSource | None = None, *,
                 timeout: aiohttp.ClientTimeout = DEFAULT_TIMEOUT, user_agent: str = "Lotsenbot") -> None:
        self._provider = provider
        self._timeout = timeout
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout, headers={"User-Agent": self._user_agent})

    async def stop(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            await session.close()

    async def __aenter__(self) -> "ConnectorClient":
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def post_activity(self, service_url: str, conversation_id: str, activity: dict) -> str:
        """Send an activity into a conversation; returns the new activity id."""
        body = await self._call("POST", service_url, f"v3/conversations/{_q(conversation_id)}/activities", activity)
        return str(body.get("id") or "")

    async def reply_to_activity(self, service_url: str, conversation_id: str, reply_to_id: str, activity: dict) -> str:
        """Reply to an activity (threads in channels); returns the new activity id."""
        path = f"v3/conversations/{_q(conversation_id)}/activities/{_q(reply_to_id)}"
        body = await self._call("POST", service_url, path, activity)
        return str(body.get("id") or "")

    async def update_activity(self, service_url: str, conversation_id: str, activity_id: str, activity: dict) -> str:
        """Replace a sent activity (PUT); returns its id."""
        path = f"v3/conversations/{_q(conversation_id)}/activities/{_q(activity_id)}"
        body = await self._call("PUT", service_url, path, {**activity, "id": activity_id})
        return str(body.get("id") or activity_id)

    async def delete_activity(self, service_url: str, conversation_id: str, activity_id: str) -> None:
        """Delete a sent activity."""
        await self._call("DELETE", service_url, f"v3/conversations/{_q(conversation_id)}/activities/{_q(activity_id)}")

    async def create_conversation(self, service_url: str, params: dict) -> str:
        """POST /v3/conversations (see `personal_conversation_params`); returns the conversation id."""
        body = await self._call("POST", service_url, "v3/conversations", params)
        conversation_id = body.get("id")
        if not conversation_id:
            raise ConnectorError(502, None, "BadResponse", "create conversation answered without an id")
        return str(conversation_id)

    async def _call(self, method: str, service_url: str, path: str, body: dict | None = None) -> dict:
        session = self._session
        if session is None:
            raise RuntimeError("ConnectorClient.start() was not awaited")
        # Ids are quoted by us (conversation ids carry ':', '@', ';'); yarl must not re-quote them.
        url = URL(service_url.rstrip("/") + "/" + path, encoded=True)
        headers = {}
        if self._provider is not None:
            try:
                headers["Authorization"] = f"Bearer {await self._provider.token()}"
            except TokenError as exc:
                raise ConnectorError(0, None, "TokenError", str(exc)) from None
        try:
            async with session.request(method, url, json=body, headers=headers) as response:
                raw = await response.read()
                status, reason, response_headers = response.status, response.reason, response.headers
        except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
            raise ConnectorError(0, None, type(exc).__name__, _one_line(exc) or "network error") from None
        if not 200 <= status < 300:
            raise _error(status, response_headers, raw, reason)
        try:
            parsed = json.loads(raw) if raw else {}
        except ValueError:
            parsed = {}
        return parsed if isinstance(parsed, dict) else {}


def personal_conversation_params(*, bot_id: str, member_id: str, tenant_id: str, bot_name: str = "") -> dict:
    """The body Teams expects to open (or find) the 1:1 chat between the bot and one user."""
    bot = {"id": bot_id, **({"name": bot_name} if bot_name else {})}
    return {"isGroup": False, "bot": bot, "members": [{"id": member_id}], "tenantId": tenant_id,
            "channelData": {"tenant": {"id": tenant_id}}}


def _q(value: str) -> str:
    return quote(value, safe="")
