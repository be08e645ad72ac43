"""People tracked across frames, with facial expression smoothed over event time."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult, PersonState
from vlm_robot.perception.reid import blend, descriptor_distance
from vlm_robot.reasoning.calibration import apply_temperature
from vlm_robot.reasoning.engagement import AttentionWindow, MotionWindow, head_yaw


@dataclass(frozen=True)
class TrackerConfig:
    """How faces become people.

    Attributes:
        match_distance: largest centre jump between frames, in face widths, for the same person.
        forget_after_s: a person unseen this long has left.
        mood_tau_s: time constant of the expression moving average (larger = calmer belief).
        camera_hfov_deg: horizontal field of view, for distance from face size.
        face_width_m: typical adult face box width (BlazeFace box), for distance from face size.
        reid_max_distance: a face that matches nobody by position gets the id of a person out of view whose
            appearance descriptor is within this cosine distance (0 turns re-identification off; see
            vlm_robot/perception/reid.py for what the descriptor can and cannot tell apart).
        max_known: appearance descriptors kept for people out of view (the least recently seen go first).
        expression_temperature: divides the expression model's logits before smoothing (fitted by
            ``vlm-robot calibrate expression``; see vlm_robot/reasoning/calibration.py for what it calibrates).
        attention_window_s: how far back ``PersonState.attention`` looks.
        attending_facing: a frame counts as looking at the robot when its facing score is at least this.
        pose_tau_s: time constant of the head pose and eye contact moving average (face mesh readings).
        motion_window_s: how far back ``PersonState.motion`` looks (engagement.MotionWindow).
        motion_min_span_s: a track seen for less than this has no motion yet ("").
        approach_speed: m/s towards (away from) the robot from which a person is approaching (leaving).
        pass_speed: sideways m/s from which a person is passing.
    """

    match_distance: float = 1.5
    forget_after_s: float = 2.0
    mood_tau_s: float = 0.5
    camera_hfov_deg: float = 60.0
    face_width_m: float = 0.16
    reid_max_distance: float = 0.08
    max_known: int = 64
    expression_temperature: float = 1.0
    attention_window_s: float = 4.0
    attending_facing: float = 0.7
    pose_tau_s: float = 0.3
    motion_window_s: float = 1.5
    motion_min_span_s: float = 0.6
    approach_speed: float = 0.25
    pass_speed: float = 0.25

    def __post_init__(self) -> None:
        for name in ("match_distance", "forget_after_s", "mood_tau_s", "camera_hfov_deg", "face_width_m",
                     "expression_temperature", "attention_window_s", "pose_tau_s", "motion_window_s",
                     "approach_speed", "pass_speed"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"tracker.{name} must be > 0, got {getattr(self, name)}")
        if not 0.0 <= self.reid_max_distance <= 2.0:
            raise ConfigError(f"tracker.reid_max_distance must be in [0, 2] (cosine distance; 0 = off), "
                              f"got {self.reid_max_distance}")
        if self.max_known < 0:
            raise ConfigError(f"tracker.max_known must be >= 0, got {self.max_known}")


class PeopleTracker:
    """Greedy nearest-centre association of faces to people, stable ids while they stay in view.

    A face that matches nobody by position is compared by appearance with the people out of view
    (``known``: a running descriptor per id); a close one gets its old id back, and with it whether
    and when the person was addressed. ``returned`` lists the ids given back in the last update.
    """

    def __init__(self, config: TrackerConfig | None = None) -> None:
        self.config = config or TrackerConfig()
        self.people: dict[int, PersonState] = {}
        self.known: dict[int, np.ndarray] = {}  # id -> unit appearance descriptor
        self.departed: dict[int, PersonState] = {}  # last state of people out of view, for re-identification
        self.returned: list[int] = []
        self._next_id = 1
        self._attention: dict[int, AttentionWindow] = {}
        self._motion: dict[int, MotionWindow] = {}
        self._pose_seen: dict[int, float] = {}  # id -> stamp of the last valid head pose
        self._head: tuple[float, float] | None = None  # (pan, tilt) of the last frame, when joint states come

    @property
    def next_id(self) -> int:
        """The id the next new person gets."""
        return self._next_id

    def remember(self, person_id: int, descriptor: np.ndarray | list[float] | tuple[float, ...]) -> None:
        """Know ``person_id`` by ``descriptor`` (from a saved memory); later ids are never reused for others."""
        if len(descriptor):
            self.known[person_id] = np.asarray(descriptor, np.float32)
        self._next_id = max(self._next_id, person_id + 1)
        self._bound_known()

    def follow_head(self, pan: float, tilt: float, width: int, height: int) -> None:
        """The camera turned to ``(pan, tilt)`` (rad; + left, + down): move every track's box to where that
        person now appears, so that a head turn is not taken for people jumping (and re-greeted as new)."""
        if self._head is not None and (pan, tilt) != self._head:
            d_pan, d_tilt = pan - self._head[0], tilt - self._head[1]
            focal = (width / 2) / math.tan(math.radians(self.config.camera_hfov_deg) / 2)
            for p in self.people.values():
                x, y, w, h = p.box
                bearing = math.atan2(width / 2 - (x + w / 2), focal) - d_pan
                elevation = math.atan2(height / 2 - (y + h / 2), focal) + d_tilt
                if abs(bearing) < 1.5 and abs(elevation) < 1.5:
                    cx, cy = width / 2 - focal * math.tan(bearing), height / 2 - focal * math.tan(elevation)
                    p.box = (cx - w / 2, cy - h / 2, w, h)
        self._head = (pan, tilt)

    def update(self, result: PerceptionResult) -> list[PersonState]:
        """Fold one frame's faces into the people; return those currently in view."""
        now = result.stamp
        self.returned = []
        # people unseen for too long have left: forget them before matching, so a newcomer is new
        for pid in list(self.people):
            if now - self.people[pid].last_seen > self.config.forget_after_s:
                self.departed[pid] = self.people.pop(pid)
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
            probs = apply_temperature(probs, self.config.expression_temperature)
            yaw = head_yaw(face.keypoints)
            if best is not None and best_d <= self.config.match_distance:
                unmatched.discard(best)
                p = self.people[best]
                alpha = 1.0 - math.exp(-max(now - p.last_seen, 0.0) / self.config.mood_tau_s)
                ema = (1 - alpha) * np.asarray(p.expression_probs) + alpha * probs
                p.yaw = (1 - alpha) * p.yaw + alpha * yaw
                p.box, p.last_seen, p.facing = face.box, now, face.facing
                p.observations += 1
            else:
                p = self._reidentify(face, now, unmatched)
                if p is None:
                    p = PersonState(id=self._next_id, box=face.box, first_seen=now, last_seen=now, facing=face.facing)
                    self._next_id += 1
                else:
                    self.returned.append(p.id)
                unmatched.discard(p.id)
                p.observations = 1
                self.people[p.id] = p
                ema = probs
                p.yaw = yaw
                self._attention[p.id] = AttentionWindow(self.config.attention_window_s, self.config.attending_facing)
                c = self.config
                self._motion[p.id] = MotionWindow(c.motion_window_s, c.motion_min_span_s, c.approach_speed,
                                                  c.pass_speed)
                self._pose_seen.pop(p.id, None)
            p.attention = self._attention[p.id].add(now, face.facing)
            self._smooth_pose(p, face, now)
            if face.descriptor:
                old = self.known.pop(p.id, None)  # re-inserted: the dict stays in order of last sight
                new = np.asarray(face.descriptor, np.float32)
                self.known[p.id] = new if old is None or old.shape != new.shape else blend(old, new, 0.2)
            p.expression_probs = tuple(float(v) for v in ema)
            p.distance_m = self.distance(face.box[2], result.width)
            p.motion = self._motion[p.id].add(now, p.distance_m, self.bearing(face.box, result.width))
            k = int(np.argmax(ema))
            p.mood, p.mood_confidence = EXPRESSIONS[k], float(ema[k])
        self._bound_known()
        for pid in [pid for pid in self._attention if pid not in self.people]:
            del self._attention[pid]
            self._motion.pop(pid, None)
            self._pose_seen.pop(pid, None)
        return [p for p in self.people.values() if p.last_seen == now]

    def _smooth_pose(self, p: PersonState, face: Face, now: float) -> None:
        """Fold the face mesh's head pose and eye contact into ``p`` (a moving average over ``pose_tau_s``).

        A frame without a valid pose keeps the last values for up to four time constants, then the pose is no
        longer valid; the first valid pose after that is taken as it is."""
        last = self._pose_seen.get(p.id)
        if not face.pose_valid:
            if last is None or now - last > 4 * self.config.pose_tau_s:
                p.pose_valid, p.head_yaw, p.head_pitch, p.eye_contact = False, 0.0, 0.0, 0.0
            return
        a = 1.0 if last is None or not p.pose_valid else 1.0 - math.exp(-max(now - last, 0.0) / self.config.pose_tau_s)
        p.head_yaw += a * (face.head_yaw - p.head_yaw)
        p.head_pitch += a * (face.head_pitch - p.head_pitch)
        p.eye_contact += a * (face.eye_contact - p.eye_contact)
        p.pose_valid = True
        self._pose_seen[p.id] = now

    def bearing(self, box: tuple[float, float, float, float], width: int) -> float:
        """Radians (+ left) from the robot's base to the face in ``box``: off the image centre plus the head's pan
        (0 when no joint states come), so that the robot turning its head does not move the person."""
        focal = (width / 2) / math.tan(math.radians(self.config.camera_hfov_deg) / 2)
        pan = self._head[0] if self._head is not None else 0.0
        return pan + math.atan2(width / 2 - (box[0] + box[2] / 2), focal)

    def _reidentify(self, face: Face, now: float, unmatched: set[int]) -> PersonState | None:
        """The person out of view (or not matched this frame) who looks like ``face``, as a fresh track."""
        if not face.descriptor or self.config.reid_max_distance <= 0:
            return None
        in_view = {pid for pid in self.people if pid not in unmatched}
        best, best_d = None, math.inf
        for pid, desc in self.known.items():
            if pid in in_view:
                continue
            d = descriptor_distance(face.descriptor, desc)
            if d < best_d:
                best, best_d = pid, d
        if best is None or best_d > self.config.reid_max_distance:
            return None
        before = self.people.pop(best, None) or self.departed.pop(best, None)
        p = PersonState(id=best, box=face.box, first_seen=now, last_seen=now, facing=face.facing)
        if before is not None:  # what the robot knew of them: whether they were addressed, how they sounded
            p.addressed_at, p.text_sentiment = before.addressed_at, before.text_sentiment
        return p

    def _bound_known(self) -> None:
        """Keep at most ``max_known`` descriptors of people out of view (and the states of departed people)."""
        gone = [pid for pid in self.known if pid not in self.people]
        for pid in gone[: max(0, len(gone) - self.config.max_known)]:  # insertion order: oldest first
            del self.known[pid]
        for pid in list(self.departed):
            if pid not in self.known:
                del self.departed[pid]

    def distance(self, face_width_px: float, image_width_px: int) -> float:
        """Metres to a face of ``face_width_px`` in an image ``image_width_px`` wide (pinhole camera)."""
        focal = (image_width_px / 2) / math.tan(math.radians(self.config.camera_hfov_deg) / 2)
        return self.config.face_width_m * focal / max(face_width_px, 1.0)

    def visible(self, now: float) -> list[PersonState]:
        """People seen within ``forget_after_s`` of ``now``."""
        return [p for p in self.people.values() if now - p.last_seen <= self.config.forget_after_s]
