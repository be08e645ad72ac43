"""Body and hands from the pose and hand models in the mediapipe wheel, run by LiteRT (no mediapipe import).

Per run (at ``body_rate_hz`` of frame stamps, not every frame; in between the last result is reused):

1. ``pose_detection.tflite`` (224 x 224, 2254 SSD anchors, input -1..1) finds bodies: a box and four keypoints
   (hip centre, a point giving the body's size and rotation, shoulder centre, an upper-body point);
2. for each body (at most ``body_max``) a square crop around the hip centre, 2.5 times the hip-to-scale-point
   distance and rotated so the body is upright, goes through ``pose_landmark_full.tflite`` (256 x 256, input
   0..1): 33 landmarks ``(x, y, z, visibility, presence)`` and a body-presence score;
3. ``palm_detection_lite.tflite`` (or ``_full``; 192 x 192, 2016 anchors, input 0..1) finds palms on the whole
   frame; each palm's crop (2.6 times the palm box, shifted towards the fingers, rotated wrist -> middle
   finger up) goes through ``hand_landmark_lite.tflite`` (224 x 224): 21 landmarks and a hand-presence score.

From the landmarks: the shoulders' orientation to the camera (:func:`shoulder_yaw`), a distance from the body's
size (:func:`body_distance`, shoulder width of ``shoulder_width_m``), the face each body belongs to (its nose,
eyes and ears inside a face box, :func:`associate_faces`), and per hand a gesture (:func:`classify_hand`):
``raised_palm`` (four fingers extended, pointing up), ``point`` (index extended, the others curled: a ray in the
image) and, over time, ``wave`` (an open raised hand whose x swings back and forth, :class:`WaveDetector`).

All four models load under plain LiteRT (checked for 0.10.14: none needs a mediapipe custom op). Angles are
degrees; ``shoulder_yaw > 0``: the chest points towards the image's right, the sign of the head's yaw.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from vlm_robot.core.assets import (
    HAND_LANDMARK_FULL,
    HAND_LANDMARK_LITE,
    PALM_DETECTOR_FULL,
    PALM_DETECTOR_LITE,
    POSE_DETECTOR,
    POSE_LANDMARK_FULL,
)
from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import GESTURES, Body, Face
from vlm_robot.perception.face_mesh import _crop_affine, _inside_fraction, _warp
from vlm_robot.perception.faces import _weighted_nms, make_anchors

# BlazePose landmark indices ("left"/"right" are the person's)
NOSE, L_EYE, R_EYE, L_EAR, R_EAR = 0, 2, 5, 7, 8
L_SHOULDER, R_SHOULDER, L_ELBOW, R_ELBOW, L_WRIST, R_WRIST = 11, 12, 13, 14, 15, 16
L_HIP, R_HIP = 23, 24
FACE_POINTS = (0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)
# hand landmark indices
WRIST = 0
FINGERS = ((5, 6, 7, 8), (9, 10, 11, 12), (13, 14, 15, 16), (17, 18, 19, 20))  # index, middle, ring, pinky
INDEX, MIDDLE = 0, 1

POSE_DET_SIZE, POSE_LM_SIZE, PALM_SIZE, HAND_SIZE = 224, 256, 192, 224
FACE_CROP = (7.0, 2.5)  # body search around a face: side, and centre below the face's, in face widths


@dataclass(frozen=True)
class BodyConfig:
    """How bodies and hands are read (``perception.body_*`` in config/perception.yaml sets some)."""

    rate_hz: float = 5.0  # bodies and hands are measured at most this often (frame stamps); reused in between
    max_age_s: float = 0.5  # a measurement older than this is not reused
    max_bodies: int = 2
    hands: bool = True
    hand_model: str = "lite"  # lite | full (palm detector and hand landmarks)
    max_hands: int = 4
    min_body_score: float = 0.5  # pose detector
    min_body_presence: float = 0.5  # pose landmark model's presence
    min_palm_score: float = 0.5
    min_hand_presence: float = 0.5
    min_visibility: float = 0.5  # a landmark counts as seen above this
    hfov_deg: float = 60.0
    shoulder_width_m: float = 0.39  # adult biacromial breadth (~0.36 women, ~0.41 men)
    wave_window_s: float = 2.0
    wave_min_reversals: int = 2  # direction changes of the hand's x within the window
    wave_min_amplitude: float = 0.3  # each swing at least this many hand widths (or shoulder widths / 3)

    def __post_init__(self) -> None:
        for name in ("rate_hz", "max_age_s", "hfov_deg", "shoulder_width_m", "wave_window_s", "wave_min_amplitude"):
            if not getattr(self, name) > 0:
                raise ConfigError(f"perception.body_{name} must be > 0, got {getattr(self, name)}")
        if self.hand_model not in ("lite", "full"):
            raise ConfigError(f"perception.body_hand_model must be lite or full, got {self.hand_model!r}")
        for name in ("min_body_score", "min_body_presence", "min_palm_score", "min_hand_presence", "min_visibility"):
            if not 0.0 < getattr(self, name) < 1.0:
                raise ConfigError(f"perception.body_{name} must be in (0, 1), got {getattr(self, name)}")
        if self.max_bodies < 0 or self.max_hands < 0 or self.wave_min_reversals < 1:
            raise ConfigError("perception.body_max_bodies / max_hands must be >= 0, wave_min_reversals >= 1")


def _sigmoid(x: np.ndarray | float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(np.asarray(x, np.float64), -80, 80)))


@dataclass
class Hand:
    """One hand: 21 landmarks ``(x, y, z)`` in image pixels, its box, gesture and pointing ray."""

    landmarks: np.ndarray
    presence: float
    box: tuple[float, float, float, float]
    gesture: str = "none"
    ray: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # origin x, y, unit direction dx, dy


@dataclass
class Pose:
    """One body: 33 landmarks ``(x, y, z)`` in image pixels (z in the same scale, > 0 farther), visibility."""

    landmarks: np.ndarray
    visibility: np.ndarray
    presence: float
    score: float
    box: tuple[float, float, float, float]


# --- geometry -----------------------------------------------------------------------------------------------------

def shoulder_yaw(lm: np.ndarray) -> float:
    """Degrees the shoulders are turned from facing the camera: 0 square on, > 0 chest towards the image's
    right, +-180 back to the camera. From the two shoulders' x and depth (the model's relative z)."""
    d = lm[L_SHOULDER] - lm[R_SHOULDER]
    return math.degrees(math.atan2(float(d[2]), float(d[0])))


def body_distance(lm: np.ndarray, image_width: int, hfov_deg: float, shoulder_width_m: float) -> float:
    """Metres from the camera from the shoulders' 3D width in pixels (pinhole; 0 when they coincide)."""
    width_px = float(np.linalg.norm(lm[L_SHOULDER] - lm[R_SHOULDER]))
    if width_px < 1.0:
        return 0.0
    focal = (image_width / 2) / math.tan(math.radians(hfov_deg) / 2)
    return shoulder_width_m * focal / width_px


def associate_faces(poses: list[tuple[np.ndarray, np.ndarray]], faces: tuple[Face, ...] | list[Face],
                    min_visibility: float) -> list[int]:
    """Index into ``faces`` of each pose's face (-1 none): the face box holding most of the pose's visible face
    landmarks (nose, eyes, ears, mouth), each face used once, the best-supported pairs first.

    ``poses``: per body its landmarks ``(33, >=2)`` in pixels and their visibility ``(33,)``.
    """
    pairs = []
    for i, (lm, vis) in enumerate(poses):
        if len(lm) < 33 or len(vis) < 33:
            continue
        pts = [lm[k][:2] for k in FACE_POINTS if vis[k] >= min_visibility]
        if not pts:
            continue
        pts_a = np.array(pts)
        for j, f in enumerate(faces):
            x, y, w, h = f.box
            mx, my = 0.25 * w, 0.25 * h  # the pose's ear points sit at the box edge
            inside = ((pts_a[:, 0] >= x - mx) & (pts_a[:, 0] <= x + w + mx)
                      & (pts_a[:, 1] >= y - my) & (pts_a[:, 1] <= y + h + my))
            share = float(inside.mean())
            if share >= 0.5:
                pairs.append((share, -abs(float(lm[NOSE][0]) - (x + w / 2)), i, j))
    out = [-1] * len(poses)
    used: set[int] = set()
    for _, _, i, j in sorted(pairs, reverse=True):
        if out[i] < 0 and j not in used:
            out[i] = j
            used.add(j)
    return out


def _extended(lm: np.ndarray, finger: tuple[int, int, int, int]) -> bool:
    """A finger is extended when it is nearly straight (MCP -> PIP -> tip) and its tip is farther from the wrist
    than its middle joint."""
    mcp, pip, _, tip = (lm[k] for k in finger)
    a, b = pip - mcp, tip - pip
    cos = float(a @ b) / (float(np.linalg.norm(a) * np.linalg.norm(b)) + 1e-9)
    return cos > 0.8 and np.linalg.norm(tip - lm[WRIST]) > 1.15 * np.linalg.norm(pip - lm[WRIST])


def classify_hand(lm: np.ndarray) -> tuple[str, tuple[float, float, float, float]]:
    """A hand's still gesture from its 21 landmarks (image pixels): ``raised_palm``, ``point`` or ``none``,
    and for ``point`` the ray (index tip, unit direction MCP -> tip in the image)."""
    ext = [_extended(lm, f) for f in FINGERS]
    up = lm[9, :2] - lm[WRIST, :2]  # wrist -> middle finger base
    n = float(np.linalg.norm(up))
    upright = n > 1e-6 and (-up[1] / n) > math.cos(math.radians(40))  # within 40 degrees of the image's up
    if all(ext) and upright:
        return "raised_palm", (0.0, 0.0, 0.0, 0.0)
    if ext[INDEX] and not any(ext[1:]):
        tip, mcp = lm[FINGERS[INDEX][3], :2], lm[FINGERS[INDEX][0], :2]
        d = tip - mcp
        dn = float(np.linalg.norm(d))
        if dn > 1e-6:
            return "point", (float(tip[0]), float(tip[1]), float(d[0] / dn), float(d[1] / dn))
    return "none", (0.0, 0.0, 0.0, 0.0)


@dataclass
class _Track:
    centre: tuple[float, float]
    xs: deque = field(default_factory=deque)  # (stamp, x in hand widths)
    last: float = 0.0


class WaveDetector:
    """Waves from a raised open hand whose x swings back and forth: at least ``min_reversals`` direction changes,
    each swing at least ``min_amplitude`` hand widths, within ``window_s``. Hands are followed by position."""

    def __init__(self, window_s: float = 2.0, min_reversals: int = 2, min_amplitude: float = 0.3) -> None:
        self.window_s, self.min_reversals, self.min_amplitude = window_s, min_reversals, min_amplitude
        self._tracks: list[_Track] = []

    def update(self, stamp: float, hands: list[tuple[tuple[float, float], float, bool]]) -> list[tuple[bool, bool]]:
        """``hands``: (centre px, hand width px, open and raised) per hand of this measurement; per hand whether it
        waves and whether it is held still (moved less than ``min_amplitude / 2`` hand widths since the last
        measurement; a hand seen for the first time is not known to be still)."""
        out, free = [], list(self._tracks)
        tracks = []
        for centre, width, raised in hands:
            best = min(free, key=lambda t: math.dist(t.centre, centre), default=None)
            if best is None or math.dist(best.centre, centre) > 3.0 * max(width, 1.0) or stamp < best.last:
                best = _Track(centre)
            else:
                free.remove(best)
            still = bool(best.xs) and abs(best.xs[-1][1] - centre[0] / max(width, 1.0)) < self.min_amplitude / 2
            best.centre, best.last = centre, stamp
            if raised:
                best.xs.append((stamp, centre[0] / max(width, 1.0)))
            else:
                best.xs.clear()
            while best.xs and best.xs[0][0] < stamp - self.window_s:
                best.xs.popleft()
            tracks.append(best)
            out.append((self._waves([x for _, x in best.xs]), still))
        self._tracks = tracks + [t for t in free if stamp - t.last <= self.window_s]
        return out

    def _waves(self, xs: list[float]) -> bool:
        """Count reversals of direction between turning points at least ``min_amplitude`` apart (a zigzag with
        hysteresis: jitter smaller than that is no swing)."""
        amp = self.min_amplitude
        reversals, direction, lo, hi, extreme = 0, 0, xs[0] if xs else 0.0, xs[0] if xs else 0.0, 0.0
        for x in xs[1:]:
            if direction == 0:
                lo, hi = min(lo, x), max(hi, x)
                if x - lo >= amp:
                    direction, extreme = 1, x
                elif hi - x >= amp:
                    direction, extreme = -1, x
            elif (x - extreme) * direction > 0:
                extreme = x  # further the same way
            elif abs(x - extreme) >= amp:
                reversals, direction, extreme = reversals + 1, -direction, x
        return reversals >= self.min_reversals


# --- models -------------------------------------------------------------------------------------------------------

class _Detector:
    """An SSD detector of the mediapipe family (pose or palm): letterboxed square input, anchors, weighted NMS."""

    def __init__(self, path: str, size: int, strides: tuple[int, ...], per_cell: tuple[int, ...],
                 lo: float, num_threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interp = Interpreter(model_path=path, num_threads=num_threads)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: int(d["shape"][-1]), reverse=True)
        self._reg, self._cls = outs[0]["index"], outs[1]["index"]
        self._anchors = make_anchors(size, strides, per_cell)
        self.size, self.lo = size, lo

    def detect(self, rgb: np.ndarray, min_score: float, iou: float = 0.3) -> list[tuple[np.ndarray, float, np.ndarray]]:
        """``(box x0 y0 x1 y1 px, score, keypoints (K, 2) px)`` per detection, best first."""
        h, w = rgb.shape[:2]
        size = self.size
        scale = size / max(h, w)
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        pad_y, pad_x = (size - nh) // 2, (size - nw) // 2
        canvas = np.zeros((size, size, 3), np.float32)
        canvas[pad_y:pad_y + nh, pad_x:pad_x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        x = canvas / 255.0 if self.lo == 0.0 else canvas / 127.5 - 1.0
        self._interp.set_tensor(self._in, x[None].astype(np.float32))
        self._interp.invoke()
        raw = self._interp.get_tensor(self._reg)[0]
        scores = _sigmoid(self._interp.get_tensor(self._cls)[0, :, 0])
        keep = np.nonzero(scores >= min_score)[0]
        if keep.size == 0:
            return []
        raw, scores, anchors = raw[keep] / size, scores[keep], self._anchors[keep]
        cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        boxes = np.stack([cx - raw[:, 2] / 2, cy - raw[:, 3] / 2, cx + raw[:, 2] / 2, cy + raw[:, 3] / 2], 1)
        kps = raw[:, 4:].reshape(len(keep), -1, 2) + anchors[:, None, :]
        boxes = (boxes * size - np.array([pad_x, pad_y, pad_x, pad_y])) / scale
        kps = (kps * size - np.array([pad_x, pad_y])) / scale
        out = []
        for members in _weighted_nms(boxes, scores, iou):
            wts = scores[members][:, None]
            b = (boxes[members] * wts).sum(0) / wts.sum()
            k = (kps[members] * wts[:, :, None]).sum(0) / wts.sum()
            out.append((b, float(scores[members[0]]), k))
        return out


def _landmark_model(path: str, num_threads: int):
    from ai_edge_litert.interpreter import Interpreter

    interp = Interpreter(model_path=path, num_threads=num_threads)
    interp.allocate_tensors()
    return interp, interp.get_input_details()[0]["index"], {
        int(np.prod(d["shape"])): d["index"] for d in interp.get_output_details()}


def _upright_angle(start: np.ndarray, end: np.ndarray) -> float:
    """Crop angle (face_mesh._crop_affine) that maps the image vector start -> end onto the crop's up."""
    d = end - start
    return math.atan2(float(d[0]), float(-d[1]))


def _to_image(a: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """Crop pixels ``(N, 3)`` (x, y, z) -> image pixels, z scaled like x."""
    xy = (a @ np.vstack([pts[:, :2].T, np.ones(len(pts))])).T
    k = math.hypot(a[0, 0], a[1, 0])
    return np.column_stack([xy, pts[:, 2] * k])


class BodyReader:
    """Pose and hand models; :meth:`read` per frame. Not thread-safe (one per worker)."""

    def __init__(self, config: BodyConfig | None = None, num_threads: int = 1) -> None:
        self.config = c = config or BodyConfig()
        self._pose_det = _Detector(str(POSE_DETECTOR.path()), POSE_DET_SIZE, (8, 16, 32), (2, 2, 6), -1.0,
                                   num_threads)
        self._pose_lm, self._pose_in, outs = _landmark_model(str(POSE_LANDMARK_FULL.path()), num_threads)
        self._pose_out, self._pose_flag = outs[195], outs[1]
        self._palm = self._hand = None
        if c.hands:
            palm = PALM_DETECTOR_FULL if c.hand_model == "full" else PALM_DETECTOR_LITE
            hand = HAND_LANDMARK_FULL if c.hand_model == "full" else HAND_LANDMARK_LITE
            self._palm = _Detector(str(palm.path()), PALM_SIZE, (8, 16), (2, 6), 0.0, num_threads)
            self._hand, self._hand_in, outs = _landmark_model(str(hand.path()), num_threads)
            flags = [d["index"] for d in self._hand.get_output_details() if int(np.prod(d["shape"])) == 1]
            self._hand_lm, self._hand_flag = outs[63], flags[0]
        self.waves = WaveDetector(c.wave_window_s, c.wave_min_reversals, c.wave_min_amplitude)
        # waves also from the body's wrists (hands too small for the palm detector, beyond ~2 m, still wave)
        self.wrist_waves = WaveDetector(c.wave_window_s, c.wave_min_reversals, c.wave_min_amplitude)
        self.ms: dict[str, float] = {}

    # -- bodies --
    def poses(self, rgb: np.ndarray, faces: tuple[Face, ...] | list[Face] = ()) -> list[Pose]:
        """Bodies of a frame: the detector on the whole frame, then, for faces no body was found for (the
        detector is made for one person: a second one scores far lower beside the first; measured: 0.26 against
        0.89 alone), the detector again on a crop around the face (:data:`FACE_CROP`), biggest faces first."""
        c = self.config
        t0 = time.perf_counter()
        dets = [(score, kps) for _, score, kps in self._pose_det.detect(rgb, c.min_body_score)[: c.max_bodies]]
        t1 = time.perf_counter()
        out = self._landmarks(rgb, dets)
        seeded = 0.0
        if len(out) < c.max_bodies and faces:
            found = associate_faces([(p.landmarks, p.visibility) for p in out], faces, c.min_visibility)
            for f in sorted((f for j, f in enumerate(faces) if j not in found), key=lambda f: -f.box[2]):
                if len(out) >= c.max_bodies:
                    break
                t = time.perf_counter()
                det = self._detect_near(rgb, f)
                seeded += time.perf_counter() - t
                if det is not None:
                    out += self._landmarks(rgb, [det])
        t3 = time.perf_counter()
        self.ms = {"pose_detect": (t1 - t0 + seeded) * 1000, "pose_landmarks": (t3 - t1 - seeded) * 1000,
                   "bodies": float(len(out)), "pose_detect_full": (t1 - t0) * 1000}
        return out

    def _detect_near(self, rgb: np.ndarray, face: Face) -> tuple[float, np.ndarray] | None:
        """The body detector on a crop around a face: the detection whose box (BlazePose's detection box is the
        face) is nearest the face, within one face width."""
        h, w = rgb.shape[:2]
        x, y, fw, fh = face.box
        side = FACE_CROP[0] * fw
        cx, cy = x + fw / 2, y + fh / 2 + FACE_CROP[1] * fw
        x0, y0 = int(max(0, cx - side / 2)), int(max(0, cy - side / 2))
        x1, y1 = int(min(w, cx + side / 2)), int(min(h, cy + side / 2))
        if x1 - x0 < 16 or y1 - y0 < 16:
            return None
        best, best_d = None, fw
        for box, score, kps in self._pose_det.detect(rgb[y0:y1, x0:x1], self.config.min_body_score):
            d = math.hypot((box[0] + box[2]) / 2 + x0 - cx, (box[1] + box[3]) / 2 + y0 - (y + fh / 2))
            if d < best_d:
                best, best_d = (score, kps + np.array([x0, y0])), d
        return best

    def _landmarks(self, rgb: np.ndarray, dets: list[tuple[float, np.ndarray]]) -> list[Pose]:
        c = self.config
        h, w = rgb.shape[:2]
        out = []
        for score, kps in dets:
            hip, scale_pt = kps[0], kps[1]
            side = 2.0 * float(np.linalg.norm(scale_pt - hip)) * 1.25
            if not math.isfinite(side) or side < 16:
                continue
            a = _crop_affine((float(hip[0]), float(hip[1])), side, _upright_angle(hip, scale_pt), POSE_LM_SIZE)
            if _inside_fraction(a, POSE_LM_SIZE, w, h) <= 0.0:  # an upper body alone: the hips, the crop's
                continue  # centre, lie below the image, and most of the crop is outside (as mediapipe crops it)
            crop = _warp(rgb, a, POSE_LM_SIZE).astype(np.float32) / 255.0
            self._pose_lm.set_tensor(self._pose_in, crop[None])
            self._pose_lm.invoke()
            raw = self._pose_lm.get_tensor(self._pose_out).reshape(39, 5)[:33].astype(np.float64)
            presence = float(self._pose_lm.get_tensor(self._pose_flag).ravel()[0])
            if not 0.0 <= presence <= 1.0:  # a logit in some versions of the model
                presence = float(_sigmoid(presence))
            if presence < c.min_body_presence or not np.all(np.isfinite(raw)):
                continue
            lm = _to_image(a, raw[:, :3])
            vis = _sigmoid(raw[:, 3])
            seen = lm[vis >= c.min_visibility, :2]
            if len(seen) == 0:
                continue
            x0, y0 = np.clip(seen.min(0), 0, [w, h])
            x1, y1 = np.clip(seen.max(0), 0, [w, h])
            if x1 - x0 < 2 or y1 - y0 < 2:
                continue
            out.append(Pose(lm, vis, presence, score, (float(x0), float(y0), float(x1 - x0), float(y1 - y0))))
        return out

    # -- hands --
    def hands(self, rgb: np.ndarray) -> list[Hand]:
        if self._palm is None:
            return []
        c = self.config
        h, w = rgb.shape[:2]
        t0 = time.perf_counter()
        dets = self._palm.detect(rgb, c.min_palm_score)[: c.max_hands]
        t1 = time.perf_counter()
        out = []
        for box, _, kps in dets:
            wrist, middle = kps[0], kps[2]
            angle = _upright_angle(wrist, middle)
            bw, bh = float(box[2] - box[0]), float(box[3] - box[1])
            if not (math.isfinite(bw) and math.isfinite(bh)) or min(bw, bh) < 4:
                continue
            up = np.array([math.sin(angle), -math.cos(angle)])
            centre = (box[:2] + box[2:]) / 2 + 0.5 * bh * up
            a = _crop_affine((float(centre[0]), float(centre[1])), max(bw, bh) * 2.6, angle, HAND_SIZE)
            if _inside_fraction(a, HAND_SIZE, w, h) < 0.25:
                continue
            crop = _warp(rgb, a, HAND_SIZE).astype(np.float32) / 255.0
            self._hand.set_tensor(self._hand_in, crop[None])
            self._hand.invoke()
            raw = self._hand.get_tensor(self._hand_lm).reshape(21, 3).astype(np.float64)
            presence = float(self._hand.get_tensor(self._hand_flag).ravel()[0])
            if not 0.0 <= presence <= 1.0:
                presence = float(_sigmoid(presence))
            if presence < c.min_hand_presence or not np.all(np.isfinite(raw)):
                continue
            lm = _to_image(a, raw)
            x0, y0 = lm[:, :2].min(0)
            x1, y1 = lm[:, :2].max(0)
            gesture, ray = classify_hand(lm)
            out.append(Hand(lm, presence, (float(x0), float(y0), float(x1 - x0), float(y1 - y0)), gesture, ray))
        self.ms.update(palm_detect=(time.perf_counter() - t0) * 1000 - (time.perf_counter() - t1) * 1000,
                       hand_landmarks=(time.perf_counter() - t1) * 1000)
        return out

    # -- one frame --
    def read(self, rgb: np.ndarray, stamp: float, faces: tuple[Face, ...] | list[Face] = ()) -> list[Body]:
        """Bodies (and hands without a body) of one RGB frame, with gestures; never raises on odd frames."""
        c = self.config
        if rgb.ndim != 3 or rgb.shape[2] != 3 or min(rgb.shape[:2]) < 8:
            return []
        poses = self.poses(rgb, faces)
        hands = self.hands(rgb)
        w = rgb.shape[1]
        # each hand to the body whose wrist is nearest (within a shoulder width)
        owner = [-1] * len(hands)
        for i, hand in enumerate(hands):
            best, best_d = -1, math.inf
            for j, p in enumerate(poses):
                reach = max(float(np.linalg.norm(p.landmarks[L_SHOULDER, :2] - p.landmarks[R_SHOULDER, :2])), 20.0)
                for k in (L_WRIST, R_WRIST):
                    d = float(np.linalg.norm(p.landmarks[k, :2] - hand.landmarks[WRIST, :2]))
                    if d < reach and d < best_d:
                        best, best_d = j, d
            owner[i] = best
        wave = self.waves.update(stamp, [
            (tuple(hand.landmarks[:, :2].mean(0)), max(hand.box[2], hand.box[3]) * 0.6,
             hand.gesture == "raised_palm") for hand in hands])
        for hand, (waving, still) in zip(hands, wave, strict=True):
            if waving:
                hand.gesture = "wave"
            elif hand.gesture == "raised_palm" and not still:  # a stop is a palm held up, not one moving
                hand.gesture = "none"
        face_of = associate_faces([(p.landmarks, p.visibility) for p in poses], faces, c.min_visibility)
        bodies = []
        wrists = [(j, raised_wrists(p, c.min_visibility)) for j, p in enumerate(poses)]
        flat = [(j, x) for j, ws in wrists for x in ws]
        waving_body = {j for (j, _), (waving, _) in zip(flat, self.wrist_waves.update(stamp, [x for _, x in flat]),
                                                          strict=True) if waving}
        for j, p in enumerate(poses):
            mine = [hd for hd, o in zip(hands, owner, strict=True) if o == j]
            seen_sh = min(p.visibility[L_SHOULDER], p.visibility[R_SHOULDER]) >= c.min_visibility
            b = _body(p.box, p.score, True, p, mine, face_of[j], seen_sh, w, c)
            if j in waving_body and _PRIORITY[b.gesture] < _PRIORITY["wave"]:
                b = replace(b, gesture="wave")
            bodies.append(b)
        for hand, o in zip(hands, owner, strict=True):
            if o < 0 and hand.gesture != "none":  # a hand close to the camera with no body in view still counts
                bodies.append(_body(hand.box, hand.presence, False, None, [hand], -1, False, w, c))
        return bodies


def raised_wrists(p: Pose, min_visibility: float) -> list[tuple[tuple[float, float], float, bool]]:
    """The body's wrists held above their elbow and the shoulder line, as wave-detector input: (wrist px, a hand
    width taken as a third of the shoulder width, True)."""
    sh = p.landmarks[[L_SHOULDER, R_SHOULDER], :2]
    width = max(float(np.linalg.norm(sh[0] - sh[1])) / 3.0, 4.0)
    top = float(sh[:, 1].max())  # the lower shoulder (image y grows downwards)
    out = []
    for wrist, elbow in ((L_WRIST, L_ELBOW), (R_WRIST, R_ELBOW)):
        if min(p.visibility[wrist], p.visibility[elbow], p.visibility[L_SHOULDER], p.visibility[R_SHOULDER]) \
                < min_visibility:
            continue
        x, y = (float(v) for v in p.landmarks[wrist, :2])
        if y < float(p.landmarks[elbow, 1]) and y < top:
            out.append(((x, y), width, True))
    return out


_PRIORITY = {"raised_palm": 3, "wave": 2, "point": 1, "none": 0}


def _body(box, score: float, valid: bool, p: Pose | None, hands: list[Hand], face: int, shoulders: bool,
          width: int, c: BodyConfig) -> Body:
    best = max(hands, key=lambda hd: _PRIORITY[hd.gesture], default=None)
    gesture = best.gesture if best is not None else "none"
    assert gesture in GESTURES
    kw = {}
    if p is not None:
        kw["keypoints"] = tuple((float(x), float(y)) for x, y in p.landmarks[:, :2])
        kw["visibility"] = tuple(float(v) for v in p.visibility)
        if shoulders:
            kw["shoulders_valid"] = True
            kw["shoulder_yaw_deg"] = shoulder_yaw(p.landmarks)
            kw["distance_m"] = body_distance(p.landmarks, width, c.hfov_deg, c.shoulder_width_m)
    return Body(box=tuple(float(v) for v in box), score=float(np.clip(score, 0.0, 1.0)), pose_valid=valid,
                face_index=face, gesture=gesture,
                point=best.ray if best is not None and gesture == "point" else (0.0, 0.0, 0.0, 0.0),
                hands=len(hands), **kw)


def reassociate(bodies: tuple[Body, ...] | list[Body], faces: tuple[Face, ...] | list[Face], age_s: float,
                min_visibility: float = 0.5) -> tuple[Body, ...]:
    """Bodies measured on an earlier frame, reported with this frame's faces: ``face_index`` found again from
    their landmarks, ``age_s`` set."""
    poses = [(np.asarray(b.keypoints, float).reshape(-1, 2), np.asarray(b.visibility, float)) for b in bodies]
    idx = associate_faces(poses, faces, min_visibility)
    return tuple(replace(b, face_index=i if b.pose_valid else -1, age_s=age_s) for b, i in zip(bodies, idx,
                                                                                                strict=True))


class BodyWorker:
    """Runs a :class:`BodyReader` on its own thread, latest frame wins: :meth:`offer` hands it a frame (dropped
    when it is busy), :meth:`latest` returns the newest finished ``(stamp, bodies)``. Keeps the faces' frame rate
    when bodies take longer than a frame (they run on the other core while LiteRT releases the interpreter lock)."""

    def __init__(self, reader: BodyReader) -> None:
        self.reader = reader
        self._cond = threading.Condition()
        self._slot: tuple[np.ndarray, float, tuple[Face, ...]] | None = None
        self._busy = False
        self._latest: tuple[float, tuple[Body, ...]] | None = None
        self._stop = False
        self.ms = 0.0  # how long the last reading took
        self._thread = threading.Thread(target=self._run, name="body-reader", daemon=True)
        self._thread.start()

    def offer(self, rgb: np.ndarray, stamp: float, faces: tuple[Face, ...] | list[Face]) -> bool:
        """Give the worker this frame unless it is busy; whether it took it."""
        with self._cond:
            if self._busy or self._slot is not None:
                return False
            self._slot = (rgb, stamp, tuple(faces))
            self._cond.notify_all()
            return True

    def latest(self) -> tuple[float, tuple[Body, ...]] | None:
        with self._cond:
            return self._latest

    def wait_idle(self, timeout_s: float = 5.0) -> bool:
        """Wait until the frame offered last is read (tests, benchmarks)."""
        with self._cond:
            return self._cond.wait_for(lambda: not self._busy and self._slot is None, timeout_s)

    def close(self) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        self._thread.join(timeout=5.0)

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._slot is not None or self._stop)
                if self._stop:
                    return
                rgb, stamp, faces = self._slot
                self._slot, self._busy = None, True
            t = time.perf_counter()
            try:
                bodies = tuple(self.reader.read(rgb, stamp, faces))
            except Exception:  # noqa: BLE001 - a reading that fails gives no bodies, never a dead worker
                bodies = ()
            with self._cond:
                self.ms = (time.perf_counter() - t) * 1000
                if self._latest is None or stamp >= self._latest[0] or stamp < self._latest[0] - 1.0:
                    self._latest = (stamp, bodies)
                self._busy = False
                self._cond.notify_all()
