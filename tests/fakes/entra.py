"""A local stand-in for Microsoft Entra's token endpoint, served over TLS on 127.0.0.1.

Speaks what MSAL uses: OpenID configuration at `/{tenant}/v2.0/.well-known/openid-configuration`,
client-credentials grants at `/{tenant}/oauth2/v2.0/token`, and the App Service managed identity
endpoint at `/msi/token`. Counts token requests. MSAL insists on https authorities, so the fake makes
a self-signed certificate (CN/SAN 127.0.0.1 and localhost); point AUTH_CA_BUNDLE at `ca_file`.
"""

from __future__ import annotations

import datetime
import ipaddress
import itertools
import ssl
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestServer
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


def make_self_signed(directory: Path) -> tuple[Path, Path]:
    """Write a self-signed certificate for 127.0.0.1/localhost and its key; returns (cert, key)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_file, key_file = directory / "entra-cert.pem", directory / "entra-key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


async def start_tls_server(app: web.Application, cert_file: Path, key_file: Path) -> tuple[TestServer, str]:
    """`app` served over TLS on 127.0.0.1 with the self-signed certificate; returns the server and its https URL."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert_file, key_file)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server(ssl=context)
    return server, f"https://127.0.0.1:{server.port}"


@dataclass
class TokenRequest:
    """One token request as Entra saw it (the secret is kept only as 'was it right')."""

    tenant: str
    grant_type: str
    client_id: str
    scope: str
    secret_ok: bool


class FakeEntra:
    """`async with FakeEntra(tmp_path) as entra:`; `entra.url` is the AUTHORITY_HOST."""

    def __init__(self, directory: Path, *, client_id: str = "", client_secret: str = "",
                 identity_header: str = "fake-identity-header") -> None:
        self.ca_file, self._key_file = make_self_signed(directory)
        self.client_id = client_id
        self.client_secret = client_secret
        self.identity_header = identity_header
        self.expires_in = 3599
        self.token_requests: list[TokenRequest] = []
        self.issued: list[str] = []
        self.discovery_requests = 0
        self._failures: list[tuple[int, str]] = []
        self._ids = itertools.count(1)
        self._server: TestServer | None = None
        self.url = ""

    async def __aenter__(self) -> "FakeEntra":
        app = web.Application()
        app.router.add_get("/{tenant}/v2.0/.well-known/openid-configuration", self._openid)
        app.router.add_post("/{tenant}/oauth2/v2.0/token", self._token)
        app.router.add_get("/msi/token", self._msi)
        self._server, self.url = await start_tls_server(app, self.ca_file, self._key_file)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            await self._server.close()

    def fail_next(self, status: int = 401, error: str = "invalid_client") -> None:
        """Answer the next token request with an OAuth error (Entra's format)."""
        self._failures.append((status, error))

    @property
    def msi_endpoint(self) -> str:
        return f"{self.url}/msi/token"

    def _issue(self) -> dict:
        token = f"fake-access-token-{next(self._ids)}"
        self.issued.append(token)
        return {"token_type": "Bearer", "expires_in": self.expires_in, "ext_expires_in": self.expires_in,
                "access_token": token}

    async def _openid(self, request: web.Request) -> web.Response:
        self.discovery_requests += 1
        tenant, base = request.match_info["tenant"], self.url
        return web.json_response({
            "issuer": f"{base}/{tenant}/v2.0",
            "authorization_endpoint": f"{base}/{tenant}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/{tenant}/oauth2/v2.0/token",
            "jwks_uri": f"{base}/{tenant}/discovery/v2.0/keys",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "tenant_region_scope": "EU",
        })

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        secret_ok = not self.client_secret or form.get("client_secret") == self.client_secret
        self.token_requests.append(TokenRequest(
            request.match_info["tenant"], str(form.get("grant_type", "")), str(form.get("client_id", "")),
            str(form.get("scope", "")), secret_ok))
        if self._failures:
            status, error = self._failures.pop(0)
            return self._error(status, error)
        if not secret_ok or (self.client_id and form.get("client_id") != self.client_id):
            return self._error(401, "invalid_client")
        if form.get("grant_type") != "client_credentials":
            return self._error(400, "unsupported_grant_type")
        return web.json_response(self._issue())

    async def _msi(self, request: web.Request) -> web.Response:
        query = request.query
        self.token_requests.append(TokenRequest("managed_identity", "managed_identity",
                                                query.get("client_id", ""), query.get("resource", ""),
                                                request.headers.get("X-IDENTITY-HEADER") == self.identity_header))
        if request.headers.get("X-IDENTITY-HEADER") != self.identity_header:
            return web.json_response({"statusCode": 400, "message": "missing identity header"}, status=400)
        body = self._issue()
        return web.json_response({"access_token": body["access_token"], "token_type": "Bearer",
                                  "expires_on": str(int(time.time()) + self.expires_in),
                                  "resource": query.get("resource", ""), "client_id": query.get("client_id", "")})

    @staticmethod
    def _error(status: int, error: str) -> web.Response:
        description = {"invalid_client": "AADSTS7000215: Invalid client secret provided."}.get(error, "AADSTS50000: fake")
        return web.json_response({
            "error": error, "error_description": f"{description}\r\nTrace ID: 0000\r\nCorrelation ID: 1111",
            "error_codes": [7000215], "timestamp": "2026-01-01 00:00:00Z", "trace_id": "0000",
            "correlation_id": "1111"}, status=status)
