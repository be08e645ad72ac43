"""Speech-in node: typed or scripted sentences -> /speech/transcript (vlm_robot/transcript JSON).

Run:  speech_in_node --ros-args -p source:=stdin            # type, press Enter
      speech_in_node --ros-args -p source:=lines.txt        # one sentence per line, optional "SECONDS<TAB>text"

This is the transcript contract every speech recogniser publishes (the microphone path lives in
its own node). With ``source: ""`` the node stays idle and says so.
"""

from __future__ import annotations

import sys
import threading
import time
import uuid
from pathlib import Path

from rclpy.node import Node

from vlm_robot.core.transcript import MAX_CHARS
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.resend import TRANSCRIPT_DECLINED, Resender


def parse_line(line: str) -> tuple[float | None, str]:
    """``"2.5<TAB>hello"`` -> ``(2.5, "hello")``; a line without a time -> ``(None, line)``."""
    head, sep, rest = line.partition("\t")
    if sep:
        try:
            return float(head), rest.strip()
        except ValueError:
            pass
    return None, line.strip()


class SpeechInNode(Node):
    def __init__(self) -> None:
        super().__init__("speech_in")
        self.source = str(common.param(self, "source", ""))
        self.speaker = str(common.param(self, "speaker", "user"))
        self.pub = messages.publisher(self, common.TRANSCRIPT)
        self.seq = 0
        self.session = uuid.uuid4().hex[:8]  # ids stay unique when this node restarts
        self.resender = Resender(self, self.pub, float(common.param(
            self, "resend_after_s", 8.0, "a transcript not answered this long is sent again (reasoning restarted?)")),
            also_ack=(TRANSCRIPT_DECLINED,))
        self.lock = threading.Lock()
        if not self.source:
            self.get_logger().info("no transcript source set (source:=stdin or a file); idle")
            return
        if self.source != "stdin" and not Path(self.source).is_file():
            raise FileNotFoundError(f"speech_in source {self.source!r} is not a file; use 'stdin' or a text file")
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        stream = sys.stdin if self.source == "stdin" else Path(self.source).open(encoding="utf-8")
        t0 = time.time()
        for line in stream:
            at, text = parse_line(line)
            if not text:
                continue
            if len(text) > MAX_CHARS:
                self.get_logger().error(f"line of {len(text)} characters skipped; at most {MAX_CHARS}")
                continue
            if at is not None:
                time.sleep(max(0.0, t0 + at - time.time()))
            self.publish(text)

    def publish(self, text: str) -> None:
        with self.lock:
            self.seq += 1
            tid = f"{self.session}-{self.seq}"
            data = messages.to_msg("transcript", {"text": text, "stamp": time.time(), "speaker": self.speaker,
                                                  "final": True, "id": tid})
        self.resender.publish(tid, data)
        self.get_logger().info(f'heard: "{text}"')


def main(args: list[str] | None = None) -> int:
    return common.spin_node(SpeechInNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
