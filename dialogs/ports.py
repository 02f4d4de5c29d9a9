"""What the domain needs from the outside world, as interfaces. `bot/` implements them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol

from dialogs.context import Message

DeliveryStatus = Literal["sent", "blocked", "failed", "not_found"]


@dataclass(frozen=True)
class Delivery:
    """What became of one proactive send, update or delete."""

    status: DeliveryStatus
    conversation_id: str
    activity_id: str = ""
    attempts: int = 1
    error: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "sent"


class Messenger(Protocol):
    """Proactive messaging into stored conversations, with retry and throttling inside."""

    async def send(self, conversation_id: str, message: Message) -> Delivery: ...

    async def update(self, conversation_id: str, activity_id: str, message: Message) -> Delivery: ...

    async def delete(self, conversation_id: str, activity_id: str) -> Delivery: ...

    async def send_to_user(self, *, aad_id: str = "", user_id: str = "", tenant_id: str = "",
                           message: Message) -> Delivery: ...
