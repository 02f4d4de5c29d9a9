"""Who may announce: allow-listed Entra object ids, or a role noted for the person in the "users" container."""

from __future__ import annotations

from typing import Iterable

from dialogs.context import User
from storage.base import Container

ROLES_PARTITION = "roles"


class AuthorPolicy:
    """`ANNOUNCEMENT_AUTHORS` (object ids) or `ANNOUNCEMENT_AUTHOR_ROLE` in the person's roles document.

    The roles document lives in the "users" container: id = Entra object id, partition "roles",
    body {"roles": ["Announcements.Author", ...]}. It is kept by administration tooling, not by the bot.
    """

    def __init__(self, author_ids: Iterable[str], role: str, users: Container, *, everyone: bool = False) -> None:
        self._ids = frozenset(i.strip().lower() for i in author_ids if i.strip())
        self._role = role
        self._users = users
        self._everyone = everyone     # local mode without an allow-list: nobody signs in there anyway

    async def is_author(self, user: User) -> bool:
        """Allow-listed by object id, else holder of the configured role."""
        if self._everyone:
            return True
        aad_id = user.aad_object_id.strip().lower()
        if not aad_id:
            return False
        if aad_id in self._ids:
            return True
        if not self._role:
            return False
        doc = await self._users.read(aad_id, ROLES_PARTITION)
        roles = doc.body.get("roles") if doc else None
        return isinstance(roles, list) and self._role in roles
