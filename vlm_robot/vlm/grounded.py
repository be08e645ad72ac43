"""The embedded default VLM: packaged perception rendered as a PaLM-E-style multimodal sentence.

No vision-language weights ship in any registry package, so this backend *grounds* a language model
in what the packaged detectors see instead of feeding it image embeddings:

1. perception (BlazeFace faces + FER expression, :class:`~vlm_robot.perception.pipeline.Perceiver`)
   runs on each frame of the clip (oldest first, at most ``vlm.extra.max_frames`` of them, results
   cached per frame), and the faces are tracked across the clip
   (:class:`~vlm_robot.reasoning.tracker.PeopleTracker`);
2. every person becomes an *entity token* (``<person1>``, numbered by arrival, then left to right)
   with its box in the newest frame, side, distance, facing and smoothed expression, and the scene is
   rendered as one multimodal sentence, e.g. ``"<person1> on the left, about 0.9 m away, facing the
   robot, looks happy (1.00), there for at least 2.0 s. <person2> on the right, ..., appeared 1.0 s
   ago."`` (PaLM-E's per-object tokens that the text refers to);
3. questions of the kinds below are answered **deterministically** from that entity table by a small
   question parser (:func:`parse_question`), citing the entity tokens; anything else (an *open*
   question) goes to the packaged chat model (SmolLM2-135M via llama.cpp) with the multimodal
   sentence as its context, and its tokens are streamed.

Deterministic question kinds: how many people / is anyone there (``count``), who is there
(``who``), how people look (``mood``), whether anyone looks sad / upset / happy / angry / afraid /
surprised (``mood_query``), who is looking at the robot (``looking``), where people are and who is on
the left / right (``where``), how far / who is closest (``distance``), what someone is holding
(``holding``), which objects are visible (``objects``), whether a named thing is visible
(``thing``), what changed over the clip / who arrived / how long someone has been there
(``changes``), a summary of one referenced person (``person``) and "describe what you see"
(``describe``), and "why does she look sad?" (``why``: "I can't tell why; I can only see that ...").
These answers say nothing perception did not report.

What this backend cannot see, and says so: objects and hands. The packaged detectors were tried on
the demo scene: mediapipe 0.10.14 ships no object detector (Objectron's SSD is gone from that wheel),
its palm detector fired on the astronaut's suit (no hand is visible) and its pose detector found only
the astronaut's face region, not the grey LFW visitor; none of them is used. So "what is she holding?"
is answered "I can't tell what <person1> is holding ...", and "is there a cup?" with "I don't see a
cup ...". Open questions answered by the 135M chat model are only as grounded as that model is: it is
told only the multimodal sentence, but it may still invent details.

Cost per call: perception about 8-15 ms per new frame on a 2-core CPU (cached frames are free), the
question parser well under a millisecond; the chat model runs only for open questions (about
80-150 tokens/s), at most ``vlm.max_new_tokens`` tokens.

    from vlm_robot.vlm.base import VLMConfig, make_backend
    vlm = make_backend(VLMConfig(backend="grounded"))
    vlm.load()
    print(vlm.answer("Does anyone look sad?", frames).text)
    # Yes: <person2> on the right looks sad (0.61).
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlm_robot.core.errors import ConfigError, InvalidInputError, VlmRobotError
from vlm_robot.core.types import EXPRESSIONS, Frame, PerceptionResult
from vlm_robot.vlm.base import VLMAnswer, VLMConfig, answer_from_stream, sample_clip

EXTRA_DEFAULTS: dict[str, Any] = {
    "max_frames": 8,  # frames of a clip that are run through perception (sampled by time)
    "facing_threshold": 0.7,  # facing score from which a face counts as looking at the robot
    "camera_hfov_deg": 60.0,  # for distance from face size
    "face_width_m": 0.16,
    "llm_model_path": "",  # a GGUF for open questions; empty: the packaged SmolLM2-135M-Instruct
    "llm_threads": 1,
    "min_face_score": 0.5,
    "max_sentences": 2,  # an open answer from the chat model is cut after this many sentences
}

SYSTEM_PROMPT = "You are a helpful robot assistant. Keep answers short. Only mention what is in the scene."

MOOD_WORDS: dict[str, str] = {
    "angry": "looks angry", "disgust": "looks disgusted", "fear": "looks afraid", "happy": "looks happy",
    "sad": "looks sad", "surprise": "looks surprised", "neutral": "looks neutral",
}
# words in a question -> the expression classes they ask about
MOOD_QUERY: dict[str, frozenset[str]] = {}
for _words, _classes in (
    (("sad", "unhappy", "down", "crying", "sorrowful", "gloomy", "depressed", "miserable", "blue"), {"sad"}),
    (("upset", "distressed", "troubled", "bothered"), {"sad", "angry", "fear", "disgust"}),
    (("happy", "smiling", "smile", "smiles", "glad", "cheerful", "joyful", "pleased", "content"), {"happy"}),
    (("angry", "mad", "annoyed", "furious", "cross", "irritated", "grumpy"), {"angry", "disgust"}),
    (("afraid", "scared", "frightened", "fearful", "worried", "anxious", "nervous"), {"fear"}),
    (("surprised", "shocked", "astonished", "amazed"), {"surprise"}),
    (("disgusted",), {"disgust"}),
    (("neutral", "calm", "relaxed", "expressionless"), {"neutral"}),
):
    for _w in _words:
        MOOD_QUERY[_w] = frozenset(_classes)

PERSON_WORDS = frozenset({
    "person", "people", "persons", "someone", "somebody", "anyone", "anybody", "everyone", "everybody",
    "man", "men", "woman", "women", "human", "humans", "face", "faces", "guy", "guys", "lady", "ladies",
    "visitor", "visitors", "kid", "kids", "child", "children", "boy", "girl", "one", "ones", "individual",
    "individuals", "folks", "user", "users",
})
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}


class NotLoadedError(VlmRobotError, RuntimeError):
    """A backend was asked a question before :meth:`GroundedVLM.load`."""


# --------------------------------------------------------------------------------------------------
# the entity table


@dataclass
class PersonEntity:
    """One person seen in the clip, as an entity token can refer to it.

    Attributes:
        token: ``"<personN>"``.
        box: ``(x, y, w, h)`` pixels in the frame where the person was last seen (the newest frame
            when ``present``).
        side: ``"left"``, ``"centre"`` or ``"right"`` of the camera image.
        distance_m: from the face width (pinhole camera, ``camera_hfov_deg``, ``face_width_m``).
        facing: 1.0 when the face is turned straight at the camera.
        mood, mood_confidence, mood_probs: expression smoothed over the clip.
        first_mood, last_mood: the per-frame expression when first and last seen (a change of mood).
        first_seen, last_seen: stamps (seconds) within the clip.
        appeared: first seen after the clip's first frame (someone arrived).
        present: seen in the newest frame.
    """

    token: str
    box: tuple[float, float, float, float]
    score: float
    side: str
    distance_m: float
    facing: float
    mood: str
    mood_confidence: float
    mood_probs: tuple[float, ...]
    first_mood: str
    last_mood: str
    first_seen: float
    last_seen: float
    appeared: bool
    present: bool
    frames_seen: int

    @property
    def near(self) -> str:
        return "close" if self.distance_m < 1.2 else ("near" if self.distance_m < 2.5 else "far")

    def to_entity(self, facing_threshold: float) -> dict[str, Any]:
        """The ``VLMAnswer.entities`` value for this person."""
        return {
            "kind": "person",
            "box": [round(v, 1) for v in self.box],
            "score": round(self.score, 3),
            "side": self.side,
            "distance_m": round(self.distance_m, 2),
            "facing": round(self.facing, 3),
            "looking_at_robot": self.facing >= facing_threshold,
            "expression": self.mood,
            "expression_confidence": round(self.mood_confidence, 3),
            "expression_scores": {k: round(v, 4) for k, v in zip(EXPRESSIONS, self.mood_probs, strict=False)},
            "first_seen": self.first_seen,
            "last_seen": self.last_seen,
            "appeared": self.appeared,
            "present": self.present,
        }


@dataclass
class Observation:
    """What perception saw over a clip: the people, the changes, and the multimodal sentence.

    Attributes:
        people: present people (in the newest frame), ``<person1>`` first.
        gone: people seen earlier in the clip but not in the newest frame (no tokens of their own).
        stamps: the stamps of the frames that were perceived, oldest first.
        width, height: the newest frame's size.
        sentence: the PaLM-E-style multimodal sentence.
        perception_ms: perception time spent in this call (0 for cached frames).
    """

    people: list[PersonEntity]
    gone: list[PersonEntity]
    stamps: list[float]
    width: int
    height: int
    sentence: str = ""
    perception_ms: float = 0.0
    facing_threshold: float = 0.7

    @property
    def span_s(self) -> float:
        return self.stamps[-1] - self.stamps[0] if self.stamps else 0.0

    def entities(self) -> dict[str, dict[str, Any]]:
        return {p.token: p.to_entity(self.facing_threshold) for p in self.people}

    def by_token(self) -> dict[str, PersonEntity]:
        return {p.token: p for p in self.people}


def _side(cx: float, width: int) -> str:
    r = cx / max(width, 1)
    return "left" if r < 1 / 3 else ("right" if r > 2 / 3 else "centre")


def _where(p: PersonEntity) -> str:
    return "in the centre" if p.side == "centre" else f"on the {p.side}"


def _count(n: int, one: str = "person", many: str = "people") -> str:
    word = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    return f"{word} {one if n == 1 else many}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]


def build_observation(results: Sequence[PerceptionResult], facing_threshold: float = 0.7,
                      camera_hfov_deg: float = 60.0, face_width_m: float = 0.16) -> Observation:
    """Track faces over per-frame perception results (oldest first) and build the entity table.

    Args:
        results: one :class:`PerceptionResult` per frame of the clip, oldest first.
        facing_threshold: facing score from which a person counts as looking at the robot.
        camera_hfov_deg, face_width_m: for the distance estimate from face width.

    Raises:
        InvalidInputError: ``results`` is empty.
    """
    from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig

    if not results:
        raise InvalidInputError("grounded VLM: expected at least one perceived frame, got none")
    span = results[-1].stamp - results[0].stamp
    tracker = PeopleTracker(TrackerConfig(forget_after_s=span + 1.0, camera_hfov_deg=camera_hfov_deg,
                                          face_width_m=face_width_m))
    raw: dict[int, list[tuple[str, float, float]]] = {}  # id -> [(expression, score, stamp)] per frame
    for r in results:
        for p in tracker.update(r):
            face = max(r.faces, key=lambda f, b=p.box: -abs(f.box[0] - b[0]) - abs(f.box[1] - b[1]))
            raw.setdefault(p.id, []).append((face.expression, face.score, r.stamp))
    newest = results[-1]
    t0 = results[0].stamp
    people, gone = [], []
    for p in tracker.people.values():
        seen = raw.get(p.id, [])
        cx = p.box[0] + p.box[2] / 2
        e = PersonEntity(
            token="", box=tuple(float(v) for v in p.box), score=float(np.mean([s for _, s, _ in seen] or [0.0])),
            side=_side(cx, newest.width), distance_m=float(p.distance_m), facing=float(p.facing),
            mood=p.mood, mood_confidence=float(p.mood_confidence), mood_probs=tuple(p.expression_probs),
            first_mood=seen[0][0] if seen else p.mood, last_mood=seen[-1][0] if seen else p.mood,
            first_seen=p.first_seen, last_seen=p.last_seen, appeared=p.first_seen > t0,
            present=p.last_seen == newest.stamp,
            frames_seen=len(seen),
        )
        (people if e.present else gone).append(e)
    # numbered by arrival, then left to right: the same scene gives the same tokens
    people.sort(key=lambda e: (e.first_seen, e.box[0]))
    for i, e in enumerate(people, 1):
        e.token = f"<person{i}>"
    obs = Observation(people, sorted(gone, key=lambda e: e.last_seen), [r.stamp for r in results],
                      newest.width, newest.height, facing_threshold=facing_threshold)
    obs.sentence = render_sentence(obs)
    return obs


def _facing_words(p: PersonEntity, threshold: float, robot: str = "the robot") -> str:
    if p.facing >= threshold:
        return f"facing {robot}"
    return "partly turned away" if p.facing >= threshold / 2 else "turned away"


def _mood_words(p: PersonEntity, with_score: bool = True) -> str:
    words = MOOD_WORDS.get(p.mood, f"looks {p.mood}")
    if p.mood_confidence < 0.4:
        words = words.replace("looks", "may look", 1)
    return f"{words} ({p.mood_confidence:.2f})" if with_score else words


def _history(p: PersonEntity, obs: Observation) -> str:
    """What happened to this person over the clip, or "" for a single frame."""
    if len(obs.stamps) < 2:
        return ""
    bits = []
    if p.appeared:
        bits.append(f"appeared {obs.stamps[-1] - p.first_seen:.1f} s ago")
    else:
        bits.append(f"there for at least {p.last_seen - p.first_seen:.1f} s")
    if p.first_mood != p.last_mood:
        bits.append(f"{MOOD_WORDS.get(p.first_mood, p.first_mood).replace('looks', 'looked')} at first")
    return ", ".join(bits)


def person_clause(p: PersonEntity, obs: Observation, robot: str = "the robot") -> str:
    """``"<person1> on the left, about 0.9 m away, facing the robot, looks happy (1.00)"`` (+ history)."""
    parts = [f"{p.token} {_where(p)}", f"about {p.distance_m:.1f} m away",
             _facing_words(p, obs.facing_threshold, robot), _mood_words(p)]
    hist = _history(p, obs)
    if hist:
        parts.append(hist)
    return ", ".join(parts)


def render_sentence(obs: Observation) -> str:
    """The multimodal sentence: one clause per entity, then what changed over the clip."""
    if not obs.people:
        s = "Nobody is in view."
    else:
        s = " ".join(f"{person_clause(p, obs)}." for p in obs.people)
    for g in obs.gone:
        s += f" Someone who was {_where(g)} has left (last seen {obs.stamps[-1] - g.last_seen:.1f} s ago)."
    return s


# --------------------------------------------------------------------------------------------------
# the question parser


@dataclass(frozen=True)
class Query:
    """What a question asks, as far as the parser recognises it.

    Attributes:
        kind: one of ``count, who, mood, mood_query, why, looking, where, distance, holding, objects,
            thing, changes, person, describe, open``.
        yes_no: the question expects yes or no ("is anyone there?").
        moods: ``mood_query``: the expression classes asked about; ``mood_word`` the word used.
        target: a reference to one person: ``"<person2>"``, ``"side:left"``, ``"mood:sad"``,
            ``"only"`` (a pronoun), or ``""`` for everyone.
        side: ``where``: "who is on the left" asks about this side.
        thing: ``thing``/``count``: the noun phrase asked about ("a cup").
        superlative: ``distance``: ``"closest"`` or ``"farthest"``.
        focus: ``changes``: ``"arrived"``, ``"left"``, ``"dwell"`` or ``""`` (everything that changed).
    """

    kind: str
    yes_no: bool = False
    moods: frozenset[str] = frozenset()
    mood_word: str = ""
    target: str = ""
    side: str = ""
    thing: str = ""
    superlative: str = ""
    focus: str = ""


_PERSON_NUM = re.compile(r"<?\bperson\s*#?\s*(\d+|one|two|three|four|five)\b>?")
_SIDE_REF = re.compile(
    r"\b(?:the\s+)?(?:(?:one|person|man|woman|guy|lady|face|someone|somebody|anyone)\s+)?"
    r"(?:on|at|in|to)\s+the\s+(left|right|middle|centre|center)\b"
    r"|\bthe\s+(left|right|middle|centre|center)(?:most|-most)?\s+(?:one|person|man|woman|guy|lady|face)\b"
)
_ORDINAL_REF = re.compile(r"\bthe\s+(first|second|third|fourth|fifth)\s+(?:one|person|man|woman|guy|lady)\b")
_MOOD_REF = re.compile(r"\bthe\s+(\w+)\s+(?:one|person|man|woman|guy|lady|face)\b")
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|this person|that person|the person)\b")
_THING = re.compile(
    r"\b(?:is\s+there|are\s+there|do\s+you\s+see|can\s+you\s+see|could\s+you\s+see|you\s+see|see|spot|notice)\s+"
    r"((?:a|an|any|the|some)\s+)?([a-z][a-z' -]*)$"
)
_HOW_MANY = re.compile(r"\bhow\s+many\s+([a-z]+)")


def _normalise(text: str) -> str:
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"[^a-z0-9<>#' -]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def _side_word(w: str) -> str:
    return "centre" if w in ("middle", "centre", "center") else w


def _reference(t: str) -> str:
    """The single person a question refers to, as a target string (see :class:`Query`), or ""."""
    m = _PERSON_NUM.search(t)
    if m:
        n = m.group(1)
        return f"<person{_NUMBER_WORDS.index(n) if n in _NUMBER_WORDS else int(n)}>"
    m = _SIDE_REF.search(t)
    if m:
        return f"side:{_side_word(m.group(1) or m.group(2))}"
    m = _ORDINAL_REF.search(t)
    if m:
        return f"<person{_ORDINALS[m.group(1)]}>"
    m = _MOOD_REF.search(t)
    if m and m.group(1) in MOOD_QUERY:
        return f"mood:{m.group(1)}"
    if _PRONOUN.search(t) and not re.search(r"\b(anyone|anybody|someone|somebody|everyone|everybody|people)\b", t):
        return "only"
    return ""


def parse_question(text: str) -> Query:
    """Recognise the question kinds the entity table can answer; anything else is ``open``.

    The rules are checked in order: why (about people), holding, changes, describe, looking, a mood word, a general
    mood question, who-is-on-a-side, where, distance, counting, who, objects, a named thing.
    """
    t = _normalise(text)
    words = set(re.findall(r"[a-z]+", t))
    yes_no = bool(re.match(r"^(is|are|does|do|did|has|have|can|could|am)\b", t))
    target = _reference(t)
    if t.startswith("why ") and not re.search(r"\byou\b", t) and (target or words & (PERSON_WORDS | set(MOOD_QUERY))):
        return Query("why", target=target)
    if re.search(r"\b(hold|holds|holding|held|carry|carries|carrying|in (his|her|their|its|the) hands?)\b", t):
        return Query("holding", yes_no, target=target)
    if re.search(r"\b(arrive[sd]?|arriving|came in|come in|just (came|showed)|new(comer)?s?|leave|leaving|gone|"
                 r"chang(e|ed|es|ing)|how long|since when|been (there|here|waiting|around)|"
                 r"(has|have|who|just|anyone|someone|somebody|anybody) (just )?left)\b", t) \
            and not re.search(r"\bleft (side|of|one)\b", t):
        focus = ("arrived" if re.search(r"\b(arriv|came|come|showed|new)", t) else
                 "left" if re.search(r"\b(left|leave|leaving|gone)\b", t) else
                 "dwell" if re.search(r"\b(how long|since when|been)\b", t) else "")
        return Query("changes", yes_no, target=target, focus=focus)
    if re.search(r"\b(describe|what (do|can|did) you (see|notice)|what('s| is) (in front of you|going on|happening|"
                 r"around( you)?|in view)|tell me what you see|what is there|look around|what are you seeing)\b", t):
        return Query("describe")
    if re.search(r"\b(looking|look at|looks at|facing|faces (me|you|the)|watching|eye contact|attention|"
                 r"staring|stares)\b", t):
        return Query("looking", yes_no, target=target)
    mood_hits = [w for w in re.findall(r"[a-z]+", t) if w in MOOD_QUERY]
    if mood_hits and not target.startswith("mood:"):
        return Query("mood_query", yes_no, moods=MOOD_QUERY[mood_hits[0]], mood_word=mood_hits[0], target=target)
    if target.startswith("mood:") and len(mood_hits) >= 2:  # "is the sad one upset?"
        w = next(h for h in mood_hits if h != target[5:])
        return Query("mood_query", yes_no, moods=MOOD_QUERY[w], mood_word=w, target=target)
    if re.search(r"\b(mood|moods|feel|feels|feeling|feelings|emotion|emotions|emotional|expression|expressions)\b", t) \
            or re.search(r"\bhow (does|do|is|are)\b.*\b(look|looks|looking|seem|seems|doing)\b", t) \
            or re.search(r"\bhow (is|are) (everyone|everybody|they|he|she|it going)\b", t):
        return Query("mood", yes_no, target=target)
    m = re.search(r"\bwho('s| is| are)? (standing |sitting |there )?(on|at|in|to) the "
                  r"(left|right|middle|centre|center)\b", t)
    if m:
        return Query("where", yes_no, side=_side_word(m.group(4)))
    if re.search(r"\b(where|which side|position|positions|located|location)\b", t):
        return Query("where", yes_no, target=target)
    m = re.search(r"\b(closest|nearest|farthest|furthest)\b", t)
    if m or re.search(r"\b(how far|distance|how close|far away)\b", t):
        sup = "" if not m else ("closest" if m.group(1) in ("closest", "nearest") else "farthest")
        return Query("distance", yes_no, target=target, superlative=sup)
    m = _HOW_MANY.search(t)
    if m:
        noun = m.group(1)
        if noun in PERSON_WORDS:
            return Query("count")
        return Query("thing", thing=f"any {noun}")
    if re.search(r"^(is|are) (there )?(anyone|anybody|someone|somebody|people|persons?|a person)\b", t) \
            or re.search(r"\b(am i alone|are (you|we) alone|any(body|one) (here|there|around))\b", t):
        return Query("count", yes_no=True)
    if target and re.search(r"\b(tell me about|what about|who is|who's|describe)\b", t):
        return Query("person", target=target)
    if "who" in words:
        return Query("who")
    if re.search(r"\b(objects?|things?|items?|stuff)\b", t) and re.search(r"\b(what|which|any|see|there)\b", t):
        return Query("objects")
    m = _THING.search(t)
    if m:
        article, noun = (m.group(1) or "").strip(), m.group(2).strip()
        head = noun.split()[0] if noun else ""
        if head in PERSON_WORDS or noun in PERSON_WORDS:
            return Query("count", yes_no=True)
        if head in ("me", "us", "you", "it", "this", "that", "anything", "something"):
            return Query("open")
        return Query("thing", yes_no, thing=f"{article} {noun}".strip())
    return Query("open", yes_no, target=target)


# --------------------------------------------------------------------------------------------------
# answers from the entity table


def _resolve(target: str, obs: Observation) -> tuple[list[PersonEntity], str]:
    """The people a target refers to, and a phrase naming the target when nobody matches."""
    people = obs.people
    if not target:
        return people, ""
    if target.startswith("<person"):
        return [p for p in people if p.token == target], target.strip("<>")
    if target.startswith("side:"):
        side = target[5:]
        where = "in the centre" if side == "centre" else f"on the {side}"
        return [p for p in people if p.side == side], f"anyone {where}"
    if target.startswith("mood:"):
        classes = MOOD_QUERY[target[5:]]
        return [p for p in people if p.mood in classes], f"anyone who looks {target[5:]}"
    return people, ""  # "only" (a pronoun): everyone, which is one person when it is unambiguous


def _nobody() -> str:
    return "I don't see anyone."


def _listing(people: list[PersonEntity]) -> str:
    return _join([f"{p.token} {_where(p)} {_mood_words(p, with_score=False)}" for p in people])


def answer_query(q: Query, obs: Observation) -> str | None:
    """The deterministic answer to ``q`` about ``obs``, or ``None`` for an open question."""
    people = obs.people
    n = len(people)
    if q.kind == "open":
        return None
    if q.kind == "describe":
        return _describe(obs)
    if q.kind == "count":
        if n == 0:
            return ("No, " if q.yes_no else "") + _nobody()
        return f"{'Yes, ' if q.yes_no else ''}{_cap(_count(n)) if not q.yes_no else _count(n)}: {_listing(people)}."
    if q.kind == "who":
        if n == 0:
            return _nobody()
        clauses = [person_clause(p, obs, "me") for p in people]
        return f"I see {_count(n)} (I don't recognise who they are): " + "; ".join(clauses) + "."
    if q.kind == "thing":
        return (f"I don't see {q.thing}. I can only recognise people and their faces, not objects, "
                "so I can't rule it out.")
    if q.kind == "objects":
        seen = f"I see {_count(n)}: {_join([p.token for p in people])}." if n else "I don't see anyone either."
        return f"I don't see any objects I can name: I can only recognise people and their faces. {seen}"
    if n == 0:
        return _nobody()
    chosen, missing = _resolve(q.target, obs)
    if not chosen and q.kind != "where":
        return f"I don't see {missing}; I see {_count(n)}: {_listing(people)}."
    if q.kind == "holding":
        if q.target and len(chosen) == 1:
            return (f"I can't tell what {chosen[0].token} is holding: I only see faces, not hands or objects.")
        return "I can't tell what they are holding: I only see faces, not hands or objects " \
               f"({_join([p.token for p in chosen])} {'is' if len(chosen) == 1 else 'are'} in view)."
    if q.kind == "mood":
        return _cap("; ".join(f"{p.token} {_mood_words(p)}" for p in chosen)) + "."
    if q.kind == "why":
        return "I can't tell why; I can only see that " + _join([f"{p.token} {_mood_words(p)}" for p in chosen]) + "."
    if q.kind == "mood_query":
        return _mood_query(q, chosen, bool(q.target))
    if q.kind == "looking":
        return _looking(q, chosen, obs, bool(q.target))
    if q.kind == "where":
        if q.side:
            on = [p for p in people if p.side == q.side]
            where = "in the centre" if q.side == "centre" else f"on the {q.side}"
            if not on:
                return f"Nobody is {where}; I see " + _join([f"{p.token} {_where(p)}" for p in people]) + "."
            return _cap(_join([p.token for p in on])) + f" {'is' if len(on) == 1 else 'are'} {where}."
        if not chosen:
            return f"I don't see {missing}; I see " + _join([f"{p.token} {_where(p)}" for p in people]) + "."
        return _cap("; ".join(f"{p.token} is {_where(p)}, about {p.distance_m:.1f} m away" for p in chosen)) + "."
    if q.kind == "distance":
        ranked = sorted(chosen, key=lambda p: p.distance_m)
        parts = [f"{p.token} is about {p.distance_m:.1f} m away" for p in ranked]
        if q.superlative and len(ranked) > 1:
            if ranked[-1].distance_m - ranked[0].distance_m < 0.15:
                how = "close" if q.superlative == "closest" else "far"
                return (f"{_cap(_join(sorted(p.token for p in ranked)))} are about equally {how}, "
                        f"about {ranked[0].distance_m:.1f} m away.")
            best = ranked[0] if q.superlative == "closest" else ranked[-1]
            rest = [s for p, s in zip(ranked, parts, strict=True) if p is not best]
            return f"{best.token} is {q.superlative}, about {best.distance_m:.1f} m away; " + "; ".join(rest) + "."
        return _cap("; ".join(parts)) + "."
    if q.kind == "changes":
        return _changes(q, obs, chosen if q.target else people)
    if q.kind == "person":
        return _cap("; ".join(person_clause(p, obs, "me") for p in chosen)) + "."
    return None


def _mood_query(q: Query, chosen: list[PersonEntity], targeted: bool) -> str:
    word = q.mood_word
    match = [p for p in chosen if p.mood in q.moods]
    if targeted and len(chosen) == 1:
        p = chosen[0]
        if match:
            return f"Yes, {p.token} {_mood_words(p)}."
        return f"No, {p.token} {_mood_words(p)}, not {word}."
    if match:
        others = [p for p in chosen if p not in match]
        tail = f"; {_listing(others)}" if others else ""
        found = _join([f"{p.token} {_where(p)} {_mood_words(p)}" for p in match])
        return f"{'Yes: ' + found if q.yes_no else _cap(found)}{tail}."
    return f"{'No, n' if q.yes_no else 'N'}obody looks {word}: {_listing(chosen)}."


def _looking(q: Query, chosen: list[PersonEntity], obs: Observation, targeted: bool) -> str:
    thr = obs.facing_threshold
    facing = [p for p in chosen if p.facing >= thr]
    away = [p for p in chosen if p.facing < thr]
    if targeted and len(chosen) == 1:
        p = chosen[0]
        if facing:
            return f"Yes, {p.token} is facing me (facing {p.facing:.2f})."
        return f"No, {p.token} is {_facing_words(p, thr)} (facing {p.facing:.2f})."
    if not facing:
        return f"{'No, n' if q.yes_no else 'N'}obody is looking at me: " + \
            _join([f"{p.token} is {_facing_words(p, thr)}" for p in away]) + "."
    verb = "is" if len(facing) == 1 else "are"
    s = f"{'Yes, ' if q.yes_no else ''}{_join([p.token for p in facing])} {verb} facing me"
    s = _cap(s)
    if away:
        s += "; " + _join([f"{p.token} is {_facing_words(p, thr)}" for p in away])
    return s + "."


def _changes(q: Query, obs: Observation, people: list[PersonEntity]) -> str:
    if len(obs.stamps) < 2:
        return ("I have only one frame, so I can't tell what changed or for how long; I see "
                f"{_count(len(obs.people))}" + (f": {_listing(obs.people)}." if obs.people else "."))
    newest = obs.stamps[-1]
    over = f"in the last {obs.span_s:.1f} s"
    if q.focus == "arrived":
        came = [p for p in people if p.appeared]
        if not came:
            return f"{'No, n' if q.yes_no else 'N'}obody arrived {over}."
        s = _join([f"{p.token} {_where(p)} appeared {newest - p.first_seen:.1f} s ago" for p in came])
        return f"{'Yes, ' + s if q.yes_no else _cap(s)}."
    if q.focus == "left" and not q.target:
        if not obs.gone:
            return f"{'No, n' if q.yes_no else 'N'}obody left {over}."
        s = _join([f"someone who was {_where(g)} has left (last seen {newest - g.last_seen:.1f} s ago)"
                   for g in obs.gone])
        return f"{'Yes, ' + s if q.yes_no else _cap(s)}."
    out = []
    for p in people:
        if p.appeared:
            out.append(f"{p.token} appeared {newest - p.first_seen:.1f} s ago")
        else:
            out.append(f"{p.token} has been there for at least {p.last_seen - p.first_seen:.1f} s")
        if p.first_mood != p.last_mood:
            out.append(f"{p.token} {MOOD_WORDS.get(p.first_mood, p.first_mood).replace('looks', 'looked')} "
                       f"and now {MOOD_WORDS.get(p.last_mood, p.last_mood)}")
    for g in obs.gone:
        out.append(f"someone who was {_where(g)} has left (last seen {newest - g.last_seen:.1f} s ago)")
    if not out:
        return f"Nothing changed over the last {obs.span_s:.1f} s: I don't see anyone."
    return _cap("; ".join(out)) + f" (over the last {obs.span_s:.1f} s)."


def _describe(obs: Observation) -> str:
    n = len(obs.people)
    head = f"I see {_count(n)}." if n else "I don't see anyone."
    body = " ".join(f"{_cap(person_clause(p, obs, 'me'))}." for p in obs.people)
    tail = "".join(f" Someone who was {_where(g)} has left (last seen {obs.stamps[-1] - g.last_seen:.1f} s ago)."
                   for g in obs.gone)
    return f"{head} {body}{tail}".strip()


# --------------------------------------------------------------------------------------------------
# the backend


@dataclass
class _Cache:
    """Perception results of recent frames (the same clip is often asked about several times)."""

    size: int = 64
    items: OrderedDict[tuple, PerceptionResult] = field(default_factory=OrderedDict)

    @staticmethod
    def key(frame: Frame) -> tuple:
        img = frame.image
        return (frame.frame_id, frame.stamp, frame.seq, img.shape, img[:: max(1, img.shape[0] // 16),
                                                                       :: max(1, img.shape[1] // 16)].tobytes())

    def get(self, frame: Frame) -> PerceptionResult | None:
        k = self.key(frame)
        if k in self.items:
            self.items.move_to_end(k)
            return self.items[k]
        return None

    def put(self, frame: Frame, result: PerceptionResult) -> None:
        self.items[self.key(frame)] = result
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class GroundedVLM:
    """The ``grounded`` backend: packaged perception + entity tokens + a question parser + SmolLM2.

    See the module docstring for what is answered deterministically and what goes to the chat model.

    Args:
        config: ``vlm.*``; backend options in ``config.extra`` (see :data:`EXTRA_DEFAULTS`).
        perceiver: an already loaded :class:`~vlm_robot.perception.pipeline.Perceiver` to share
            (else :meth:`load` builds one).
        chat: an already loaded :class:`~vlm_robot.reasoning.llm.ChatModel` to share (else
            :meth:`load` loads the packaged one). A shared llama.cpp model must not be used by two
            threads at once.

    Raises:
        ConfigError: an unknown or out-of-range ``extra`` option.
    """

    name = "grounded"

    def __init__(self, config: VLMConfig, perceiver: Any = None, chat: Any = None) -> None:
        unknown = sorted(set(config.extra) - set(EXTRA_DEFAULTS))
        if unknown:
            raise ConfigError(f"vlm.extra for the grounded backend: unknown option(s) {unknown}; "
                              f"expected some of {sorted(EXTRA_DEFAULTS)}")
        self.config = config
        self.options = {**EXTRA_DEFAULTS, **config.extra}
        if not 1 <= int(self.options["max_frames"]) <= 32:
            raise ConfigError(f"vlm.extra.max_frames must be in [1, 32], got {self.options['max_frames']}")
        if not 0.0 < float(self.options["facing_threshold"]) <= 1.0:
            raise ConfigError(f"vlm.extra.facing_threshold must be in (0, 1], got {self.options['facing_threshold']}")
        self._perceiver = perceiver
        self._chat = chat
        self._own_chat = False
        self._cache = _Cache()
        self.last_entities: dict[str, dict[str, Any]] = {}
        self.last_observation: Observation | None = None
        self.last_query: Query | None = None
        self.model_name = "grounded (not loaded)"

    def load(self) -> None:
        """Load the face, expression and chat models (seconds; call on configure).

        Raises:
            ModelNotFoundError, ModelIntegrityError: a packaged model is missing or altered.
            BackendUnavailableError: llama-cpp-python is not installed.
        """
        if self._perceiver is None:
            from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig

            self._perceiver = Perceiver(PerceptionConfig(min_face_score=float(self.options["min_face_score"])))
        if self._chat is None:
            from vlm_robot.reasoning.llm import LLMConfig, load_chat_model

            self._chat = load_chat_model(LLMConfig(model_path=str(self.options["llm_model_path"]),
                                                   n_threads=int(self.options["llm_threads"]),
                                                   max_tokens=self.config.max_new_tokens))
            self._own_chat = True
        llm = getattr(self._chat, "model_name", type(self._chat).__name__)
        self.model_name = f"BlazeFace full + FER expression + {llm}"

    def _check(self, frames: Sequence[Frame]) -> list[Frame]:
        if self._perceiver is None or self._chat is None:
            raise NotLoadedError("grounded VLM: the models are not loaded; call load() first (on configure)")
        if not frames:
            raise InvalidInputError("grounded VLM: expected at least one Frame (oldest first), got none")
        for f in frames:
            img = getattr(f, "image", None)
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                got = "no image" if img is None else f"{getattr(img, 'dtype', type(img).__name__)} " \
                                                     f"{getattr(img, 'shape', '')}"
                raise InvalidInputError(f"grounded VLM: expected Frame.image as (H, W, 3) uint8 RGB, got {got}; "
                                        "convert with vlm_robot.core.image.image_to_rgb")
        frames = sorted(frames, key=lambda f: f.stamp)
        n = int(self.options["max_frames"])
        if len(frames) > n:
            frames = sample_clip(frames, n, frames[-1].stamp - frames[0].stamp + 1e-6)
        return frames

    def observe(self, frames: Sequence[Frame]) -> Observation:
        """Perceive the clip (oldest first) and build the entity table and multimodal sentence.

        Raises:
            NotLoadedError: :meth:`load` was not called.
            InvalidInputError: no frames, or a frame whose image is not ``(H, W, 3)`` uint8.
        """
        frames = self._check(frames)
        spent = 0.0
        results = []
        for f in frames:
            r = self._cache.get(f)
            if r is None:
                r = self._perceiver.process(f)
                spent += r.latency_ms
                self._cache.put(f, r)
            results.append(r)
        obs = build_observation(results, float(self.options["facing_threshold"]),
                                float(self.options["camera_hfov_deg"]), float(self.options["face_width_m"]))
        obs.perception_ms = spent
        return obs

    def stream(self, question: str, frames: Sequence[Frame]) -> Iterator[str]:
        """Yield the answer in pieces: sentences of a deterministic answer, or the chat model's tokens.

        ``last_entities`` / ``last_observation`` / ``last_query`` are set before the first piece.

        Raises:
            NotLoadedError: :meth:`load` was not called.
            InvalidInputError: no frames, a bad image, or an empty question.
        """
        if not question or not question.strip():
            raise InvalidInputError("grounded VLM: the question is empty; ask something about the scene")
        obs = self.observe(frames)
        q = parse_question(question)
        self.last_observation, self.last_query = obs, q
        self.last_entities = obs.entities()
        text = answer_query(q, obs)
        if text is not None:
            yield from re.findall(r".+?(?:[.;:](?:\s+|$)|$)", text)
            return
        messages = [{"role": "system", "content": f"{SYSTEM_PROMPT} The scene: {obs.sentence}"},
                    {"role": "user", "content": question.strip()}]
        text, limit = "", int(self.options["max_sentences"])
        for piece in self._chat.stream(messages, self.config.max_new_tokens):
            text += piece
            yield piece
            if len(re.findall(r"[.!?](?:\s|$)", text)) >= limit:
                break

    def answer(self, question: str, frames: Sequence[Frame]) -> VLMAnswer:
        """The whole answer with the entities it may cite (see :meth:`stream`)."""
        return answer_from_stream(self, question, frames)

    def close(self) -> None:
        """Release the chat model if this backend loaded it; a shared one is left to its owner."""
        self._cache.items.clear()
        if self._own_chat and self._chat is not None:
            self._chat.close()
        self._perceiver = None
        self._chat = None
        self._own_chat = False
