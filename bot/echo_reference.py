"""The classic botbuilder echo bot. It is ONLY the baseline for `python -m bench.turns` (docs/benchmarks.md).

Nothing in Lotsenbot uses it. It is the stock sample as Microsoft ships it, deliberately without our
endpoint, storage, routing or cards: an `ActivityHandler` that echoes the text, a
`CloudAdapter(ConfigurationBotFrameworkAuthentication(config))` with no app id (local mode: requests
without an Authorization header are not validated), and the stock route `adapter.process(request, bot)`.
The benchmark compares a Lotsenbot turn against a turn of this bot, so the SDK's own cost per turn
(activity (de)serialization, the connector client and its reply POST) is measured on the same machine.

It lives in bot/ because botbuilder may only be imported there.

    python -m bot.echo_reference --port 3979
"""

from __future__ import annotations

import argparse
import sys
from types import SimpleNamespace

from aiohttp import web
from botbuilder.core import ActivityHandler, MessageFactory, TurnContext
from botbuilder.integration.aiohttp import (
    CloudAdapter, ConfigurationBotFrameworkAuthentication, aiohttp_error_middleware,
)
from botbuilder.schema import ChannelAccount


class EchoBot(ActivityHandler):
    """Echoes every message as "Echo: <text>"; greets new members (the sample's behaviour)."""

    async def on_members_added_activity(self, members_added: list[ChannelAccount], turn_context: TurnContext):
        for member in members_added:
            if member.id != turn_context.activity.recipient.id:
                await turn_context.send_activity("Hello and welcome!")

    async def on_message_activity(self, turn_context: TurnContext):
        return await turn_context.send_activity(MessageFactory.text(f"Echo: {turn_context.activity.text}"))


def create_app() -> web.Application:
    """The sample's wiring: config without app id, CloudAdapter, stock `process` route."""
    config = SimpleNamespace(APP_ID="", APP_PASSWORD="", APP_TYPE="MultiTenant", APP_TENANTID="")
    adapter = CloudAdapter(ConfigurationBotFrameworkAuthentication(config))
    bot = EchoBot()

    async def messages(request: web.Request) -> web.Response:
        return await adapter.process(request, bot)

    app = web.Application(middlewares=[aiohttp_error_middleware])
    app.router.add_post("/api/messages", messages)
    return app


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="botbuilder echo sample (benchmark baseline only)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=3979)
    args = parser.parse_args(argv)
    web.run_app(create_app(), host=args.host, port=args.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
