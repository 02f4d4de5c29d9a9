"""Production mode over HTTP: Bot Framework JWTs checked on the way in, one cached Entra token on the way out."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.fakes import teams
from tests.fakes.botframework import FakeBotFrameworkIssuer
from tests.fakes.entra import FakeEntra
from tests.fakes.harness import BotHarness, local_settings

APP_ID, SECRET, TENANT = "11111111-2222-4333-8444-555555555555", "not-a-real-secret", teams.TENANT


@pytest.fixture
async def prod(tmp_path):
    async with FakeBotFrameworkIssuer() as issuer, FakeEntra(tmp_path, client_id=APP_ID, client_secret=SECRET) as entra:
        settings = local_settings(
            tmp_path / "data", MicrosoftAppId=APP_ID, MicrosoftAppPassword=SECRET, MicrosoftAppTenantId=TENANT,
            STORAGE="sqlite", AUTHORITY_HOST=entra.url, AUTH_CA_BUNDLE=entra.ca_file,
            BOT_OPENID_METADATA_URL=issuer.metadata_url, ALLOWED_TENANT_IDS=TENANT)
        async with BotHarness(settings) as bot:
            bot.issuer, bot.entra = issuer, entra
            yield bot


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_valid_channel_token_is_processed_and_reply_carries_one_cached_token(prod):
    for n in range(5):
        activity = teams.message(prod.url, "hilfe")
        status, _ = await prod.post(activity, headers=bearer(prod.issuer.token(APP_ID, prod.url)))
        assert status == 201
    replies = prod.connector.sent()
    assert len(replies) == 5
    assert len(prod.entra.token_requests) == 1, "botbuilder must not fetch a token per turn"
    issued = prod.entra.issued[0]
    assert all(call.authorization == f"Bearer {issued}" for call in replies)
    assert prod.issuer.metadata_requests == 1, "signing keys are cached"


@pytest.mark.parametrize("case", ["missing", "junk", "audience", "issuer", "expired", "forged", "service_url",
                                  "unknown_kid"])
async def test_bad_tokens_get_401_and_nothing_is_processed(prod, case):
    url = prod.url
    token = {
        "missing": None,
        "junk": "junk",
        "audience": prod.issuer.token("someone-else", url),
        "issuer": prod.issuer.token(APP_ID, url, issuer="https://evil.example"),
        "expired": prod.issuer.token(APP_ID, url, expires_in=-3600),
        "forged": prod.issuer.token(APP_ID, url, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "service_url": prod.issuer.token(APP_ID, "https://other.example/"),
        "unknown_kid": prod.issuer.token(APP_ID, url, kid="nope"),
    }[case]
    status, body = await prod.post(teams.message(url, "hilfe"), headers=bearer(token) if token else None)
    assert status == 401
    assert "authentication" in body["error"]["message"]
    assert prod.connector.calls == []
    assert await prod.parts["book"].get("a:personal-29:user-1") is None


async def test_key_not_endorsed_for_the_channel_is_rejected(tmp_path):
    async with FakeBotFrameworkIssuer(endorsements=("skype",)) as issuer, \
            FakeEntra(tmp_path, client_id=APP_ID, client_secret=SECRET) as entra:
        settings = local_settings(tmp_path / "d", MicrosoftAppId=APP_ID, MicrosoftAppPassword=SECRET,
                                  MicrosoftAppTenantId=TENANT, STORAGE="sqlite", AUTHORITY_HOST=entra.url,
                                  AUTH_CA_BUNDLE=entra.ca_file, BOT_OPENID_METADATA_URL=issuer.metadata_url)
        async with BotHarness(settings) as bot:
            status, _ = await bot.post(teams.message(bot.url, "hilfe"), headers=bearer(issuer.token(APP_ID, bot.url)))
            assert status == 401


async def test_foreign_tenant_with_a_valid_token_is_403(prod):
    activity = teams.message(prod.url, "hilfe", tenant="99999999-0000-4000-8000-000000000009")
    status, _ = await prod.post(activity, headers=bearer(prod.issuer.token(APP_ID, prod.url)))
    assert status == 403
    assert prod.connector.calls == []


async def test_entra_failure_is_503_not_500(prod):
    prod.entra.fail_next(401, "invalid_client")
    status, body = await prod.post(teams.message(prod.url, "hilfe"), headers=bearer(prod.issuer.token(APP_ID, prod.url)))
    assert status == 503
    assert "secret" not in str(body).lower()
