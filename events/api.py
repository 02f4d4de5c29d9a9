"""HTTP endpoints of announcements: the push API for automation, the calendar file and the CSV export.

POST /api/announcements and GET /api/announcements/{id} take Microsoft Entra ID bearer tokens: RS256
signature against the tenant's published keys, issuer, audience and the app role (e.g.
Announcements.Send) in the `roles` claim. 401 without a valid token, 403 without the role, 400 with a
list of errors for bad input. The .ics and .csv links carry their own secret instead of a token.
"""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
from typing import Any

from aiohttp import web

from entra.jwt import JwtValidator, OpenIdKeys, TokenInvalid, bearer
from events.announcements import parse_send_at, validate
from events.cards import export_signature
from events.ics import calendar, token_matches
from events.models import Author, berlin_now
from events.publishing import Publisher, PublishError
from storage.base import Conflict

log = logging.getLogger(__name__)

# Tests and tools look inside through this key; request handlers never read it.
EVENT_PARTS = web.AppKey("lotsenbot_events", dict)
_FIELDS = {"title", "description", "date", "start", "end", "place", "link", "capacity", "deadline", "audience",
           "send_at"}
_AUDIENCE_FIELDS = {"users", "departments", "channels"}


def _problem(status: int, code: str, message: str, **headers: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status, headers=headers)


def _bad_request(errors: dict[str, str] | list[tuple[str, str]]) -> web.Response:
    items = errors.items() if isinstance(errors, dict) else errors
    return web.json_response({"errors": [{"field": f, "message": m} for f, m in items]}, status=400)


class ApiAuth:
    """Entra ID bearer tokens with an app role; `None` parts mean the API is not configured."""

    def __init__(self, keys: OpenIdKeys, validator: JwtValidator, role: str) -> None:
        self._keys = keys
        self._validator = validator
        self._role = role

    async def start(self) -> None:
        await self._keys.start()

    async def stop(self) -> None:
        await self._keys.stop()

    async def claims(self, request: web.Request) -> dict[str, Any] | web.Response:
        """The caller's verified claims, or the 401/403 response to return."""
        try:
            claims = await self._validator.claims(bearer(request.headers.get("Authorization")))
        except TokenInvalid as exc:
            log.info("announcements api: token rejected", extra={"event": "api_auth", "reason": str(exc)})
            return _problem(401, "unauthorized", "Anmeldung fehlt oder ist ungültig (Entra-ID-Token erwartet).",
                            **{"WWW-Authenticate": 'Bearer error="invalid_token"'})
        roles = claims.get("roles")
        if not isinstance(roles, list) or self._role not in roles:
            return _problem(403, "forbidden", f"Dem Token fehlt die App-Rolle {self._role}.")
        return claims


def flatten(payload: Any) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """The API's JSON event as the form's flat fields, or structural errors."""
    if not isinstance(payload, dict):
        return {}, [("", "Erwartet wird ein JSON-Objekt.")]
    errors = [(k, "Unbekanntes Feld.") for k in sorted(set(payload) - _FIELDS)]
    flat = {k: v for k, v in payload.items() if k in _FIELDS - {"audience", "deadline"}}
    deadline = payload.get("deadline")
    if isinstance(deadline, str) and deadline:
        day, _, at = deadline.partition("T")
        flat["deadline_date"], flat["deadline_time"] = day, at[:5]
    elif deadline not in (None, ""):
        errors.append(("deadline", "Erwartet wird JJJJ-MM-TT oder JJJJ-MM-TTTHH:MM."))
    audience = payload.get("audience", {"users": "all"})
    if isinstance(audience, str):
        audience = {"users": audience}
    if not isinstance(audience, dict):
        errors.append(("audience", "Erwartet wird ein Objekt mit users, departments, channels."))
    else:
        errors += [(f"audience.{k}", "Unbekanntes Feld.") for k in sorted(set(audience) - _AUDIENCE_FIELDS)]
        flat.update({k: v for k, v in audience.items() if k in _AUDIENCE_FIELDS})
        flat.setdefault("users", "all" if "channels" not in audience else "none")
    return flat, errors


class AnnouncementsApi:
    """The aiohttp handlers; `add_routes(app)` registers them."""

    def __init__(self, publisher: Publisher, auth: ApiAuth | None) -> None:
        self._publisher = publisher
        self._auth = auth

    def add_routes(self, app: web.Application) -> None:
        app.router.add_post("/api/announcements", self.post)
        app.router.add_get("/api/announcements/{id}", self.get)
        app.router.add_get("/api/events/{id}/teilnehmende.csv", self.participants_csv)
        app.router.add_get("/api/events/{id}/{token}.ics", self.ics)

    async def _caller(self, request: web.Request) -> dict[str, Any] | web.Response:
        if self._auth is None:
            return _problem(503, "not_configured", "Die Ankündigungs-API ist nicht eingerichtet "
                                                   "(ANNOUNCEMENTS_API_AUDIENCES und OpenID-Metadaten fehlen).")
        return await self._auth.claims(request)

    async def post(self, request: web.Request) -> web.Response:
        """Create and send (or schedule) an announcement; 202 with the status link."""
        caller = await self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        try:
            payload = json.loads(await request.read() or b"null")
        except (ValueError, UnicodeDecodeError):
            return _bad_request([("", "Der Inhalt ist kein gültiges JSON.")])
        flat, structural = flatten(payload)
        if not isinstance(payload, dict):
            return _bad_request(structural)
        now = self._publisher.now()
        channels = frozenset(cid for cid, _ in await self._publisher.audience.channels())
        event, errors = validate(flat, now, channel_ids=channels)
        send_at, send_error = parse_send_at(flat.get("send_at"), now)
        problems = structural + list(errors.items()) + ([("send_at", send_error)] if send_error else [])
        if problems or event is None:
            return _bad_request(problems)
        app_id = str(caller.get("azp") or caller.get("appid") or caller.get("sub") or "")
        key = request.headers.get("Idempotency-Key", "").strip()
        if len(key) > 200:
            return _bad_request([("Idempotency-Key", "Höchstens 200 Zeichen.")])
        id = hashlib.sha256(f"{app_id}\n{key}".encode()).hexdigest()[:32] if key else None
        try:
            ann = await self._publisher.draft(event, Author(app_id=app_id, name="Automatisierung"), id=id)
        except Conflict:
            existing = await self._publisher.store.get(id or "")
            return web.json_response(await self._describe(existing), status=200) if existing else \
                _problem(409, "conflict", "Diese Ankündigung wird gerade angelegt.")
        try:
            ann = await (self._publisher.schedule(ann.id, send_at) if send_at else self._publisher.publish(ann.id))
        except PublishError as exc:
            return _problem(409, "conflict", str(exc))
        log.info("announcement posted through the api", extra={"event": "api_announcement", "announcement": ann.id,
                                                                "caller": app_id, "scheduled": bool(send_at)})
        return web.json_response(await self._describe(ann), status=202,
                                 headers={"Location": f"/api/announcements/{ann.id}"})

    async def get(self, request: web.Request) -> web.Response:
        """Status of an announcement: lifecycle, delivery progress, registrations."""
        caller = await self._caller(request)
        if isinstance(caller, web.Response):
            return caller
        ann = await self._publisher.store.get(request.match_info["id"])
        if ann is None:
            return _problem(404, "not_found", "Diese Ankündigung gibt es nicht.")
        return web.json_response(await self._describe(ann))

    async def _describe(self, ann: Any) -> dict[str, Any]:
        body: dict[str, Any] = {"id": ann.id, "status": ann.status, "version": ann.version,
                                "status_url": f"/api/announcements/{ann.id}", "event": ann.event.to_body(),
                                "send_at": ann.send_at, "sent_at": ann.sent_at, "progress": None}
        try:
            p = await self._publisher.engine.progress(ann.send_job)
            body["progress"] = {"total": p.total, "sent": p.sent, "failed": p.failed, "blocked": p.blocked,
                                "pending": p.pending, "done": p.done, "eta_seconds": p.eta_seconds,
                                "failures": [{"recipient": who, "reason": why} for who, why in p.failures]}
        except KeyError:
            pass
        if ann.event.is_event:
            roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
            body["registrations"] = {"participants": len(roster.participants), "waiting": len(roster.waiting),
                                     "capacity": ann.event.capacity, "free": roster.free}
        body["calendar_url"] = self._publisher.cards.links.ics(ann) or None
        return body

    async def ics(self, request: web.Request) -> web.Response:
        """The calendar file; 404 unless the link's secret matches."""
        ann = await self._publisher.store.get(request.match_info["id"])
        if ann is None or ann.status in ("draft", "scheduled") or not ann.event.is_event \
                or not token_matches(ann, request.match_info["token"]):
            return web.Response(status=404, text="Diesen Kalendereintrag gibt es nicht.")
        text = calendar(ann, now=berlin_now(self._publisher.clock()))
        return web.Response(body=text.encode("utf-8"), content_type="text/calendar", charset="utf-8",
                            headers={"Content-Disposition": 'attachment; filename="veranstaltung.ics"',
                                     "Cache-Control": "no-store"})

    async def participants_csv(self, request: web.Request) -> web.Response:
        """Participants and waiting list as CSV (Excel-friendly); the signed link lasts 15 minutes."""
        ann = await self._publisher.store.get(request.match_info["id"])
        try:
            expires = int(request.query.get("bis", ""))
        except ValueError:
            expires = 0
        signature = request.query.get("sig", "")
        if ann is None or expires < self._publisher.clock() or not hmac.compare_digest(
                export_signature(ann, expires), signature):
            return web.Response(status=404, text="Dieser Link ist abgelaufen oder ungültig. "
                                                 "Bitte fordern Sie im Bot einen neuen an.")
        roster = await self._publisher.rsvps.roster(ann.id, ann.event.capacity)
        out = io.StringIO()
        writer = csv.writer(out, delimiter=";", lineterminator="\r\n")
        writer.writerow(["Status", "Platz auf der Warteliste", "Name", "Entra-Objekt-ID", "Angemeldet am"])
        rows = [("Teilnahme", "", a) for a in roster.participants]
        rows += [("Warteliste", str(i), a) for i, a in enumerate(roster.waiting, 1)]
        for status, position, a in rows:
            at = dt.datetime.fromtimestamp(a.at, dt.timezone.utc).astimezone(berlin_now(0).tzinfo)
            writer.writerow([status, position, _cell(a.name), a.aad_id, at.strftime("%d.%m.%Y %H:%M")])
        return web.Response(body=("\ufeff" + out.getvalue()).encode("utf-8"), content_type="text/csv",
                            charset="utf-8", headers={"Content-Disposition": 'attachment; filename="teilnehmende.csv"',
                                                      "Cache-Control": "no-store"})


def _cell(text: str) -> str:
    """Names never start a formula when the file is opened in a spreadsheet (CSV injection)."""
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text
