"""Recorder node: every vlm_robot topic -> a rosbag2 MCAP folder that `ros2 bag play` accepts.

Run:  recorder_node --ros-args --params-file config/recorder.yaml -p output:=out/session

Subscribes with raw=True, so messages are stored byte for byte as they were on the wire; the MCAP carries
the definitions and RIHS01 hashes of every type, vlm_robot_interfaces included (vlm_robot/bag.py).
Crash-safe: what was recorded is on disk within ``flush_s`` (zstd chunks), the bag is split by size and
time, and a recorder restarted on the same folder (after a crash) repairs the split it was writing and goes
on in the next one. The last split is finished (metadata.yaml written) on SIGINT/SIGTERM.
Camera frames: every one, 1 in ``image_every_n``, or JPEG; when the disk budget is reached frames stop
(the conversation goes on being recorded) and the log and /diagnostics say so once.
"""

from __future__ import annotations

import time
from pathlib import Path

from rclpy.node import Node

from vlm_robot.bag import IMAGE_TOPIC, JPEG_TOPIC, BagWriter, RecordConfig, image_to_jpeg
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import common
from vlm_robot.nodes.topics import TOPIC_TYPES, message_class

HARD_MARGIN_MB = 64.0  # past the budget, the conversation topics still get this much; then nothing


class RecorderNode(Node):
    def __init__(self) -> None:
        super().__init__("recorder", **common.make_node_kwargs())
        out = common.param(self, "output", "") or f"out/session_{time.strftime('%Y%m%d_%H%M%S')}"
        topics = list(common.param(self, "topics", list(TOPIC_TYPES)))
        unknown = [t for t in topics if t not in TOPIC_TYPES]
        if unknown:
            raise ValueError(f"recorder cannot record {unknown}: unknown type; known topics: {sorted(TOPIC_TYPES)}")
        self.cfg = common.config_from_params(self, RecordConfig)
        common.unknown_parameters(self, [("", RecordConfig)], ("output", "topics"))
        self.diag = common.Diagnostics(self)
        self.bag = BagWriter(Path(out), self.cfg, resume=True)
        for r in self.bag.repaired:
            self.get_logger().warning(
                f"{out}: split {r['file']} was not finished (the recorder before this one was killed): "
                + ("it held nothing and was removed" if r["removed"] else
                   f"repaired, {r['messages']} messages kept, {r['bytes_lost']} bytes of its unwritten tail lost"))
        self.frames_seen = 0
        self.frames_dropped = 0
        self.over_budget = False
        self.stopped = False
        for topic in topics:
            stored = JPEG_TOPIC if topic == IMAGE_TOPIC and self.cfg.image_format == "jpeg" else topic
            self.bag.add_topic(stored, "sensor_msgs/msg/CompressedImage" if stored == JPEG_TOPIC
                               else TOPIC_TYPES[topic])
            self.create_subscription(message_class(TOPIC_TYPES[topic]), topic, self._writer_for(topic),
                                     common.qos_for(topic, publisher=False), raw=True)
        self.create_timer(min(1.0, self.cfg.flush_s), self._tick)
        policy = (f"frames: {'every one' if self.cfg.image_every_n == 1 else f'1 in {self.cfg.image_every_n}'}"
                  f"{', JPEG q' + str(self.cfg.jpeg_quality) if self.cfg.image_format == 'jpeg' else ', raw'}")
        budget = f"budget {self.cfg.budget_mb:.0f} MB" if self.cfg.budget_mb else "no disk budget"
        self.get_logger().info(f"recording {len(topics)} topics to {self.bag.path} ({self.cfg.compression}, "
                               f"flushed every {self.cfg.flush_s} s; {policy}; {budget})")

    def _writer_for(self, topic: str):
        if topic == IMAGE_TOPIC:
            return self._write_frame

        def write(raw: bytes) -> None:
            if not self._room(frame=False):
                return
            self.bag.write(topic, time.time_ns(), raw)

        return write

    def _write_frame(self, raw: bytes) -> None:
        stamp = time.time_ns()
        self.frames_seen += 1
        if (self.frames_seen - 1) % self.cfg.image_every_n or not self._room(frame=True):
            self.frames_dropped += 1
            return
        if self.cfg.image_format == "raw":
            self.bag.write(IMAGE_TOPIC, stamp, raw)
            return
        try:
            self.bag.write(JPEG_TOPIC, stamp, image_to_jpeg(raw, self.cfg.jpeg_quality))
        except InvalidInputError as e:  # the camera node reports bad frames; here only: not recorded
            self.frames_dropped += 1
            self.diag.error("frame not recorded", str(e))

    def _room(self, frame: bool) -> bool:
        """Whether the disk budget lets this message be written (frames stop first), saying so once."""
        budget = self.cfg.budget_mb * 1e6
        if not budget or self.stopped:
            return not self.stopped
        used = self.bag.bytes_written
        if used >= budget + HARD_MARGIN_MB * 1e6:
            self.stopped = True
            self.diag.error("disk budget", f"recording stopped: {self.bag.path} holds {used / 1e6:.0f} MB, past "
                            f"the budget of {self.cfg.budget_mb:.0f} MB + {HARD_MARGIN_MB:.0f} MB; raise budget_mb "
                            "(config/recorder.yaml) or record frames as JPEG / 1 in N")
            self.get_logger().error("recording stopped: disk budget used up (see /diagnostics)")
            return False
        if frame and used >= budget:
            if not self.over_budget:
                self.over_budget = True
                self.diag.error("disk budget", f"camera frames no longer recorded: {self.bag.path} holds "
                                f"{used / 1e6:.0f} MB, the budget is {self.cfg.budget_mb:.0f} MB; the conversation "
                                "is still recorded. Raise budget_mb (config/recorder.yaml), or set image_format: "
                                "jpeg or image_every_n")
                self.get_logger().warning(f"disk budget of {self.cfg.budget_mb:.0f} MB reached: camera frames "
                                          "are no longer recorded")
            return False
        return True

    def _tick(self) -> None:
        self.bag.tick()

    def close(self) -> None:
        self.bag.close()
        total = sum(self.bag.counts.values())
        skipped = f", {self.frames_dropped} camera frames not recorded (policy/budget)" if self.frames_dropped else ""
        self.get_logger().info(f"bag {self.bag.path} closed: {total} messages, "
                               f"{self.bag.bytes_written / 1e6:.1f} MB{skipped}")


def main(args: list[str] | None = None) -> int:
    return common.spin_node(RecorderNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
