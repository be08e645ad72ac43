"""Camera node: a V4L2 device, a video file or an image folder -> /camera/image_raw (rgb8).

Run:  camera_node --ros-args --params-file config/camera.yaml -p source:=/dev/video0

A device that cannot be opened (not plugged in, busy) or that stops delivering frames (unplugged) does not stop
the node: it says so once (log and /diagnostics ERROR), tries again every ``reconnect_s``, and says when frames
come again. Before, the node exited and was restarted every second or two (79 process starts in a two-minute
`vlm-robot run` without a camera), and an unplugged camera ended the stream for good. A file or folder that
cannot be read is a configuration error: the node exits with the reason.
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import Image

from vlm_robot.camera import CameraSource
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import common
from vlm_robot.nodes.convert import rgb_to_image


def is_device(source: str) -> bool:
    """A V4L2 device (``/dev/videoN`` or an index), as opposed to a file or folder."""
    return source.isdigit() or source.startswith("/dev/video")


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        p = {
            "source": "/dev/video0", "fps": 15.0, "width": 640, "height": 480, "frame_id": "camera", "loop": True,
            "reconnect_s": 2.0,
        }
        for k, v in p.items():
            self.declare_parameter(k, v)
        get = lambda k: self.get_parameter(k).value  # noqa: E731
        fps = float(get("fps"))
        if not 0.1 <= fps <= 120:
            raise ValueError(f"camera fps must be in [0.1, 120], got {fps}")
        self.reconnect_s = float(get("reconnect_s"))
        if not 0 <= self.reconnect_s <= 600:
            raise ValueError(f"camera reconnect_s must be in [0, 600] (0: exit when a device fails), got "
                             f"{self.reconnect_s}")
        self.source = str(get("source"))
        self.size = (int(get("width")), int(get("height")), bool(get("loop")))
        self.frame_id = str(get("frame_id"))
        self.diag = common.Diagnostics(self)
        self.pub = self.create_publisher(Image, common.IMAGE, common.IMAGE_PUB_QOS)
        self.cam: CameraSource | None = None
        self._next_try = 0.0
        self._lost_since: float | None = None  # monotonic time the device went away (None: frames are coming)
        self._why = self._error = ""
        self.reconnects = 0
        if not (is_device(self.source) and self.reconnect_s > 0):
            self.cam = self._open()  # a file or folder: an error here is the configuration's; the node exits
        elif not self._try_open():
            self._lost(f"cannot be opened ({self._error})")
        self.timer = self.create_timer(1.0 / fps, self._tick)
        self.get_logger().info(f"camera {'publishing' if self.cam is not None else 'waiting for'} {self.source} "
                               f"at {fps} fps")

    def _open(self) -> CameraSource:
        return CameraSource(self.source, *self.size)

    def _try_open(self) -> bool:
        try:
            self.cam = self._open()
        except InvalidInputError as e:
            self._error = str(e).split(": ", 1)[-1] if ": " in str(e) else "check the device exists and is free"
            self.cam = None
            self._next_try = time.monotonic() + self.reconnect_s
            return False
        return True

    def _lost(self, how: str) -> None:
        self._lost_since = time.monotonic()
        self._next_try = self._lost_since + self.reconnect_s
        self._why = (f"camera device {self.source!r} {how}; trying again every {self.reconnect_s:g} s. Check it is "
                     "plugged in and not used by another program (`v4l2-ctl --list-devices`), or set source:= to "
                     "another device, a video file or a folder")
        self.diag.error("camera unavailable", self._why)

    def _tick(self) -> None:
        if self.cam is None:
            if time.monotonic() < self._next_try:
                return
            if not self._try_open():
                self.diag.still("camera unavailable", self._why)  # for a monitor that started after the first
                return
            self.reconnects += 1
            away = time.monotonic() - (self._lost_since or time.monotonic())
            self._lost_since = None
            self.diag.ok("camera unavailable", f"camera device {self.source!r} opened after {away:.0f} s")
            self.get_logger().info(f"camera device {self.source} is back after {away:.0f} s")
        try:
            rgb = self.cam.read()
        except InvalidInputError as e:  # a folder whose images all went away: say so once, keep running
            self.diag.error("camera source unreadable", str(e))
            self.timer.cancel()
            return
        if rgb is None:
            if is_device(self.source) and self.reconnect_s > 0:
                self.cam.close()
                self.cam = None
                self._lost("stopped delivering frames (unplugged?)")
                return
            self.get_logger().info("camera source ended")
            self.timer.cancel()
            return
        self.pub.publish(rgb_to_image(rgb, time.time(), self.frame_id))

    def close(self) -> None:
        if self.cam is not None:
            self.cam.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
