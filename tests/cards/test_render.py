"""Every card renders to valid Adaptive Card JSON whatever the text; user text cannot inject Markdown."""

from __future__ import annotations

import json

import pytest

from cards.markdown import inlines, to_elements
from cards.render import CardError, CardRenderer, attachment
from dialogs.router import Command
from knowledge.articles import Article, Link
from tests.cards.parts import strings

NASTY = ['He said "hi"', "back\\slash\\", "{{ site.x }} {% if %}", "[klick](https://evil.example)",
         "<b>html</b> &amp;", "**fett** _kursiv_", "Kolleg*innen und Digitallots*innen", "😀 \u202e \x00", "}\n{"]


@pytest.fixture(scope="module")
def cards():
    return CardRenderer()


def article(text: str) -> Article:
    import datetime as dt
    return Article(id="a", title=text, tags=("teams",), questions=(text,), synonyms=(), links=(Link(text, "https://x.example"),),
                   reviewed=dt.date(2026, 11, 21), owner="CDO-Büro", body=f"1. {text}\n2. weiter")


@pytest.mark.parametrize("text", NASTY)
def test_user_text_never_breaks_any_card(cards, text):
    from knowledge.engine import Hit

    async def h(t):
        """Unused."""

    rendered = [
        cards.render("notice", title=text, lines=[text]),
        cards.render("help", commands=[Command((text,), h, text)]),
        cards.render("suggest", hits=[Hit("a", text, 1.0)], question=text),
        cards.render("unknown", heading=text, reason=text, question=text),
        cards.render("answer", article=article(text), blocks=to_elements(text), question=text, feedback=""),
        cards.render("error", code=text),
        cards.render("welcome", bot_name=text),
    ]
    for card in rendered:
        assert card["version"] == "1.5"
        assert any(text in s for s in strings(card)), "the text arrives unchanged as one value"
        json.loads(json.dumps(card))




def test_user_text_goes_into_text_runs_not_markdown_text_blocks(cards):
    card = cards.render("unknown", heading="x", reason="[klick](https://evil.example)", question="q")
    blocks = json.dumps(card)
    assert '"type": "TextBlock"' not in blocks
    assert "selectAction" not in blocks


def test_every_template_is_a_1_5_card(cards):
    assert {"answer", "suggest", "unknown", "help", "welcome", "error", "notice"} <= set(cards.names())


def test_broken_template_is_reported(tmp_path):
    (tmp_path / "bad.json.j2").write_text('{"type": "AdaptiveCard", "version": "1.5", "body": [,]}')
    (tmp_path / "old.json.j2").write_text('{"type": "AdaptiveCard", "version": "1.2"}')
    renderer = CardRenderer(tmp_path)
    with pytest.raises(CardError):
        renderer.render("bad")
    with pytest.raises(CardError):
        renderer.render("old")


def test_attachment_shape():
    assert attachment({"type": "AdaptiveCard"}) == {"contentType": "application/vnd.microsoft.card.adaptive",
                                                    "content": {"type": "AdaptiveCard"}}


def test_markdown_subset_becomes_rich_text():
    elements = to_elements("Einleitung mit **fett**.\n\n1. Klicken Sie auf **Teilen**.\n2. Siehe [Hilfe](https://support.microsoft.com/de-de).\n\n- Punkt\n\nKolleg*innen und Digitallots*innen")
    kinds = [e["type"] for e in elements]
    assert kinds == ["RichTextBlock"] * 5
    assert elements[1]["inlines"][0]["text"] == "1. "
    assert {"type": "TextRun", "text": "Teilen", "weight": "Bolder"} in elements[1]["inlines"]
    link = next(r for r in elements[2]["inlines"] if "selectAction" in r)
    assert link["selectAction"] == {"type": "Action.OpenUrl", "url": "https://support.microsoft.com/de-de"}
    assert elements[4]["inlines"] == [{"type": "TextRun", "text": "Kolleg*innen und Digitallots*innen"}]


def test_only_http_links_become_clickable():
    runs = inlines("[x](javascript:alert(1)) und [y](https://ok.example)")
    assert [r.get("selectAction", {}).get("url") for r in runs if "selectAction" in r] == ["https://ok.example"]
