"""Face detection with the BlazeFace models that ship in the mediapipe wheel, run by LiteRT.

We run the ``.tflite`` files directly (anchors and decoding below) instead of importing
mediapipe, whose import pulls matplotlib and jax: the install stays light enough for a Jetson.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from vlm_robot.core.assets import FACE_DETECTOR_FULL, FACE_DETECTOR_SHORT, Asset
from vlm_robot.core.errors import ConfigError


@dataclass(frozen=True)
class _Variant:
    asset: Asset
    size: int  # square input side in pixels
    strides: tuple[int, ...]
    anchors_per_stride: tuple[int, ...]


VARIANTS: dict[str, _Variant] = {
    # full range: one 48x48 feature map, one anchor per cell (2304 anchors)
    "full": _Variant(FACE_DETECTOR_FULL, 192, (4,), (1,)),
    # short range: 16x16x2 + 8x8x6 = 896 anchors
    "short": _Variant(FACE_DETECTOR_SHORT, 128, (8, 16), (2, 6)),
}


def make_anchors(size: int, strides: tuple[int, ...], per_cell: tuple[int, ...]) -> np.ndarray:
    """Anchor centres ``(N, 2)`` in [0, 1], in the order the model emits its boxes."""
    out = []
    for stride, n in zip(strides, per_cell, strict=True):
        cells = size // stride
        ys, xs = np.meshgrid(np.arange(cells), np.arange(cells), indexing="ij")
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 1, 2)
        out.append(np.repeat(centres, n, axis=1).reshape(-1, 2))
    return np.concatenate(out).astype(np.float32)


@dataclass(frozen=True)
class Detection:
    """A face box ``(x, y, w, h)`` in pixels, its score and six keypoints ``(6, 2)`` in pixels."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


class FaceDetector:
    """BlazeFace detector: RGB frame in, face boxes and keypoints out.

    Args:
        variant: ``"full"`` (faces up to ~5 m, the robot default) or ``"short"`` (within ~2 m).
        min_score: detections below this confidence are dropped.
        iou_threshold: overlapping detections above this IoU are merged (weighted NMS).
        model_path: use this ``.tflite`` instead of the packaged one (same architecture).
    """

    def __init__(
        self,
        variant: str = "full",
        min_score: float = 0.5,
        iou_threshold: float = 0.3,
        model_path: str = "",
        num_threads: int = 1,
    ) -> None:
        if variant not in VARIANTS:
            raise ConfigError(f"face detector variant {variant!r} unknown; expected one of {sorted(VARIANTS)}")
        if not 0.0 < min_score < 1.0:
            raise ConfigError(f"face min_score must be in (0, 1), got {min_score}")
        from ai_edge_litert.interpreter import Interpreter

        self._v = VARIANTS[variant]
        path = model_path or str(self._v.asset.path())
        self._interp = Interpreter(model_path=path, num_threads=num_threads)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]["index"]
        outs = sorted(self._interp.get_output_details(), key=lambda d: int(d["shape"][-1]), reverse=True)
        self._reg, self._cls = outs[0]["index"], outs[1]["index"]
        self._anchors = make_anchors(self._v.size, self._v.strides, self._v.anchors_per_stride)
        self.min_score = min_score
        self.iou_threshold = iou_threshold

    def detect(self, rgb: np.ndarray) -> list[Detection]:
        """Detect faces in an ``(H, W, 3)`` uint8 RGB image."""
        h, w = rgb.shape[:2]
        size = self._v.size
        scale = size / max(h, w)  # letterbox: keep aspect, pad to a square
        nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
        pad_y, pad_x = (size - nh) // 2, (size - nw) // 2
        canvas = np.zeros((size, size, 3), np.float32)
        canvas[pad_y : pad_y + nh, pad_x : pad_x + nw] = cv2.resize(rgb, (nw, nh), interpolation=cv2.INTER_AREA)
        self._interp.set_tensor(self._in, (canvas / 127.5 - 1.0)[None])
        self._interp.invoke()
        raw = self._interp.get_tensor(self._reg)[0]  # (N, 16)
        logits = self._interp.get_tensor(self._cls)[0, :, 0]  # (N,)
        scores = 1.0 / (1.0 + np.exp(-np.clip(logits.astype(np.float64), -80, 80)))
        keep = np.nonzero(scores >= self.min_score)[0]
        if keep.size == 0:
            return []
        raw, scores, anchors = raw[keep] / size, scores[keep], self._anchors[keep]
        cx, cy = raw[:, 0] + anchors[:, 0], raw[:, 1] + anchors[:, 1]
        bw, bh = raw[:, 2], raw[:, 3]
        boxes = np.stack([cx - bw / 2, cy - bh / 2, cx + bw / 2, cy + bh / 2], axis=1)
        kps = raw[:, 4:16].reshape(-1, 6, 2) + anchors[:, None, :]
        # undo the letterbox: model square [0,1] -> image pixels
        def to_px(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            return (x * size - pad_x) / scale, (y * size - pad_y) / scale

        x0, y0 = to_px(boxes[:, 0], boxes[:, 1])
        x1, y1 = to_px(boxes[:, 2], boxes[:, 3])
        kx, ky = to_px(kps[..., 0], kps[..., 1])
        boxes_px = np.stack([x0, y0, x1, y1], axis=1)
        kps_px = np.stack([kx, ky], axis=-1)
        dets = []
        for members in _weighted_nms(boxes_px, scores, self.iou_threshold):
            wts = scores[members][:, None]
            b = (boxes_px[members] * wts).sum(0) / wts.sum()
            k = (kps_px[members] * wts[:, :, None]).sum(0) / wts.sum()
            bx0, by0 = max(0.0, float(b[0])), max(0.0, float(b[1]))
            bx1, by1 = min(float(w), float(b[2])), min(float(h), float(b[3]))
            if bx1 - bx0 < 2 or by1 - by0 < 2:
                continue
            dets.append(Detection((bx0, by0, bx1 - bx0, by1 - by0), float(scores[members[0]]), k))
        return dets


def _iou(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    ix0 = np.maximum(box[0], boxes[:, 0])
    iy0 = np.maximum(box[1], boxes[:, 1])
    ix1 = np.minimum(box[2], boxes[:, 2])
    iy1 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-9)


def _weighted_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> list[np.ndarray]:
    """Group overlapping boxes; each group is returned best first (BlazeFace's weighted NMS)."""
    order = np.argsort(-scores)
    groups = []
    while order.size:
        best = order[0]
        overlap = _iou(boxes[best], boxes[order]) > thr
        groups.append(order[overlap])
        order = order[~overlap]
    return groups


def facing_score(keypoints: np.ndarray) -> float:
    """How squarely a face looks at the camera, from its eye and nose keypoints.

    1.0 when the nose tip sits midway between the eyes, falling towards 0 as the head turns.
    """
    right_eye, left_eye, nose = keypoints[0], keypoints[1], keypoints[2]
    eye_dist = float(np.linalg.norm(left_eye - right_eye))
    if eye_dist < 1e-6:
        return 0.0
    mid = (left_eye + right_eye) / 2
    offset = abs(float(np.dot(nose - mid, (left_eye - right_eye) / eye_dist))) / eye_dist
    return float(np.clip(1.0 - 2.0 * offset, 0.0, 1.0))
