"""Engagement cues from faces, trajectories and words, and the intention-to-interact model that fuses them.

Head turn, who faces whom, how a person moves (approaching, passing, standing, leaving), what a person's words
say, and :func:`intention`: an explained logistic combination of those cues, the probability that a person
wants to interact with the robot. All ROS-free and cheap (a few arithmetic operations per face), so they run
on every frame.
"""

from __future__ import annotations

import math
import re
from collections import deque
from dataclasses import dataclass, fields

import numpy as np

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import MOTIONS, PersonState


def head_yaw(keypoints: tuple[tuple[float, float], ...] | np.ndarray) -> float:
    """Signed head turn from BlazeFace keypoints: the nose tip's offset from the eyes' midpoint.

    Measured along the eye line in eye distances: 0 for a face looking at the camera, > 0 when the
    face points towards the image's right, < 0 towards its left. A real head turned by 30 degrees
    gives roughly 0.3; :func:`vlm_robot.perception.faces.facing_score` is ``1 - 2 |yaw|``.

    Args:
        keypoints: ``(6, 2)`` pixel positions (right eye, left eye, nose tip, mouth, right ear, left ear);
            fewer than three points give 0.
    """
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim != 2 or len(k) < 3:
        return 0.0
    right_eye, left_eye, nose = k[0], k[1], k[2]
    axis = left_eye - right_eye
    dist = float(np.linalg.norm(axis))
    if dist < 1e-6:
        return 0.0
    return float(np.dot(nose - (left_eye + right_eye) / 2, axis / dist) / dist)


class AttentionWindow:
    """Share of the recent frames in which a person looked at the robot.

    Args:
        window_s: how far back to look.
        min_facing: a frame counts as looking at the robot when its facing score is at least this.
    """

    def __init__(self, window_s: float, min_facing: float) -> None:
        self.window_s, self.min_facing = window_s, min_facing
        self._frames: deque[tuple[float, bool]] = deque()

    def add(self, stamp: float, facing: float) -> float:
        """Record one frame; return the share of frames within ``window_s`` that looked at the robot."""
        self._frames.append((stamp, facing >= self.min_facing))
        while self._frames and self._frames[0][0] < stamp - self.window_s:
            self._frames.popleft()
        return sum(looking for _, looking in self._frames) / len(self._frames)

    def span(self) -> float:
        """Seconds the window covers so far."""
        return self._frames[-1][0] - self._frames[0][0] if self._frames else 0.0


def turned_towards(p: PersonState, other: PersonState, min_yaw: float, min_yaw_deg: float = 15.0) -> bool:
    """Whether ``p``'s head is turned towards where ``other`` stands in the image: by at least ``min_yaw_deg``
    degrees of the face mesh's head yaw when ``p``'s pose is valid, else by ``min_yaw`` of the keypoint yaw."""
    dx = (other.box[0] + other.box[2] / 2) - (p.box[0] + p.box[2] / 2)
    if p.pose_valid:
        return abs(p.head_yaw) >= min_yaw_deg and dx * p.head_yaw > 0
    return abs(p.yaw) >= min_yaw and dx * p.yaw > 0


def talking_partner(p: PersonState, people: list[PersonState], min_yaw: float,
                    min_yaw_deg: float = 15.0) -> PersonState | None:
    """The person ``p`` and who face each other (heads turned towards one another), if any; nearest first."""
    cx = p.box[0] + p.box[2] / 2
    partners = [q for q in people if q.id != p.id and turned_towards(p, q, min_yaw, min_yaw_deg)
                and turned_towards(q, p, min_yaw, min_yaw_deg)]
    return min(partners, key=lambda q: abs(q.box[0] + q.box[2] / 2 - cx), default=None)


SLOPE_T = 3.0  # a radial speed counts when at least this many standard errors of its fit


class MotionWindow:
    """How a person moves, from the last ``window_s`` of their distance and bearing.

    Radial speed is the least-squares slope of the distance (from face size) over the window, lateral speed the
    slope of the bearing times the mean distance. The bearing is where the person is relative to the robot's
    base, not in the image: the camera's pan is added to the angle off the image centre, so a head turn of the
    robot is not taken for the person moving. "approaching" (or "leaving") when the distance falls (rises) at
    ``approach_speed`` m/s or more and faster than half the lateral speed; else "passing" when the lateral speed
    is at least ``pass_speed`` m/s; else "standing"; "" before ``min_span_s`` of track.
    """

    def __init__(self, window_s: float = 1.5, min_span_s: float = 0.6, approach_speed: float = 0.25,
                 pass_speed: float = 0.25) -> None:
        self.window_s, self.min_span_s = window_s, min_span_s
        self.approach_speed, self.pass_speed = approach_speed, pass_speed
        self._samples: deque[tuple[float, float, float]] = deque()
        self.radial = self.lateral = 0.0  # m/s: > 0 approaching; signed sideways

    def add(self, stamp: float, distance_m: float, bearing_rad: float) -> str:
        """Record one sighting; return the motion over the window."""
        self._samples.append((stamp, distance_m, bearing_rad))
        while self._samples and self._samples[0][0] < stamp - self.window_s:
            self._samples.popleft()
        if len(self._samples) < 3 or stamp - self._samples[0][0] < self.min_span_s:
            self.radial = self.lateral = 0.0
            return ""
        t, d, b = (np.array(v, dtype=np.float64) for v in zip(*self._samples, strict=True))
        t = t - t.mean()
        denom = float(np.dot(t, t))
        slope = float(np.dot(t, d - d.mean())) / denom
        self.radial = -slope
        self.lateral = float(np.dot(t, b - b.mean())) / denom * float(d.mean())
        # the distance from face size jitters (a few pixels of a small face: +-0.2 m at 2.5 m): a radial speed
        # counts only when the fit is clearly better than that jitter (slope >= SLOPE_T standard errors)
        resid = d - d.mean() - slope * t
        stderr = math.sqrt(float(np.dot(resid, resid)) / max(len(t) - 2, 1) / denom)
        clear = abs(slope) >= SLOPE_T * stderr
        if clear and abs(self.radial) >= self.approach_speed and abs(self.radial) >= 0.5 * abs(self.lateral):
            return "approaching" if self.radial > 0 else "leaving"
        if abs(self.lateral) >= self.pass_speed:
            return "passing"
        return "standing"


@dataclass(frozen=True)
class IntentionWeights:
    """The intention model's weights (``proactive.intention.*`` in config/reasoning.yaml; the reasoning behind
    each value is there). ``P(intends to interact) = sigmoid(bias + sum of weight x cue)``, cues in [0, 1]:

    - ``look``: ``(1 - gaze_share) * attention + gaze_share * gaze``, attention the share of the recent window
      looking at the robot (``tracker.attention_window_s``), gaze the facing score averaged with eye contact when
      the face mesh gave a pose (facing alone otherwise);
    - ``approaching`` / ``standing`` / ``passing`` / ``leaving``: 1 for the person's motion (0 while unknown);
    - ``near``: 1 at ``near_m`` or closer, 0 at ``far_m`` or farther, linear between;
    - ``dwell``: seconds in view over ``dwell_full_s``, at most 1;
    - ``looking_down``: 1 when the head is pitched down beyond ``proactive.looking_down_deg`` (a phone, a book);
    - ``talking``: 1 when the person and someone else have their heads turned towards each other;
    - ``waved``: 1 when the person waved at the robot (``PersonState.waved_at``, reasoning/gestures.py) within the
      last ``wave_s`` seconds.
    """

    bias: float = -3.5
    look: float = 3.0
    approaching: float = 3.0
    standing: float = 0.0
    passing: float = -3.0
    leaving: float = -3.0
    near: float = 1.0
    dwell: float = 1.0
    looking_down: float = -3.0
    talking: float = -4.0
    waved: float = 3.0
    gaze_share: float = 0.5
    near_m: float = 1.0
    far_m: float = 3.0
    dwell_full_s: float = 3.0
    wave_s: float = 5.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.gaze_share <= 1.0:
            raise ConfigError(f"proactive.intention.gaze_share must be in [0, 1], got {self.gaze_share}")
        if not 0.0 <= self.near_m < self.far_m:
            raise ConfigError(f"proactive.intention needs 0 <= near_m < far_m, got {self.near_m}, {self.far_m}")
        if self.dwell_full_s <= 0:
            raise ConfigError(f"proactive.intention.dwell_full_s must be > 0, got {self.dwell_full_s}")
        if self.wave_s < 0:
            raise ConfigError(f"proactive.intention.wave_s must be >= 0, got {self.wave_s}")

    @classmethod
    def from_dict(cls, d: dict) -> IntentionWeights:
        """From the YAML's ``proactive.intention`` mapping; an unknown key is a ConfigError (a typo)."""
        names = {f.name for f in fields(cls)}
        bad = sorted(k for k in d if k not in names)
        if bad:
            raise ConfigError(f"proactive.intention has unknown key(s) {bad}; expected some of {sorted(names)}")
        try:
            return cls(**{k: float(v) for k, v in d.items()})
        except (TypeError, ValueError) as e:
            raise ConfigError(f"proactive.intention values must be numbers: {e}") from e


def waved_ago(p: PersonState, w: IntentionWeights) -> float | None:
    """Seconds since ``p`` last waved at the robot, when that is within ``w.wave_s`` of their last sighting."""
    if p.waved_at is None:
        return None
    ago = p.last_seen - p.waved_at
    return ago if -1e-6 <= ago <= w.wave_s else None


def intention(p: PersonState, w: IntentionWeights, looking_down: bool = False,
              talking: bool = False) -> tuple[float, str, dict[str, float]]:
    """P(``p`` intends to interact with the robot) from their cues, with the explanation.

    Returns:
        ``(probability, reason, contributions)``: the reason names every cue that moved the log-odds, largest
        first (``"0.93: +2.7 looking at the robot (attention 0.90, gaze 0.92), +3.0 approaching, ..."``);
        contributions maps cue name to its weight x cue value (log-odds), plus ``bias``.
    """
    gaze = (p.facing + p.eye_contact) / 2 if p.pose_valid else p.facing
    look = (1 - w.gaze_share) * p.attention + w.gaze_share * gaze
    near = min(1.0, max(0.0, (w.far_m - p.distance_m) / (w.far_m - w.near_m)))
    dwell = min(1.0, max(0.0, p.dwell() / w.dwell_full_s))
    parts: dict[str, tuple[float, str]] = {
        "look": (w.look * look, f"looking at the robot {look:.2f} (attention {p.attention:.2f}, "
                 + (f"facing {p.facing:.2f}, eye contact {p.eye_contact:.2f})" if p.pose_valid
                    else f"facing {p.facing:.2f})")),
        "near": (w.near * near, f"{p.distance_m:.1f} m away"),
        "dwell": (w.dwell * dwell, f"in view {p.dwell():.1f} s"),
    }
    if p.motion in MOTIONS:
        parts[p.motion] = (getattr(w, p.motion), p.motion)
    if looking_down:
        parts["looking_down"] = (w.looking_down, f"looking down (head pitch {p.head_pitch:.0f} deg)")
    if talking:
        parts["talking"] = (w.talking, "talking to someone else")
    ago = waved_ago(p, w)
    if ago is not None:
        parts["waved"] = (w.waved, f"waved at the robot {max(ago, 0.0):.1f} s ago")
    z = w.bias + sum(v for v, _ in parts.values())
    prob = 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))
    shown = sorted(((v, why) for k, (v, why) in parts.items() if abs(v) >= 0.05 or k in MOTIONS),
                   key=lambda x: -abs(x[0]))
    reason = f"intention {prob:.2f}: " + ", ".join(f"{v:+.1f} {why}" for v, why in shown) + f", {w.bias:+.1f} prior"
    return prob, reason, {"bias": w.bias, **{k: round(v, 3) for k, (v, _) in parts.items()}}


def matching_phrase(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first of ``phrases`` (case-insensitive, whole words) that ``text`` contains, else None."""
    low = text.lower()
    for phrase in phrases:
        if re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", low):
            return phrase
    return None
