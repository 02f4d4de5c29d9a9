"""The pilots' side: Übernehmen, Ablehnen, An Kolleg*in weitergeben, Gelöst, propose for the knowledge base,
and keeping one's own entry current (`abwesend bis 12.12.`, `wieder da`, `meine themen …`, `meine anfragen`)."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import replace

from dialogs.context import Message, Outcome, Turn
from dialogs.escalation import text_value
from dialogs.escalation_cards import who
from dialogs.escalation_flow import EscalationFlow, person_of
from routing import requests as rq
from routing.hours import german_date, parse_date
from routing.matching import Need, score, unavailable_because
from routing.pilots import TOPICS, Pilot, parse_topics, topic_label
from routing.requests import HelpRequest, Person, Refused
from storage.base import Conflict, Container

log = logging.getLogger(__name__)

PROPOSALS = "curation_proposal"     # partition in the "feedback" container: the curators' queue
MAX_ABSENCE_DAYS = 366
HELD_WORDS = {"offered": "wartet auf Ihre Antwort", "accepted": "von Ihnen übernommen"}
ASKED_WORDS = {"new": "wird zugeteilt", "offered": "liegt bei", "open": "im Kanal der Digitallots*innen",
               "accepted": "übernommen von", "resolved": "gelöst", "cancelled": "zurückgezogen",
               "unassigned": "niemand erreichbar", "declined": "wird neu zugeteilt", "timed_out": "wird neu zugeteilt",
               "reassigned": "wird neu zugeteilt"}

STALE = {
    "taken": "Bereits übernommen von {assignee}",
    "moved": "Diese Anfrage liegt inzwischen bei einer Kolleg*in",
    "cancelled": "Diese Anfrage wurde zurückgezogen",
    "resolved": "Diese Anfrage ist schon gelöst",
    "closed": "Diese Anfrage ist abgeschlossen",
    "own": "Das ist Ihre eigene Anfrage",
    "not_found": "Diese Anfrage gibt es nicht mehr",
    "not_yours": "Diese Anfrage liegt bei einer Kolleg*in",
    "not_accepted": "Diese Anfrage ist noch nicht übernommen",
    "not_resolved": "Diese Anfrage ist noch nicht gelöst",
    "invalid": "Das geht so nicht",
    "busy": "Gerade ist viel los – bitte gleich noch einmal klicken",
}


class PilotDesk:
    """Handlers for pilot card buttons and pilot self-service commands."""

    def __init__(self, flow: EscalationFlow, proposals: Container, *, retention_days: int,
                 cdo_office: str = "") -> None:
        self._flow = flow
        self._proposals = proposals
        self._retention_s = retention_days * 86400.0
        self._cdo_office = cdo_office or "CDO-Büro"

    # -- card buttons -------------------------------------------------------------------------------------

    async def accept(self, turn: Turn) -> Outcome:
        """"Übernehmen": exactly one click wins; every other clicker is told who has it."""
        flow, me, now = self._flow, await self.me(turn), self._flow.clock()
        try:
            applied = await flow.requests.apply(text_value(turn, "request"), lambda r: rq.accept(r, me, now=now))
        except Refused as refused:
            return self._stale(refused)
        request = applied.request
        if not applied.changed:   # the same person clicked again
            if turn.conversation_type != "personal":   # in the channel the card stays a plain notice
                return Outcome(card_update=flow.cards.notice(f"Übernommen von {me.name}", "Danke!",
                                                             quote_text=request.text).card)
            return Outcome(card_update=flow.cards.accepted(request, await flow.colleagues(request, me, now)).card)
        winner = request.assignee or me
        log.info("request accepted", extra={"event": "request_accepted", "request": request.id,
                                            "pilot": winner.pilot_key, "via": request.offers[-1].via})
        if winner.pilot_key:
            await flow.directory.record_assignment(winner.pilot_key, now)
        work = flow.cards.accepted(request, await flow.colleagues(request, winner, now))
        if applied.before.status == "open":
            # Claimed in the channel: everyone there sees who took it; the work card goes to the claimer 1:1.
            taken = flow.cards.notice(f"Übernommen von {winner.name}", "Danke!", quote_text=request.text)
            await flow.update_live_cards(request, taken, skip_activity=turn.card_activity_id)
            delivery = await flow.deliver_to(winner, request.tenant_id, work)
            if delivery.ok:
                request = await self._work_card(request.id, delivery.conversation_id, delivery.activity_id) or request
            await flow.tell_requester(request, flow.cards.status(request))
            return Outcome(card_update=taken.card)
        pending = request.offers[-1]
        request = await self._work_card(request.id, pending.conversation_id, pending.activity_id) or request
        await flow.tell_requester(request, flow.cards.status(request))
        return Outcome(card_update=work.card)

    async def decline(self, turn: Turn) -> Outcome:
        """"Ablehnen" with a reason: the next candidate gets it, the requester is told."""
        flow, me, now = self._flow, await self.me(turn), self._flow.clock()
        reason = " – ".join(v for v in (text_value(turn, "reason"), text_value(turn, "reason_text")) if v)
        try:
            applied = await flow.requests.apply(text_value(turn, "request"),
                                                lambda r: rq.decline(r, me, now=now, reason=reason))
        except Refused as refused:
            return self._stale(refused)
        lines = ["Danke für Ihre Rückmeldung. Ich frage eine Kolleg*in."]
        if "abwesend" in reason:
            lines.append("Tipp: Mit „abwesend bis 12.12.“ bekommen Sie bis dahin keine Anfragen.")
        card = flow.cards.notice("Sie haben abgelehnt" if applied.changed else "Sie haben bereits abgelehnt", *lines,
                                 quote_text=applied.request.text).card
        if applied.changed:
            log.info("request declined", extra={"event": "request_declined", "request": applied.request.id,
                                                "pilot": me.pilot_key})
            await flow.route(applied.request.id, now, notify=True)
        return Outcome(card_update=card)

    async def hand_over(self, turn: Turn) -> Outcome:
        """"An Kolleg*in weitergeben": to the chosen colleague, if they are available."""
        flow, me, now = self._flow, await self.me(turn), self._flow.clock()
        request = await flow.requests.get(text_value(turn, "request"))
        target = await flow.directory.get(text_value(turn, "to"))
        if request is None:
            return self._stale(Refused("not_found"))
        if target is None:
            return Outcome.say(Message(text="Bitte wählen Sie eine Kolleg*in aus der Liste."))
        load = (await flow.requests.loads()).get(target.key, 0)
        need = Need(request.topics, request.requester.department, flow.hours.today(now))
        busy = unavailable_because(target, need, load)
        if busy:
            return Outcome.say(Message(text=f"{target.name} ist gerade nicht verfügbar ({busy}). "
                                            "Bitte wählen Sie eine andere Kolleg*in."))
        reasons = f"von {me.name} empfohlen · {score(target, need, load).explanation}"
        try:
            applied = await flow.requests.apply(request.id, lambda r: rq.hand_over(
                r, me, person_of(target), now=now, deadline=flow.deadline(r, now), reasons=reasons))
        except Refused as refused:
            return self._stale(refused)
        placed = await flow.deliver(applied.request, now, notify=True)
        if placed.status in rq.ROUTABLE:   # the colleague could not be reached: routing takes over
            await flow.route(placed.id, now, notify=True)
            return Outcome(card_update=flow.cards.notice(
                "Weitergegeben", f"{target.name} war nicht erreichbar. Ich habe eine andere Kolleg*in gefragt.",
                quote_text=request.text).card)
        return Outcome(card_update=flow.cards.notice(
            "Weitergegeben", f"Die Anfrage liegt jetzt bei {target.name}. Danke!", quote_text=request.text).card)

    async def resolve(self, turn: Turn) -> Outcome:
        """"Gelöst": the requester is told and asked for a rating."""
        flow, me, now = self._flow, await self.me(turn), self._flow.clock()
        note = text_value(turn, "note")
        try:
            applied = await flow.requests.apply(text_value(turn, "request"),
                                                lambda r: rq.resolve(r, me, now=now, note=note))
        except Refused as refused:
            return self._stale(refused)
        if applied.changed:
            log.info("request resolved", extra={"event": "request_resolved", "request": applied.request.id})
            await flow.tell_requester(applied.request, flow.cards.status(applied.request))
        return Outcome(card_update=flow.cards.resolved(applied.request).card)

    async def propose(self, turn: Turn) -> Outcome:
        """"Für die Wissensbasis vorschlagen": into the curators' queue (feedback container), once."""
        flow, me = self._flow, await self.me(turn)
        request = await flow.requests.get(text_value(turn, "request"))
        if request is None:
            return self._stale(Refused("not_found"))
        try:
            rq.mark_proposed(request, me)   # checks before anything is written
        except Refused as refused:
            return self._stale(refused)
        kind = text_value(turn, "kind")
        now = flow.clock()
        kind = kind if kind in ("new_article", "alternate_question") else "new_article"
        body = {"request_id": request.id, "kind": kind,
                "question": request.text, "note": text_value(turn, "note")[:1000], "topics": list(request.topics),
                "pilot": me.pilot_key, "proposed_at": now, "status": "new"}
        try:
            await self._proposals.create(request.id, PROPOSALS, body, expires_at=now + self._retention_s)
        except Conflict:
            pass  # proposed before (a repeated click)
        applied = await flow.requests.apply(request.id, lambda r: rq.mark_proposed(r, me))
        return Outcome(card_update=flow.cards.resolved(applied.request).card)

    # -- self-service -------------------------------------------------------------------------------------

    async def away(self, turn: Turn) -> Outcome:
        """`abwesend bis 12.12.`: no new requests until then; waiting offers go to colleagues now."""
        pilot = await self._pilot(turn)
        if pilot is None:
            return self._not_a_pilot()
        today = self._flow.hours.today(self._flow.clock())
        until = parse_date(turn.args, today)
        if until is None:
            return Outcome.say(Message(text="Das Datum habe ich nicht verstanden. Schreiben Sie zum Beispiel "
                                            "„abwesend bis 12.12.“ oder „abwesend bis 12.12.2026“."))
        if until < today:
            return Outcome.say(Message(text=f"Der {german_date(until)} liegt in der Vergangenheit. Bitte nennen "
                                            "Sie den letzten Tag Ihrer Abwesenheit."))
        if until > today + dt.timedelta(days=MAX_ABSENCE_DAYS):
            return Outcome.say(Message(text="Bitte tragen Sie höchstens ein Jahr im Voraus ein. Für längere Zeit "
                                            f"melden Sie sich beim {self._cdo_office}."))
        await self._flow.directory.update(pilot.key, lambda p: replace(p, absent_until=until.isoformat()))
        moved = await self._flow.withdraw_pilot(pilot.key, self._flow.clock(), include_accepted=False)
        text = f"Gut, bis einschließlich {german_date(until)} bekommen Sie keine Anfragen."
        if moved:
            text += f" {moved} wartende Anfrage{'n' if moved != 1 else ''} habe ich an Kolleg*innen weitergegeben."
        text += " Übernommene Anfragen bleiben bei Ihnen; Sie können sie auf der Karte weitergeben. " \
                "Zurück? Schreiben Sie „wieder da“."
        return Outcome.say(Message(text=text))

    async def back(self, turn: Turn) -> Outcome:
        """`wieder da`: available again."""
        pilot = await self._pilot(turn)
        if pilot is None:
            return self._not_a_pilot()
        await self._flow.directory.update(pilot.key, lambda p: replace(p, absent_until=""))
        return Outcome.say(Message(text="Willkommen zurück! Ab jetzt bekommen Sie wieder Anfragen."))

    async def topics(self, turn: Turn) -> Outcome:
        """`meine themen` shows, `meine themen whiteboard, besprechung` sets the topics one is matched by."""
        pilot = await self._pilot(turn)
        if pilot is None:
            return self._not_a_pilot()
        choices = ", ".join(TOPICS.values())
        if not turn.args.strip():
            mine = ", ".join(topic_label(t) for t in pilot.topics) or "noch keine"
            return Outcome.say(Message(text=f"Ihre Themen: {mine}. Ändern mit „meine themen …“, zum Beispiel "
                                            f"„meine themen Whiteboard, Besprechungen“. Möglich sind: {choices}."))
        known, unknown = parse_topics(turn.args)
        if unknown or not known:
            words = ", ".join(f"„{w}“" for w in unknown) or "nichts davon"
            return Outcome.say(Message(text=f"Diese Themen kenne ich nicht: {words}. Möglich sind: {choices}."))
        updated = await self._flow.directory.update(pilot.key, lambda p: replace(p, topics=known))
        return Outcome.say(Message(text="Gespeichert. Ihre Themen: " +
                                        ", ".join(topic_label(t) for t in updated.topics) + "."))

    async def my_requests(self, turn: Turn) -> Outcome:
        """`meine anfragen`: what waits for me as pilot, and what I asked myself."""
        flow = self._flow
        pilot = await self._pilot(turn)
        sections = []
        if pilot is not None:
            held = await flow.requests.held_by(pilot.key)
            sections.append(("Bei Ihnen als Digitallots*in", "Gerade liegt keine Anfrage bei Ihnen.",
                             [(self._held_line(r), r.text) for r in held]))
        asked = await flow.requests.asked_by(turn.user.aad_object_id or turn.user.id, limit=10)
        sections.append(("Ihre eigenen Anfragen", "Sie haben noch keine Anfrage gestellt.",
                         [(self._asked_line(r), r.text) for r in asked]))
        return Outcome.say(flow.cards.overview("Meine Anfragen", sections))

    # -- helpers ------------------------------------------------------------------------------------------

    async def me(self, turn: Turn) -> Person:
        """The clicking person; with their directory entry when they are a pilot."""
        pilot = await self._pilot(turn)
        if pilot is not None:
            return person_of(pilot)
        return Person(user_id=turn.user.id, aad_id=turn.user.aad_object_id, name=turn.user.name or "Kolleg*in")

    async def _pilot(self, turn: Turn) -> Pilot | None:
        return await self._flow.directory.for_user(aad_id=turn.user.aad_object_id, teams_id=turn.user.id)

    async def _work_card(self, request_id: str, conversation_id: str, activity_id: str) -> HelpRequest | None:
        try:
            return (await self._flow.requests.apply(request_id, lambda r: rq.attach_work_card(
                r, conversation_id, activity_id))).request
        except Refused:
            return None

    def _held_line(self, request: HelpRequest) -> str:
        state = HELD_WORDS.get(request.status, request.status)
        return f"{self._date(request)} · {who(request.requester)} · {state}"

    def _asked_line(self, request: HelpRequest) -> str:
        state = ASKED_WORDS.get(request.status, request.status)
        holder = request.holder
        if holder is not None and request.status in ("offered", "accepted"):
            state = f"{state} {holder.name}"
        return f"{self._date(request)} · {state}"

    def _date(self, request: HelpRequest) -> str:
        return f"{dt.datetime.fromtimestamp(request.created_at, self._flow.hours.zone):%d.%m.}"

    def _stale(self, refused: Refused) -> Outcome:
        """Stale or conflicting click: the card says politely what happened instead."""
        request = refused.request
        assignee = request.assignee.name if request is not None and request.assignee else "einer Kolleg*in"
        heading = STALE.get(refused.code, "Diese Schaltfläche ist nicht mehr aktuell").format(assignee=assignee)
        line = "Danke trotzdem!" if refused.code == "taken" else "Ich habe nichts geändert."
        return Outcome(card_update=self._flow.cards.notice(heading, line,
                                                           quote_text=request.text if request else "").card)

    def _not_a_pilot(self) -> Outcome:
        return Outcome.say(Message(text="Sie sind nicht als Digitallots*in eingetragen. Wenn Sie mitmachen möchten, "
                                        f"melden Sie sich beim {self._cdo_office}."))
