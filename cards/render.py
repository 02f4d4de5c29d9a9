"""Render Adaptive Cards from the jinja2 templates in this folder.

Safety rule, enforced here and not left to template authors: every `{{ expression }}` is emitted as
one complete JSON value (json.dumps), so text with quotes, backslashes or braces can never break the
JSON. Templates therefore write `"text": {{ title }}` without quotes. Text that comes from users goes
into RichTextBlock/TextRun elements, which Teams does not parse as Markdown, so it cannot inject a
link; curated Markdown (knowledge articles) uses TextBlock.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jinja2
import markupsafe

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
SCHEMA_VERSION = "1.5"
_TEMPLATES = Path(__file__).resolve().parent / "templates"


class CardError(ValueError):
    """A template produced something that is not a valid Adaptive Card."""


def _json_value(value: Any) -> markupsafe.Markup:
    if isinstance(value, jinja2.runtime.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, markupsafe.Markup):  # macro output: JSON the template already built
        return value
    # Markup so that autoescape (on only to mark macro output as trusted) leaves the JSON alone.
    return markupsafe.Markup(json.dumps(value, ensure_ascii=False))


class CardRenderer:
    """Loads the templates once; `render(name, **data)` returns the card as a dict."""

    def __init__(self, directory: Path = _TEMPLATES) -> None:
        self._env = jinja2.Environment(
            loader=jinja2.FileSystemLoader(str(directory)),
            undefined=jinja2.StrictUndefined,
            autoescape=True,
            finalize=_json_value,
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=False,
        )

    def render(self, name: str, **data: Any) -> dict[str, Any]:
        """The card `templates/<name>.json.j2` filled with `data`, checked to be a 1.5 Adaptive Card."""
        text = self._env.get_template(f"{name}.json.j2").render(**data)
        try:
            card = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CardError(f"card {name!r} is not valid JSON: {exc}") from None
        if card.get("type") != "AdaptiveCard" or card.get("version") != SCHEMA_VERSION:
            raise CardError(f"card {name!r} must be an AdaptiveCard of version {SCHEMA_VERSION}")
        return card

    def names(self) -> list[str]:
        return sorted(t.removesuffix(".json.j2") for t in self._env.list_templates() if t.endswith(".json.j2"))


def attachment(card: dict[str, Any]) -> dict[str, Any]:
    """The Bot Framework attachment that carries a card."""
    return {"contentType": CARD_CONTENT_TYPE, "content": card}
