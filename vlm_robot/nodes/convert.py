"""numpy <-> ROS message conversions shared by the camera, the scene player and the benchmarks."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image


def stamp_msg(t: float) -> Time:
    sec = int(t)
    return Time(sec=sec, nanosec=round((t - sec) * 1e9) % 1_000_000_000)


def rgb_to_image(rgb: np.ndarray, stamp: float, frame_id: str = "camera", encoding: str = "rgb8") -> Image:
    """An ``(H, W, 3)`` uint8 RGB array as a sensor_msgs/Image (rgb8, or mono8: its luminance)."""
    h, w = rgb.shape[:2]
    if encoding == "mono8":
        import cv2

        rgb = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    msg = Image(height=h, width=w, encoding=encoding, is_bigendian=0, step=w * (1 if encoding == "mono8" else 3))
    msg.header.stamp = stamp_msg(stamp)
    msg.header.frame_id = frame_id
    msg.data = np.ascontiguousarray(rgb, dtype=np.uint8).tobytes()
    return msg
