"""Perception: one RGB frame in, faces with expression, facing and head pose out."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2
import numpy as np

from vlm_robot.core.types import EXPRESSIONS, Body, Face, Frame, PerceptionResult
from vlm_robot.perception.body import BodyConfig, BodyReader, BodyWorker, reassociate
from vlm_robot.perception.expression import ExpressionClassifier
from vlm_robot.perception.face_mesh import INVALID, FaceMesh, HeadPose, MeshConfig, facing_from_pose
from vlm_robot.perception.faces import FaceDetector, _iou, facing_score
from vlm_robot.perception.reid import face_descriptor


@dataclass(frozen=True)
class PerceptionConfig:
    """config/perception.yaml ``perception.*``."""

    face_model: str = "full"
    face_model_path: str = ""
    min_face_score: float = 0.5
    expression_model_path: str = ""
    max_faces: int = 8
    num_threads: int = 1
    mesh: bool = True  # head pose, eyes and mouth from the face mesh (else facing from the nose offset only)
    mesh_interval_s: float = 0.1  # re-run the mesh on a face at most this often (frame stamps); reuse in between
    mesh_max_per_frame: int = 2  # at most this many faces meshed per frame, the stalest first
    mesh_max_age_s: float = 1.0  # a cached pose older than this is not reused (pose_valid false)
    mesh_iris: bool = True
    mesh_hfov_deg: float = 60.0  # the camera's horizontal field of view, for the PnP fit
    body: bool = False  # bodies and hands (pose, palm and hand models; vlm_robot/perception/body.py)
    body_rate_hz: float = 5.0  # measured at most this often (frame stamps); the last result reused in between
    body_max_age_s: float = 0.5  # a result older than this is not reused
    body_max: int = 2  # bodies read per measurement, the detector's best first
    body_hands: bool = True  # hands and their gestures (raised palm, wave, point)
    body_hand_model: str = "lite"  # lite | full
    body_shoulder_width_m: float = 0.39  # for the distance from the shoulders' width
    body_thread: bool = True  # read bodies on a thread of their own (latest frame wins); false: in process()


@dataclass
class _Cached:
    box: tuple[float, float, float, float]
    stamp: float
    pose: HeadPose


class Perceiver:
    """Loads the face and expression models once; :meth:`process` is then pure computation.

    The face mesh runs per face at its own rate (``mesh_interval_s``, at most ``mesh_max_per_frame`` faces a
    frame); a face between runs gets the pose last measured on the face at the same place (box IoU > 0.3).
    """

    def __init__(self, config: PerceptionConfig | None = None) -> None:
        c = config or PerceptionConfig()
        self.config = c
        self.faces = FaceDetector(c.face_model, c.min_face_score, model_path=c.face_model_path,
                                  num_threads=c.num_threads)
        self.expressions = ExpressionClassifier(model_path=c.expression_model_path, num_threads=c.num_threads)
        self.mesh = (FaceMesh(MeshConfig(iris=c.mesh_iris, hfov_deg=c.mesh_hfov_deg), num_threads=c.num_threads)
                     if c.mesh else None)
        self._cache: list[_Cached] = []
        self.body = (BodyReader(BodyConfig(
            rate_hz=c.body_rate_hz, max_age_s=c.body_max_age_s, max_bodies=c.body_max, hands=c.body_hands,
            hand_model=c.body_hand_model, hfov_deg=c.mesh_hfov_deg, shoulder_width_m=c.body_shoulder_width_m),
            num_threads=c.num_threads) if c.body else None)
        self._bodies: tuple[float, tuple[Body, ...]] | None = None  # (stamp, bodies) of the last measurement
        self._body_offered = float("-inf")  # stamp of the last frame handed to the body worker
        self.body_worker = BodyWorker(self.body) if self.body is not None and c.body_thread else None
        self.timings: dict[str, float] = {}  # ms of the last process() call, per stage

    def _poses(self, frame: Frame, dets: list) -> list[HeadPose]:
        """One pose per detection: fresh for the stalest faces, cached for the others."""
        c, now = self.config, frame.stamp
        matched: list[_Cached | None] = []
        free = list(self._cache)
        for d in dets:
            best, best_iou = None, 0.3
            for e in free:
                iou = float(_iou(np.array(_xyxy(d.box)), np.array([_xyxy(e.box)]))[0])
                if iou > best_iou:
                    best, best_iou = e, iou
            if best is not None:
                free.remove(best)
            matched.append(best)
        # no match, or time ran backwards (a replay restarted): due now
        age = [now - e.stamp if e is not None and now >= e.stamp else float("inf") for e in matched]
        due = [i for i in np.argsort([-a for a in age], kind="stable") if age[i] >= c.mesh_interval_s]
        run = set(due[: c.mesh_max_per_frame])
        poses, cache = [], []
        for i, d in enumerate(dets):
            e = matched[i]
            if i in run:
                pose = self.mesh.estimate(frame.image, d.box, d.keypoints)
                cache.append(_Cached(d.box, now, pose))
            elif e is not None and age[i] <= c.mesh_max_age_s:
                pose = e.pose
                cache.append(_Cached(d.box, e.stamp, pose))
            else:
                pose = INVALID
            poses.append(pose)
        self._cache = cache
        return poses

    def process(self, frame: Frame) -> PerceptionResult:
        t0 = time.perf_counter()
        dets = sorted(self.faces.detect(frame.image), key=lambda d: -d.score)[: self.config.max_faces]
        t1 = time.perf_counter()
        poses = self._poses(frame, dets) if self.mesh is not None else [INVALID] * len(dets)
        t2 = time.perf_counter()
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY) if dets else None
        faces = []
        for d, pose in zip(dets, poses, strict=True):
            probs = self.expressions.classify_gray(gray, d.box)
            faces.append(Face(
                box=d.box, score=d.score, keypoints=tuple((float(x), float(y)) for x, y in d.keypoints),
                expression=EXPRESSIONS[int(probs.argmax())], expression_scores=tuple(float(p) for p in probs),
                facing=facing_from_pose(pose) if pose.valid else facing_score(d.keypoints),
                descriptor=tuple(float(v) for v in face_descriptor(gray, d.box)),
                pose_valid=pose.valid, head_yaw=pose.yaw, head_pitch=pose.pitch, head_roll=pose.roll,
                eye_contact=pose.eye_contact, eyes_open=pose.eyes_open, mouth_open=pose.mouth_open,
            ))
        t3 = time.perf_counter()
        bodies = self._read_bodies(frame, faces) if self.body is not None else ()
        t4 = time.perf_counter()
        self.timings = {"detect": (t1 - t0) * 1000, "mesh": (t2 - t1) * 1000, "rest": (t3 - t2) * 1000,
                        "body": (t4 - t3) * 1000}
        h, w = frame.image.shape[:2]
        return PerceptionResult(frame.stamp, frame.frame_id, w, h, tuple(faces), (t4 - t0) * 1000, bodies)

    def _read_bodies(self, frame: Frame, faces: list[Face]) -> tuple[Body, ...]:
        """Bodies measured on this frame when due (``body_rate_hz``), else the last measurement while recent."""
        c, now = self.config, frame.stamp
        if self.body_worker is not None:
            due = now < self._body_offered or now - self._body_offered >= 1.0 / c.body_rate_hz - 1e-6
            if due and self.body_worker.offer(frame.image, now, faces):
                self._body_offered = now
            last = self.body_worker.latest()
            if last is None or not 0.0 <= now - last[0] <= c.body_max_age_s:
                return ()
            return reassociate(last[1], faces, now - last[0])
        last = self._bodies
        if last is None or now < last[0] or now - last[0] >= 1.0 / c.body_rate_hz - 1e-6:
            bodies = tuple(self.body.read(frame.image, now, faces))
            self._bodies = (now, bodies)
            return bodies
        if now - last[0] > c.body_max_age_s:
            return ()
        return reassociate(last[1], faces, now - last[0])


    def close(self) -> None:
        """Stop the body worker's thread (if any)."""
        if self.body_worker is not None:
            self.body_worker.close()


def _xyxy(box: tuple[float, float, float, float]) -> tuple[float, float, float, float]:
    x, y, w, h = box
    return x, y, x + w, y + h
