"""Routes declared as data: command phrases and card verbs map to handlers.

No substring checks: a command matches when the normalised message IS one of its phrases, or starts
with it followed by arguments (for commands that take them). The longest phrase wins.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace
from typing import Awaitable, Callable, Iterable

from dialogs.context import Outcome, Turn

Handler = Callable[[Turn], Awaitable[Outcome]]

_GENDER_MARK = re.compile(r"(?<=\w)[*:_·](?=in(nen)?\b)")
_EDGE_PUNCT = re.compile(r"^[\s\"'„“”‚‘’/!?.,;:()\[\]-]+|[\s\"'„“”‚‘’!?.,;:()\[\]-]+$")


def normalise(text: str) -> str:
    """Lower case, gender marks removed (lots*in → lotsin), spaces folded, edge punctuation dropped."""
    text = unicodedata.normalize("NFC", text).casefold()
    text = _GENDER_MARK.sub("", text)
    text = " ".join(text.split())
    return _EDGE_PUNCT.sub("", text)


@dataclass(frozen=True)
class Command:
    """A text command: the phrases that call it, its handler, and how `hilfe` describes it."""

    phrases: tuple[str, ...]
    handler: Handler
    summary: str
    usage: str = ""          # shown in hilfe, e.g. "abwesend bis 12.12."
    takes_args: bool = False
    visible: bool = True     # listed in hilfe

    @property
    def label(self) -> str:
        return self.usage or self.phrases[0]


class Router:
    """Finds the handler for a message or a card action."""

    def __init__(self, commands: Iterable[Command], actions: dict[str, Handler], *,
                 on_text: Handler, on_unknown_action: Handler) -> None:
        self.commands = tuple(commands)
        self._actions = dict(actions)
        self._on_text = on_text
        self._on_unknown_action = on_unknown_action
        self._phrases: list[tuple[str, Command]] = sorted(
            ((normalise(p), c) for c in self.commands for p in c.phrases), key=lambda pc: -len(pc[0]))
        seen: dict[str, Command] = {}
        for phrase, command in self._phrases:
            if phrase in seen and seen[phrase] is not command:
                raise ValueError(f"phrase {phrase!r} is routed twice")
            seen[phrase] = command

    def match(self, text: str) -> tuple[Command | None, str]:
        """The command a message calls and its arguments, or (None, "") for a free question."""
        said = normalise(text)
        for phrase, command in self._phrases:
            if said == phrase:
                return command, ""
            if command.takes_args and said.startswith(phrase + " "):
                return command, _args_after(text, phrase)
        return None, ""

    async def dispatch(self, turn: Turn) -> Outcome:
        """Run the handler a turn is routed to."""
        if turn.is_card_action:
            return await self._actions.get(turn.verb, self._on_unknown_action)(turn)
        command, args = self.match(turn.text)
        if command is None:
            return await self._on_text(turn)
        return await command.handler(replace(turn, args=args))

    def has_action(self, verb: str) -> bool:
        return verb in self._actions


def _args_after(text: str, phrase: str) -> str:
    """The original text after the command's words (keeps the user's case and punctuation)."""
    words = len(phrase.split())
    parts = text.strip().split(None, words)
    return parts[words].strip() if len(parts) > words else ""
