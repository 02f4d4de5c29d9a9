"""The help-request state machine: every transition, its refusals, repeats, and conditional writes on both stores."""

from __future__ import annotations

import asyncio
from dataclasses import replace

import pytest

from routing import requests as rq
from routing.request_book import Applied, RequestBook
from routing.requests import HelpRequest, Person, Refused

T0 = 1_800_000_000.0
ASKER = Person(user_id="29:asker", aad_id="aad-asker", name="Fragende Person", department="Amt 51")
ANNA = Person(user_id="29:anna", aad_id="aad-anna", name="Anna", pilot_key="anna")
BERND = Person(user_id="29:bernd", aad_id="aad-bernd", name="Bernd", pilot_key="bernd")
STRANGER = Person(user_id="29:x", aad_id="aad-x", name="X")


def new(**changes) -> HelpRequest:
    base = HelpRequest(id="r1", text="Whiteboard exportieren?", requester=ASKER, tenant_id="t", created_at=T0,
                       updated_at=T0)
    return replace(base, **changes) if changes else base


def offered(to: Person = ANNA, deadline: float = T0 + 100) -> HelpRequest:
    return rq.offer(new(), to, now=T0, deadline=deadline, reasons="gleiches Amt")


def refused(code: str, fn, *args, **kwargs) -> None:
    with pytest.raises(Refused) as caught:
        fn(*args, **kwargs)
    assert caught.value.code == code


# -- pure transitions ---------------------------------------------------------------------------------------

def test_offer_then_accept_then_resolve():
    r = offered()
    assert (r.status, r.holder, r.deadline, r.pending.pilot) == ("offered", ANNA, T0 + 100, ANNA)
    r = rq.accept(r, ANNA, now=T0 + 1)
    assert (r.status, r.assignee, r.deadline, r.offers[-1].outcome) == ("accepted", ANNA, None, "accepted")
    r = rq.resolve(r, ANNA, now=T0 + 2, note="Export über das Menü")
    assert (r.status, r.resolved_by, r.resolution) == ("resolved", "pilot", "Export über das Menü")


def test_repeated_clicks_are_no_ops():
    r = rq.accept(offered(), ANNA, now=T0 + 1)
    assert rq.accept(r, ANNA, now=T0 + 5) is r
    done = rq.resolve(r, ANNA, now=T0 + 2)
    assert rq.resolve(done, ANNA, now=T0 + 3) is done
    declined = rq.decline(offered(), ANNA, now=T0 + 1, reason="keine Zeit")
    assert rq.decline(declined, ANNA, now=T0 + 2, reason="keine Zeit") is declined
    rated = rq.rate(done, ASKER, 4)
    assert rq.rate(rated, ASKER, 1) is rated and rated.rating == 4
    cancelled = rq.cancel(offered(), ASKER, now=T0)
    assert rq.cancel(cancelled, ASKER, now=T0 + 1) is cancelled


def test_only_the_offered_pilot_may_accept_a_direct_offer():
    refused("moved", rq.accept, offered(), BERND, now=T0)
    refused("taken", rq.accept, rq.accept(offered(), ANNA, now=T0), BERND, now=T0)


def test_anyone_but_the_requester_may_claim_an_open_request():
    r = rq.open_to_channel(new(), now=T0, deadline=T0 + 50)
    assert r.status == "open" and r.holder is None
    refused("own", rq.accept, r, ASKER, now=T0)
    assert rq.accept(r, STRANGER, now=T0).assignee == STRANGER


def test_decline_records_the_reason_and_waits_for_the_next_candidate():
    r = rq.decline(offered(), ANNA, now=T0 + 1, reason="Thema passt nicht")
    assert (r.status, r.offers[-1].outcome, r.offers[-1].note, r.holder) == ("declined", "declined",
                                                                            "Thema passt nicht", None)
    assert "anna" in r.offered_keys
    refused("moved", rq.decline, offered(), BERND, now=T0, reason="")


def test_hand_over_from_an_offer_or_from_an_accepted_request():
    r = rq.hand_over(offered(), ANNA, BERND, now=T0 + 1, deadline=T0 + 200, reasons="von Anna empfohlen")
    assert (r.status, r.holder, r.offers[0].outcome, r.offers[1].handed_by) == ("offered", BERND, "reassigned", "Anna")
    accepted = rq.attach_work_card(rq.accept(offered(), ANNA, now=T0), "c", "a")
    r = rq.hand_over(accepted, ANNA, BERND, now=T0 + 1, deadline=T0 + 200, reasons="")
    assert (r.status, r.assignee, r.holder, r.work_activity_id) == ("offered", None, BERND, "")
    refused("invalid", rq.hand_over, offered(), ANNA, ASKER, now=T0, deadline=T0, reasons="")
    refused("moved", rq.hand_over, offered(), BERND, ANNA, now=T0, deadline=T0, reasons="")


def test_timeout_only_when_due():
    refused("not_due", rq.time_out, offered(deadline=T0 + 100), now=T0 + 99)
    r = rq.time_out(offered(deadline=T0 + 100), now=T0 + 100)
    assert (r.status, r.offers[-1].outcome, r.deadline) == ("timed_out", "timed_out", None)
    refused("not_due", rq.time_out, rq.accept(offered(), ANNA, now=T0), now=T0 + 1000)


def test_unreachable_pilot_does_not_count_as_a_candidate():
    r = rq.mark_unreachable(offered(), ANNA, now=T0)
    assert (r.status, r.delivered_offers) == ("reassigned", 0)
    r = rq.offer(r, BERND, now=T0, deadline=T0 + 1, reasons="")
    assert r.delivered_offers == 1


def test_withdraw_moves_pending_offers_and_if_asked_accepted_ones():
    assert rq.withdraw(offered(), "anna", now=T0, include_accepted=False).status == "reassigned"
    accepted = rq.accept(offered(), ANNA, now=T0)
    refused("moved", rq.withdraw, accepted, "anna", now=T0, include_accepted=False)
    r = rq.withdraw(accepted, "anna", now=T0, include_accepted=True)
    assert (r.status, r.assignee) == ("reassigned", None)


def test_cancel_by_the_requester_only_and_not_after_resolution():
    refused("not_yours", rq.cancel, offered(), ANNA, now=T0)
    r = rq.cancel(offered(), ASKER, now=T0)
    assert (r.status, r.offers[-1].outcome) == ("cancelled", "cancelled")
    refused("cancelled", rq.accept, r, ANNA, now=T0)
    done = rq.resolve(rq.accept(offered(), ANNA, now=T0), ANNA, now=T0)
    refused("resolved", rq.cancel, done, ASKER, now=T0)


def test_requester_can_mark_it_done_and_rate_once_in_range():
    accepted = rq.accept(offered(), ANNA, now=T0)
    refused("not_yours", rq.resolve, accepted, STRANGER, now=T0)
    done = rq.resolve(accepted, ASKER, now=T0)
    assert done.resolved_by == "requester"
    refused("not_resolved", rq.rate, accepted, ASKER, 5)
    refused("invalid", rq.rate, done, ASKER, 6)
    refused("not_yours", rq.rate, done, ANNA, 5)


def test_relay_goes_to_the_other_side_of_an_accepted_request():
    accepted = rq.accept(offered(), ANNA, now=T0)
    assert rq.relay_partner(accepted, ASKER) == ANNA and rq.relay_partner(accepted, ANNA) == ASKER
    refused("not_yours", rq.relay_partner, accepted, BERND)
    refused("not_accepted", rq.relay_partner, offered(), ASKER)
    refused("resolved", rq.relay_partner, rq.resolve(accepted, ANNA, now=T0), ASKER)


def test_channel_and_unassigned_and_proposal():
    assert rq.close_unassigned(new(), now=T0, reason="nobody").status == "unassigned"
    posted = rq.open_to_channel(new(), now=T0, deadline=T0 + 10)
    assert rq.close_unassigned(posted, now=T0, reason="exhausted").status == "unassigned"   # post not delivered
    refused("not_routable", rq.close_unassigned, rq.attach_card(posted, 0, "c", "a"), now=T0, reason="x")
    refused("not_routable", rq.offer, offered(), BERND, now=T0, deadline=T0, reasons="")
    opened = rq.open_to_channel(new(), now=T0, deadline=T0 + 10)
    refused("not_due", rq.remind, opened, now=T0 + 9)
    assert rq.remind(opened, now=T0 + 10).reminded
    done = rq.resolve(rq.accept(offered(), ANNA, now=T0), ANNA, now=T0)
    refused("not_yours", rq.mark_proposed, done, ASKER)
    assert rq.mark_proposed(done, ANNA).proposed


def test_body_round_trip():
    r = rq.attach_card(rq.accept(offered(), ANNA, now=T0), 0, "conv", "act")
    body = r.to_body()
    assert body["holder"] == "anna" and body["requester_key"] == "aad-asker"
    assert HelpRequest.from_body(body) == r


# -- on the stores -------------------------------------------------------------------------------------------

@pytest.fixture
def book(store) -> RequestBook:
    return RequestBook(store.container("items"))


async def test_create_is_idempotent_per_draft(book):
    first, created = await book.create(new())
    again, created_again = await book.create(new(text="anders"))
    assert created and not created_again and again.text == first.text


async def test_apply_writes_only_real_changes_and_refuses_unknown_ids(book):
    await book.create(new())
    applied = await book.apply("r1", lambda r: rq.offer(r, ANNA, now=T0, deadline=T0 + 5, reasons=""))
    assert applied.changed and applied.before.status == "new" and (await book.get("r1")).status == "offered"
    again = await book.apply("r1", lambda r: r)
    assert not again.changed
    for bad in ("nope", "../r1", "", "x" * 300, "a b"):
        with pytest.raises(Refused) as caught:
            await book.apply(bad, lambda r: r)
        assert caught.value.code == "not_found"
        assert await book.get(bad) is None


async def test_closed_requests_expire_after_the_retention_period(store):
    book = RequestBook(store.container("items"), retention_days=10)
    await book.create(new())
    await book.apply("r1", lambda r: rq.offer(r, ANNA, now=T0, deadline=T0 + 5, reasons=""))
    assert (await store.container("items").read("r1", "help_request")).expires_at is None
    await book.apply("r1", lambda r: rq.cancel(r, ASKER, now=T0 + 7))
    assert (await store.container("items").read("r1", "help_request")).expires_at == T0 + 7 + 10 * 86400


async def test_queries_due_loads_holder_and_requester(book):
    await book.create(new())
    await book.apply("r1", lambda r: rq.offer(r, ANNA, now=T0, deadline=T0 + 5, reasons=""))
    await book.create(new(id="r2"))
    await book.apply("r2", lambda r: rq.accept(rq.offer(r, ANNA, now=T0, deadline=T0 + 50, reasons=""), ANNA, now=T0))
    assert [r.id for r in await book.due("offered", T0 + 5)] == ["r1"]
    assert await book.due("offered", T0 + 4) == []
    assert await book.loads() == {"anna": 2}
    assert {r.id for r in await book.held_by("anna")} == {"r1", "r2"}
    assert len(await book.asked_by("aad-asker")) == 2


async def test_hundred_concurrent_accepts_have_exactly_one_winner(book):
    """100 people click "Übernehmen" on one open request at the same moment."""
    await book.create(new())
    await book.apply("r1", lambda r: rq.open_to_channel(r, now=T0, deadline=T0 + 100))
    clickers = [Person(user_id=f"29:p{n}", aad_id=f"aad-p{n}", name=f"Lotsin {n}", pilot_key=f"p{n}")
                for n in range(100)]

    async def click(person: Person):
        try:
            return await book.apply("r1", lambda r: rq.accept(r, person, now=T0 + 1))
        except Refused as refusal:
            return refusal

    results = await asyncio.gather(*(click(p) for p in clickers))
    winners = [r for r in results if isinstance(r, Applied) and r.changed]
    refusals = [r for r in results if isinstance(r, Refused)]
    assert len(winners) == 1 and len(refusals) == 99
    winner = winners[0].request.assignee
    assert {r.code for r in refusals} == {"taken"}
    assert {r.request.assignee.name for r in refusals} == {winner.name}   # each is told who has it
    stored = await book.get("r1")
    assert stored.status == "accepted" and stored.assignee == winner
    assert [o.outcome for o in stored.offers] == ["accepted"]
