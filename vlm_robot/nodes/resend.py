"""Transcripts sent again until an utterance answers them (at-least-once), for speech_in and microphone nodes."""

from __future__ import annotations

import threading
import time

from rclpy.node import Node

from vlm_robot.core.delivery import PendingTranscripts
from vlm_robot.nodes import common, messages


class Resender:
    """Keeps each published final transcript until an utterance names it in ``in_reply_to``.

    A transcript published while the reasoning node restarts would be lost (topics keep no history); it is
    published again every ``resend_after_s`` until answered, at most ``max_tries`` times (then one log line
    says so). The reasoning node ignores ids it has already taken, so a slow answer is never given twice.
    """

    def __init__(self, node: Node, pub, resend_after_s: float) -> None:
        self._node = node
        self._pub = pub
        self._pending = PendingTranscripts(resend_after_s)
        self._lock = threading.Lock()
        messages.subscribe(node, common.UTTERANCE, self._on_utterance, common.Diagnostics.quiet())
        node.create_timer(1.0, self._resend)

    def publish(self, tid: str, msg) -> None:
        """Publish transcript ``msg`` (id ``tid``) and keep it until it is answered."""
        with self._lock:
            self._pending.sent(tid, msg, time.monotonic())
        self._pub.publish(msg)

    def _on_utterance(self, u: dict) -> None:
        with self._lock:
            self._pending.answered(u["in_reply_to"])

    def _resend(self) -> None:
        with self._lock:
            resend, gave_up = self._pending.due(time.monotonic())
        for tid, msg in resend:
            self._node.get_logger().warning(f"transcript {tid} not answered yet; sending it again")
            self._pub.publish(msg)
        for tid in gave_up:
            self._node.get_logger().error(
                f"transcript {tid} was never answered after {self._pending.max_tries} tries")
