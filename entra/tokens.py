"""App-only access tokens from Microsoft Entra: one MSAL client per process, cached per scope,
acquired off the event loop.

botbuilder 4.17 builds a new MSAL app and fetches a token synchronously on the loop for every turn
(notes: bug 3). Here one provider owns the tokens (Bot Framework, Microsoft Graph); botbuilder's
credentials (bot/tokens.py) only read its cache. No botbuilder import: routing and events use it too.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from dataclasses import dataclass
from typing import Any, Callable, Protocol

import msal
import requests

from settings import BOT_FRAMEWORK_SCOPE, Settings

log = logging.getLogger(__name__)

BOT_FRAMEWORK_RESOURCE = BOT_FRAMEWORK_SCOPE.removesuffix("/.default")
GRAPH_SCOPE = "https://graph.microsoft.com/.default"
REFRESH_MARGIN = 300.0      # seconds of validity a cached token must still have to be handed out
HTTP_TIMEOUT = 15.0


class TokenError(RuntimeError):
    """No access token could be obtained; the message is one line and carries no secret."""


class TokenSource(Protocol):
    """Anything that hands out a bearer token (by default for the Bot Connector)."""

    async def token(self, scope: str = BOT_FRAMEWORK_SCOPE) -> str: ...


@dataclass(frozen=True)
class _Token:
    value: str
    expires_at: float       # on the provider's clock


def _one_line(text: object, limit: int = 300) -> str:
    return " ".join(str(text).split())[:limit]


def _http_session(verify: bool | str) -> requests.Session:
    """A requests session that really uses `verify` and a timeout."""
    session = requests.Session()
    # requests lets REQUESTS_CA_BUNDLE override Session.verify (psf/requests#3829), so msal's
    # verify= would be ignored wherever that variable is set; per-request arguments win.
    session.request = functools.partial(session.request, verify=verify, timeout=HTTP_TIMEOUT)  # type: ignore[method-assign]
    adapter = requests.adapters.HTTPAdapter(max_retries=1)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    return session


class MsalTokenProvider:
    """The process-wide app tokens, one per scope: refreshed 5 minutes early, single-flight, in a worker thread."""

    def __init__(self, settings: Settings, *, client_factory: Callable[[], Any] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not settings.app_id:
            raise ValueError("MsalTokenProvider needs MicrosoftAppId (local mode has no tokens)")
        if settings.app_type not in ("SingleTenant", "UserAssignedMSI"):
            raise ValueError(f"MicrosoftAppType={settings.app_type} is not supported")
        self._settings = settings
        self._managed = settings.app_type == "UserAssignedMSI"
        self._client_factory = client_factory or self._build_client
        self._client: Any = None
        self._clock = clock
        self._tokens: dict[str, _Token] = {}
        self._locks: dict[str, asyncio.Lock] = {}

    async def token(self, scope: str = BOT_FRAMEWORK_SCOPE) -> str:
        """A token for `scope` valid for more than 5 minutes; at most one acquisition per scope runs."""
        fresh = self._fresh(scope)
        if fresh is not None:
            return fresh
        async with self._locks.setdefault(scope, asyncio.Lock()):
            fresh = self._fresh(scope)   # whoever held the lock may have refreshed it for us
            if fresh is not None:
                return fresh
            token = await asyncio.to_thread(self._acquire, scope)
            self._tokens[scope] = token
            return token.value

    def cached(self, scope: str = BOT_FRAMEWORK_SCOPE) -> str:
        """The cached token without any I/O; TokenError if none is cached or it has expired."""
        token = self._tokens.get(scope)
        if token is None or self._clock() >= token.expires_at:
            raise TokenError("no valid token cached for this scope (await token() first)")
        return token.value

    def _fresh(self, scope: str) -> str | None:
        token = self._tokens.get(scope)
        if token is not None and token.expires_at - self._clock() > REFRESH_MARGIN:
            return token.value
        return None

    def _acquire(self, scope: str) -> _Token:
        # Worker thread: msal does blocking HTTP, even in its constructor (OpenID discovery).
        started = self._clock()
        try:
            if self._client is None:
                self._client = self._client_factory()
            if self._managed:
                result = self._client.acquire_token_for_client(resource=scope.removesuffix("/.default"))
            else:
                result = self._client.acquire_token_for_client(scopes=[scope])
        except Exception as exc:  # msal raises assorted types (ValueError, requests errors, ...)
            raise TokenError(f"token request failed: {type(exc).__name__}: {_one_line(exc)}") from None
        if not isinstance(result, dict) or not result.get("access_token"):
            result = result if isinstance(result, dict) else {}
            # Entra puts trace/correlation ids on further lines; the first line says what is wrong.
            description = str(result.get("error_description") or "").splitlines() or [""]
            raise TokenError(f"token request refused: {result.get('error', 'unknown_error')}: "
                             f"{_one_line(description[0])}")
        expires_in = float(result.get("expires_in") or 0)
        log.info("app token acquired", extra={
            "event": "token_acquired", "scope": scope, "token_source": result.get("token_source", ""),
            "expires_in": int(expires_in)})
        return _Token(result["access_token"], started + expires_in)

    def _build_client(self) -> Any:
        s = self._settings
        if self._managed:
            return msal.ManagedIdentityClient(msal.UserAssignedManagedIdentity(client_id=s.app_id),
                                              http_client=_http_session(True))
        verify = s.auth_ca_bundle or True
        return msal.ConfidentialClientApplication(
            s.app_id, client_credential=s.app_password, authority=s.authority, instance_discovery=False,
            verify=verify, http_client=_http_session(verify))


def token_provider(settings: Settings) -> MsalTokenProvider | None:
    """The provider for production settings; None in local mode (no app id, no tokens)."""
    return MsalTokenProvider(settings) if settings.app_id else None


