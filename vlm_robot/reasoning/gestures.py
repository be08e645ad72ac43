"""Hand gestures as cues: a raised palm held up becomes a ``stop`` intent, a wave a greeting cue, pointing a ray.

Perception reads the gestures (vlm_robot/perception/body.py) at its body rate and reports the last measurement
with every frame in between (``Body.age_s``); here each *measurement* counts once, by its own stamp, so a stop
needs ``stop_min_measurements`` separate readings of a raised palm within ``stop_window_s``: one noisy frame does
not stop the robot. One stop per raised palm: the next needs a measurement without a raised palm first (or
``stop_repeat_s`` of holding it). The stop goes through the safety gate like the spoken one (which always
accepts it).

A wave is a cue, not a command: :attr:`GestureCues.waved_at` holds, per tracked person, when they last waved
with their body turned towards the robot, also set on the person (``PersonState.waved_at``): the intention model
counts it (engagement.intention, ``proactive.intention.waved``), so the policy greets them sooner and says why.
:attr:`GestureCues.pointing` holds the last pointing ray per person (image pixels: origin and unit direction);
words that refer to it ("look there", "look over there", "what is that", :data:`POINTED_WORDS`) said within
``point_memory_s`` of it become a ``look_at`` along the ray (:func:`pointed_pixel`; the reasoner turns the pixel
into a bearing like a face's). A 2-D ray has no depth: the robot looks where the ray leaves the camera's view.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Body, Intent, PerceptionResult, PersonState


@dataclass(frozen=True)
class GestureConfig:
    """``gestures.*``: how gestures become intents and cues."""

    stop: bool = True  # a raised palm asks to stop
    stop_min_measurements: int = 3  # separate body measurements with a raised palm (3 at 5 Hz: ~0.4-0.6 s)
    stop_window_s: float = 1.2  # ... within this long
    stop_repeat_s: float = 3.0  # a palm held up asks again after this long
    wave_max_shoulder_yaw_deg: float = 50.0  # a wave counts as towards the robot when the chest is turned less
    wave_min_facing: float = 0.5  # ... or the face's facing score is at least this
    point_memory_s: float = 3.0  # "look there" refers to a point gesture of the speaker this recent
    memory_s: float = 30.0  # waves and points older than this are forgotten (bounded memory)

    def __post_init__(self) -> None:
        if self.stop_min_measurements < 1:
            raise ConfigError(f"gestures.stop_min_measurements must be >= 1, got {self.stop_min_measurements}")
        for name in ("stop_window_s", "stop_repeat_s", "wave_max_shoulder_yaw_deg", "point_memory_s", "memory_s"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"gestures.{name} must be > 0, got {getattr(self, name)}")


@dataclass
class GestureCues:
    """Follows the gestures of successive perception results; :meth:`update` per frame."""

    config: GestureConfig = field(default_factory=GestureConfig)
    waved_at: dict[int, float] = field(default_factory=dict)  # person id -> stamp of their last wave at the robot
    pointing: dict[int, tuple[float, tuple[float, float, float, float]]] = field(default_factory=dict)
    _palms: deque = field(default_factory=deque)  # (measurement stamp, person id or None) with a raised palm
    _measured: float = float("-inf")  # the newest measurement stamp seen
    _stopped_at: float | None = None  # when the current raised palm asked to stop (None: not yet / lowered)

    def update(self, result: PerceptionResult, people: list[PersonState]) -> list[Intent]:
        """Fold one frame's bodies in; return the stop intents it causes (at most one).

        ``people``: the tracked people after this frame (their boxes are this frame's face boxes).
        """
        c = self.config
        if not result.bodies:
            return []
        measured = round(result.stamp - max(b.age_s for b in result.bodies), 6)
        if measured < self._measured - 1e-6:  # time ran backwards (a replay restarted): start again
            self._palms.clear()
            self._stopped_at = None
            self._measured = measured
        new = measured > self._measured + 1e-6
        self._measured = max(self._measured, measured)
        by_box = {p.box: p for p in people if p.last_seen == result.stamp}
        owners = [_owner(b, result, by_box) for b in result.bodies]
        for b, p in zip(result.bodies, owners, strict=True):
            if p is None:
                continue
            if b.gesture == "wave" and _towards(b, p, c):
                self.waved_at[p.id] = p.waved_at = result.stamp
            if b.gesture == "point" and (b.point[2] or b.point[3]):
                self.pointing[p.id] = (result.stamp, b.point)
        for cues in (self.waved_at, self.pointing):
            for pid in [pid for pid, v in cues.items() if result.stamp - (v[0] if isinstance(v, tuple) else v)
                        > c.memory_s]:
                del cues[pid]
        if not new:  # the same measurement again: counted already
            return []
        palms = [(b, p) for b, p in zip(result.bodies, owners, strict=True) if b.gesture == "raised_palm"]
        if not palms:
            self._palms.clear()
            self._stopped_at = None  # lowered: the next raised palm may stop again
            return []
        body, person = max(palms, key=lambda bp: bp[0].box[2] * bp[0].box[3])
        self._palms.append((measured, person.id if person is not None else None))
        while self._palms and self._palms[0][0] < measured - c.stop_window_s:
            self._palms.popleft()
        if not c.stop or len(self._palms) < c.stop_min_measurements:
            return []
        if self._stopped_at is not None and measured - self._stopped_at < c.stop_repeat_s:
            return []
        self._stopped_at = measured
        span = measured - self._palms[0][0]
        who = f"person{person.id}" if person is not None else ""
        whose = f" by person {person.id}" if person is not None else (" (no body in view)" if not body.pose_valid
                                                                        else "")
        reason = (f"gesture: raised open palm{whose}, held up in {len(self._palms)} measurements over {span:.2f} s")
        return [Intent("stop", who, {}, "gesture", reason, stamp=result.stamp)]


    def recent_point(self, person_id: int, stamp: float) -> tuple[float, tuple[float, float, float, float]] | None:
        """``(stamp, ray)`` of ``person_id``'s point gesture within ``point_memory_s`` of ``stamp`` (before or
        after: the words may reach the reasoner after the frames that followed them), else None."""
        seen = self.pointing.get(person_id)
        if seen is None or abs(stamp - seen[0]) > self.config.point_memory_s:
            return None
        return seen


# words that refer to where the speaker points ("go there": navigate takes only a named place, see README)
POINTED_WORDS = re.compile(r"\b(look(?: over)? there|look at that|what(?:'s| is) that)\b", re.I)


def pointed_pixel(ray: tuple[float, float, float, float], width: int, height: int) -> tuple[float, float]:
    """Where a pointing ray (origin x, y px and unit direction in the image) leaves the image, the farthest visible
    point along it (a 2-D ray says nothing of depth). An origin outside the image is clamped into it first."""
    x = min(max(ray[0], 0.0), float(width))
    y = min(max(ray[1], 0.0), float(height))
    dx, dy = ray[2], ray[3]
    s = min((width - x) / dx if dx > 0 else -x / dx if dx < 0 else float("inf"),
            (height - y) / dy if dy > 0 else -y / dy if dy < 0 else float("inf"))
    if s == float("inf"):
        return x, y
    return min(max(x + s * dx, 0.0), float(width)), min(max(y + s * dy, 0.0), float(height))


def _owner(b: Body, result: PerceptionResult, by_box: dict) -> PersonState | None:
    """The tracked person whose face is this body's face."""
    if not 0 <= b.face_index < len(result.faces):
        return None
    return by_box.get(result.faces[b.face_index].box)


def _towards(b: Body, p: PersonState, c: GestureConfig) -> bool:
    if b.shoulders_valid and abs(b.shoulder_yaw_deg) <= c.wave_max_shoulder_yaw_deg:
        return True
    return p.facing >= c.wave_min_facing
