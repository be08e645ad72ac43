"""Engagement cues from face keypoints and words: head turn, who faces whom, what a person's words say.

All ROS-free and cheap (a few arithmetic operations per face), so they run on every frame.
"""

from __future__ import annotations

import re
from collections import deque

import numpy as np

from vlm_robot.core.types import PersonState


def head_yaw(keypoints: tuple[tuple[float, float], ...] | np.ndarray) -> float:
    """Signed head turn from BlazeFace keypoints: the nose tip's offset from the eyes' midpoint.

    Measured along the eye line in eye distances: 0 for a face looking at the camera, > 0 when the
    face points towards the image's right, < 0 towards its left. A real head turned by 30 degrees
    gives roughly 0.3; :func:`vlm_robot.perception.faces.facing_score` is ``1 - 2 |yaw|``.

    Args:
        keypoints: ``(6, 2)`` pixel positions (right eye, left eye, nose tip, mouth, right ear, left ear);
            fewer than three points give 0.
    """
    k = np.asarray(keypoints, dtype=np.float64)
    if k.ndim != 2 or len(k) < 3:
        return 0.0
    right_eye, left_eye, nose = k[0], k[1], k[2]
    axis = left_eye - right_eye
    dist = float(np.linalg.norm(axis))
    if dist < 1e-6:
        return 0.0
    return float(np.dot(nose - (left_eye + right_eye) / 2, axis / dist) / dist)


class AttentionWindow:
    """Share of the recent frames in which a person looked at the robot.

    Args:
        window_s: how far back to look.
        min_facing: a frame counts as looking at the robot when its facing score is at least this.
    """

    def __init__(self, window_s: float, min_facing: float) -> None:
        self.window_s, self.min_facing = window_s, min_facing
        self._frames: deque[tuple[float, bool]] = deque()

    def add(self, stamp: float, facing: float) -> float:
        """Record one frame; return the share of frames within ``window_s`` that looked at the robot."""
        self._frames.append((stamp, facing >= self.min_facing))
        while self._frames and self._frames[0][0] < stamp - self.window_s:
            self._frames.popleft()
        return sum(looking for _, looking in self._frames) / len(self._frames)

    def span(self) -> float:
        """Seconds the window covers so far."""
        return self._frames[-1][0] - self._frames[0][0] if self._frames else 0.0


def turned_towards(p: PersonState, other: PersonState, min_yaw: float) -> bool:
    """Whether ``p``'s head is turned by at least ``min_yaw`` towards where ``other`` stands in the image."""
    dx = (other.box[0] + other.box[2] / 2) - (p.box[0] + p.box[2] / 2)
    return abs(p.yaw) >= min_yaw and dx * p.yaw > 0


def talking_partner(p: PersonState, people: list[PersonState], min_yaw: float) -> PersonState | None:
    """The person ``p`` and who face each other (heads turned towards one another), if any; nearest first."""
    cx = p.box[0] + p.box[2] / 2
    partners = [q for q in people if q.id != p.id and turned_towards(p, q, min_yaw) and turned_towards(q, p, min_yaw)]
    return min(partners, key=lambda q: abs(q.box[0] + q.box[2] / 2 - cx), default=None)


def matching_phrase(text: str, phrases: tuple[str, ...]) -> str | None:
    """The first of ``phrases`` (case-insensitive, whole words) that ``text`` contains, else None."""
    low = text.lower()
    for phrase in phrases:
        if re.search(rf"(?<!\w){re.escape(phrase.lower())}(?!\w)", low):
            return phrase
    return None
