"""Recorder node: every vlm_robot topic -> a rosbag2 MCAP folder that `ros2 bag play` accepts.

Run:  recorder_node --ros-args --params-file config/recorder.yaml -p output:=out/session

Subscribes with raw=True, so messages are stored byte for byte as they were on the wire.
The bag is closed (metadata.yaml written) on SIGINT/SIGTERM.
"""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node

from vlm_robot.bag import BagWriter
from vlm_robot.nodes import common

# topic -> ROS type of everything the stack publishes
TOPIC_TYPES: dict[str, str] = {
    common.IMAGE: "sensor_msgs/msg/Image",
    common.TRANSCRIPT: "std_msgs/msg/String",
    common.PEOPLE: "std_msgs/msg/String",
    common.PERSON_STATES: "std_msgs/msg/String",
    common.DECISION: "std_msgs/msg/String",
    common.UTTERANCE: "std_msgs/msg/String",
    common.REPLY_CHUNK: "std_msgs/msg/String",
    common.INTENT: "std_msgs/msg/String",
    common.VERDICT: "std_msgs/msg/String",
    common.APPROVED: "std_msgs/msg/String",
    common.ESTOP: "std_msgs/msg/Bool",
    common.DND: "std_msgs/msg/Bool",
    common.CMD_VEL: "geometry_msgs/msg/Twist",
    common.HEAD_COMMAND: "sensor_msgs/msg/JointState",
    common.GOAL_POSE: "geometry_msgs/msg/PoseStamped",
    common.CANCEL: "std_msgs/msg/Empty",
    common.SPEAKING: "std_msgs/msg/Bool",
    common.SPEECH_DONE: "std_msgs/msg/String",
    common.DIAGNOSTICS: "diagnostic_msgs/msg/DiagnosticArray",
    common.VQA_REQUEST: "std_msgs/msg/String",
    common.VQA_PARTIAL: "std_msgs/msg/String",
    common.VQA_ANSWER: "std_msgs/msg/String",
    common.SCENE_DESCRIPTION: "std_msgs/msg/String",
    common.VOICE_ACTIVITY: "std_msgs/msg/Bool",
    common.PARTIAL_TRANSCRIPT: "std_msgs/msg/String",
    common.JOINT_STATES: "sensor_msgs/msg/JointState",
}


def message_class(msgtype: str):
    """The rclpy message class of ``pkg/msg/Name``."""
    import importlib

    pkg, _, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.msg"), name)


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder", **common.make_node_kwargs())
        out = common.param(self, "output", "") or f"out/session_{time.strftime('%Y%m%d_%H%M%S')}"
        topics = list(common.param(self, "topics", list(TOPIC_TYPES)))
        unknown = [t for t in topics if t not in TOPIC_TYPES]
        if unknown:
            raise ValueError(f"recorder cannot record {unknown}: unknown type; known topics: {sorted(TOPIC_TYPES)}")
        common.unknown_parameters(self, [], ("output", "topics"))
        self.bag = BagWriter(Path(out))
        for topic in topics:
            self.bag.add_topic(topic, TOPIC_TYPES[topic])
            self.create_subscription(message_class(TOPIC_TYPES[topic]), topic, self._writer_for(topic),
                                     common.qos_for(topic, publisher=False), raw=True)
        self.get_logger().info(f"recording {len(topics)} topics to {out}")

    def _writer_for(self, topic: str):
        def write(raw: bytes) -> None:
            self.bag.write(topic, time.time_ns(), raw)

        return write

    def close(self) -> None:
        self.bag.close()
        total = sum(self.bag.counts.values())
        self.get_logger().info(f"bag {self.bag.path} closed: {total} messages")


def main(args: list[str] | None = None) -> int:
    return common.spin_node(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
