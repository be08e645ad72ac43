"""Ask the VLM node's /vlm_robot/vqa action from inside another node and wait on a worker thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from rclpy.action import ActionClient
from rclpy.node import Node

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import common, messages
from vlm_robot_interfaces.action import AnswerQuestion


class VQAClient:
    """Sends AnswerQuestion goals and hands the streamed answer back to the waiting thread.

    The action's callbacks run on the executor thread; :meth:`ask` blocks only its caller (a worker).
    """

    def __init__(self, node: Node) -> None:
        self._node = node
        self._client = ActionClient(node, AnswerQuestion, common.VQA_ACTION)

    def available(self) -> bool:
        """A VLM node serves the action."""
        return self._client.server_is_ready()

    def ask(self, question: str, qid: str, on_piece: Callable[[str], None], timeout: float,
            clip_frames: int = 0) -> dict | None:
        """The answer's fields for ``question`` (None on timeout); new text pieces go to ``on_piece``."""
        done = threading.Event()
        state: dict = {"text": "", "answer": None}

        def on_feedback(msg) -> None:
            text = msg.feedback.text
            if text.startswith(state["text"]):
                piece, state["text"] = text[len(state["text"]):], text
                if piece:
                    on_piece(piece)

        def on_result(future) -> None:
            try:
                state["answer"] = messages.from_msg("vqa_answer", future.result().result.answer)
            except InvalidInputError as e:  # the VLM node's answer out of range: not an answer
                self._node.get_logger().error(f"unusable answer from {common.VQA_ACTION}: {e}")
            done.set()

        def on_goal(future) -> None:
            handle = future.result()
            if handle is None or not handle.accepted:
                done.set()
                return
            handle.get_result_async().add_done_callback(on_result)

        goal = AnswerQuestion.Goal(id=qid, question=question, clip_frames=clip_frames)

        def send() -> None:
            self._client.send_goal_async(goal, feedback_callback=on_feedback).add_done_callback(on_goal)

        # sent from the executor's thread, not this worker's: rclpy (Jazzy) records a goal request only after it
        # is sent, without a lock, so a response the executor handled in between was dropped ("Ignoring
        # unexpected goal response") and the question waited its whole timeout (seen in `make demo`: "What do you
        # see right now?" unanswered for 15 s, and the sentences behind it pushed out of the backlog)
        executor = self._node.executor
        if executor is None:
            send()
        else:
            executor.create_task(send)
        done.wait(timeout)
        return state["answer"]
