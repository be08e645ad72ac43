"""Perception: one RGB frame in, faces with expression and facing out."""

from __future__ import annotations

import time
from dataclasses import dataclass

import cv2

from vlm_robot.core.types import EXPRESSIONS, Face, Frame, PerceptionResult
from vlm_robot.perception.expression import ExpressionClassifier
from vlm_robot.perception.faces import FaceDetector, facing_score
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


class Perceiver:
    """Loads the face and expression models once; :meth:`process` is then pure computation."""

    def __init__(self, config: PerceptionConfig | None = None) -> None:
        c = config or PerceptionConfig()
        self.config = c
        self.faces = FaceDetector(c.face_model, c.min_face_score, model_path=c.face_model_path,
                                  num_threads=c.num_threads)
        self.expressions = ExpressionClassifier(model_path=c.expression_model_path, num_threads=c.num_threads)

    def process(self, frame: Frame) -> PerceptionResult:
        t0 = time.perf_counter()
        dets = sorted(self.faces.detect(frame.image), key=lambda d: -d.score)[: self.config.max_faces]
        gray = cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY) if dets else None
        faces = []
        for d in dets:
            probs = self.expressions.classify_gray(gray, d.box)
            faces.append(Face(
                box=d.box, score=d.score, keypoints=tuple((float(x), float(y)) for x, y in d.keypoints),
                expression=EXPRESSIONS[int(probs.argmax())], expression_scores=tuple(float(p) for p in probs),
                facing=facing_score(d.keypoints),
                descriptor=tuple(float(v) for v in face_descriptor(gray, d.box)),
            ))
        h, w = frame.image.shape[:2]
        return PerceptionResult(frame.stamp, frame.frame_id, w, h, tuple(faces), (time.perf_counter() - t0) * 1000)
