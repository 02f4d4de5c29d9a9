"""What a handler receives and returns: plain, typed data, parsed once at the edge (bot/)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

ConversationType = Literal["personal", "channel", "groupChat"]


@dataclass(frozen=True)
class User:
    """The person who wrote or clicked."""

    id: str                 # Teams user id (29:...)
    aad_object_id: str = ""
    name: str = ""


@dataclass(frozen=True)
class Turn:
    """One incoming message or card action, free of any SDK type."""

    user: User
    conversation_id: str
    conversation_type: ConversationType
    tenant_id: str = ""
    text: str = ""                      # message text, @mention of the bot removed, trimmed
    args: str = ""                      # what follows the command words, when a command matched
    verb: str = ""                      # card action verb (Action.Execute or Action.Submit data.verb)
    data: dict[str, Any] = field(default_factory=dict)   # card action data / form inputs
    card_activity_id: str = ""          # the activity that carried the clicked card, if known
    locale: str = "de-DE"

    @property
    def is_card_action(self) -> bool:
        return bool(self.verb)


@dataclass(frozen=True)
class Message:
    """Something the bot says: text, an Adaptive Card, or both."""

    text: str = ""
    card: dict[str, Any] | None = None
    summary: str = ""       # preview text Teams shows in notifications and the chat list

    def __post_init__(self) -> None:
        if not self.text and self.card is None:
            raise ValueError("a message needs text or a card")


@dataclass(frozen=True)
class Outcome:
    """A handler's answer: messages to send, and for a card action optionally the card to show instead."""

    messages: tuple[Message, ...] = ()
    card_update: dict[str, Any] | None = None

    @classmethod
    def say(cls, *messages: Message) -> "Outcome":
        return cls(messages=tuple(messages))
