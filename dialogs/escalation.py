"""The requester's side of "Digitallots*in fragen": describe → check → send, then follow, cancel, rate,
and talk to the pilot through the bot (relay) without leaving the chat.

Entry points: the "Digitallots*in fragen" button on answer / "weiß ich nicht" cards (verb ask_pilot) and the
command `lots*in fragen`. The description travels in card data until it is confirmed; the draft id chosen
at "Weiter" becomes the request id, so a double click on "Absenden" cannot send twice.
"""

from __future__ import annotations

import logging
import re
import uuid
from dataclasses import replace
from typing import Callable

from dialogs.context import Message, Outcome, Turn
from dialogs.escalation_cards import MAX_RELAY, MAX_TEXT
from dialogs.escalation_flow import EscalationFlow
from routing import requests as rq
from routing.people import Departments
from routing.requests import HelpRequest, Person, Refused

log = logging.getLogger(__name__)

_HAS_WORD = re.compile(r"[^\W\d_]{2,}")
_DRAFT = re.compile(r"[0-9a-f]{32}")
MAX_OPEN_PER_PERSON = 3

REFUSALS = {
    "not_found": "Diese Anfrage finde ich nicht mehr.",
    "not_yours": "Das ist nicht Ihre Anfrage. Ich habe nichts geändert.",
    "resolved": "Diese Anfrage ist schon gelöst.",
    "cancelled": "Diese Anfrage wurde zurückgezogen.",
    "closed": "Diese Anfrage ist abgeschlossen.",
    "not_accepted": "Diese Anfrage hat noch niemand übernommen. Sobald das passiert, sage ich Bescheid.",
    "not_resolved": "Bewerten können Sie, sobald die Anfrage gelöst ist.",
    "invalid": "Das habe ich nicht verstanden. Ich habe nichts geändert.",
    "busy": "Gerade ist hier viel los. Bitte klicken Sie gleich noch einmal.",
}


def polite(refused: Refused) -> Outcome:
    """A refused transition as a friendly sentence (stale buttons, double clicks, other people's cards)."""
    return Outcome.say(Message(text=REFUSALS.get(refused.code, "Diese Schaltfläche ist nicht mehr aktuell.")))


def text_value(turn: Turn, key: str) -> str:
    value = turn.data.get(key)
    return value.strip() if isinstance(value, str) else ""


class EscalationDialog:
    """Requester-facing handlers of the escalation flow."""

    def __init__(self, flow: EscalationFlow, departments: Departments,
                 tags_for: Callable[[str], tuple[str, ...]]) -> None:
        self._flow = flow
        self._departments = departments
        self._tags_for = tags_for

    async def start(self, turn: Turn) -> Outcome:
        """"Digitallots*in fragen": the description form, prefilled with the question."""
        if turn.conversation_type != "personal":
            return Outcome.say(Message(text="Schreiben Sie mir dafür bitte im persönlichen Chat mit mir. "
                                            "Dort bleibt Ihre Anfrage unter uns."))
        me = await self.requester(turn)
        open_ones = [r for r in await self._flow.requests.asked_by(me.key) if r.status in rq.ACTIVE]
        if len(open_ones) >= MAX_OPEN_PER_PERSON:
            return Outcome.say(Message(text=f"Sie haben schon {len(open_ones)} offene Anfragen. Bitte warten Sie, bis "
                                            "eine davon erledigt ist. Ihre Anfragen zeigt „meine anfragen“."))
        question = text_value(turn, "question") or turn.args.strip()
        card = await self._form(me, text=question[:MAX_TEXT])
        return Outcome.say(Message(card=card, summary="Digitallots*in fragen"))

    async def preview(self, turn: Turn) -> Outcome:
        """"Weiter": check the description, remember a stated department, show the summary."""
        text, urgency = text_value(turn, "text"), text_value(turn, "urgency")
        urgency = urgency if urgency in ("normal", "dringend") else "normal"
        me = await self.requester(turn)
        if "department" in turn.data:
            stated = text_value(turn, "department")
            stated = text_value(turn, "department_other") if stated == "other" else stated
            if stated:
                me = replace(me, department=await self._departments.remember(me.key, stated))
        error = _problem(text)
        if error:
            return Outcome(card_update=await self._form(me, text=text, urgency=urgency, error=error))
        card = self._flow.cards.summary(draft=uuid.uuid4().hex, text=text, urgency=urgency, department=me.department)
        return Outcome(card_update=card)

    async def edit(self, turn: Turn) -> Outcome:
        """"Ändern": back to the form with the text kept."""
        me = await self.requester(turn)
        return Outcome(card_update=await self._form(me, text=text_value(turn, "text"),
                                                    urgency=text_value(turn, "urgency")))

    async def discard(self, turn: Turn) -> Outcome:
        """"Abbrechen" before sending: nothing is stored."""
        return Outcome(card_update=self._flow.cards.notice(
            "Nicht gesendet", "Ihre Frage wurde nicht weitergegeben. Sie können jederzeit „lots*in fragen“ schreiben."
        ).card)

    async def confirm(self, turn: Turn) -> Outcome:
        """"Absenden": store the request and hand it to the best pilot, all in this turn."""
        draft, text, urgency = text_value(turn, "draft"), text_value(turn, "text"), text_value(turn, "urgency")
        if not _DRAFT.fullmatch(draft) or _problem(text):
            return Outcome.say(Message(text="Diese Anfrage kann ich so nicht absenden. Schreiben Sie bitte "
                                            "„lots*in fragen“ und beschreiben Sie sie noch einmal."))
        me = await self.requester(turn)
        existing = await self._flow.requests.get(draft)
        if existing is not None:   # a second click on the same "Absenden"
            if not me.is_(existing.requester):
                return polite(Refused("not_yours"))
            return Outcome(card_update=self._flow.cards.status(existing).card)
        now = self._flow.clock()
        request = HelpRequest(id=draft, text=text, requester=me, tenant_id=turn.tenant_id, created_at=now,
                              updated_at=now, urgency="dringend" if urgency == "dringend" else "normal",
                              topics=tuple(self._tags_for(text))[:3])
        placed = await self._flow.submit(request)
        log.info("help request submitted", extra={"event": "request_submitted", "request": placed.id,
                                                  "status": placed.status, "topics": list(placed.topics)})
        return Outcome(card_update=self._flow.cards.status(placed).card)

    async def cancel(self, turn: Turn) -> Outcome:
        """"Anfrage zurückziehen": the pilot's card loses its buttons, an assignee is told."""
        me = await self.requester(turn)
        try:
            applied = await self._flow.requests.apply(text_value(turn, "request"),
                                                      lambda r: rq.cancel(r, me, now=self._flow.clock()))
        except Refused as refused:
            return polite(refused)
        request = applied.request
        if applied.changed:
            await self._flow.update_live_cards(request, self._flow.cards.notice(
                "Anfrage zurückgezogen", f"{request.requester.name} braucht keine Hilfe mehr. Danke!",
                quote_text=request.text))
            if applied.before.status == "accepted" and applied.before.assignee is not None:
                await self._flow.tell(applied.before.assignee, request.tenant_id, self._flow.cards.notice(
                    "Anfrage zurückgezogen", f"{request.requester.name} hat die Anfrage zurückgezogen.",
                    quote_text=request.text))
        return Outcome(card_update=self._flow.cards.status(request).card)

    async def done(self, turn: Turn) -> Outcome:
        """"Hat sich erledigt" (requester): resolved; the pilot is told and may still propose it."""
        me = await self.requester(turn)
        try:
            applied = await self._flow.requests.apply(text_value(turn, "request"),
                                                      lambda r: rq.resolve(r, me, now=self._flow.clock()))
        except Refused as refused:
            return polite(refused)
        request = applied.request
        if applied.changed and request.assignee is not None:
            resolved = self._flow.cards.resolved(request, note=f"{request.requester.name} hat die Anfrage als "
                                                                "erledigt markiert.")
            if request.work_activity_id:
                await self._flow.update_card(request.work_conversation_id, request.work_activity_id, resolved)
            else:
                await self._flow.tell(request.assignee, request.tenant_id, resolved)
        return Outcome(card_update=self._flow.cards.status(request).card)

    async def rate(self, turn: Turn) -> Outcome:
        """1–5 stars after resolution; the first rating counts, repeats are thanked."""
        stars = turn.data.get("stars")
        stars = int(stars) if isinstance(stars, (int, str)) and str(stars).isdigit() else 0
        me = await self.requester(turn)
        try:
            applied = await self._flow.requests.apply(text_value(turn, "request"), lambda r: rq.rate(r, me, stars))
        except Refused as refused:
            return polite(refused)
        if applied.changed:
            log.info("help request rated", extra={"event": "request_rated", "request": applied.request.id,
                                                  "rating": stars})
        return Outcome(card_update=self._flow.cards.status(applied.request).card)

    async def relay(self, turn: Turn) -> Outcome:
        """"Antworten" on a status, work or relay card: pass the message to the other side."""
        message = text_value(turn, "message")
        if not message:
            return Outcome.say(Message(text="Schreiben Sie Ihre Nachricht bitte zuerst in das Feld und klicken Sie "
                                            "dann auf „Antworten“."))
        if len(message) > MAX_RELAY:
            return Outcome.say(Message(text=f"Ihre Nachricht hat {len(message)} Zeichen. Bitte kürzen Sie sie auf "
                                            f"höchstens {MAX_RELAY} Zeichen."))
        request = await self._flow.requests.get(text_value(turn, "request"))
        if request is None:
            return polite(Refused("not_found"))
        me = Person(user_id=turn.user.id, aad_id=turn.user.aad_object_id, name=turn.user.name)
        try:
            partner = rq.relay_partner(request, me)
        except Refused as refused:
            return polite(refused)
        sender = request.requester if me.is_(request.requester) else request.assignee
        delivered = await self._flow.tell(partner, request.tenant_id, self._flow.cards.relay(
            request, partner=sender, message=message, incoming=True))
        if not delivered:
            return Outcome.say(Message(text=f"Ihre Nachricht konnte ich {partner.name} leider nicht zustellen. "
                                            "Nutzen Sie bitte den Chat-Link."))
        log.info("message relayed", extra={"event": "relay", "request": request.id})
        note = f"Weitergeleitet an {partner.name}: „{_clip(message)}“"
        view = text_value(turn, "view")
        if view == "status" and me.is_(request.requester):
            return Outcome(card_update=self._flow.cards.status(request, note=note).card)
        if view == "work" and me.is_(request.assignee):
            colleagues = await self._flow.colleagues(request, sender, self._flow.clock())
            return Outcome(card_update=self._flow.cards.accepted(request, colleagues, note=note).card)
        return Outcome(card_update=self._flow.cards.relay(request, partner=partner, message=message,
                                                          incoming=False).card)

    async def department(self, turn: Turn) -> Outcome:
        """`mein amt` shows, `mein amt <Amt>` changes the department pilots are matched by."""
        me = await self.requester(turn)
        stated = turn.args.strip()
        if stated:
            if len(stated) > 120 or not _HAS_WORD.search(stated) and not stated.isdigit():
                return Outcome.say(Message(text="Schreiben Sie Ihr Amt bitte kurz, zum Beispiel: "
                                                "„mein amt Amt 51 – Jugendamt“."))
            saved = await self._departments.remember(me.key, stated)
            return Outcome.say(Message(text=f"Gespeichert: Sie arbeiten im {saved}. Danach suche ich passende "
                                            "Digitallots*innen aus."))
        if me.department:
            return Outcome.say(Message(text=f"Ich habe Sie dem {me.department} zugeordnet. Ändern können Sie das mit "
                                            "„mein amt …“, zum Beispiel „mein amt Amt 20 – Kämmerei“."))
        return Outcome.say(Message(text="Ihr Amt kenne ich noch nicht. Sagen Sie es mir mit „mein amt …“, zum "
                                        "Beispiel „mein amt Amt 20 – Kämmerei“."))

    async def requester(self, turn: Turn) -> Person:
        """The person in this turn, with department, mail (for the chat link) and pilot entry if any."""
        user = turn.user
        key = user.aad_object_id or user.id
        known = await self._departments.of(key, user.aad_object_id)
        pilot = await self._flow.directory.for_user(aad_id=user.aad_object_id, teams_id=user.id)
        upn = known.upn or (pilot.upn if pilot else "")
        return Person(user_id=user.id, aad_id=user.aad_object_id, name=user.name or (pilot.name if pilot else ""),
                      upn=upn, department=known.department or (pilot.department if pilot else ""),
                      pilot_key=pilot.key if pilot else "")

    async def _form(self, me: Person, *, text: str, urgency: str = "normal", error: str = "") -> dict:
        ask = None if me.department else await self._flow.directory.departments()
        return self._flow.cards.form(text=text, urgency=urgency, error=error, departments=ask)


def _problem(text: str) -> str:
    if not _HAS_WORD.search(text):
        return "Bitte beschreiben Sie Ihre Frage in ein paar Worten."
    if len(text) > MAX_TEXT:
        return (f"Ihr Text hat {len(text)} Zeichen. Bitte kürzen Sie ihn auf höchstens {MAX_TEXT} Zeichen; "
                "Einzelheiten können Sie danach mit der Digitallots*in besprechen.")
    return ""


def _clip(text: str, limit: int = 120) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"

