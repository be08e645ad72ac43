"""The entity table of the grounded VLM: per-frame perception tracked over a clip into people
(:class:`PersonEntity`, one ``<personN>`` token each) and an :class:`Observation`, rendered as the
PaLM-E-style multimodal sentence."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.types import EXPRESSIONS, PerceptionResult

MOOD_WORDS: dict[str, str] = {
    "angry": "looks angry", "disgust": "looks disgusted", "fear": "looks afraid", "happy": "looks happy",
    "sad": "looks sad", "surprise": "looks surprised", "neutral": "looks neutral",
}



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
