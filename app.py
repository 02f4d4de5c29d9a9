"""Lotsenbot: the one wiring point. `create_app(settings)` builds everything; `python app.py` runs it."""

from __future__ import annotations

import gc
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
    from cards.render import CardRenderer
    from dialogs.announcements import AnnouncementsDialog
    from dialogs.basics import Basics
    from dialogs.escalation import EscalationDialog
    from dialogs.escalation_cards import EscalationCards
    from dialogs.escalation_flow import EscalationFlow, Policy
    from dialogs.events import EventsDialog
    from dialogs.knowledge import KnowledgeDialog
    from dialogs.pilot_admin import PilotAdmin
    from dialogs.pilot_desk import PilotDesk
    from dialogs.routes import Dialogs, build_router
    from entra.jwt import JwtValidator, OpenIdKeys
    from entra.tokens import MsalTokenProvider
    from events.announcements import AnnouncementStore
    from events.api import EVENT_PARTS, AnnouncementsApi, ApiAuth
    from events.audience import AudienceResolver, pilots_of
    from events.authors import AuthorPolicy
    from events.broadcast import BroadcastEngine
    from events.cards import EventCards, EventLinks
    from events.clock import Clock
    from events.publishing import EventPeople, ProgressReporter, Publisher
    from events.reminders import Reminders
    from events.rsvp import RsvpBook
    from events.schedule import Scheduler
    from knowledge.articles import read_site
    from knowledge.feedback import FeedbackLog
    from knowledge.service import KnowledgeService
    from routing.hours import BusinessHours
    from routing.parts import ROUTING_PARTS
    from routing.people import Departments, GraphPeople
    from routing.pilots import PilotDirectory
    from routing.request_book import RequestBook
    from routing.sweeper import Sweeper
    from storage.conversations import ConversationBook
    from storage.lease import Leases

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
    knowledge = KnowledgeService(settings.knowledge_dir, settings.site_file, settings.thresholds)
    feedback = FeedbackLog(store.bind("feedback"), store.bind("feedback"),
                           retention_days=settings.question_retention_days)
    services.append(knowledge)
    answers = KnowledgeDialog(knowledge, feedback, cards)

    # ---- pilot routing (issue 4) ----
    business_hours = BusinessHours.parse(settings.business_hours, settings.business_timezone)
    pilot_directory = PilotDirectory(store.bind("pilots"), seed_file=settings.pilots_file)
    help_requests = RequestBook(store.bind("requests"), retention_days=settings.request_retention_days)
    graph = None if tokens is None else GraphPeople(tokens, settings.graph_base_url)  # no Graph in local mode
    departments = Departments(store.bind("users"), graph)
    escalation_flow = EscalationFlow(
        help_requests, pilot_directory, sender, EscalationCards(cards, business_hours, site), business_hours,
        Policy(settings.escalation_timeout_hours, settings.escalation_max_candidates, settings.pilots_channel_id,
               settings.pilots_team_id), book)
    leases = Leases(store.bind("leases"))
    sweeper = Sweeper(help_requests, leases, escalation_flow)
    escalation = EscalationDialog(escalation_flow, departments, knowledge.tags_for)
    pilot_desk = PilotDesk(escalation_flow, store.bind("feedback"), retention_days=settings.question_retention_days,
                           cdo_office=str(site.get("cdo_office_name") or ""))
    # Local mode has no sign-in at all; with no allow-list there, whoever tries it locally may maintain pilots.
    pilot_admin = PilotAdmin(escalation_flow, settings.admin_aad_ids, graph=graph,
                             everyone_is_admin=settings.local and not settings.admin_aad_ids)
    services += [pilot_directory, *([graph] if graph else []), sweeper]
    app[ROUTING_PARTS] = {"directory": pilot_directory, "requests": help_requests, "flow": escalation_flow,
                          "sweeper": sweeper, "departments": departments}

    # ---- announcements and events (issue 5) ----
    clock = Clock()
    instance_id = settings.instance_id
    base_url = settings.public_base_url or (f"http://{settings.host}:{settings.port}" if settings.local else "")
    event_cards = EventCards(cards, EventLinks(base_url))
    announcements = AnnouncementStore(store.bind("announcements"))
    rsvps = RsvpBook(store.bind("rsvps"), clock=clock)
    reporter = ProgressReporter(announcements, sender, event_cards)
    engine = BroadcastEngine(store.bind("jobs"), store.bind("deliveries"), leases, sender, instance_id=instance_id,
                             clock=clock, on_progress=reporter.on_progress)
    people = EventPeople(announcements, rsvps, book, event_cards)
    reminders = Reminders(engine, people.participants, people.reminder, offsets=settings.event_reminders, clock=clock)
    audience = AudienceResolver(book, store.bind("users"), pilots_of(pilot_directory))  # the routing section's
    publisher = Publisher(announcements, rsvps, audience, engine, event_cards, sender, people, reminders, clock=clock)
    authors = AuthorPolicy(settings.announcement_authors, settings.announcement_author_role, store.bind("users"),
                           everyone=settings.local and not (settings.announcement_authors or
                                                            settings.announcement_author_role))
    announcing = AnnouncementsDialog(publisher, authors, event_cards)
    event_dialog = EventsDialog(publisher, authors, event_cards)
    api_auth = None
    if settings.api_audiences and settings.api_metadata_url and settings.api_issuers:
        api_keys = OpenIdKeys(settings.api_metadata_url, ca_bundle=settings.auth_ca_bundle)
        api_auth = ApiAuth(api_keys, JwtValidator(api_keys, audiences=settings.api_audiences,
                                                  issuers=settings.api_issuers), settings.announcements_api_role)
        services.append(api_auth)
    AnnouncementsApi(publisher, api_auth).add_routes(app)
    scheduler = Scheduler(publisher, leases, instance_id=instance_id, clock=clock)
    services += [engine, scheduler]
    app[EVENT_PARTS] = {"engine": engine, "publisher": publisher, "scheduler": scheduler, "clock": clock,
                        "rsvps": rsvps, "announcements": announcements}

    # ---- routing table, bot, HTTP edge ----
    router = None  # set below; help reads the routing table it belongs to
    basics = Basics(cards, settings.bot_name, commands=lambda: router.commands)
    router = build_router(Dialogs(basics=basics, knowledge=answers, announcements=announcing, events=event_dialog,
                                  escalation=escalation, pilot_desk=pilot_desk, pilot_admin=pilot_admin))
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
        # Start-up objects (SDK modules, index, templates) live as long as the process; freezing them
        # keeps full GC passes from walking them on every cycle (they caused the p99 in bench.turns).
        gc.collect()
        gc.freeze()
        log.info("lotsenbot ready", extra={"mode": "local" if settings.local else "production",
                                           "storage": settings.storage, "port": settings.port})
        yield
        for service in reversed(services):
            await service.stop()
        await store.close()

    app.cleanup_ctx.append(lifecycle)
    app[PARTS] = {"store": store, "sender": sender, "book": book, "knowledge": knowledge, "tokens": tokens,
                  "router": router}
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
