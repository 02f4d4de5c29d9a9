"""Who should get a request: pure, deterministic scoring with reasons a person can read.

Rules (each one has its own unit test):
- available: active, not absent today, below capacity, not excluded (already had this request, or asked it);
- same department first: pilots help their own Fachbereich first;
- topic: the request's tags (from the knowledge engine); the main tag counts most;
- load: fewer open requests is better;
- fairness: among equals, whoever got a request least recently; then the key, so ties never depend on order.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Iterable, Mapping

from routing.pilots import Pilot, same_department, topic_label


@dataclass(frozen=True)
class Weights:
    same_department: float = 10.0
    main_topic: float = 6.0
    other_topic: float = 3.0
    per_open_request: float = 2.0


@dataclass(frozen=True)
class Need:
    """What a request asks for."""

    topics: tuple[str, ...] = ()          # strongest first
    department: str = ""                  # the requester's department, as free text
    today: dt.date = dt.date(2026, 1, 1)
    exclude: frozenset[str] = field(default_factory=frozenset)   # pilot keys not to offer it to


@dataclass(frozen=True)
class Candidate:
    pilot: Pilot
    score: float
    load: int
    reasons: tuple[str, ...]

    @property
    def explanation(self) -> str:
        """E.g. "gleiches Amt · Thema Whiteboard · 1 offene Anfrage"."""
        return " · ".join(self.reasons)


def unavailable_because(pilot: Pilot, need: Need, load: int) -> str:
    """Why a pilot cannot get the request now, or "" when they can."""
    if not pilot.active:
        return "nicht mehr eingetragen"
    if pilot.key in need.exclude:
        return "hatte die Anfrage schon"
    if pilot.absent_on(need.today):
        return f"abwesend bis {dt.date.fromisoformat(pilot.absent_until):%d.%m.}"
    if load >= pilot.capacity:
        return "ausgelastet"
    return ""


def score(pilot: Pilot, need: Need, load: int, weights: Weights = Weights()) -> Candidate:
    """The pilot's score for this need and the reasons behind it (availability is not checked here)."""
    points = 0.0
    reasons: list[str] = []
    if need.department and same_department(pilot.department, need.department):
        points += weights.same_department
        reasons.append("gleiches Amt")
    matched = [t for t in need.topics if t in pilot.topics]
    for tag in matched:
        points += weights.main_topic if tag == need.topics[0] else weights.other_topic
    if matched:
        labels = ", ".join(topic_label(t) for t in matched)
        reasons.append(f"{'Thema' if len(matched) == 1 else 'Themen'} {labels}")
    points -= weights.per_open_request * load
    reasons.append(_load_text(load))
    return Candidate(pilot, points, load, tuple(reasons))


def rank(pilots: Iterable[Pilot], need: Need, loads: Mapping[str, int],
         weights: Weights = Weights()) -> list[Candidate]:
    """Available pilots, best first. The same inputs always give the same order."""
    candidates = [score(p, need, loads.get(p.key, 0), weights) for p in pilots
                  if not unavailable_because(p, need, loads.get(p.key, 0))]
    return sorted(candidates, key=lambda c: (-c.score, c.pilot.last_assigned_at, c.pilot.key))


def _load_text(load: int) -> str:
    if load == 0:
        return "keine offene Anfrage"
    return f"{load} offene Anfrage{'n' if load != 1 else ''}"
