"""POST /api/messages: the HTTP edge. Checks the request, authenticates, hands the activity over.

Our own handler instead of `CloudAdapter.process`, which answers 500 to every invoke with a body
(botbuilder 4.17 regression). Bad input gets a 4xx with a short JSON reason, never a 500.
"""

from __future__ import annotations

import json
import logging
from typing import Any, Protocol

from aiohttp import web
from botbuilder.core import Bot
from botbuilder.schema import Activity, CallerIdConstants
from botframework.connector.auth import AuthenticateRequestResult, AuthenticationConstants, ClaimsIdentity

from bot.adapter import LotsenAdapter
from bot.auth import AuthError, BotFrameworkTokenValidator
from bot.errors import correlation_id

log = logging.getLogger(__name__)


class TokenSource(Protocol):
    async def token(self) -> str: ...


def _error(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _is_obj_with_id(value: Any) -> bool:
    return isinstance(value, dict) and isinstance(value.get("id"), str) and bool(value["id"])


def problems(body: Any) -> list[str]:
    """Why a JSON body is not an activity we can answer; empty when it is."""
    if not isinstance(body, dict):
        return ["body must be a JSON object"]
    found = []
    if not isinstance(body.get("type"), str) or not body["type"]:
        found.append("type must be a non-empty string")
    url = body.get("serviceUrl")
    if not isinstance(url, str) or not url.startswith(("https://", "http://")):
        found.append("serviceUrl must be an http(s) URL")
    for name in ("conversation", "from", "recipient"):
        if not _is_obj_with_id(body.get(name)):
            found.append(f"{name}.id must be a non-empty string")
    for name, kind in (("text", str), ("channelId", str), ("name", str), ("channelData", dict),
                       ("entities", list), ("attachments", list), ("membersAdded", list),
                       ("membersRemoved", list), ("replyToId", str), ("action", str)):
        if name in body and body[name] is not None and not isinstance(body[name], kind):
            found.append(f"{name} has the wrong type")
    return found


def tenant_in(body: dict[str, Any]) -> str:
    data = body.get("channelData") if isinstance(body.get("channelData"), dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else {}
    conversation = body.get("conversation") or {}
    return str(tenant.get("id") or conversation.get("tenantId") or "")


class MessagesEndpoint:
    """One aiohttp handler; everything it needs comes in through the constructor."""

    def __init__(self, adapter: LotsenAdapter, bot: Bot, *, validator: BotFrameworkTokenValidator | None, tokens: TokenSource | None,
                 max_body_bytes: int, allowed_tenants: tuple[str, ...]) -> None:
        self._adapter = adapter
        self._bot = bot
        self._validator = validator
        self._tokens = tokens
        self._max_body = max_body_bytes
        self._allowed_tenants = frozenset(allowed_tenants)

    async def handle(self, request: web.Request) -> web.Response:
        """Check, authenticate and process one activity."""
        if request.content_type != "application/json":
            return _error(415, "UnsupportedMediaType", "Content-Type must be application/json")
        if request.content_length is not None and request.content_length > self._max_body:
            return _error(413, "PayloadTooLarge", f"body larger than {self._max_body} bytes")
        raw = await request.read()  # the app's client_max_size turns an over-long chunked body into 413
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError):
            return _error(400, "BadRequest", "body is not valid JSON")
        found = problems(body)
        if found:
            return _error(400, "BadRequest", "; ".join(found))
        try:
            activity = Activity().deserialize(body)
        except Exception:  # msrest raises several types for shapes it cannot map
            return _error(400, "BadRequest", "body is not a valid activity")

        try:
            auth = await self._authenticate(request.headers.get("Authorization"), activity)
        except AuthError as exc:
            log.info("request rejected", extra={"reason": str(exc)})
            return _error(401, "Unauthorized", "authentication failed")
        tenant = tenant_in(body)
        if self._allowed_tenants and tenant not in self._allowed_tenants:
            log.info("foreign tenant rejected", extra={"tenant_id": tenant})
            return _error(403, "Forbidden", "tenant not allowed")

        if self._tokens is not None:
            try:
                await self._tokens.token()  # warms the cache the SDK's connector reads synchronously
            except Exception:
                code = correlation_id()
                log.exception("token acquisition failed", extra={"correlation_id": code})
                return _error(503, "Unavailable", f"try again later ({code})", **{"Retry-After": "5"})
        try:
            response = await self._adapter.process_activity(auth, activity, self._bot.on_turn)
        except Exception:
            code = correlation_id()
            log.exception("activity processing failed", extra={"correlation_id": code})
            return _error(500, "InternalError", f"internal error ({code})")
        if response is not None:
            return web.json_response(response.body, status=response.status)
        return web.Response(status=201)

    async def _authenticate(self, header: str | None, activity: Activity) -> AuthenticateRequestResult:
        if self._validator is None:  # local mode: no app id, nothing to validate against
            identity = ClaimsIdentity({}, True, AuthenticationConstants.ANONYMOUS_AUTH_TYPE)
            caller, app_id = None, None
        else:
            claims = await self._validator.validate(header, service_url=activity.service_url,
                                                    channel_id=activity.channel_id or "")
            identity, caller = ClaimsIdentity(claims, True, "Bearer"), CallerIdConstants.public_azure_channel
            app_id = claims.get("aud")
        result = AuthenticateRequestResult()
        result.claims_identity = identity
        result.audience = AuthenticationConstants.TO_CHANNEL_FROM_BOT_OAUTH_SCOPE
        result.caller_id = caller
        result.connector_factory = self._adapter.connector_factory(app_id)
        return result
