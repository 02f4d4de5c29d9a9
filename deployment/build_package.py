"""Build the Teams app package (manifest.json + icons in one zip): `python -m deployment.build_package`."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import tomllib
import uuid
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

import jinja2

from deployment import png
from settings import ROOT, Settings, SettingsError, read_dotenv

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "manifest.template.json"
ICON_DIR = HERE / "icons"
DEFAULT_OUT = HERE / "build" / "lotsenbot.zip"
MANIFEST_VERSION = "1.30"
SCHEMA_URL = f"https://developer.microsoft.com/en-us/json-schemas/teams/v{MANIFEST_VERSION}/MicrosoftTeams.schema.json"
EXAMPLE_BASE_URL = "https://beispiel.example.com/lotsenbot"  # reserved example domain: obviously not real
TEAMS_APP_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "urn:lotsenbot:teams-app")
ICON_SIZES = {"color": (192, 192), "outline": (32, 32)}
BOT_SCOPES = {"personal", "team", "groupChat"}
LENGTHS = {"name.short": 30, "name.full": 100, "description.short": 80, "description.full": 4000,
           "developer.name": 32}
REQUIRED = ("$schema", "manifestVersion", "version", "id", "developer.name", "developer.websiteUrl",
            "developer.privacyUrl", "developer.termsOfUseUrl", "name.short", "name.full", "description.short",
            "description.full", "icons.color", "icons.outline", "accentColor", "localizationInfo.defaultLanguageTag",
            "bots")
GUID = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")
SEMVER = re.compile(r"(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)\.(?:0|[1-9][0-9]*)")
HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")
LANGUAGE_TAG = re.compile(r"[A-Za-z0-9]{1,8}(?:-[A-Za-z0-9]{1,8}){0,2}")
DOMAIN = re.compile(r"(?:\*\.)?(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)*[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?")


class PackageError(ValueError):
    """The package cannot be built; the message is one line for the operator."""


@dataclass(frozen=True)
class Package:
    """What a build produced."""

    path: Path
    manifest: dict[str, Any]
    notes: tuple[str, ...]


class _Json(str):
    """Text already encoded by the `json` filter."""


def _to_json(value: Any) -> _Json:
    if isinstance(value, jinja2.Undefined):
        str(value)  # StrictUndefined raises here, naming the missing variable
    return _Json(json.dumps(value, ensure_ascii=False))


def _only_json(value: Any) -> Any:
    if not isinstance(value, _Json):
        raise PackageError(f"Vorlage: Wert ohne „| json“ ausgegeben: {value!r}")
    return value


def render(template_text: str, values: Mapping[str, Any]) -> str:
    """Fill the template; every `{{ }}` must pass through `| json`, so values cannot break the JSON."""
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True,
                             finalize=_only_json)
    env.filters["json"] = _to_json
    try:
        return env.from_string(template_text).render(values)
    except jinja2.TemplateError as exc:
        raise PackageError(f"Vorlage: {exc}") from None


def manifest_values(settings: Settings, env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Template values from the settings plus TEAMS_APP_ID / TEAMS_APP_VERSION; also notes for the operator."""
    if not GUID.fullmatch(settings.app_id):
        raise PackageError(f"MicrosoftAppId={settings.app_id!r}: erwartet eine GUID")
    teams_app_id = env.get("TEAMS_APP_ID", "").strip() or str(uuid.uuid5(TEAMS_APP_NAMESPACE, settings.app_id.lower()))
    if not GUID.fullmatch(teams_app_id):
        raise PackageError(f"TEAMS_APP_ID={teams_app_id!r}: erwartet eine GUID")
    version = env.get("TEAMS_APP_VERSION", "").strip() or _project_version()
    notes, base = [], settings.public_base_url
    if not base:
        base = EXAMPLE_BASE_URL
        notes.append(f"PUBLIC_BASE_URL fehlt: Beispiel-Adressen ({EXAMPLE_BASE_URL}/…) eingesetzt, "
                     "nicht für den Betrieb")
    elif not base.lower().startswith("https://"):
        raise PackageError(f"PUBLIC_BASE_URL={base!r}: muss mit https:// beginnen")
    host = urlsplit(base).hostname or ""
    values = {
        "app_id": settings.app_id, "teams_app_id": teams_app_id, "version": version, "bot_name": settings.bot_name,
        "website_url": base, "privacy_url": f"{base}/datenschutz", "terms_url": f"{base}/nutzungsbedingungen",
        "valid_domains": [] if base == EXAMPLE_BASE_URL or not host else [host],
    }
    return values, notes


def validate(manifest: Mapping[str, Any], icons: Mapping[str, bytes]) -> None:
    """Raise PackageError for the first thing Teams would reject (fields, lengths, ids, domains, icons)."""
    for field in REQUIRED:
        _field(manifest, field)
    if manifest["manifestVersion"] != MANIFEST_VERSION or manifest["$schema"] != SCHEMA_URL:
        raise PackageError(f"manifest.json: manifestVersion und $schema müssen zu Version {MANIFEST_VERSION} passen")
    _match(SEMVER, manifest["version"], "version", "eine Version wie 1.2.3")
    _match(GUID, manifest["id"], "id", "eine GUID")
    _match(HEX_COLOR, manifest["accentColor"], "accentColor", "eine Farbe wie #1F4E79")
    _match(LANGUAGE_TAG, manifest["localizationInfo"]["defaultLanguageTag"], "localizationInfo.defaultLanguageTag",
           "ein Sprachkürzel wie de-de")
    for field, limit in LENGTHS.items():
        _limit(_field(manifest, field), limit, field)
    for key in ("websiteUrl", "privacyUrl", "termsOfUseUrl"):
        url = manifest["developer"][key]
        if not isinstance(url, str) or not url.lower().startswith("https://") or len(url) > 2048:
            raise PackageError(f"manifest.json: developer.{key}={url!r} muss eine https-Adresse sein")
    _check_bots(manifest["bots"])
    domains = manifest.get("validDomains", [])
    if not isinstance(domains, list) or len(domains) > 100:
        raise PackageError("manifest.json: validDomains muss eine Liste mit höchstens 100 Einträgen sein")
    for domain in domains:
        _match(DOMAIN, domain, "validDomains", "ein Hostname ohne https:// und ohne Pfad")
    for kind, (width, height) in ICON_SIZES.items():
        name = manifest["icons"][kind]
        if name not in icons:
            raise PackageError(f"Icon {name!r} (icons.{kind}) fehlt im Paket")
        try:
            actual = png.size(icons[name])
        except png.PngError as exc:
            raise PackageError(f"Icon {name}: {exc}") from None
        if actual != (width, height):
            raise PackageError(f"Icon {name}: {actual[0]}×{actual[1]} Pixel, erwartet {width}×{height}")
    try:
        pixels = png.decode_rgba(icons[manifest["icons"]["outline"]])
    except png.PngError as exc:
        raise PackageError(f"Outline-Icon: {exc}") from None
    if any(a and (r, g, b) != (255, 255, 255) for r, g, b, a in pixels):
        raise PackageError("Outline-Icon: nur weiße und transparente Pixel erlaubt")


def _check_bots(bots: Any) -> None:
    if not isinstance(bots, list) or len(bots) != 1:
        raise PackageError("manifest.json: bots muss genau einen Bot enthalten")
    bot = bots[0] if isinstance(bots[0], dict) else {}
    _match(GUID, bot.get("botId"), "bots[0].botId", "eine GUID")
    scopes = bot.get("scopes")
    if not scopes or not set(scopes) <= BOT_SCOPES:
        raise PackageError(f"manifest.json: bots[0].scopes={scopes!r}, erlaubt sind {sorted(BOT_SCOPES)}")
    lists = bot.get("commandLists", [])
    if len(lists) > 3:
        raise PackageError("manifest.json: höchstens 3 commandLists")
    for number, entry in enumerate(lists):
        where = f"bots[0].commandLists[{number}]"
        if not isinstance(entry, dict) or not entry.get("scopes") or not set(entry["scopes"]) <= set(scopes):
            raise PackageError(f"manifest.json: {where}.scopes passt nicht zu bots[0].scopes")
        commands = entry.get("commands") or []
        if not 1 <= len(commands) <= 10:
            raise PackageError(f"manifest.json: {where} braucht 1 bis 10 Befehle")
        for command in commands:
            title = command.get("title") if isinstance(command, dict) else None
            if not title:
                raise PackageError(f"manifest.json: {where}: Befehl ohne Titel")
            _limit(title, 32, f"{where}: Befehlstitel")
            _limit(command.get("description", ""), 128, f"{where}: Befehlsbeschreibung")


def _field(manifest: Mapping[str, Any], dotted: str) -> Any:
    value: Any = manifest
    for key in dotted.split("."):
        if not isinstance(value, Mapping) or value.get(key) in (None, "", [], {}):
            raise PackageError(f"manifest.json: Pflichtfeld {dotted} fehlt")
        value = value[key]
    return value


def _match(pattern: re.Pattern[str], value: Any, field: str, expected: str) -> None:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise PackageError(f"manifest.json: {field}={value!r}, erwartet {expected}")


def _limit(value: Any, limit: int, field: str) -> None:
    if not isinstance(value, str) or len(value) > limit:
        raise PackageError(f"manifest.json: {field} ist länger als {limit} Zeichen oder kein Text")


def _project_version() -> str:
    with (ROOT / "pyproject.toml").open("rb") as handle:
        return tomllib.load(handle)["project"]["version"]


def _write_zip(out: Path, files: Mapping[str, bytes]) -> None:
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    with zipfile.ZipFile(partial, "w") as archive:
        for name, data in files.items():
            entry = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))  # fixed: same input, same bytes
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o644 << 16
            archive.writestr(entry, data)
    partial.replace(out)


def build(out: Path = DEFAULT_OUT, env: Mapping[str, str] | None = None, app_id: str = "") -> Package:
    """Read the settings, render and check manifest.json, write the zip. `app_id` overrides MicrosoftAppId."""
    if env is None:
        env = {**read_dotenv(Path.cwd() / ".env"), **os.environ}
    settings = Settings.from_env(env)
    if app_id.strip():
        settings = replace(settings, app_id=app_id.strip())
    if settings.local:
        raise PackageError("MicrosoftAppId fehlt: Das Teams-Paket braucht die App-ID der Bot-Registrierung "
                           "(MicrosoftAppId setzen oder für einen Test-Build --app-id angeben)")
    values, notes = manifest_values(settings, env)
    text = render(TEMPLATE.read_text(encoding="utf-8"), values)
    try:
        manifest = json.loads(text)
    except json.JSONDecodeError as exc:
        raise PackageError(f"manifest.json ist kein gültiges JSON: {exc}") from None
    icons = {manifest.get("icons", {}).get(kind, f"{kind}.png"): (ICON_DIR / f"{kind}.png") for kind in ICON_SIZES}
    missing = [str(path) for path in icons.values() if not path.is_file()]
    if missing:
        raise PackageError(f"Icon fehlt: {missing[0]} (erzeugen mit python -m deployment.make_icons)")
    icon_bytes = {name: path.read_bytes() for name, path in icons.items()}
    validate(manifest, icon_bytes)
    _write_zip(out, {"manifest.json": text.encode("utf-8"), **icon_bytes})
    return Package(out, manifest, tuple(notes))


def main(argv: list[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    """Command line entry; one line on stderr and exit code 1 on any problem."""
    parser = argparse.ArgumentParser(prog="python -m deployment.build_package",
                                     description="Baut das Teams-App-Paket (manifest.json und Icons als ZIP).")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"Zieldatei (Standard: {DEFAULT_OUT})")
    parser.add_argument("--app-id", default="",
                        help="MicrosoftAppId für einen Test-Build (überschreibt die Einstellung)")
    args = parser.parse_args(argv)
    try:
        package = build(args.out, env=env, app_id=args.app_id)
    except (PackageError, SettingsError) as exc:
        print(f"Fehler: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"Fehler: {exc.filename or args.out}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    for note in package.notes:
        print(f"Hinweis: {note}", file=sys.stderr)
    print(package.path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
