"""Our small Markdown subset → Adaptive Card elements, so no Teams client parses Markdown itself.

Why: Teams clients disagree on emphasis and escapes (a gender star in "Kolleg*innen und
Digitallots*innen" turns the words between into italics on some clients), so we render curated text
as RichTextBlock/TextRun, which every client shows literally. Supported: paragraphs, numbered and
bulleted lists, **bold**, _italic_, [links](https://...).
"""

from __future__ import annotations

import re
from typing import Any

_ITEM = re.compile(r"^(\d+)[.)]\s+(.*)$")
_BULLET = re.compile(r"^[-*•]\s+(.*)$")
_INLINE = re.compile(r"\*\*(?P<bold>.+?)\*\*|\[(?P<label>[^\]]+)\]\((?P<url>https?://[^)\s]+)\)|(?<!\w)_(?P<em>[^_]+)_(?!\w)")


def inlines(text: str) -> list[dict[str, Any]]:
    """TextRuns for one line of text with bold, italic and links."""
    runs: list[dict[str, Any]] = []
    pos = 0
    for match in _INLINE.finditer(text):
        if match.start() > pos:
            runs.append({"type": "TextRun", "text": text[pos:match.start()]})
        if match.group("bold") is not None:
            runs.append({"type": "TextRun", "text": match.group("bold"), "weight": "Bolder"})
        elif match.group("url") is not None:
            runs.append({"type": "TextRun", "text": match.group("label"), "color": "Accent", "underline": True,
                         "selectAction": {"type": "Action.OpenUrl", "url": match.group("url")}})
        else:
            runs.append({"type": "TextRun", "text": match.group("em"), "italic": True})
        pos = match.end()
    if pos < len(text):
        runs.append({"type": "TextRun", "text": text[pos:]})
    return runs or [{"type": "TextRun", "text": ""}]


def to_elements(markdown: str) -> list[dict[str, Any]]:
    """Card body elements for a Markdown text: one RichTextBlock per paragraph or list item."""
    elements: list[dict[str, Any]] = []
    paragraph: list[str] = []
    gap = "Default"

    def flush() -> None:
        nonlocal gap
        if paragraph:
            elements.append(_block(inlines(" ".join(paragraph)), gap))
            paragraph.clear()
            gap = "Medium"

    for raw in markdown.splitlines():
        line = raw.strip()
        if not line:
            flush()
            continue
        item, bullet = _ITEM.match(line), _BULLET.match(line)
        if item or bullet:
            flush()
            marker, rest = (f"{item.group(1)}. ", item.group(2)) if item else ("• ", bullet.group(1))
            elements.append(_block([{"type": "TextRun", "text": marker, "weight": "Bolder"}] + inlines(rest),
                                   "Small" if elements and gap == "Small" else gap))
            gap = "Small"
        else:
            if gap == "Small" and not paragraph:
                gap = "Medium"
            paragraph.append(line)
    flush()
    if elements:
        elements[0]["spacing"] = "Default"
    return elements


def _block(runs: list[dict[str, Any]], spacing: str) -> dict[str, Any]:
    return {"type": "RichTextBlock", "spacing": spacing, "inlines": runs}
