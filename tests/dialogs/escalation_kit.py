"""Shared pieces of the escalation flow tests: three pilots, a requester, and readers for cards."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from tests.cards.parts import actions_of
from tests.fakes import teams
from tests.fakes.harness import BotHarness, local_settings

ROOT = Path(__file__).resolve().parents[2]
REQUESTER = teams.user(1)
CHANNEL = "19:digitallotsen@thread.tacv2"
TEAM = "19:lotsen-team@thread.tacv2"
QUESTION = "Wie exportiere ich ein Whiteboard als Bild für unser Protokoll?"
DEPARTMENT = "Amt 51 – Jugendamt"

PILOTS_YAML = """
pilots:
  - key: p1
    name: "Anna Beispiel"
    upn: anna.beispiel@beispielstadt.example
    aad_id: aad-pilot-1
    teams_id: "29:pilot-1"
    department: "Amt 51 – Jugendamt"
    topics: [whiteboard, besprechung]
  - key: p2
    name: "Bernd Muster"
    upn: bernd.muster@beispielstadt.example
    aad_id: aad-pilot-2
    teams_id: "29:pilot-2"
    department: "Amt 20 – Kämmerei"
    topics: [whiteboard]
  - key: p3
    name: "Clara Probe"
    upn: clara.probe@beispielstadt.example
    aad_id: aad-pilot-3
    teams_id: "29:pilot-3"
    department: "Amt 40 – Schulamt"
    topics: [dateien]
"""


def pilot(n: int) -> dict[str, str]:
    """The Teams account of pilot n (1–3), as it appears in activities."""
    names = {1: "Anna Beispiel", 2: "Bernd Muster", 3: "Clara Probe"}
    return {"id": f"29:pilot-{n}", "name": names[n], "aadObjectId": f"aad-pilot-{n}"}


ARTICLES = ROOT / "knowledge" / "articles"
# A few real articles are enough for topics and answers, and the index builds in a blink.
SOME_ARTICLES = ("whiteboard-teilen-exportieren", "whiteboard-starten", "bildschirm-teilen",
                 "dateiablage-onedrive-teams", "passwort-zuruecksetzen", "besprechung-planen")


def settings_for(tmp_path: Path, **overrides: Any):
    seed = tmp_path / "pilots.yaml"
    seed.write_text(PILOTS_YAML, encoding="utf-8")
    articles = tmp_path / "articles"
    articles.mkdir(exist_ok=True)
    for name in SOME_ARTICLES:
        shutil.copy(ARTICLES / f"{name}.md", articles / f"{name}.md")
    return local_settings(tmp_path / "data", PILOTS_FILE=str(seed), KNOWLEDGE_DIR=str(articles), **overrides)


def dumped(card: dict | None) -> str:
    return json.dumps(card, ensure_ascii=False)




def action(card: dict, verb: str) -> dict:
    matches = [a for a in actions_of(card) if a.get("verb") == verb]
    assert matches, f"no {verb!r} on card: {dumped(card)[:600]}"
    return matches[0]


def card_of(body: dict) -> dict:
    """The card an invoke answered with."""
    assert body["type"] == "application/vnd.microsoft.card.adaptive", body
    return body["value"]


def _is_chat_with(conversation_id: str | None, account: dict) -> bool:
    """The personal chat Teams opened (a:personal-…) or the one the bot created (a:conv-…, FakeConnector)."""
    return bool(conversation_id) and (conversation_id.startswith(f"a:conv-{account['id']}-")
                                      or conversation_id == f"a:personal-{account['id']}")


def cards_to(bot: BotHarness, account: dict) -> list[dict]:
    """Cards the bot posted into the 1:1 chat(s) with this account (created ones included)."""
    return [c.card for c in bot.connector.sent() if c.card is not None and _is_chat_with(c.conversation_id, account)]


def conversation_of(bot: BotHarness, account: dict) -> str:
    ids = [c.conversation_id for c in bot.connector.sent() if _is_chat_with(c.conversation_id, account)]
    assert ids, f"nothing was sent to {account['id']}"
    return ids[-1]


async def execute(bot: BotHarness, verb: str, data: dict, *, sender: dict = REQUESTER,
                  conversation_id: str | None = None, conversation_type: str = "personal") -> dict:
    """Click an Action.Execute button; returns the invoke response body."""
    status, body = await bot.post(teams.card_execute(bot.url, verb, data, sender=sender,
                                                     conversation_id=conversation_id,
                                                     conversation_type=conversation_type))
    assert status == 200, body
    return body


async def say(bot: BotHarness, text: str, sender: dict = REQUESTER) -> list:
    """Write a message; returns what the bot sent during that turn."""
    before = len(bot.connector.sent())
    status, _ = await bot.post(teams.message(bot.url, text, sender=sender))
    assert status == 201
    return bot.connector.sent()[before:]


async def ask_a_pilot(bot: BotHarness, question: str = QUESTION, *, urgency: str = "normal",
                      department: str = DEPARTMENT, sender: dict = REQUESTER) -> dict:
    """The whole requester side: command → form → summary → Absenden. Returns the status card shown."""
    [form] = await say(bot, "lots*in fragen", sender)
    assert action(form.card, "escalation_preview")
    data = {"text": question, "urgency": urgency}
    if '"id": "department"' in dumped(form.card):
        data["department"] = department
    summary = card_of(await execute(bot, "escalation_preview", data, sender=sender))
    confirm = action(summary, "escalation_confirm")
    return card_of(await execute(bot, "escalation_confirm", confirm["data"], sender=sender))


async def accept_as(bot: BotHarness, rid: str, n: int) -> dict:
    """Pilot n clicks "Übernehmen" on the card in their chat; returns the card they see then."""
    return card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(n),
                                 conversation_id=conversation_of(bot, pilot(n))))


def request_id(card: dict) -> str:
    for candidate in actions_of(card):
        value = (candidate.get("data") or {}).get("request")
        if value:
            return value
    raise AssertionError(f"no request id on card: {dumped(card)[:600]}")
