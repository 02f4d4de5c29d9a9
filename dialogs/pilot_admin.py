"""The CDO office maintains the directory in Teams: `lots*in hinzufügen`, `lots*in ändern …`,
`lots*in entfernen …`, `lots*innen`. Only allow-listed Entra object ids (ADMIN_AAD_IDS) may; the form's
ETag makes a save over somebody else's newer change fail politely instead of overwriting it."""

from __future__ import annotations

import datetime as dt
import logging
import re
from dataclasses import replace

from dialogs.context import Message, Outcome, Turn
from dialogs.escalation import text_value
from dialogs.escalation_flow import EscalationFlow
from routing.hours import german_date
from routing.people import GraphPeople
from routing.pilots import DEFAULT_CAPACITY, TOPICS, DirectoryError, Pilot, key_for, topic_label
from storage.base import PreconditionFailed

log = logging.getLogger(__name__)

_MAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")


class PilotAdmin:
    """Directory maintenance for the CDO office."""

    def __init__(self, flow: EscalationFlow, admins: tuple[str, ...], *, everyone_is_admin: bool = False,
                 graph: GraphPeople | None = None) -> None:
        self._flow = flow
        self._admins = frozenset(a.casefold() for a in admins)
        self._everyone = everyone_is_admin
        self._graph = graph

    def allowed(self, turn: Turn) -> bool:
        return self._everyone or (bool(turn.user.aad_object_id) and turn.user.aad_object_id.casefold() in self._admins)

    async def add(self, turn: Turn) -> Outcome:
        """`lots*in hinzufügen [mail]`: the empty entry form (prefilled from Graph when a mail is given)."""
        if not self.allowed(turn):
            return _refused()
        upn = turn.args.strip()
        draft = Pilot(key="", name="", upn=upn if _MAIL.fullmatch(upn) else "", aad_id="")
        if draft.upn and self._graph is not None:
            profile = await self._graph.profile(draft.upn)
            if profile is not None:
                draft = replace(draft, name=profile.name, aad_id=profile.aad_id, department=profile.department)
        return Outcome.say(Message(card=self._form("Digitallots*in hinzufügen", draft),
                                   summary="Digitallots*in hinzufügen"))

    async def change(self, turn: Turn) -> Outcome:
        """`lots*in ändern <mail oder name>`: the entry form with the current values."""
        if not self.allowed(turn):
            return _refused()
        pilot, problem = await self._one(turn.args)
        if pilot is None:
            return Outcome.say(Message(text=problem))
        etag = await self._flow.directory.etag_of(pilot.key)
        return Outcome.say(Message(card=self._form(f"{pilot.name} ändern", pilot, key=pilot.key, etag=etag),
                                   summary="Digitallots*in ändern"))

    async def save(self, turn: Turn) -> Outcome:
        """"Speichern" on the form: create, reactivate or change an entry."""
        if not self.allowed(turn):
            return _refused()
        directory = self._flow.directory
        key, etag = text_value(turn, "key"), text_value(turn, "etag")
        entered = self._entered(turn)
        if entered.upn and not entered.aad_id and self._graph is not None:
            profile = await self._graph.profile(entered.upn)
            if profile is not None:
                entered = replace(entered, aad_id=profile.aad_id, name=entered.name or profile.name)
        heading = "Digitallots*in ändern" if key else "Digitallots*in hinzufügen"
        try:
            if key:
                saved = await directory.update(key, lambda p: _merged(p, entered), etag=etag)
            else:
                removed = [p for p in await directory.find(entered.upn) if not p.active]
                if removed:
                    saved = await directory.update(removed[0].key, lambda p: replace(_merged(p, entered), active=True))
                else:
                    saved = await directory.add(replace(entered, key=key_for(entered.upn)))
        except DirectoryError as exc:
            return Outcome(card_update=self._form(heading, entered, key=key, etag=etag, error=str(exc)))
        except PreconditionFailed:
            current = await directory.get(key)
            if current is None:
                return Outcome(card_update=self._flow.cards.notice("Nicht gespeichert",
                                                                   "Diesen Eintrag gibt es nicht mehr.").card)
            return Outcome(card_update=self._form(
                heading, current, key=key, etag=await directory.etag_of(key),
                error="Jemand hat den Eintrag inzwischen geändert. Hier ist der neue Stand; bitte prüfen und "
                      "noch einmal speichern."))
        log.info("pilot saved", extra={"event": "pilot_saved", "pilot": saved.key})
        return Outcome(card_update=self._flow.cards.notice(
            "Gespeichert", f"{saved.name} · {saved.department}",
            "Themen: " + (", ".join(topic_label(t) for t in saved.topics) or "keine"),
            f"Höchstens {saved.capacity} offene Anfragen gleichzeitig.").card)

    async def remove(self, turn: Turn) -> Outcome:
        """`lots*in entfernen <mail oder name>`: deactivate; their requests go to colleagues."""
        if not self.allowed(turn):
            return _refused()
        pilot, problem = await self._one(turn.args, active_only=True)
        if pilot is None:
            return Outcome.say(Message(text=problem))
        await self._flow.directory.update(pilot.key, lambda p: replace(p, active=False))
        moved = await self._flow.withdraw_pilot(pilot.key, self._flow.clock(), include_accepted=True)
        log.info("pilot removed", extra={"event": "pilot_removed", "pilot": pilot.key, "moved": moved})
        text = f"{pilot.name} ist nicht mehr als Digitallots*in eingetragen."
        if moved:
            text += f" {moved} Anfrage{'n' if moved != 1 else ''} habe ich an Kolleg*innen weitergegeben."
        return Outcome.say(Message(text=text + " Wieder aufnehmen: „lots*in hinzufügen …“ mit derselben Mail-Adresse."))

    async def list(self, turn: Turn) -> Outcome:
        """`lots*innen`: the whole directory at a glance."""
        if not self.allowed(turn):
            return _refused()
        today = self._flow.hours.today(self._flow.clock())
        rows = []
        for pilot in await self._flow.directory.all(include_inactive=True):
            details = ["Themen: " + (", ".join(topic_label(t) for t in pilot.topics) or "keine"),
                       f"bis zu {pilot.capacity} Anfragen", pilot.upn]
            if not pilot.active:
                details.insert(0, "entfernt")
            elif pilot.absent_on(today):
                details.insert(0, f"abwesend bis {german_date(dt.date.fromisoformat(pilot.absent_until))}")
            rows.append({"name": pilot.name, "department": pilot.department, "details": " · ".join(details)})
        card = self._flow.cards.render("pilot_list", heading=f"Digitallots*innen ({len(rows)})", pilots=rows)
        return Outcome.say(Message(card=card, summary="Digitallots*innen"))

    async def _one(self, text: str, *, active_only: bool = False) -> tuple[Pilot | None, str]:
        if not text.strip():
            return None, "Wen meinen Sie? Schreiben Sie die Mail-Adresse oder den Namen dazu."
        found = [p for p in await self._flow.directory.find(text) if p.active or not active_only]
        if not found:
            return None, f"Ich finde keine Digitallots*in zu „{text.strip()}“."
        if len(found) > 1:
            names = ", ".join(f"{p.name} ({p.upn})" for p in found[:6])
            return None, f"Das passt auf mehrere: {names}. Bitte nennen Sie die Mail-Adresse."
        return found[0], ""

    def _entered(self, turn: Turn) -> Pilot:
        topics = tuple(t for t in (p.strip() for p in text_value(turn, "topics").split(",")) if t)
        raw_capacity = turn.data.get("capacity")
        try:
            capacity = int(float(raw_capacity)) if raw_capacity not in (None, "") else DEFAULT_CAPACITY
        except (TypeError, ValueError):
            capacity = 0   # rejected by the directory with a clear message
        return Pilot(key=text_value(turn, "key"), name=text_value(turn, "name"), upn=text_value(turn, "upn"),
                     aad_id=text_value(turn, "aad_id"), department=text_value(turn, "department"),
                     topics=topics, capacity=capacity)

    def _form(self, heading: str, pilot: Pilot, *, key: str = "", etag: str = "", error: str = "") -> dict:
        return self._flow.cards.render("pilot_admin_form", heading=heading, pilot=pilot, key=key, etag=etag,
                                       error=error, topics=list(TOPICS.items()))


def _merged(current: Pilot, entered: Pilot) -> Pilot:
    """The stored entry with what the form sets (pilot-kept fields like absence stay)."""
    return replace(current, name=entered.name, upn=entered.upn, aad_id=entered.aad_id or current.aad_id,
                   department=entered.department, topics=entered.topics, capacity=entered.capacity)


def _refused() -> Outcome:
    return Outcome.say(Message(text="Das Verzeichnis der Digitallots*innen pflegt das CDO-Büro. Dieser Befehl ist "
                                    "nur für berechtigte Personen freigeschaltet."))
