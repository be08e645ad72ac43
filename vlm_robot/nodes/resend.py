"""At-least-once delivery between nodes: a message is published again until its acknowledgement arrives.

Topics keep no history, so a message published while its consumer restarts is lost. A :class:`Resender`
keeps each message until the consumer's answer names it, and publishes it again when the answer is
overdue; the consumer ignores ids it has already taken, so nothing is done twice. Used for:

* transcripts (speech_in, microphone) until an utterance answers them (``in_reply_to``) or a decision declines
  them (:data:`TRANSCRIPT_DECLINED`);
* the reasoning node's utterances until speech_out's ``speech_done`` names them (``utterance_id``);
* the reasoning node's intents until the safety gate's verdict names them (``intent.id``).

A consumer that (re)starts gets a fresh budget: when the publisher's matched subscriptions grow, every pending
message's tries are counted afresh, and it is sent again :data:`SETTLE_S` later (at most its resend time). A
killed node stays listed in the DDS graph until its lease runs out (about 20 s with Fast DDS), so tries counted
then were spent on nobody. Not at once: a consumer that answers within a second of its start publishes before
the other nodes have discovered its publisher, and its answer (a verdict, a speech_done) missed the recorder
and the test's observer when the message went out the moment the subscription matched (tests/test_faults.py).

After ``max_tries`` the message is given up: one log line, and the owner's ``on_give_up`` says it
explicitly (e.g. a decision "no verdict from the safety gate"), so nothing is dropped silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from rclpy.node import Node

from vlm_robot.core import delivery
from vlm_robot.core.delivery import PendingTranscripts
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.hold import STABLE_S

# after a new subscriber matched, pending messages go again this much later: the consumer's own publishers must be
# discovered first (the same wait as a (re)started node's outputs, nodes/hold.py)
SETTLE_S = STABLE_S

# transcripts the reasoning node decided not to answer (a silent decision naming them) are settled too
TRANSCRIPT_DECLINED = (common.DECISION, delivery.declined)


class Resender:
    """Keeps each published message until an acknowledgement on ``ack_topic`` names its id.

    Args:
        node: the publishing node (its timer and subscription).
        pub: the publisher.
        resend_after_s: publish again when no acknowledgement came for this long.
        ack_topic: where acknowledgements arrive (decoded by nodes/messages.py).
        ack_id: the acknowledged id in an acknowledgement's body.
        what: what the messages are, for the log ("transcript").
        max_tries: give up after this many publications.
        hold: while it returns True the consumer is known to be alive and working (e.g. speaking):
            overdue messages wait instead of counting tries.
        on_give_up: called with ``(id, message)`` for each message given up.
        absent: while it returns True the consumer is known to be gone (nothing subscribes: restarting); overdue
            messages wait for it instead of counting tries, at most ``max_wait_s`` from their first publication.
        max_wait_s: how long a message may wait for an absent consumer before it is given up.
        also_ack: more ``(topic, id of a body)`` acknowledgements; an empty id acknowledges nothing (e.g.
            :data:`TRANSCRIPT_DECLINED`: transcripts the reasoning node decided not to answer).
    """

    def __init__(self, node: Node, pub, resend_after_s: float, ack_topic: str = common.UTTERANCE,
                 ack_id: Callable[[dict], str] = lambda body: body["in_reply_to"], what: str = "transcript",
                 max_tries: int = 5, hold: Callable[[], bool] | None = None,
                 on_give_up: Callable[[str, object], None] | None = None,
                 also_ack: tuple[tuple[str, Callable[[dict], str]], ...] = (),
                 absent: Callable[[], bool] | None = None, max_wait_s: float = 30.0) -> None:
        self._node = node
        self._pub = pub
        self._pending = PendingTranscripts(resend_after_s, max_tries)
        self._lock = threading.Lock()
        self._ack_id = ack_id
        self._what = what
        self._hold = hold or (lambda: False)
        self._on_give_up = on_give_up
        self._absent = absent or (lambda: False)
        self._max_wait_s = max_wait_s
        messages.subscribe(node, ack_topic, self._on_ack, common.Diagnostics.quiet())
        for topic, ack in also_ack:
            messages.subscribe(node, topic, lambda body, ack=ack: self._acknowledged(ack(body)),
                               common.Diagnostics.quiet())
        self._subscribers = pub.get_subscription_count()
        node.create_timer(min(1.0, resend_after_s / 2), self._resend)

    def publish(self, mid: str, msg) -> None:
        """Publish ``msg`` (id ``mid``) and keep it until it is acknowledged."""
        with self._lock:
            self._pending.sent(mid, msg, time.monotonic())
        self._pub.publish(msg)

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def _on_ack(self, body: dict) -> None:
        self._acknowledged(self._ack_id(body))

    def _acknowledged(self, mid: str) -> None:
        if mid:
            with self._lock:
                self._pending.answered(mid)

    def _resend(self) -> None:
        now = time.monotonic()
        subscribers, before = self._pub.get_subscription_count(), self._subscribers
        self._subscribers = subscribers
        if subscribers > before:
            after = min(SETTLE_S, self._pending.resend_after_s)
            with self._lock:
                n = self._pending.restart(now, after)
            if n:
                self._node.get_logger().info(f"a new subscriber on {self._pub.topic_name}: {n} pending "
                                             f"{self._what}(s) sent again in {after:.1f} s, tries counted afresh")
        with self._lock:
            absent = self._absent()
            if self._hold() or absent:
                expired = self._pending.older_than(self._max_wait_s, now) if absent else []
                self._pending.postpone(now)
                resend, gave_up = [], expired
            else:
                resend, gave_up = self._pending.due(now)
        for mid, msg in resend:
            self._node.get_logger().warning(f"{self._what} {mid} not acknowledged yet; sending it again")
            self._pub.publish(msg)
        for mid, msg in gave_up:
            self._node.get_logger().error(
                f"{self._what} {mid} was never acknowledged (after {self._pending.max_tries} tries, or "
                f"{self._max_wait_s:.0f} s waiting for a consumer); given up")
            if self._on_give_up is not None:
                self._on_give_up(mid, msg)
