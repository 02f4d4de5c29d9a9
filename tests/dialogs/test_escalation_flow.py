"""The escalation flow through /api/messages with the local Bot Connector: one requester, three pilots."""

from __future__ import annotations

import pytest

from routing.parts import ROUTING_PARTS
from tests.cards.parts import actions_of
from tests.dialogs.escalation_kit import (QUESTION, REQUESTER, accept_as, action, ask_a_pilot, card_of, cards_to,
                                          conversation_of, dumped, execute, pilot, request_id, say, settings_for)
from tests.fakes import teams
from tests.fakes.harness import BotHarness


@pytest.fixture
async def bot(tmp_path):
    async with BotHarness(settings_for(tmp_path)) as harness:
        yield harness


def requests_of(bot):
    return bot.app[ROUTING_PARTS]["requests"]


def headings(cards: list[dict]) -> list[str]:
    return [c["body"][0]["inlines"][0]["text"] for c in cards]


async def test_a_hard_question_reaches_the_best_pilot_in_one_turn(bot):
    status = await ask_a_pilot(bot)
    assert "Ihre Anfrage liegt bei Anna Beispiel" in dumped(status)
    assert action(status, "escalation_cancel")
    [offer] = cards_to(bot, pilot(1))
    text = dumped(offer)
    assert QUESTION in text and "Testperson 1 (Amt 51 – Jugendamt)" in text
    assert "Warum Sie: gleiches Amt · Thema Whiteboard · keine offene Anfrage" in text
    assert {"pilot_accept", "pilot_decline", "pilot_handover"} <= {a.get("verb") for a in actions_of(offer)}
    handover = next(a for a in actions_of(offer) if a.get("title") == "An Kolleg*in weitergeben")
    assert "Bernd Muster" in dumped(handover) and "Clara Probe" in dumped(handover)
    assert cards_to(bot, pilot(2)) == [] and cards_to(bot, pilot(3)) == []
    # The 1:1 chat with the pilot was opened for this (no conversation was stored before).
    created = [c for c in bot.connector.calls if c.method == "POST" and c.path == "/v3/conversations"]
    assert created[0].body["members"] == [{"id": "29:pilot-1"}] and created[0].body["tenantId"] == teams.TENANT


async def test_accept_tells_the_requester_with_a_chat_link_and_repeats_are_harmless(bot):
    rid = request_id(await ask_a_pilot(bot))
    chat = conversation_of(bot, pilot(1))
    work = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(1), conversation_id=chat))
    assert "Sie haben die Anfrage übernommen" in dumped(work)
    assert {"escalation_relay", "pilot_resolve", "pilot_handover"} <= {a.get("verb") for a in actions_of(work)}
    told = cards_to(bot, REQUESTER)
    assert headings(told)[-1] == "Anna Beispiel hat Ihre Anfrage übernommen"
    assert "https://teams.microsoft.com/l/chat/0/0?users=anna.beispiel@beispielstadt.example" in dumped(told[-1])
    before = len(bot.connector.calls)
    again = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(1), conversation_id=chat))
    assert "Sie haben die Anfrage übernommen" in dumped(again)
    assert len(bot.connector.sent()) == len([c for c in bot.connector.calls[:before] if c.method == "POST"
                                             and c.conversation_id is not None])   # nobody told twice
    stored = await requests_of(bot).get(rid)
    assert stored.status == "accepted" and stored.assignee.pilot_key == "p1"


async def test_decline_goes_to_the_next_pilot_and_the_requester_is_told(bot):
    rid = request_id(await ask_a_pilot(bot))
    decline = {"request": rid, "reason": "keine Zeit", "reason_text": "Urlaub"}
    answer = card_of(await execute(bot, "pilot_decline", decline, sender=pilot(1),
                                   conversation_id=conversation_of(bot, pilot(1))))
    assert "Sie haben abgelehnt" in dumped(answer)
    [offer] = cards_to(bot, pilot(2))
    assert "Thema Whiteboard" in dumped(offer) and "gleiches Amt" not in dumped(offer)
    assert headings(cards_to(bot, REQUESTER))[-1] == "Ihre Anfrage liegt bei Bernd Muster"
    stored = await requests_of(bot).get(rid)
    assert [(o.pilot.pilot_key, o.outcome, o.note) for o in stored.offers] == [
        ("p1", "declined", "keine Zeit – Urlaub"), ("p2", "pending", "")]
    again = card_of(await execute(bot, "pilot_decline", {"request": rid, "reason": "keine Zeit"}, sender=pilot(1)))
    assert "bereits abgelehnt" in dumped(again)


async def test_hand_over_to_a_chosen_colleague(bot):
    rid = request_id(await ask_a_pilot(bot))
    answer = card_of(await execute(bot, "pilot_handover", {"request": rid, "to": "p3"}, sender=pilot(1),
                                   conversation_id=conversation_of(bot, pilot(1))))
    assert "Die Anfrage liegt jetzt bei Clara Probe" in dumped(answer)
    [offer] = cards_to(bot, pilot(3))
    assert headings([offer]) == ["Anna Beispiel gibt Ihnen eine Anfrage weiter"]
    assert "von Anna Beispiel empfohlen" in dumped(offer)
    told = cards_to(bot, REQUESTER)[-1]
    assert "Anna Beispiel hat sie an Clara Probe (Amt 40 – Schulamt) weitergegeben." in dumped(told)
    # Clara accepts and hands it on once more, after accepting.
    chat3 = conversation_of(bot, pilot(3))
    await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(3), conversation_id=chat3)
    await execute(bot, "pilot_handover", {"request": rid, "to": "p2"}, sender=pilot(3), conversation_id=chat3)
    stored = await requests_of(bot).get(rid)
    assert (stored.status, stored.holder.pilot_key, stored.assignee) == ("offered", "p2", None)


async def test_hand_over_to_someone_unavailable_or_unknown_is_refused_politely(bot):
    rid = request_id(await ask_a_pilot(bot))
    await say(bot, "abwesend bis 31.12.2099", sender=pilot(3))
    await say(bot, "abwesend bis 12.12.", sender=pilot(3))
    status, _ = await bot.post(teams.card_execute(bot.url, "pilot_handover", {"request": rid, "to": "p3"},
                                                  sender=pilot(1)))
    assert status == 200
    assert "Clara Probe ist gerade nicht verfügbar (abwesend bis" in bot.connector.sent()[-1].text
    await bot.post(teams.card_execute(bot.url, "pilot_handover", {"request": rid, "to": "gibt-es-nicht"},
                                      sender=pilot(1)))
    assert "aus der Liste" in bot.connector.sent()[-1].text
    assert (await requests_of(bot).get(rid)).holder.pilot_key == "p1"


async def test_requester_cancels_and_the_pilot_card_loses_its_buttons(bot):
    rid = request_id(await ask_a_pilot(bot))
    offer_activity = (await requests_of(bot).get(rid)).offers[-1].activity_id
    gone = card_of(await execute(bot, "escalation_cancel", {"request": rid}))
    assert "Sie haben Ihre Anfrage zurückgezogen" in dumped(gone)
    [update] = [c for c in bot.connector.updates() if c.activity_id == offer_activity]
    assert "Anfrage zurückgezogen" in dumped(update.card) and "pilot_accept" not in dumped(update.card)
    late = card_of(await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(1)))
    assert "Diese Anfrage wurde zurückgezogen" in dumped(late)
    assert (await requests_of(bot).get(rid)).status == "cancelled"
    # Someone else cannot cancel it.
    await bot.post(teams.card_execute(bot.url, "escalation_cancel", {"request": rid}, sender=pilot(2)))
    assert "nicht Ihre Anfrage" in bot.connector.sent()[-1].text


async def test_cancel_after_acceptance_tells_the_pilot(bot):
    rid = request_id(await ask_a_pilot(bot))
    await accept_as(bot, rid, 1)
    await execute(bot, "escalation_cancel", {"request": rid})
    assert headings(cards_to(bot, pilot(1)))[-1] == "Anfrage zurückgezogen"


async def test_resolution_rating_and_proposal_for_the_knowledge_base(bot):
    rid = request_id(await ask_a_pilot(bot))
    chat = conversation_of(bot, pilot(1))
    await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(1), conversation_id=chat)
    resolved = card_of(await execute(bot, "pilot_resolve", {"request": rid, "note": "Export über ⋯ > Bild"},
                                     sender=pilot(1), conversation_id=chat))
    assert "Anfrage gelöst" in dumped(resolved) and action(resolved, "pilot_propose")
    rating_card = cards_to(bot, REQUESTER)[-1]
    assert headings([rating_card]) == ["Ihre Anfrage ist gelöst"]
    stars = [a for a in actions_of(rating_card) if a.get("verb") == "escalation_rate"]
    stars = sorted(stars, key=lambda a: a["data"]["stars"])
    assert [a["data"]["stars"] for a in stars] == [1, 2, 3, 4, 5]
    thanks = card_of(await execute(bot, "escalation_rate", stars[3]["data"]))
    assert "Danke für Ihre Bewertung (4 von 5)" in dumped(thanks) and "escalation_rate" not in dumped(thanks)
    await execute(bot, "escalation_rate", stars[0]["data"])          # a later click does not change it
    assert (await requests_of(bot).get(rid)).rating == 4

    proposed = card_of(await execute(bot, "pilot_propose", {"request": rid, "kind": "alternate_question",
                                                            "note": "passt zu whiteboard-teilen-exportieren"},
                                     sender=pilot(1), conversation_id=chat))
    assert "liegt bei der Redaktion" in dumped(proposed) and "pilot_propose" not in dumped(proposed)
    await execute(bot, "pilot_propose", {"request": rid, "kind": "new_article"}, sender=pilot(1))
    from storage.base import Query
    docs = await bot.parts["store"].container("feedback").query(Query(partition="curation_proposal"))
    assert len(docs) == 1
    body = docs[0].body
    assert (body["question"], body["kind"], body["pilot"]) == (QUESTION, "alternate_question", "p1")
    assert "Testperson" not in dumped(body) and docs[0].expires_at is not None


async def test_requester_marks_it_done_and_the_pilot_may_still_propose_it(bot):
    rid = request_id(await ask_a_pilot(bot))
    work_activity = None
    await accept_as(bot, rid, 1)
    work_activity = (await requests_of(bot).get(rid)).work_activity_id
    done = card_of(await execute(bot, "escalation_done", {"request": rid}))
    assert "Ihre Anfrage ist gelöst" in dumped(done) and action(done, "escalation_rate")
    [update] = [c for c in bot.connector.updates() if c.activity_id == work_activity]
    assert "als erledigt markiert" in dumped(update.card) and "pilot_propose" in dumped(update.card)


async def test_relay_both_ways_in_the_same_chats(bot):
    rid = request_id(await ask_a_pilot(bot))
    chat = conversation_of(bot, pilot(1))
    await execute(bot, "pilot_accept", {"request": rid}, sender=pilot(1), conversation_id=chat)
    status = cards_to(bot, REQUESTER)[-1]
    relay = action(status, "escalation_relay")
    mine = card_of(await execute(bot, "escalation_relay", {**relay["data"], "message": 'Es geht um "Board 3" {x}'}))
    assert "Weitergeleitet an Anna Beispiel" in dumped(mine) and action(mine, "escalation_done")
    incoming = cards_to(bot, pilot(1))[-1]
    assert headings([incoming]) == ["Nachricht von Testperson 1"]
    assert any(run.get("text") == 'Es geht um "Board 3" {x}' for run in _runs(incoming))
    reply = action(incoming, "escalation_relay")
    sent = card_of(await execute(bot, "escalation_relay", {**reply["data"], "message": "Ich rufe Sie gleich an."},
                                 sender=pilot(1), conversation_id=chat))
    assert "An Testperson 1 weitergeleitet" in dumped(sent)
    back = cards_to(bot, REQUESTER)[-1]
    assert headings([back]) == ["Nachricht von Anna Beispiel"] and "Ich rufe Sie gleich an." in dumped(back)
    # Strangers, empty and overlong messages get a polite sentence, nothing is relayed.
    before = len(cards_to(bot, pilot(1)))
    for sender, message, expected in ((pilot(2), "hallo", "nicht Ihre Anfrage"), (REQUESTER, "  ", "zuerst"),
                                      (REQUESTER, "x" * 2001, "kürzen")):
        await bot.post(teams.card_execute(bot.url, "escalation_relay", {"request": rid, "message": message},
                                          sender=sender))
        assert expected in bot.connector.sent()[-1].text
    assert len(cards_to(bot, pilot(1))) == before


async def test_ordinary_questions_still_go_to_the_knowledge_base_during_a_request(bot):
    rid = request_id(await ask_a_pilot(bot))
    await accept_as(bot, rid, 1)
    [answer] = await say(bot, "wie teile ich meinen bildschirm")
    assert "Bildschirm" in dumped(answer.card) and "escalation" not in dumped(answer.card)



def _runs(card: dict) -> list[dict]:
    found, stack = [], [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type") == "TextRun":
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found


async def test_out_of_the_box_the_sample_pilots_take_requests(tmp_path):
    from tests.fakes.harness import local_settings
    async with BotHarness(local_settings(tmp_path)) as bot:        # no PILOTS_FILE: the shipped sample
        assert len(await bot.app[ROUTING_PARTS]["directory"].all()) == 29
        status = await ask_a_pilot(bot, "Wie exportiere ich ein Whiteboard als Bild?", department="Amt 51 – Jugendamt")
        assert dumped(status).count("Ihre Anfrage liegt bei ") == 1
        stored = await requests_of(bot).get(request_id(status))
        assert "Amt 51" in stored.holder.department and stored.offers[0].reasons.startswith("gleiches Amt")
