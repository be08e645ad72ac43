"""Perception node: /camera/image_raw -> /vlm_robot/people (faces, expression, facing).

Run:  perception_node --ros-args --params-file config/perception.yaml

The image callback only validates and stores the newest frame; a worker thread runs the models,
so a slow model never builds a backlog (latest frame wins).
"""

from __future__ import annotations

from rclpy.node import Node
from sensor_msgs.msg import Image

from vlm_robot.core.image import DEFAULT_MAX_PIXELS
from vlm_robot.core.types import Frame
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.convert import frame_from_image
from vlm_robot.nodes.latest import LatestSlot
from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig


class PerceptionNode(Node):
    def __init__(self) -> None:
        super().__init__("perception", **common.make_node_kwargs())
        self.max_pixels = int(common.param(self, "max_pixels", DEFAULT_MAX_PIXELS))
        self.perceiver = Perceiver(common.config_from_params(self, PerceptionConfig, "perception."))
        common.unknown_parameters(self, [("perception.", PerceptionConfig)], ("max_pixels",))
        self.diag = common.Diagnostics(self)
        self.pub = messages.publisher(self, common.PEOPLE)
        self.slot: LatestSlot[Frame] = LatestSlot(self._process, "perception-worker")
        self.create_subscription(Image, common.IMAGE, self._on_image, common.IMAGE_QOS)
        self.get_logger().info(f"perception ready ({self.perceiver.config.face_model}-range face model)")

    def _on_image(self, msg: Image) -> None:
        frame = frame_from_image(msg, self.max_pixels, self.diag)
        if frame is not None:
            self.slot.put(frame)

    def _process(self, frame: Frame) -> None:
        result = self.perceiver.process(frame)
        self.pub.publish(messages.to_msg("people", result.to_dict()))

    def close(self) -> None:
        self.slot.close()
        # the body reader's thread runs LiteRT: left running, it is torn down mid-inference at exit and the
        # process aborts ("terminate called without an active exception", exit -6; seen in a loaded graph run)
        self.perceiver.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(PerceptionNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
