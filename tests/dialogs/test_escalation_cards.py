"""Every escalation and pilot card renders to valid Adaptive Card 1.5 JSON, whatever people type."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from cards.render import CardRenderer
from dialogs.escalation_cards import EscalationCards, chat_url
from routing import requests as rq
from routing.hours import BusinessHours
from routing.matching import Need, score
from routing.pilots import Pilot
from routing.requests import HelpRequest, Person
from tests.cards.parts import strings
from tests.cards.test_render import NASTY

SITE = {"service_desk_name": "IT-Servicedesk", "service_desk_phone": "0000 00000-0",
        "service_desk_mail": "sd@x.example"}
T0 = 1_800_000_000.0


@pytest.fixture(scope="module")
def cards():
    return EscalationCards(CardRenderer(), BusinessHours.parse("Mo-Fr 08:00-16:00"), SITE)


def every_state(text: str) -> list[HelpRequest]:
    asker = Person(user_id="29:a", aad_id="a", name=text, upn="asker@beispielstadt.example", department=text)
    anna = Person(user_id="29:p", aad_id="p", name=text, upn="anna@beispielstadt.example", department=text,
                  pilot_key="p")
    base = HelpRequest(id="r1", text=text, requester=asker, tenant_id="t", created_at=T0, topics=("whiteboard",))
    offered = rq.offer(base, anna, now=T0, deadline=T0 + 3600, reasons=text)
    handed = rq.hand_over(offered, anna, replace(anna, aad_id="q", user_id="29:q", pilot_key="q"), now=T0,
                          deadline=T0 + 60, reasons=text)
    accepted = rq.accept(offered, anna, now=T0)
    resolved = rq.resolve(accepted, anna, now=T0, note=text)
    opened = rq.open_to_channel(base, now=T0, deadline=T0 + 1)
    return [base, offered, handed, accepted, resolved, rq.rate(resolved, asker, 3), rq.remind(opened, now=T0 + 1),
            opened, rq.cancel(offered, asker, now=T0), rq.close_unassigned(base, now=T0, reason="nobody"),
            rq.mark_proposed(resolved, anna)]


@pytest.mark.parametrize("text", NASTY)
def test_user_text_never_breaks_any_escalation_card(cards, text):
    pilot = Pilot(key="p", name=text, upn="p@beispielstadt.example", aad_id="p", department=text, topics=("chat",))
    colleague = score(pilot, Need(topics=("chat",)), 1)
    rendered = [cards.form(text=text, error=text, departments=[text, "Amt 10"], department=text),
                cards.summary(draft="0" * 32, text=text, urgency="dringend", department=text),
                cards.notice(text, text, quote_text=text).card]
    for request in every_state(text):
        rendered.append(cards.status(request, note=text).card)
        if request.offers:
            rendered.append(cards.offer(request, index=len(request.offers) - 1, colleagues=[colleague]).card)
        rendered += [cards.channel(request).card, cards.accepted(request, [colleague], note=text).card,
                     cards.resolved(request, note=text).card,
                     cards.relay(request, partner=request.requester, message=text, incoming=True, note=text).card]
    rendered.append(cards.overview(text, [(text, text, [(text, text)])]).card)
    rendered.append(cards.render("pilot_list", heading=text,
                                 pilots=[{"name": text, "department": text, "details": text}]))
    rendered.append(cards.render("pilot_admin_form", heading=text, pilot=pilot, key=text, etag=text, error=text,
                                 topics=[(text, text)]))
    for card in rendered:
        assert card["version"] == "1.5" and card["type"] == "AdaptiveCard"
        assert any(text in s for s in strings(card))
        dumped = json.dumps(card)
        assert '"type": "TextBlock"' not in dumped   # user text only in TextRuns: no Markdown, no links


def test_deep_links_open_a_teams_chat(cards):
    assert chat_url("anna.beispiel@beispielstadt.example") == \
        "https://teams.microsoft.com/l/chat/0/0?users=anna.beispiel@beispielstadt.example"
    assert chat_url("a&b=c@x.example") == "https://teams.microsoft.com/l/chat/0/0?users=a%26b%3Dc@x.example"
    assert chat_url("") == ""
    offered = every_state("Frage")[1]
    card = cards.offer(offered, index=0, colleagues=[]).card
    links = [a for a in _actions(card) if a["type"] == "Action.OpenUrl"]
    assert links and links[0]["url"].endswith("users=asker@beispielstadt.example")
    assert not any(a.get("verb") == "pilot_handover" for a in _actions(card))   # nobody to hand over to


def test_unassigned_names_the_service_desk(cards):
    unassigned = every_state("Frage")[9]
    assert "IT-Servicedesk: 0000 00000-0, sd@x.example." in json.dumps(cards.status(unassigned).card,
                                                                      ensure_ascii=False)
    minimal = EscalationCards(CardRenderer(), BusinessHours.parse("Mo-Fr 08:00-16:00"), {})
    assert "hilft der IT-Servicedesk." in minimal.service_desk()


def _actions(card):
    found, stack = [], [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if str(node.get("type", "")).startswith("Action."):
                found.append(node)
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return found
