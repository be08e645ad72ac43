"""Ask the VLM node from inside another node and wait for its answer on a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rclpy.node import Node
from std_msgs.msg import String

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import common


class VQAClient:
    """Publishes ``vlm_robot/vqa_request`` and hands the streamed answer back to the waiting thread.

    The subscription callbacks run on the executor thread; :meth:`ask` blocks only its caller (a worker).
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pub = node.create_publisher(String, common.VQA_REQUEST, common.EVENT_QOS)
        self._pending: dict[str, dict] = {}
        self._lock = threading.Lock()
        node.create_subscription(String, common.VQA_PARTIAL, self._on_partial, common.EVENT_QOS)
        node.create_subscription(String, common.VQA_ANSWER, self._on_answer, common.EVENT_QOS)

    def available(self) -> bool:
        """A VLM node subscribes to the requests."""
        return self._node.count_subscribers(common.VQA_REQUEST) > 0

    def ask(self, question: str, qid: str, on_piece: Callable[[str], None], timeout: float) -> dict | None:
        """The ``vqa_answer`` body for ``question`` (None on timeout); new text pieces go to ``on_piece``."""
        entry = {"done": threading.Event(), "answer": None, "text": "", "on_piece": on_piece}
        with self._lock:
            self._pending[qid] = entry
        self._pub.publish(String(data=payload.encode("vqa_request", {"id": qid, "question": question})))
        entry["done"].wait(timeout)
        with self._lock:
            self._pending.pop(qid, None)
        return entry["answer"]

    def _on_partial(self, msg: String) -> None:
        try:
            body = payload.decode("vqa_partial", msg.data)
        except InvalidInputError:
            return  # the VLM node's own diagnostics cover its output; not ours to report
        with self._lock:
            entry = self._pending.get(body["id"])
        if entry is not None and body["text"].startswith(entry["text"]):
            piece, entry["text"] = body["text"][len(entry["text"]):], body["text"]
            if piece:
                entry["on_piece"](piece)

    def _on_answer(self, msg: String) -> None:
        try:
            body = payload.decode("vqa_answer", msg.data)
        except InvalidInputError:
            return
        with self._lock:
            entry = self._pending.get(body["id"])
        if entry is not None:
            entry["answer"] = body
            entry["done"].set()
