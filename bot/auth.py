"""Validates the Bot Framework JWT on incoming activities, without blocking the event loop.

botbuilder's own validator fetches OpenID metadata with `requests.get` on the loop; this one uses the
shared async key cache of entra/jwt.py (aiohttp, keys cached, refreshed at most every few minutes on an
unknown key id). Rules follow the Bot Framework connector authentication spec: RS256, issuer, audience =
our app id, a key endorsed for the channel, and the `serviceurl` claim equal to the activity's serviceUrl.
"""

from __future__ import annotations

from typing import Any

from entra.jwt import JwtValidator, OpenIdKeys, SigningKey, TokenInvalid, bearer


class AuthError(Exception):
    """The request is not authenticated as coming from the Bot Framework channel."""


class BotFrameworkTokenValidator:
    """Checks `Authorization: Bearer ...` against the channel's published keys."""

    def __init__(self, app_id: str, metadata_url: str, issuers: tuple[str, ...], *,
                 ca_bundle: str = "") -> None:
        self._keys = OpenIdKeys(metadata_url, ca_bundle=ca_bundle)
        self._jwt = JwtValidator(self._keys, audiences=(app_id,), issuers=tuple(issuers))

    async def start(self) -> None:
        await self._keys.start()

    async def stop(self) -> None:
        await self._keys.stop()

    async def validate(self, authorization: str | None, *, service_url: str, channel_id: str) -> dict[str, Any]:
        """The token's claims, or AuthError with a short reason (never the token itself)."""

        def endorsed(key: SigningKey) -> None:
            if key.endorsements and channel_id and channel_id not in key.endorsements:
                raise TokenInvalid("key not endorsed for this channel")

        try:
            claims = await self._jwt.claims(bearer(authorization), check_key=endorsed)
        except TokenInvalid as exc:
            raise AuthError(str(exc)) from None
        claimed_url = claims.get("serviceurl") or claims.get("serviceUrl")
        if claimed_url and claimed_url.rstrip("/") != service_url.rstrip("/"):
            raise AuthError("serviceUrl does not match the token")
        return claims
