"""The directory of Digitallots*innen: who they are, what they know, when they are away.

One document per pilot in the "pilots" container (one partition; the city has a few dozen pilots).
Seeded once from a YAML file when the directory is empty, then maintained in Teams by the CDO office
and by the pilots themselves. Every change is a conditional write, retried on a concurrent one.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Iterable

import yaml

from storage.base import Conflict, Container, PreconditionFailed, Query

log = logging.getLogger(__name__)

PARTITION = "pilot"
WRITE_ATTEMPTS = 8
DEFAULT_CAPACITY = 3

# The knowledge base's topic tags (docs/knowledge-format.md) with the words pilots and cards show.
TOPICS: dict[str, str] = {
    "chat": "Chat", "teams-kanaele": "Teams-Kanäle", "besprechung": "Besprechungen", "whiteboard": "Whiteboard",
    "dateien": "Dateien", "office": "Office", "aufgaben": "Aufgaben", "kalender": "Kalender",
    "telefonie": "Telefonie", "mobiles-arbeiten": "Mobiles Arbeiten", "arbeitsplatz": "Arbeitsplatz",
    "hardware": "Hardware", "mobilgeraete": "Mobilgeräte", "zugang": "Zugang", "sicherheit": "Sicherheit",
    "datenschutz": "Datenschutz", "it-portfolio": "IT-Portfolio", "fortbildung": "Fortbildung",
    "projektmanagement": "Projektmanagement", "it-service": "IT-Service", "digitallotsen": "Digitallots*innen",
    "veranstaltungen": "Veranstaltungen", "innovation": "Innovation", "transformation": "Transformation",
    "barrierefreiheit": "Barrierefreiheit", "teams": "Teams",
}
_AMT = re.compile(r"\bamt\s*(\d{1,3})\b")
_LEADING_NUMBER = re.compile(r"^\s*(\d{1,3})\b")


class DirectoryError(ValueError):
    """A pilot entry that cannot be stored as given; the message is German and names the field."""


@dataclass(frozen=True)
class Pilot:
    """One Digitallots*in."""

    key: str                    # document id, stable (e.g. "pilot-01")
    name: str
    upn: str                    # mail / user principal name: deep links and look-ups
    aad_id: str                 # Entra object id
    teams_id: str = ""          # 29:... once known
    department: str = ""        # "Amt 10 – Haupt- und Personalamt"
    topics: tuple[str, ...] = ()
    capacity: int = DEFAULT_CAPACITY
    absent_until: str = ""      # ISO date, inclusive; "" = present
    active: bool = True
    last_assigned_at: float = 0.0

    @property
    def department_code(self) -> str:
        return department_code(self.department)

    def absent_on(self, today: dt.date) -> bool:
        return bool(self.absent_until) and today <= dt.date.fromisoformat(self.absent_until)

    def to_body(self) -> dict[str, Any]:
        body = asdict(self)
        body["topics"] = list(self.topics)
        body["upn_key"] = self.upn.casefold()   # case-insensitive look-up by mail
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "Pilot":
        fields = cls.__dataclass_fields__
        values = {k: v for k, v in body.items() if k in fields}
        values["topics"] = tuple(values.get("topics") or ())
        return cls(**values)


def department_code(text: str) -> str:
    """"Amt 51 – Jugendamt" → "51"; "51" → "51"; a bare name → "" (matched by name instead)."""
    lowered = (text or "").casefold()
    match = _AMT.search(lowered) or _LEADING_NUMBER.match(lowered)
    return match.group(1).lstrip("0") or "0" if match else ""


def same_department(a: str, b: str) -> bool:
    """Whether two department texts name the same Amt: by number if both have one, else by name."""
    code_a, code_b = department_code(a), department_code(b)
    if code_a and code_b:
        return code_a == code_b
    name_a, name_b = _department_name(a), _department_name(b)
    return bool(name_a) and name_a == name_b


def _department_name(text: str) -> str:
    name = re.split(r"\s[–-]\s", text or "", maxsplit=1)[-1]
    return " ".join(unicodedata.normalize("NFC", name).casefold().split())


def topic_label(tag: str) -> str:
    return TOPICS.get(tag, tag)


def parse_topics(text: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """(known tags, unknown words) from "whiteboard, Besprechungen und Teams-Kanäle"."""
    known: list[str] = []
    unknown: list[str] = []
    by_label = {_fold(label): tag for tag, label in TOPICS.items()}
    by_label.update({_fold(tag): tag for tag in TOPICS})
    by_label.update({"besprechung": "besprechung", "kanal": "teams-kanaele", "kanaele": "teams-kanaele",
                     "telefon": "telefonie", "handy": "mobilgeraete", "lotsen": "digitallotsen"})
    for word in re.split(r"[,;/]|\bund\b|\s{2,}", text):
        word = word.strip(" .!?")
        if not word:
            continue
        tag = by_label.get(_fold(word))
        if tag is None:
            tag = next((by_label[w] for w in (_fold(p) for p in word.split()) if w in by_label), None)
        if tag is None:
            unknown.append(word)
        elif tag not in known:
            known.append(tag)
    return tuple(known), tuple(unknown)


def _fold(text: str) -> str:
    text = unicodedata.normalize("NFC", text).casefold().replace("*", "")
    return text.replace("ä", "ae").replace("ö", "oe").replace("ü", "ue").replace("ß", "ss").replace(" ", "-")


def load_seed(path: Path) -> list[Pilot]:
    """Pilots from a YAML file: a list under `pilots:`; each entry checked like an admin entry."""
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    entries = data.get("pilots") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise DirectoryError(f"{path.name}: erwartet eine Liste unter 'pilots:'")
    pilots = []
    for number, entry in enumerate(entries, 1):
        try:
            pilots.append(checked(Pilot(**{**entry, "topics": tuple(entry.get("topics") or ())})))
        except (TypeError, ValueError) as exc:
            raise DirectoryError(f"{path.name}, Eintrag {number}: {exc}") from None
    keys = [p.key for p in pilots]
    if len(set(keys)) != len(keys):
        raise DirectoryError(f"{path.name}: doppelte id")
    return pilots


def checked(pilot: Pilot) -> Pilot:
    """The pilot with trimmed fields, or DirectoryError naming what is wrong (German)."""
    pilot = replace(pilot, name=" ".join(pilot.name.split()), upn=pilot.upn.strip(), aad_id=pilot.aad_id.strip(),
                    teams_id=pilot.teams_id.strip(), department=" ".join(pilot.department.split()))
    if not pilot.name:
        raise DirectoryError("Der Name fehlt.")
    if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", pilot.upn):
        raise DirectoryError("Die Mail-Adresse (UPN) ist ungültig.")
    if not (pilot.aad_id or pilot.teams_id):
        raise DirectoryError("Die Entra-Objekt-ID fehlt.")
    if not pilot.department:
        raise DirectoryError("Das Amt fehlt.")
    unknown = [t for t in pilot.topics if t not in TOPICS]
    if unknown:
        raise DirectoryError(f"Unbekannte Themen: {', '.join(unknown)}.")
    if not 1 <= pilot.capacity <= 20:
        raise DirectoryError("Die Kapazität muss zwischen 1 und 20 offenen Anfragen liegen.")
    if pilot.absent_until:
        try:
            dt.date.fromisoformat(pilot.absent_until)
        except ValueError:
            raise DirectoryError("Das Abwesenheitsdatum ist ungültig.") from None
    return pilot


def key_for(upn: str) -> str:
    """A document id from a mail address: its local part, lower case, safe characters only."""
    local = upn.split("@", 1)[0].casefold()
    return re.sub(r"[^a-z0-9._-]+", "-", local).strip("-") or "pilot"


class PilotDirectory:
    """Reads and changes pilot entries; `start()` seeds an empty directory."""

    def __init__(self, container: Container, seed_file: Path | None = None) -> None:
        self._container = container
        self._seed_file = seed_file

    async def start(self) -> None:
        """Seed from the YAML file when the directory is empty (safe with several instances)."""
        if self._seed_file is None or await self._container.count(Query(partition=PARTITION)) > 0:
            return
        pilots = load_seed(self._seed_file)
        for pilot in pilots:
            try:
                await self._container.create(pilot.key, PARTITION, pilot.to_body())
            except Conflict:
                pass  # another instance seeded it at the same moment
        log.info("pilot directory seeded", extra={"event": "pilots_seeded", "count": len(pilots)})

    async def stop(self) -> None:
        return None

    async def all(self, *, include_inactive: bool = False) -> list[Pilot]:
        docs = await self._container.query(Query(partition=PARTITION, order_by="key"))
        pilots = [Pilot.from_body(d.body) for d in docs]
        return pilots if include_inactive else [p for p in pilots if p.active]

    async def get(self, key: str) -> Pilot | None:
        doc = await self._container.read(key, PARTITION) if key else None
        return Pilot.from_body(doc.body) if doc else None

    async def for_user(self, *, aad_id: str = "", teams_id: str = "") -> Pilot | None:
        """The active pilot entry of a Teams user, by Entra object id first, then Teams id."""
        for pilot in await self.all():
            if (aad_id and pilot.aad_id == aad_id) or (teams_id and pilot.teams_id == teams_id):
                return pilot
        return None

    async def find(self, text: str, *, include_inactive: bool = True) -> list[Pilot]:
        """Pilots matching a key, a mail address or (part of) a name; exact matches first."""
        wanted = " ".join(text.split()).casefold()
        if not wanted:
            return []
        pilots = await self.all(include_inactive=include_inactive)
        exact = [p for p in pilots if wanted in (p.key.casefold(), p.upn.casefold(), p.name.casefold())]
        return exact or [p for p in pilots if wanted in p.name.casefold()]

    async def departments(self) -> list[str]:
        """Every department some pilot belongs to, sorted by Amt number."""
        names = {p.department for p in await self.all(include_inactive=True) if p.department}
        return sorted(names, key=lambda d: (int(department_code(d) or 999), d))

    async def add(self, pilot: Pilot) -> Pilot:
        """Create an entry; DirectoryError if the mail address is taken by another entry."""
        pilot = checked(pilot)
        clash = [p for p in await self.all(include_inactive=True) if p.upn.casefold() == pilot.upn.casefold()]
        if clash:
            raise DirectoryError(f"{pilot.upn} ist schon eingetragen ({clash[0].name}).")
        base, n = pilot.key, 1
        while True:
            try:
                await self._container.create(pilot.key, PARTITION, pilot.to_body())
                return pilot
            except Conflict:
                n += 1
                pilot = replace(pilot, key=f"{base}-{n}")

    async def update(self, key: str, change: Callable[[Pilot], Pilot], *, etag: str | None = None) -> Pilot:
        """Apply `change` with a conditional write. With `etag`, only if the entry is unchanged since then
        (PreconditionFailed otherwise); without, re-read and retry on a concurrent write."""
        for _ in range(WRITE_ATTEMPTS):
            doc = await self._container.read(key, PARTITION)
            if doc is None:
                raise DirectoryError("Diesen Eintrag gibt es nicht mehr.")
            if etag is not None and doc.etag != etag:
                raise PreconditionFailed(key)
            current = Pilot.from_body(doc.body)
            updated = checked(change(current))
            if updated == current:
                return current
            try:
                await self._container.replace(key, PARTITION, updated.to_body(), etag=doc.etag)
                return updated
            except PreconditionFailed:
                if etag is not None:
                    raise
        raise PreconditionFailed(f"pilot {key} kept changing")

    async def etag_of(self, key: str) -> str:
        doc = await self._container.read(key, PARTITION)
        return doc.etag if doc else ""

    async def record_assignment(self, key: str, at: float) -> None:
        """Remember when a pilot last got a request (fairness); a lost race only costs fairness, never data."""
        try:
            await self.update(key, lambda p: replace(p, last_assigned_at=max(p.last_assigned_at, at)))
        except (PreconditionFailed, DirectoryError):
            log.warning("could not record assignment", extra={"event": "pilot_assignment_not_recorded", "pilot": key})


def present(pilots: Iterable[Pilot], today: dt.date) -> list[Pilot]:
    return [p for p in pilots if p.active and not p.absent_on(today)]
