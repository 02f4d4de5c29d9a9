"""Reading a rendered Adaptive Card in tests: its texts and its actions, wherever they are nested."""

from __future__ import annotations

from typing import Any


def strings(node: Any) -> list[str]:
    """Every string value in a JSON tree."""
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in strings(v)]
    return []


def text_of(card: dict | None) -> str:
    """All string values of a card, joined: what a reader could see (plus ids and verbs)."""
    return " ".join(strings(card or {}))


def actions_of(card: dict) -> list[dict]:
    """Every button on a card: top level, in ActionSets and containers, and inside Action.ShowCard cards.
    The card's `refresh` action is not a button: Teams runs it by itself, so it is left out."""
    found: list[dict] = []
    stack: list[Any] = [card]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if node.get("type", "").startswith("Action."):
                found.append(node)
            stack.extend(v for k, v in node.items() if k != "refresh")
        elif isinstance(node, list):
            stack.extend(node)
    return found
