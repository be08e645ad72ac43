"""Dialogue: a short prompt from what the robot sees and what was said, replies streamed clause by clause."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator

from vlm_robot.core.types import PersonState
from vlm_robot.reasoning.llm import ChatModel

SYSTEM_PROMPT = "You are a helpful robot assistant. Keep answers short."
# Measured with SmolLM2-135M (see README): longer system prompts, listing skills or rules, made its
# replies worse (more refusals and repetitions); the scene goes in one line after this.

_SENTENCE_END = re.compile(r"([.!?])(\s|$)")


def describe_people(people: list[PersonState]) -> str:
    """One sentence a small language model can use: who is in view and how they look."""
    if not people:
        return "You see nobody."
    looks = "; ".join(f"person {p.id} looks {p.mood}{_sounds(p.text_sentiment)}"
                      for p in sorted(people, key=lambda q: q.id))
    return f"You see {len(people)} {'person' if len(people) == 1 else 'people'}: {looks}."


def _sounds(sentiment: float) -> str:
    """What their words sound like (VADER compound), when clearly positive or negative."""
    if sentiment <= -0.3:
        return " and sounds upset"
    if sentiment >= 0.5:
        return " and sounds pleased"
    return ""


class DialogueManager:
    """Keeps a bounded history of the conversation and streams replies from a chat model.

    Args:
        model: a :class:`~vlm_robot.reasoning.llm.ChatModel`.
        max_turns: turns (user + robot) kept in the prompt.
        max_tokens: reply length cap.
        max_sentences: the spoken reply is cut after this many sentences.
    """

    def __init__(self, model: ChatModel, max_turns: int = 6, max_tokens: int = 48, max_sentences: int = 2) -> None:
        self.model = model
        self.history: deque[dict[str, str]] = deque(maxlen=max_turns)
        self.max_tokens = max_tokens
        self.max_sentences = max_sentences

    def note_robot_said(self, text: str) -> None:
        """Add something the robot said without the model (a greeting) to the history."""
        self.history.append({"role": "assistant", "content": text})

    def messages(self, user_text: str, people: list[PersonState]) -> list[dict[str, str]]:
        system = f"{SYSTEM_PROMPT} {describe_people(people)}"
        return [{"role": "system", "content": system}, *self.history, {"role": "user", "content": user_text}]

    def generate(self, messages: list[dict[str, str]]) -> Iterator[str]:
        """Stream a reply to ``messages``; stops once ``max_sentences`` sentences are complete."""
        text = ""
        for piece in self.model.stream(messages, self.max_tokens):
            text += piece
            yield piece
            if len(_SENTENCE_END.findall(text)) >= self.max_sentences:
                break

    def commit(self, user_text: str, reply: str) -> None:
        """Add a finished exchange to the history."""
        self.history.append({"role": "user", "content": user_text})
        self.history.append({"role": "assistant", "content": reply})

    def reply(self, user_text: str, people: list[PersonState]) -> Iterator[str]:
        """Stream the reply to ``user_text``; the exchange is added to the history at the end."""
        text = ""
        for piece in self.generate(self.messages(user_text, people)):
            text += piece
            yield piece
        self.commit(user_text, clean_reply(text))


def clean_reply(text: str) -> str:
    """The reply as it should be spoken: whitespace collapsed, no markup, ends cleanly."""
    text = re.sub(r"[*_#`<>]", "", text)
    text = re.sub(r"\s+", " ", text).strip()
    if text and text[-1] not in ".!?":
        cut = max(text.rfind("."), text.rfind("!"), text.rfind("?"))
        text = text[: cut + 1] if cut > len(text) // 2 else text + "."
    return text
