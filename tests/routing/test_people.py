"""Who is asking: department from Microsoft Graph (fake Graph + fake Entra over TLS) or stated by the person."""

from __future__ import annotations

import pytest

from entra.tokens import GRAPH_SCOPE, MsalTokenProvider
from routing.people import Departments, GraphPeople
from settings import Settings
from storage.sqlite import SqliteStore
from tests.fakes.entra import FakeEntra
from tests.fakes.graph import FakeGraph

APP_ID, SECRET, TENANT = "00000000-0000-0000-0000-0000000000a4", "not-a-real-secret", "tenant-4"
USERS = [
    {"id": "aad-1", "displayName": "Testperson Eins", "userPrincipalName": "eins@beispielstadt.example",
     "mail": "eins@beispielstadt.example", "department": "Amt 51 – Jugendamt", "jobTitle": "nicht abgefragt"},
    {"id": "aad-2", "displayName": "Ohne Amt", "userPrincipalName": "zwei@beispielstadt.example", "department": None},
]


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def entra(tmp_path):
    async with FakeEntra(tmp_path, client_id=APP_ID, client_secret=SECRET) as fake:
        yield fake


@pytest.fixture
async def graph_server():
    async with FakeGraph(USERS) as fake:
        yield fake


@pytest.fixture
async def graph(entra, graph_server):
    settings = Settings(app_id=APP_ID, app_password=SECRET, tenant_id=TENANT, authority_host=entra.url,
                        auth_ca_bundle=str(entra.ca_file))
    people = GraphPeople(MsalTokenProvider(settings), graph_server.url)
    await people.start()
    yield people
    await people.stop()


@pytest.fixture
async def users(tmp_path):
    store = SqliteStore(tmp_path / "users.sqlite3")
    await store.open(["users"])
    yield store.container("users")
    await store.close()


async def test_profile_from_graph_with_one_cached_app_token(graph, entra, graph_server):
    profile = await graph.profile("aad-1")
    assert (profile.name, profile.upn, profile.department) == ("Testperson Eins", "eins@beispielstadt.example",
                                                               "Amt 51 – Jugendamt")
    await graph.profile("eins@beispielstadt.example")      # by UPN, as the admin form does
    assert len(entra.token_requests) == 1 and entra.token_requests[0].scope == GRAPH_SCOPE
    first = graph_server.requests[0]
    assert first.path == "/v1.0/users/aad-1" and "department" in first.select.split(",")
    assert first.authorization == f"Bearer {entra.issued[0]}"


async def test_graph_failures_are_answered_with_none(graph, graph_server):
    assert await graph.profile("aad-unknown") is None
    graph_server.fail_next(429, retry_after="10")
    assert await graph.profile("aad-1") is None
    graph_server.fail_next(403)
    assert await graph.profile("aad-1") is None
    assert (await graph.profile("aad-1")).department


async def test_token_failure_is_answered_with_none(graph, entra):
    entra.fail_next(401, "invalid_client")
    assert await graph.profile("aad-1") is None


async def test_department_from_graph_is_cached_for_a_week(graph, graph_server, users):
    clock = Clock()
    departments = Departments(users, graph, clock=clock)
    assert not departments.asks
    known = await departments.of("aad-1", "aad-1")
    assert (known.department, known.upn, known.source) == ("Amt 51 – Jugendamt", "eins@beispielstadt.example", "graph")
    await departments.of("aad-1", "aad-1")
    assert len(graph_server.requests) == 1
    clock.now += 8 * 86400
    await departments.of("aad-1", "aad-1")
    assert len(graph_server.requests) == 2


async def test_stated_department_wins_over_graph_and_can_be_changed(graph, graph_server, users):
    departments = Departments(users, graph, clock=Clock())
    await departments.of("aad-1", "aad-1")
    await departments.remember("aad-1", "  Amt 20 –   Kämmerei ")
    known = await departments.of("aad-1", "aad-1")
    assert (known.department, known.source, known.upn) == ("Amt 20 – Kämmerei", "stated", "eins@beispielstadt.example")
    await departments.remember("aad-1", "Amt 32 – Ordnungsamt")
    assert (await departments.of("aad-1", "aad-1")).department == "Amt 32 – Ordnungsamt"


async def test_graph_without_department_means_unknown(graph, users):
    known = await Departments(users, graph, clock=Clock()).of("aad-2", "aad-2")
    assert (known.department, known.source) == ("", "none")


async def test_without_graph_the_bot_asks_and_remembers(users):
    departments = Departments(users, None, clock=Clock())
    assert departments.asks
    assert (await departments.of("29:local", "")).source == "none"
    await departments.remember("29:local", "Amt 40 – Schulamt")
    assert (await departments.of("29:local", "")).department == "Amt 40 – Schulamt"
