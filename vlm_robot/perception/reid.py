"""A small appearance descriptor of a face, to know a person again within a session.

This is *not* face recognition: it is a histogram of gradient orientations (4x4 cells x 8 directions =
128 numbers) over the face box with some margin, resized to 32x32 pixels. It tells apart the few
people in one room under the same light and camera; it does not survive a change of glasses, hair,
lighting or a large head turn, and two similar-looking people can be confused. On the demo faces
(the astronaut and the detectable faces of the LFW subset, rendered at 60-140 px, with brightness and
noise changes; ``vlm_robot/benchmarks/reid_separation.py``) the same face stayed within 0.14 cosine distance and at
the default threshold (0.08) 94 % of same-face pairs and 1.25 % of different-face pairs matched.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

DESCRIPTOR_LEN = 128
"""Length of :func:`face_descriptor`'s output (4 x 4 cells x 8 orientation bins)."""

_SIZE = 32  # side of the face patch, pixels
_CELLS = 4
_BINS = 8
_MARGIN = 0.2  # the patch covers the face box plus 20 % (hairline, jaw): measured better than the bare box


def face_descriptor(gray: np.ndarray, box: tuple[float, float, float, float]) -> np.ndarray:
    """The appearance descriptor of the face at ``box`` in a grey image.

    Args:
        gray: ``(H, W)`` uint8 grey frame.
        box: ``(x, y, w, h)`` face box in pixels.

    Returns:
        ``(128,)`` float32, unit length (all zeros for a flat patch); compare with :func:`descriptor_distance`.
    """
    x, y, w, h = box
    side = max(w, h, 1.0) * (1 + _MARGIN)
    k = _SIZE / side
    cx, cy = x + w / 2, y + h / 2
    warp = np.float32([[k, 0, _SIZE / 2 - cx * k], [0, k, _SIZE / 2 - cy * k]])
    patch = cv2.warpAffine(gray, warp, (_SIZE, _SIZE), flags=cv2.INTER_AREA,
                           borderMode=cv2.BORDER_REPLICATE).astype(np.float32)
    gx = cv2.Sobel(patch, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(patch, cv2.CV_32F, 0, 1)
    mag = np.hypot(gx, gy)
    # unsigned orientation (a dark-on-light edge = light-on-dark), so the descriptor ignores contrast sign
    ori = np.minimum((np.arctan2(gy, gx) % np.pi) / np.pi * _BINS, _BINS - 1).astype(np.int64)
    cell = _SIZE // _CELLS
    cells = np.arange(_SIZE) // cell
    index = (cells[:, None] * _CELLS + cells[None, :]) * _BINS + ori  # (32, 32) bin of each pixel
    hist = np.bincount(index.ravel(), mag.ravel(), _CELLS * _CELLS * _BINS)
    hist = np.sqrt(hist)  # Hellinger-style: strong edges do not drown the rest
    norm = float(np.linalg.norm(hist))
    return (hist / norm if norm > 0 else hist).astype(np.float32)


def descriptor_distance(a: np.ndarray | tuple[float, ...] | list[float],
                        b: np.ndarray | tuple[float, ...] | list[float]) -> float:
    """Cosine distance in [0, 2] between two descriptors; ``inf`` when either is missing or they differ in length."""
    va, vb = np.asarray(a, np.float32), np.asarray(b, np.float32)
    if va.size == 0 or va.shape != vb.shape:
        return math.inf
    na, nb = float(np.linalg.norm(va)), float(np.linalg.norm(vb))
    if na == 0 or nb == 0:
        return math.inf
    return 1.0 - float(va @ vb) / (na * nb)


def blend(old: np.ndarray, new: np.ndarray, weight: float) -> np.ndarray:
    """A running descriptor: ``old`` moved towards ``new`` by ``weight``, unit length again."""
    v = (1.0 - weight) * np.asarray(old, np.float32) + weight * np.asarray(new, np.float32)
    n = float(np.linalg.norm(v))
    return v / n if n > 0 else v
