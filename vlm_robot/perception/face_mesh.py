"""Head pose, eyes, mouth and eye contact from the face mesh and iris models in the mediapipe wheel (LiteRT).

Per face box (from :class:`vlm_robot.perception.faces.FaceDetector`):

1. a square crop 1.5 times the box, rotated so the eyes are level, goes through ``face_landmark.tflite``
   (192 x 192 in, 468 points ``(x, y, z)`` out, plus a face-presence logit); a second pass re-crops around the
   first pass's landmarks (the detector's box sits off-centre on a turned head);
2. the head pose is a PnP fit (``cv2.solvePnP``) of a rigid 3D face (:mod:`vlm_robot.perception.face_model3d`,
   the upper face: forehead, brows, eyes, nose, cheeks) to those landmarks with a pinhole camera of
   ``hfov_deg``; yaw/pitch/roll are then taken relative to the line of sight from the camera to the face, so a
   person at the edge of the image who looks at the camera reads 0, not the angle of the ray;
3. each eye (corners from the mesh) is cropped to 64 x 64 for ``iris_landmark.tflite``; the iris centre's
   offset from the middle of the eye (the nearer, wider eye weighted more) gives the eye-in-head rotation
   (:func:`eye_rotation`, counted half), which added to the head pose gives the gaze, and
   :func:`eye_contact_score` turns the angle between gaze and line of sight into "looks at the robot" in 0..1;
   :func:`facing_from_pose` makes the ``facing`` score from head pose and eye contact.

mediapipe's ``face_landmark_with_attention.tflite`` needs mediapipe's custom op ``Landmarks2TransformMatrix``,
which plain LiteRT lacks, so the refined eye/iris points come from the separate iris model instead. The wheel
does not ship mediapipe's canonical face geometry as a data file; the 3D face is our own (see face_model3d).

Angles are degrees. ``yaw > 0``: the face points towards the image's right (the person's left), the sign of
:func:`vlm_robot.reasoning.engagement.head_yaw`; ``pitch > 0``: the face points down; ``roll > 0``: the head
leans clockwise as seen in the image.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import cv2
import numpy as np

from vlm_robot.core.assets import FACE_MESH_MODEL, IRIS_MODEL
from vlm_robot.perception.face_model3d import RIGID_IDX, RIGID_POINTS

MESH_SIZE = 192
IRIS_SIZE = 64
ROI_SCALE = 1.5  # crop side / detector box side (and / landmark extent on the second pass)
EYE_ROI_SCALE = 2.3  # eye crop side / eye corner distance

# mesh indices (the face_landmark.tflite topology); "right"/"left" are the person's
R_EYE_OUT, R_EYE_IN, R_EYE_TOP, R_EYE_BOT = 33, 133, 159, 145
L_EYE_IN, L_EYE_OUT, L_EYE_TOP, L_EYE_BOT = 362, 263, 386, 374
LIP_TOP, LIP_BOT, MOUTH_R, MOUTH_L = 13, 14, 61, 291
NOSE_TIP = 1

# eye geometry for eye_rotation(): corner-to-corner eye width ~ 28-30 mm, eyeball radius ~ 12 mm
EYE_HALF_WIDTH_MM = 14.5
EYEBALL_RADIUS_MM = 12.0
MAX_EYE_ROTATION_DEG = 25.0
EYE_SHRINK = 0.5  # the iris reading counts half: the two eyes of one face disagree by up to ~0.3 half-widths
EYE_WEIGHT = 0.3  # how far eye contact may move facing away from the head-only reading


@dataclass(frozen=True)
class MeshConfig:
    """``perception.mesh_*`` in config/perception.yaml."""

    enabled: bool = True
    model_path: str = ""  # empty: face_landmark.tflite from the mediapipe wheel
    iris_model_path: str = ""  # empty: iris_landmark.tflite from the mediapipe wheel
    iris: bool = True
    hfov_deg: float = 60.0  # the camera's horizontal field of view (focal length for PnP)
    min_presence: float = 0.5  # the mesh model's face-presence probability below this: pose invalid
    min_box_px: float = 24.0  # smaller face boxes are not meshed (pose invalid)
    max_reproj: float = 0.06  # PnP reprojection RMS over the face width above this: pose invalid
    min_iris_eye_px: float = 12.0  # eyes narrower than this (corner to corner) give no iris reading


@dataclass(frozen=True)
class HeadPose:
    """What the mesh read on one face. ``valid`` False: every other number is meaningless (zeros)."""

    valid: bool
    yaw: float = 0.0
    pitch: float = 0.0
    roll: float = 0.0
    eye_contact: float = 0.0  # 0..1, see eye_contact_score
    eyes_open: float = 0.0  # lid gap / eye width, mean of both eyes (~0.25-0.35 open, < 0.1 closed)
    mouth_open: float = 0.0  # inner lip gap / mouth width (~0 closed, > 0.3 wide open)
    gaze_yaw: float = 0.0  # head + eyes, same convention as yaw
    gaze_pitch: float = 0.0
    iris: bool = False  # whether the eyes were read (else gaze = head pose)
    presence: float = 0.0
    reproj: float = 0.0  # PnP reprojection RMS / face width
    reason: str = ""  # why invalid
    landmarks: np.ndarray | None = field(default=None, repr=False, compare=False)  # (468, 3), image pixels
    ms: dict[str, float] = field(default_factory=dict, compare=False)


INVALID = HeadPose(False)


def facing_from_pose(pose: HeadPose) -> float:
    """The ``facing`` score from a valid pose: 1 looking at the camera, 0.7 at ~15 degrees, 0 from 50 degrees.

    The head's angle from the line of sight (yaw and pitch together) maps linearly, ``1 - angle / 50``,
    keeping the meaning of the old nose-offset score's threshold (``tracker.attending_facing: 0.7``, "~15
    degrees"). When the irises were read, eye contact moves it by at most ``EYE_WEIGHT`` (0.3) where it
    disagrees with the head alone: eyes turned back to the robot raise it, eyes looking away lower it; eyes that
    follow the head change nothing.
    """
    angle = _angle_between(pose.yaw, pose.pitch, 0.0, 0.0)
    head = float(np.clip(1.0 - angle / 50.0, 0.0, 1.0))
    if not pose.iris:
        return head
    return float(np.clip(head + EYE_WEIGHT * (pose.eye_contact - eye_contact_score(angle)), 0.0, 1.0))


def eye_contact_score(angle_deg: float, sigma_deg: float = 12.0) -> float:
    """"Looks at the robot" in 0..1 from the angle between the estimated gaze and the line of sight.

    A Gaussian ``exp(-angle^2 / (2 sigma^2))``: 1 straight on, 0.5 at ~14 degrees, 0.04 at 30. ``sigma`` is set
    by the error of the estimate, not by how narrow human eye contact is (a few degrees): the head yaw error
    measured in the simulated room (``python -m vlm_robot.benchmarks.head_pose``) has a median of ~3 and a
    90th percentile of ~9 degrees, so a person looking at the lens scores >= 0.75 nine times in ten from the
    head alone. The iris term (:func:`eye_rotation`, counted half) has no ground truth to calibrate against:
    the photographs' eyes look at their photographer's lens and nothing else.
    """
    return float(math.exp(-0.5 * (angle_deg / sigma_deg) ** 2))


def _angle_between(yaw1: float, pitch1: float, yaw2: float, pitch2: float) -> float:
    """Angle in degrees between two directions given as yaw/pitch (degrees)."""
    def vec(y: float, p: float) -> np.ndarray:
        y, p = math.radians(y), math.radians(p)
        return np.array([math.sin(y) * math.cos(p), math.sin(p), math.cos(y) * math.cos(p)])

    c = float(np.clip(vec(yaw1, pitch1) @ vec(yaw2, pitch2), -1.0, 1.0))
    return math.degrees(math.acos(c))


def eye_rotation(offset: float) -> float:
    """Eye-in-head rotation (degrees) from the iris centre's offset from the middle of the eye opening.

    ``offset`` is in half eye widths (corner to corner), along one axis of the eye. Anatomical model, not
    fitted: the iris centre moves on a sphere of radius ~12 mm and half an eye is ~14.5 mm, so
    ``sin(angle) = offset * 14.5 / 12``, clipped to +-25 degrees.
    """
    s = float(np.clip(offset * EYE_HALF_WIDTH_MM / EYEBALL_RADIUS_MM, -1.0, 1.0))
    return float(np.clip(math.degrees(math.asin(s)), -MAX_EYE_ROTATION_DEG, MAX_EYE_ROTATION_DEG))


def _crop_affine(centre: tuple[float, float], side: float, angle: float, size: int) -> np.ndarray:
    """2x3 affine from crop pixels to image pixels: a ``side``-wide square around ``centre`` rotated by
    ``angle`` (radians, image coordinates)."""
    k = side / size
    c, s = math.cos(angle) * k, math.sin(angle) * k
    h = size / 2
    return np.array([[c, -s, centre[0] - c * h + s * h], [s, c, centre[1] - s * h - c * h]])


def _warp(rgb: np.ndarray, a: np.ndarray, size: int, flip: bool = False) -> np.ndarray:
    if flip:  # crop pixel u -> size - u
        a = a @ np.array([[-1.0, 0.0, size], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    m = cv2.invertAffineTransform(a)
    return cv2.warpAffine(rgb, m, (size, size), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)


def _inside_fraction(a: np.ndarray, size: int, w: int, h: int) -> float:
    """Share of the crop's area that lies inside a ``w`` x ``h`` image (4x4 sample grid)."""
    g = (np.arange(4) + 0.5) * size / 4
    u, v = np.meshgrid(g, g)
    pts = np.stack([u.ravel(), v.ravel(), np.ones(16)])
    x, y = a @ pts
    return float(np.mean((x >= 0) & (x < w) & (y >= 0) & (y < h)))


def _rot_to_ypr(r: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees, this module's convention) of a head rotation in OpenCV camera axes
    (x right, y down, z forward) whose face model has x to the viewer's right, y down and z into the head."""
    # face forward (out of the face, towards a viewer) is -z of the model
    fwd = r @ np.array([0.0, 0.0, -1.0])
    yaw = math.degrees(math.atan2(fwd[0], -fwd[2]))  # + : points to the image's right
    pitch = math.degrees(math.atan2(fwd[1], math.hypot(fwd[0], fwd[2])))  # + : points down
    # roll: the model's x axis (eye line) against the image horizontal, after undoing yaw and pitch
    cy, sy = math.cos(math.radians(yaw)), math.sin(math.radians(yaw))
    cp, sp = math.cos(math.radians(pitch)), math.sin(math.radians(pitch))
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rp = np.array([[1, 0, 0], [0, cp, -sp], [0, sp, cp]])
    base = ry @ rp  # maps -z onto fwd: the yaw and pitch without roll
    rest = base.T @ r  # remaining rotation, about the model's z
    roll = math.degrees(math.atan2(rest[1, 0], rest[0, 0]))
    return yaw, pitch, roll


def pose_angles(r: np.ndarray, t: np.ndarray) -> tuple[float, float, float]:
    """Yaw, pitch, roll (degrees) of a face with rotation ``r`` at ``t`` in OpenCV camera axes, relative to the
    line of sight: a face anywhere in the image that looks straight at the camera reads ``(0, 0, 0)``."""
    ray = np.asarray(t, float) / np.linalg.norm(t)
    ray_yaw, ray_pitch = math.atan2(ray[0], ray[2]), math.asin(float(np.clip(ray[1], -1, 1)))
    cy, sy = math.cos(ray_yaw), math.sin(ray_yaw)
    cp, sp = math.cos(ray_pitch), math.sin(ray_pitch)
    r_yaw = np.array([[cy, 0, sy], [0, 1, 0], [-sy, 0, cy]])
    r_pitch = np.array([[1, 0, 0], [0, cp, sp], [0, -sp, cp]])
    r_view = r_yaw @ r_pitch  # maps the optical axis (0, 0, 1) onto the ray
    return _rot_to_ypr(r_view.T @ r)


class FaceMesh:
    """Face mesh + iris models; :meth:`estimate` per face box. Not thread-safe (one per worker)."""

    def __init__(self, config: MeshConfig | None = None, num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.config = c = config or MeshConfig()
        self._mesh = Interpreter(model_path=c.model_path or str(FACE_MESH_MODEL.path()), num_threads=num_threads)
        self._mesh.allocate_tensors()
        self._mesh_in = self._mesh.get_input_details()[0]["index"]
        outs = sorted(self._mesh.get_output_details(), key=lambda d: int(np.prod(d["shape"])), reverse=True)
        self._mesh_lm, self._mesh_score = outs[0]["index"], outs[1]["index"]
        self._iris = None
        if c.iris:
            self._iris = Interpreter(model_path=c.iris_model_path or str(IRIS_MODEL.path()), num_threads=num_threads)
            self._iris.allocate_tensors()
            self._iris_in = self._iris.get_input_details()[0]["index"]
            outs = {int(np.prod(d["shape"])): d["index"] for d in self._iris.get_output_details()}
            self._iris_out = outs[15]  # 5 points: iris centre + 4 on its rim

    # ---- models ---------------------------------------------------------------------------------------------------
    def _run_mesh(self, rgb: np.ndarray, a: np.ndarray) -> tuple[np.ndarray, float]:
        crop = _warp(rgb, a, MESH_SIZE).astype(np.float32) / 255.0
        self._mesh.set_tensor(self._mesh_in, crop[None])
        self._mesh.invoke()
        lm = self._mesh.get_tensor(self._mesh_lm).reshape(468, 3).astype(np.float64)
        logit = float(self._mesh.get_tensor(self._mesh_score).ravel()[0])
        presence = 1.0 / (1.0 + math.exp(-max(-80.0, min(80.0, logit))))
        xy = (a @ np.vstack([lm[:, :2].T, np.ones(468)])).T
        k = math.hypot(a[0, 0], a[1, 0])  # image px per crop px
        return np.column_stack([xy, lm[:, 2] * k]), presence

    def _run_iris(self, rgb: np.ndarray, outer: np.ndarray, inner: np.ndarray, flip: bool) -> np.ndarray:
        """Iris centre in image pixels for the eye with these corners."""
        centre = (outer + inner) / 2
        d = inner - outer
        angle = math.atan2(d[1], d[0]) if not flip else math.atan2(-d[1], -d[0])
        side = float(np.hypot(*d)) * EYE_ROI_SCALE
        a = _crop_affine((float(centre[0]), float(centre[1])), side, angle, IRIS_SIZE)
        crop = _warp(rgb, a, IRIS_SIZE, flip).astype(np.float32) / 255.0
        self._iris.set_tensor(self._iris_in, crop[None])
        self._iris.invoke()
        p = self._iris.get_tensor(self._iris_out).reshape(5, 3)[0, :2].astype(np.float64)
        if flip:
            p[0] = IRIS_SIZE - p[0]
        return a @ np.array([p[0], p[1], 1.0])

    # ---- estimate -------------------------------------------------------------------------------------------------
    def estimate(self, rgb: np.ndarray, box: tuple[float, float, float, float],
                 keypoints: np.ndarray | None = None) -> HeadPose:
        """Head pose, eyes, mouth and eye contact of the face in ``box`` (x, y, w, h px) of an RGB frame.

        ``keypoints``: the detector's six keypoints (right eye, left eye first) to level the crop; without
        them the crop is upright. Never raises on odd input: returns a pose with ``valid=False`` and a reason.
        """
        c = self.config
        ms: dict[str, float] = {}
        try:
            h, w = rgb.shape[:2]
            bx, by, bw, bh = (float(v) for v in box)
        except (ValueError, TypeError, AttributeError) as e:
            return HeadPose(False, reason=f"bad input: {e}")
        if not all(map(math.isfinite, (bx, by, bw, bh))) or min(bw, bh) < c.min_box_px:
            return HeadPose(False, reason=f"face box {bw:.0f}x{bh:.0f} px below {c.min_box_px:.0f} px")
        angle = 0.0
        if keypoints is not None and len(keypoints) >= 2:
            d = np.asarray(keypoints[1], float) - np.asarray(keypoints[0], float)
            if np.all(np.isfinite(d)) and np.hypot(*d) > 1:
                angle = math.atan2(d[1], d[0])
        a = _crop_affine((bx + bw / 2, by + bh / 2), max(bw, bh) * ROI_SCALE, angle, MESH_SIZE)
        if _inside_fraction(a, MESH_SIZE, w, h) < 0.6:
            return HeadPose(False, reason="face crop mostly outside the image")
        t0 = time.perf_counter()
        lm, presence = self._run_mesh(rgb, a)
        # second pass: level and centre the crop on the first pass's landmarks
        eye = lm[L_EYE_OUT, :2] - lm[R_EYE_OUT, :2]
        angle = math.atan2(eye[1], eye[0])
        rot = np.array([[math.cos(angle), math.sin(angle)], [-math.sin(angle), math.cos(angle)]])
        local = lm[:, :2] @ rot.T
        lo, hi = local.min(0), local.max(0)
        centre = ((lo + hi) / 2) @ rot
        side = float(max(hi - lo)) * ROI_SCALE
        if side >= c.min_box_px and np.all(np.isfinite(centre)):
            a2 = _crop_affine((float(centre[0]), float(centre[1])), side, angle, MESH_SIZE)
            if _inside_fraction(a2, MESH_SIZE, w, h) >= 0.6:
                lm, presence = self._run_mesh(rgb, a2)
        ms["mesh"] = (time.perf_counter() - t0) * 1000
        if not np.all(np.isfinite(lm)) or presence < c.min_presence:
            return HeadPose(False, presence=presence, reason=f"no face in the crop (presence {presence:.2f})", ms=ms)

        t0 = time.perf_counter()
        f = (w / 2) / math.tan(math.radians(c.hfov_deg / 2))
        cam = np.array([[f, 0, w / 2], [0, f, h / 2], [0, 0, 1]])
        img_pts = lm[RIGID_IDX, :2]
        ok, rvec, tvec = cv2.solvePnP(RIGID_POINTS, img_pts, cam, None, flags=cv2.SOLVEPNP_SQPNP)
        if ok:
            ok, rvec, tvec = cv2.solvePnP(RIGID_POINTS, img_pts, cam, None, rvec, tvec, True,
                                          cv2.SOLVEPNP_ITERATIVE)
        face_w = float(np.linalg.norm(lm[L_EYE_OUT, :2] - lm[R_EYE_OUT, :2])) * 1.6 + 1e-9
        if not ok or tvec[2, 0] <= 0:
            return HeadPose(False, presence=presence, reason="PnP failed", ms=ms)
        proj, _ = cv2.projectPoints(RIGID_POINTS, rvec, tvec, cam, None)
        reproj = float(np.sqrt(np.mean(np.sum((proj.reshape(-1, 2) - img_pts) ** 2, axis=1)))) / face_w
        r, _ = cv2.Rodrigues(rvec)
        yaw, pitch, roll = pose_angles(r, tvec[:, 0])
        ms["pnp"] = (time.perf_counter() - t0) * 1000
        if reproj > c.max_reproj or not all(map(math.isfinite, (yaw, pitch, roll))):
            return HeadPose(False, presence=presence, reproj=reproj, reason=f"PnP residual {reproj:.3f}", ms=ms)

        def ratio(a_: int, b_: int, c_: int, d_: int) -> float:
            return float(np.linalg.norm(lm[a_, :2] - lm[b_, :2]) / max(np.linalg.norm(lm[c_, :2] - lm[d_, :2]), 1e-9))

        eyes_open = (ratio(R_EYE_TOP, R_EYE_BOT, R_EYE_OUT, R_EYE_IN)
                     + ratio(L_EYE_TOP, L_EYE_BOT, L_EYE_IN, L_EYE_OUT)) / 2
        mouth_open = ratio(LIP_TOP, LIP_BOT, MOUTH_R, MOUTH_L)

        gaze_yaw, gaze_pitch, used_iris = yaw, pitch, False
        eye_px = min(np.linalg.norm(lm[R_EYE_IN, :2] - lm[R_EYE_OUT, :2]),
                     np.linalg.norm(lm[L_EYE_OUT, :2] - lm[L_EYE_IN, :2]))
        if self._iris is not None and eye_px >= c.min_iris_eye_px and eyes_open > 0.12:
            t0 = time.perf_counter()
            offs, weights = [], []
            for outer, inner, top, bot, flip in ((R_EYE_OUT, R_EYE_IN, R_EYE_TOP, R_EYE_BOT, False),
                                                 (L_EYE_OUT, L_EYE_IN, L_EYE_TOP, L_EYE_BOT, True)):
                iris = self._run_iris(rgb, lm[outer, :2], lm[inner, :2], flip)
                # offset in the eye's own frame: x from the person's right corner to the left, y down
                ex = lm[L_EYE_OUT, :2] - lm[R_EYE_OUT, :2]
                ex = ex / (np.linalg.norm(ex) + 1e-9)
                ey = np.array([-ex[1], ex[0]])
                mid = (lm[outer, :2] + lm[inner, :2]) / 2
                mid_v = (lm[top, :2] + lm[bot, :2]) / 2
                half = np.linalg.norm(lm[inner, :2] - lm[outer, :2]) / 2 + 1e-9
                offs.append(((iris - mid) @ ex / half, (iris - mid_v) @ ey / half))
                weights.append(half ** 2)  # the nearer (wider) eye counts more: a far eye is foreshortened
            ms["iris"] = (time.perf_counter() - t0) * 1000
            ox, oy = np.average(offs, axis=0, weights=weights)
            # the image x axis runs to the image's right = the person's left = our + yaw
            gaze_yaw = yaw + EYE_SHRINK * eye_rotation(float(ox))
            gaze_pitch = pitch + EYE_SHRINK * eye_rotation(float(oy))
            used_iris = True
        contact = eye_contact_score(_angle_between(gaze_yaw, gaze_pitch, 0.0, 0.0))
        return HeadPose(True, yaw, pitch, roll, contact, float(eyes_open), float(mouth_open), gaze_yaw, gaze_pitch,
                        used_iris, presence, reproj, "", lm, ms)
