"""People tracked across frames, with facial expression smoothed over event time."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, PerceptionResult, PersonState


@dataclass(frozen=True)
class TrackerConfig:
    """How faces become people.

    Attributes:
        match_distance: largest centre jump between frames, in face widths, for the same person.
        forget_after_s: a person unseen this long has left.
        mood_tau_s: time constant of the expression moving average (larger = calmer belief).
        camera_hfov_deg: horizontal field of view, for distance from face size.
        face_width_m: typical adult face box width (BlazeFace box), for distance from face size.
    """

    match_distance: float = 1.5
    forget_after_s: float = 2.0
    mood_tau_s: float = 0.5
    camera_hfov_deg: float = 60.0
    face_width_m: float = 0.16

    def __post_init__(self) -> None:
        for name in ("match_distance", "forget_after_s", "mood_tau_s", "camera_hfov_deg", "face_width_m"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"tracker.{name} must be > 0, got {getattr(self, name)}")


class PeopleTracker:
    """Greedy nearest-centre association of faces to people, stable ids while they stay in view."""

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.people: dict[int, PersonState] = {}
        self._next_id = 1

    def update(self, result: PerceptionResult) -> list[PersonState]:
        """Fold one frame's faces into the people; return those currently in view."""
        now = result.stamp
        # people unseen for too long have left: forget them before matching, so a newcomer is new
        for pid in list(self.people):
            if now - self.people[pid].last_seen > self.config.forget_after_s:
                del self.people[pid]
        unmatched = set(self.people)
        for face in sorted(result.faces, key=lambda f: -f.score):
            cx, cy = face.box[0] + face.box[2] / 2, face.box[1] + face.box[3] / 2
            best, best_d = None, math.inf
            for pid in unmatched:
                p = self.people[pid]
                pcx, pcy = p.box[0] + p.box[2] / 2, p.box[1] + p.box[3] / 2
                d = math.hypot(cx - pcx, cy - pcy) / max(p.box[2], face.box[2], 1.0)
                if d < best_d:
                    best, best_d = pid, d
            probs = np.asarray(face.expression_scores or [1.0 / len(EXPRESSIONS)] * len(EXPRESSIONS))
            if best is not None and best_d <= self.config.match_distance:
                unmatched.discard(best)
                p = self.people[best]
                alpha = 1.0 - math.exp(-max(now - p.last_seen, 0.0) / self.config.mood_tau_s)
                ema = (1 - alpha) * np.asarray(p.expression_probs) + alpha * probs
                p.box, p.last_seen, p.facing = face.box, now, face.facing
                p.observations += 1
            else:
                p = PersonState(id=self._next_id, box=face.box, first_seen=now, last_seen=now, facing=face.facing)
                p.observations = 1
                self._next_id += 1
                self.people[p.id] = p
                ema = probs
            p.expression_probs = tuple(float(v) for v in ema)
            p.distance_m = self.distance(face.box[2], result.width)
            k = int(np.argmax(ema))
            p.mood, p.mood_confidence = EXPRESSIONS[k], float(ema[k])
        return [p for p in self.people.values() if p.last_seen == now]

    def distance(self, face_width_px: float, image_width_px: int) -> float:
        """Metres to a face of ``face_width_px`` in an image ``image_width_px`` wide (pinhole camera)."""
        focal = (image_width_px / 2) / math.tan(math.radians(self.config.camera_hfov_deg) / 2)
        return self.config.face_width_m * focal / max(face_width_px, 1.0)

    def visible(self, now: float) -> list[PersonState]:
        """People seen within ``forget_after_s`` of ``now``."""
        return [p for p in self.people.values() if now - p.last_seen <= self.config.forget_after_s]
