"""Pilots keep their entry current, and the CDO office maintains the directory, all in Teams."""

from __future__ import annotations

import datetime as dt

import pytest

from routing.parts import ROUTING_PARTS
from tests.cards.parts import actions_of
from tests.dialogs.escalation_kit import (REQUESTER, ask_a_pilot, card_of, cards_to, conversation_of, dumped, execute,
                                          pilot, request_id, say, settings_for)
from tests.fakes import teams
from tests.fakes.harness import BotHarness

ADMIN = {"id": "29:cdo", "name": "CDO-Büro", "aadObjectId": "AAD-CDO-1"}


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(settings_for(tmp_path, ADMIN_AAD_IDS="aad-cdo-1, aad-cdo-2")) as harness:
        yield harness


def directory(bot):
    return bot.app[ROUTING_PARTS]["directory"]


def heading(card: dict) -> str:
    return card["body"][0]["inlines"][0]["text"]


async def only_text(bot, text: str, sender: dict) -> str:
    """The bot's reply in the sender's chat (proactive messages to others may go out in the same turn)."""
    [reply] = [c for c in await say(bot, text, sender) if c.conversation_id == f"a:personal-{sender['id']}"]
    return reply.text


async def test_away_and_back(bot):
    text = await only_text(bot, "abwesend bis 12.12.", pilot(2))
    assert "bis einschließlich 12.12." in text and "wieder da" in text
    stored = (await directory(bot).get("p2")).absent_until
    assert dt.date.fromisoformat(stored).strftime("%d.%m.") == "12.12."
    assert "Willkommen zurück" in await only_text(bot, "wieder da", pilot(2))
    assert (await directory(bot).get("p2")).absent_until == ""


@pytest.mark.parametrize("text, expected", [
    ("abwesend bis irgendwann", "nicht verstanden"), ("abwesend bis 1.1.2020", "Vergangenheit"),
    ("abwesend bis 1.1.2099", "höchstens ein Jahr"),
])
async def test_away_with_a_bad_date_is_explained(bot, text, expected):
    assert expected in await only_text(bot, text, pilot(1))
    assert (await directory(bot).get("p1")).absent_until == ""


async def test_going_away_hands_waiting_offers_to_colleagues(bot):
    rid = request_id(await ask_a_pilot(bot))
    text = await only_text(bot, "abwesend bis 31.12.", pilot(1))
    assert "1 wartende Anfrage habe ich an Kolleg*innen weitergegeben" in text
    stored = await bot.app[ROUTING_PARTS]["requests"].get(rid)
    assert [(o.pilot.pilot_key, o.outcome) for o in stored.offers] == [("p1", "withdrawn"), ("p2", "pending")]
    assert any("Sie sind gerade abwesend" in dumped(c.card) for c in bot.connector.updates())
    assert heading(cards_to(bot, REQUESTER)[-1]) == "Ihre Anfrage liegt bei Bernd Muster"


async def test_topics_shown_and_changed(bot):
    assert "Ihre Themen: Whiteboard, Besprechungen" in await only_text(bot, "meine themen", pilot(1))
    assert "Gespeichert. Ihre Themen: Dateien, Teams-Kanäle." == await only_text(
        bot, "meine themen Dateien und Teams-Kanäle", pilot(1))
    assert (await directory(bot).get("p1")).topics == ("dateien", "teams-kanaele")
    text = await only_text(bot, "meine themen Kochen", pilot(1))
    assert "„Kochen“" in text and "Möglich sind" in text
    assert (await directory(bot).get("p1")).topics == ("dateien", "teams-kanaele")


async def test_my_requests_for_pilots_and_requesters(bot):
    await ask_a_pilot(bot)
    [mine] = await say(bot, "meine anfragen", REQUESTER)
    assert "Ihre eigenen Anfragen" in dumped(mine.card) and "liegt bei Anna Beispiel" in dumped(mine.card)
    assert "Bei Ihnen als Digitallots*in" not in dumped(mine.card)
    [held] = await say(bot, "meine anfragen", pilot(1))
    assert "wartet auf Ihre Antwort" in dumped(held.card) and "Testperson 1 (Amt 51 – Jugendamt)" in dumped(held.card)


async def test_self_service_for_people_who_are_not_pilots(bot):
    for text in ("abwesend bis 12.12.", "wieder da", "meine themen whiteboard"):
        assert "nicht als Digitallots*in eingetragen" in await only_text(bot, text, REQUESTER)


async def test_maintenance_commands_are_for_allow_listed_people_only(bot):
    for text in ("lots*in hinzufügen", "lots*in ändern anna.beispiel@beispielstadt.example",
                 "lots*in entfernen p1", "lots*innen anzeigen"):
        assert "nur für berechtigte Personen" in await only_text(bot, text, pilot(1))
    status, _ = await bot.post(teams.card_execute(bot.url, "pilot_admin_save", {"key": "p1", "name": "X"},
                                                  sender=pilot(1)))
    assert status == 200 and "nur für berechtigte" in bot.connector.sent()[-1].text
    assert (await directory(bot).get("p1")).name == "Anna Beispiel"


async def test_admin_adds_a_pilot_with_a_form(bot):
    [form] = await say(bot, "lots*in hinzufügen dora.neu@beispielstadt.example", ADMIN)
    assert next(e for e in form.card["body"] if e.get("id") == "upn")["value"] == "dora.neu@beispielstadt.example"
    data = {"key": "", "etag": "", "name": "Dora Neu", "upn": "dora.neu@beispielstadt.example", "aad_id": "aad-dora",
            "department": "Amt 66 – Tiefbauamt", "topics": "whiteboard,kalender", "capacity": "2"}
    saved = card_of(await execute(bot, "pilot_admin_save", data, sender=ADMIN))
    assert heading(saved) == "Gespeichert" and "Whiteboard, Kalender" in dumped(saved)
    dora = await directory(bot).get("dora.neu")
    assert (dora.department, dora.capacity, dora.topics) == ("Amt 66 – Tiefbauamt", 2, ("whiteboard", "kalender"))
    again = card_of(await execute(bot, "pilot_admin_save", data, sender=ADMIN))
    assert "schon eingetragen" in dumped(again)
    bad = card_of(await execute(bot, "pilot_admin_save", {**data, "upn": "kaputt", "topics": "kochen"}, sender=ADMIN))
    assert "Mail-Adresse" in dumped(bad) and heading(bad) == "Digitallots*in hinzufügen"
    [listing] = await say(bot, "lots*innen anzeigen", ADMIN)
    assert "Digitallots*innen (4)" in dumped(listing.card) and "Dora Neu" in dumped(listing.card)


async def test_admin_changes_an_entry_and_a_stale_form_does_not_overwrite(bot):
    [form] = await say(bot, "lots*in ändern bernd.muster@beispielstadt.example", ADMIN)
    save = next(a for a in actions_of(form.card) if a.get("verb") == "pilot_admin_save")["data"]
    fields = {e["id"]: e.get("value") for e in form.card["body"] if e.get("id")}
    await say(bot, "abwesend bis 12.12.", pilot(2))               # Bernd changes his entry meanwhile
    stale = card_of(await execute(bot, "pilot_admin_save", {**save, **fields, "capacity": 5}, sender=ADMIN))
    assert "inzwischen geändert" in dumped(stale)
    save = next(a for a in actions_of(stale) if a.get("verb") == "pilot_admin_save")["data"]
    fields = {e["id"]: e.get("value") for e in stale["body"] if e.get("id")}
    done = card_of(await execute(bot, "pilot_admin_save", {**save, **fields, "capacity": 5}, sender=ADMIN))
    assert heading(done) == "Gespeichert"
    bernd = await directory(bot).get("p2")
    assert bernd.capacity == 5 and bernd.absent_until   # the absence Bernd set is kept
    assert "Das passt auf mehrere" in await only_text(bot, "lots*in ändern e", ADMIN)
    assert "Ich finde keine" in await only_text(bot, "lots*in ändern niemand@example.org", ADMIN)


async def test_removing_a_pilot_reroutes_their_requests_and_they_can_come_back(bot):
    waiting = request_id(await ask_a_pilot(bot))
    text = await only_text(bot, "lots*in entfernen anna.beispiel@beispielstadt.example", ADMIN)
    assert "Anna Beispiel ist nicht mehr als Digitallots*in eingetragen" in text and "1 Anfrage" in text
    stored = await bot.app[ROUTING_PARTS]["requests"].get(waiting)
    assert stored.holder.pilot_key == "p2"
    late = card_of(await execute(bot, "pilot_accept", {"request": waiting}, sender=pilot(1),
                                 conversation_id=conversation_of(bot, pilot(1))))
    assert heading(late) == "Diese Anfrage liegt inzwischen bei einer Kolleg*in"
    assert "nicht als Digitallots*in eingetragen" in await only_text(bot, "wieder da", pilot(1))
    # Accepted requests of a removed pilot move too, and the requester hears about it.
    chat2 = conversation_of(bot, pilot(2))
    await execute(bot, "pilot_accept", {"request": waiting}, sender=pilot(2), conversation_id=chat2)
    work = (await bot.app[ROUTING_PARTS]["requests"].get(waiting)).work_activity_id
    await only_text(bot, "lots*in entfernen Bernd Muster", ADMIN)
    [update] = [c for c in bot.connector.updates() if c.activity_id == work]
    assert "nicht mehr eingetragen" in dumped(update.card) and "pilot_resolve" not in dumped(update.card)
    told = [heading(c) for c in cards_to(bot, REQUESTER)]
    assert "Ihre Anfrage bekommt eine neue Digitallots*in" in told
    assert (await bot.app[ROUTING_PARTS]["requests"].get(waiting)).holder.pilot_key == "p3"
    # Re-adding the same mail reactivates the entry.
    data = {"key": "", "etag": "", "name": "Anna Beispiel", "upn": "anna.beispiel@beispielstadt.example",
            "aad_id": "aad-pilot-1", "department": "Amt 51 – Jugendamt", "topics": "whiteboard", "capacity": 3}
    await execute(bot, "pilot_admin_save", data, sender=ADMIN)
    assert (await directory(bot).get("p1")).active

