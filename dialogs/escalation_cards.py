"""The messages of the escalation flow: what requester, pilots and the pilots' channel see at each step.

Texts live here, layout in cards/templates/escalation_*.j2 and pilot_*.j2. User text (the request, relay
messages, names) only ever reaches a card as a template value, never spliced into JSON.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence
from urllib.parse import quote

from cards.render import CardRenderer
from dialogs.context import Message
from routing.hours import BusinessHours
from routing.matching import Candidate
from routing.pilots import Pilot, topic_label
from routing.requests import HelpRequest, Person

MAX_TEXT = 1500          # a request description
MAX_RELAY = 2000         # one relayed message
QUOTE_CHARS = 300
URGENCY = {"normal": "Normal", "dringend": "Dringend (heute)"}


def chat_url(upn: str) -> str:
    """Deep link that opens (or starts) a Teams 1:1 chat with `upn`."""
    return f"https://teams.microsoft.com/l/chat/0/0?users={quote(upn, safe='@')}" if upn else ""


def who(person: Person | Pilot) -> str:
    department = person.department
    return f"{person.name} ({department})" if department else person.name


def short(text: str, limit: int = QUOTE_CHARS) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


class EscalationCards:
    """Builds every escalation message; `site` supplies the service desk's name and contacts."""

    def __init__(self, cards: CardRenderer, hours: BusinessHours, site: Mapping[str, Any]) -> None:
        self._cards = cards
        self._hours = hours
        self._site = site

    def render(self, name: str, **data: Any) -> dict:
        return self._cards.render(name, **data)

    # -- requester ------------------------------------------------------------------------------------------

    def form(self, *, text: str = "", urgency: str = "normal", error: str = "",
             departments: Sequence[str] | None = None, department: str = "") -> dict:
        return self._cards.render("escalation_form", text=text, urgency=urgency if urgency in URGENCY else "normal",
                                  error=error, departments=departments, department=department or "other",
                                  max_chars=MAX_TEXT)

    def summary(self, *, draft: str, text: str, urgency: str, department: str) -> dict:
        return self._cards.render("escalation_summary", draft=draft, text=text, urgency=urgency,
                                  urgency_label=URGENCY.get(urgency, "Normal"), department=department)

    def service_desk(self) -> str:
        site = self._site
        contacts = ", ".join(str(v) for v in (site.get("service_desk_phone"), site.get("service_desk_mail")) if v)
        name = site.get("service_desk_name") or "IT-Servicedesk"
        hours = f" ({site['service_desk_hours']})" if site.get("service_desk_hours") else ""
        return f"Bei Störungen und dringenden Problemen hilft der {name}: {contacts}{hours}." if contacts else \
            f"Bei Störungen und dringenden Problemen hilft der {name}."

    def status(self, request: HelpRequest, *, note: str = "") -> Message:
        """The requester's view of their request as it is now."""
        options: dict[str, Any] = {"can_cancel": False, "can_finish": False, "relay_to": "", "ask_rating": False,
                                   "chat_url": "", "chat_label": ""}
        status, holder = request.status, request.holder
        lines: list[str] = []
        if status == "offered" and holder is not None:
            heading = f"Ihre Anfrage liegt bei {holder.name}"
            pending = request.pending
            if pending is not None and pending.handed_by:
                lines.append(f"{pending.handed_by} hat sie an {who(holder)} weitergegeben.")
            else:
                lines.append(f"{who(holder)} ist Digitallots*in und passt gut zu Ihrer Frage.")
            lines.append("Sobald sie übernommen ist, sage ich Ihnen hier Bescheid.")
            options["can_cancel"] = True
        elif status == "open":
            heading = "Ihre Anfrage liegt im Kanal der Digitallots*innen"
            if request.reminded:
                heading = "Noch hat niemand Ihre Anfrage übernommen"
                lines.append("Das tut mir leid. Ihre Anfrage bleibt für alle Digitallots*innen sichtbar.")
            else:
                lines.append("Gerade konnte niemand sie direkt übernehmen. Jetzt sehen sie alle Digitallots*innen; "
                             "wer Zeit hat, übernimmt.")
            lines.append(self.service_desk())
            options["can_cancel"] = True
        elif status == "accepted" and request.assignee is not None:
            assignee = request.assignee
            heading = f"{assignee.name} hat Ihre Anfrage übernommen"
            lines.append("Sie können hier antworten, ich leite Ihre Nachricht weiter. Oder Sie chatten direkt.")
            options.update(relay_to=assignee.name, can_finish=True, chat_url=chat_url(assignee.upn),
                           chat_label=f"Chat mit {assignee.name} öffnen")
        elif status == "resolved":
            heading = "Ihre Anfrage ist gelöst"
            if request.assignee is not None:
                lines.append(f"{request.assignee.name} hat Ihnen geholfen.")
            if request.rating:
                lines.append(f"Danke für Ihre Bewertung ({request.rating} von 5).")
            else:
                options["ask_rating"] = True
        elif status == "cancelled":
            heading = "Sie haben Ihre Anfrage zurückgezogen"
            lines.append("Wenn Sie doch Hilfe brauchen, schreiben Sie „lots*in fragen“.")
        elif status == "unassigned":
            heading = "Gerade ist leider keine Digitallots*in erreichbar"
            lines.append("Alle Digitallots*innen sind abwesend oder ausgelastet." if request.closed_reason == "nobody"
                         else "Leider konnte keine der angefragten Digitallots*innen Ihre Anfrage übernehmen.")
            lines.append(self.service_desk())
            lines.append("Sie können es später mit „lots*in fragen“ noch einmal versuchen.")
        else:
            heading = "Ihre Anfrage ist unterwegs"
            lines.append("Ich suche gerade eine passende Digitallots*in und sage Ihnen gleich Bescheid.")
            options["can_cancel"] = True
        if note:
            lines.insert(0, note)
        card = self._cards.render("escalation_status", heading=heading, lines=lines, quote=short(request.text),
                                  request_id=request.id, max_chars=MAX_RELAY, **options)
        return Message(card=card, summary=heading)

    def relay(self, request: HelpRequest, *, partner: Person, message: str, incoming: bool, note: str = "") -> Message:
        """A relayed message as its recipient sees it (`incoming`), or the sender's confirmation.
        `partner` is the other side: whom a reply goes to."""
        heading = f"Nachricht von {partner.name}" if incoming else f"An {partner.name} weitergeleitet"
        card = self._cards.render("escalation_relay", heading=heading, message=message, note=note,
                                  topic=short(request.text, 80), partner=partner.name, request_id=request.id,
                                  chat_url=chat_url(partner.upn), max_chars=MAX_RELAY)
        return Message(card=card, summary=heading)

    def overview(self, heading: str, sections: Sequence[tuple[str, str, Sequence[tuple[str, str]]]]) -> Message:
        """Lists of requests: (section title, text when empty, [(headline, request text)])."""
        rendered = [{"title": title, "empty": empty, "items": [{"line": line, "text": short(text, 160)}
                                                                for line, text in items]}
                    for title, empty, items in sections]
        return Message(card=self._cards.render("escalation_list", heading=heading, sections=rendered), summary=heading)

    # -- pilots -----------------------------------------------------------------------------------------------

    def offer(self, request: HelpRequest, *, index: int, colleagues: Sequence[Candidate]) -> Message:
        """The card a pilot gets: the request, who asks, why them, and what they can do."""
        entry = request.offers[index]
        requester = request.requester
        heading = f"{entry.handed_by} gibt Ihnen eine Anfrage weiter" if entry.handed_by else \
            "Neue Anfrage an Sie als Digitallots*in"
        lines = [f"Von {who(requester)}"]
        if request.topics:
            lines.append("Themen: " + ", ".join(topic_label(t) for t in request.topics[:3]))
        if entry.reasons:
            lines.append(f"Warum Sie: {entry.reasons}")
        if entry.deadline:
            lines.append(f"Bitte bis {self._hours.describe(entry.deadline)} übernehmen oder ablehnen, "
                         "sonst geht die Anfrage an eine Kolleg*in.")
        return self._pilot_card("offer", request, heading, lines, colleagues)

    def channel(self, request: HelpRequest) -> Message:
        lines = [f"Von {who(request.requester)}",
                 "Bisher konnte niemand sie direkt übernehmen. Wer Zeit hat, klickt auf „Übernehmen“."]
        if request.topics:
            lines.insert(1, "Themen: " + ", ".join(topic_label(t) for t in request.topics[:3]))
        return self._pilot_card("channel", request, "Offene Anfrage: wer kann helfen?", lines, ())

    def accepted(self, request: HelpRequest, colleagues: Sequence[Candidate], *, note: str = "") -> Message:
        requester = request.requester
        lines = [f"Sie helfen {who(requester)}. Antworten Sie hier (ich leite weiter) oder chatten Sie direkt.",
                 "Wenn alles erledigt ist, klicken Sie auf „Gelöst“."]
        if note:
            lines.insert(0, note)
        return self._pilot_card("accepted", request, "Sie haben die Anfrage übernommen", lines, colleagues)

    def resolved(self, request: HelpRequest, *, note: str = "") -> Message:
        lines = [note] if note else []
        lines.append("Danke für Ihre Hilfe!" if not request.proposed else
                     "Ihr Vorschlag liegt bei der Redaktion der Wissensbasis. Danke!")
        if not request.proposed:
            lines.append("Könnte die Frage auch anderen helfen? Dann schlagen Sie sie für die Wissensbasis vor.")
        return self._pilot_card("resolved", request, "Anfrage gelöst", lines, ())

    def notice(self, heading: str, *lines: str, quote_text: str = "") -> Message:
        card = self._cards.render("pilot_notice", heading=heading, lines=list(lines), quote=short(quote_text))
        return Message(card=card, summary=heading)

    def _pilot_card(self, mode: str, request: HelpRequest, heading: str, lines: list[str],
                    colleagues: Sequence[Candidate]) -> Message:
        requester = request.requester
        choices = [{"value": c.pilot.key, "title": f"{c.pilot.name} ({c.pilot.department}) – {c.explanation}"}
                   for c in colleagues]
        card = self._cards.render(
            "pilot_offer", mode=mode, heading=heading, lines=lines, text=request.text,
            urgent=request.urgency == "dringend",
            request_id=request.id, colleagues=choices, relay_to=requester.name, max_chars=MAX_RELAY,
            chat_url=chat_url(requester.upn) if mode != "channel" else "",
            chat_label=f"Chat mit {requester.name} öffnen", proposed=request.proposed, resolution=request.resolution)
        return Message(card=card, summary=heading)
