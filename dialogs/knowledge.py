"""Questions to the knowledge base: answer, "Meinten Sie …?", or an honest "weiß ich nicht"."""

from __future__ import annotations

import logging
import re
from typing import Protocol

from cards.markdown import to_elements
from cards.render import CardRenderer
from dialogs.context import Message, Outcome, Turn
from knowledge.articles import Article
from knowledge.engine import Result

log = logging.getLogger(__name__)

_HAS_WORD = re.compile(r"[^\W\d_]{2,}")
MAX_CARD_QUESTION = 1000  # the question rides along in card data; long pastes are cut there


class Answers(Protocol):
    def ask(self, text: str) -> Result: ...

    def article(self, id: str) -> Article | None: ...


class Feedback(Protocol):
    async def record_feedback(self, article_id: str, helpful: bool, decision: str = "answer") -> None: ...

    async def record_unanswered(self, text: str, decision: str) -> None: ...


class KnowledgeDialog:
    """Turns questions into answer, suggestion or unknown cards and records feedback."""

    def __init__(self, answers: Answers, feedback: Feedback, cards: CardRenderer) -> None:
        self._answers = answers
        self._feedback = feedback
        self._cards = cards

    async def question(self, turn: Turn) -> Outcome:
        """Any message that is not a command: look it up and answer as sure as we are."""
        text = turn.text
        if not _HAS_WORD.search(text):
            return Outcome.say(Message(text="Schreiben Sie mir Ihre Frage bitte in ein paar Worten, zum Beispiel: "
                                            "„Wie teile ich meinen Bildschirm?“"))
        result = self._answers.ask(text)
        question = text[:MAX_CARD_QUESTION]
        log.info("question answered", extra={"decision": result.decision, "confidence": round(result.confidence, 3),
                                              "top": result.hits[0].id if result.hits else None})
        if result.decision == "answer":
            article = self._answers.article(result.hits[0].id)
            if article is not None:
                return Outcome.say(self._answer(article, question))
        if result.decision in ("answer", "suggest") and result.hits:
            card = self._cards.render("suggest", hits=result.hits[:3], question=question)
            return Outcome.say(Message(card=card, summary="Meinten Sie …?"))
        await self._feedback.record_unanswered(text, "unknown")
        return Outcome.say(self._unknown(question, "Dazu habe ich leider keinen passenden Artikel gefunden."))

    async def show_article(self, turn: Turn) -> Outcome:
        """A candidate picked from "Meinten Sie …?": the suggestion card becomes the answer."""
        article = self._answers.article(str(turn.data.get("article", "")))
        if article is None:
            return Outcome.say(Message(text="Diesen Artikel gibt es nicht mehr. Stellen Sie Ihre Frage gern noch einmal."))
        answer = self._answer(article, _question(turn))
        return Outcome(card_update=answer.card)

    async def feedback(self, turn: Turn) -> Outcome:
        """👍 or 👎 on an answer: store it (no name, no text), thank, and after 👎 offer help."""
        article = self._answers.article(str(turn.data.get("article", "")))
        helpful = turn.data.get("helpful")
        if article is None or not isinstance(helpful, bool):
            return Outcome.say(Message(text="Diese Rückmeldung konnte ich keinem Artikel zuordnen. Danke trotzdem!"))
        await self._feedback.record_feedback(article.id, helpful)
        question = _question(turn)
        updated = self._answer(article, question, feedback="helpful" if helpful else "not_helpful").card
        if helpful:
            return Outcome(card_update=updated)
        return Outcome(messages=(self._unknown(question, "Schade, dass der Artikel nicht geholfen hat."),),
                       card_update=updated)

    async def none_of_these(self, turn: Turn) -> Outcome:
        """"Nichts davon": note the gap and offer rephrasing or a Digitallots*in."""
        question = _question(turn)
        if question:
            await self._feedback.record_unanswered(question, "suggest")
        card = self._unknown(question, "Danke für den Hinweis. Dann passt keiner meiner Artikel.").card
        return Outcome(card_update=card)

    def _answer(self, article: Article, question: str, feedback: str = "") -> Message:
        card = self._cards.render("answer", article=article, blocks=to_elements(article.body),
                                  question=question, feedback=feedback)
        return Message(card=card, summary=article.title)

    def _unknown(self, question: str, reason: str) -> Message:
        card = self._cards.render("unknown", heading="Das weiß ich leider nicht", reason=reason, question=question)
        return Message(card=card, summary="Das weiß ich leider nicht")


def _question(turn: Turn) -> str:
    value = turn.data.get("question")
    return value[:MAX_CARD_QUESTION] if isinstance(value, str) else ""
