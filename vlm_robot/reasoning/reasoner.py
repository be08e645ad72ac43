"""The reasoning core: people over time, the proactive policy, dialogue and intents, with no ROS in sight."""

from __future__ import annotations

import itertools
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from vlm_robot.core.types import Decision, Intent, PerceptionResult, PersonState, Transcript, Utterance
from vlm_robot.perception.text_affect import TextAffect
from vlm_robot.reasoning.dialogue import DialogueManager, clean_reply
from vlm_robot.reasoning.intents import greeting_intents, intents_from_transcript
from vlm_robot.reasoning.policy import ProactivePolicy
from vlm_robot.reasoning.tracker import PeopleTracker


@dataclass
class Outcome:
    """What one input made the reasoner decide, say and ask to do."""

    decisions: list[Decision] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    intents: list[Intent] = field(default_factory=list)


class Reasoner:
    """Fuses perception and transcripts into decisions, utterances and intents.

    Time is the event clock (stamps of the inputs), so a replay at any speed decides the same.
    """

    def __init__(
        self,
        tracker: PeopleTracker,
        policy: ProactivePolicy,
        dialogue: DialogueManager | None,
        text_affect: TextAffect | None = None,
    ) -> None:
        self.tracker = tracker
        self.policy = policy
        self.dialogue = dialogue
        self.text_affect = text_affect
        self.now = 0.0
        self._ids = itertools.count(1)
        self._speaker: dict[str, int | None] = {}
        self.lock = threading.RLock()

    def _id(self, prefix: str) -> str:
        return f"{prefix}{next(self._ids)}"

    def people(self) -> list[PersonState]:
        with self.lock:
            return self.tracker.visible(self.now)

    def on_perception(self, result: PerceptionResult) -> Outcome:
        with self.lock:
            return self._on_perception(result)

    def _on_perception(self, result: PerceptionResult) -> Outcome:
        self.now = max(self.now, result.stamp)
        self.tracker.update(result)
        out = Outcome()
        for d in self.policy.evaluate(self.people(), self.now):
            out.decisions.append(d)
            if d.action != "greet":
                continue
            text = d.detail["text"]
            out.utterances.append(Utterance(text, "greeting", d.reason, d.stamp, d.person_id, id=self._id("u")))
            if self.dialogue is not None:
                self.dialogue.note_robot_said(text)
            self.policy.note_speech(d.stamp)
            for it in greeting_intents(f"person{d.person_id}", d.reason, d.stamp):
                out.intents.append(_with_id(it, self._id("i")))
        return out

    def addressee(self) -> PersonState | None:
        """Whom a transcript comes from: the person most recently addressed, else the closest in view."""
        people = self.people()
        if not people:
            return None
        addressed = [p for p in people if p.addressed_at is not None]
        if addressed:
            return max(addressed, key=lambda p: p.addressed_at)
        return max(people, key=lambda p: p.box[2] * p.box[3])

    def hear(self, t: Transcript) -> Outcome:
        """The fast part of a transcript: who said it, how it sounds, which actions it asks for.

        Runs before the language model so that "stop" reaches the safety gate at once.
        """
        with self.lock:
            self.now = max(self.now, t.stamp)
            self.policy.note_speech(t.stamp)
            out = Outcome()
            person = self.addressee()
            pid = person.id if person else None
            if person is not None:
                person.addressed_at = self.now
                if self.text_affect is not None:
                    person.text_sentiment = self.text_affect.sentiment(t.text)
            self._speaker[t.id] = pid
            why = _replying(t, pid)
            out.decisions.append(Decision("reply", why, t.stamp, pid, {"transcript": t.id}))
            for it in intents_from_transcript(t.text, f"person{pid}" if person else "", t.stamp):
                out.intents.append(_with_id(it, self._id("i")))
                out.decisions.append(Decision("intent", f"{it.type} requested by speech", t.stamp, pid,
                                              {"intent": it.type, "target": it.target}))
            return out

    def answer(self, t: Transcript, on_piece: Callable[[str], None] | None = None) -> Outcome:
        """The language model's reply to a transcript already passed to :meth:`hear`, streamed to ``on_piece``.

        The lock is held only to read the scene and to write the history, not while generating.
        """
        if self.dialogue is None:
            return Outcome()
        with self.lock:
            pid = self._speaker.pop(t.id, None)
            messages = self.dialogue.messages(t.text, self.people())
        why = _replying(t, pid)
        try:
            text = clean_reply("".join(_tee(self.dialogue.generate(messages), on_piece)))
            kind, text = "reply", text or "Sorry, I have no answer to that."
        except Exception as e:  # noqa: BLE001 - the person must get an answer even when the model fails
            kind, text = "error", "Sorry, I could not think of an answer just now."
            why = f"{why}; language model failed: {type(e).__name__}: {e}"
        with self.lock:
            if kind == "reply":
                self.dialogue.commit(t.text, text)
            return Outcome(utterances=[Utterance(text, kind, why, t.stamp, pid, t.id, self._id("u"))])

    def answer_from_vision(self, t: Transcript, text: str, source: str) -> Outcome:
        """Speak the VLM node's answer to a question about the scene (see reasoning/visual.py) as the reply."""
        spoken = _ENTITY.sub(lambda m: f"{'object' if m[1] == 'obj' else 'person'} {m[2]}", text)
        spoken = _CONFIDENCE.sub("", spoken)  # "(0.61)" is for the log, not for the ear
        spoken = clean_reply(re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m[1] + m[2].upper(), spoken))
        with self.lock:
            pid = self._speaker.pop(t.id, None)
            if self.dialogue is not None:
                self.dialogue.commit(t.text, spoken)
        why = f"{_replying(t, pid)}; answered from what the camera sees ({source})"
        return Outcome(utterances=[Utterance(spoken, "reply", why, t.stamp, pid, t.id, self._id("u"))])

    def on_transcript(self, t: Transcript, on_piece: Callable[[str], None] | None = None) -> Outcome:
        """:meth:`hear` then :meth:`answer`, as one outcome."""
        out = self.hear(t)
        out.utterances += self.answer(t, on_piece).utterances
        return out

    def on_transcript_error(self, t: Transcript, what: str) -> Outcome:
        """An explicit answer for a transcript that could not be handled: nothing goes unanswered."""
        why = f'could not answer "{t.text[:60]}": {what}'
        text = "Sorry, I could not answer that just now. Please say it again."
        return Outcome(utterances=[Utterance(text, "error", why, t.stamp, None, t.id, self._id("u"))])


_ENTITY = re.compile(r"<(person|obj)(\d+)>")  # entity tokens of the VLM's answers, spoken as "person 1"
_CONFIDENCE = re.compile(r"\s*\(\d+(\.\d+)?\)")


def _replying(t: Transcript, pid: int | None) -> str:
    return f'replying to "{t.text[:60]}"' + (f" from person {pid}" if pid is not None else "")


def _tee(pieces, on_piece):
    for p in pieces:
        if on_piece is not None:
            on_piece(p)
        yield p


def _with_id(it: Intent, new_id: str) -> Intent:
    return Intent(it.type, it.target, dict(it.params), it.source, it.reason, new_id, it.stamp)
