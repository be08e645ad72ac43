"""Right after a (re)start, a node's outputs wait until discovery has matched their subscribers.

A reply published before speech_out (or the recorder) has matched a new process is lost: topics keep no
history. Used by the reasoning node; its workers keep working meanwhile (the tracker follows every frame)
and only the publishing waits.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rclpy.node import Node

GRACE_S = 2.0
MAX_S = 10.0
# the set of subscribers must not have changed for this long: longer than Fast DDS's participant announcement
# period (3 s), since a participant that missed a new one's first announcements is found at the next one.
# Measured: with 1.0 s, a restarted node answered a sentence 2.1 s after start, before it had discovered the test's
# observer (found 3-4 s after start), and the observer never saw that reply (tests/test_delivery.py, every run once
# replies from knowledge came without the language model's delay)
STABLE_S = 3.5


class DiscoveryHold:
    """Holds outputs until the subscribers of ``topic`` are discovered and matched, once per process.

    At least :data:`GRACE_S`, then until the subscribers the graph knows of on ``topic`` have not changed for
    :data:`STABLE_S` and all have matched ``publisher`` (under load, discovery took longer than 2 s and a
    reply was lost); with nobody listening at all, ``2 * GRACE_S``; at most :data:`MAX_S`. Checked by a timer
    of ``node`` (the executor must spin).

    Args:
        node: the node whose outputs are held.
        topic: the topic whose subscribers matter (/vlm_robot/utterance: what the person hears).
        publisher: the node's publisher on ``topic``.
    """

    def __init__(self, node: Node, topic: str, publisher) -> None:
        self._node = node
        self._topic = topic
        self._pub = publisher
        self._started = time.monotonic()
        self._known = (-1, self._started)  # (subscribers known on the topic, since when)
        self._ready = threading.Event()
        self._held: list[Callable[[], None]] = []
        self._lock = threading.Lock()
        self._timer = node.create_timer(0.05, self._check)

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def when_ready(self, publish: Callable[[], None]) -> None:
        """Call ``publish`` now, or, while outputs are held, once discovery completed (in the order given)."""
        with self._lock:
            if not self._ready.is_set():
                self._held.append(publish)
                return
        publish()

    def wait(self) -> None:
        """Block the caller (a worker thread) until outputs are no longer held."""
        if not self._ready.wait(MAX_S + 2.0):
            self._node.get_logger().warning("discovery never completed (executor stopped?); publishing anyway")

    def _check(self) -> None:
        now = time.monotonic()
        known = self._node.count_subscribers(self._topic)
        if known != self._known[0]:
            self._known = (known, now)
        done = now >= self._started + MAX_S
        if now >= self._started + GRACE_S and now - self._known[1] >= STABLE_S:
            if known and self._pub.get_subscription_count() >= known:
                done = True
            if not known and now >= self._started + 2 * GRACE_S:
                done = True  # nobody listens (a bare node): do not hold its outputs any longer
        if not done:
            return
        self._timer.cancel()
        with self._lock:
            for publish in self._held:
                publish()
            self._held.clear()
            self._ready.set()
