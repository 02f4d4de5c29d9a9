"""Who an audience means, as broadcast recipients: personal chats and team channels from the address book.

- "all": every active personal chat with the bot (everyone who has it installed).
- "pilots": the personal chats of the active Digitallots*innen of the pilot directory (routing/pilots.py),
  matched by Entra object id or Teams id.
- "departments": people whose department is known in the "users" container (written by pilot routing,
  routing/people.py: id = Entra object id or Teams id, `stated` by the person or `graph` from Microsoft
  Graph) and names one of the chosen Ämter ("Amt 51" matches "Amt 51 – Jugendamt", see
  routing.pilots.same_department). People whose department nobody knows are not reached this way.
- channels: the chosen team channels where the bot is installed, or all of them.
"""

from __future__ import annotations

import time
from typing import Awaitable, Callable, Iterable

from events.broadcast import Recipient
from events.models import ALL_CHANNELS, Audience
from routing.people import PARTITION as DEPARTMENT_PARTITION
from routing.pilots import PilotDirectory, same_department
from storage.base import Container, Query
from storage.conversations import ConversationBook, ConversationRecord

PilotIds = Callable[[], Awaitable[Iterable[str]]]
_DEPARTMENT_CACHE_S = 300.0


def channel_label(record: ConversationRecord) -> str:
    """A readable name for a channel; the address book keeps ids only, so the label shows their ends."""
    team = f"Team …{record.team_id[-6:]}" if record.team_id else "Team"
    return f"{team} · Kanal …{record.conversation_id.split('@')[0][-8:]}"


def _norm(text: str) -> str:
    # Commas are dropped: a card's multi-select joins its values with commas.
    return " ".join(text.replace(",", " ").casefold().split())


class AudienceResolver:
    """Turns an Audience into recipients, each conversation once."""

    def __init__(self, book: ConversationBook, users: Container, pilot_ids: PilotIds,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._book = book
        self._users = users
        self._pilot_ids = pilot_ids
        self._clock = clock
        self._departments: tuple[float, list[str]] | None = None

    async def recipients(self, audience: Audience) -> list[Recipient]:
        """Personal chats of the chosen users, then the chosen channels; no conversation twice."""
        found: dict[str, Recipient] = {}
        if audience.users != "none":
            people = await self._book.active("personal")
            if audience.users == "pilots":
                wanted = {i for i in await self._pilot_ids() if i}
                people = [p for p in people if p.user_aad_id in wanted or p.user_id in wanted]
            elif audience.users == "departments":
                wanted = await self._people_in(audience.departments)
                people = [p for p in people if p.user_aad_id in wanted or p.user_id in wanted]
            for person in people:
                found.setdefault(person.conversation_id, Recipient(person.conversation_id, "user", person.user_name))
        if audience.channels:
            chosen = set(audience.channels)
            for channel in await self._book.active("channel"):
                if ALL_CHANNELS in chosen or channel.conversation_id in chosen:
                    found.setdefault(channel.conversation_id,
                                     Recipient(channel.conversation_id, "channel", channel_label(channel)))
        return list(found.values())

    async def channels(self) -> list[tuple[str, str]]:
        """(conversation id, label) of every team channel the bot can post to, for the form."""
        return [(c.conversation_id, channel_label(c)) for c in await self._book.active("channel")]

    async def departments(self) -> list[str]:
        """The department names known from the users container, for the form (cached a few minutes)."""
        if self._departments is not None and self._clock() - self._departments[0] < _DEPARTMENT_CACHE_S:
            return self._departments[1]
        names: dict[str, str] = {}
        for doc in await self._users.query(Query(partition=DEPARTMENT_PARTITION)):
            department = _department(doc.body)
            if department:
                names.setdefault(_norm(department), department)
        result = sorted(names.values(), key=str.casefold)
        self._departments = (self._clock(), result)
        return result

    async def _people_in(self, departments: tuple[str, ...]) -> set[str]:
        """Keys (Entra object id or Teams id) of the people in one of `departments`."""
        keys: set[str] = set()
        for doc in await self._users.query(Query(partition=DEPARTMENT_PARTITION)):
            department = _department(doc.body)
            if department and any(same_department(department, d) or _norm(department) == _norm(d)
                                  for d in departments):
                keys.add(doc.id)
        return keys


def _department(body: dict) -> str:
    """What the person stated wins over Graph (as in routing/people.py)."""
    for field in ("stated", "graph"):
        value = body.get(field)
        if isinstance(value, str) and value.strip():
            return " ".join(value.split())
    return ""


def pilots_of(directory: PilotDirectory) -> PilotIds:
    """The pilot audience: Entra object ids and Teams ids of the directory's active Digitallots*innen."""

    async def pilot_ids() -> Iterable[str]:
        return [i for p in await directory.all() for i in (p.aad_id, p.teams_id) if i]

    return pilot_ids
