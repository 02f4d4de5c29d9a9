"""The push API over HTTP: Entra tokens checked (401/403), events validated (400), good ones sent (202);
the calendar file and the CSV export behind their secrets; the CLI with a real msal client-credentials token.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
from urllib.parse import urlsplit

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from events import cli
from events.models import BERLIN
from tests.events.announce_kit import dump, form, install, install_channel, is_event_card, parts
from tests.fakes.entra_api import Client, FakeEntraApi
from tests.fakes.harness import BotHarness, local_settings

AUDIENCE = "api://lotsenbot-test"


def api_event(days: int = 10, **changes) -> dict:
    values = form(days)
    event = {k: values[k] for k in ("title", "date", "start", "end", "place", "link", "description")}
    event.update({"capacity": 20, "audience": {"users": "all"}})
    event.update(changes)
    return event


@pytest.fixture
async def api(tmp_path):
    clients = [Client("automation-app", "s3cret", ("Announcements.Send",)), Client("reader-app", "pw", ())]
    async with FakeEntraApi(tmp_path, clients=clients) as entra:
        settings = local_settings(tmp_path / "data", ANNOUNCEMENTS_OPENID_METADATA_URL=entra.metadata_url,
                                  ANNOUNCEMENTS_TOKEN_ISSUERS=entra.issuer, ANNOUNCEMENTS_API_AUDIENCES=AUDIENCE,
                                  AUTH_CA_BUNDLE=entra.ca_file)
        async with BotHarness(settings) as bot:
            bot.entra = entra
            yield bot


async def post(bot, body, token: str | None, **headers: str):
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    resp = await bot.client.post("/api/announcements", data=data, headers={"Content-Type": "application/json", **headers})
    return resp.status, await resp.json(content_type=None)


@pytest.mark.parametrize("case", ["missing", "junk", "expired", "audience", "issuer", "forged", "unknown_kid", "hs256",
                                  "not_bearer"])
async def test_bad_tokens_get_401_and_nothing_is_stored(api, case):
    entra = api.entra
    token = {
        "missing": None, "junk": "junk.junk.junk", "not_bearer": None,
        "expired": entra.token(AUDIENCE, expires_in=-3600),
        "audience": entra.token("api://someone-else"),
        "issuer": entra.token(AUDIENCE, issuer="https://login.microsoftonline.com/evil/v2.0"),
        "forged": entra.token(AUDIENCE, key=rsa.generate_private_key(public_exponent=65537, key_size=2048)),
        "unknown_kid": entra.token(AUDIENCE, kid="other-key"),
        "hs256": entra.token(AUDIENCE, algorithm="HS256"),
    }[case]
    headers = {"Authorization": "Basic dXNlcjpwdw=="} if case == "not_bearer" else {}
    status, body = await post(api, api_event(), token, **headers)
    assert status == 401, body
    assert body["error"]["code"] == "unauthorized"
    assert await parts(api)["announcements"].recent() == []


async def test_valid_token_without_the_app_role_is_403(api):
    status, body = await post(api, api_event(), api.entra.token(AUDIENCE, roles=()))
    assert status == 403 and "Announcements.Send" in body["error"]["message"]
    status, _ = await post(api, api_event(), api.entra.token(AUDIENCE, roles=("Announcements.Read",)))
    assert status == 403
    resp = await api.client.get("/api/announcements/abc", headers={"Authorization": f"Bearer {api.entra.token(AUDIENCE, roles=())}"})
    assert resp.status == 403


@pytest.mark.parametrize("body, fields", [
    (b"{not json", [""]),
    ([1, 2], [""]),
    ({"title": "", "date": "2020-01-01", "start": "16:00", "end": "15:00"}, ["title", "date", "end"]),
    ({"title": "x" * 200, "link": "http://x"}, ["title", "link"]),
    ({"title": "Gut", "colour": "blau", "audience": {"users": "all", "teams": ["x"]}}, ["colour", "audience.teams"]),
    ({"title": "Gut", "audience": {"users": "none", "channels": ["19:unknown@thread.tacv2"]}}, ["channels"]),
    ({"title": "Gut", "send_at": "gestern"}, ["send_at"]),
    ({"title": "Gut", "capacity": "viele", "deadline": 5}, ["deadline", "capacity"]),
])
async def test_bad_events_get_400_with_a_list_of_errors(api, body, fields):
    status, answer = await post(api, body, api.entra.token(AUDIENCE))
    assert status == 400
    assert sorted(e["field"] for e in answer["errors"]) == sorted(fields)
    assert all(e["message"] for e in answer["errors"])
    assert await parts(api)["announcements"].recent() == []


async def test_good_event_is_accepted_sent_to_everyone_and_its_status_readable(api):
    for n in (2, 3, 4):
        await install(api, n)
    await install_channel(api, "19:general@thread.tacv2")
    event = api_event(audience={"users": "all", "channels": ["19:general@thread.tacv2"]})
    status, body = await post(api, event, api.entra.token(AUDIENCE))
    assert status == 202, body
    id = body["id"]
    assert body["status"] == "sent" and body["status_url"] == f"/api/announcements/{id}"
    targets = {"a:personal-29:user-2", "a:personal-29:user-3", "a:personal-29:user-4", "19:general@thread.tacv2"}
    await api.connector.wait_for(lambda c: {x.conversation_id for x in c.sent() if is_event_card(x.card, id)} == targets)
    token = api.entra.token(AUDIENCE)
    for _ in range(100):
        resp = await api.client.get(f"/api/announcements/{id}", headers={"Authorization": f"Bearer {token}"})
        state = await resp.json()
        if state["progress"]["done"]:
            break
        await asyncio.sleep(0.05)
    assert resp.status == 200
    assert state["progress"]["total"] == 4 and state["progress"]["sent"] == 4 and state["progress"]["failed"] == 0
    assert state["registrations"] == {"participants": 0, "waiting": 0, "capacity": 20, "free": 20}
    assert state["event"]["title"] == event["title"]
    resp = await api.client.get("/api/announcements/doesnotexist", headers={"Authorization": f"Bearer {token}"})
    assert resp.status == 404


async def test_the_same_idempotency_key_gives_one_announcement(api):
    await install(api, 2)
    token = api.entra.token(AUDIENCE)
    first = await post(api, api_event(), token, **{"Idempotency-Key": "run-42"})
    second = await post(api, api_event(), token, **{"Idempotency-Key": "run-42"})
    assert first[0] == 202 and second[0] == 200 and first[1]["id"] == second[1]["id"]
    engine = parts(api)["engine"]
    while not (await engine.progress(f"{first[1]['id']}-send")).done:
        await asyncio.sleep(0.02)
    assert sum(is_event_card(x.card, first[1]["id"]) for x in api.connector.sent()) == 1


async def test_scheduled_announcement_waits_for_its_time(api):
    await install(api, 2)
    send_at = (dt.datetime.now(BERLIN) + dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M")
    status, body = await post(api, api_event(send_at=send_at), api.entra.token(AUDIENCE))
    assert status == 202 and body["status"] == "scheduled" and body["progress"] is None
    scheduler, clock = parts(api)["scheduler"], parts(api)["clock"]
    assert await scheduler.run_due() == 0
    clock.shift(2 * 86400)
    assert await scheduler.run_due() == 1
    await api.connector.wait_for(lambda c: any(is_event_card(x.card, body["id"]) for x in c.sent()))


async def test_api_is_503_when_not_configured(tmp_path):
    async with BotHarness(local_settings(tmp_path)) as bot:
        resp = await bot.client.post("/api/announcements", json=api_event())
        assert resp.status == 503


async def test_calendar_file_and_csv_export_need_their_secrets(api):
    status, body = await post(api, api_event(), api.entra.token(AUDIENCE))
    ann = await parts(api)["announcements"].get(body["id"])
    link = urlsplit(body["calendar_url"])
    assert link.path == f"/api/events/{ann.id}/{ann.ics_token}.ics" and len(ann.ics_token) >= 32
    resp = await api.client.get(link.path)
    assert resp.status == 200 and resp.content_type == "text/calendar"
    text = await resp.text()
    assert text.startswith("BEGIN:VCALENDAR\r\n") and "SUMMARY:Vernetzungstreffen der Digitallots*innen" in text
    assert (await api.client.get(f"/api/events/{ann.id}/{ann.ics_token[:-1]}x.ics")).status == 404
    assert (await api.client.get(f"/api/events/nope/{ann.ics_token}.ics")).status == 404

    publisher = parts(api)["publisher"]
    from events.rsvp import Attendee
    await publisher.rsvp(ann.id, Attendee("aad-9", "29:u9", "aad-9", "=HYPERLINK(\"x\")"), "yes")
    csv_url = urlsplit(publisher.cards.links.csv(ann, publisher.clock()))
    resp = await api.client.get(f"{csv_url.path}?{csv_url.query}")
    assert resp.status == 200 and resp.content_type == "text/csv"
    body = (await resp.read()).decode("utf-8")
    rows = list(csv.reader(io.StringIO(body.removeprefix("\ufeff")), delimiter=";"))
    assert body.startswith("\ufeff") and rows[0][:3] == ["Status", "Platz auf der Warteliste", "Name"]
    assert rows[1][:4] == ["Teilnahme", "", "'=HYPERLINK(\"x\")", "aad-9"], "no formula injection"
    tampered = csv_url.query.replace("sig=", "sig=0")
    assert (await api.client.get(f"{csv_url.path}?{tampered}")).status == 404
    parts(api)["clock"].shift(16 * 60)
    assert (await api.client.get(f"{csv_url.path}?{csv_url.query}")).status == 404


async def test_cli_posts_a_yaml_file_with_a_client_credentials_token(api, tmp_path, monkeypatch):
    await install(api, 2)
    day = form(12)["date"]
    path = tmp_path / "treffen.yaml"
    path.write_text(f"title: Digitalfrühstück\ndate: {day}\nstart: 09:00\nend: 10:30\nplace: Kantine\n"
                    f"capacity: 15\naudience:\n  users: all\n", encoding="utf-8")
    monkeypatch.setenv("ANNOUNCE_CLIENT_SECRET", "s3cret")
    args = ["--url", str(api.client.make_url("")).rstrip("/"), "--tenant", api.entra.tenant,
            "--client-id", "automation-app", "--scope", f"{AUDIENCE}/.default", "--authority-host", api.entra.url,
            "--ca-bundle", str(api.entra.ca_file), "post", str(path)]
    assert await asyncio.to_thread(cli.main, args) == 0
    assert await asyncio.to_thread(cli.main, args) == 0      # the same file again: still one announcement
    [ann] = await parts(api)["announcements"].recent()
    assert ann.event.title == "Digitalfrühstück" and ann.event.start == dt.time(9, 0) and ann.author.app_id == "automation-app"
    assert api.entra.token_requests[0]["grant_type"] == "client_credentials"
    await api.connector.wait_for(lambda c: any(is_event_card(x.card, ann.id) for x in c.sent()))

    bad = tmp_path / "kaputt.json"
    bad.write_text(json.dumps({"title": "", "date": "2001-01-01"}), encoding="utf-8")
    assert await asyncio.to_thread(cli.main, args[:-1] + [str(bad)]) == 1
    monkeypatch.setenv("ANNOUNCE_CLIENT_SECRET", "wrong")
    assert await asyncio.to_thread(cli.main, args) == 2
    reader = args[:]
    reader[reader.index("automation-app")] = "reader-app"
    monkeypatch.setenv("ANNOUNCE_CLIENT_SECRET", "pw")
    assert await asyncio.to_thread(cli.main, reader) == 2    # no app role: 403


def test_cli_names_what_is_missing(monkeypatch, capsys):
    for name in ("LOTSENBOT_URL", "ANNOUNCE_TENANT_ID", "ANNOUNCE_CLIENT_ID", "ANNOUNCE_CLIENT_SECRET", "ANNOUNCE_SCOPE"):
        monkeypatch.delenv(name, raising=False)
    assert cli.main(["post", "x.yaml"]) == 2
    assert "ANNOUNCE_CLIENT_SECRET" in capsys.readouterr().err


def test_dump_helper_is_json():
    assert dump({"a": "ä"}) == '{"a": "ä"}'
