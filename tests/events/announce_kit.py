"""What the announcement tests share: installing the bot for people and channels, a valid form, card helpers."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from events.api import EVENT_PARTS
from events.models import BERLIN
from tests.cards.parts import actions_of
from tests.fakes import teams
from tests.fakes.harness import BotHarness

AUTHOR = teams.user(1)


def personal_id(n: int) -> str:
    return f"a:personal-29:user-{n}"


async def install(bot: BotHarness, n: int) -> None:
    """User n installs the app personally (Teams sends installationUpdate from that user)."""
    activity = teams.installation(bot.url, "add", conversation_id=personal_id(n))
    activity["from"] = teams.user(n)
    status, _ = await bot.post(activity)
    assert status in (200, 201)


async def install_channel(bot: BotHarness, conversation_id: str, team_id: str = "team-1") -> None:
    status, _ = await bot.post(teams.bot_added(bot.url, conversation_type="channel", conversation_id=conversation_id,
                                               team_id=team_id))
    assert status in (200, 201)


def form(days: int = 10, **changes: Any) -> dict[str, Any]:
    """Valid form inputs for an event `days` from today (Europe/Berlin), as a card submits them."""
    day = dt.datetime.now(BERLIN).date() + dt.timedelta(days=days)
    values: dict[str, Any] = {"title": "Vernetzungstreffen der Digitallots*innen", "date": day.isoformat(),
                              "start": "14:00", "end": "16:00", "place": "Rathaus, Raum 101",
                              "link": "https://teams.microsoft.com/l/meetup-join/abc",
                              "description": "Austausch, Kaffee und neue Werkzeuge.", "capacity": "2",
                              "deadline_date": "", "deadline_time": "", "users": "all", "departments": "",
                              "channels": ""}
    values.update(changes)
    return values




def action(card: dict, verb: str, **data: Any) -> dict:
    return next(a for a in actions_of(card) if a.get("verb") == verb
                and all(a.get("data", {}).get(k) == v for k, v in data.items()))


def is_event_card(card: dict | None, event_id: str) -> bool:
    return bool(card) and card.get("refresh", {}).get("action", {}).get("data", {}).get("event") == event_id


def parts(bot: BotHarness) -> dict[str, Any]:
    return bot.app[EVENT_PARTS]


async def execute(bot: BotHarness, verb: str, data: dict[str, Any], n: int = 1, **kwargs: Any) -> tuple[int, Any]:
    """An Action.Execute click by user n in their personal chat (or where kwargs say)."""
    kwargs.setdefault("conversation_id", personal_id(n))
    kwargs.setdefault("sender", teams.user(n))
    return await bot.post(teams.card_execute(bot.url, verb, data, **kwargs))


def card_from(body: Any) -> dict:
    assert body and body.get("statusCode") == 200 and body.get("type") == "application/vnd.microsoft.card.adaptive", body
    return body["value"]


def dump(card: Any) -> str:
    return json.dumps(card, ensure_ascii=False)
