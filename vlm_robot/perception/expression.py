"""Facial expression from the FER package's quantised model, run by LiteRT (no TensorFlow)."""

from __future__ import annotations

import cv2
import numpy as np

from vlm_robot.core.assets import EXPRESSION_MODEL
from vlm_robot.core.types import EXPRESSIONS


class ExpressionClassifier:
    """Seven-class facial expression (see :data:`EXPRESSIONS`) from a face box.

    Args:
        padding: fraction of the box side added around the face before cropping; the model
            was trained on loose crops, while BlazeFace boxes are tight.
        model_path: use this ``.tflite`` instead of the packaged one (same input/output).
    """

    SIZE = 64

    def __init__(self, padding: float = 0.15, model_path: str = "", num_threads: int = 1) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self._interp = Interpreter(model_path=model_path or str(EXPRESSION_MODEL.path()), num_threads=num_threads)
        self._interp.allocate_tensors()
        self._in = self._interp.get_input_details()[0]["index"]
        self._out = self._interp.get_output_details()[0]["index"]
        self.padding = padding

    def crop(self, gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """A square, padded ``(64, 64)`` float crop in [-1, 1] around ``box`` (edges replicated)."""
        x, y, w, h = box
        side = max(w, h) * (1.0 + 2 * self.padding)
        cx, cy = x + w / 2, y + h / 2
        x0, y0 = round(cx - side / 2), round(cy - side / 2)
        s = max(1, round(side))
        H, W = gray.shape
        pad = max(0, -x0, -y0, x0 + s - W, y0 + s - H)
        src = cv2.copyMakeBorder(gray, pad, pad, pad, pad, cv2.BORDER_REPLICATE) if pad else gray
        patch = src[y0 + pad : y0 + pad + s, x0 + pad : x0 + pad + s]
        patch = cv2.resize(patch, (self.SIZE, self.SIZE), interpolation=cv2.INTER_AREA)
        return (patch.astype(np.float32) / 255.0 - 0.5) * 2.0

    def classify(self, rgb: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        """Probabilities ``(7,)`` over :data:`EXPRESSIONS` for the face in ``box`` of an RGB image."""
        gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
        return self.classify_gray(gray, box)

    def classify_gray(self, gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
        x = self.crop(gray, box)[None, :, :, None]
        self._interp.set_tensor(self._in, x)
        self._interp.invoke()
        p = self._interp.get_tensor(self._out)[0].astype(np.float64)
        p = np.clip(p, 0.0, None)
        total = p.sum()
        return p / total if total > 0 else np.full(len(EXPRESSIONS), 1.0 / len(EXPRESSIONS))
