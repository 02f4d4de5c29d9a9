"""Validating RS256 bearer tokens against an OpenID provider's published keys, without blocking the loop.

Shared by the Bot Framework channel check (bot/auth.py) and the announcements API (Entra ID tokens).
Keys are fetched with aiohttp, cached for a day, and refreshed at most every few minutes when a token
names a key id we do not know (key rollover). No botbuilder import.
"""

from __future__ import annotations

import asyncio
import json
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any, Callable

import aiohttp
import jwt

log = logging.getLogger(__name__)

KEYS_TTL = 24 * 3600
MIN_REFRESH = 300
LEEWAY = 300


class TokenInvalid(Exception):
    """The token is missing or not acceptable; the message is a short reason, never the token."""


@dataclass(frozen=True)
class SigningKey:
    key: Any
    endorsements: tuple[str, ...]


def bearer(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer …` header."""
    if not authorization or not authorization.startswith("Bearer "):
        raise TokenInvalid("missing bearer token")
    token = authorization[len("Bearer "):].strip()
    if not token:
        raise TokenInvalid("missing bearer token")
    return token


class OpenIdKeys:
    """The signing keys behind an OpenID metadata URL (its `jwks_uri`), cached."""

    def __init__(self, metadata_url: str, *, ca_bundle: str = "", clock: Callable[[], float] = time.monotonic) -> None:
        self._metadata_url = metadata_url
        self._ssl: Any = ssl.create_default_context(cafile=ca_bundle) if ca_bundle else None
        self._clock = clock
        self._keys: dict[str, SigningKey] = {}
        self._fetched_at = float("-inf")
        self._lock = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> None:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10))

    async def stop(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def key(self, kid: str) -> SigningKey:
        """The key with id `kid`; TokenInvalid if the provider does not publish it."""
        if kid in self._keys and self._clock() - self._fetched_at < KEYS_TTL:
            return self._keys[kid]
        async with self._lock:
            stale = self._clock() - self._fetched_at
            if kid not in self._keys or stale >= KEYS_TTL:
                if stale >= MIN_REFRESH or not self._keys:
                    await self._refresh()
        if kid not in self._keys:
            raise TokenInvalid("unknown signing key")
        return self._keys[kid]

    async def _refresh(self) -> None:
        if self._session is None:
            raise TokenInvalid("validator not started")
        try:
            async with self._session.get(self._metadata_url, ssl=self._ssl) as resp:
                resp.raise_for_status()
                metadata = json.loads(await resp.text())
            async with self._session.get(metadata["jwks_uri"], ssl=self._ssl) as resp:
                resp.raise_for_status()
                jwks = json.loads(await resp.text())
        except (aiohttp.ClientError, asyncio.TimeoutError, KeyError, TypeError, ValueError) as exc:
            log.warning("openid metadata refresh failed", extra={"error": type(exc).__name__,
                                                                 "metadata_url": self._metadata_url})
            if not self._keys:
                raise TokenInvalid("signing keys unavailable") from None
            return
        keys: dict[str, SigningKey] = {}
        for jwk in jwks.get("keys", []) if isinstance(jwks, dict) else []:
            try:
                keys[jwk["kid"]] = SigningKey(jwt.algorithms.RSAAlgorithm.from_jwk(json.dumps(jwk)),
                                              tuple(jwk.get("endorsements", ())))
            except (KeyError, TypeError, ValueError, jwt.PyJWTError):
                continue
        self._keys, self._fetched_at = keys, self._clock()


class JwtValidator:
    """Checks signature (RS256, published key), expiry, issuer and audience; returns the claims."""

    def __init__(self, keys: OpenIdKeys, *, audiences: tuple[str, ...], issuers: tuple[str, ...],
                 leeway: float = LEEWAY) -> None:
        if not audiences or not issuers:
            raise ValueError("a validator needs at least one audience and one issuer")
        self._keys = keys
        self._audiences = list(audiences)
        self._issuers = list(issuers)
        self._leeway = leeway

    async def claims(self, token: str, *, check_key: Callable[[SigningKey], None] | None = None) -> dict[str, Any]:
        """The verified claims; TokenInvalid with a short reason otherwise."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            raise TokenInvalid("malformed token") from None
        if header.get("alg") != "RS256":
            raise TokenInvalid("unexpected algorithm")
        key = await self._keys.key(str(header.get("kid", "")))
        if check_key is not None:
            check_key(key)
        try:
            return jwt.decode(token, key.key, algorithms=["RS256"], audience=self._audiences, issuer=self._issuers,
                              leeway=self._leeway, options={"require": ["exp", "iss", "aud"]})
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"invalid token: {type(exc).__name__}") from None
