"""The bot: turns Teams activities into Turns, runs the router, sends what the handlers return."""

from __future__ import annotations

import logging
from typing import Callable

from botbuilder.core import Bot, InvokeResponse, TurnContext
from botbuilder.schema import Activity, ActivityTypes

from bot.activity import activity_of, executed_action, record_of, submitted_action, turn_of
from cards.render import CARD_CONTENT_TYPE
from dialogs.context import Message, Outcome
from dialogs.router import Router
from storage.conversations import ConversationBook

log = logging.getLogger(__name__)

WelcomeFactory = Callable[[], Message]
CARD_ACTION_INVOKE = "adaptiveCard/action"


class LotsenBot(Bot):
    """Dispatches by activity type; everything conversational lives in dialogs/."""

    def __init__(self, router: Router, book: ConversationBook, welcome: WelcomeFactory) -> None:
        self._router = router
        self._book = book
        self._welcome = welcome

    async def on_turn(self, context: TurnContext) -> None:
        """Entry point for every activity the adapter accepted."""
        activity = context.activity
        kind = activity.type
        if kind == ActivityTypes.message:
            await self._book.remember(record_of(activity))
            await self._on_message(context)
        elif kind == ActivityTypes.invoke:
            await self._on_invoke(context)
        elif kind == ActivityTypes.conversation_update:
            await self._on_conversation_update(context)
        elif kind == ActivityTypes.installation_update:
            await self._on_installation_update(context)
        else:
            log.debug("activity ignored", extra={"activity_type": kind})

    async def _on_message(self, context: TurnContext) -> None:
        activity = context.activity
        action = submitted_action(activity)
        if action is not None:
            verb, data = action
            outcome = await self._router.dispatch(turn_of(context, verb or "_unknown", data))
            if outcome.card_update is not None and activity.reply_to_id:
                update = activity_of(Message(card=outcome.card_update))
                update.id = activity.reply_to_id
                await context.update_activity(update)
        else:
            outcome = await self._router.dispatch(turn_of(context))
        await self._send(context, outcome)

    async def _on_invoke(self, context: TurnContext) -> None:
        if context.activity.name != CARD_ACTION_INVOKE:
            await _invoke_reply(context, 200, {})
            return
        verb, data = executed_action(context.activity)
        await self._book.remember(record_of(context.activity))
        outcome = await self._router.dispatch(turn_of(context, verb or "_unknown", data))
        await self._send(context, outcome)
        if outcome.card_update is not None:
            body = {"statusCode": 200, "type": CARD_CONTENT_TYPE, "value": outcome.card_update}
        else:
            body = {"statusCode": 200, "type": "application/vnd.microsoft.activity.message", "value": "OK"}
        await _invoke_reply(context, 200, body)

    async def _on_conversation_update(self, context: TurnContext) -> None:
        activity = context.activity
        bot_id = activity.recipient.id if activity.recipient else None
        added = [m.id for m in activity.members_added or []]
        removed = [m.id for m in activity.members_removed or []]
        if bot_id in removed:
            await self._book.set_status(activity.conversation.id, "inactive")
        elif bot_id in added:
            await self._book.remember(record_of(activity))
            await self._send(context, Outcome.say(self._welcome()))

    async def _on_installation_update(self, context: TurnContext) -> None:
        action = (context.activity.action or "").lower()
        if action.startswith("remove"):
            await self._book.set_status(context.activity.conversation.id, "inactive")
        elif action.startswith("add"):
            await self._book.remember(record_of(context.activity))

    @staticmethod
    async def _send(context: TurnContext, outcome: Outcome) -> None:
        if outcome.messages:
            await context.send_activities([activity_of(m) for m in outcome.messages])


async def _invoke_reply(context: TurnContext, status: int, body: object) -> None:
    await context.send_activity(Activity(type=ActivityTypes.invoke_response,
                                         value=InvokeResponse(status=status, body=body)))

