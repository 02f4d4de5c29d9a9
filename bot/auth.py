"""Validates the Bot Framework JWT on incoming activities, without blocking the event loop.

botbuilder's own validator fetches OpenID metadata with `requests.get` on the loop; this one uses
aiohttp, caches the signing keys and refreshes them at most every few minutes on an unknown key id.
Rules follow the Bot Framework connector authentication spec: RS256, issuer, audience = our app id,
a key endorsed for the channel, and the `serviceurl` claim equal to the activity's serviceUrl.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass
from typing import Any

import aiohttp
import jwt

log = logging.getLogger(__name__)

_KEYS_TTL = 24 * 3600
_MIN_REFRESH = 300
_LEEWAY = 300


class AuthError(Exception):
    """The request is not authenticated as coming from the Bot Framework channel."""


@dataclass(frozen=True)
class _Key:
    key: Any
    endorsements: tuple[str, ...]


class BotFrameworkTokenValidator:
    """Checks `Authorization: Bearer ...` against the channel's published keys."""

    def __init__(self, app_id: str, metadata_url: str, issuers: tuple[str, ...], *,
                 ca_bundle: str = "") -> None:
        self._app_id = app_id
        self._metadata_url = metadata_url
        self._issuers = issuers
        self._ssl: Any = None
        if ca_bundle:
            import ssl
            self._ssl = ssl.create_default_context(cafile=ca_bundle)
        self._keys: dict[str, _Key] = {}
        self._fetched_at = 0.0
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def validate(self, authorization: str | None, *, service_url: str, channel_id: str) -> dict[str, Any]:
        """The token's claims, or AuthError with a short reason (never the token itself)."""
        if not authorization or not authorization.startswith("Bearer "):
            raise AuthError("missing bearer token")
        token = authorization[len("Bearer "):].strip()
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise AuthError("malformed token") from None
        if header.get("alg") != "RS256":
            raise AuthError("unexpected algorithm")
        key = await self._key(header.get("kid", ""))
        if key.endorsements and channel_id and channel_id not in key.endorsements:
            raise AuthError("key not endorsed for this channel")
        try:
            claims = jwt.decode(token, key.key, algorithms=["RS256"], audience=self._app_id,
                                issuer=list(self._issuers), leeway=_LEEWAY,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise AuthError(f"invalid token: {type(exc).__name__}") from None
        claimed_url = claims.get("serviceurl") or claims.get("serviceUrl")
        if claimed_url and claimed_url.rstrip("/") != service_url.rstrip("/"):
            raise AuthError("serviceUrl does not match the token")
        return claims

    async def _key(self, kid: str) -> _Key:
        if kid in self._keys and time.monotonic() - self._fetched_at < _KEYS_TTL:
            return self._keys[kid]
        async with self._lock:
            stale = time.monotonic() - self._fetched_at
            if kid not in self._keys or stale >= _KEYS_TTL:
                if stale >= _MIN_REFRESH or not self._keys:
                    await self._refresh()
        if kid not in self._keys:
            raise AuthError("unknown signing key")
        return self._keys[kid]

    async def _refresh(self) -> None:
        if self._session is None:
            raise AuthError("validator not started")
        try:
            async with self._session.get(self._metadata_url, ssl=self._ssl) as resp:
                resp.raise_for_status()
                metadata = json.loads(await resp.text())
            async with self._session.get(metadata["jwks_uri"], ssl=self._ssl) as resp:
                resp.raise_for_status()
                jwks = json.loads(await resp.text())
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, ValueError) as exc:
            log.warning("openid metadata refresh failed", extra={"error": type(exc).__name__})
            if not self._keys:
                raise AuthError("signing keys unavailable") from None
            return
        keys: dict[str, _Key] = {}
        for jwk in jwks.get("keys", []):
            try:
                keys[jwk["kid"]] = _Key(jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)),
                                        tuple(jwk.get("endorsements", ())))
            except (KeyError, ValueError, jwt.PyJWTError):
                continue
        self._keys, self._fetched_at = keys, time.monotonic()
