"""VLM node: camera frames + questions -> streamed answers and periodic scene descriptions.

Run:  vlm_node --ros-args --params-file config/vlm.yaml
      vlm_node --ros-args --params-file config/vlm.yaml -p vlm.backend:=transformers -p vlm.model:=/models/llava

Ask:  the action /vlm_robot/vqa (vlm_robot_interfaces/action/AnswerQuestion): goal = question (and clip
      length); feedback = the answer so far as it streams; result = the answer (or an error that says
      why), the entities it cites, backend, latency and the stamps of the frames looked at. Every finished
      answer is also published on /vlm_robot/vqa/answer (recorded). ``vlm-robot ask "Who is here?"`` does
      this from a shell. The service /vlm_robot/describe (vlm_robot_interfaces/srv/Describe) returns the
      latest scene description at once.

The image callback only validates the frame and stores it; the model runs on a worker thread and
sees the newest frames when it takes up a question (latest frame wins). The model is loaded once,
before the node subscribes to anything. It can run on another host (a GPU box beside the robot):
only DDS discovery has to reach it (tests/test_vlm_node.py runs it in a second network namespace).
"""

from __future__ import annotations

import itertools
import threading
import time

from rclpy.action import ActionServer
from rclpy.node import Node
from rclpy.task import Future
from sensor_msgs.msg import Image

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.image import DEFAULT_MAX_PIXELS
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.convert import frame_from_image
from vlm_robot.vlm.base import VLMConfig, make_backend
from vlm_robot.vlm.service import VLMNodeConfig, VLMService, parse_question
from vlm_robot_interfaces.action import AnswerQuestion
from vlm_robot_interfaces.srv import Describe


class VLMNode(Node):
    def __init__(self) -> None:
        super().__init__("vlm", **common.make_node_kwargs())
        self.max_pixels = int(common.param(self, "max_pixels", DEFAULT_MAX_PIXELS))
        node_cfg = common.config_from_params(self, VLMNodeConfig)
        vlm_cfg = common.config_from_params(self, VLMConfig, "vlm.")
        common.unknown_parameters(self, [("", VLMNodeConfig), ("vlm.", VLMConfig)], ("max_pixels",))
        self.diag = common.Diagnostics(self)
        t0 = time.perf_counter()
        vlm = make_backend(vlm_cfg)
        vlm.load()
        self.get_logger().info(f"VLM backend {vlm_cfg.backend} ({getattr(vlm, 'model_name', '')}) loaded in "
                               f"{time.perf_counter() - t0:.1f} s")
        self.pubs = {t: messages.publisher(self, t) for t in (common.VQA_ANSWER, common.SCENE_DESCRIPTION)}
        self.service = VLMService(vlm, vlm_cfg, node_cfg, self._on_partial, self._on_answer, self._on_description)
        self._goals: dict[str, tuple[object, Future]] = {}  # question id -> (goal handle, its answer)
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self.create_subscription(Image, common.IMAGE, self._on_image, common.IMAGE_QOS)
        self.action = ActionServer(self, AnswerQuestion, common.VQA_ACTION, self._execute)
        self.create_service(Describe, common.DESCRIBE_SERVICE, self._on_describe)
        if node_cfg.describe_rate_hz > 0:
            self.create_timer(1.0 / node_cfg.describe_rate_hz, self.service.request_description)
        self.get_logger().info("vlm ready")

    def _on_image(self, msg: Image) -> None:
        frame = frame_from_image(msg, self.max_pixels, self.diag)
        if frame is not None:
            self.service.add_frame(frame)

    async def _execute(self, goal_handle) -> AnswerQuestion.Result:
        """One question: checked, queued for the model's worker; the executor is free while it runs."""
        goal = goal_handle.request
        qid = goal.id or f"q{next(self._ids)}"
        body = {"id": qid, "question": goal.question, "clip_frames": int(goal.clip_frames)}
        answer: Future = Future()
        try:
            if goal.clip_frames > 32:
                raise InvalidInputError(f"AnswerQuestion: field clip_frames must be 0 (the node's default) or "
                                        f"1..32, got {goal.clip_frames}")
            q = parse_question(body, self.service.node_config.max_question_chars)
        except InvalidInputError as e:
            self.diag.error("bad goal on " + common.VQA_ACTION, str(e), id=qid)
            refused = {"id": qid, "question": goal.question[:200], "text": "", "ok": False, "error": str(e)}
            self._on_answer(refused)  # published on /vlm_robot/vqa/answer like every answer
            answer.set_result(refused)
        else:
            with self._lock:
                self._goals[qid] = (goal_handle, answer)
            self.service.ask(q)
        body = await answer
        goal_handle.succeed()
        return AnswerQuestion.Result(answer=messages.to_msg("vqa_answer", body))

    def _on_partial(self, qid: str, text: str, index: int) -> None:
        with self._lock:
            entry = self._goals.get(qid)
        if entry is not None:
            entry[0].publish_feedback(AnswerQuestion.Feedback(text=text, index=index))

    def _on_answer(self, body: dict) -> None:
        if not body["ok"]:
            self.get_logger().warning(f"question {body['id']!r} not answered: {body['error']}")
        self.pubs[common.VQA_ANSWER].publish(messages.to_msg("vqa_answer", body))
        with self._lock:
            entry = self._goals.pop(body["id"], None)
        if entry is not None:
            entry[1].set_result(body)

    def _on_description(self, body: dict) -> None:
        self.pubs[common.SCENE_DESCRIPTION].publish(messages.to_msg("scene_description", body))

    def _on_describe(self, _request: Describe.Request, response: Describe.Response) -> Describe.Response:
        latest = self.service.latest_description
        if latest is None:
            response.ok, response.error = False, "no scene description yet (no frame, or the first is running)"
        else:
            response.ok, response.description = True, messages.to_msg("scene_description", latest)
        self.service.request_description()
        return response

    def close(self) -> None:
        self.service.close()
        self.service.vlm.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(VLMNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
