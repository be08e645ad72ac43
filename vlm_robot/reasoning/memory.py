"""What the robot remembers of each person and of the conversation, bounded and kept across restarts.

Per person: their last exchanges, facts they said about themselves (name, what they like; fixed
patterns, never model output), how many frames they looked each way (a mood summary), when they were
last seen and addressed, and their appearance descriptor (so a restarted reasoning node gives a person
who is still there their old id back). Plus the last exchanges of the whole conversation.

The store is one JSON file (``memory.path``), rewritten atomically (temporary file + rename) after
each exchange, fact or greeting, and at most every ``save_every_s`` for sightings. A file that cannot
be read (not JSON, another schema or version, wrong shape) is kept as ``<path>.bad`` and the robot
starts with an empty memory, saying so once. Times here are wall-clock seconds (``time.time``): memory
outlives the event clock of one run.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vlm_robot.core.errors import ConfigError, InvalidInputError

SCHEMA = "vlm_robot/memory"
VERSION = 1

_NAME = r"([A-Za-z][A-Za-z'\-]{0,30}(?: [A-Z][A-Za-z'\-]{0,30})?)"
_FACTS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("name", re.compile(r"\b(?:my name is|my name's|call me|i am called|i'm called)\s+" + _NAME, re.IGNORECASE)),
    ("likes", re.compile(r"\bi (?:really )?(?:like|love|enjoy)\s+([a-z][a-z ,'\-]{1,40}?)\s*(?:[.!?]|$)",
                         re.IGNORECASE)),
)
_JOINERS = {"and", "but", "or", "so", "i", "im", "from", "here", "too", "nice", "please", "thanks", "by", "the"}
_NOT_NAMES = {"not", "no", "never", "sorry", "a", "an", "the", "robot", "you", "it", "what", "that", "later", "back",
              "tomorrow", "soon", "now", "when", "if", "please", "anytime", "again"}
_FORGET = re.compile(r"\bforget (?:me|my name|about me|everything about me)\b|"
                     # "Delete all my data." got the model's "Deleted all of the data." and nothing was deleted
                     r"\b(?:delete|erase|remove|wipe|clear) (?:all )?(?:of )?(?:my (?:data|information|info|details|"
                     r"records|name|face|recordings?)|everything (?:you know )?about me|what you know about me)\b",
                     re.IGNORECASE)


# "Hi, I'm Maria.": a capitalised word after "I'm" in a short introduction (the recogniser capitalises names; "I'm
# tired" is not one). Case-sensitive on the name, so "I'm fine" and "I'm English" are not names
_INTRODUCTION = re.compile(r"^\W*(?:(?i:hi|hello|hey|good (?:morning|afternoon|evening))(?i: there| robot)?\W+)?"
                           r"(?i:i am|i'm|this is)\s+([A-Z][a-z'\-]{1,30})(?:\W+(?i:and\b.*|nice to meet you.*))?\W*$")
_NOT_INTRODUCED = {"English", "French", "German", "Spanish", "Italian", "American", "British", "Chinese", "Japanese",
                   "Indian", "Russian", "Fine", "Good", "Okay", "Ok", "Here", "Back", "Sorry", "Lost", "Happy", "Sad",
                   "Tired", "Hungry", "Done", "Ready", "Busy", "Well", "Great", "Robot", "Just", "Not", "So", "Very"}


def extract_facts(text: str) -> dict[str, str]:
    """Facts a person says about themselves, by fixed patterns: ``{"name": "Alice", "likes": "tea"}``."""
    facts: dict[str, str] = {}
    m = _INTRODUCTION.search(text.strip())
    if m and m[1] not in _NOT_INTRODUCED:
        facts["name"] = m[1]
    for key, pattern in _FACTS:
        m = pattern.search(text)
        if m is None or key in facts:
            continue
        value = m[1].strip(" ,'-")
        if key == "name":
            if value.split()[0].lower() in _NOT_NAMES:
                continue
            # "My name is Nando and I work here": the pattern is case-blind, so "and" looked like a surname
            value = " ".join([value.split()[0]] + [w for w in value.split()[1:2] if w.lower() not in _JOINERS])
            value = " ".join(w[:1].upper() + w[1:] for w in value.split())
        if value:
            facts[key] = value
    return facts


def asks_to_be_forgotten(text: str) -> bool:
    """True for "forget me", "forget my name", ...: the speaker's memory is erased."""
    return _FORGET.search(text) is not None


@dataclass(frozen=True)
class MemoryConfig:
    """config/reasoning.yaml ``memory.*``.

    Attributes:
        path: the JSON file; ``~`` is expanded; empty keeps the memory in this process only.
        max_people: people remembered; the least recently seen are forgotten first.
        max_turns_per_person: exchanges kept per person.
        max_conversation_turns: exchanges kept of the whole conversation.
        max_facts_per_person: facts kept per person (the newest win).
        save_every_s: sightings and moods are written at most this often (exchanges and facts at once).
        voice_only_s: facts said while nobody is in view (no camera, the speaker out of sight: "my name is Sam")
            are kept for the voice-only speaker this long after their last words; in this process only, since
            nothing re-identifies a voice later. 0 forgets them at once.
    """

    path: str = "~/.local/state/vlm_robot/memory.json"
    max_people: int = 50
    max_turns_per_person: int = 6
    max_conversation_turns: int = 20
    max_facts_per_person: int = 8
    save_every_s: float = 2.0
    voice_only_s: float = 300.0

    def __post_init__(self) -> None:
        for name in ("max_people", "max_turns_per_person", "max_conversation_turns", "max_facts_per_person"):
            if not 1 <= getattr(self, name) <= 100_000:
                raise ConfigError(f"memory.{name} must be in [1, 100000], got {getattr(self, name)}")
        if self.save_every_s < 0:
            raise ConfigError(f"memory.save_every_s must be >= 0, got {self.save_every_s}")
        if not 0 <= self.voice_only_s <= 86_400:
            raise ConfigError(f"memory.voice_only_s must be in [0, 86400] seconds, got {self.voice_only_s}")


@dataclass
class PersonMemory:
    """What is remembered of one person (times are wall-clock seconds)."""

    id: int
    first_seen: float
    last_seen: float
    last_addressed: float | None = None
    facts: dict[str, str] = field(default_factory=dict)
    turns: deque[dict[str, Any]] = field(default_factory=deque)
    moods: dict[str, int] = field(default_factory=dict)  # frames seen with each smoothed mood
    descriptor: list[float] = field(default_factory=list)

    @property
    def name(self) -> str | None:
        return self.facts.get("name")

    def mood_summary(self) -> str:
        """``"mostly sad"`` when one mood held most of the frames, else ``""``."""
        total = sum(self.moods.values())
        if total < 5:
            return ""
        mood, n = max(self.moods.items(), key=lambda kv: kv[1])
        return f"mostly {mood}" if n >= 0.6 * total else ""

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "first_seen": self.first_seen, "last_seen": self.last_seen,
                "last_addressed": self.last_addressed, "facts": dict(self.facts), "turns": list(self.turns),
                "moods": dict(self.moods), "descriptor": [round(v, 4) for v in self.descriptor]}

    @classmethod
    def from_dict(cls, d: dict[str, Any], max_turns: int) -> PersonMemory:
        turns = [{"user": str(t["user"]), "robot": str(t["robot"]), "at": float(t["at"])} for t in d["turns"]]
        return cls(
            id=int(d["id"]), first_seen=float(d["first_seen"]), last_seen=float(d["last_seen"]),
            last_addressed=None if d.get("last_addressed") is None else float(d["last_addressed"]),
            facts={str(k): str(v) for k, v in dict(d.get("facts", {})).items()},
            turns=deque(turns, maxlen=max_turns),
            moods={str(k): int(v) for k, v in dict(d.get("moods", {})).items()},
            descriptor=[float(v) for v in d.get("descriptor", [])],
        )


class Memory:
    """The bounded, persisted memory of people and conversation.

    Args:
        config: sizes and where the file lives.
        clock: wall clock (seconds); injected in tests.
        on_problem: called with a one-line message when the file cannot be read or written.
    """

    def __init__(self, config: MemoryConfig | None = None, clock: Callable[[], float] = time.time,
                 on_problem: Callable[[str], None] | None = None) -> None:
        self.config = config or MemoryConfig()
        self.clock = clock
        self.on_problem = on_problem or (lambda _msg: None)
        self.people: OrderedDict[int, PersonMemory] = OrderedDict()  # least recently seen first
        self.conversation: deque[dict[str, Any]] = deque(maxlen=self.config.max_conversation_turns)
        self._dirty = False
        self._saved_at = -float("inf")
        self._high_id = 0  # the largest id ever remembered: ids are not reused after a restart
        self._voice_only: PersonMemory | None = None  # the speaker nobody saw (config.voice_only_s); never saved

    @property
    def path(self) -> Path | None:
        return Path(self.config.path).expanduser() if self.config.path else None

    # -- what happens -------------------------------------------------------------------------------

    def person(self, person_id: int) -> PersonMemory:
        """The memory of ``person_id``, created on first use (the least recently seen go beyond ``max_people``)."""
        p = self.people.get(person_id)
        if p is None:
            now = self.clock()
            p = PersonMemory(person_id, now, now, turns=deque(maxlen=self.config.max_turns_per_person))
            self.people[person_id] = p
            self._high_id = max(self._high_id, person_id)
            while len(self.people) > self.config.max_people:
                self.people.popitem(last=False)
            self._dirty = True
        return p

    def saw(self, person_id: int, mood: str, descriptor: list[float] | None = None) -> None:
        """``person_id`` is in view now, looking ``mood``; ``descriptor`` is their current appearance."""
        p = self.person(person_id)
        p.last_seen = self.clock()
        p.moods[mood] = p.moods.get(mood, 0) + 1
        if descriptor is not None and len(descriptor):
            p.descriptor = [float(v) for v in descriptor]
        self.people.move_to_end(person_id)
        self._dirty = True

    def addressed(self, person_id: int) -> None:
        """The robot greeted ``person_id`` or they spoke to it."""
        self.person(person_id).last_addressed = self.clock()
        self._dirty = True

    def voice_only(self) -> PersonMemory | None:
        """What the speaker nobody saw said about themselves, while they keep talking (``voice_only_s``)."""
        vo = self._voice_only
        if vo is not None and self.clock() - vo.last_seen > self.config.voice_only_s:
            self._voice_only = vo = None
        return vo

    def forget_voice_only(self) -> None:
        self._voice_only = None

    def heard(self, person_id: int | None, text: str) -> dict[str, str]:
        """Facts in what ``person_id`` said are remembered at once (before any reply); returns them. Said by
        nobody in view (``person_id`` None), they are the voice-only speaker's (:meth:`voice_only`)."""
        facts = extract_facts(text)
        if person_id is None:
            vo = self.voice_only()
            if vo is None and facts and self.config.voice_only_s > 0:
                now = self.clock()
                vo = self._voice_only = PersonMemory(0, now, now, turns=deque(maxlen=self.config.max_turns_per_person))
            if vo is not None:
                vo.last_seen = self.clock()
                vo.facts.update(facts)
            return facts
        if facts:
            p = self.person(person_id)
            for k, v in facts.items():
                p.facts.pop(k, None)
                p.facts[k] = v  # newest last
            while len(p.facts) > self.config.max_facts_per_person:
                p.facts.pop(next(iter(p.facts)))
            self._dirty = True
            self.save()
        return facts

    def exchange(self, person_id: int | None, user: str, robot: str) -> None:
        """A finished exchange: kept for the person (when known) and for the conversation, then saved."""
        turn = {"user": user, "robot": robot, "at": self.clock()}
        if person_id is not None:
            self.person(person_id).turns.append(turn)
        self.conversation.append({"person": person_id, **turn})
        self._dirty = True
        self.save()

    def robot_said(self, person_id: int | None, text: str) -> None:
        """Something the robot said first (a greeting), for the conversation."""
        self.conversation.append({"person": person_id, "user": "", "robot": text, "at": self.clock()})
        self._dirty = True

    def forget(self, person_id: int) -> None:
        """Erase what is remembered of ``person_id`` (they asked to be forgotten), then save."""
        self.people.pop(person_id, None)
        self.conversation = deque((t for t in self.conversation if t["person"] != person_id),
                                  maxlen=self.config.max_conversation_turns)
        self._dirty = True
        self.save()

    def addressed_age(self, person_id: int) -> float | None:
        """Seconds since ``person_id`` was last addressed (wall clock), None if never or unknown."""
        p = self.people.get(person_id)
        if p is None or p.last_addressed is None:
            return None
        return max(0.0, self.clock() - p.last_addressed)

    def next_id(self) -> int:
        """An id larger than every remembered one, so a new person never inherits a memory."""
        return max(self._high_id, *self.people, 0) + 1

    # -- the file -----------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "version": VERSION, "saved_at": self.clock(), "next_id": self.next_id(),
                "people": [p.to_dict() for p in self.people.values()], "conversation": list(self.conversation)}

    def save(self, force: bool = True) -> bool:
        """Write the file atomically when something changed (``force=False``: only every ``save_every_s``).

        Returns True when the file was written. A failure is reported to ``on_problem``, never raised:
        the robot keeps talking with a memory it cannot keep.
        """
        path = self.path
        if path is None or not self._dirty:
            return False
        now = self.clock()
        if not force and now - self._saved_at < self.config.save_every_s:
            return False
        tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(tmp, "w", encoding="utf-8") as f:
                json.dump(self.to_dict(), f, ensure_ascii=False, separators=(",", ":"))
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, path)  # atomic: a reader (or a crash) sees the old file or the new one
        except OSError as e:
            self.on_problem(f"memory: could not write {path} ({type(e).__name__}: {e}); check the directory "
                            "exists and is writable, or set memory.path")
            return False
        self._dirty = False
        self._saved_at = now
        return True

    def load(self) -> bool:
        """Read the file into this (empty) memory. Returns True when something was loaded.

        A missing file is a first start. An unreadable one is renamed ``<path>.bad`` and reported to
        ``on_problem``; the memory then starts empty.
        """
        path = self.path
        if path is None or not path.exists():
            return False
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
            self._load_doc(doc)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, InvalidInputError,
                KeyError, TypeError, ValueError) as e:
            bad = path.with_name(path.name + ".bad")
            self.people.clear()
            self.conversation.clear()
            try:
                os.replace(path, bad)
                kept = f"kept it as {bad}"
            except OSError as e2:
                kept = f"could not keep it as {bad} ({e2})"
            self.on_problem(f"memory: {path} could not be read ({type(e).__name__}: {e}); {kept} and started with "
                            f"an empty memory (expected a {SCHEMA} version {VERSION} JSON file written by this node)")
            return False
        return True

    def _load_doc(self, doc: Any) -> None:
        if not isinstance(doc, dict) or doc.get("schema") != SCHEMA:
            got = doc.get("schema") if isinstance(doc, dict) else type(doc).__name__
            raise InvalidInputError(f"expected schema {SCHEMA!r}, got {got!r}")
        if doc.get("version") != VERSION:
            raise InvalidInputError(f"version {doc.get('version')!r} is not supported; this build reads {VERSION}")
        people = [PersonMemory.from_dict(d, self.config.max_turns_per_person) for d in doc["people"]]
        people.sort(key=lambda p: p.last_seen)
        for p in people[-self.config.max_people:]:
            self.people[p.id] = p
        self._high_id = max(int(doc.get("next_id", 1)) - 1, *(p.id for p in people), 0)
        for t in doc.get("conversation", []):
            self.conversation.append({"person": None if t.get("person") is None else int(t["person"]),
                                      "user": str(t["user"]), "robot": str(t["robot"]), "at": float(t["at"])})
