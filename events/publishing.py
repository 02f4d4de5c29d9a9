"""The lifecycle of an announcement: draft → (scheduled) → sent → edited / cancelled, and RSVP clicks.

Sending is crash-safe by ordering: the announcement is first claimed (conditional write to "sending"),
then handed to the broadcast engine under a fixed job id (idempotent), then marked "sent". A crash in
between leaves "sending", which the scheduler hands to the engine again; the engine ignores the repeat.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
import uuid
from typing import Callable

from dialogs.context import Message
from dialogs.ports import Messenger
from events.announcements import AnnouncementStore
from events.audience import AudienceResolver
from events.broadcast import BroadcastEngine, Progress, Recipient
from events.cards import EventCards, german_date, progress_line, when
from events.models import Announcement, Author, Event, berlin_now
from events.reminders import Reminders
from events.rsvp import Attendee, RsvpBook, RsvpResult
from storage.base import PreconditionFailed
from storage.conversations import ConversationBook

STALE_SENDING_S = 120.0


class PublishError(Exception):
    """The action does not fit the announcement's state; the message is a polite German sentence."""


class Publisher:
    """Drafts, sends, edits and cancels announcements; records RSVPs."""

    def __init__(self, store: AnnouncementStore, rsvps: RsvpBook, audience: AudienceResolver,
                 engine: BroadcastEngine, cards: EventCards, messenger: Messenger, people: "EventPeople",
                 reminders: Reminders, *, clock: Callable[[], float] = time.time,
                 new_id: Callable[[], str] = lambda: uuid.uuid4().hex) -> None:
        self.store = store
        self.rsvps = rsvps
        self.audience = audience
        self.engine = engine
        self.cards = cards
        self._messenger = messenger
        self._people = people
        self._reminders = reminders
        self.clock = clock
        self._new_id = new_id

    def now(self) -> dt.datetime:
        return berlin_now(self.clock())

    async def get(self, id: str) -> Announcement:
        found = await self.store.get(id)
        if found is None:
            raise PublishError("Diese Ankündigung gibt es nicht mehr.")
        return found

    async def draft(self, event: Event, author: Author, *, id: str | None = None) -> Announcement:
        """A new, unsent announcement with fresh link secrets."""
        return await self.store.create(Announcement(
            id=id or self._new_id(), event=event, author=author, created_at=self.clock(),
            ics_token=secrets.token_urlsafe(24), export_secret=secrets.token_hex(32)))

    async def revise(self, id: str, event: Event) -> Announcement:
        """New content for an announcement that has not gone out yet."""
        def edit(a: Announcement) -> Announcement | None:
            return a.but(event=event) if a.status in ("draft", "scheduled") else None
        return await self._expect(await self.store.change(id, edit), ("draft", "scheduled"))

    async def schedule(self, id: str, at: dt.datetime) -> Announcement:
        def edit(a: Announcement) -> Announcement | None:
            return a.but(status="scheduled", send_at=at.timestamp()) if a.status in ("draft", "scheduled") else None
        return await self._expect(await self.store.change(id, edit), ("scheduled",))

    async def discard(self, id: str) -> None:
        """Throw away a draft or a scheduled announcement (nothing has been sent)."""
        for _ in range(5):
            current = await self.get(id)
            if current.status not in ("draft", "scheduled"):
                raise PublishError("Diese Ankündigung ist schon gesendet. Sie können sie absagen.")
            try:
                await self.store.delete(current)
                return
            except PreconditionFailed:
                continue    # changed meanwhile: look again
        raise PublishError("Die Ankündigung wird gerade geändert. Bitte versuchen Sie es gleich noch einmal.")

    async def publish(self, id: str) -> Announcement:
        """Send now: claim it, hand it to the engine, mark it sent. A second click changes nothing."""
        now = self.clock()
        won = {"claimed": False}

        def claim(a: Announcement) -> Announcement | None:
            won["claimed"] = a.status in ("draft", "scheduled")
            if not won["claimed"]:
                return None
            return a.but(status="sending", sent_at=now)

        claimed = await self.store.change(id, claim)
        if claimed is None:
            raise PublishError("Diese Ankündigung gibt es nicht mehr.")
        if not won["claimed"]:
            raise PublishError("Diese Ankündigung wurde bereits gesendet." if claimed.status != "cancelled"
                               else "Diese Ankündigung ist abgesagt.")
        return await self.deliver(claimed)

    async def deliver(self, ann: Announcement) -> Announcement:
        """Hand a claimed announcement to the engine (idempotent by job id) and mark it sent."""
        if ann.author.conversation_id and not ann.progress_activity:
            start = Progress(ann.send_job, 0, 0, 0, 0, 0, False, None)
            delivery = await self._messenger.send(ann.author.conversation_id, Message(
                card=self.cards.progress(ann, start), summary=f"Versand: {ann.event.title}"))
            if delivery.ok:
                ann = await self.store.change(ann.id, lambda a: a.but(progress_activity=delivery.activity_id)) or ann
        recipients = await self.audience.recipients(ann.event.audience)
        roster = await self.rsvps.roster(ann.id, ann.event.capacity)
        card = self.cards.event(ann, roster, self.now())
        progress = await self.engine.submit(ann.send_job, Message(card=card, summary=ann.event.title), recipients,
                                            kind="announcement", meta={"announcement": ann.id})
        if progress.done and ann.progress_activity:
            # Nobody to reach: the engine has nothing to report, so the author's card shows it now.
            await self._messenger.update(ann.author.conversation_id, ann.progress_activity,
                                         Message(card=self.cards.progress(ann, progress), summary="Versand abgeschlossen"))
        if ann.event.starts_at is not None:
            await self._reminders.schedule(ann.id, ann.event.starts_at.timestamp())
        sent = await self.store.change(ann.id, lambda a: a.but(status="sent") if a.status == "sending" else None)
        return sent or ann

    async def redeliver_stale(self, now: float) -> int:
        """Announcements left in "sending" by a crash go to the engine again (which ignores repeats)."""
        count = 0
        for ann in await self.store.by_status("sending"):
            if now - (ann.sent_at or 0) >= STALE_SENDING_S:
                await self.deliver(ann)
                count += 1
        return count

    async def edit(self, id: str, event: Event) -> Announcement:
        """Change a sent announcement: every card is updated in place and marked "geändert"."""
        current = await self.get(id)
        if current.status in ("draft", "scheduled"):
            return await self.revise(id, event)
        if current.status != "sent":
            raise PublishError("Eine abgesagte Ankündigung kann nicht mehr geändert werden."
                               if current.status == "cancelled" else
                               "Die Ankündigung wird gerade gesendet. Bitte ändern Sie sie gleich noch einmal.")
        def apply(a: Announcement) -> Announcement | None:
            return a.but(event=event, version=a.version + 1, changed=True) if a.status == "sent" else None

        edited = await self._expect(await self.store.change(id, apply), ("sent",))
        if edited.event.starts_at != current.event.starts_at:
            if edited.event.starts_at is None:
                await self._reminders.cancel(id)
            else:
                await self._reminders.reschedule(id, edited.event.starts_at.timestamp())
        result = await self.rsvps.set_capacity(id, event.capacity)
        await self._tell_promoted(edited, result.promoted)
        card = self.cards.event(edited, result.roster, self.now())
        await self.engine.submit_update(f"{id}-edit-{edited.version}", edited.send_job,
                                        Message(card=card, summary=f"Geändert: {event.title}"))
        await self._notify_participants(edited, f"{id}-edit-{edited.version}-notice",
                                        f"Geändert: „{event.title}“ hat neue Angaben. {self._when_text(edited)}")
        return edited

    async def cancel(self, id: str) -> Announcement:
        """Call it off: sent cards say "abgesagt", participants get a message; unsent ones just stop."""
        previous = {"status": ""}

        def apply(a: Announcement) -> Announcement | None:
            previous["status"] = a.status
            return a.but(status="cancelled") if a.status in ("draft", "scheduled", "sent", "sending") else None

        cancelled = await self.store.change(id, apply)
        if cancelled is None:
            raise PublishError("Diese Ankündigung gibt es nicht mehr.")
        if previous["status"] == "cancelled":
            raise PublishError("Diese Veranstaltung ist bereits abgesagt.")
        await self._reminders.cancel(id)
        if previous["status"] in ("sent", "sending"):
            roster = await self.rsvps.roster(id, cancelled.event.capacity)
            card = self.cards.event(cancelled, roster, self.now())
            await self.engine.submit_update(f"{id}-cancel", cancelled.send_job,
                                            Message(card=card, summary=f"Abgesagt: {cancelled.event.title}"))
            await self._notify_participants(cancelled, f"{id}-cancel-notice",
                                            f"Abgesagt: „{cancelled.event.title}“ "
                                            f"{self._when_text(cancelled)} findet nicht statt.")
        return cancelled

    async def rsvp(self, id: str, person: Attendee, answer: str, tenant_id: str = "") -> tuple[Announcement, RsvpResult]:
        """"Ich nehme teil" or "Absagen" on a sent event."""
        ann = await self.store.get(id)
        if ann is None or ann.status in ("draft", "scheduled"):
            raise PublishError("Diese Veranstaltung gibt es nicht (mehr).")
        if not ann.event.is_event:
            raise PublishError("Für diese Ankündigung gibt es keine Anmeldung.")
        if ann.status == "cancelled":
            raise PublishError("Diese Veranstaltung ist abgesagt.")
        if answer == "yes":
            if not ann.event.registration_open(self.now()):
                raise PublishError("Die Anmeldung für diese Veranstaltung ist geschlossen.")
            result = await self.rsvps.join(id, person, ann.event.capacity)
        else:
            result = await self.rsvps.leave(id, person, ann.event.capacity)
        await self._tell_promoted(ann, result.promoted, tenant_id)
        return ann, result

    async def confirm_privately(self, ann: Announcement, person: Attendee, result: RsvpResult,
                                tenant_id: str) -> None:
        """A click in a channel from someone without a 1:1 chat: confirm there, so reminders can reach them."""
        if result.status == "none" or await self._people.personal_chat(person):
            return
        where = "auf der Warteliste" if result.status == "waiting" else "angemeldet"
        await self._messenger.send_to_user(aad_id=person.aad_id, user_id=person.user_id, tenant_id=tenant_id,
                                           message=Message(text=f"Sie sind für „{ann.event.title}“ {where}. "
                                                                f"Erinnerungen schicke ich Ihnen hier.",
                                                           summary="Anmeldung bestätigt"))

    async def _notify_participants(self, ann: Announcement, job_id: str, text: str) -> None:
        recipients = await self._people.participants(ann.id)
        if recipients:
            await self.engine.submit(job_id, Message(text=text, summary=text[:100]), recipients, kind="notice")

    async def _tell_promoted(self, ann: Announcement, promoted: tuple[Attendee, ...], tenant_id: str = "") -> None:
        for person in promoted:
            text = (f"Gute Nachricht: Für „{ann.event.title}“ ({self._when_text(ann)}) ist ein Platz frei geworden. "
                    f"Sie sind von der Warteliste nachgerückt und nehmen teil.")
            await self._messenger.send_to_user(aad_id=person.aad_id, user_id=person.user_id, tenant_id=tenant_id,
                                               message=Message(text=text, summary="Sie sind nachgerückt"))

    @staticmethod
    def _when_text(ann: Announcement) -> str:
        return when(ann.event) or (german_date(ann.event.date) if ann.event.date else "")

    @staticmethod
    async def _expect(ann: Announcement | None, statuses: tuple[str, ...]) -> Announcement:
        if ann is None:
            raise PublishError("Diese Ankündigung gibt es nicht mehr.")
        if ann.status not in statuses:
            raise PublishError({"sent": "Diese Ankündigung wurde bereits gesendet.",
                                "sending": "Diese Ankündigung wird gerade gesendet.",
                                "cancelled": "Diese Ankündigung ist abgesagt."}.get(ann.status, "Das geht gerade nicht."))
        return ann


class EventPeople:
    """What reminder jobs ask when they are due: today's participants and the reminder card."""

    def __init__(self, store: AnnouncementStore, rsvps: RsvpBook, book: ConversationBook, cards: EventCards) -> None:
        self._store = store
        self._rsvps = rsvps
        self._book = book
        self._cards = cards

    async def participants(self, event_id: str) -> list[Recipient]:
        """The personal chats of everyone with a seat (people without one cannot be reached 1:1)."""
        ann = await self._store.get(event_id)
        if ann is None:
            return []
        roster = await self._rsvps.roster(ann.id, ann.event.capacity)
        found: dict[str, Recipient] = {}
        for person in roster.participants:
            conversation = await self.personal_chat(person)
            if conversation:
                found.setdefault(conversation, Recipient(conversation, "user", person.name))
        return list(found.values())

    async def personal_chat(self, person: Attendee) -> str:
        """The conversation id of the person's 1:1 chat with the bot, or ""."""
        record = await self._book.personal_for(aad_id=person.aad_id) if person.aad_id else None
        record = record or (await self._book.personal_for(user_id=person.user_id) if person.user_id else None)
        return record.conversation_id if record else ""

    async def reminder(self, event_id: str, offset_s: float) -> Message | None:
        """The reminder, or None when the event is gone or called off (then nobody is reminded)."""
        ann = await self._store.get(event_id)
        if ann is None or ann.status != "sent" or not ann.event.is_event:
            return None
        card = self._cards.reminder(ann, round(offset_s / 60))
        return Message(card=card, summary=f"Erinnerung: {ann.event.title}")


class ProgressReporter:
    """The engine's progress callback: keeps the author's progress card current, then shows the report."""

    def __init__(self, store: AnnouncementStore, messenger: Messenger, cards: EventCards) -> None:
        self._store = store
        self._messenger = messenger
        self._cards = cards

    async def on_progress(self, progress: Progress) -> None:
        """Update the author's card in place; only the first send of an announcement has one."""
        id, _, kind = progress.job_id.partition("-")
        if kind != "send":
            return
        ann = await self._store.get(id)
        if ann is None or not ann.author.conversation_id or not ann.progress_activity:
            return
        summary = ("Versand abgeschlossen: " if progress.done else "Versand: ") + progress_line(progress)
        await self._messenger.update(ann.author.conversation_id, ann.progress_activity,
                                     Message(card=self._cards.progress(ann, progress), summary=summary))
