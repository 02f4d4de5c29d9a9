"""Questions typed in Teams: answer, "Meinten Sie …?" or honest "weiß ich nicht" cards; feedback is stored."""

from __future__ import annotations

import json

import pytest

from knowledge.feedback import FEEDBACK, QUESTION_TEXT, UNANSWERED
from storage.base import Query
from tests.cards.parts import actions_of, text_of
from tests.fakes import teams
from tests.fakes.harness import BotHarness, local_settings


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(local_settings(tmp_path)) as harness:
        yield harness


async def ask(bot, text: str) -> dict:
    before = len(bot.connector.sent())
    status, _ = await bot.post(teams.message(bot.url, text))
    assert status == 201
    new = bot.connector.sent()[before:]
    assert len(new) == 1, [c.body for c in new]
    return new[0].body


async def feedback_docs(bot, partition: str) -> list[dict]:
    docs = await bot.parts["store"].container("feedback").query(Query(partition=partition))
    return [d.body for d in docs]


async def test_clear_question_gets_the_answer_card(bot):
    reply = await ask(bot, "wie teile ich meinen bildschirm")
    card = reply["attachments"][0]["content"]
    assert "Bildschirm" in card["body"][0]["inlines"][0]["text"]
    verbs = {a.get("verb") for a in actions_of(card)}
    assert {"feedback", "ask_pilot"} <= verbs
    assert reply["summary"]


async def test_vague_question_gets_suggestions_and_a_pick_becomes_the_answer(bot):
    reply = await ask(bot, "besprechung")
    card = reply["attachments"][0]["content"]
    picks = [a for a in actions_of(card) if a.get("verb") == "article"]
    assert 2 <= len(picks) <= 3
    assert any(a.get("verb") == "none_of_these" for a in actions_of(card))
    status, body = await bot.post(teams.card_execute(bot.url, "article", picks[0]["data"]))
    assert status == 200
    assert picks[0]["title"] in text_of(body["value"])
    assert any(a.get("verb") == "feedback" for a in actions_of(body["value"]))


async def test_out_of_scope_question_gets_an_honest_unknown_and_is_recorded(bot):
    reply = await ask(bot, "wie backe ich einen kuchen")
    card = reply["attachments"][0]["content"]
    assert "weiß ich leider nicht" in text_of(card)
    assert any(a.get("verb") == "ask_pilot" for a in actions_of(card))
    assert len(await feedback_docs(bot, UNANSWERED)) == 1
    [stored] = await feedback_docs(bot, QUESTION_TEXT)
    assert stored["text"] == "wie backe ich einen kuchen"
    assert "Testperson" not in json.dumps(stored)  # never with the user's name


async def test_the_thresholds_come_from_the_settings(tmp_path):
    strict = local_settings(tmp_path, ANSWER_CONFIDENCE="1.0", SUGGEST_CONFIDENCE="1.0", ANSWER_MARGIN="1.0")
    async with BotHarness(strict) as bot:
        card = (await ask(bot, "wie teile ich meinen bildschirm mit der katze"))["attachments"][0]["content"]
    assert "weiß ich leider nicht" in text_of(card)


async def test_thumbs_up_is_stored_and_the_card_says_thanks(bot):
    reply = await ask(bot, "passwort vergessen")
    card = reply["attachments"][0]["content"]
    up = next(a for a in actions_of(card) if a.get("verb") == "feedback" and a["data"]["helpful"] is True)
    status, body = await bot.post(teams.card_execute(bot.url, "feedback", up["data"]))
    assert status == 200
    assert "Danke" in text_of(body["value"])
    assert not any(a.get("verb") == "feedback" for a in actions_of(body["value"]))
    [vote] = await feedback_docs(bot, FEEDBACK)
    assert vote["article_id"] == "passwort-zuruecksetzen" and vote["helpful"] is True


async def test_thumbs_down_offers_rephrasing_or_a_pilot(bot):
    reply = await ask(bot, "passwort vergessen")
    card = reply["attachments"][0]["content"]
    down = next(a for a in actions_of(card) if a.get("verb") == "feedback" and a["data"]["helpful"] is False)
    before = len(bot.connector.sent())
    status, body = await bot.post(teams.card_execute(bot.url, "feedback", down["data"]))
    assert status == 200
    [offer] = bot.connector.sent()[before:]
    assert "anders formulieren" in text_of(offer.card)
    assert any(a.get("verb") == "ask_pilot" for a in actions_of(offer.card))
    [vote] = await feedback_docs(bot, FEEDBACK)
    assert vote["helpful"] is False


async def test_none_of_these_records_the_gap_and_offers_a_pilot(bot):
    status, body = await bot.post(teams.card_execute(bot.url, "none_of_these", {"question": "whiteboard"}))
    assert status == 200
    assert any(a.get("verb") == "ask_pilot" for a in actions_of(body["value"]))
    [stored] = await feedback_docs(bot, QUESTION_TEXT)
    assert stored["decision"] == "suggest"


async def test_stale_feedback_data_gets_a_polite_answer(bot):
    status, _ = await bot.post(teams.card_execute(bot.url, "feedback", {"article": "gibt-es-nicht", "helpful": True}))
    assert status == 200
    assert "zuordnen" in bot.connector.sent()[-1].text


@pytest.mark.parametrize("text", ["", "😀😀😀", "???", "x" * 5000, "How do I share my screen in a meeting?",
                                  "{{ site.service_desk_phone }} \" \\ <script>", "a"])
async def test_odd_input_gets_a_sensible_reply_never_an_error(bot, text):
    reply = await ask(bot, text)
    assert "nicht geklappt" not in json.dumps(reply, ensure_ascii=False)  # not the error card
    assert reply.get("text") or reply.get("attachments")
