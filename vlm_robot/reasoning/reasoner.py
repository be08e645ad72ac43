"""The reasoning core: people over time, the proactive policy, dialogue and intents, with no ROS in sight."""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from vlm_robot.core.types import Decision, Intent, PerceptionResult, PersonState, Transcript, Utterance, Verdict
from vlm_robot.core.wording import without_unspeakable_sentences
from vlm_robot.perception.text_affect import TextAffect
from vlm_robot.reasoning import knowledge
from vlm_robot.reasoning.backlog import APOLOGY
from vlm_robot.reasoning.dialogue import DialogueManager, clean_reply
from vlm_robot.reasoning.gestures import POINTED_WORDS, GestureCues, pointed_pixel
from vlm_robot.reasoning.intents import GrammarIntents, IntentConfig, greeting_intents, intents_from_transcript
from vlm_robot.reasoning.memory import Memory, PersonMemory, asks_to_be_forgotten
from vlm_robot.reasoning.open_talk import OpenTalk
from vlm_robot.reasoning.policy import ProactivePolicy
from vlm_robot.reasoning.tracker import PeopleTracker
from vlm_robot.reasoning.turns import Turn, TurnClassifier, clean_speech
from vlm_robot.safety.actuation import bearing_from_box
from vlm_robot.safety.gate import SafetyGate

log = logging.getLogger("vlm_robot.reasoning.reasoner")

# turn kinds (reasoning/turns.py) that only a robot is asked: an unseen voice asking them is talking to the robot
ROBOT_KINDS = frozenset({"perception", "capabilities", "identity", "recording", "place", "navigate", "action",
                         "memory_ask", "emergency"})


@dataclass
class Outcome:
    """What one input made the reasoner decide, say and ask to do."""

    decisions: list[Decision] = field(default_factory=list)
    utterances: list[Utterance] = field(default_factory=list)
    intents: list[Intent] = field(default_factory=list)
    # how the robot speaks from now on, (rate scale, volume scale), when a person asked for a change
    voice: tuple[float, float] | None = None
    voice_reason: str = ""  # why, when no utterance says it (the voice back to normal when everyone left)


# a voice a person asked for ("slower, please") goes back to the configured one once the camera has seen nobody for
# this long: the next visitor gets the robot's usual voice (without a camera it stays as asked)
VOICE_RESET_S = 120.0
THERE_S = 120.0  # "take me there" refers to a place the person named at most this long before
_THERE = re.compile(r"\b(take|bring|lead|guide|walk) (me|us) there\b|\bshow (me|us) (the way )?there\b|"
                    r"^\W*(ok(ay)?\W+|then\W+)?(let'?s )?go there\b|\bshow (me|us) where (it|that) is\b", re.I)
# a "please" or "thanks" heard on its own within this long after the same person's answered turn is that turn's end
# (a speaker who pauses at the comma of "Take me there, please." makes two turns): no second reply
TAIL_S = 1.5
_TAIL = re.compile(r"^\W*(please|thanks|thank you)\W*$", re.I)
HEAD_WAIT_S = 0.05  # longest wait for the joint state of a frame's moment (Reasoner.head_at)

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
        intents: IntentConfig | None = None,
        intent_model: GrammarIntents | None = None,
        memory: Memory | None = None,
        turns: TurnClassifier | None = None,
        places: tuple[str, ...] = (),
        recording: Callable[[], bool | None] | None = None,
        clock: Callable[[], float] | None = None,
        open_talk: OpenTalk | None = None,
        id_prefix: str = "",
    ) -> None:
        """``turns`` classifies what a person said (None: patterns only); ``places`` are the names of
        config/places.yaml; ``recording`` tells whether the recorder runs; ``clock`` is the wall clock for the
        time and the date (time.time); ``open_talk`` checks the language model's candidates
        (reasoning/open_talk.py; None: the dialogue manager's reply as it streams); ``id_prefix`` starts every
        utterance and intent id (the node gives each process its own, so ids never repeat across restarts)."""
        self.intents = intents or IntentConfig()
        self.intent_model = intent_model  # grammar-constrained intents (intents.source grammar | both)
        self._frame_size: tuple[int, int] | None = None  # (width, height) of the last frame, for bearings
        self._heads: deque[tuple[float, float, float]] = deque()  # (stamp, pan, tilt) from /joint_states
        self._head_cond = threading.Condition()  # its own lock: on_head must not wait for a frame's reasoning
        self._pattern_found: set[str] = set()  # transcripts whose intents the patterns already found
        self.tracker = tracker
        self.policy = policy
        self.dialogue = dialogue
        self.text_affect = text_affect
        self.now = 0.0
        self._ids = itertools.count(1)
        self._id_prefix = id_prefix
        # hand gestures (reasoning/gestures.py): a raised palm -> stop; waves and pointing per person, for the policy
        self.gestures = GestureCues()
        self._speaker: dict[str, int | None] = {}
        self._overheard: set[str] = set()  # transcripts not said to the robot: no reply
        self.lock = threading.RLock()
        # per-person memory (names, exchanges, appearance) kept across restarts; None: only this process
        self.memory = memory
        self.scene: tuple[str, float] | None = None  # the VLM's latest scene description and its stamp
        self._forgetting: set[str] = set()  # transcripts that asked the robot to forget their speaker
        for pm in (memory.people.values() if memory is not None else ()):
            tracker.remember(pm.id, pm.descriptor)  # a restarted node knows the people again by sight
        if memory is not None:
            tracker.remember(memory.next_id() - 1, ())
        self.turns = turns or TurnClassifier(None)
        self.open_talk = open_talk
        self.places = tuple(places)
        self.recording = recording or (lambda: None)
        self.clock = clock or time.time
        # the safety gate's verdicts, so that the words agree with them (on_verdict feeds them)
        self._verdicts: dict[str, Verdict] = {}
        self._verdict_cond = threading.Condition()
        self.gate_pending: Intent | None = None  # the intent the gate waits a yes or no for
        self._turn_intents: dict[str, list[Intent]] = {}  # transcript id -> the intents its words asked for
        self._classified: dict[str, Turn] = {}
        self._pending_when_heard: dict[str, Intent | None] = {}
        self._resolved_by_words: dict[str, Intent] = {}  # a person's words that confirmed or declined an intent
        self._last_reply: dict[int | None, str] = {}
        self._last_heard: dict[int | None, str] = {}  # "What did I just say?"
        self._last_heard_at: dict[int | None, float] = {}  # when the person's last answered turn ended
        self._last_place: dict[int | None, tuple[str, float]] = {}  # the known place the person last named, when
        self.voice: tuple[float, float] = (1.0, 1.0)  # (rate, volume) x configured: a person's "slower, please"
        self._voice_at = float("-inf")  # when the voice was last asked for (event clock)
        self._someone_seen_at = float("-inf")  # the last frame with a person in view
        self._first_frame_at: float | None = None  # (a restarted node counts from its first frame)
        # the newest frame the tracker has followed: who said words is known by sight only once it has seen the
        # moment they were said (wait_perceived)
        self.perceived_until = float("-inf")
        self._perceived_cond = threading.Condition()

    def _id(self, prefix: str) -> str:
        return f"{self._id_prefix}{prefix}{next(self._ids)}"

    def people(self) -> list[PersonState]:
        with self.lock:
            return self.tracker.visible(self.now)

    def on_perception(self, result: PerceptionResult) -> Outcome:
        with self.lock:
            out = self._on_perception(result)
        with self._perceived_cond:
            self.perceived_until = max(self.perceived_until, result.stamp)
            self._perceived_cond.notify_all()
        return out

    def wait_perceived(self, stamp: float, timeout_s: float) -> bool:
        """Wait until the tracker has followed a frame stamped ``stamp`` or later (True), at most ``timeout_s``.

        Words are attributed to the people in view when they were said; a tracker behind that moment (its
        worker busy, a node just restarted) sees nobody yet, and the speaker's memory would be missed.
        """
        with self._perceived_cond:
            return self._perceived_cond.wait_for(lambda: self.perceived_until >= stamp, timeout_s)

    def on_head(self, stamp: float, pan: float, tilt: float) -> None:
        """Where the head (the camera) pointed at ``stamp``, from /joint_states; kept for the last 5 s."""
        with self._head_cond:
            self._heads.append((stamp, pan, tilt))
            while len(self._heads) > 2 and self._heads[0][0] < stamp - 5.0:
                self._heads.popleft()
            self._head_cond.notify_all()

    def head_at(self, stamp: float, wait_s: float = HEAD_WAIT_S) -> tuple[float, float] | None:
        """The head's (pan, tilt) at ``stamp``: the last joint state at or before it (else the first known).

        While joint states are flowing (one within the last second) but none has reached ``stamp`` yet, wait
        up to ``wait_s`` for it: a frame's faces can overtake the joint state of the same moment (they travel
        different topics), and the head turn would then be taken for people jumping.
        """
        with self._head_cond:
            if self._heads and stamp - 1.0 < self._heads[-1][0] < stamp - 1e-6:
                self._head_cond.wait_for(lambda: self._heads[-1][0] >= stamp - 1e-6, wait_s)
            before = [(p, t) for s, p, t in self._heads if s <= stamp + 1e-6]
            return before[-1] if before else ((self._heads[0][1], self._heads[0][2]) if self._heads else None)

    def _on_perception(self, result: PerceptionResult) -> Outcome:
        self.now = max(self.now, result.stamp)
        self._frame_size = (result.width, result.height)
        head = self.head_at(result.stamp)
        if head is not None:
            self.tracker.follow_head(head[0], head[1], result.width, result.height)
        self.tracker.update(result)
        self._remember_sightings()
        out = Outcome()
        if self._first_frame_at is None:
            self._first_frame_at = result.stamp
        if self.people():
            self._someone_seen_at = result.stamp
        elif (self.voice != (1.0, 1.0)
              and result.stamp - max(self._someone_seen_at, self._voice_at, self._first_frame_at) >= VOICE_RESET_S):
            self.voice = out.voice = (1.0, 1.0)
            out.voice_reason = f"nobody in view for {VOICE_RESET_S:.0f} s: the configured voice again"
        self._on_gestures(result, out)
        for d in self.policy.evaluate(self.people(), self.now):
            if d.action == "greet":
                d = self._greet_known(d)
            out.decisions.append(d)
            if d.action != "greet":
                continue
            text = d.detail["text"]
            out.utterances.append(Utterance(text, "greeting", d.reason, d.stamp, d.person_id, id=self._id("u")))
            self._last_reply[d.person_id] = text  # "What?" repeats it; a "No." answers its question
            self.policy.note_robot_said(text, d.stamp)
            if self.dialogue is not None:
                self.dialogue.note_robot_said(text)
            if self.memory is not None:
                self.memory.addressed(d.person_id)
                self.memory.robot_said(d.person_id, text)
                self.memory.save()
            self.policy.note_speech(d.stamp)
            for it in greeting_intents(f"person{d.person_id}", d.reason, d.stamp):
                out.intents.append(_with_id(self.locate(it, self.tracker.people.get(d.person_id)), self._id("i")))
        return out

    def _on_gestures(self, result: PerceptionResult, out: Outcome) -> None:
        """A raised palm held up (debounced, reasoning/gestures.py) asks to stop, like the spoken "stop"."""
        for it in self.gestures.update(result, list(self.tracker.people.values())):
            person = self.tracker.people.get(int(it.target[6:])) if it.target.startswith("person") else None
            self._add_intents(out, [it], person, result.stamp, f"requested by gesture ({it.reason})")

    def _greet_known(self, d: Decision) -> Decision:
        """A person memory knows by name (seen again by sight) is welcomed back by name, and the reason says so."""
        pm = self.memory.people.get(d.person_id) if self.memory is not None and d.person_id is not None else None
        if pm is None or not pm.name:
            return d
        rest = _OPENING.sub("", d.detail["text"]).strip()
        text = f"Welcome back, {pm.name}!" + (f" {rest}" if rest else "")
        return replace(d, reason=f"{d.reason}; known as {pm.name} from an earlier visit",
                       detail={**d.detail, "text": text})

    def addressee(self, speaker: str = "") -> PersonState | None:
        """Whom a transcript comes from: ``speaker`` ("person3") when in view, else the person most recently
        addressed, else the closest in view."""
        people = self.people()
        if not people:
            return None
        named = [p for p in people if speaker == f"person{p.id}"]
        if named:
            return named[0]
        addressed = [p for p in people if p.addressed_at is not None]
        if addressed:
            return max(addressed, key=lambda p: p.addressed_at)
        return max(people, key=lambda p: p.box[2] * p.box[3])

    def hear(self, t: Transcript) -> Outcome:
        """The fast part of a transcript: who said it, how it sounds, which actions it asks for.

        Runs before the language model so that "stop" reaches the safety gate at once.
        """
        t = _spoken(t)
        with self.lock:
            self.now = max(self.now, t.stamp)
            self.policy.note_speech(t.stamp)
            out = Outcome()
            person = self.addressee(t.speaker)
            pid = person.id if person else None
            seeing = t.stamp - self.perceived_until <= self.policy.config.vision_fresh_s  # -inf: no camera yet
            said_to_robot, why_not = self.policy.addressed(person, self.people(), t.text, t.stamp, seeing,
                                                           lambda: self._for_a_robot(t.text, t.stamp))
            if not said_to_robot:  # overheard: no reply; how it sounded and "stop" count
                if person is not None:
                    person.text_sentiment = (self.text_affect.sentiment(t.text) if self.text_affect is not None
                                             else 0.0)
                    self.policy.note_words(person.id, t.text, person.text_sentiment, t.stamp)
                self._overheard.add(t.id)
                out.decisions.append(Decision("silent", why_not, t.stamp, pid, {"transcript": t.id}))
                who = f"person{pid}" if person is not None else ""
                stops = [it for it in intents_from_transcript(t.text, who, t.stamp) if it.type == "stop"]
                self._add_intents(out, stops, person, t.stamp, "requested by speech")
                return out
            if person is not None:
                person.addressed_at = self.now
                if self.text_affect is not None:
                    person.text_sentiment = self.text_affect.sentiment(t.text)
            self._remember_heard(pid, t)
            self._speaker[t.id] = pid
            why = _replying(t, pid)
            out.decisions.append(Decision("reply", why, t.stamp, pid, {"transcript": t.id}))
            found = [self._known_place(it) for it in
                     intents_from_transcript(t.text, f"person{pid}" if person else "", t.stamp)]
            found = found or self._there(t, pid)
            if self.intents.source == "grammar":  # the model decides, but stop is never kept waiting for it
                found = [it for it in found if it.type == "stop"]
            pointed = [] if any(it.type in ("stop", "look_at") for it in found) else self._pointed(t, person)
            if found or pointed:
                self._pattern_found.add(t.id)
            self._add_intents(out, found, person, t.stamp, "requested by speech", t.id)
            if pointed:
                self._add_intents(out, pointed, person, t.stamp, f"requested by speech, where person {pid} points",
                                  t.id)
            self._turn_intents[t.id] = list(out.intents)
            with self._verdict_cond:  # a yes or no answers what the gate waited for when it was said
                # (the gate may have read the same words and answered first: its verdict quotes them)
                self._pending_when_heard[t.id] = self.gate_pending or self._resolved_by_words.pop(
                    t.text.strip()[:60], None)
            return out

    def _there(self, t: Transcript, pid: int | None) -> list[Intent]:
        """"Take me there." after the person asked about a known place (within ``THERE_S``): navigate to it.
        ("Can you tell me where the kitchen is?" then "Take me there." got the model's "I see. Could you tell me a
        bit more about that?")"""
        named = self._last_place.get(pid)
        if named is None or not _THERE.search(t.text) or not 0 <= t.stamp - named[1] <= THERE_S:
            return []
        why = (f'asked: "{t.text.strip()[:80]}" ("there": the {named[0].replace("_", " ")}, named '
               f"{t.stamp - named[1]:.0f} s before)")
        return [Intent("navigate", named[0], {}, "dialogue", why, stamp=t.stamp)]

    def _known_place(self, it: Intent) -> Intent:
        """A navigate goal named by another word for a known place ("the exit", "your charger"): the place's own
        name, which is what the gate and config/places.yaml know ("Can you show me the way to the exit?" was
        refused: "I don't know a place called the exit")."""
        if it.type != "navigate" or it.target in self.places:
            return it
        known, _ = knowledge.find_place(it.target.replace("_", " "), self.places)
        return replace(it, target=known) if known is not None else it

    def _pointed(self, t: Transcript, person: PersonState | None) -> list[Intent]:
        """"Look there", "what is that" from a person who pointed within ``gestures.point_memory_s``: a look_at
        along their pointing ray (where it leaves the image: a 2-D ray has no depth), located like a face's."""
        said = POINTED_WORDS.search(t.text)
        if said is None or person is None or self._frame_size is None:
            return []
        seen = self.gestures.recent_point(person.id, t.stamp)
        if seen is None:
            return []
        at, ray = seen
        w, h = self._frame_size
        x, y = pointed_pixel(ray, w, h)
        bearing, elevation = bearing_from_box((x, y, 0.0, 0.0), w, h, self.tracker.config.camera_hfov_deg)
        when = f"{t.stamp - at:.1f} s before" if at <= t.stamp else f"{at - t.stamp:.1f} s after"
        why = (f'asked: "{t.text.strip()[:80]}" ("{said[0]}") while person {person.id} pointed ({when} the words): '
               f"looking along the pointing ray from ({ray[0]:.0f}, {ray[1]:.0f}) px, direction ({ray[2]:+.2f}, "
               f"{ray[3]:+.2f}), to where it leaves the image at ({x:.0f}, {y:.0f}) px")
        params = {"bearing_rad": round(bearing, 4), "elevation_rad": round(elevation, 4)}
        return [Intent("look_at", f"where person{person.id} points", params, "dialogue", why, stamp=t.stamp)]

    def _for_a_robot(self, text: str, stamp: float) -> bool:
        """Words of a kind only a robot is asked (what it sees or can do, where places are, an action)."""
        try:
            found = intents_from_transcript(text, "", stamp)
            return self.turns.classify(text, found, False, self.places).kind in ROBOT_KINDS
        except Exception as e:  # noqa: BLE001 - a failing classifier must not lose the turn: count it as for us
            log.warning("turn classifier failed on an unseen voice (%s: %s); taken as said to the robot",
                        type(e).__name__, e)
            return True

    def locate(self, it: Intent, person: PersonState | None) -> Intent:
        """``it`` with where its person is (bearing, elevation, range) for look_at and approach; the gate bounds it.
        An intent that already has a bearing (where a person points) keeps it."""
        if (person is None or self._frame_size is None or it.type not in ("look_at", "approach")
                or "bearing_rad" in it.params):
            return it
        w, h = self._frame_size
        bearing, elevation = bearing_from_box(person.box, w, h, self.tracker.config.camera_hfov_deg)
        where = {"bearing_rad": round(bearing, 4)}
        if it.type == "look_at":
            where["elevation_rad"] = round(elevation, 4)
        else:
            where["range_m"] = round(person.distance_m, 2)
        return replace(it, params={**it.params, **where})

    def _add_intents(self, out: Outcome, found: list[Intent], person: PersonState | None, stamp: float,
                     why: str, in_reply_to: str = "") -> None:
        pid = person.id if person else None
        for it in found:
            out.intents.append(replace(_with_id(self.locate(it, person), self._id("i")), in_reply_to=in_reply_to))
            out.decisions.append(Decision("intent", f"{it.type} {why}", stamp, pid,
                                          {"intent": it.type, "target": it.target}))

    def model_intents(self, t: Transcript, pid: int | None) -> Outcome:
        """Intents from the grammar-constrained model (intents.source grammar, or both when patterns found none)."""
        out = Outcome()
        had_patterns = t.id in self._pattern_found
        self._pattern_found.discard(t.id)
        if self.intent_model is None or self.intents.source == "patterns" or (
                self.intents.source == "both" and had_patterns):
            return out
        found = self.intent_model.intents(t.text, f"person{pid}" if pid is not None else "", t.stamp)
        with self.lock:
            if any(it.type == "look_at" for it in self._turn_intents.get(t.id, [])):  # where they point, already
                found = [it for it in found if it.type != "look_at"]
            person = self.tracker.people.get(pid) if pid is not None else None
            self._add_intents(out, [it for it in found if it.type != "stop" or not had_patterns], person, t.stamp,
                              "requested by speech (model)", t.id)
            self._turn_intents.setdefault(t.id, []).extend(out.intents)
        return out

    # -- replies ------------------------------------------------------------------------------------

    def on_verdict(self, v: Verdict) -> None:
        """A verdict of the safety gate (/vlm_robot/intent_verdict): replies wait for the ones they speak of."""
        with self._verdict_cond:
            if v.intent.id:
                self._verdicts[v.intent.id] = v
                while len(self._verdicts) > 256:
                    self._verdicts.pop(next(iter(self._verdicts)))
            if v.pending:
                self.gate_pending = v.intent
            elif self.gate_pending is not None and v.intent.id == self.gate_pending.id:
                self.gate_pending = None
                quoted = re.search(r'by a person: "(.*)"$', v.reasons[0]) if v.reasons else None
                if quoted:
                    self._resolved_by_words[quoted[1].strip()] = v.intent
                    while len(self._resolved_by_words) > 8:
                        self._resolved_by_words.pop(next(iter(self._resolved_by_words)))
            self._verdict_cond.notify_all()

    def _await_verdicts(self, ids: list[str], timeout_s: float, final: bool = False) -> list[Verdict] | None:
        """The gate's verdicts on ``ids`` (``final``: not the pending one), waiting up to ``timeout_s``."""
        def ready() -> bool:
            return all(i in self._verdicts and not (final and self._verdicts[i].pending) for i in ids)
        with self._verdict_cond:
            if not self._verdict_cond.wait_for(ready, timeout_s):
                return None
            return [self._verdicts[i] for i in ids]

    def classify(self, t: Transcript) -> Turn:
        """What kind of turn ``t`` is (reasoning/turns.py); computed once per transcript."""
        t = _spoken(t)
        with self.lock:
            if t.id in self._classified:
                return self._classified[t.id]
            intents = list(self._turn_intents.get(t.id, []))
            pending = self._pending_when_heard.get(t.id) is not None
        turn = self.turns.classify(t.text, intents, pending, self.places)
        with self.lock:
            self._classified[t.id] = turn
            while len(self._classified) > 64:
                self._classified.pop(next(iter(self._classified)))
        return turn

    def speculate(self, t: Transcript) -> bool:
        """Start open talk's reply to words that may not be final yet (the microphone's speculative transcript
        at a turn's first short pause), if they would go to the language model; True when started.

        Nothing is heard, classified or remembered: the turn is classified without the cache (the partial
        shares the final transcript's id) and the prompt is built as :meth:`_model_reply` builds it. The final
        transcript's reply takes the speculation only when its prompt is the same (OpenTalk.reply)."""
        t = _spoken(t)
        if self.open_talk is None or self.dialogue is None or not t.text.strip():
            return False
        with self.lock:
            person = self.addressee(t.speaker)
            pid = person.id if person else None
            pending = self.gate_pending is not None
        turn = self.turns.classify(t.text, intents_from_transcript(t.text, "", t.stamp), pending, self.places)
        if turn.kind != "open":
            return False
        with self.lock:
            messages = self._model_messages(t.text, self._known(pid))
        self.open_talk.speculate(messages, t.text)
        return True

    def _known(self, pid: int | None) -> PersonMemory | None:
        """What memory knows of the speaker ``pid`` (None: the speaker nobody saw); call with the lock held."""
        if self.memory is None:
            return None
        return self.memory.voice_only() if pid is None else self.memory.people.get(pid)

    def _model_messages(self, text: str, known: PersonMemory | None) -> list[dict[str, str]]:
        """The language model's prompt for ``text``: open talk's, else the dialogue manager's; call with the lock
        held."""
        args = (self.people(), known, self._recent_scene(), self._names())
        if self.open_talk is not None:
            return self.open_talk.messages(text, self.dialogue.context(*args))
        return self.dialogue.messages(text, *args)

    def answer(self, t: Transcript, on_piece: Callable[[str], None] | None = None) -> Outcome:
        """The reply to a transcript already passed to :meth:`hear`, streamed to ``on_piece``.

        From the robot's knowledge wherever it has it (reasoning/knowledge.py): actions are answered from
        the safety gate's verdicts (pending: the gate's own question is the reply, nothing is added); the
        language model only for open talk. The lock is not held while the model generates. Words :meth:`hear`
        found were not said to the robot get no reply (an empty outcome).
        """
        t = _spoken(t)
        with self.lock:
            if t.id in self._overheard:
                self._overheard.discard(t.id)
                self._turn_intents.pop(t.id, None)
                self._pending_when_heard.pop(t.id, None)
                return Outcome()
        turn = self.classify(t)
        with self.lock:
            pid = self._speaker.get(t.id)
            before = self._last_heard_at.get(pid)
            if _TAIL.search(t.text) and before is not None and 0 <= t.stamp - before <= TAIL_S:
                self._speaker.pop(t.id, None)
                self._turn_intents.pop(t.id, None)
                self._pending_when_heard.pop(t.id, None)
                self._last_heard_at[pid] = t.stamp
                return Outcome([Decision("silent", f'"{t.text.strip()}" {t.stamp - before:.1f} s after the '
                                         "person's last turn: its end, heard on its own; not answered twice",
                                         t.stamp, pid, {"transcript": t.id})])
            pid = self._speaker.pop(t.id, None)
            ids = [it.id for it in self._turn_intents.pop(t.id, [])]
            known = self._known(pid)
            forgot = t.id in self._forgetting
            self._forgetting.discard(t.id)
            speaker = self.tracker.people.get(pid) if pid is not None else None
        intents = self.model_intents(t, pid)
        ids += [it.id for it in intents.intents]
        timeout = self.dialogue.config.verdict_timeout_s if self.dialogue is not None else 2.0
        with self.lock:
            pending_before = self._pending_when_heard.pop(t.id, None)
        verdicts: list[Verdict] | None = []
        if ids:
            verdicts = self._await_verdicts(ids, timeout)
        elif turn.kind == "confirm" and pending_before is not None:
            verdicts = self._await_verdicts([pending_before.id], timeout, final=True)
        why = f"{_replying(t, pid)}; {turn.why()}"
        if verdicts is None:
            text, kind = ("I have asked my safety check, but it has not answered yet, so I am not doing anything "
                          "for now."), "error"
            why += f"; no verdict from the safety gate within {timeout:.1f} s"
            return self._reply(t, pid, text, kind, why, intents, on_piece)
        with self.lock, self._verdict_cond:
            ctx = knowledge.Context(
                people=self.people(), speaker=speaker, memory=known, places=self.places, recording=self.recording(),
                last_reply=self._last_reply.get(pid, ""), last_heard=self._last_heard.get(pid, ""),
                verdicts=verdicts, now=self.clock(), voice=self.voice, names=self._names(),
                known_names=frozenset(p.name.lower() for p in self.memory.people.values() if p.name)
                if self.memory is not None else frozenset(),
                robot_name=self.dialogue.config.robot_name if self.dialogue is not None else "",
                **({"emergency_number": self.dialogue.config.emergency_number,
                    "crisis_line": self.dialogue.config.crisis_line} if self.dialogue is not None else {}),
                pending=self.gate_pending if self.gate_pending is not None and self.gate_pending.id not in ids
                else None)
        if turn.kind == "perception" and turn.detail == "thing":
            with self.lock:
                seen = self._recent_scene()
            if seen:  # what the VLM node described a moment ago may tell: the model reads it (else "can't make out")
                return self._model_reply(t, pid, known, f"{why}; a recent scene description may tell", intents,
                                         on_piece)
        text = "All right. I have forgotten what I knew about you." if forgot else knowledge.answer(turn, t.text, ctx)
        if turn.kind == "hostile" and verdicts:  # what the gate allowed is said too, never contradicted
            text = " ".join(x for x in (knowledge.say_verdicts(verdicts, ctx.pending), text) if x)
        elif turn.kind == "emergency" and verdicts:  # the advice first; then what the robot does, not what it won't
            # ("I need to go to the hospital." began with "I don't know a place called the hospital.")
            allowed = [v for v in verdicts if v.approved or v.pending]
            text = " ".join(x for x in (text, knowledge.say_verdicts(allowed, ctx.pending) if allowed else "") if x)
        if text is None and turn.kind in ("action", "navigate") and verdicts:
            with self.lock:  # "repeat that" repeats the gate's question
                self._last_reply[pid] = " ".join(SafetyGate.question(v.intent) for v in verdicts if v.pending)
                self._answered(pid, t)
            intents.decisions.append(Decision(
                "reply", f"{why}; the safety gate's question is the reply", t.stamp, pid, {"transcript": t.id}))
            return intents
        if text is not None and turn.detail == "voice":  # "Could you speak more slowly?": speech_out is told
            voice, _ = knowledge.voice_request(t.text, ctx.voice)
            with self.lock:
                self._voice_at = t.stamp
                if voice != self.voice:
                    self.voice = intents.voice = voice
        if text is not None:
            source = _SOURCES.get(turn.kind, "knowledge")
            return self._reply(t, pid, text, "reply", f"{why}; answered from {source}", intents, on_piece,
                               remember=not forgot, last=turn.kind != "repeat")
        return self._model_reply(t, pid, known, why, intents, on_piece)

    def _model_reply(self, t: Transcript, pid: int | None, known, why: str, out: Outcome,
                     on_piece: Callable[[str], None] | None) -> Outcome:
        """Open talk: the language model's reply, checked (blocked words) before it is spoken."""
        if self.dialogue is None:
            return self._reply(t, pid, "I'm not sure what to say to that.", "reply",
                               f"{why}; no language model", out, on_piece)
        with self.lock:
            messages = self._model_messages(t.text, known)
        why = f"{why}; answered by the language model"
        try:
            if self.open_talk is not None:  # candidates checked for the known failure shapes, else a fallback
                r = self.open_talk.reply(messages, t.text)
                text, why = r.text, f"{why} ({r.why})"
            else:
                text = clean_reply("".join(self.dialogue.generate(messages)))
            kept = without_unspeakable_sentences(text)
            if kept != text:
                why = f"{why}; a sentence with a blocked word was left out"
            kind, text = "reply", kept or "Sorry, I have no answer to that."
        except Exception as e:  # noqa: BLE001 - the person must get an answer even when the model fails
            kind, text = "error", "Sorry, I could not think of an answer just now."
            why = f"{why}; language model failed: {type(e).__name__}: {e}"
        return self._reply(t, pid, text, kind, why, out, on_piece)

    def _reply(self, t: Transcript, pid: int | None, text: str, kind: str, why: str, out: Outcome,
               on_piece: Callable[[str], None] | None, remember: bool = True, last: bool = True) -> Outcome:
        """Speak ``text`` as the reply to ``t`` (one chunk to ``on_piece``); ``remember``: into the history and
        memory; ``last``: what "repeat that" repeats."""
        if on_piece is not None:
            on_piece(text)
        with self.lock:
            if kind == "reply":
                if self.dialogue is not None:
                    self.dialogue.commit(t.text, text)
                if self.memory is not None and remember:
                    self.memory.exchange(pid, t.text, text)
                if last:
                    self._last_reply[pid] = text
            out.utterances.append(Utterance(text, kind, why, t.stamp, pid, t.id, self._id("u")))
            self._answered(pid, t)
            self.policy.note_robot_said(text, t.stamp)
            return out

    def _answered(self, pid: int | None, t: Transcript) -> None:
        """What later turns of the same person refer to: their words ("What did I just say?"), when they ended (a
        "please" on its own right after), and the known place they named ("Take me there.")."""
        self._last_heard[pid] = t.text
        self._last_heard_at[pid] = t.stamp
        if self.places:
            named, _ = knowledge.find_place(t.text, self.places)
            if named is not None:
                self._last_place[pid] = (named, t.stamp)

    def answer_from_vision(self, t: Transcript, text: str, source: str) -> Outcome:
        """Speak the VLM node's answer to a question about the scene (see reasoning/visual.py) as the reply."""
        with self.lock:
            if t.id in self._overheard:  # not said to the robot (see hear): no reply
                self._overheard.discard(t.id)
                return Outcome()
        spoken = _ENTITY.sub(lambda m: f"{'object' if m[1] == 'obj' else 'person'} {m[2]}", text)
        spoken = _CONFIDENCE.sub("", spoken)  # "(0.61)" is for the log, not for the ear
        spoken = clean_reply(re.sub(r"(^|[.!?]\s+)([a-z])", lambda m: m[1] + m[2].upper(), spoken))
        with self.lock:
            pid = self._speaker.pop(t.id, None)
            self._pattern_found.discard(t.id)
            if self.dialogue is not None:
                self.dialogue.commit(t.text, spoken)
            if self.memory is not None:
                self.memory.exchange(pid, t.text, spoken)
            self._answered(pid, t)
        why = f"{_replying(t, pid)}; answered from what the camera sees ({source})"
        return Outcome(utterances=[Utterance(spoken, "reply", why, t.stamp, pid, t.id, self._id("u"))])

    def on_transcript(self, t: Transcript, on_piece: Callable[[str], None] | None = None) -> Outcome:
        """:meth:`hear` then :meth:`answer`, as one outcome."""
        out = self.hear(t)
        answered = self.answer(t, on_piece)
        out.decisions += answered.decisions
        out.utterances += answered.utterances
        out.voice = answered.voice
        return out

    # -- memory and scene ---------------------------------------------------------------------------

    def on_scene_description(self, text: str, stamp: float) -> None:
        """The VLM node's latest description of the scene; it goes into prompts while recent."""
        with self.lock:
            if self.scene is None or stamp >= self.scene[1]:
                self.scene = (text, stamp)

    def _recent_scene(self) -> str:
        if self.scene is None or self.dialogue is None:
            return ""
        text, stamp = self.scene
        return text if 0 <= self.now - stamp <= self.dialogue.config.scene_max_age_s else ""

    def _names(self) -> dict[int, str]:
        if self.memory is None:
            return {}
        return {p.id: self.memory.people[p.id].name for p in self.people()
                if p.id in self.memory.people and self.memory.people[p.id].name}

    def _remember_sightings(self) -> None:
        """Sightings into memory; a person known again after a restart keeps "already addressed" (wall clock)."""
        if self.memory is None:
            return
        for pid in self.tracker.returned:
            p = self.tracker.people[pid]
            age = self.memory.addressed_age(pid)
            if p.addressed_at is None and age is not None and age < self.policy.config.readdress_after_s:
                p.addressed_at = self.now - age
        for p in self.tracker.people.values():
            if p.last_seen == self.now:
                desc = self.tracker.known.get(p.id)
                self.memory.saw(p.id, p.mood, None if desc is None else desc.tolist())
        self.memory.save(force=False)

    def _remember_heard(self, pid: int | None, t: Transcript) -> None:
        """Facts said to the robot ("my name is ...") are saved at once; "forget me" erases the speaker."""
        if self.memory is None:
            return
        if asks_to_be_forgotten(t.text):
            if pid is None:
                self.memory.forget_voice_only()
            else:
                self.memory.forget(pid)
                self.tracker.known.pop(pid, None)
            self._forgetting.add(t.id)  # the reply confirms it, and this exchange is not remembered either
            return
        if pid is not None:
            self.memory.addressed(pid)
        self.memory.heard(pid, t.text)
        self.memory.save()

    def person_states(self) -> list[dict]:
        """The people in view as dicts for /vlm_robot/person_states, with their remembered name and turns."""
        with self.lock:
            states = []
            for p in self.people():
                d = p.to_dict()
                pm = self.memory.people.get(p.id) if self.memory is not None else None
                d["name"] = pm.name if pm is not None else None
                d["remembered_turns"] = len(pm.turns) if pm is not None else 0
                states.append(d)
            return states

    def decline(self, t: Transcript, reason: str, apologize: bool, detail: dict | None = None) -> Outcome:
        """Words that will not be answered (too old, pushed out of the backlog, see reasoning/backlog.py).

        A decision says why (action ``silent``, naming the transcript: its sender stops sending it again);
        ``apologize``: instead the one short apology of a burst (:data:`~vlm_robot.reasoning.backlog.APOLOGY`)
        in reply to them, unless they were not said to the robot. What :meth:`hear` kept for them is let go.
        """
        with self.lock:
            pid = self._speaker.pop(t.id, None)
            overheard = t.id in self._overheard
            for ids in (self._overheard, self._forgetting, self._pattern_found):
                ids.discard(t.id)
            self._turn_intents.pop(t.id, None)
            self._classified.pop(t.id, None)
            self._pending_when_heard.pop(t.id, None)
        why = f'not answering "{t.text[:60]}": {reason}'
        d = {"transcript": t.id, **(detail or {})}
        if apologize and not overheard:
            return Outcome([Decision("reply", f"{why}; one short apology for this burst", t.stamp, pid, d)],
                           [Utterance(APOLOGY, "error", why, t.stamp, pid, t.id, self._id("u"))])
        return Outcome([Decision("silent", why, t.stamp, pid, d)])

    def on_transcript_error(self, t: Transcript, what: str) -> Outcome:
        """An explicit answer for a transcript that could not be handled: nothing goes unanswered."""
        why = f'could not answer "{t.text[:60]}": {what}'
        text = "Sorry, I could not answer that just now. Please say it again."
        return Outcome(utterances=[Utterance(text, "error", why, t.stamp, None, t.id, self._id("u"))])


_SOURCES = {"memory_ask": "memory", "memory_tell": "memory", "perception": "the tracker (who is in view)",
            "time": "the clock", "action": "the safety gate's verdicts", "navigate": "the safety gate's verdicts",
            "confirm": "the safety gate's verdicts", "place": "the known places",
            "capabilities": "the skills and places",
            "recording": "the recorder's state"}  # what a knowledge answer was built from, for the reason
_OPENING = re.compile(r"^\s*(hi|hello|hey|good (morning|afternoon|evening))( there)?[.!,]\s*"
                      r"(i'?m the robot assistant\.\s*)?", re.I)  # a greeting's opening, replaced for known people
_ENTITY = re.compile(r"<(person|obj)(\d+)>")  # entity tokens of the VLM's answers, spoken as "person 1"
_CONFIDENCE = re.compile(r"\s*\(\d+(\.\d+)?\)")


def _replying(t: Transcript, pid: int | None) -> str:
    return f'replying to "{t.text[:60]}"' + (f" from person {pid}" if pid is not None else "")


def _with_id(it: Intent, new_id: str) -> Intent:
    return replace(it, params=dict(it.params), id=new_id)


def _spoken(t: Transcript) -> Transcript:
    """The transcript with its words as meant: fillers and restarts out (turns.clean_speech), the same id."""
    text = clean_speech(t.text)
    return t if text == t.text else replace(t, text=text)
