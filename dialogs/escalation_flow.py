"""Placing a help request: pick the best available pilot, deliver the card, tell the requester, and move on
(next candidate, the pilots' channel, or an honest "nobody") whenever an offer ends without a taker.

Used by the dialogs (in the requester's or pilot's turn) and by the sweeper (timers). Every state change
goes through `RequestBook.apply` (routing/request_book.py), so whoever loses a race re-reads and acts on
the winner's state.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, replace
from typing import Callable

from dialogs.context import Message
from dialogs.escalation_cards import EscalationCards
from dialogs.ports import Delivery, Messenger
from routing import requests as rq
from routing.hours import BusinessHours
from routing.matching import Candidate, Need, rank
from routing.pilots import Pilot, PilotDirectory
from routing.request_book import RequestBook
from routing.requests import HelpRequest, Person, Refused
from storage.conversations import ConversationBook

log = logging.getLogger(__name__)

HANDOVER_CHOICES = 8


@dataclass(frozen=True)
class Policy:
    """How long a pilot has, how many pilots are tried, and where the channel fallback goes."""

    timeout_hours: float = 4.0
    max_candidates: int = 3
    channel_id: str = ""        # conversation id of the pilots' channel
    team_id: str = ""           # the pilots' team: its General channel, or the source of the channel's address


def person_of(pilot: Pilot) -> Person:
    return Person(user_id=pilot.teams_id, aad_id=pilot.aad_id, name=pilot.name, upn=pilot.upn,
                  department=pilot.department, pilot_key=pilot.key)


class EscalationFlow:
    """Routes requests and keeps every card and person informed."""

    def __init__(self, requests: RequestBook, directory: PilotDirectory, messenger: Messenger,
                 cards: EscalationCards, hours: BusinessHours, policy: Policy, book: ConversationBook, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.requests = requests
        self.directory = directory
        self.cards = cards
        self.hours = hours
        self._messenger = messenger
        self._policy = policy
        self._book = book
        self.clock = clock

    def deadline(self, request: HelpRequest, now: float) -> float:
        """When the current offer runs out, in business hours; urgent requests get half the time."""
        hours = self._policy.timeout_hours * (0.5 if request.urgency == "dringend" else 1.0)
        return self.hours.add(now, hours)

    async def ranked(self, request: HelpRequest, now: float, *,
                     also_exclude: frozenset[str] = frozenset()) -> list[Candidate]:
        """Available pilots who have not had this request yet, best first (never the requester)."""
        exclude = set(also_exclude) | request.offered_keys
        if request.requester.pilot_key:
            exclude.add(request.requester.pilot_key)
        need = Need(request.topics, request.requester.department, self.hours.today(now), frozenset(exclude))
        return rank(await self.directory.all(), need, await self.requests.loads())

    async def colleagues(self, request: HelpRequest, me: Person, now: float) -> list[Candidate]:
        """Whom `me` can hand the request to (a short list for the card)."""
        mine = frozenset({me.pilot_key} if me.pilot_key else set())
        found = await self.ranked(request, now, also_exclude=mine)   # nobody who already had it
        return [c for c in found if not me.is_(person_of(c.pilot))][:HANDOVER_CHOICES]

    # -- placing ------------------------------------------------------------------------------------------

    async def submit(self, request: HelpRequest) -> HelpRequest:
        """Store a confirmed request and place it (the requester sees the result in the same turn)."""
        stored, created = await self.requests.create(request)
        if not created:
            return stored
        return await self.route(stored.id, stored.created_at, notify=False) or stored

    async def route(self, request_id: str, now: float, *, notify: bool = True) -> HelpRequest | None:
        """Offer to the best next pilot; on an undeliverable card try the next; then channel or "nobody"."""
        request = await self.requests.get(request_id)
        for _ in range(len(await self.directory.all()) + 2):
            if request is None or request.status not in rq.ROUTABLE:
                return request
            candidates = await self.ranked(request, now)
            if not candidates or request.delivered_offers >= self._policy.max_candidates:
                return await self._fallback(request, now, notify, nobody=not candidates and not request.offers)
            best = candidates[0]
            deadline = self.deadline(request, now)
            try:
                applied = await self.requests.apply(request.id, lambda r: rq.offer(
                    r, person_of(best.pilot), now=now, deadline=deadline, reasons=best.explanation))
            except Refused as refused:
                return refused.request or await self.requests.get(request_id)
            request = await self.deliver(applied.request, now, notify=notify)
        return request

    async def deliver(self, request: HelpRequest, now: float, *, notify: bool = True) -> HelpRequest:
        """Send the pending offer's card. If the pilot cannot be reached the offer ends (status "reassigned")
        and the caller routes on."""
        index = len(request.offers) - 1
        pilot = request.offers[index].pilot
        colleagues = await self.colleagues(request, pilot, now)
        delivery = await self._messenger.send_to_user(aad_id=pilot.aad_id, user_id=pilot.user_id,
                                                      tenant_id=request.tenant_id,
                                                      message=self.cards.offer(request, index=index,
                                                                               colleagues=colleagues))
        if not delivery.ok:
            log.warning("pilot unreachable, rerouting", extra={"event": "pilot_unreachable", "request": request.id,
                                                                "pilot": pilot.pilot_key, "delivery": delivery.status})
            try:
                return (await self.requests.apply(request.id, lambda r: rq.mark_unreachable(r, pilot, now=now))).request
            except Refused as refused:
                return refused.request or request
        request = await self._attach(request.id, index, delivery.conversation_id, delivery.activity_id) or request
        if pilot.pilot_key:
            await self.directory.record_assignment(pilot.pilot_key, now)
        log.info("request offered", extra={"event": "request_offered", "request": request.id,
                                           "pilot": pilot.pilot_key, "offer": index + 1})
        if notify:
            await self.tell_requester(request, self.cards.status(request))
        return request

    async def _fallback(self, request: HelpRequest, now: float, notify: bool, *, nobody: bool) -> HelpRequest | None:
        channel = await self._channel()
        if channel:
            try:
                applied = await self.requests.apply(request.id, lambda r: rq.open_to_channel(
                    r, now=now, deadline=self.deadline(r, now)))
            except Refused as refused:
                return refused.request
            delivery = await self._messenger.send(channel, self.cards.channel(applied.request))
            if delivery.ok:
                opened = await self._attach(request.id, len(applied.request.offers) - 1, delivery.conversation_id,
                                            delivery.activity_id) or applied.request
                log.info("request open in channel", extra={"event": "request_open", "request": request.id})
                if notify:
                    await self.tell_requester(opened, self.cards.status(opened))
                return opened
            log.warning("pilots' channel unreachable", extra={"event": "channel_unreachable", "request": request.id,
                                                              "delivery": delivery.status})
        reason = "nobody" if nobody else "exhausted"
        try:
            applied = await self.requests.apply(request.id, lambda r: rq.close_unassigned(r, now=now, reason=reason))
        except Refused as refused:
            return refused.request
        log.warning("request unassigned", extra={"event": "request_unassigned", "request": request.id,
                                                 "reason": reason})
        if notify:
            await self.tell_requester(applied.request, self.cards.status(applied.request))
        return applied.request

    async def _channel(self) -> str:
        """The pilots' channel conversation, if the bot can write there."""
        channel_id, team_id = self._policy.channel_id, self._policy.team_id
        if channel_id:
            record = await self._book.get(channel_id)
            if record is not None:
                return channel_id if record.status == "active" else ""
        if team_id:
            team = await self._book.get(team_id)
            if team is None or team.status != "active":
                return ""
            if not channel_id:
                return team_id
            # Teams only told us about the team (its General channel); a channel of it shares the address.
            await self._book.remember(replace(team, conversation_id=channel_id, team_id=team_id, updated_at=0.0))
            return channel_id
        return ""

    async def _attach(self, request_id: str, index: int, conversation_id: str, activity_id: str) -> HelpRequest | None:
        try:
            return (await self.requests.apply(request_id, lambda r: rq.attach_card(
                r, index, conversation_id, activity_id))).request
        except Refused:
            return None

    # -- after a timer, a click, or a directory change ----------------------------------------------------

    async def reroute(self, request_id: str, now: float) -> None:
        """Sweeper: an offer ran out (or a crash left the request waiting): update its card, route on."""
        request = await self.requests.get(request_id)
        if request is None:
            return
        last = request.offers[-1] if request.offers else None
        if last is not None and last.outcome in ("timed_out", "withdrawn") and last.activity_id:
            reason = "Die Zeit zum Übernehmen ist abgelaufen." if last.outcome == "timed_out" else \
                "Sie sind gerade abwesend oder nicht mehr eingetragen."
            notice = self.cards.notice("Anfrage weitergegeben", reason, "Ich biete sie einer Kolleg*in an. Danke!",
                                       quote_text=request.text)
            await self.update_card(last.conversation_id, last.activity_id, notice)
        await self.route(request_id, now, notify=True)

    async def remind_open(self, request_id: str, now: float) -> None:
        """Sweeper: the channel post waited a full timeout; tell the requester honestly, keep it open."""
        request = await self.requests.get(request_id)
        if request is not None and request.status == "open":
            await self.tell_requester(request, self.cards.status(request))

    async def withdraw_pilot(self, pilot_key: str, now: float, *, include_accepted: bool) -> int:
        """Move a pilot's pending offers (and, if asked, accepted requests) to colleagues."""
        moved = 0
        for request in await self.requests.held_by(pilot_key):
            try:
                applied = await self.requests.apply(request.id, lambda r: rq.withdraw(
                    r, pilot_key, now=now, include_accepted=include_accepted))
            except Refused:
                continue
            if applied.changed:
                moved += 1
                before = applied.before
                if before.status == "accepted" and before.work_activity_id:
                    await self.update_card(before.work_conversation_id, before.work_activity_id, self.cards.notice(
                        "Anfrage weitergegeben", "Sie sind gerade abwesend oder nicht mehr eingetragen.",
                        "Ich biete sie einer Kolleg*in an. Danke!", quote_text=request.text))
                if before.status == "accepted":
                    await self.tell_requester(applied.request, self.cards.notice(
                        "Ihre Anfrage bekommt eine neue Digitallots*in",
                        f"{applied.before.assignee.name if applied.before.assignee else 'Ihre Digitallots*in'} "
                        "ist nicht mehr erreichbar. Ich suche eine Kolleg*in.", quote_text=request.text))
                await self.reroute(request.id, now)
        return moved

    async def update_live_cards(self, request: HelpRequest, message: Message, *, skip_activity: str = "") -> None:
        """Replace every card of this request that still has buttons (offer, channel post, work card)."""
        seen = {skip_activity} if skip_activity else set()
        targets = [(e.conversation_id, e.activity_id) for e in request.offers
                   if e.outcome in ("pending", "accepted", "cancelled")]
        targets.append((request.work_conversation_id, request.work_activity_id))
        for conversation_id, activity_id in targets:
            if conversation_id and activity_id and activity_id not in seen:
                seen.add(activity_id)
                await self.update_card(conversation_id, activity_id, message)

    async def update_card(self, conversation_id: str, activity_id: str, message: Message) -> None:
        delivery = await self._messenger.update(conversation_id, activity_id, message)
        if not delivery.ok:
            log.info("card not updated", extra={"event": "card_update_failed", "delivery": delivery.status})

    async def tell_requester(self, request: HelpRequest, message: Message) -> None:
        await self.tell(request.requester, request.tenant_id, message)

    async def tell(self, person: Person, tenant_id: str, message: Message) -> bool:
        return (await self.deliver_to(person, tenant_id, message)).ok

    async def deliver_to(self, person: Person, tenant_id: str, message: Message) -> Delivery:
        """A 1:1 message to a person (their stored chat, or a new one)."""
        delivery = await self._messenger.send_to_user(aad_id=person.aad_id, user_id=person.user_id,
                                                      tenant_id=tenant_id, message=message)
        if not delivery.ok:
            log.warning("person not reachable", extra={"event": "escalation_notify_failed",
                                                       "delivery": delivery.status})
        return delivery
