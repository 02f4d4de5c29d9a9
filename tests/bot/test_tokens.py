"""Token provider and botbuilder credentials against a fake Entra over TLS (127.0.0.1 only)."""

from __future__ import annotations

import asyncio
import socket
import threading
from types import SimpleNamespace

import msal
import pytest
from botbuilder.integration.aiohttp import ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ChannelAccount, ConversationAccount
from botframework.connector.auth import AuthenticationConstants, ClaimsIdentity

from bot.connector import ConnectorClient
from bot.proactive import ProactiveSender
from bot.throttle import RateLimiter
from bot.tokens import BotCredentialsFactory
from entra.tokens import MsalTokenProvider, TokenError, token_provider
from dialogs.context import Message
from settings import BOT_FRAMEWORK_SCOPE, Settings
from storage.conversations import ConversationRecord
from tests.fakes.entra import FakeEntra

APP_ID, SECRET, TENANT = "00000000-0000-0000-0000-00000000a99", "not-a-real-secret", "tenant-1"


@pytest.fixture
async def entra(tmp_path):
    async with FakeEntra(tmp_path, client_id=APP_ID, client_secret=SECRET) as fake:
        yield fake


@pytest.fixture
def settings(entra):
    return Settings(app_id=APP_ID, app_password=SECRET, tenant_id=TENANT, authority_host=entra.url,
                    auth_ca_bundle=str(entra.ca_file))


class FakeMsal:
    """Stands in for an msal client: counts calls and the threads they ran on."""

    def __init__(self, expires_in: float = 3599) -> None:
        self.calls: list[int] = []
        self.expires_in = expires_in
        self.result: dict | None = None

    def acquire_token_for_client(self, **kwargs) -> dict:
        self.calls.append(threading.get_ident())
        return self.result or {"access_token": f"token-{len(self.calls)}", "expires_in": self.expires_in}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_many_proactive_sends_cost_one_token_request(entra, settings, connector, book):
    provider = MsalTokenProvider(settings)
    for n in range(25):
        await book.remember(ConversationRecord(f"a:conv-{n}", connector.url, TENANT, "personal", "28:bot"))
    async with ConnectorClient(provider) as client:
        sender = ProactiveSender(client, book, RateLimiter(1000, burst=100), bot_id="28:bot")
        deliveries = await asyncio.gather(*(sender.send(f"a:conv-{n}", Message(text=f"Hallo {n}"))
                                            for n in range(25)))
    assert [d.status for d in deliveries] == ["sent"] * 25
    assert len(entra.token_requests) == 1
    request = entra.token_requests[0]
    assert (request.tenant, request.grant_type, request.client_id, request.scope, request.secret_ok) == (
        TENANT, "client_credentials", APP_ID, BOT_FRAMEWORK_SCOPE, True)
    assert len(connector.sent()) == 25
    assert {call.authorization for call in connector.calls} == {f"Bearer {entra.issued[0]}"}


async def test_near_expiry_token_is_refreshed_once_for_concurrent_callers(entra, settings):
    provider = MsalTokenProvider(settings)
    entra.expires_in = 200          # less than the 5-minute margin: stale at once
    first = await provider.token()
    entra.expires_in = 3599
    tokens = await asyncio.gather(*(provider.token() for _ in range(10)))
    assert len(entra.token_requests) == 2
    assert set(tokens) == {entra.issued[1]} and first == entra.issued[0]
    assert await provider.token() == entra.issued[1] and len(entra.token_requests) == 2


async def test_token_is_cached_until_five_minutes_before_expiry():
    clock, fake = Clock(), FakeMsal(expires_in=3600)
    provider = MsalTokenProvider(Settings(app_id=APP_ID, app_password=SECRET, tenant_id=TENANT),
                                 client_factory=lambda: fake, clock=clock)
    assert await provider.token() == "token-1"
    clock.now += 3299               # 301 s left
    assert await provider.token() == "token-1" and provider.cached() == "token-1"
    clock.now += 2                  # 299 s left: refresh, once, for everyone waiting
    assert set(await asyncio.gather(*(provider.token() for _ in range(8)))) == {"token-2"}
    assert len(fake.calls) == 2


async def test_acquisition_runs_off_the_event_loop(entra, settings, monkeypatch):
    threads: list[int] = []
    original = msal.ConfidentialClientApplication.acquire_token_for_client

    def spy(self, *args, **kwargs):
        threads.append(threading.get_ident())
        return original(self, *args, **kwargs)

    monkeypatch.setattr(msal.ConfidentialClientApplication, "acquire_token_for_client", spy)
    await MsalTokenProvider(settings).token()
    assert threads and threading.get_ident() not in threads
    assert entra.discovery_requests == 1   # msal's constructor did OpenID discovery, also in the worker


async def test_cached_needs_a_token_and_refuses_an_expired_one():
    clock, fake = Clock(), FakeMsal(expires_in=600)
    provider = MsalTokenProvider(Settings(app_id=APP_ID, app_password=SECRET, tenant_id=TENANT),
                                 client_factory=lambda: fake, clock=clock)
    with pytest.raises(TokenError):
        provider.cached()
    await provider.token()
    clock.now += 600
    with pytest.raises(TokenError):
        provider.cached()
    assert fake.calls and fake.calls[0] != threading.get_ident()


async def test_refused_credentials_become_a_one_line_token_error(entra, settings):
    entra.fail_next(401, "invalid_client")
    with pytest.raises(TokenError) as caught:
        await MsalTokenProvider(settings).token()
    message = str(caught.value)
    assert "invalid_client" in message and "AADSTS7000215" in message
    assert "\n" not in message and "\r" not in message and SECRET not in message


async def test_unreachable_authority_becomes_a_token_error(tmp_path):
    with socket.socket() as probe:            # a port that nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = Settings(app_id=APP_ID, app_password=SECRET, tenant_id=TENANT,
                        authority_host=f"https://127.0.0.1:{port}")
    with pytest.raises(TokenError, match="token request failed"):
        await MsalTokenProvider(settings).token()


async def test_user_assigned_managed_identity(entra, monkeypatch):
    for name in ("IMDS_ENDPOINT", "MSI_ENDPOINT", "MSI_SECRET", "IDENTITY_SERVER_THUMBPRINT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("IDENTITY_ENDPOINT", entra.msi_endpoint)     # App Service managed identity
    monkeypatch.setenv("IDENTITY_HEADER", entra.identity_header)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(entra.ca_file))
    provider = MsalTokenProvider(Settings(app_id=APP_ID, app_type="UserAssignedMSI", tenant_id=TENANT))
    assert await provider.token() == entra.issued[0]
    assert await provider.token() == entra.issued[0]
    assert [(r.client_id, r.scope, r.secret_ok) for r in entra.token_requests] == [
        (APP_ID, "https://api.botframework.com", True)]


def test_local_settings_have_no_provider():
    assert token_provider(Settings()) is None
    with pytest.raises(ValueError):
        MsalTokenProvider(Settings())


async def test_credentials_factory_without_app_id_is_anonymous():
    factory = BotCredentialsFactory("", None)
    assert await factory.is_authentication_disabled()
    assert not await factory.is_valid_app_id("")
    credentials = await factory.create_credentials("", BOT_FRAMEWORK_SCOPE, "", True)
    session = credentials.signed_session()
    assert "Authorization" not in session.headers


async def test_credentials_factory_serves_the_cached_token(entra, settings):
    provider = MsalTokenProvider(settings)
    factory = BotCredentialsFactory(APP_ID, provider)
    assert not await factory.is_authentication_disabled()
    assert await factory.is_valid_app_id(APP_ID) and not await factory.is_valid_app_id("other")
    for _ in range(3):      # one per turn in botbuilder
        credentials = await factory.create_credentials(
            APP_ID, "https://api.botframework.com", AuthenticationConstants.TO_CHANNEL_FROM_BOT_LOGIN_URL_PREFIX, True)
        assert credentials.signed_session().headers["Authorization"] == f"Bearer {entra.issued[0]}"
    assert len(entra.token_requests) == 1
    with pytest.raises(PermissionError):
        await factory.create_credentials("other", BOT_FRAMEWORK_SCOPE, "", True)
    with pytest.raises(PermissionError):
        await factory.create_credentials(APP_ID, "api://some-skill", "", True)


async def test_botbuilder_connector_uses_the_shared_token(entra, settings, connector):
    factory = BotCredentialsFactory(APP_ID, MsalTokenProvider(settings))
    config = SimpleNamespace(APP_ID=APP_ID, APP_PASSWORD=SECRET, APP_TYPE="SingleTenant", APP_TENANTID=TENANT)
    auth = ConfigurationBotFrameworkAuthentication(config, credentials_factory=factory)
    identity = ClaimsIdentity({AuthenticationConstants.AUDIENCE_CLAIM: APP_ID}, True)
    for turn in range(3):
        async with await auth.create_connector_factory(identity).create(connector.url, None) as client:
            await client.conversations.send_to_conversation("a:conv-1", Activity(
                type="message", text=f"turn {turn}", from_property=ChannelAccount(id="28:bot"),
                conversation=ConversationAccount(id="a:conv-1")))
    assert len(connector.sent("a:conv-1")) == 3
    assert {call.authorization for call in connector.calls} == {f"Bearer {entra.issued[0]}"}
    assert len(entra.token_requests) == 1
