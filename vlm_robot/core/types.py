"""ROS-free data types passed between the stages of the stack.

Every stage takes and returns these plain dataclasses; ``nodes/`` converts them to and from ROS
messages. Times are seconds (float) on the *event clock*: the header stamp of the frame or the
transcript that caused them, so that replaying a recording at any rate gives the same decisions.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

EXPRESSIONS: tuple[str, ...] = ("angry", "disgust", "fear", "happy", "sad", "surprise", "neutral")
"""Facial expression classes, in the order of the packaged FER model's outputs."""

INTENT_TYPES: tuple[str, ...] = ("look_at", "approach", "wave", "fetch", "offer", "navigate", "stop")
"""The action-intent vocabulary (parameters per type: core/vocabulary.py); the safety gate has its own allowlist."""


@dataclass(frozen=True)
class Frame:
    """One camera image as an ``(H, W, 3)`` uint8 RGB array with its capture time."""

    image: np.ndarray  # (H, W, 3) uint8, RGB
    stamp: float
    frame_id: str = "camera"
    seq: int = 0


_POSE_FIELDS = ("head_yaw", "head_pitch", "head_roll", "eye_contact", "eyes_open", "mouth_open")


@dataclass(frozen=True)
class Face:
    """A detected face in pixel coordinates of its frame.

    Attributes:
        box: ``(x, y, w, h)`` in pixels.
        score: detector confidence in [0, 1].
        keypoints: ``(6, 2)`` pixel positions: right eye, left eye, nose tip, mouth, right ear, left ear.
        expression: most likely class of :data:`EXPRESSIONS`.
        expression_scores: probability per class of :data:`EXPRESSIONS`.
        facing: 1.0 when the face looks straight at the camera, towards 0 when turned away.
        descriptor: appearance descriptor for re-identification (vlm_robot.perception.reid), empty if none.
        pose_valid: the face mesh gave a head pose (vlm_robot.perception.face_mesh); False: the fields below are 0.
        head_yaw, head_pitch, head_roll: degrees from the line of sight to the camera; yaw > 0 the face points
            to the image's right, pitch > 0 down, roll > 0 the head leans clockwise in the image.
        eye_contact: 0..1, looks at the camera (head pose plus irises).
        eyes_open, mouth_open: lid gap / eye width and inner lip gap / mouth width.
    """

    box: tuple[float, float, float, float]
    score: float
    keypoints: tuple[tuple[float, float], ...] = ()
    expression: str = "neutral"
    expression_scores: tuple[float, ...] = ()
    facing: float = 1.0
    descriptor: tuple[float, ...] = ()
    pose_valid: bool = False
    head_yaw: float = 0.0
    head_pitch: float = 0.0
    head_roll: float = 0.0
    eye_contact: float = 0.0
    eyes_open: float = 0.0
    mouth_open: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = [round(v, 1) for v in self.box]
        d["keypoints"] = [[round(x, 1), round(y, 1)] for x, y in self.keypoints]
        d["expression_scores"] = {
            k: round(v, 4) for k, v in zip(EXPRESSIONS, self.expression_scores, strict=False)
        }
        d["score"] = round(self.score, 4)
        d["facing"] = round(self.facing, 3)
        if self.descriptor:
            d["descriptor"] = [round(v, 3) for v in self.descriptor]
        else:  # payloads without a descriptor look as they did before it existed
            del d["descriptor"]
        for k in _POSE_FIELDS:  # likewise without a head pose
            if self.pose_valid:
                d[k] = round(d[k], 3)
            else:
                del d[k]
        if not self.pose_valid:
            del d["pose_valid"]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Face:
        scores = d.get("expression_scores") or {}
        return cls(
            box=tuple(float(v) for v in d["box"]),
            score=float(d["score"]),
            keypoints=tuple((float(x), float(y)) for x, y in d.get("keypoints", [])),
            expression=str(d.get("expression", "neutral")),
            expression_scores=tuple(float(scores.get(k, 0.0)) for k in EXPRESSIONS),
            facing=float(d.get("facing", 1.0)),
            descriptor=tuple(float(v) for v in d.get("descriptor") or ()),
            pose_valid=bool(d.get("pose_valid", False)),
            **{k: float(d.get(k, 0.0)) for k in _POSE_FIELDS},
        )


GESTURES: tuple[str, ...] = ("none", "raised_palm", "wave", "point")
"""Hand gestures perception reads (vlm_robot/perception/body.py); the constants of vlm_robot_interfaces/Body."""


@dataclass(frozen=True)
class Body:
    """A body (and its hands) in pixel coordinates of its frame (vlm_robot/perception/body.py).

    Attributes:
        box: ``(x, y, w, h)`` of the visible landmarks; of the hand alone when ``pose_valid`` is False (a hand
            close to the camera with no body found).
        score: detector confidence in [0, 1].
        pose_valid: body landmarks were found (``keypoints``: the 33 BlazePose landmarks, ``visibility`` each).
        shoulders_valid: both shoulders seen; ``shoulder_yaw_deg`` (0 square on to the camera, > 0 the chest
            points to the image's right, +-180 back turned) and ``distance_m`` (from the shoulder width) are 0
            otherwise.
        face_index: index into the frame's faces of this body's face, -1 none.
        gesture: one of :data:`GESTURES` (the most urgent of its hands: raised_palm, wave, point).
        point: for ``point``, the ray in the image: origin x, y (index fingertip, px) and unit direction dx, dy.
        hands: how many hands were found on this body.
        age_s: how much older the measurement is than the frame it is reported with (bodies are measured at
            their own rate and reused in between).
    """

    box: tuple[float, float, float, float]
    score: float
    pose_valid: bool = False
    keypoints: tuple[tuple[float, float], ...] = ()
    visibility: tuple[float, ...] = ()
    shoulders_valid: bool = False
    shoulder_yaw_deg: float = 0.0
    distance_m: float = 0.0
    face_index: int = -1
    gesture: str = "none"
    point: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)
    hands: int = 0
    age_s: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["box"] = [round(v, 1) for v in self.box]
        d["keypoints"] = [[round(x, 1), round(y, 1)] for x, y in self.keypoints]
        d["visibility"] = [round(v, 3) for v in self.visibility]
        d["point"] = [round(v, 4) for v in self.point]
        for k in ("score", "shoulder_yaw_deg", "distance_m", "age_s"):
            d[k] = round(d[k], 3)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Body:
        return cls(
            box=tuple(float(v) for v in d["box"]), score=float(d["score"]),
            pose_valid=bool(d.get("pose_valid", False)),
            keypoints=tuple((float(x), float(y)) for x, y in d.get("keypoints", [])),
            visibility=tuple(float(v) for v in d.get("visibility", [])),
            shoulders_valid=bool(d.get("shoulders_valid", False)),
            shoulder_yaw_deg=float(d.get("shoulder_yaw_deg", 0.0)), distance_m=float(d.get("distance_m", 0.0)),
            face_index=int(d.get("face_index", -1)), gesture=str(d.get("gesture", "none")),
            point=tuple(float(v) for v in d.get("point") or (0.0, 0.0, 0.0, 0.0)), hands=int(d.get("hands", 0)),
            age_s=float(d.get("age_s", 0.0)),
        )


@dataclass(frozen=True)
class PerceptionResult:
    """What perception saw in one frame."""

    stamp: float
    frame_id: str
    width: int
    height: int
    faces: tuple[Face, ...]
    latency_ms: float = 0.0
    bodies: tuple[Body, ...] = ()  # empty when body reading is off or found nothing

    def to_dict(self) -> dict[str, Any]:
        d = {
            "stamp": self.stamp,
            "frame_id": self.frame_id,
            "width": self.width,
            "height": self.height,
            "faces": [f.to_dict() for f in self.faces],
            "latency_ms": round(self.latency_ms, 2),
        }
        if self.bodies:  # payloads without bodies look as they did before them
            d["bodies"] = [b.to_dict() for b in self.bodies]
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> PerceptionResult:
        return cls(
            stamp=float(d["stamp"]),
            frame_id=str(d.get("frame_id", "camera")),
            width=int(d["width"]),
            height=int(d["height"]),
            faces=tuple(Face.from_dict(f) for f in d.get("faces", [])),
            latency_ms=float(d.get("latency_ms", 0.0)),
            bodies=tuple(Body.from_dict(b) for b in d.get("bodies") or ()),
        )


@dataclass(frozen=True)
class Transcript:
    """What a person said, as text, with when they said it."""

    text: str
    stamp: float
    speaker: str = "unknown"
    final: bool = True
    id: str = ""


MOTIONS: tuple[str, ...] = ("approaching", "passing", "standing", "leaving")
"""How a tracked person moves (``PersonState.motion``; "" while not known yet): vlm_robot/reasoning/engagement.py."""


@dataclass
class PersonState:
    """What the robot believes about one person it is tracking.

    ``mood`` is the smoothed facial expression; ``mood_confidence`` its smoothed probability, after
    ``tracker.expression_temperature`` (its measured reliability, what it does and does not mean:
    vlm_robot/reasoning/calibration.py). ``yaw`` is the smoothed
    head turn (vlm_robot/reasoning/engagement.py, > 0 towards the image's right); ``attention`` the share of
    the recent frames in which the person looked at the robot. ``head_yaw`` / ``head_pitch`` (degrees, > 0 to
    the image's right / down) and ``eye_contact`` (0..1) are smoothed from the face mesh while ``pose_valid``
    (0 otherwise); ``motion`` is "approaching", "passing", "standing", "leaving" or "" (not known yet) from the
    track's distance and bearing (engagement.MotionWindow); ``intention`` is P(wants to interact with the robot)
    from the proactive policy's model (engagement.intention), ``intention_reason`` its cues and their weights.
    ``waved_at`` is the stamp of the person's last wave at the robot (reasoning/gestures.py; None: never).
    """

    id: int
    box: tuple[float, float, float, float]
    first_seen: float
    last_seen: float
    mood: str = "neutral"
    mood_confidence: float = 0.0
    expression_probs: tuple[float, ...] = ()
    facing: float = 1.0
    distance_m: float = 1.0
    text_sentiment: float = 0.0
    addressed_at: float | None = None
    observations: int = 0
    yaw: float = 0.0
    attention: float = 1.0
    pose_valid: bool = False
    head_yaw: float = 0.0
    head_pitch: float = 0.0
    eye_contact: float = 0.0
    motion: str = ""
    intention: float = 0.0
    intention_reason: str = ""
    waved_at: float | None = None

    def dwell(self) -> float:
        """Seconds this person has been in view."""
        return self.last_seen - self.first_seen

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "box": [round(v, 1) for v in self.box],
            "mood": self.mood,
            "mood_confidence": round(self.mood_confidence, 3),
            "facing": round(self.facing, 3),
            "distance_m": round(self.distance_m, 2),
            "dwell_s": round(self.dwell(), 2),
            "text_sentiment": round(self.text_sentiment, 3),
            "addressed_at": self.addressed_at,
            "observations": self.observations,
            "pose_valid": self.pose_valid,
            "head_yaw": round(self.head_yaw, 1),
            "head_pitch": round(self.head_pitch, 1),
            "eye_contact": round(self.eye_contact, 3),
            "motion": self.motion,
            "intention": round(self.intention, 3),
            "intention_reason": self.intention_reason,
            "waved_at": self.waved_at,
        }


@dataclass(frozen=True)
class Intent:
    """An action the robot wants to take; nothing moves before the safety gate approves it.

    ``target`` is whom or where (a person ``"person3"``, a place ``"kitchen"``, or for ``fetch`` the
    thing); ``object`` is the thing handed over by ``offer``. Parameters per type: core/vocabulary.py.
    """

    type: str
    target: str = ""
    params: dict[str, float] = field(default_factory=dict)
    source: str = "policy"
    reason: str = ""
    id: str = ""
    stamp: float = 0.0
    object: str = ""
    in_reply_to: str = ""  # the transcript whose words asked for it ("" for the policy's own intents)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Intent:
        params = d.get("params") or {}
        if not isinstance(params, dict):
            raise TypeError(f"intent params must be an object, got {type(params).__name__}")
        return cls(
            type=str(d["type"]),
            target=str(d.get("target", "")),
            params=dict(params),
            source=str(d.get("source", "")),
            reason=str(d.get("reason", "")),
            id=str(d.get("id", "")),
            stamp=float(d.get("stamp", 0.0)),
            object=str(d.get("object", "")),
            in_reply_to=str(d.get("in_reply_to", "")),
        )


@dataclass(frozen=True)
class Verdict:
    """The safety gate's answer to one intent."""

    intent: Intent
    approved: bool
    reasons: tuple[str, ...] = ()
    pending: bool = False  # not approved yet: waiting for a person's confirmation

    def to_dict(self) -> dict[str, Any]:
        return {"intent": self.intent.to_dict(), "approved": self.approved, "reasons": list(self.reasons),
                "pending": self.pending}


@dataclass(frozen=True)
class Utterance:
    """Something the robot says, and why."""

    text: str
    kind: str  # "greeting" | "reply" | "error" | "question" (the gate asking for confirmation)
    reason: str
    stamp: float
    person_id: int | None = None
    in_reply_to: str = ""
    id: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """One decision of the reasoning node, including each decision to stay silent."""

    action: str  # "greet" | "reply" | "silent" | "intent"
    reason: str
    stamp: float
    person_id: int | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
