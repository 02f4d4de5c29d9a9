"""The participant side of events: RSVP clicks, the personal card view, `veranstaltungen`, participant lists.

Action.Execute clicks and card refreshes answer with the clicker's own view of the card (their status,
refresh limited to them); the Action.Submit fallback of older clients updates the shared card with fresh
counts and tells the person their status in a message, since that card is the same for everyone.
"""

from __future__ import annotations

from typing import Any

from dialogs.context import Message, Outcome, Turn
from events.authors import AuthorPolicy
from events.cards import EventCards, count_line, when
from events.models import Announcement
from events.publishing import Publisher, PublishError
from events.rsvp import Attendee, RsvpBusy, RsvpResult

BUSY = "Gerade melden sich sehr viele gleichzeitig an. Bitte versuchen Sie es in einem Moment noch einmal."
GONE = "Diese Veranstaltung gibt es nicht (mehr). „veranstaltungen“ zeigt, was ansteht."


def person_of(turn: Turn) -> Attendee:
    key = turn.user.aad_object_id or turn.user.id
    return Attendee(key=key, user_id=turn.user.id, aad_id=turn.user.aad_object_id, name=turn.user.name)


def _event_id(turn: Turn) -> str:
    value = turn.data.get("event")
    return value if isinstance(value, str) else ""


def _status_text(ann: Announcement, result: RsvpResult) -> str:
    title = ann.event.title
    if result.status == "participant":
        return f"Sie sind für „{title}“ angemeldet. Ich erinnere Sie rechtzeitig."
    if result.status == "waiting":
        return (f"Für „{title}“ sind alle Plätze vergeben. Sie stehen auf der Warteliste (Platz {result.position}) "
                f"und rücken automatisch nach, wenn jemand absagt.")
    return f"Sie haben für „{title}“ abgesagt. Danke für Ihre Rückmeldung!"


class EventsDialog:
    """RSVPs, views and lists of events, for everyone; participant lists for authors."""

    def __init__(self, publisher: Publisher, authors: AuthorPolicy, cards: EventCards) -> None:
        self._publisher = publisher
        self._authors = authors
        self._cards = cards

    async def rsvp(self, turn: Turn) -> Outcome:
        """"Ich nehme teil" / "Absagen": one conditional write; the card shows the new status and counts."""
        answer = turn.data.get("answer")
        if answer not in ("yes", "no"):
            return Outcome.say(Message(text="Diese Schaltfläche verstehe ich nicht. Bitte öffnen Sie die Karte neu."))
        person = person_of(turn)
        try:
            ann, result = await self._publisher.rsvp(_event_id(turn), person, answer, turn.tenant_id)
        except RsvpBusy:
            return Outcome.say(Message(text=BUSY))
        except PublishError as exc:
            return await self._refused(turn, str(exc))
        if turn.conversation_type != "personal":
            await self._publisher.confirm_privately(ann, person, result, turn.tenant_id)
        if turn.data.get("via") == "submit":
            card = self._cards.event(ann, result.roster, self._publisher.now())
            return Outcome(messages=(Message(text=_status_text(ann, result)),), card_update=card)
        return Outcome(card_update=self._view(ann, result.roster, turn))

    async def view(self, turn: Turn) -> Outcome:
        """Card refresh (Universal Actions): the viewer's own status and the current counts."""
        ann = await self._publisher.store.get(_event_id(turn))
        if ann is None or ann.status in ("draft", "scheduled"):
            return Outcome(card_update=self._cards.notice("Nicht mehr verfügbar", GONE))
        roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
        return Outcome(card_update=self._view(ann, roster, turn))

    async def show(self, turn: Turn) -> Outcome:
        """"Karte anzeigen" from the list: the event card as a new message."""
        ann = await self._publisher.store.get(_event_id(turn))
        if ann is None or ann.status in ("draft", "scheduled"):
            return Outcome.say(Message(text=GONE))
        roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
        return Outcome.say(Message(card=self._view(ann, roster, turn), summary=ann.event.title))

    async def listing(self, turn: Turn) -> Outcome:
        """`veranstaltungen`: what is coming up, with the person's own status; authors get their tools."""
        author = await self._authors.is_author(turn.user)
        statuses = ("sent", "scheduled") if author else ("sent",)
        upcoming = await self._publisher.store.upcoming(self._publisher.clock(), statuses)
        key = person_of(turn).key
        items: list[dict[str, Any]] = []
        for ann in upcoming[:20]:
            roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
            status, position = roster.status_of(key)
            counts = count_line(len(roster.participants), ann.event.capacity, len(roster.waiting))
            own = {"participant": "Sie nehmen teil.", "waiting": f"Sie stehen auf der Warteliste (Platz {position})."}
            label = "Geplant, noch nicht gesendet. " if ann.status == "scheduled" else ""
            items.append({"id": ann.id, "title": ann.event.title, "when": when(ann.event), "place": ann.event.place,
                          "counts": label + counts, "status": own.get(status, "")})
        return Outcome.say(Message(card=self._cards.listing(items, author=author), summary="Kommende Veranstaltungen"))

    async def participants(self, turn: Turn) -> Outcome:
        """Authors: who comes and who waits, with a CSV link valid for 15 minutes."""
        if not await self._authors.is_author(turn.user):
            return Outcome.say(Message(text="Die Liste der Teilnehmenden sehen nur die Autor*innen im CDO-Büro."))
        ann = await self._publisher.store.get(_event_id(turn))
        if ann is None or not ann.event.is_event:
            return Outcome.say(Message(text=GONE))
        roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
        link = self._cards.links.csv(ann, self._publisher.clock())
        return Outcome.say(Message(card=self._cards.participants(ann, roster, link),
                                   summary=f"Teilnehmende: {ann.event.title}"))

    def _view(self, ann: Announcement, roster: Any, turn: Turn) -> dict[str, Any]:
        return self._cards.event(ann, roster, self._publisher.now(), viewer=turn.user.id,
                                 viewer_key=person_of(turn).key)

    async def _refused(self, turn: Turn, reason: str) -> Outcome:
        """A click that cannot count (closed, cancelled, gone): say why, and show the card as it is now."""
        ann = await self._publisher.store.get(_event_id(turn))
        if ann is None or ann.status in ("draft", "scheduled"):
            return Outcome.say(Message(text=reason))
        roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
        shared = turn.data.get("via") == "submit"   # the fallback updates a card everyone in the chat sees
        card = self._cards.event(ann, roster, self._publisher.now()) if shared else self._view(ann, roster, turn)
        return Outcome(messages=(Message(text=reason),), card_update=card)
