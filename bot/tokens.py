"""botbuilder's credentials, backed by the one shared Entra token provider (entra/tokens.py)."""

from __future__ import annotations

from botframework.connector.auth import AppCredentials, ServiceClientCredentialsFactory

from entra.tokens import BOT_FRAMEWORK_RESOURCE, MsalTokenProvider, TokenError


class _CachedTokenCredentials(AppCredentials):
    """botbuilder credentials that read the provider's cache; with no app id, anonymous (no header)."""

    def __init__(self, app_id: str | None, provider: MsalTokenProvider | None, oauth_scope: str | None = None):
        super().__init__(app_id=app_id, oauth_scope=oauth_scope)
        self._provider = provider

    def get_access_token(self, force_refresh: bool = False) -> str:
        if self._provider is None:
            raise TokenError("anonymous credentials have no token")
        return self._provider.cached()


class BotCredentialsFactory(ServiceClientCredentialsFactory):
    """Hands botbuilder's adapter credentials backed by the one shared token provider."""

    def __init__(self, app_id: str, provider: MsalTokenProvider | None) -> None:
        if app_id and provider is None:
            raise ValueError("an app id needs a token provider")
        self._app_id = app_id
        self._provider = provider

    async def is_valid_app_id(self, app_id: str) -> bool:
        return bool(self._app_id) and app_id == self._app_id

    async def is_authentication_disabled(self) -> bool:
        return not self._app_id

    def credentials_for(self, app_id: str | None, oauth_scope: str | None = None) -> AppCredentials:
        """Credentials without I/O, for clients built synchronously; the cache is warmed per request."""
        if not self._app_id:
            return _CachedTokenCredentials(None, None)
        if app_id != self._app_id:
            raise PermissionError("Invalid app_id")
        return _CachedTokenCredentials(app_id, self._provider, oauth_scope)

    async def create_credentials(self, app_id: str, oauth_scope: str, login_endpoint: str,
                                 validate_authority: bool) -> AppCredentials:
        if not self._app_id:
            return _CachedTokenCredentials(None, None)
        if not await self.is_valid_app_id(app_id):
            raise PermissionError("Invalid app_id")
        scope = (oauth_scope or BOT_FRAMEWORK_RESOURCE).removesuffix("/.default").rstrip("/")
        if scope != BOT_FRAMEWORK_RESOURCE:
            raise PermissionError(f"unsupported oauth scope {scope!r}: only {BOT_FRAMEWORK_RESOURCE}")
        assert self._provider is not None
        # Warm the cache here (async, usually no I/O) so get_access_token below never has to fetch.
        await self._provider.token()
        return _CachedTokenCredentials(app_id, self._provider, oauth_scope)
