"""A stand-in for the Bot Framework token service: signs channel tokens, serves OpenID metadata + JWKS."""

from __future__ import annotations

import json
import time
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

ISSUER = "https://api.botframework.com"


class FakeBotFrameworkIssuer:
    """`async with FakeBotFrameworkIssuer() as issuer:` → issuer.metadata_url, issuer.token(app_id, service_url)."""

    def __init__(self, kid: str = "test-key-1", endorsements: tuple[str, ...] = ("msteams",)) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = kid
        self._endorsements = list(endorsements)
        self.metadata_requests = 0
        self._server: TestServer | None = None
        self.metadata_url = ""

    async def __aenter__(self) -> "FakeBotFrameworkIssuer":
        app = web.Application()
        app.router.add_get("/v1/.well-known/openidconfiguration", self._metadata)
        app.router.add_get("/v1/.well-known/keys", self._keys)
        self._server = TestServer(app, host="127.0.0.1")
        await self._server.start_server()
        self.metadata_url = str(self._server.make_url("/v1/.well-known/openidconfiguration"))
        return self

    async def __aexit__(self, *exc: Any) -> None:
        if self._server is not None:
            await self._server.close()

    async def _metadata(self, request: web.Request) -> web.Response:
        self.metadata_requests += 1
        return web.json_response({"issuer": ISSUER, "jwks_uri": str(self._server.make_url("/v1/.well-known/keys")),
                                  "id_token_signing_alg_values_supported": ["RS256"]})

    async def _keys(self, request: web.Request) -> web.Response:
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256", "endorsements": self._endorsements})
        return web.json_response({"keys": [jwk]})

    def token(self, app_id: str, service_url: str, *, issuer: str = ISSUER, expires_in: int = 3600,
              kid: str | None = None, key: Any = None) -> str:
        now = int(time.time())
        claims = {"iss": issuer, "aud": app_id, "iat": now, "nbf": now, "exp": now + expires_in,
                  "serviceurl": service_url}
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid})
