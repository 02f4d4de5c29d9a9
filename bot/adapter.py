"""The botbuilder adapter, built from settings with our credentials factory and error handler."""

from __future__ import annotations

from types import SimpleNamespace

from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botframework.connector.auth import BotFrameworkAuthentication, ServiceClientCredentialsFactory

from bot.errors import ErrorReporter
from settings import Settings


def build_adapter(settings: Settings, credentials: ServiceClientCredentialsFactory,
                  errors: ErrorReporter) -> tuple[CloudAdapter, BotFrameworkAuthentication]:
    """A CloudAdapter whose connectors take tokens from our one cached client."""
    config = SimpleNamespace(APP_ID=settings.app_id or None, APP_PASSWORD=None,
                             APP_TYPE=settings.app_type, APP_TENANTID=settings.tenant_id or None)
    authentication = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
    adapter = CloudAdapter(authentication)
    adapter.on_turn_error = errors.on_turn_error
    return adapter, authentication
