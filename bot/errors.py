"""The one error handler: log the traceback under a short code, tell the user in German, leak nothing."""

from __future__ import annotations

import logging
import uuid

from botbuilder.core import InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.activity import activity_of
from cards.render import CARD_CONTENT_TYPE, CardRenderer
from dialogs.context import Message

log = logging.getLogger("lotsenbot.errors")


def correlation_id() -> str:
    return uuid.uuid4().hex[:8]


class ErrorReporter:
    """Set as the adapter's `on_turn_error`; also used by the HTTP edge for failures outside a turn."""

    def __init__(self, cards: CardRenderer) -> None:
        self._cards = cards

    async def on_turn_error(self, context: TurnContext, error: Exception) -> None:
        """Log with a correlation id, then tell the user (a card, or the invoke's answer)."""
        code = correlation_id()
        activity = context.activity
        log.error("turn failed", exc_info=(type(error), error, error.__traceback__), extra={
            "correlation_id": code, "activity_type": activity.type,
            "conversation_id": getattr(activity.conversation, "id", None)})
        card = self._cards.render("error", code=code)
        try:
            if activity.type == ActivityTypes.invoke:
                body = {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": card}
                await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                                     value=InvokeResponse(status=200, body=body)))
            else:
                await context.send_activity(activity_of(Message(card=card, summary="Fehler")))
        except Exception:  # the channel itself may be what failed; the log line above has the cause
            log.warning("could not tell the user about an error", extra={"correlation_id": code})
