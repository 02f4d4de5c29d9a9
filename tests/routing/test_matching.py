"""Matching rules, one test each: availability, department, topic, load, fairness, determinism, reasons."""

from __future__ import annotations

import datetime as dt
import itertools

from routing.matching import Need, Weights, rank, score, unavailable_because
from routing.pilots import Pilot, department_code, same_department

TODAY = dt.date(2026, 11, 24)


def pilot(key: str, *, department: str = "Amt 20 – Kämmerei", topics: tuple[str, ...] = (), capacity: int = 3,
          absent_until: str = "", active: bool = True, last: float = 0.0) -> Pilot:
    return Pilot(key=key, name=key.upper(), upn=f"{key}@beispielstadt.example", aad_id=f"aad-{key}",
                 department=department, topics=topics, capacity=capacity, absent_until=absent_until,
                 active=active, last_assigned_at=last)


def keys(pilots, need=Need(today=TODAY), loads=None) -> list[str]:
    return [c.pilot.key for c in rank(pilots, need, loads or {})]


def test_absent_pilots_are_skipped_until_and_including_their_last_day():
    away = pilot("a", absent_until="2026-11-24")
    back = pilot("b", absent_until="2026-11-23")
    assert keys([away, back]) == ["b"]
    assert unavailable_because(away, Need(today=TODAY), 0) == "abwesend bis 24.11."
    assert keys([away], Need(today=TODAY + dt.timedelta(days=1))) == ["a"]


def test_inactive_pilots_are_never_chosen():
    assert keys([pilot("a", active=False), pilot("b")]) == ["b"]


def test_pilots_at_capacity_are_skipped():
    full, free = pilot("a", capacity=2), pilot("b", capacity=2)
    assert keys([full, free], loads={"a": 2, "b": 1}) == ["b"]
    assert unavailable_because(full, Need(today=TODAY), 2) == "ausgelastet"


def test_excluded_pilots_who_already_had_the_request_are_skipped():
    assert keys([pilot("a"), pilot("b")], Need(today=TODAY, exclude=frozenset({"a"}))) == ["b"]


def test_same_department_is_preferred():
    mine = pilot("z", department="Amt 51 – Jugendamt")
    other = pilot("a", department="Amt 50 – Sozialamt")
    need = Need(department="Amt 51 – Jugendamt", today=TODAY)
    assert keys([other, mine], need) == ["z", "a"]
    assert "gleiches Amt" in score(mine, need, 0).reasons


def test_department_matches_by_number_or_by_name():
    assert department_code("Amt 51 – Jugendamt") == "51" and department_code("51") == "51"
    assert same_department("Amt 51 – Jugendamt", "Jugendamt (Amt 51)")
    assert same_department("Amt 51 – Jugendamt", "51")
    assert same_department("Amt 51 – Jugendamt", "jugendamt")
    assert not same_department("Amt 51 – Jugendamt", "Amt 50 – Sozialamt")
    assert not same_department("", "")


def test_topic_match_counts_and_the_main_topic_counts_most():
    main = pilot("z", topics=("whiteboard",))
    side = pilot("b", topics=("besprechung",))
    none = pilot("a")
    need = Need(topics=("whiteboard", "besprechung"), today=TODAY)
    assert keys([none, side, main], need) == ["z", "b", "a"]
    assert score(main, need, 0).reasons[0] == "Thema Whiteboard"


def test_lower_load_is_preferred():
    assert keys([pilot("a"), pilot("b")], loads={"a": 2, "b": 0}) == ["b", "a"]
    assert score(pilot("a"), Need(today=TODAY), 1).reasons[-1] == "1 offene Anfrage"


def test_fairness_least_recently_assigned_wins_among_equals():
    assert keys([pilot("a", last=200.0), pilot("b", last=100.0), pilot("c", last=0.0)]) == ["c", "b", "a"]


def test_order_is_deterministic_whatever_the_input_order():
    pilots = [pilot("a"), pilot("b", topics=("chat",)), pilot("c", department="Amt 10"), pilot("d")]
    need = Need(topics=("chat",), department="Amt 10", today=TODAY)
    orders = {tuple(keys(list(p), need, {"d": 1})) for p in itertools.permutations(pilots)}
    assert orders == {("c", "b", "a", "d")}


def test_reasons_read_like_the_card():
    anna = pilot("anna", department="Amt 51 – Jugendamt", topics=("whiteboard", "teams"))
    need = Need(topics=("whiteboard",), department="Amt 51", today=TODAY)
    assert score(anna, need, 1).explanation == "gleiches Amt · Thema Whiteboard · 1 offene Anfrage"
    need = Need(topics=("whiteboard", "teams"), today=TODAY)
    assert score(anna, need, 0).explanation == "Themen Whiteboard, Teams · keine offene Anfrage"


def test_topic_can_outweigh_department_when_the_colleague_is_busy():
    colleague = pilot("a", department="Amt 51", topics=(), capacity=5)
    expert = pilot("b", department="Amt 20", topics=("whiteboard",))
    need = Need(topics=("whiteboard",), department="Amt 51", today=TODAY)
    assert keys([colleague, expert], need, {"a": 0}) == ["a", "b"]     # 10 > 6
    assert keys([colleague, expert], need, {"a": 3}) == ["b", "a"]     # 10 - 3 × 2 < 6


def test_weights_are_configurable():
    need = Need(topics=("whiteboard",), department="Amt 51", today=TODAY)
    topic_first = Weights(same_department=1.0)
    assert [c.pilot.key for c in rank([pilot("a", department="Amt 51"), pilot("b", topics=("whiteboard",))],
                                      need, {}, topic_first)] == ["b", "a"]
