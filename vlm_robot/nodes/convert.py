"""numpy <-> ROS message conversions shared by the camera, the scene player and the benchmarks."""

from __future__ import annotations

import numpy as np
from builtin_interfaces.msg import Time
from sensor_msgs.msg import Image

from vlm_robot.core.types import Frame


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


def frame_from_image(msg: Image, max_pixels: int, diag) -> Frame | None:
    """The RGB :class:`Frame` of ``msg``, or None after one /diagnostics ERROR saying what was wrong.

    ``diag`` is the node's :class:`~vlm_robot.nodes.common.Diagnostics`; the node keeps running.
    """
    from vlm_robot.core.errors import InvalidInputError
    from vlm_robot.core.image import image_to_rgb

    try:
        rgb = image_to_rgb(msg.height, msg.width, msg.encoding, msg.step, msg.data, max_pixels=max_pixels)
    except InvalidInputError as e:
        diag.error("bad image on /camera/image_raw", str(e), encoding=msg.encoding,
                   size=f"{msg.width}x{msg.height}", step=msg.step, data_bytes=len(msg.data))
        return None
    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    return Frame(rgb, stamp, msg.header.frame_id or "camera")
