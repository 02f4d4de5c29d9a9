"""Typed, frozen settings, read once from the environment (and an optional `.env` file).

Two modes fall out of the values: local (no app id: no Azure, SQLite, sample data) and production
(app id + SingleTenant or managed identity, Cosmos DB). A missing or contradictory value raises
SettingsError with one line naming the variable; `app.py` prints that line and exits.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Mapping

if TYPE_CHECKING:
    from knowledge.engine import Thresholds

ROOT = Path(__file__).resolve().parent
BOT_FRAMEWORK_SCOPE = "https://api.botframework.com/.default"


class SettingsError(ValueError):
    """A setting is missing, malformed or contradicts another one."""


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines; `#` comments and blank lines ignored; optional surrounding quotes removed."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise SettingsError(f"{path.name}, Zeile {number}: erwartet KEY=VALUE")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values


class _Reader:
    """Typed access to a flat string mapping; every error names its variable."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.env = env

    def str(self, name: str, default: str = "") -> str:
        return self.env.get(name, default).strip()

    def int(self, name: str, default: int, low: int, high: int) -> int:
        raw = self.str(name)
        if not raw:
            return default
        try:
            value = int(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: erwartet eine ganze Zahl") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value}: erlaubt ist {low} bis {high}")
        return value

    def float(self, name: str, default: float | None, low: float, high: float) -> float | None:
        raw = self.str(name)
        if not raw:
            return default
        try:
            value = float(raw)
        except ValueError:
            raise SettingsError(f"{name}={raw!r}: erwartet eine Zahl") from None
        if not low <= value <= high:
            raise SettingsError(f"{name}={value}: erlaubt ist {low} bis {high}")
        return value

    def bool(self, name: str, default: bool) -> bool:
        raw = self.str(name).lower()
        if not raw:
            return default
        if raw in ("1", "true", "yes", "ja", "on"):
            return True
        if raw in ("0", "false", "no", "nein", "off"):
            return False
        raise SettingsError(f"{name}={raw!r}: erwartet true oder false")

    def list(self, name: str) -> tuple[str, ...]:
        return tuple(part.strip() for part in self.str(name).split(",") if part.strip())

    def choice(self, name: str, default: str, choices: tuple[str, ...]) -> str:
        raw = self.str(name, default)
        for option in choices:
            if raw.lower() == option.lower():
                return option
        raise SettingsError(f"{name}={raw!r}: erlaubt ist {', '.join(choices)}")


@dataclass(frozen=True)
class Settings:
    """Everything the application is configured with. Build with `Settings.from_env`."""

    app_id: str = ""
    app_password: str = field(default="", repr=False)
    app_type: str = "SingleTenant"
    tenant_id: str = ""
    host: str = "127.0.0.1"
    port: int = 3978
    data_dir: Path = ROOT / "data"
    storage: str = "sqlite"
    cosmos_endpoint: str = ""
    cosmos_key: str = field(default="", repr=False)
    cosmos_database: str = "lotsenbot"
    cosmos_verify_tls: bool = True
    allowed_tenants: tuple[str, ...] = ()
    max_body_bytes: int = 256 * 1024
    send_rate_per_second: float = 50.0
    send_max_attempts: int = 5
    openid_metadata_url: str = "https://login.botframework.com/v1/.well-known/openidconfiguration"
    token_issuers: tuple[str, ...] = ("https://api.botframework.com",)
    authority_host: str = "https://login.microsoftonline.com"
    auth_ca_bundle: str = ""
    knowledge_dir: Path = ROOT / "knowledge" / "articles"
    site_file: Path = ROOT / "knowledge" / "site.yaml"
    question_retention_days: int = 30
    # Overrides of the answer engine's thresholds (knowledge/engine.py keeps the defaults); None: default.
    answer_confidence: float | None = None
    answer_margin: float | None = None
    suggest_confidence: float | None = None
    public_base_url: str = ""
    bot_name: str = "Lotsenbot"
    instance_id: str = "lotsenbot"   # stable per host: a restarted instance resumes what it left in flight
    log_level: str = "INFO"
    # -- announcements and events (issue 5) --
    announcement_authors: tuple[str, ...] = ()
    announcement_author_role: str = ""
    event_reminders: tuple[float, ...] = (24 * 3600.0, 3600.0)     # seconds before the start
    announcements_api_audiences: tuple[str, ...] = ()
    announcements_api_role: str = "Announcements.Send"
    announcements_openid_metadata_url: str = ""
    announcements_token_issuers: tuple[str, ...] = ()
    # -- pilot routing (issue 4) --
    admin_aad_ids: tuple[str, ...] = ()
    pilots_channel_id: str = ""
    pilots_team_id: str = ""
    escalation_timeout_hours: float = 4.0
    escalation_max_candidates: int = 3
    business_hours: str = "Mo-Fr 08:00-16:00"
    business_timezone: str = "Europe/Berlin"
    graph_base_url: str = "https://graph.microsoft.com"
    pilots_file: Path | None = None
    request_retention_days: int = 180

    @property
    def local(self) -> bool:
        """No app id: Bot Framework authentication is off and no Azure service is needed."""
        return not self.app_id

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "lotsenbot.sqlite3"

    @property
    def authority(self) -> str:
        return f"{self.authority_host.rstrip('/')}/{self.tenant_id}"

    @property
    def thresholds(self) -> Thresholds:
        """When the bot answers, suggests or says it does not know: the engine's defaults plus overrides."""
        from knowledge.engine import Thresholds  # the bot loads the engine anyway; settings stays import-light
        given = {"answer": self.answer_confidence, "margin": self.answer_margin, "suggest": self.suggest_confidence}
        return Thresholds(**{name: value for name, value in given.items() if value is not None})

    # -- announcements and events (issue 5): the API's token rules, derived from the tenant unless set --
    @property
    def api_audiences(self) -> tuple[str, ...]:
        if self.announcements_api_audiences:
            return self.announcements_api_audiences
        return (self.app_id, f"api://{self.app_id}") if self.app_id else ()

    @property
    def api_metadata_url(self) -> str:
        if self.announcements_openid_metadata_url or not self.tenant_id:
            return self.announcements_openid_metadata_url
        return f"{self.authority}/v2.0/.well-known/openid-configuration"

    @property
    def api_issuers(self) -> tuple[str, ...]:
        if self.announcements_token_issuers or not self.tenant_id:
            return self.announcements_token_issuers
        return (f"{self.authority}/v2.0", f"https://sts.windows.net/{self.tenant_id}/")

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, dotenv: Path | None = None) -> "Settings":
        """Read and check every setting once. `env` defaults to os.environ over `./.env`."""
        if env is None:
            merged = read_dotenv(dotenv if dotenv is not None else Path.cwd() / ".env")
            merged.update(os.environ)
            env = merged
        r = _Reader(env)
        app_id = r.str("MicrosoftAppId")
        app_type = r.choice("MicrosoftAppType", "SingleTenant", ("SingleTenant", "UserAssignedMSI", "MultiTenant"))
        tenant_id = r.str("MicrosoftAppTenantId")
        app_password = r.str("MicrosoftAppPassword")
        storage = r.choice("STORAGE", "cosmos" if app_id else "sqlite", ("sqlite", "cosmos"))
        settings = cls(
            app_id=app_id, app_password=app_password, app_type=app_type, tenant_id=tenant_id,
            host=r.str("HOST", "0.0.0.0" if app_id else "127.0.0.1"),
            port=r.int("PORT", 3978, 1, 65535),
            data_dir=Path(r.str("DATA_DIR", str(ROOT / "data"))).resolve(),
            storage=storage,
            cosmos_endpoint=r.str("COSMOS_ENDPOINT"), cosmos_key=r.str("COSMOS_KEY"),
            cosmos_database=r.str("COSMOS_DATABASE", "lotsenbot"),
            cosmos_verify_tls=r.bool("COSMOS_VERIFY_TLS", True),
            allowed_tenants=r.list("ALLOWED_TENANT_IDS"),
            max_body_bytes=r.int("MAX_BODY_BYTES", 256 * 1024, 1024, 16 * 1024 * 1024),
            send_rate_per_second=r.float("SEND_RATE_PER_SECOND", 50.0, 0.1, 1000.0),
            send_max_attempts=r.int("SEND_MAX_ATTEMPTS", 5, 1, 20),
            openid_metadata_url=r.str("BOT_OPENID_METADATA_URL", cls.openid_metadata_url),
            token_issuers=r.list("BOT_TOKEN_ISSUERS") or cls.token_issuers,
            authority_host=r.str("AUTHORITY_HOST", cls.authority_host),
            auth_ca_bundle=r.str("AUTH_CA_BUNDLE"),
            knowledge_dir=Path(r.str("KNOWLEDGE_DIR", str(ROOT / "knowledge" / "articles"))).resolve(),
            site_file=Path(r.str("SITE_FILE", str(ROOT / "knowledge" / "site.yaml"))).resolve(),
            question_retention_days=r.int("QUESTION_RETENTION_DAYS", 30, 1, 3650),
            answer_confidence=r.float("ANSWER_CONFIDENCE", None, 0.0, 1.0),
            answer_margin=r.float("ANSWER_MARGIN", None, 0.0, 1.0),
            suggest_confidence=r.float("SUGGEST_CONFIDENCE", None, 0.0, 1.0),
            public_base_url=r.str("PUBLIC_BASE_URL").rstrip("/"),
            bot_name=r.str("BOT_NAME", "Lotsenbot"),
            instance_id=r.str("INSTANCE_ID") or r.str("WEBSITE_INSTANCE_ID") or socket.gethostname() or "lotsenbot",
            log_level=r.choice("LOG_LEVEL", "INFO", ("DEBUG", "INFO", "WARNING", "ERROR")),
            # -- announcements and events (issue 5) --
            announcement_authors=tuple(i.lower() for i in r.list("ANNOUNCEMENT_AUTHORS")),
            announcement_author_role=r.str("ANNOUNCEMENT_AUTHOR_ROLE"),
            event_reminders=_durations("EVENT_REMINDERS", r.str("EVENT_REMINDERS") or "24h,1h"),
            announcements_api_audiences=r.list("ANNOUNCEMENTS_API_AUDIENCES"),
            announcements_api_role=r.str("ANNOUNCEMENTS_API_ROLE", "Announcements.Send"),
            announcements_openid_metadata_url=r.str("ANNOUNCEMENTS_OPENID_METADATA_URL"),
            announcements_token_issuers=r.list("ANNOUNCEMENTS_TOKEN_ISSUERS"),
            # -- pilot routing (issue 4) --
            admin_aad_ids=tuple(i.lower() for i in r.list("ADMIN_AAD_IDS")),
            pilots_channel_id=r.str("PILOTS_CHANNEL_ID"),
            pilots_team_id=r.str("PILOTS_TEAM_ID"),
            escalation_timeout_hours=r.float("ESCALATION_TIMEOUT_HOURS", 4.0, 0.1, 240.0),
            escalation_max_candidates=r.int("ESCALATION_MAX_CANDIDATES", 3, 1, 50),
            business_hours=r.str("BUSINESS_HOURS", "Mo-Fr 08:00-16:00"),
            business_timezone=r.str("BUSINESS_TIMEZONE", "Europe/Berlin"),
            graph_base_url=r.str("GRAPH_BASE_URL", "https://graph.microsoft.com").rstrip("/"),
            request_retention_days=r.int("REQUEST_RETENTION_DAYS", 180, 1, 3650),
            pilots_file=_pilots_file(r.str("PILOTS_FILE"), local=not app_id),
        )
        settings.check()
        return settings

    def check(self) -> None:
        """Reject contradictions that would otherwise fail later, at the first real request."""
        if self.app_id:
            if self.app_type == "MultiTenant":
                raise SettingsError("MicrosoftAppType=MultiTenant: neue Bot-Registrierungen sind SingleTenant "
                                    "(MultiTenant ist seit 31.07.2025 abgekündigt)")
            if not self.tenant_id:
                raise SettingsError("MicrosoftAppTenantId fehlt: SingleTenant und UserAssignedMSI brauchen die Tenant-ID")
            if self.app_type == "SingleTenant" and not self.app_password:
                raise SettingsError("MicrosoftAppPassword fehlt (oder MicrosoftAppType=UserAssignedMSI setzen)")
            if self.app_type == "UserAssignedMSI" and self.app_password:
                raise SettingsError("MicrosoftAppPassword ist gesetzt, aber MicrosoftAppType=UserAssignedMSI nutzt kein Passwort")
        elif self.app_password or self.tenant_id:
            name = "MicrosoftAppPassword" if self.app_password else "MicrosoftAppTenantId"
            raise SettingsError(f"{name} ist gesetzt, aber MicrosoftAppId fehlt")
        if self.storage == "cosmos":
            if not self.cosmos_endpoint:
                raise SettingsError("COSMOS_ENDPOINT fehlt (oder STORAGE=sqlite setzen)")
            if not self.cosmos_endpoint.startswith("https://"):
                raise SettingsError("COSMOS_ENDPOINT muss mit https:// beginnen")
            if not self.cosmos_key:
                raise SettingsError("COSMOS_KEY fehlt")
        if not self.cosmos_verify_tls and self.app_id:
            raise SettingsError("COSMOS_VERIFY_TLS=false ist nur für den lokalen Testserver erlaubt, nicht mit MicrosoftAppId")
        if self.public_base_url and not self.public_base_url.startswith("https://") and self.app_id:
            raise SettingsError("PUBLIC_BASE_URL muss im Betrieb mit https:// beginnen")
        if self.auth_ca_bundle and not Path(self.auth_ca_bundle).is_file():
            raise SettingsError(f"AUTH_CA_BUNDLE={self.auth_ca_bundle!r}: Datei nicht gefunden")
        thresholds = self.thresholds
        if thresholds.suggest > thresholds.answer:
            raise SettingsError(f"SUGGEST_CONFIDENCE={thresholds.suggest} ist größer als "
                                f"ANSWER_CONFIDENCE={thresholds.answer}")
        # -- pilot routing (issue 4) --
        from routing.hours import BusinessHours, HoursError  # pure module; imported here to keep settings light
        try:
            BusinessHours.parse(self.business_hours, self.business_timezone)
        except HoursError as exc:
            raise SettingsError(f"BUSINESS_HOURS={self.business_hours!r} / "
                                f"BUSINESS_TIMEZONE={self.business_timezone!r}: {exc}") from None
        if self.app_id and not self.graph_base_url.startswith("https://"):
            raise SettingsError("GRAPH_BASE_URL muss im Betrieb mit https:// beginnen")
        if self.pilots_file is not None and not self.pilots_file.is_file():
            raise SettingsError(f"PILOTS_FILE={str(self.pilots_file)!r}: Datei nicht gefunden")


# -- announcements and events (issue 5) --
_UNITS = {"m": 60.0, "h": 3600.0, "d": 86400.0}


def _durations(name: str, raw: str) -> tuple[float, ...]:
    """"24h,1h,30m" → seconds, largest first; each from 5 minutes to 30 days."""
    values: set[float] = set()
    for part in (p.strip().lower() for p in raw.split(",") if p.strip()):
        unit = _UNITS.get(part[-1:])
        try:
            seconds = float(part[:-1]) * unit if unit else float("nan")
        except ValueError:
            seconds = float("nan")
        if not 300 <= seconds <= 30 * 86400:
            raise SettingsError(f"{name}={raw!r}: erwartet z. B. 24h,1h (Minuten m, Stunden h, Tage d; 5m bis 30d)")
        values.add(seconds)
    return tuple(sorted(values, reverse=True))


# -- pilot routing (issue 4) --
def _pilots_file(raw: str, *, local: bool) -> Path | None:
    """The YAML an empty pilot directory is seeded from: the fictional sample locally, none in production."""
    if raw:
        return Path(raw).resolve()
    return ROOT / "routing" / "sample_pilots.yaml" if local else None
