"""Post an announcement from a YAML or JSON file to the bot's API, with an Entra ID app token.

    python -m events.cli post veranstaltung.yaml
    python -m events.cli status <id>

Settings (environment, or the options of the same name): LOTSENBOT_URL (the bot's https address),
ANNOUNCE_TENANT_ID, ANNOUNCE_CLIENT_ID, ANNOUNCE_CLIENT_SECRET (only from the environment, never on the
command line), ANNOUNCE_SCOPE (e.g. api://<bot app id>/.default), AUTHORITY_HOST, AUTH_CA_BUNDLE.
The token comes from msal (client credentials); the calling app needs the app role Announcements.Send.
The same file posted twice is one announcement: its content is the Idempotency-Key.
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import json
import os
import sys
from pathlib import Path
from typing import Any, Sequence

import msal
import requests
import yaml

TIMEOUT = 30


class CliError(Exception):
    """Something the user has to fix; printed as one German line."""


def _session(verify: bool | str) -> requests.Session:
    session = requests.Session()
    # Per-request verify: REQUESTS_CA_BUNDLE would otherwise override Session.verify (psf/requests#3829).
    session.request = functools.partial(session.request, verify=verify, timeout=TIMEOUT)  # type: ignore[method-assign]
    return session


def read_event(path: Path) -> tuple[dict[str, Any], bytes]:
    """The event from a .yaml/.yml/.json file, and the raw bytes (for the idempotency key)."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CliError(f"Datei {path} nicht lesbar: {exc.strerror}") from None
    try:
        data = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as exc:
        raise CliError(f"{path} ist kein gültiges {'JSON' if path.suffix.lower() == '.json' else 'YAML'}: "
                       f"{str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise CliError(f"{path}: erwartet wird ein Objekt mit title, date, start … (siehe README)")
    # YAML reads 2026-12-03 as a date and 14:00 maybe as a number; the API wants text.
    for key in ("date", "deadline", "send_at"):
        if key in data and data[key] is not None and not isinstance(data[key], str):
            data[key] = data[key].isoformat() if hasattr(data[key], "isoformat") else str(data[key])
    for key in ("start", "end"):
        # YAML 1.1 reads an unquoted 14:00 as the base-60 number 840.
        if isinstance(data.get(key), int) and not isinstance(data[key], bool):
            data[key] = f"{data[key] // 60:02d}:{data[key] % 60:02d}"
    return data, raw


def acquire_token(*, authority: str, client_id: str, secret: str, scope: str, verify: bool | str) -> str:
    app = msal.ConfidentialClientApplication(client_id, client_credential=secret, authority=authority,
                                             instance_discovery=False, verify=verify, http_client=_session(verify))
    result = app.acquire_token_for_client(scopes=[scope])
    if not isinstance(result, dict) or not result.get("access_token"):
        result = result if isinstance(result, dict) else {}
        first = (str(result.get("error_description") or "").splitlines() or [""])[0]
        raise CliError(f"Kein Token von Entra ID: {result.get('error', 'unbekannter Fehler')} {first}".strip())
    return result["access_token"]


def _config(args: argparse.Namespace) -> dict[str, Any]:
    env = os.environ
    values = {
        "url": (args.url or env.get("LOTSENBOT_URL", "")).rstrip("/"),
        "tenant": args.tenant or env.get("ANNOUNCE_TENANT_ID", ""),
        "client_id": args.client_id or env.get("ANNOUNCE_CLIENT_ID", ""),
        "secret": env.get("ANNOUNCE_CLIENT_SECRET", ""),
        "scope": args.scope or env.get("ANNOUNCE_SCOPE", ""),
        "authority_host": (args.authority_host or env.get("AUTHORITY_HOST", "https://login.microsoftonline.com")).rstrip("/"),
        "ca_bundle": args.ca_bundle or env.get("AUTH_CA_BUNDLE", ""),
    }
    names = {"url": "LOTSENBOT_URL", "tenant": "ANNOUNCE_TENANT_ID", "client_id": "ANNOUNCE_CLIENT_ID",
             "secret": "ANNOUNCE_CLIENT_SECRET", "scope": "ANNOUNCE_SCOPE"}
    missing = [names[k] for k in names if not values[k]]
    if missing:
        raise CliError("Es fehlt: " + ", ".join(missing))
    return values


def _token(cfg: dict[str, Any]) -> tuple[str, bool | str]:
    verify: bool | str = cfg["ca_bundle"] or True
    token = acquire_token(authority=f"{cfg['authority_host']}/{cfg['tenant']}", client_id=cfg["client_id"],
                          secret=cfg["secret"], scope=cfg["scope"], verify=verify)
    return token, verify


def _answer(response: requests.Response) -> int:
    try:
        body = response.json()
    except ValueError:
        body = {"text": response.text[:500]}
    if response.status_code == 400 and isinstance(body, dict):
        print("Die Ankündigung wurde nicht angenommen:", file=sys.stderr)
        for error in body.get("errors", []):
            print(f"  {error.get('field') or '(Datei)'}: {error.get('message')}", file=sys.stderr)
        return 1
    if response.status_code >= 300:
        message = body.get("error", {}).get("message") if isinstance(body, dict) else ""
        print(f"Fehler {response.status_code}: {message or body}", file=sys.stderr)
        return 2 if response.status_code in (401, 403) else 1
    print(json.dumps(body, ensure_ascii=False, indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m events.cli", description="Ankündigungen über die API senden.")
    parser.add_argument("--url")
    parser.add_argument("--tenant")
    parser.add_argument("--client-id")
    parser.add_argument("--scope")
    parser.add_argument("--authority-host")
    parser.add_argument("--ca-bundle")
    commands = parser.add_subparsers(dest="command", required=True)
    post = commands.add_parser("post", help="Eine Veranstaltung aus einer YAML- oder JSON-Datei ankündigen.")
    post.add_argument("file", type=Path)
    status = commands.add_parser("status", help="Den Stand einer Ankündigung zeigen.")
    status.add_argument("id")
    args = parser.parse_args(argv)
    try:
        cfg = _config(args)
        if args.command == "post":
            event, raw = read_event(args.file)
            token, verify = _token(cfg)
            response = _session(verify).post(
                f"{cfg['url']}/api/announcements", json=event,
                headers={"Authorization": f"Bearer {token}", "Idempotency-Key": hashlib.sha256(raw).hexdigest()})
        else:
            token, verify = _token(cfg)
            response = _session(verify).get(f"{cfg['url']}/api/announcements/{args.id}",
                                            headers={"Authorization": f"Bearer {token}"})
    except CliError as exc:
        print(exc, file=sys.stderr)
        return 2
    except requests.RequestException as exc:
        print(f"Der Bot ist nicht erreichbar: {type(exc).__name__}", file=sys.stderr)
        return 2
    return _answer(response)


if __name__ == "__main__":
    sys.exit(main())
