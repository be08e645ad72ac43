"""Scripted scenes: a drawn room with real face photographs composited in, plus timed transcripts.

A scene YAML (see ``sim/scenes/demo.yaml``) lists people (which photograph, where, when they
enter and leave) and what is said when. :meth:`Scene.render` draws the frame at time ``t``;
the same ``t`` always gives the same pixels.
"""

from __future__ import annotations

import importlib.util
import itertools
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import yaml

from vlm_robot.core.assets import DEMO_FACE_IMAGE
from vlm_robot.core.errors import ConfigError


@dataclass(frozen=True)
class ScenePerson:
    name: str
    face: str  # "astronaut" or "lfw:<index>"
    enter_s: float
    leave_s: float
    center: tuple[int, int]
    face_px: int
    # (t, x, y) or (t, x, y, face_px) waypoints (a changing face_px walks towards or away from the camera);
    # empty: stands at center
    path: tuple[tuple[float, ...], ...] = ()
    yaw: float = 0.0  # head turn in [-1, 1]: > 0 turns the face towards the image's right (see turn_head)
    pitch: float = 0.0  # head nod in [-1, 1]: > 0 tips the face down (e.g. looking at a phone; see turn_head)

    def _at(self, t: float) -> tuple[float, float, float]:
        """(x, y, face_px) at time ``t``: linear between waypoints, held before the first and after the last."""
        pts = [(w[0], w[1], w[2], w[3] if len(w) > 3 else self.face_px) for w in self.path]
        if not pts:
            return float(self.center[0]), float(self.center[1]), float(self.face_px)
        if t <= pts[0][0]:
            return pts[0][1:]
        for (t0, *a0), (t1, *a1) in itertools.pairwise(pts):
            if t0 <= t <= t1:
                a = (t - t0) / max(t1 - t0, 1e-9)
                return tuple(u + a * (v - u) for u, v in zip(a0, a1, strict=True))
        return pts[-1][1:]

    def position(self, t: float) -> tuple[int, int]:
        """Face centre at time ``t``: linear between waypoints, held before the first and after the last."""
        x, y, _ = self._at(t)
        return int(x), int(y)

    def size(self, t: float) -> int:
        """Face width in pixels at time ``t`` (``face_px``, or interpolated between waypoints that give one)."""
        return max(1, round(self._at(t)[2]))


@dataclass(frozen=True)
class ScriptedLine:
    at_s: float
    text: str
    speaker: str = ""  # name of the scene person who says it; empty: unattributed, as from a plain microphone


HEAD_TURN_DEG = 40.0  # turn_head: yaw 1 turns the head this many degrees


def turn_head(photo: np.ndarray, box: tuple[float, float, float, float], yaw: float,
              pitch: float = 0.0) -> np.ndarray:
    """``photo`` with its face turned by ``yaw`` in [-1, 1] (> 0: towards the image's right), ``yaw * 40`` degrees,
    and nodded by ``pitch`` in [-1, 1] (> 0: down), ``pitch * 40`` degrees (the nod first, then the turn).

    A 3D turn of the photographed face: the face mesh model (:mod:`vlm_robot.perception.face_mesh`) gives its
    468 points with their depth; they are rotated about a vertical axis ~10 cm behind the nose tip, projected
    orthographically, and the photo is warped triangle by triangle (farthest first, so the nose hides the far
    cheek), with a fixed ring around the face that stretches the hair and background to meet it. BlazeFace's
    nose offset and the mesh's head pose both follow it (``python -m vlm_robot.benchmarks.head_pose --scene``).
    Falls back to :func:`turn_head_2d` when the mesh finds no face in the photo.
    """
    if yaw == 0.0 and pitch == 0.0:
        return photo
    lm = _photo_landmarks(photo, box)
    if lm is None:
        return turn_head_2d(photo, box, yaw)
    theta = np.radians(float(np.clip(yaw, -1.0, 1.0)) * HEAD_TURN_DEG)
    phi = np.radians(float(np.clip(pitch, -1.0, 1.0)) * HEAD_TURN_DEG)
    h, w = photo.shape[:2]
    eye = float(np.linalg.norm(lm[263, :2] - lm[33, :2]))
    cx, cz = float(lm[:, 0].mean()), float(lm[1, 2]) + 1.05 * eye  # the turning axis: ~10 cm behind the nose tip
    cy = float(lm[:, 1].mean())
    dx, dy, dz = lm[:, 0] - cx, lm[:, 1] - cy, lm[:, 2] - cz
    dy, dz = dy * np.cos(phi) - dz * np.sin(phi), dy * np.sin(phi) + dz * np.cos(phi)  # nod: the nose goes down
    dst_face = np.column_stack([cx + dx * np.cos(theta) - dz * np.sin(theta), cy + dy])
    depth_face = dx * np.sin(theta) + dz * np.cos(theta)
    # a fixed ring around the face (1.5 x its extent) and the photo's border keep the rest of the photo in place
    ang = np.linspace(0, 2 * np.pi, 24, endpoint=False)
    rx, ry = (lm[:, 0].max() - lm[:, 0].min()) * 0.75, (lm[:, 1].max() - lm[:, 1].min()) * 0.75
    my = float(lm[:, 1].mean())
    ring = np.column_stack([cx + rx * np.cos(ang), my + ry * np.sin(ang)])
    border = np.array([[0, 0], [w / 2, 0], [w - 1, 0], [w - 1, h / 2], [w - 1, h - 1], [w / 2, h - 1], [0, h - 1],
                       [0, h / 2]], float)
    fixed = np.vstack([ring, border])
    fixed = fixed[(fixed[:, 0] >= 0) & (fixed[:, 0] <= w - 1) & (fixed[:, 1] >= 0) & (fixed[:, 1] <= h - 1)]
    src = np.vstack([lm[:, :2], fixed])
    dst = np.vstack([dst_face, fixed])
    depth = np.concatenate([depth_face, np.full(len(fixed), np.inf)])
    sub = cv2.Subdiv2D((-1, -1, w + 2, h + 2))
    clipped = np.clip(src, 0, [w - 1, h - 1])
    for p in clipped:
        sub.insert((float(p[0]), float(p[1])))
    tris = []
    for t in sub.getTriangleList().reshape(-1, 3, 2):
        idx = [int(np.argmin(np.sum((clipped - q) ** 2, axis=1))) for q in t]
        if len(set(idx)) == 3:
            finite = depth[idx][np.isfinite(depth[idx])]
            tris.append((float(finite.mean()) if finite.size else np.inf, idx))
    out = photo.copy()
    for _, idx in sorted(tris, key=lambda t: -t[0]):  # farthest first
        s_tri, d_tri = src[idx].astype(np.float32), dst[idx].astype(np.float32)
        area = (d_tri[1, 0] - d_tri[0, 0]) * (d_tri[2, 1] - d_tri[0, 1]) - \
            (d_tri[2, 0] - d_tri[0, 0]) * (d_tri[1, 1] - d_tri[0, 1])
        s_area = (s_tri[1, 0] - s_tri[0, 0]) * (s_tri[2, 1] - s_tri[0, 1]) - \
            (s_tri[2, 0] - s_tri[0, 0]) * (s_tri[1, 1] - s_tri[0, 1])
        if abs(area) < 1e-3 or np.sign(area) != np.sign(s_area):  # degenerate or turned away
            continue
        x0, y0 = np.floor(d_tri.min(0)).astype(int)
        x1, y1 = np.ceil(d_tri.max(0)).astype(int) + 1
        x0, y0, x1, y1 = max(x0, 0), max(y0, 0), min(x1, w), min(y1, h)
        if x1 <= x0 or y1 <= y0:
            continue
        m = cv2.getAffineTransform(s_tri, d_tri - np.array([x0, y0], np.float32))
        patch = cv2.warpAffine(photo, m, (x1 - x0, y1 - y0), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        mask = np.zeros((y1 - y0, x1 - x0), np.uint8)
        cv2.fillConvexPoly(mask, np.round((d_tri - [x0, y0]) * 16).astype(np.int32), 1, cv2.LINE_AA, 4)
        region = out[y0:y1, x0:x1]
        region[mask > 0] = patch[mask > 0]
    return out


_LANDMARKS: dict[tuple[int, tuple[float, ...]], np.ndarray | None] = {}


def _photo_landmarks(photo: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray | None:
    """The face mesh's 468 points ``(x, y, depth)`` on ``photo`` (pixels), or None when it finds no face."""
    key = (hash(photo.tobytes()), tuple(box))
    if key not in _LANDMARKS:
        from vlm_robot.perception.face_mesh import FaceMesh, MeshConfig

        pose = FaceMesh(MeshConfig(iris=False, min_box_px=8.0)).estimate(photo, box)
        _LANDMARKS[key] = pose.landmarks if pose.valid else None
    return _LANDMARKS[key]


def turn_head_2d(photo: np.ndarray, box: tuple[float, float, float, float], yaw: float) -> np.ndarray:
    """The former 2D stand-in for a head turn: the middle of the face (nose, mouth) slides sideways more than its
    edges. BlazeFace reads ``yaw = 1`` as a nose offset of about 0.2 eye distances on the astronaut; the face mesh
    reads it as turned 8 degrees (0.6 as 16: the warp folds over beyond that)."""
    if yaw == 0.0:
        return photo
    h, w = photo.shape[:2]
    fx, fy, fw, fh = box
    xs, ys = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    u, v = (xs - (fx + fw / 2)) / (fw / 2), (ys - (fy + fh / 2)) / (fh / 2)
    bump = np.exp(-0.5 * ((u / 0.5) ** 2 + (v / 0.8) ** 2))
    mapx = (xs - float(np.clip(yaw, -1.0, 1.0)) * fw * 0.35 * bump).astype(np.float32)
    return cv2.remap(photo, mapx, ys, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)


def _face_photo(face: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """A head-and-shoulders RGB photo and the face box ``(x, y, w, h)`` inside it."""
    if face == "astronaut":
        rgb = cv2.cvtColor(cv2.imread(str(DEMO_FACE_IMAGE.path()), cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)
        crop = rgb[0:330, 90:360]  # head and shoulders
        return np.ascontiguousarray(crop), (82.0, 66.0, 106.0, 106.0)
    if face.startswith("lfw:"):
        idx = int(face.split(":", 1)[1])
        spec = importlib.util.find_spec("skimage")
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError("scene face 'lfw:N' needs scikit-image's sample data: pip install --no-deps scikit-image")
        faces = np.load(Path(next(iter(spec.submodule_search_locations))) / "data" / "lfw_subset.npy")
        if not 0 <= idx < 100:
            raise ConfigError(f"scene face {face!r}: the LFW subset has faces 0..99")
        gray = (faces[idx] * 255).astype(np.uint8)  # 25 x 25, tightly cropped face
        big = cv2.resize(gray, (120, 120), interpolation=cv2.INTER_CUBIC)
        # the detector wants some head around the face: extend the photo's edges by 20 %
        big = cv2.copyMakeBorder(big, 24, 24, 24, 24, cv2.BORDER_REPLICATE)
        canvas = np.full((240, 168, 3), (70, 80, 110), np.uint8)  # shirt below the head
        canvas[:168] = big[:, :, None]
        return canvas, (24.0, 24.0, 120.0, 120.0)
    raise ConfigError(f"scene face {face!r} unknown; expected 'astronaut' or 'lfw:<0-99>'")


class Scene:
    """A scripted scene loaded from YAML."""

    def __init__(self, name: str, duration_s: float, fps: float, size: tuple[int, int],
                 people: list[ScenePerson], transcripts: list[ScriptedLine], encoding: str = "rgb8",
                 questions: list[ScriptedLine] | None = None) -> None:
        if duration_s <= 0 or not 0.5 <= fps <= 60:
            raise ConfigError(f"scene {name}: duration_s must be > 0 and fps in [0.5, 60]")
        if encoding not in ("rgb8", "mono8"):
            raise ConfigError(f"scene {name}: encoding {encoding!r} unknown; expected rgb8 or mono8")
        self.name, self.duration_s, self.fps, self.size = name, duration_s, fps, size
        self.encoding = encoding
        self.people = people
        self.transcripts = sorted(transcripts, key=lambda t: t.at_s)
        self.questions = sorted(questions or [], key=lambda t: t.at_s)  # put to the VLM node (vlm-robot ask)
        self._photos: dict[tuple[str, float, float], tuple[np.ndarray, tuple[float, float, float, float]]] = {}
        for p in people:
            if (p.face, p.yaw, p.pitch) not in self._photos:
                photo, box = _face_photo(p.face)
                self._photos[(p.face, p.yaw, p.pitch)] = turn_head(photo, box, p.yaw, p.pitch), box
        self._room = self._draw_room()

    @classmethod
    def load(cls, path: str | Path, scale: float = 1.0, fps: float | None = None) -> Scene:
        """Load a scene YAML; ``scale`` shrinks the frames (and people), ``fps`` overrides the rate."""
        path = Path(path)
        try:
            return cls.from_dict(yaml.safe_load(path.read_text()), scale, fps)
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"scene {path}: {type(e).__name__}: {e}") from e
        except ConfigError as e:
            raise ConfigError(f"scene {path}: {e}") from e

    @classmethod
    def from_dict(cls, doc: dict, scale: float = 1.0, fps: float | None = None) -> Scene:
        """A scene from its YAML document (see :meth:`load`)."""
        try:
            w, h = doc["size"]
            people = [ScenePerson(p["name"], p["face"], float(p["enter_s"]), float(p.get("leave_s", 1e9)),
                                  (int(p["center"][0] * scale), int(p["center"][1] * scale)),
                                  int(p["face_px"] * scale),
                                  tuple((float(w[0]), w[1] * scale, w[2] * scale, *(v * scale for v in w[3:4]))
                                        for w in p.get("path", [])),
                                  float(p.get("yaw", 0.0)), float(p.get("pitch", 0.0)))
                      for p in doc.get("people", [])]
            lines = [ScriptedLine(float(t["at_s"]), str(t["text"]), str(t.get("speaker", "")))
                     for t in doc.get("transcripts", [])]
            questions = [ScriptedLine(float(t["at_s"]), str(t["text"])) for t in doc.get("questions", [])]
            return cls(doc["name"], float(doc["duration_s"]), float(fps or doc["fps"]),
                       (int(w * scale), int(h * scale)), people, lines, doc.get("encoding", "rgb8"), questions)
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{type(e).__name__}: {e}; see sim/scenes/demo.yaml for the format") from e

    def _draw_room(self) -> np.ndarray:
        w, h = self.size
        img = np.zeros((h, w, 3), np.uint8)
        horizon = int(h * 0.62)
        ramp = np.linspace(0, 1, horizon)[:, None, None]
        img[:horizon] = (np.array([205, 200, 185]) * (1 - 0.25 * ramp)).astype(np.uint8)  # wall
        img[horizon:] = (150, 120, 90)  # wooden floor
        for x in range(0, w, max(8, w // 12)):
            cv2.line(img, (x, horizon), (x + (x - w // 2) // 2, h), (135, 108, 80), 1)
        s = w / 640
        cv2.rectangle(img, (int(560 * s), int(120 * s)), (int(630 * s), horizon), (120, 90, 60), -1)  # door
        cv2.rectangle(img, (int(30 * s), int(60 * s)), (int(120 * s), int(140 * s)), (90, 140, 180), -1)  # window
        cv2.rectangle(img, (int(250 * s), int(330 * s)), (int(420 * s), int(345 * s)), (100, 70, 50), -1)  # table
        cv2.rectangle(img, (int(265 * s), int(345 * s)), (int(275 * s), int(420 * s)), (90, 60, 40), -1)
        cv2.rectangle(img, (int(395 * s), int(345 * s)), (int(405 * s), int(420 * s)), (90, 60, 40), -1)
        return img

    def visible(self, t: float) -> list[ScenePerson]:
        return [p for p in self.people if p.enter_s <= t < p.leave_s]

    def render(self, t: float) -> np.ndarray:
        """The ``(H, W, 3)`` uint8 RGB frame at scene time ``t`` seconds."""
        img = self._room.copy()
        H, W = img.shape[:2]
        for p in self.visible(t):
            photo, (fx, fy, fw, fh) = self._photos[(p.face, p.yaw, p.pitch)]
            k = p.size(t) / fw
            ph, pw = max(1, int(photo.shape[0] * k)), max(1, int(photo.shape[1] * k))
            scaled = cv2.resize(photo, (pw, ph), interpolation=cv2.INTER_AREA if k < 1 else cv2.INTER_CUBIC)
            cx, cy = p.position(t)
            x0 = int(cx - (fx + fw / 2) * k)
            y0 = int(cy - (fy + fh / 2) * k)
            xa, ya, xb, yb = max(0, x0), max(0, y0), min(W, x0 + pw), min(H, y0 + ph)
            if xa < xb and ya < yb:
                img[ya:yb, xa:xb] = scaled[ya - y0 : yb - y0, xa - x0 : xb - x0]
        return img

    def frame_times(self) -> list[float]:
        n = int(self.duration_s * self.fps)
        return [i / self.fps for i in range(n)]
