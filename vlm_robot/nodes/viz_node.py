"""Viz node: what the robot sees, believes, decides and says, live in a Rerun viewer (the optional [viz] extra).

Run:  vlm-robot view                       # a web viewer on 127.0.0.1 (prints the URL to open)
      viz_node --ros-args --params-file config/viz.yaml -p url:=rerun+http://127.0.0.1:9876/proxy
      vlm-robot run --viz                  # the bringup with a viewer and this node
      ros2 launch vlm_robot bringup.launch.py viz:=true

Subscribes to the camera and every topic of nodes/topics.py (raw bytes, as the recorder does) and hands each
message to a worker (vlm_robot/viz/live.py), which logs it in the layout of vlm_robot/viz/layout.py. The
callbacks only swap a slot or append to a bounded queue: the newest frame wins, frames are dropped rather than
queued, and a missing or killed viewer is said once while the robot carries on (the node reconnects).
"""

from __future__ import annotations

import time

from rclpy.node import Node

from vlm_robot.nodes import common
from vlm_robot.nodes.topics import TOPIC_TYPES, message_class
from vlm_robot.viz.config import VizConfig


class VizNode(Node):
    def __init__(self) -> None:
        super().__init__("viz", **common.make_node_kwargs())
        from vlm_robot.viz.layout import SHOWN
        from vlm_robot.viz.live import LiveViz

        self.config = common.config_from_params(self, VizConfig)
        common.unknown_parameters(self, [("", VizConfig)])
        log = self.get_logger()
        self.viz = LiveViz(self.config, log.info, log.warning)
        for topic in SHOWN:
            qos = common.IMAGE_QOS if topic == common.IMAGE else common.qos_for(topic, publisher=False)
            self.create_subscription(message_class(TOPIC_TYPES[topic]), topic, self._forward(topic), qos, raw=True)
        where = self.config.rrd_path or self.config.url
        log.info(f"viz ready: {len(SHOWN)} topics to {where} (frames {self.config.image_format}; frames, faces and "
                 f"people at most {self.config.max_rate_hz:g}/s, newest wins)")

    def _forward(self, topic: str):
        put = self.viz.put

        def forward(raw: bytes) -> None:
            put(topic, raw, time.time())

        return forward

    def close(self) -> None:
        self.viz.close()
        self.get_logger().info(self.viz.summary())


def main(args: list[str] | None = None) -> int:
    return common.spin_node(VizNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
