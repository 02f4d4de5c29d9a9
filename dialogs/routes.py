"""The routing table: every command phrase and card verb the bot understands, in one place."""

from __future__ import annotations

from dialogs.basics import Basics
from dialogs.knowledge import KnowledgeDialog
from dialogs.router import Command, Router


def build_router(basics: Basics, knowledge: KnowledgeDialog) -> Router:
    """Commands → handlers and card verbs → handlers. Anything else is a question for the knowledge base."""
    commands = [
        Command(("hilfe", "help", "befehle", "?"), basics.help, "Zeigt diese Übersicht."),
        Command(("start", "hallo bot", "willkommen"), basics.welcome, "Zeigt die Begrüßung noch einmal.",
                visible=False),
        Command(("lots*in fragen", "lotse fragen", "lotsin fragen", "digitallots*in fragen", "digitallotse fragen",
                 "mensch fragen", "mit einem menschen sprechen"),
                knowledge.ask_pilot, "Verbindet Sie mit einer Digitallots*in, wenn ich nicht weiterweiß.",
                usage="lots*in fragen"),
    ]
    actions = {
        "hilfe": basics.help,
        "article": knowledge.show_article,
        "feedback": knowledge.feedback,
        "none_of_these": knowledge.none_of_these,
        "ask_pilot": knowledge.ask_pilot,
    }
    return Router(commands, actions, on_text=knowledge.question, on_unknown_action=basics.unknown_action)
