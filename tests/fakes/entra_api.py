"""A stand-in for Microsoft Entra ID as seen by an API: OpenID metadata, the tenant's JWKS, and a
client-credentials token endpoint that issues RS256 access tokens with app roles. TLS on 127.0.0.1
(MSAL insists on https authorities); point AUTH_CA_BUNDLE at `ca_file`.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes.entra import make_self_signed, start_tls_server

TENANT = "00000000-0000-4000-8000-000000000001"


@dataclass(frozen=True)
class Client:
    """An app registration allowed to ask for tokens, with the app roles granted to it."""

    client_id: str
    secret: str
    roles: tuple[str, ...] = ()


class FakeEntraApi:
    """`async with FakeEntraApi(tmp_path, clients=[...]) as entra:` → entra.url, metadata_url, issuer, token()."""

    def __init__(self, directory: Path, *, clients: list[Client] = (), tenant: str = TENANT,
                 kid: str = "api-key-1") -> None:
        self.ca_file, self._key_file = make_self_signed(directory)
        self.tenant = tenant
        self.kid = kid
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self._clients = {c.client_id: c for c in clients}
        self.token_requests: list[dict[str, str]] = []
        self.key_requests = 0
        self._server: TestServer | None = None
        self.url = ""

    async def __aenter__(self) -> "FakeEntraApi":
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._metadata)
        app.router.add_get("/{tenant}/discovery/v2.0/keys", self._keys)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        self._server, self.url = await start_tls_server(app, self.ca_file, self._key_file)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    @property
    def metadata_url(self) -> str:
        return f"{self.url}/{self.tenant}/v2.0/.well-known/openid-configuration"

    @property
    def issuer(self) -> str:
        return f"{self.url}/{self.tenant}/v2.0"

    def token(self, audience: str, *, roles: tuple[str, ...] = ("Announcements.Send",), issuer: str | None = None,
              expires_in: int = 3600, key: Any = None, kid: str | None = None, azp: str = "automation-app",
              algorithm: str = "RS256") -> str:
        """An access token as Entra would issue it for an app (client credentials)."""
        now = int(time.time())
        claims: dict[str, Any] = {"iss": issuer or self.issuer, "aud": audience, "iat": now, "nbf": now,
                                  "exp": now + expires_in, "azp": azp, "tid": self.tenant, "oid": f"sp-{azp}",
                                  "sub": f"sp-{azp}", "ver": "2.0"}
        if roles:
            claims["roles"] = list(roles)
        if algorithm == "HS256":
            return jwt.encode(claims, "a-shared-secret-of-sufficient-length-32b", algorithm="HS256",
                              headers={"kid": kid or self.kid})
        return jwt.encode(claims, key or self._key, algorithm="RS256", headers={"kid": kid or self.kid})

    async def _metadata(self, request: web.Request) -> web.Response:
        tenant = request.match_info["tenant"]
        return web.json_response({
            "issuer": f"{self.url}/{tenant}/v2.0",
            "authorization_endpoint": f"{self.url}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.url}/{tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{self.url}/{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        })

    async def _keys(self, request: web.Request) -> web.Response:
        self.key_requests += 1
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self._key.public_key()))
        jwk.update({"kid": self.kid, "use": "sig", "alg": "RS256"})
        return web.json_response({"keys": [jwk]})

    async def _token(self, request: web.Request) -> web.Response:
        form = {k: str(v) for k, v in (await request.post()).items()}
        self.token_requests.append({k: v for k, v in form.items() if k != "client_secret"})
        client = self._clients.get(form.get("client_id", ""))
        if client is None or form.get("client_secret") != client.secret:
            return web.json_response({"error": "invalid_client",
                                      "error_description": "AADSTS7000215: Invalid client secret provided."},
                                     status=401)
        if form.get("grant_type") != "client_credentials":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        scope = form.get("scope", "").split()[0] if form.get("scope") else ""
        audience = scope.removesuffix("/.default")
        return web.json_response({"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
                                  "access_token": self.token(audience, roles=client.roles, azp=client.client_id)})
