"""The botbuilder adapter, built from settings with our credentials factory, error handler and connector."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any, Awaitable, Callable

from botbuilder.core import TurnContext
from botbuilder.integration.aiohttp import CloudAdapter, ConfigurationBotFrameworkAuthentication
from botbuilder.schema import Activity, ActivityTypes, ConversationReference, DeliveryModes, ResourceResponse
from botframework.connector.aio import ConnectorClient as SdkConnectorClient
from botframework.connector.auth import BotFrameworkAuthentication, ConnectorFactory, UserTokenClient

from bot.connector import ConnectorClient
from bot.errors import ErrorReporter
from bot.tokens import BotCredentialsFactory
from settings import Settings

_PASS_THROUGH = {"delay", ActivityTypes.invoke_response, ActivityTypes.trace}


class LotsenAdapter(CloudAdapter):
    """CloudAdapter whose turn replies, updates and deletes go through our aiohttp ConnectorClient.

    botbuilder's connector sends each reply with `requests` in a worker thread and a new TCP
    connection (about 10 ms CPU per turn here, see docs/benchmarks.md); ours keeps connections
    alive and reads the one cached token. Everything else (auth, turn pipeline) stays botbuilder's.
    """

    def __init__(self, authentication: BotFrameworkAuthentication, connector: ConnectorClient,
                 credentials: BotCredentialsFactory) -> None:
        super().__init__(_LazyTokenClientAuthentication(authentication))
        self._connector = connector
        self._credentials = credentials

    def connector_factory(self, app_id: str | None) -> ConnectorFactory:
        """The factory a turn's AuthenticateRequestResult carries (clients built only if used)."""
        return LazyConnectorFactory(self._credentials, app_id)

    async def send_activities(self, context: TurnContext, activities: list[Activity]) -> list[ResourceResponse]:
        if context.activity.delivery_mode == DeliveryModes.expect_replies:
            return await super().send_activities(context, activities)
        responses = []
        for activity in activities:
            if activity.type in _PASS_THROUGH:  # delays, invoke answers, traces: the SDK's own handling
                responses.extend(await super().send_activities(context, [activity]))
                continue
            activity.id = None
            body = _wire(activity)
            if activity.reply_to_id:
                new_id = await self._connector.reply_to_activity(
                    activity.service_url, activity.conversation.id, activity.reply_to_id, body)
            else:
                new_id = await self._connector.post_activity(activity.service_url, activity.conversation.id, body)
            responses.append(ResourceResponse(id=new_id))
        return responses

    async def update_activity(self, context: TurnContext, activity: Activity) -> ResourceResponse:
        new_id = await self._connector.update_activity(activity.service_url, activity.conversation.id,
                                                       activity.id, _wire(activity))
        return ResourceResponse(id=new_id)

    async def delete_activity(self, context: TurnContext, reference: ConversationReference) -> None:
        await self._connector.delete_activity(reference.service_url, reference.conversation.id, reference.activity_id)


def _wire(activity: Activity) -> dict:
    """The activity's JSON. Card content is already plain JSON, so msrest serialises only the shell
    (walking a card dict through msrest cost about 1 ms per reply)."""
    attachments = activity.attachments or []
    if not all(isinstance(a.content, dict) for a in attachments):
        return activity.serialize()
    activity.attachments = None
    try:
        body = activity.serialize()
    finally:
        activity.attachments = attachments or None
    if attachments:
        body["attachments"] = [{"contentType": a.content_type, "content": a.content,
                                **({"name": a.name} if a.name else {})} for a in attachments]
    return body


class _LazyClient:
    """An SDK client built on first attribute access.

    msrest spends about 3 ms of CPU building each client (a retry list comprehension over 999 status
    codes), and CloudAdapter builds a connector client for every turn. Our turns send through
    ConnectorClient above, so most never touch it; SDK paths that do (TeamsInfo, ...) still get the real one.
    """

    def __init__(self, build: Callable[[], Any]) -> None:
        object.__setattr__(self, "_build", build)
        object.__setattr__(self, "_client", None)

    def __getattr__(self, name: str) -> Any:
        client = self._client
        if client is None:
            client = self._build()
            object.__setattr__(self, "_client", client)
        return getattr(client, name)


class LazyConnectorFactory(ConnectorFactory):
    """Hands out lazily built connector clients whose credentials read the shared token cache."""

    def __init__(self, credentials: BotCredentialsFactory, app_id: str | None) -> None:
        self._credentials = credentials
        self._app_id = app_id

    async def create(self, service_url: str, audience: str = None) -> SdkConnectorClient:
        credentials = self._credentials.credentials_for(self._app_id, audience)
        return _LazyClient(lambda: SdkConnectorClient(credentials, base_url=service_url))  # type: ignore[return-value]


class _DeferredUserTokenClient(UserTokenClient):
    """botbuilder's user-token client, created on first use (user sign-in flows; this bot has none yet)."""

    def __init__(self, create: Callable[[], Awaitable[UserTokenClient]]) -> None:
        self._create = create
        self._client: UserTokenClient | None = None

    async def _get(self) -> UserTokenClient:
        if self._client is None:
            self._client = await self._create()
        return self._client

    async def get_user_token(self, *args: Any, **kwargs: Any):
        return await (await self._get()).get_user_token(*args, **kwargs)

    async def get_sign_in_resource(self, *args: Any, **kwargs: Any):
        return await (await self._get()).get_sign_in_resource(*args, **kwargs)

    async def sign_out_user(self, *args: Any, **kwargs: Any):
        return await (await self._get()).sign_out_user(*args, **kwargs)

    async def get_token_status(self, *args: Any, **kwargs: Any):
        return await (await self._get()).get_token_status(*args, **kwargs)

    async def get_aad_tokens(self, *args: Any, **kwargs: Any):
        return await (await self._get()).get_aad_tokens(*args, **kwargs)

    async def exchange_token(self, *args: Any, **kwargs: Any):
        return await (await self._get()).exchange_token(*args, **kwargs)


class _LazyTokenClientAuthentication(BotFrameworkAuthentication):
    """Delegates to botbuilder's authentication but defers the per-turn user-token client."""

    def __init__(self, inner: BotFrameworkAuthentication) -> None:
        self._inner = inner

    async def authenticate_request(self, activity, auth_header):
        return await self._inner.authenticate_request(activity, auth_header)

    async def authenticate_streaming_request(self, auth_header, channel_id_header):
        return await self._inner.authenticate_streaming_request(auth_header, channel_id_header)

    def create_connector_factory(self, claims_identity):
        return self._inner.create_connector_factory(claims_identity)

    async def create_user_token_client(self, claims_identity):
        return _DeferredUserTokenClient(lambda: self._inner.create_user_token_client(claims_identity))

    def create_bot_framework_client(self):
        return self._inner.create_bot_framework_client()

    def get_originating_audience(self):
        return self._inner.get_originating_audience()

    async def authenticate_channel_request(self, auth_header):
        return await self._inner.authenticate_channel_request(auth_header)


def build_adapter(settings: Settings, credentials: BotCredentialsFactory, errors: ErrorReporter,
                  connector: ConnectorClient) -> LotsenAdapter:
    """An adapter whose connectors take tokens from our one cached client."""
    config = SimpleNamespace(APP_ID=settings.app_id or None, APP_PASSWORD=None,
                             APP_TYPE=settings.app_type, APP_TENANTID=settings.tenant_id or None)
    authentication = ConfigurationBotFrameworkAuthentication(config, credentials_factory=credentials)
    adapter = LotsenAdapter(authentication, connector, credentials)
    adapter.on_turn_error = errors.on_turn_error
    return adapter
