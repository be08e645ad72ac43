"""Dialogue: a short prompt from what the robot sees and what was said, replies streamed clause by clause."""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import PersonState
from vlm_robot.reasoning.llm import ChatModel
from vlm_robot.reasoning.memory import PersonMemory

SYSTEM_PROMPT = "You are a helpful robot assistant. Keep answers short."
# Measured with SmolLM2-135M (see README): longer system prompts, listing skills or rules, made its
# replies worse (more refusals and repetitions); the scene goes in one line after this.

_SENTENCE_END = re.compile(r"([.!?])(\s|$)")


@dataclass(frozen=True)
class DialogueConfig:
    """config/reasoning.yaml ``dialogue.*``: what goes into the prompt besides the people in view.

    Measured with SmolLM2-135M (README, "Dialogue memory"): the speaker's name made it answer "What is
    my name?" right in 3 of 4 cases instead of 0 and invent fewer names; the VLM's scene description let
    it answer "What is on the table?" (4/4 instead of 0/4); the person's earlier questions helped once in
    4 and are left out.

    Attributes:
        speaker_memory: say whom the robot is talking to (their name, a mood that held) when remembered.
        scene_max_age_s: the latest VLM scene description goes in when it is at most this old (0: never).
        scene_max_chars: the scene description is cut at a sentence end before this many characters.
        verdict_timeout_s: a reply about an action waits this long for the safety gate's verdict (the gate
            answers in milliseconds; without a verdict the robot says it is not doing anything yet).
        min_turn_similarity: a turn less like every example sentence of reasoning/turns.py than this (cosine
            of MiniLM embeddings) is open talk for the language model.
        robot_name: what the robot calls itself ("" : "the robot assistant", no personal name).
        open_talk_budget_s: the language model's candidates for open talk stop after this long (a slow or stuck
            model): what passed so far is said, else a short reply of the robot's own.
        speaker_wait_s: words heard before the tracker has followed the camera to the moment they were said
            (right after a restart) wait at most this long for it, so that the speaker, and their memory, is
            known by sight.
        emergency_number: what urgent replies tell people to call ("112 or 911"; "999" in the UK).
        crisis_line: the crisis line the reply to words of self-harm names (988 in the US, 116 123 in the UK and
            Ireland by default: set the one of the country the robot works in).
        speculate: open talk starts drawing its reply from the microphone's speculative transcript (taken at the
            turn's first short pause, before the end of the turn is decided; /speech/partial), and the final
            transcript takes that reply when its prompt is the same (reasoning/open_talk.py ``speculate``).
    """

    speaker_memory: bool = True
    scene_max_age_s: float = 10.0
    scene_max_chars: int = 160
    verdict_timeout_s: float = 2.0
    min_turn_similarity: float = 0.5
    robot_name: str = ""
    open_talk_budget_s: float = 1.5
    speaker_wait_s: float = 1.0
    speculate: bool = True
    emergency_number: str = "112 or 911"
    crisis_line: str = "988 in the US or 116 123 in the UK and Ireland"

    def __post_init__(self) -> None:
        for name in ("emergency_number", "crisis_line"):
            value = getattr(self, name)
            if not value.strip() or len(value) > 100:
                raise ConfigError(f"dialogue.{name} must be 1-100 characters, the words said after 'call', got "
                                  f"{value!r}; e.g. emergency_number: \"999\", crisis_line: \"116 123, the "
                                  "Samaritans\"")
        if not 0.1 <= self.open_talk_budget_s <= 30:
            raise ConfigError(f"dialogue.open_talk_budget_s must be in [0.1, 30], got {self.open_talk_budget_s}")
        if not 0 <= self.speaker_wait_s <= 10:
            raise ConfigError(f"dialogue.speaker_wait_s must be in [0, 10], got {self.speaker_wait_s}")
        if not 0.05 <= self.verdict_timeout_s <= 30:
            raise ConfigError(f"dialogue.verdict_timeout_s must be in [0.05, 30], got {self.verdict_timeout_s}")
        if not 0 <= self.min_turn_similarity <= 1:
            raise ConfigError(f"dialogue.min_turn_similarity must be in [0, 1], got {self.min_turn_similarity}")
        if self.scene_max_age_s < 0:
            raise ConfigError(f"dialogue.scene_max_age_s must be >= 0, got {self.scene_max_age_s}")
        if not 20 <= self.scene_max_chars <= 2000:
            raise ConfigError(f"dialogue.scene_max_chars must be in [20, 2000], got {self.scene_max_chars}")


def describe_people(people: list[PersonState], names: dict[int, str] | None = None) -> str:
    """One sentence a small language model can use: who is in view, their name if known, and how they look."""
    if not people:
        return "You see nobody."
    names = names or {}
    looks = "; ".join(f"person {p.id}{f' ({names[p.id]})' if p.id in names else ''} looks {p.mood}"
                      f"{_sounds(p.text_sentiment)}" for p in sorted(people, key=lambda q: q.id))
    return f"You see {len(people)} {'person' if len(people) == 1 else 'people'}: {looks}."


def describe_speaker(memory: PersonMemory | None) -> str:
    """Whom the robot is talking to, from memory: ``"You are talking to Alice, who has looked mostly sad."``."""
    if memory is None or not memory.name:
        return ""
    mood = memory.mood_summary()
    return f"You are talking to {memory.name}{f', who has looked {mood}' if mood else ''}."


_ENTITY = re.compile(r"<(person|obj)\d+>")
_CONFIDENCE = re.compile(r"\s*\(\d+(\.\d+)?\)")


def describe_scene(text: str, max_chars: int = 160) -> str:
    """The VLM's scene description for the prompt: entity tokens and confidences out, cut at a sentence end.

    The VLM numbers people by itself (``<person1>``), not by the tracker's ids, so its people become
    "someone" rather than a second, conflicting "person 1".
    """
    text = _ENTITY.sub(lambda m: "someone" if m[1] == "person" else "an object", text)
    text = re.sub(r"\s+", " ", _CONFIDENCE.sub("", text)).strip()
    if not text:
        return ""
    if len(text) > max_chars:
        cut = max(text.rfind(". ", 0, max_chars), text.rfind("! ", 0, max_chars), text.rfind("? ", 0, max_chars))
        text = text[: cut + 1] if cut > 0 else text[:max_chars].rsplit(" ", 1)[0] + "."
    return f"The camera shows: {text[0].lower()}{text[1:]}"


_RECALL = re.compile(r"\b(what(?:'s| is) my name|who am i|do you (?:know|remember|recogni[sz]e) (?:me|my name|who i "
                     r"am)|(?:have|did) we (?:met|meet)(?: before)?|have you (?:met|seen) me before)\b",
                     re.IGNORECASE)


def recall_answer_pattern(text: str) -> bool:
    """True for "what is my name?", "who am I?", "do you remember me?"."""
    return _RECALL.search(text) is not None


def recall_answer(text: str, memory: PersonMemory | None) -> str | None:
    """A direct answer from memory to "what is my name?" / "do you remember me?", when the name is known.

    The 135M model got the name right in 3 of 4 prompts that carried it; memory gets it right every time.
    """
    if memory is None or not memory.name or _RECALL.search(text) is None:
        return None
    return name_answer(text, memory.name)


def name_answer(text: str, name: str) -> str:
    """"Yes, you are Alice." to "do you ...?", else "Your name is Alice."."""
    asks = re.match(r"\W*(do you|have we|did we|have you)\b", text.lower())
    return f"Yes, you are {name}." if asks else f"Your name is {name}."


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

    def __init__(self, model: ChatModel, max_turns: int = 6, max_tokens: int = 48, max_sentences: int = 2,
                 config: DialogueConfig | None = None) -> None:
        self.model = model
        self.config = config or DialogueConfig()
        self.history: deque[dict[str, str]] = deque(maxlen=max_turns)
        self.max_tokens = max_tokens
        self.max_sentences = max_sentences

    def note_robot_said(self, text: str) -> None:
        """Add something the robot said without the model (a greeting) to the history."""
        self.history.append({"role": "assistant", "content": text})

    def messages(self, user_text: str, people: list[PersonState], speaker: PersonMemory | None = None,
                 scene: str = "", names: dict[int, str] | None = None) -> list[dict[str, str]]:
        """The chat messages for ``user_text``: a short system line (people in view with their names, the
        speaker from memory, the camera's scene description when given), the history, the user's words.
        """
        system = f"{SYSTEM_PROMPT} {self.context(people, speaker, scene, names)}".strip()
        return [{"role": "system", "content": system}, *self.history, {"role": "user", "content": user_text}]

    def context(self, people: list[PersonState], speaker: PersonMemory | None = None, scene: str = "",
                names: dict[int, str] | None = None) -> str:
        """What the prompt says of the moment: the people in view with their names, the speaker from memory,
        the camera's scene description when given."""
        parts = [describe_people(people, names)]
        if self.config.speaker_memory:
            parts.append(describe_speaker(speaker))
        if scene:
            parts.append(describe_scene(scene, self.config.scene_max_chars))
        return " ".join(p for p in parts if p)

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
