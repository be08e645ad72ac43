"""VLM node: camera frames + questions -> streamed answers and periodic scene descriptions.

Run:  vlm_node --ros-args --params-file config/vlm.yaml
      vlm_node --ros-args --params-file config/vlm.yaml -p vlm.backend:=transformers -p vlm.model:=/models/llava

Ask:  publish a ``vlm_robot/vqa_request`` ({"id": "q1", "question": "Who is here?"}) on
      /vlm_robot/vqa/request; pieces arrive on /vlm_robot/vqa/partial, the answer (or an error that
      says why) on /vlm_robot/vqa/answer with the same id. ``~/describe`` (std_srvs/Trigger) returns
      the latest scene description at once. A question with a free-text field needs a custom .srv,
      which needs the ROS build tools; request/answer topics with ids carry the same contract and
      allow streaming.

The image callback only validates the frame and stores it; the model runs on a worker thread and
sees the newest frames when it takes up a question (latest frame wins). The model is loaded once,
before the node subscribes to anything. It can run on another host (a GPU box beside the robot):
only DDS discovery has to reach it (tests/test_vlm_node.py runs it in a second network namespace).
"""

from __future__ import annotations

import time

from rclpy.node import Node
from sensor_msgs.msg import Image
from std_msgs.msg import String
from std_srvs.srv import Trigger

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.image import DEFAULT_MAX_PIXELS
from vlm_robot.core.transcript import string_from_cdr
from vlm_robot.nodes import common
from vlm_robot.nodes.convert import frame_from_image
from vlm_robot.vlm.base import VLMConfig, make_backend
from vlm_robot.vlm.service import VLMNodeConfig, VLMService, parse_question


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
        self.pubs = {t: self.create_publisher(String, t, common.EVENT_QOS)
                     for t in (common.VQA_PARTIAL, common.VQA_ANSWER, common.SCENE_DESCRIPTION)}
        self.service = VLMService(vlm, vlm_cfg, node_cfg, self._on_partial, self._on_answer, self._on_description)
        self.create_subscription(Image, common.IMAGE, self._on_image, common.IMAGE_QOS)
        self.create_subscription(String, common.VQA_REQUEST, self._on_request, common.EVENT_QOS, raw=True)
        self.create_service(Trigger, "~/describe", self._on_describe)
        if node_cfg.describe_rate_hz > 0:
            self.create_timer(1.0 / node_cfg.describe_rate_hz, self.service.request_description)
        self.get_logger().info("vlm ready")

    def _on_image(self, msg: Image) -> None:
        frame = frame_from_image(msg, self.max_pixels, self.diag)
        if frame is not None:
            self.service.add_frame(frame)

    def _on_request(self, raw: bytes) -> None:
        body = None
        try:
            data = string_from_cdr(raw)
            try:
                text = data.decode("utf-8")
            except UnicodeDecodeError as e:
                raise InvalidInputError(f"vqa_request: expected UTF-8 text, got invalid bytes at {e.start}") from e
            body = payload.decode("vqa_request", text)
            q = parse_question(body, self.service.node_config.max_question_chars)
        except InvalidInputError as e:
            self.diag.error("bad request on " + common.VQA_REQUEST, str(e))
            if body is not None:  # the asker has an id: tell them, do not leave them waiting
                self._on_answer({"id": str(body["id"]), "question": str(body.get("question", ""))[:200],
                                 "text": "", "ok": False, "error": str(e)})
            return
        self.service.ask(q)

    def _on_partial(self, qid: str, text: str, index: int) -> None:
        self.pubs[common.VQA_PARTIAL].publish(String(data=payload.encode("vqa_partial", {
            "id": qid, "text": text, "index": index})))

    def _on_answer(self, body: dict) -> None:
        if not body["ok"]:
            self.get_logger().warning(f"question {body['id']!r} not answered: {body['error']}")
        self.pubs[common.VQA_ANSWER].publish(String(data=payload.encode("vqa_answer", body)))

    def _on_description(self, body: dict) -> None:
        self.pubs[common.SCENE_DESCRIPTION].publish(String(data=payload.encode("scene_description", body)))

    def _on_describe(self, _request: Trigger.Request, response: Trigger.Response) -> Trigger.Response:
        latest = self.service.latest_description
        if latest is None:
            response.success, response.message = False, "no scene description yet (no frame, or the first is running)"
        else:
            response.success, response.message = True, latest["text"]
        self.service.request_description()
        return response

    def close(self) -> None:
        self.service.close()
        self.service.vlm.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(VLMNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
