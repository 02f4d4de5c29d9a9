"""Welcome, help and the polite answer to a card button that no longer exists."""

from __future__ import annotations

from typing import Callable, Sequence

from cards.render import CardRenderer
from dialogs.context import Message, Outcome, Turn
from dialogs.router import Command


class Basics:
    """The conversation basics every user meets first."""

    def __init__(self, cards: CardRenderer, bot_name: str, commands: Callable[[], Sequence[Command]]) -> None:
        self._cards = cards
        self._bot_name = bot_name
        self._commands = commands
        self._help: Message | None = None  # the routing table is fixed once the app is built

    def welcome_message(self) -> Message:
        return Message(card=self._cards.render("welcome", bot_name=self._bot_name),
                       summary=f"Willkommen beim {self._bot_name}")

    async def welcome(self, turn: Turn) -> Outcome:
        """Introduce the bot: what it does, in German, and how to start."""
        return Outcome.say(self.welcome_message())

    async def help(self, turn: Turn) -> Outcome:
        """List the commands from the routing table, so help never drifts from what works."""
        if self._help is None:
            visible = [c for c in self._commands() if c.visible]
            self._help = Message(card=self._cards.render("help", commands=visible), summary="Befehle")
        return Outcome.say(self._help)

    async def unknown_action(self, turn: Turn) -> Outcome:
        """A click on a card button we do not (or no longer) know: say so kindly, change nothing."""
        return Outcome.say(Message(
            text="Diese Schaltfläche ist nicht mehr aktuell. Schreiben Sie mir Ihre Frage gern noch einmal "
                 "oder tippen Sie „hilfe“."))
