"""Recorder node: every vlm_robot topic -> a rosbag2 MCAP folder that `ros2 bag play` accepts.

Run:  recorder_node --ros-args --params-file config/recorder.yaml -p output:=out/session

Subscribes with raw=True, so messages are stored byte for byte as they were on the wire; the MCAP carries
the definitions and RIHS01 hashes of every type, vlm_robot_interfaces included (vlm_robot/bag.py).
The bag is closed (metadata.yaml written) on SIGINT/SIGTERM.
"""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node

from vlm_robot.bag import BagWriter
from vlm_robot.nodes import common
from vlm_robot.nodes.topics import TOPIC_TYPES, message_class


def free_split(path: Path, log=None) -> Path:
    """``path``, or when it exists (a restarted recorder: the bag of the process before), the next free
    ``path.N`` beside it, so that the session goes on in a new split instead of the recorder failing."""
    if not path.exists():
        return path
    n = 2
    while path.with_name(f"{path.name}.{n}").exists():
        n += 1
    split = path.with_name(f"{path.name}.{n}")
    if log is not None:
        log.warning(f"{path} exists (the recorder was restarted?); this process records to {split}")
    return split


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder", **common.make_node_kwargs())
        out = common.param(self, "output", "") or f"out/session_{time.strftime('%Y%m%d_%H%M%S')}"
        topics = list(common.param(self, "topics", list(TOPIC_TYPES)))
        unknown = [t for t in topics if t not in TOPIC_TYPES]
        if unknown:
            raise ValueError(f"recorder cannot record {unknown}: unknown type; known topics: {sorted(TOPIC_TYPES)}")
        common.unknown_parameters(self, [], ("output", "topics"))
        self.bag = BagWriter(free_split(Path(out), self.get_logger()))
        for topic in topics:
            self.bag.add_topic(topic, TOPIC_TYPES[topic])
            self.create_subscription(message_class(TOPIC_TYPES[topic]), topic, self._writer_for(topic),
                                     common.qos_for(topic, publisher=False), raw=True)
        self.get_logger().info(f"recording {len(topics)} topics to {self.bag.path}")

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
