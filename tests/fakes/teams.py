"""Activities shaped as Microsoft Teams sends them to a bot (the Bot Connector wire format)."""

from __future__ import annotations

import itertools
from typing import Any

TENANT = "00000000-0000-4000-8000-000000000001"
BOT = {"id": "28:lotsenbot-test", "name": "Lotsenbot"}
_ids = itertools.count(1)


def user(n: int = 1) -> dict[str, str]:
    return {"id": f"29:user-{n}", "name": f"Testperson {n}", "aadObjectId": f"aad-{n:04d}"}


def _base(service_url: str, kind: str, *, sender: dict | None, conversation_id: str | None,
          conversation_type: str, tenant: str) -> dict[str, Any]:
    sender = sender or user(1)
    conversation = {"id": conversation_id or f"a:personal-{sender['id']}", "conversationType": conversation_type,
                    "tenantId": tenant}
    if conversation_type != "personal":
        conversation["isGroup"] = True
    return {
        "type": kind, "id": f"f:{next(_ids)}", "timestamp": "2026-11-21T09:00:00.000Z",
        "serviceUrl": service_url, "channelId": "msteams", "from": sender, "recipient": dict(BOT),
        "conversation": conversation, "locale": "de-DE",
        "channelData": {"tenant": {"id": tenant}},
    }


def message(service_url: str, text: str, *, sender: dict | None = None, conversation_id: str | None = None,
            conversation_type: str = "personal", tenant: str = TENANT, mention: bool = False,
            value: dict | None = None, reply_to_id: str | None = None) -> dict[str, Any]:
    """A chat message; with `mention`, prefixed by the bot's @mention as in channels."""
    activity = _base(service_url, "message", sender=sender, conversation_id=conversation_id,
                     conversation_type=conversation_type, tenant=tenant)
    activity["textFormat"] = "plain"
    if mention:
        tag = f"<at>{BOT['name']}</at>"
        text = f"{tag} {text}"
        activity["entities"] = [{"type": "mention", "text": tag, "mentioned": dict(BOT)}]
    activity["text"] = text
    if value is not None:
        activity["value"] = value
        if not text:
            del activity["text"]
    if reply_to_id:
        activity["replyToId"] = reply_to_id
    return activity


def card_submit(service_url: str, verb: str, data: dict | None = None, *, reply_to_id: str = "activity-card",
                **kwargs: Any) -> dict[str, Any]:
    """An Action.Submit click: a message without text whose value holds the card's data."""
    return message(service_url, "", value={"verb": verb, **(data or {})}, reply_to_id=reply_to_id, **kwargs)


def card_execute(service_url: str, verb: str, data: dict | None = None, **kwargs: Any) -> dict[str, Any]:
    """An Action.Execute click (Universal Actions): invoke `adaptiveCard/action`."""
    activity = _base(service_url, "invoke", sender=kwargs.get("sender"), conversation_id=kwargs.get("conversation_id"),
                     conversation_type=kwargs.get("conversation_type", "personal"), tenant=kwargs.get("tenant", TENANT))
    activity["name"] = "adaptiveCard/action"
    activity["value"] = {"action": {"type": "Action.Execute", "verb": verb, "data": data or {}}, "trigger": "manual"}
    activity["replyToId"] = "activity-card"
    return activity


def bot_added(service_url: str, *, conversation_type: str = "personal", conversation_id: str | None = None,
              tenant: str = TENANT, team_id: str = "") -> dict[str, Any]:
    """conversationUpdate with the bot among membersAdded: what Teams sends when the app is installed."""
    activity = _base(service_url, "conversationUpdate", sender=user(1), conversation_id=conversation_id,
                     conversation_type=conversation_type, tenant=tenant)
    activity["membersAdded"] = [dict(BOT)]
    if team_id:
        activity["channelData"]["team"] = {"id": team_id}
        activity["channelData"]["eventType"] = "teamMemberAdded"
    return activity


def installation(service_url: str, action: str, **kwargs: Any) -> dict[str, Any]:
    """installationUpdate: action "add" or "remove"."""
    activity = _base(service_url, "installationUpdate", sender=user(1), conversation_id=kwargs.get("conversation_id"),
                     conversation_type=kwargs.get("conversation_type", "personal"), tenant=kwargs.get("tenant", TENANT))
    activity["action"] = action
    return activity
