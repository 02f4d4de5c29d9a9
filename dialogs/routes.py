"""The routing table: every command phrase and card verb the bot understands, in one place."""

from __future__ import annotations

from dataclasses import dataclass

from dialogs.basics import Basics
from dialogs.knowledge import KnowledgeDialog
from dialogs.router import Command, Router


@dataclass(frozen=True)
class Dialogs:
    """Every dialog the routing table points into; app.py builds them."""

    basics: Basics
    knowledge: KnowledgeDialog


def build_router(d: Dialogs) -> Router:
    """Commands → handlers and card verbs → handlers. Anything else is a question for the knowledge base."""
    basics, knowledge = d.basics, d.knowledge
    commands = [
        # -- basics and knowledge (issues 2, 3) --
        Command(("hilfe", "help", "befehle", "?"), basics.help, "Zeigt diese Übersicht."),
        Command(("start", "hallo bot", "willkommen"), basics.welcome, "Zeigt die Begrüßung noch einmal.",
                visible=False),
        Command(("lots*in fragen", "lotse fragen", "lotsin fragen", "digitallots*in fragen", "digitallotse fragen",
                 "mensch fragen", "mit einem menschen sprechen"),
                knowledge.ask_pilot, "Verbindet Sie mit einer Digitallots*in, wenn ich nicht weiterweiß.",
                usage="lots*in fragen"),
        # -- pilot routing (issue 4) --
        # -- announcements and events (issue 5) --
    ]
    actions = {
        # -- basics and knowledge (issues 2, 3) --
        "hilfe": basics.help,
        "article": knowledge.show_article,
        "feedback": knowledge.feedback,
        "none_of_these": knowledge.none_of_these,
        "ask_pilot": knowledge.ask_pilot,
        # -- pilot routing (issue 4) --
        # -- announcements and events (issue 5) --
    }
    return Router(commands, actions, on_text=knowledge.question, on_unknown_action=basics.unknown_action)
