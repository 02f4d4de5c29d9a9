"""Translation between botbuilder's Activity and our plain types. Payloads are parsed once, here."""

from __future__ import annotations

from typing import Any

from botbuilder.core import TurnContext
from botbuilder.schema import Activity, ActivityTypes, Attachment

from cards.render import attachment
from dialogs.context import Message, Turn, User
from storage.conversations import ConversationRecord

_SCOPES = {"personal": "personal", "channel": "channel", "groupchat": "groupChat"}
MAX_TEXT = 5000  # longer pastes are cut here; the knowledge engine also caps its input


def tenant_of(activity: Activity) -> str:
    """The tenant id. botbuilder maps `tenantID`, Teams sends `tenantId`, so read channelData first."""
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    tenant = data.get("tenant") if isinstance(data.get("tenant"), dict) else {}
    return str(tenant.get("id") or getattr(activity.conversation, "tenant_id", None) or "")


def scope_of(activity: Activity) -> str:
    kind = (getattr(activity.conversation, "conversation_type", None) or "personal").lower()
    return _SCOPES.get(kind, "personal")


def record_of(activity: Activity) -> ConversationRecord:
    """The address-book entry for the conversation this activity came from."""
    scope = scope_of(activity)
    user = activity.from_property
    data = activity.channel_data if isinstance(activity.channel_data, dict) else {}
    team = data.get("team") if isinstance(data.get("team"), dict) else {}
    personal = scope == "personal" and user is not None
    return ConversationRecord(
        conversation_id=activity.conversation.id,
        service_url=activity.service_url,
        tenant_id=tenant_of(activity),
        scope=scope,  # type: ignore[arg-type]
        bot_id=activity.recipient.id if activity.recipient else "",
        bot_name=(activity.recipient.name or "") if activity.recipient else "",
        channel_id=activity.channel_id or "msteams",
        user_id=user.id if personal else "",
        user_aad_id=(user.aad_object_id or "") if personal else "",
        user_name=(user.name or "") if personal else "",
        team_id=str(team.get("id") or ""),
    )


def turn_of(context: TurnContext, verb: str = "", data: dict[str, Any] | None = None) -> Turn:
    """Our Turn for a message or card action; the bot's @mention is removed from the text."""
    activity = context.activity
    text = ""
    if activity.type == ActivityTypes.message and activity.text:
        text = TurnContext.remove_recipient_mention(activity) or ""
        text = " ".join(text.replace("&nbsp;", " ").split())[:MAX_TEXT]
    user = activity.from_property
    return Turn(
        user=User(id=user.id if user else "", aad_object_id=(user.aad_object_id or "") if user else "",
                  name=(user.name or "") if user else ""),
        conversation_id=activity.conversation.id,
        conversation_type=scope_of(activity),  # type: ignore[arg-type]
        tenant_id=tenant_of(activity),
        text=text,
        verb=verb,
        data=data or {},
        card_activity_id=activity.reply_to_id or "",
        locale=activity.locale or "de-DE",
    )


def submitted_action(activity: Activity) -> tuple[str, dict[str, Any]] | None:
    """(verb, data) of an Action.Submit click, which Teams delivers as a message with a value."""
    value = activity.value
    if activity.type != ActivityTypes.message or not isinstance(value, dict):
        return None
    verb = value.get("verb")
    if not isinstance(verb, str) or not verb:
        return "", value  # a value without a verb: a card we do not know
    return verb, {k: v for k, v in value.items() if k != "verb"}


def executed_action(activity: Activity) -> tuple[str, dict[str, Any]]:
    """(verb, data) of an Action.Execute invoke (`adaptiveCard/action`)."""
    value = activity.value if isinstance(activity.value, dict) else {}
    action = value.get("action") if isinstance(value.get("action"), dict) else {}
    data = action.get("data") if isinstance(action.get("data"), dict) else {}
    verb = action.get("verb") if isinstance(action.get("verb"), str) else ""
    return verb, {k: v for k, v in data.items() if k != "verb"}


def activity_of(message: Message) -> Activity:
    """The outgoing message activity for one of our Messages."""
    reply = Activity(type=ActivityTypes.message, text=message.text or None)
    if message.card is not None:
        reply.attachments = [Attachment(**_snake(attachment(message.card)))]
    if message.summary:
        reply.summary = message.summary
    return reply


def _snake(att: dict[str, Any]) -> dict[str, Any]:
    return {"content_type": att["contentType"], "content": att["content"]}
