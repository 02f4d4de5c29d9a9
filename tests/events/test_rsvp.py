"""RSVPs race-free on both stores: concurrent clicks never lose a vote or give a seat twice."""

from __future__ import annotations

import asyncio

import pytest

from events.rsvp import Attendee, RsvpBook, RsvpBusy


def person(n: int) -> Attendee:
    return Attendee(key=f"aad-{n:04d}", user_id=f"29:user-{n}", aad_id=f"aad-{n:04d}", name=f"Person {n}")


class Ticks:
    """A clock that advances with every reading, so join times are distinct and ordered."""

    def __init__(self) -> None:
        self.now = 1_900_000_000.0

    def __call__(self) -> float:
        self.now += 1
        return self.now


@pytest.fixture
def book(store):
    return RsvpBook(store.container("items"), clock=Ticks())


async def test_fifty_concurrent_joins_fill_ten_places_and_forty_wait(book):
    results = await asyncio.gather(*(book.join("ev1", person(n), 10) for n in range(50)))
    roster = await book.roster("ev1")
    assert len(roster.participants) == 10 and len(roster.waiting) == 40
    everyone = [a.key for a in roster.participants + roster.waiting]
    assert sorted(everyone) == sorted(person(n).key for n in range(50)), "no vote lost, nobody twice"
    assert sum(r.status == "participant" for r in results) == 10
    assert sorted(r.position for r in results if r.status == "waiting") == list(range(1, 41))
    for n, r in enumerate(results):   # what each person was told is what the roster says now
        assert roster.status_of(person(n).key) == (r.status, r.position)


async def test_concurrent_cancellations_promote_exactly_as_many_waiting_people(book):
    for n in range(15):
        await book.join("ev2", person(n), 10)
    leaving = [person(n) for n in range(0, 10, 2)]          # five participants cancel at once
    results = await asyncio.gather(*(book.leave("ev2", p, 10) for p in leaving))
    roster = await book.roster("ev2")
    assert len(roster.participants) == 10 and roster.waiting == ()
    assert {a.key for a in roster.participants} == {person(n).key for n in (1, 3, 5, 7, 9, 10, 11, 12, 13, 14)}
    promoted = [a.key for r in results for a in r.promoted]
    assert sorted(promoted) == sorted(person(n).key for n in range(10, 15)), "each promotion reported once"
    assert roster.declined == 5


async def test_mixed_concurrent_joins_and_leaves_keep_the_invariants(book):
    for n in range(5):
        await book.join("ev3", person(n), 5)
    ops = [book.join("ev3", person(n), 5) for n in range(5, 25)] + [book.leave("ev3", person(n), 5) for n in range(5)]
    await asyncio.gather(*ops)
    roster = await book.roster("ev3")
    assert len(roster.participants) == 5 and len(roster.waiting) == 15
    assert {a.key for a in roster.participants + roster.waiting} == {person(n).key for n in range(5, 25)}


async def test_repeated_click_changes_nothing_and_waiting_order_is_first_come(book):
    first = await book.join("ev4", person(1), 1)
    again = await book.join("ev4", person(1), 1)
    assert first.status == again.status == "participant" and first.changed and not again.changed
    assert (await book.join("ev4", person(2), 1)).position == 1
    assert (await book.join("ev4", person(3), 1)).position == 2
    left = await book.leave("ev4", person(1), 1)
    assert left.status == "none" and [a.key for a in left.promoted] == [person(2).key]
    assert (await book.roster("ev4")).status_of(person(3).key) == ("waiting", 1)


async def test_more_places_after_an_edit_move_waiting_people_up_and_fewer_move_nobody_down(book):
    for n in range(6):
        await book.join("ev5", person(n), 2)
    raised = await book.set_capacity("ev5", 4)
    assert [a.key for a in raised.promoted] == [person(2).key, person(3).key]
    lowered = await book.set_capacity("ev5", 1)
    assert len(lowered.roster.participants) == 4 and lowered.promoted == ()


async def test_unlimited_events_seat_everyone(book):
    await asyncio.gather(*(book.join("ev6", person(n), None) for n in range(12)))
    roster = await book.roster("ev6")
    assert len(roster.participants) == 12 and roster.free is None


async def test_a_hopelessly_contended_roster_says_busy_instead_of_losing_the_vote(store):
    async def no_wait(_: float) -> None:
        return None

    book = RsvpBook(store.container("items"), attempts=1, sleep=no_wait)
    results = await asyncio.gather(*(book.join("ev7", person(n), 3) for n in range(6)), return_exceptions=True)
    busy = [r for r in results if isinstance(r, RsvpBusy)]
    joined = [r for r in results if not isinstance(r, Exception)]
    roster = await book.roster("ev7")
    assert len(roster.participants) + len(roster.waiting) == len(joined), "every success is stored, every failure said"
    assert len(busy) + len(joined) == 6
