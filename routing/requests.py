"""Help requests and their life: a small state machine whose every step is one conditional write.

    new ─┬─> offered ──> accepted ──> resolved
         │     │  ↑         │
         │     ├─ declined / timed_out / reassigned ─> (next candidate) offered | open | unassigned
         │     └─ hand-over ─> offered (to the chosen colleague)
         ├─> open (the pilots' channel: anyone may claim) ──> accepted
         └─> unassigned (nobody available; the requester is told)
    every state before resolved ──> cancelled (by the requester)

`declined`, `timed_out`, `reassigned` and `new` wait for the next candidate; the sweeper finds any left
there by a crash. Transitions are pure functions (request in, request out, or `Refused`);
`routing.request_book.RequestBook` applies them with the document's ETag and re-evaluates on a concurrent
write, so of two pilots clicking "Übernehmen" at the same moment exactly one wins and the other sees who did.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any, Literal



Status = Literal["new", "offered", "open", "accepted", "resolved", "declined", "timed_out", "reassigned",
                 "cancelled", "unassigned"]
Outcome = Literal["pending", "accepted", "declined", "timed_out", "reassigned", "unreachable", "withdrawn",
                  "cancelled", "taken"]
ROUTABLE: frozenset[str] = frozenset({"new", "declined", "timed_out", "reassigned"})
ACTIVE: frozenset[str] = ROUTABLE | {"offered", "open", "accepted"}
CLOSED: frozenset[str] = frozenset({"resolved", "cancelled", "unassigned"})
MAX_RATING = 5


class Refused(Exception):
    """A transition that does not apply to the request as it is now; `code` says why."""

    def __init__(self, code: str, request: "HelpRequest | None" = None) -> None:
        super().__init__(code)
        self.code = code
        self.request = request


@dataclass(frozen=True)
class Person:
    """A requester, pilot or channel member, as far as a request needs to know them."""

    user_id: str = ""       # Teams 29:...
    aad_id: str = ""
    name: str = ""
    upn: str = ""
    department: str = ""
    pilot_key: str = ""     # their directory entry, if they are a pilot

    def is_(self, other: "Person | None") -> bool:
        if other is None:
            return False
        return bool(self.aad_id and self.aad_id == other.aad_id) or bool(self.user_id and self.user_id == other.user_id)

    @property
    def key(self) -> str:
        return self.aad_id or self.user_id


@dataclass(frozen=True)
class Offer:
    """One attempt to place the request: with a pilot, or (via "channel") with everyone in the channel."""

    pilot: Person
    via: Literal["auto", "handover", "channel"]
    offered_at: float
    deadline: float | None = None
    reasons: str = ""
    outcome: Outcome = "pending"
    note: str = ""              # decline reason
    handed_by: str = ""         # the colleague who passed it on
    conversation_id: str = ""   # where its card is
    activity_id: str = ""


@dataclass(frozen=True)
class HelpRequest:
    id: str
    text: str
    requester: Person
    tenant_id: str
    created_at: float
    urgency: Literal["normal", "dringend"] = "normal"
    topics: tuple[str, ...] = ()
    status: Status = "new"
    offers: tuple[Offer, ...] = ()
    assignee: Person | None = None
    updated_at: float = 0.0
    deadline: float | None = None       # of the pending offer or the open channel post
    reminded: bool = False
    rating: int = 0
    resolution: str = ""
    resolved_by: str = ""               # "pilot" or "requester"
    closed_reason: str = ""
    proposed: bool = False
    work_conversation_id: str = ""      # the card the assignee works with (relay, "Gelöst")
    work_activity_id: str = ""

    @property
    def pending(self) -> Offer | None:
        """The offer waiting for an answer (status offered or open)."""
        last = self.offers[-1] if self.offers else None
        return last if last is not None and last.outcome == "pending" else None

    @property
    def holder(self) -> Person | None:
        """Who has the request right now: the assignee, or the pilot it is offered to."""
        if self.status == "accepted":
            return self.assignee
        pending = self.pending
        return pending.pilot if pending is not None and pending.via != "channel" else None

    @property
    def offered_keys(self) -> frozenset[str]:
        return frozenset(o.pilot.pilot_key for o in self.offers if o.pilot.pilot_key)

    @property
    def delivered_offers(self) -> int:
        """Offers a pilot really received (an unreachable pilot does not count as a candidate)."""
        return sum(1 for o in self.offers if o.via != "channel" and o.outcome != "unreachable")

    def to_body(self) -> dict[str, Any]:
        body = asdict(self)
        body["topics"] = list(self.topics)
        holder = self.holder
        body["holder"] = holder.pilot_key or holder.key if holder else ""   # queried: "meine anfragen", load
        body["requester_key"] = self.requester.key
        return body

    @classmethod
    def from_body(cls, body: dict[str, Any]) -> "HelpRequest":
        fields = cls.__dataclass_fields__
        values = {k: v for k, v in body.items() if k in fields}
        values["requester"] = Person(**values["requester"])
        values["assignee"] = Person(**values["assignee"]) if values.get("assignee") else None
        values["offers"] = tuple(Offer(**{**o, "pilot": Person(**o["pilot"])}) for o in values.get("offers") or ())
        values["topics"] = tuple(values.get("topics") or ())
        return cls(**values)


def _with_pending(request: HelpRequest, **changes: Any) -> tuple[Offer, ...]:
    return request.offers[:-1] + (replace(request.offers[-1], **changes),)


def _closed(request: HelpRequest) -> Refused:
    return Refused("resolved" if request.status == "resolved" else
                   "cancelled" if request.status == "cancelled" else "closed", request)


# -- transitions: pure, `now` given -----------------------------------------------------------------------

def offer(request: HelpRequest, pilot: Person, *, now: float, deadline: float, reasons: str) -> HelpRequest:
    """The next automatic candidate gets it."""
    if request.status not in ROUTABLE:
        raise Refused("not_routable", request)
    entry = Offer(pilot, "auto", now, deadline, reasons)
    return replace(request, status="offered", offers=request.offers + (entry,), deadline=deadline, updated_at=now)


def open_to_channel(request: HelpRequest, *, now: float, deadline: float) -> HelpRequest:
    """Nobody took it directly: everyone in the pilots' channel may claim it."""
    if request.status not in ROUTABLE:
        raise Refused("not_routable", request)
    entry = Offer(Person(name="Kanal der Digitallots*innen"), "channel", now, deadline)
    return replace(request, status="open", offers=request.offers + (entry,), deadline=deadline, updated_at=now)


def close_unassigned(request: HelpRequest, *, now: float, reason: str) -> HelpRequest:
    """Nobody can take it. Also from "open" when the channel post itself could not be delivered."""
    channel_failed = request.status == "open" and request.pending is not None and not request.pending.activity_id
    if request.status not in ROUTABLE and not channel_failed:
        raise Refused("not_routable", request)
    return replace(request, status="unassigned", deadline=None, closed_reason=reason, updated_at=now)


def attach_card(request: HelpRequest, index: int, conversation_id: str, activity_id: str) -> HelpRequest:
    """Remember where an offer's card is, so it can be updated when someone else wins."""
    offers = list(request.offers)
    offers[index] = replace(offers[index], conversation_id=conversation_id, activity_id=activity_id)
    return replace(request, offers=tuple(offers))


def attach_work_card(request: HelpRequest, conversation_id: str, activity_id: str) -> HelpRequest:
    return replace(request, work_conversation_id=conversation_id, work_activity_id=activity_id)


def accept(request: HelpRequest, claimer: Person, *, now: float) -> HelpRequest:
    """"Übernehmen": the pilot it is offered to, or anyone when it is open in the channel."""
    if request.status == "accepted":
        if claimer.is_(request.assignee):
            return request   # a repeated click
        raise Refused("taken", request)
    if request.status not in ("offered", "open"):
        raise (Refused("moved", request) if request.status in ROUTABLE else _closed(request))
    if claimer.is_(request.requester):
        raise Refused("own", request)
    pending = request.pending
    if request.status == "offered" and (pending is None or not claimer.is_(pending.pilot)):
        raise Refused("moved", request)
    return replace(request, status="accepted", assignee=claimer, deadline=None, updated_at=now,
                   offers=_with_pending(request, outcome="accepted"))


def decline(request: HelpRequest, pilot: Person, *, now: float, reason: str) -> HelpRequest:
    pending = request.pending
    if request.status == "offered" and pending is not None and pilot.is_(pending.pilot):
        return replace(request, status="declined", deadline=None, updated_at=now,
                       offers=_with_pending(request, outcome="declined", note=reason[:300]))
    if any(o.outcome == "declined" and pilot.is_(o.pilot) for o in request.offers):
        return request   # declined before: a repeated click
    if request.status == "accepted":
        raise Refused("taken", request)
    raise (Refused("moved", request) if request.status in ACTIVE else _closed(request))


def hand_over(request: HelpRequest, by: Person, to: Person, *, now: float, deadline: float,
              reasons: str) -> HelpRequest:
    """"An Kolleg*in weitergeben": from the pilot it is offered to, or from the one who accepted it."""
    pending = request.pending
    if request.status == "offered" and pending is not None and by.is_(pending.pilot):
        offers = _with_pending(request, outcome="reassigned")
    elif request.status == "accepted" and by.is_(request.assignee):
        offers = request.offers
    elif request.status == "accepted":
        raise Refused("taken", request)
    else:
        raise (Refused("moved", request) if request.status in ACTIVE else _closed(request))
    if to.is_(by) or to.is_(request.requester):
        raise Refused("invalid", request)
    entry = Offer(to, "handover", now, deadline, reasons, handed_by=by.name)
    return replace(request, status="offered", assignee=None, offers=offers + (entry,), deadline=deadline,
                   updated_at=now, work_conversation_id="", work_activity_id="")


def mark_unreachable(request: HelpRequest, pilot: Person, *, now: float) -> HelpRequest:
    """The card could not be delivered (blocked the bot, left): on to the next candidate."""
    pending = request.pending
    if request.status != "offered" or pending is None or not pilot.is_(pending.pilot):
        raise Refused("moved", request)
    return replace(request, status="reassigned", deadline=None, updated_at=now,
                   offers=_with_pending(request, outcome="unreachable"))


def time_out(request: HelpRequest, *, now: float) -> HelpRequest:
    if request.status != "offered" or request.deadline is None or request.deadline > now:
        raise Refused("not_due", request)
    return replace(request, status="timed_out", deadline=None, updated_at=now,
                   offers=_with_pending(request, outcome="timed_out"))


def remind(request: HelpRequest, *, now: float) -> HelpRequest:
    """The channel post waited a full timeout: the requester is told once, the post stays open."""
    if request.status != "open" or request.deadline is None or request.deadline > now:
        raise Refused("not_due", request)
    return replace(request, reminded=True, deadline=None, updated_at=now)


def withdraw(request: HelpRequest, pilot_key: str, *, now: float, include_accepted: bool) -> HelpRequest:
    """A pilot is away or was removed: their pending offer (and, if asked, their accepted request) moves on."""
    pending = request.pending
    if request.status == "offered" and pending is not None and pending.pilot.pilot_key == pilot_key:
        return replace(request, status="reassigned", deadline=None, updated_at=now,
                       offers=_with_pending(request, outcome="withdrawn"))
    if include_accepted and request.status == "accepted" and request.assignee and \
            request.assignee.pilot_key == pilot_key:
        return replace(request, status="reassigned", assignee=None, updated_at=now, work_conversation_id="",
                       work_activity_id="")
    raise Refused("moved", request)


def resolve(request: HelpRequest, by: Person, *, now: float, note: str = "") -> HelpRequest:
    if request.status == "resolved":
        return request
    if request.status != "accepted":
        raise (Refused("not_accepted", request) if request.status in ACTIVE else _closed(request))
    if by.is_(request.assignee):
        who = "pilot"
    elif by.is_(request.requester):
        who = "requester"
    else:
        raise Refused("not_yours", request)
    return replace(request, status="resolved", resolved_by=who, resolution=note[:1000], updated_at=now)


def cancel(request: HelpRequest, by: Person, *, now: float) -> HelpRequest:
    if not by.is_(request.requester):
        raise Refused("not_yours", request)
    if request.status == "cancelled":
        return request
    if request.status not in ACTIVE:
        raise _closed(request)
    offers = _with_pending(request, outcome="cancelled") if request.pending else request.offers
    return replace(request, status="cancelled", deadline=None, offers=offers, updated_at=now)


def rate(request: HelpRequest, by: Person, stars: int) -> HelpRequest:
    if not by.is_(request.requester):
        raise Refused("not_yours", request)
    if request.status != "resolved":
        raise Refused("not_resolved", request)
    if not 1 <= stars <= MAX_RATING:
        raise Refused("invalid", request)
    return request if request.rating else replace(request, rating=stars)


def mark_proposed(request: HelpRequest, by: Person) -> HelpRequest:
    if request.status != "resolved":
        raise Refused("not_resolved", request)
    if not by.is_(request.assignee):
        raise Refused("not_yours", request)
    return request if request.proposed else replace(request, proposed=True)


def relay_partner(request: HelpRequest, sender: Person) -> Person:
    """Whom a message typed by `sender` goes to (the other side of an accepted request)."""
    if request.status != "accepted" or request.assignee is None:
        raise (Refused("not_accepted", request) if request.status in ACTIVE else _closed(request))
    if sender.is_(request.requester):
        return request.assignee
    if sender.is_(request.assignee):
        return request.requester
    raise Refused("not_yours", request)
