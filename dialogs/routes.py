"""The routing table: every command phrase and card verb the bot understands, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.announcements import AnnouncementsDialog
from dialogs.basics import Basics
from dialogs.escalation import EscalationDialog
from dialogs.events import EventsDialog
from dialogs.knowledge import KnowledgeDialog
from dialogs.pilot_admin import PilotAdmin
from dialogs.pilot_desk import PilotDesk
from dialogs.router import Command, Router


@dataclass(frozen=True)
class Dialogs:
    """Every dialog the routing table points into; app.py builds them."""

    basics: Basics
    knowledge: KnowledgeDialog
    escalation: EscalationDialog
    pilot_desk: PilotDesk
    pilot_admin: PilotAdmin
    announcements: AnnouncementsDialog
    events: EventsDialog


def build_router(d: Dialogs) -> Router:
    """Commands → handlers and card verbs → handlers. Anything else is a question for the knowledge base."""
    basics, knowledge, escalation, desk, admin = d.basics, d.knowledge, d.escalation, d.pilot_desk, d.pilot_admin
    commands = [
        # -- basics and knowledge (issues 2, 3) --
        Command(("hilfe", "help", "befehle", "?"), basics.help, "Zeigt diese Übersicht."),
        Command(("start", "hallo bot", "willkommen"), basics.welcome, "Zeigt die Begrüßung noch einmal.",
                visible=False),
        # -- pilot routing (issue 4) --
        Command(("lots*in fragen", "lotse fragen", "lotsin fragen", "digitallots*in fragen", "digitallotse fragen",
                 "mensch fragen", "mit einem menschen sprechen", "lotsen fragen", "digitallotsen fragen",
                 "lots*in anfragen", "lots*in kontaktieren", "eine lots*in fragen", "eine digitallots*in fragen",
                 "mit einer lots*in sprechen", "mit einer digitallots*in sprechen"),
                escalation.start, "Verbindet Sie mit einer Digitallots*in, wenn ich nicht weiterweiß.",
                usage="lots*in fragen", takes_args=True),
        Command(("mein amt",), escalation.department,
                "Zeigt oder ändert Ihr Amt (danach wähle ich Digitallots*innen aus).", usage="mein amt …",
                takes_args=True),
        Command(("meine anfragen", "meine anfrage"), desk.my_requests,
                "Zeigt Ihre Anfragen an Digitallots*innen (und als Digitallots*in die bei Ihnen)."),
        Command(("abwesend bis",), desk.away, "Für Digitallots*innen: bis zu diesem Tag keine Anfragen.",
                usage="abwesend bis 12.12.", takes_args=True),
        Command(("wieder da", "bin wieder da", "ich bin wieder da"), desk.back,
                "Für Digitallots*innen: wieder Anfragen bekommen."),
        Command(("meine themen",), desk.topics, "Für Digitallots*innen: Ihre Themen zeigen oder ändern.",
                usage="meine themen …", takes_args=True),
        Command(("lots*in hinzufügen", "lots*in hinzufuegen", "digitallots*in hinzufügen"), admin.add,
                "CDO-Büro: Digitallots*in eintragen.", usage="lots*in hinzufügen", takes_args=True, visible=False),
        Command(("lots*in ändern", "lots*in aendern", "digitallots*in ändern"), admin.change,
                "CDO-Büro: Eintrag ändern.", usage="lots*in ändern <Mail>", takes_args=True, visible=False),
        Command(("lots*in entfernen", "digitallots*in entfernen"), admin.remove,
                "CDO-Büro: Eintrag entfernen.", usage="lots*in entfernen <Mail>", takes_args=True, visible=False),
        Command(("lots*innen anzeigen", "lots*innen liste", "alle lots*innen"), admin.list,
                "CDO-Büro: alle Digitallots*innen.", visible=False),
        # -- announcements and events (issue 5) --
        Command(("ankündigen", "ankuendigen", "ankündigung", "neue ankündigung", "veranstaltung ankündigen"),
                d.announcements.announce, "Kündigt eine Veranstaltung oder Neuigkeit an (nur CDO-Büro).",
                usage="ankündigen"),
        Command(("veranstaltungen", "meine veranstaltungen", "kommende veranstaltungen"), d.events.listing,
                "Zeigt die kommenden Veranstaltungen und Ihre Anmeldungen."),
    ]
    actions = {
        # -- basics and knowledge (issues 2, 3) --
        "hilfe": basics.help,
        "article": knowledge.show_article,
        "feedback": knowledge.feedback,
        "none_of_these": knowledge.none_of_these,
        # -- pilot routing (issue 4) --
        "ask_pilot": escalation.start,
        "escalation_preview": escalation.preview,
        "escalation_edit": escalation.edit,
        "escalation_discard": escalation.discard,
        "escalation_confirm": escalation.confirm,
        "escalation_cancel": escalation.cancel,
        "escalation_done": escalation.done,
        "escalation_rate": escalation.rate,
        "escalation_relay": escalation.relay,
        "pilot_accept": desk.accept,
        "pilot_decline": desk.decline,
        "pilot_handover": desk.hand_over,
        "pilot_resolve": desk.resolve,
        "pilot_propose": desk.propose,
        "pilot_admin_save": admin.save,
        # -- announcements and events (issue 5) --
        "announce_preview": d.announcements.preview,
        "announce_send": d.announcements.send,
        "announce_schedule": d.announcements.schedule,
        "announce_discard": d.announcements.discard,
        "announce_edit": d.announcements.edit,
        "announce_apply": d.announcements.apply,
        "announce_cancel": d.announcements.cancel,
        "announce_cancel_confirmed": d.announcements.cancel_confirmed,
        "announce_keep": d.announcements.keep,
        "event_rsvp": d.events.rsvp,
        "event_view": d.events.view,
        "event_show": d.events.show,
        "event_participants": d.events.participants,
    }
    return Router(commands, actions, on_text=knowledge.question, on_unknown_action=basics.unknown_action)
