"""The routing table: exact phrases and declared verbs, never substring matches."""

from __future__ import annotations

import pytest

from dialogs.context import Outcome, Turn, User
from dialogs.router import Command, Router, normalise


def turn(text: str = "", verb: str = "", data: dict | None = None) -> Turn:
    return Turn(user=User("29:u"), conversation_id="c", conversation_type="personal", text=text, verb=verb,
                data=data or {})


def recorder(name: str, calls: list):
    async def handler(t: Turn) -> Outcome:
        """Records that it ran."""
        calls.append((name, t.args, t.verb))
        return Outcome()
    return handler


@pytest.fixture
def routed():
    calls: list = []
    router = Router(
        [Command(("hilfe", "help"), recorder("help", calls), "Hilfe"),
         Command(("abwesend bis",), recorder("away", calls), "Abwesend", takes_args=True),
         Command(("lots*in fragen", "lotse fragen"), recorder("pilot", calls), "Lotsin")],
        {"feedback": recorder("feedback", calls)},
        on_text=recorder("question", calls), on_unknown_action=recorder("unknown", calls))
    return router, calls


@pytest.mark.parametrize("text, expected", [
    ("hilfe", ("help", "")), ("  HILFE! ", ("help", "")), ("help?", ("help", "")),
    ("ich brauche hilfe beim teilen", ("question", "")),   # contains the word, is not the command
    ("hilfe mir bitte", ("question", "")),                  # hilfe takes no arguments
    ("abwesend bis 12.12.", ("away", "12.12.")),
    ("Abwesend bis Freitag, 12. Dezember", ("away", "Freitag, 12. Dezember")),
    ("abwesend", ("question", "")),
    ("Lots*in fragen", ("pilot", "")), ("lotsin fragen", ("pilot", "")), ("Lots:in fragen", ("pilot", "")),
    ("lotse fragen", ("pilot", "")),
])
async def test_text_routes(routed, text, expected):
    router, calls = routed
    await router.dispatch(turn(text))
    assert calls == [(expected[0], expected[1], "")]


async def test_card_verbs_route_by_table_and_unknown_verbs_get_the_fallback(routed):
    router, calls = routed
    await router.dispatch(turn(verb="feedback"))
    await router.dispatch(turn(verb="hilfe"))  # a command phrase is not a card verb unless declared
    assert [c[0] for c in calls] == ["feedback", "unknown"]


def test_a_phrase_routed_twice_is_rejected():
    async def h(t):
        """Does nothing."""
        return Outcome()
    with pytest.raises(ValueError):
        Router([Command(("hilfe",), h, "a"), Command(("Hilfe!",), h, "b")], {}, on_text=h, on_unknown_action=h)


def test_normalise():
    assert normalise("  Digitallots*innen  Fragen? ") == "digitallotsinnen fragen"
    assert normalise("„Hilfe“") == "hilfe"
