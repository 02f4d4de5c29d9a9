"""Authoring announcements in Teams: `ankündigen` → form → preview → send now, schedule or discard;
later edit (cards updated in place) or cancel. Only allow-listed authors; everyone else is refused politely.
"""

from __future__ import annotations

import functools
import logging
from typing import Any, Awaitable, Callable

from dialogs.context import Message, Outcome, Turn
from events.announcements import FIELDS, form_values, parse_send_at, validate
from events.authors import AuthorPolicy
from events.cards import EventCards, moment
from events.models import Announcement, Author
from events.publishing import Publisher, PublishError

log = logging.getLogger(__name__)

REFUSAL = ("Ankündigungen verschicken nur Kolleg*innen des CDO-Büros, die dafür freigeschaltet sind. "
           "Möchten Sie etwas ankündigen lassen? Dann wenden Sie sich bitte an das CDO-Büro.")
PERSONAL_ONLY = "Bitte schreiben Sie mir „ankündigen“ im persönlichen Chat. Dort sieht niemand sonst Ihren Entwurf."
GONE = "Diese Ankündigung gibt es nicht mehr. Mit „ankündigen“ beginnen Sie eine neue."


def _values(data: dict[str, Any]) -> dict[str, str]:
    """What the person typed, to show it again in the form (only the form's own fields, as text)."""
    values: dict[str, str] = {}
    for name in FIELDS:
        value = data.get(name)
        if isinstance(value, list):
            value = ",".join(str(v) for v in value)
        if isinstance(value, (str, int, float)) and not isinstance(value, bool):
            values[name] = str(value)[:5000]
    return values


def _authors_only(handler: Callable[["AnnouncementsDialog", Turn], Awaitable[Outcome]]):
    """Check the author on every step (cards can be forwarded); a PublishError becomes its German message."""
    @functools.wraps(handler)
    async def checked(self: "AnnouncementsDialog", turn: Turn) -> Outcome:
        if not await self._authors.is_author(turn.user):
            return Outcome.say(Message(text=REFUSAL))
        try:
            return await handler(self, turn)
        except PublishError as exc:
            return Outcome.say(Message(text=str(exc)))
    return checked


def _id(turn: Turn) -> str:
    value = turn.data.get("announcement")
    return value if isinstance(value, str) else ""


class AnnouncementsDialog:
    """Author side of announcements; every step checks the author again (cards can be forwarded)."""

    def __init__(self, publisher: Publisher, authors: AuthorPolicy, cards: EventCards) -> None:
        self._publisher = publisher
        self._authors = authors
        self._cards = cards

    async def announce(self, turn: Turn) -> Outcome:
        """`ankündigen`: the empty form for authors, a polite refusal for everyone else."""
        if not await self._authors.is_author(turn.user):
            return Outcome.say(Message(text=REFUSAL))
        if turn.conversation_type != "personal":
            return Outcome.say(Message(text=PERSONAL_ONLY))
        card = await self._form({}, {})
        return Outcome.say(Message(card=card, summary="Neue Ankündigung"))

    @_authors_only
    async def preview(self, turn: Turn) -> Outcome:
        """Check the form; errors go back into the form, a valid event becomes the preview."""
        id = _id(turn)
        existing = await self._publisher.store.get(id) if id else None
        if id and existing is None:
            return Outcome.say(Message(text=GONE))
        if existing is not None and existing.status == "cancelled":
            return Outcome.say(Message(text="Diese Veranstaltung ist abgesagt und kann nicht mehr geändert werden."))
        sent = existing is not None and existing.status in ("sent", "sending")
        event, errors, roster = await self._check(turn.data, existing if sent else None)
        if event is None:
            return Outcome(card_update=await self._form(_values(turn.data), errors, editing=id))
        now = self._publisher.now()
        if sent:
            # Not stored yet: the "Änderung senden" button carries the checked values back.
            proposed = existing.but(event=event, changed=True)
            card = self._cards.preview(proposed, roster, now, editing=True)
            _carry(card, _values(turn.data))
            return Outcome(card_update=card)
        if existing is None:
            ann = await self._publisher.draft(event, Author(
                aad_id=turn.user.aad_object_id, user_id=turn.user.id, name=turn.user.name,
                conversation_id=turn.conversation_id))
        else:
            ann = await self._publisher.revise(existing.id, event)
        return Outcome(card_update=self._cards.preview(ann, None, now, editing=False))

    @_authors_only
    async def send(self, turn: Turn) -> Outcome:
        """"Jetzt senden": hand it to the broadcast engine; progress follows in its own card."""
        ann = await self._publisher.publish(_id(turn))
        log.info("announcement sent", extra={"event": "announcement_sent", "announcement": ann.id})
        return Outcome(card_update=self._cards.notice(
            "Wird gesendet", ann.event.title, "Den Fortschritt sehen Sie in der nächsten Nachricht. "
            "Mit „veranstaltungen“ können Sie die Ankündigung später ändern oder absagen."))

    @_authors_only
    async def schedule(self, turn: Turn) -> Outcome:
        """"Planen": send at the chosen date and time (Europe/Berlin)."""
        day, at = turn.data.get("send_date"), turn.data.get("send_time")
        text = f"{day}T{at}" if isinstance(day, str) and isinstance(at, str) and day and at else "x"
        when, error = parse_send_at(text, self._publisher.now())
        if when is None:
            return Outcome.say(Message(text=f"{error} Bitte wählen Sie Datum und Uhrzeit für den Versand."))
        ann = await self._publisher.schedule(_id(turn), when)
        return Outcome(card_update=self._cards.notice(
            "Versand geplant", ann.event.title, f"Die Ankündigung geht am {moment(when)} hinaus.",
            "Bis dahin können Sie sie mit „veranstaltungen“ ändern oder absagen."))

    @_authors_only
    async def discard(self, turn: Turn) -> Outcome:
        """"Verwerfen" / "Abbrechen": the draft is deleted, nothing is sent."""
        id = _id(turn)
        existing = await self._publisher.store.get(id) if id else None
        if existing is not None and existing.status in ("draft", "scheduled"):
            await self._publisher.discard(id)
        elif existing is not None:
            return Outcome(card_update=self._cards.notice(
                "Nichts geändert", existing.event.title, "Diese Ankündigung ist schon gesendet. "
                "Absagen können Sie sie über „veranstaltungen“."))
        return Outcome(card_update=self._cards.notice("Verworfen", "Es wurde nichts gesendet."))

    @_authors_only
    async def edit(self, turn: Turn) -> Outcome:
        """"Bearbeiten": the form filled with the announcement's current values."""
        ann = await self._publisher.store.get(_id(turn))
        if ann is None:
            return Outcome.say(Message(text=GONE))
        if ann.status == "cancelled":
            return Outcome.say(Message(text="Diese Veranstaltung ist abgesagt und kann nicht mehr geändert werden."))
        heading = "Ankündigung ändern" if ann.status in ("sent", "sending") else "Entwurf bearbeiten"
        return Outcome(card_update=await self._form(form_values(ann.event), {}, editing=ann.id, heading=heading))

    @_authors_only
    async def apply(self, turn: Turn) -> Outcome:
        """"Änderung senden": every delivered card is updated in place and marked "geändert"."""
        existing = await self._publisher.store.get(_id(turn))
        if existing is None:
            return Outcome.say(Message(text=GONE))
        event, errors, _ = await self._check(turn.data, existing)
        if event is None:
            return Outcome(card_update=await self._form(_values(turn.data), errors, editing=existing.id,
                                                        heading="Ankündigung ändern"))
        ann = await self._publisher.edit(existing.id, event)
        return Outcome(card_update=self._cards.notice(
            "Geändert", ann.event.title, "Alle gesendeten Karten werden jetzt aktualisiert und als „geändert“ "
            "markiert. Die Teilnehmenden bekommen eine kurze Nachricht."))

    @_authors_only
    async def cancel(self, turn: Turn) -> Outcome:
        """"Absagen" on an announcement: ask once more before every card says "abgesagt"."""
        ann = await self._publisher.store.get(_id(turn))
        if ann is None:
            return Outcome.say(Message(text=GONE))
        if ann.status == "cancelled":
            return Outcome.say(Message(text="Diese Veranstaltung ist bereits abgesagt."))
        return Outcome(card_update=self._cards.confirm_cancel(ann))

    @_authors_only
    async def cancel_confirmed(self, turn: Turn) -> Outcome:
        """"Ja, absagen": cards updated to "abgesagt", participants told, reminders dropped."""
        ann = await self._publisher.cancel(_id(turn))
        log.info("announcement cancelled", extra={"event": "announcement_cancelled", "announcement": ann.id})
        return Outcome(card_update=self._cards.notice(
            "Abgesagt", ann.event.title, "Alle gesendeten Karten werden als „abgesagt“ markiert."))

    async def keep(self, turn: Turn) -> Outcome:
        """"Nein, nichts ändern"."""
        return Outcome(card_update=self._cards.notice("Nichts geändert", "Die Veranstaltung bleibt, wie sie ist."))

    async def _check(self, data: dict[str, Any], sent: Announcement | None):
        """Validate against now, the reachable channels and (for a sent event) the people registered."""
        roster = await self._publisher.rsvps.roster(sent.id, sent.event.capacity) if sent else None
        channels = frozenset(cid for cid, _ in await self._publisher.audience.channels())
        event, errors = validate(data, self._publisher.now(), channel_ids=channels,
                                 min_capacity=len(roster.participants) if roster else 0)
        return event, errors, roster

    async def _form(self, values: dict[str, str], errors: dict[str, str], *, editing: str = "",
                    heading: str = "Neue Ankündigung") -> dict[str, Any]:
        audience = self._publisher.audience
        return self._cards.form(values, errors, channels=await audience.channels(),
                                departments=await audience.departments(), editing=editing, heading=heading)


def _carry(card: dict[str, Any], values: dict[str, str]) -> None:
    """Put the checked form values into the preview's "Änderung senden" action (and its fallback)."""
    for action in card.get("actions", []):
        if action.get("verb") == "announce_apply":
            action["data"] = {**values, **action["data"]}
            fallback = action.get("fallback")
            if isinstance(fallback, dict):
                fallback["data"] = {**values, **fallback["data"]}

