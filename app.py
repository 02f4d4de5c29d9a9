"""Lotsenbot: the one wiring point. `create_app(settings)` builds everything; `python app.py` runs it."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import AsyncIterator

from aiohttp import web

from settings import Settings, SettingsError
from storage.base import CONTAINERS
from storage.factory import open_store

log = logging.getLogger("lotsenbot")
# Tests and benchmarks look inside through this key; request handlers never read it.
PARTS = web.AppKey("lotsenbot_parts", dict)


def create_app(settings: Settings) -> web.Application:
    """Build storage, services, dialogs and the bot, and connect them through their constructors."""
    # Imported here, not at module level, so `import app` (settings checks, tools) stays cheap.
    from bot.adapter import build_adapter
    from bot.auth import BotFrameworkTokenValidator
    from bot.connector import ConnectorClient
    from bot.endpoint import MessagesEndpoint
    from bot.errors import ErrorReporter
    from bot.proactive import ProactiveSender
    from bot.teams_bot import LotsenBot
    from bot.throttle import RateLimiter
    from bot.tokens import BotCredentialsFactory
    from entra.tokens import MsalTokenProvider
    from cards.render import CardRenderer
    from dialogs.basics import Basics
    from dialogs.knowledge import KnowledgeDialog
    from dialogs.routes import Dialogs, build_router
    from knowledge.articles import read_site
    from knowledge.feedback import FeedbackLog
    from knowledge.service import KnowledgeService
    from storage.conversations import ConversationBook

    app = web.Application(client_max_size=settings.max_body_bytes)
    services: list = []  # objects with async start()/stop(), started in this order after the store opens

    # ---- platform: store, cards, address book, outbound messaging ----
    store = open_store(settings)
    cards = CardRenderer()
    book = ConversationBook(store.bind("conversations"))
    tokens = None if settings.local else MsalTokenProvider(settings)
    connector = ConnectorClient(tokens)
    # Teams addresses the bot as 28:<app id>; local mode has no app id, so it gets a stable stand-in.
    sender = ProactiveSender(connector, book, RateLimiter(settings.send_rate_per_second),
                             bot_id=f"28:{settings.app_id or 'lotsenbot-local'}", bot_name=settings.bot_name,
                             max_attempts=settings.send_max_attempts, service_url_for=book.latest_service_url)
    services.append(connector)
    site = read_site(settings.site_file)

    # ---- knowledge base (issue 3) ----
    knowledge = KnowledgeService(settings.knowledge_dir, settings.site_file)
    feedback = FeedbackLog(store.bind("feedback"), store.bind("feedback"),
                           retention_days=settings.question_retention_days)
    services.append(knowledge)
    answers = KnowledgeDialog(knowledge, feedback, cards, site)

    # ---- pilot routing (issue 4) ----

    # ---- announcements and events (issue 5) ----

    # ---- routing table, bot, HTTP edge ----
    router = None  # set below; help reads the routing table it belongs to
    basics = Basics(cards, settings.bot_name, commands=lambda: router.commands)
    router = build_router(Dialogs(basics=basics, knowledge=answers))
    errors = ErrorReporter(cards)
    adapter = build_adapter(settings, BotCredentialsFactory(settings.app_id, tokens), errors, connector)
    validator = None if settings.local else BotFrameworkTokenValidator(
        settings.app_id, settings.openid_metadata_url, settings.token_issuers, ca_bundle=settings.auth_ca_bundle)
    if validator is not None:
        services.insert(0, validator)
    bot = LotsenBot(router, book, welcome=basics.welcome_message)
    endpoint = MessagesEndpoint(adapter, bot, validator=validator, tokens=tokens,
                                max_body_bytes=settings.max_body_bytes, allowed_tenants=settings.allowed_tenants)
    app.router.add_post("/api/messages", endpoint.handle)

    async def healthz(_: web.Request) -> web.Response:
        """Alive: the process answers."""
        return web.json_response({"status": "ok"})

    async def readyz(_: web.Request) -> web.Response:
        """Ready: the store answers."""
        ready = await store.ping()
        return web.json_response({"status": "ok" if ready else "storage unavailable"}, status=200 if ready else 503)

    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)

    async def lifecycle(_: web.Application) -> AsyncIterator[None]:
        await store.open(CONTAINERS)
        for service in services:
            await service.start()
        log.info("lotsenbot ready", extra={"mode": "local" if settings.local else "production",
                                           "storage": settings.storage, "port": settings.port})
        yield
        for service in reversed(services):
            await service.stop()
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    app[PARTS] = {"store": store, "sender": sender, "book": book, "knowledge": knowledge, "tokens": tokens}
    return app


class JsonLogFormatter(logging.Formatter):
    """One JSON object per line; `extra=` fields become keys. Message text of users is never logged at INFO."""

    _STANDARD = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}

    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created)) + f".{int(record.msecs):03d}Z",
                 "level": record.levelname, "logger": record.name, "msg": record.getMessage()}
        entry.update({k: v for k, v in vars(record).items() if k not in self._STANDARD and not k.startswith("_")})
        if record.exc_info:
            entry["traceback"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure_logging(level: str) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonLogFormatter())
    logging.basicConfig(level=level, handlers=[handler], force=True)
    for noisy in ("aiohttp.access", "azure", "msal", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.getLevelName(level)))


def main() -> int:
    try:
        settings = Settings.from_env()
    except SettingsError as exc:
        print(f"Lotsenbot startet nicht: {exc}", file=sys.stderr)
        return 2
    configure_logging(settings.log_level)
    web.run_app(create_app(settings), host=settings.host, port=settings.port, print=None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
