"""Escalation edge cases through /api/messages: timeouts, the channel fallback and its race, unreachable
pilots, nobody available, odd input and stale buttons."""

from __future__ import annotations

import asyncio

import pytest

from routing.parts import ROUTING_PARTS
from tests.dialogs.escalation_kit import (CHANNEL, QUESTION, REQUESTER, TEAM, action, ask_a_pilot, card_of, cards_to,
                                          dumped, execute, pilot, request_id, say, settings_for)
from tests.fakes import teams
from tests.fakes.harness import BotHarness


def parts(bot):
    return bot.app[ROUTING_PARTS]


def heading(card: dict) -> str:
    return card["body"][0]["inlines"][0]["text"]


async def install_in_channel(bot, conversation_id: str = CHANNEL, team_id: str = TEAM) -> None:
    status, _ = await bot.post(teams.bot_added(bot.url, conversation_type="channel", conversation_id=conversation_id,
                                               team_id=team_id))
    assert status == 201


async def sweep_when_due(bot, rid: str):
    """Run the sweeper at the moment the request's current timer fires (a controllable clock, no waiting)."""
    stored = await parts(bot)["requests"].get(rid)
    return await parts(bot)["sweeper"].run_once(now=stored.deadline)


async def test_timeouts_move_on_then_the_channel_takes_it_and_anyone_can_claim(tmp_path):
    settings = settings_for(tmp_path, PILOTS_CHANNEL_ID=CHANNEL, ESCALATION_MAX_CANDIDATES=2)
    async with BotHarness(settings) as bot:
        await install_in_channel(bot)
        rid = request_id(await ask_a_pilot(bot))
        first_card = (await parts(bot)["requests"].get(rid)).offers[0].activity_id
        assert (await sweep_when_due(bot, rid)).timed_out == 1
        [update] = [c for c in bot.connector.updates() if c.activity_id == first_card]
        assert "Die Zeit zum Übernehmen ist abgelaufen." in dumped(update.card)
        assert "pilot_accept" not in dumped(update.card)
        assert len(cards_to(bot, pilot(2))) == 1
        assert heading(cards_to(bot, REQUESTER)[-1]) == "Ihre Anfrage liegt bei Bernd Muster"

        await sweep_when_due(bot, rid)
        [post] = [c for c in bot.connector.sent(CHANNEL) if c.card and "Offene Anfrage" in dumped(c.card)]
        assert QUESTION in dumped(post.card) and action(post.card, "pilot_accept")
        assert heading(cards_to(bot, REQUESTER)[-1]) == "Ihre Anfrage liegt im Kanal der Digitallots*innen"
        assert "IT-Servicedesk" in dumped(cards_to(bot, REQUESTER)[-1])

        # Someone in the channel who is not in the directory claims it.
        helper = {"id": "29:helper", "name": "Hilfsbereite Person", "aadObjectId": "aad-helper"}
        taken = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=helper,
                                      conversation_id=CHANNEL, conversation_type="channel"))
        assert heading(taken) == "Übernommen von Hilfsbereite Person"
        channel_card = (await parts(bot)["requests"].get(rid)).offers[-1].activity_id
        [update] = [c for c in bot.connector.updates() if c.activity_id == channel_card]
        assert heading(update.card) == "Übernommen von Hilfsbereite Person"      # what everyone in the channel sees
        [work] = [c.card for c in bot.connector.sent() if c.conversation_id and "29:helper" in c.conversation_id]
        assert heading(work) == "Sie haben die Anfrage übernommen"
        assert heading(cards_to(bot, REQUESTER)[-1]) == "Hilfsbereite Person hat Ihre Anfrage übernommen"
        again = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=helper,
                                      conversation_id=CHANNEL, conversation_type="channel"))
        assert heading(again) == "Übernommen von Hilfsbereite Person" and "escalation_relay" not in dumped(again)
        # The work card in the claimer's 1:1 chat is the one later updates go to.
        stored = await parts(bot)["requests"].get(rid)
        assert stored.work_conversation_id.startswith("a:conv-29:helper") and stored.work_activity_id


async def test_concurrent_claims_in_the_channel_have_one_winner_everyone_else_is_told(tmp_path):
    settings = settings_for(tmp_path, PILOTS_CHANNEL_ID=CHANNEL, ESCALATION_MAX_CANDIDATES=1)
    async with BotHarness(settings) as bot:
        await install_in_channel(bot)
        rid = request_id(await ask_a_pilot(bot))
        await sweep_when_due(bot, rid)
        assert (await parts(bot)["requests"].get(rid)).status == "open"
        people = [{"id": f"29:c{n}", "name": f"Kolleg*in {n}", "aadObjectId": f"aad-c{n}"} for n in range(12)]
        bodies = await asyncio.gather(*(execute(bot, "pilot_accept", {"request": rid}, sender=p,
                                                conversation_id=CHANNEL, conversation_type="channel") for p in people))
        titles = [heading(card_of(b)) for b in bodies]
        winners = [t for t in titles if t.startswith("Übernommen von")]
        assert len(winners) == 1
        winner = winners[0].removeprefix("Übernommen von ")
        assert titles.count(f"Bereits übernommen von {winner}") == 11
        stored = await parts(bot)["requests"].get(rid)
        assert stored.assignee.name == winner
        assert sum(1 for c in cards_to(bot, REQUESTER) if heading(c).endswith("hat Ihre Anfrage übernommen")) == 1


async def test_an_unreachable_channel_ends_honestly_instead_of_silently(tmp_path):
    settings = settings_for(tmp_path, PILOTS_CHANNEL_ID=CHANNEL, ESCALATION_MAX_CANDIDATES=1)
    async with BotHarness(settings) as bot:
        await install_in_channel(bot)
        rid = request_id(await ask_a_pilot(bot))
        bot.connector.fail_next(404, conversation_id=CHANNEL, code="ConversationNotFound")
        await sweep_when_due(bot, rid)
        assert (await parts(bot)["requests"].get(rid)).status == "unassigned"
        assert heading(cards_to(bot, REQUESTER)[-1]) == "Gerade ist leider keine Digitallots*in erreichbar"


async def test_a_channel_known_only_through_its_team_is_found(tmp_path):
    settings = settings_for(tmp_path, PILOTS_CHANNEL_ID=CHANNEL, PILOTS_TEAM_ID=TEAM, ESCALATION_MAX_CANDIDATES=1)
    async with BotHarness(settings) as bot:
        await install_in_channel(bot, conversation_id=TEAM, team_id=TEAM)   # Teams told us about the team only
        rid = request_id(await ask_a_pilot(bot))
        await sweep_when_due(bot, rid)
        assert [c for c in bot.connector.sent(CHANNEL) if c.card]
        assert (await parts(bot)["requests"].get(rid)).status == "open"


async def test_blocked_pilot_is_skipped_and_the_next_one_gets_it(tmp_path):
    async with BotHarness(settings_for(tmp_path)) as bot:
        await say(bot, "meine anfragen", sender=pilot(1))       # Anna's 1:1 chat is now in the address book
        bot.connector.fail_next(403, conversation_id="a:personal-29:pilot-1")
        status = await ask_a_pilot(bot)
        assert heading(status) == "Ihre Anfrage liegt bei Bernd Muster"
        stored = await parts(bot)["requests"].get(request_id(status))
        assert [(o.pilot.pilot_key, o.outcome) for o in stored.offers] == [("p1", "unreachable"), ("p2", "pending")]
        assert (await bot.parts["book"].get("a:personal-29:pilot-1")).status == "blocked"


async def test_nobody_available_is_said_honestly_with_the_service_desk(tmp_path):
    async with BotHarness(settings_for(tmp_path)) as bot:
        for n in (1, 2, 3):
            [reply] = await say(bot, "abwesend bis 31.12.", sender=pilot(n))
            assert "keine Anfragen" in reply.text
        status = await ask_a_pilot(bot)
        text = dumped(status)
        assert heading(status) == "Gerade ist leider keine Digitallots*in erreichbar"
        assert "abwesend oder ausgelastet" in text
        assert "IT-Servicedesk: 0000 00000-0 (Beispielnummer), servicedesk@beispielstadt.example" in text
        assert [cards_to(bot, pilot(n)) for n in (1, 2, 3)] == [[], [], []]
        [stored] = await parts(bot)["requests"].asked_by("aad-0001")
        assert (stored.status, stored.closed_reason, stored.offers) == ("unassigned", "nobody", ())


async def test_all_candidates_unreachable_without_channel_ends_honestly(tmp_path):
    async with BotHarness(settings_for(tmp_path)) as bot:
        for n in (1, 2, 3):
            await say(bot, "meine anfragen", sender=pilot(n))
            bot.connector.fail_next(403, conversation_id=f"a:personal-29:pilot-{n}")
        status = await ask_a_pilot(bot)
        assert heading(status) == "Gerade ist leider keine Digitallots*in erreichbar"
        assert "konnte keine der angefragten" in dumped(status)
        [stored] = await parts(bot)["requests"].asked_by("aad-0001")
        assert stored.status == "unassigned"
        assert [o.outcome for o in stored.offers] == ["unreachable"] * 3


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(settings_for(tmp_path)) as harness:
        yield harness


async def test_department_is_asked_once_and_can_be_changed(bot):
    [form] = await say(bot, "lots*in fragen")
    assert "In welchem Amt arbeiten Sie?" in dumped(form.card)
    assert "Amt 20 – Kämmerei" in dumped(form.card)              # choices come from the directory
    await ask_a_pilot(bot, department="other")                    # "other" without text: nothing remembered
    summary = card_of(await execute(bot, "escalation_preview", {"text": QUESTION, "department": "other",
                                                                "department_other": "Amt 23 – Liegenschaften"}))
    assert "Amt 23 – Liegenschaften" in dumped(summary)
    [form] = await say(bot, "lots*in fragen")
    assert "In welchem Amt" not in dumped(form.card)              # asked once, remembered
    [reply] = await say(bot, "mein amt")
    assert "Amt 23 – Liegenschaften" in reply.text
    [reply] = await say(bot, "mein amt Amt 40 – Schulamt")
    assert "Gespeichert" in reply.text
    status = await ask_a_pilot(bot, "Wie lege ich einen Ordner in Dateien an?")
    assert heading(status) == "Ihre Anfrage liegt bei Clara Probe"   # same Amt as Clara now


async def test_the_knowledge_card_button_prefills_the_question(bot):
    [reply] = await say(bot, "wie backe ich einen kuchen")
    ask = action(reply.card, "ask_pilot")
    before = len(bot.connector.sent())
    status, body = await bot.post(teams.card_execute(bot.url, "ask_pilot", ask["data"]))
    assert status == 200
    [form] = bot.connector.sent()[before:]
    field = next(e for e in form.card["body"] if e.get("id") == "text")
    assert field["value"] == "wie backe ich einen kuchen"
    [form] = await say(bot, "Lotsin fragen wie drucke ich ein Whiteboard")
    assert next(e for e in form.card["body"] if e.get("id") == "text")["value"] == "wie drucke ich ein Whiteboard"


async def test_too_long_or_empty_descriptions_are_sent_back_to_shorten(bot):
    await say(bot, "lots*in fragen")
    long_text = "Whiteboard " * 200
    form = card_of(await execute(bot, "escalation_preview", {"text": long_text, "department": "Amt 20 – Kämmerei"}))
    assert "Bitte kürzen Sie ihn auf höchstens 1500 Zeichen" in dumped(form)
    assert action(form, "escalation_preview")
    form = card_of(await execute(bot, "escalation_preview", {"text": "   "}))
    assert "in ein paar Worten" in dumped(form)
    status, _ = await bot.post(teams.card_execute(bot.url, "escalation_confirm",
                                                  {"draft": "0" * 32, "text": long_text}))
    assert status == 200 and "nicht absenden" in bot.connector.sent()[-1].text
    assert await parts(bot)["requests"].get("0" * 32) is None


async def test_a_double_click_on_send_creates_one_request(bot):
    [form] = await say(bot, "lots*in fragen")
    summary = card_of(await execute(bot, "escalation_preview", {"text": QUESTION, "department": "Amt 51 – Jugendamt"}))
    confirm = action(summary, "escalation_confirm")["data"]
    first, second = await asyncio.gather(execute(bot, "escalation_confirm", confirm),
                                         execute(bot, "escalation_confirm", confirm))
    shown = {heading(card_of(first)), heading(card_of(second))}
    assert "Ihre Anfrage liegt bei Anna Beispiel" in shown
    assert shown <= {"Ihre Anfrage liegt bei Anna Beispiel", "Ihre Anfrage ist unterwegs"}   # the 2nd may be early
    assert len(cards_to(bot, pilot(1))) == 1
    assert len(await parts(bot)["requests"].asked_by("aad-0001")) == 1
    # The same card data from someone else shows them nothing of the request.
    status, body = await bot.post(teams.card_execute(bot.url, "escalation_confirm", confirm, sender=teams.user(2)))
    assert "nicht Ihre Anfrage" in bot.connector.sent()[-1].text and QUESTION not in dumped(body)


async def test_discard_and_edit_keep_nothing_or_the_text(bot):
    await say(bot, "lots*in fragen")
    edit = card_of(await execute(bot, "escalation_edit", {"text": QUESTION, "urgency": "dringend"}))
    assert next(e for e in edit["body"] if e.get("id") == "text")["value"] == QUESTION
    assert next(e for e in edit["body"] if e.get("id") == "urgency")["value"] == "dringend"
    gone = card_of(await execute(bot, "escalation_discard", {}))
    assert heading(gone) == "Nicht gesendet"
    assert await parts(bot)["requests"].asked_by("aad-0001") == []


@pytest.mark.parametrize("verb, data", [
    ("pilot_accept", {"request": "gibt-es-nicht"}), ("pilot_accept", {}), ("pilot_decline", {"request": 42}),
    ("pilot_resolve", {"request": "../../etc"}), ("pilot_propose", {"request": None}),
    ("escalation_rate", {"request": "x", "stars": "fünf"}), ("escalation_cancel", {"request": ["a"]}),
    ("escalation_done", {}), ("escalation_relay", {"request": "x", "message": "hallo"}),
    ("pilot_handover", {"request": "x", "to": "p2"}), ("pilot_admin_save", {"key": "p1"}),
])
async def test_stale_or_forged_card_actions_get_a_polite_answer(bot, verb, data):
    status, body = await bot.post(teams.card_execute(bot.url, verb, data))
    assert status == 200 and body["statusCode"] == 200
    said = dumped(body) + " ".join(c.text or dumped(c.card) for c in bot.connector.sent())
    assert "nicht geklappt" not in said                           # never the error card


async def test_the_wrong_pilot_cannot_take_or_decline_someone_elses_offer(bot):
    rid = request_id(await ask_a_pilot(bot))
    card = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(2)))
    assert heading(card) == "Diese Anfrage liegt inzwischen bei einer Kolleg*in"
    own = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=REQUESTER))
    assert heading(own) == "Das ist Ihre eigene Anfrage"
    assert (await parts(bot)["requests"].get(rid)).status == "offered"


async def test_escalation_is_started_in_the_personal_chat_only(bot):
    status, _ = await bot.post(teams.message(bot.url, "lots*in fragen", mention=True, conversation_type="channel",
                                             conversation_id="19:general@thread.tacv2"))
    assert status == 201
    assert "persönlichen Chat" in bot.connector.sent()[-1].text


async def test_at_most_three_open_requests_per_person(bot):
    for _ in range(3):
        await ask_a_pilot(bot)
    [reply] = await say(bot, "lots*in fragen")
    assert "schon 3 offene Anfragen" in reply.text
