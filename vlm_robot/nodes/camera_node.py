"""Camera node: a V4L2 device, a video file or an image folder -> /camera/image_raw (rgb8).

Run:  camera_node --ros-args --params-file config/camera.yaml -p source:=/dev/video0
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import Image

from vlm_robot.camera import CameraSource
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import common
from vlm_robot.nodes.convert import rgb_to_image


class CameraNode(Node):
    def __init__(self) -> None:
        super().__init__("camera")
        p = {
            "source": "/dev/video0", "fps": 15.0, "width": 640, "height": 480, "frame_id": "camera", "loop": True,
        }
        for k, v in p.items():
            self.declare_parameter(k, v)
        get = lambda k: self.get_parameter(k).value  # noqa: E731
        fps = float(get("fps"))
        if not 0.1 <= fps <= 120:
            raise ValueError(f"camera fps must be in [0.1, 120], got {fps}")
        self.cam = CameraSource(str(get("source")), int(get("width")), int(get("height")), bool(get("loop")))
        self.frame_id = str(get("frame_id"))
        self.pub = self.create_publisher(Image, common.IMAGE, common.IMAGE_PUB_QOS)
        self.timer = self.create_timer(1.0 / fps, self._tick)
        self.get_logger().info(f"camera publishing {get('source')} at {fps} fps")

    def _tick(self) -> None:
        try:
            rgb = self.cam.read()
        except InvalidInputError as e:  # a folder whose images all went away: say so once, keep running
            common.Diagnostics(self).error("camera source unreadable", str(e))
            self.timer.cancel()
            return
        if rgb is None:
            self.get_logger().info("camera source ended")
            self.timer.cancel()
            return
        self.pub.publish(rgb_to_image(rgb, time.time(), self.frame_id))

    def close(self) -> None:
        self.cam.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(CameraNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
