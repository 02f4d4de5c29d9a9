"""The key under which app.py exposes the pilot-routing services to tests and tools (never to handlers)."""

from __future__ import annotations

from aiohttp import web

ROUTING_PARTS = web.AppKey("lotsenbot_routing", dict)
