"""`vlm-robot ask`: put a question to a running VLM node and print its streamed answer.

    vlm-robot ask "Who is here?"                        # about what the robot's camera sees now
    vlm-robot ask "How does she look?" --image face.jpg # publish this image as the camera meanwhile
    vlm-robot ask "What changed?" --clip-frames 4 --json

Sends a goal to the VLM node's /vlm_robot/vqa action (vlm_robot_interfaces/action/AnswerQuestion) once
the server is up, then prints the answer's pieces as the feedback brings them. Exit code 0 when
answered, 1 when the node answered with an error, 2 on timeout.
"""

from __future__ import annotations

import json
import sys
import time
import uuid
from pathlib import Path


def ask(question: str, image: str = "", timeout: float = 60.0, clip_frames: int = 0, fps: float = 5.0,
        out=sys.stdout, show_partials: bool = True) -> dict | None:
    """Ask ``question``; with ``image``, publish it as the camera at ``fps`` until answered.

    Returns the answer's fields (vlm_robot_interfaces/msg/VisualAnswer), or None on timeout.
    """
    import cv2
    import rclpy
    from rclpy.action import ActionClient
    from sensor_msgs.msg import Image

    from vlm_robot.nodes import common, messages
    from vlm_robot.nodes.convert import rgb_to_image
    from vlm_robot_interfaces.action import AnswerQuestion

    rgb = None
    if image:
        bgr = cv2.imread(image)
        if bgr is None:
            raise FileNotFoundError(f"--image {image!r}: not a readable image file (png, jpg, ...)")
        rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
    rclpy.init()
    node = rclpy.create_node(f"vlm_ask_{uuid.uuid4().hex[:6]}")
    qid = f"ask-{uuid.uuid4().hex[:8]}"
    got: dict = {}
    printed = [0]

    def on_feedback(msg) -> None:
        text = msg.feedback.text
        if show_partials and text.startswith(text[:printed[0]]):
            out.write(text[printed[0]:])
            out.flush()
            printed[0] = len(text)

    def on_result(future) -> None:
        got.update(messages.from_msg("vqa_answer", future.result().result.answer))

    def on_goal(future) -> None:
        handle = future.result()
        if handle is not None and handle.accepted:
            handle.get_result_async().add_done_callback(on_result)

    client = ActionClient(node, AnswerQuestion, common.VQA_ACTION)
    cam = node.create_publisher(Image, common.IMAGE, common.IMAGE_PUB_QOS) if rgb is not None else None
    deadline = time.monotonic() + timeout
    asked_at = None
    next_frame = time.monotonic()
    seen_camera_sub: float | None = None
    try:
        while time.monotonic() < deadline and not got:
            now = time.monotonic()
            if cam is not None and now >= next_frame:
                cam.publish(rgb_to_image(rgb, time.time()))
                next_frame = now + 1.0 / fps
            # with an image: publish it for a second after the node subscribed, so it has frames when asked
            if cam is not None and seen_camera_sub is None and node.count_subscribers(common.IMAGE) > 0:
                seen_camera_sub = now
            ready = client.server_is_ready() and (
                cam is None or (seen_camera_sub is not None and now - seen_camera_sub >= 1.0))
            if asked_at is None and ready:
                goal = AnswerQuestion.Goal(id=qid, question=question, clip_frames=clip_frames)
                client.send_goal_async(goal, feedback_callback=on_feedback).add_done_callback(on_goal)
                asked_at = now
            rclpy.spin_once(node, timeout_sec=0.05)
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    if show_partials and printed[0]:
        out.write("\n")
    return got or None


def main(question: str, image: str, timeout: float, clip_frames: int, as_json: bool) -> int:
    if image and not Path(image).is_file():
        print(f"--image {image!r} does not exist", file=sys.stderr)
        return 2
    answer = ask(question, image, timeout, clip_frames, show_partials=not as_json)
    if answer is None:
        print(f"no answer within {timeout:.0f} s: is a vlm_node running on this ROS_DOMAIN_ID "
              "(`vlm-robot run` starts one)?", file=sys.stderr)
        return 2
    if as_json:
        print(json.dumps(answer, ensure_ascii=False))
    elif not answer["ok"]:
        print(f"error: {answer['error']}", file=sys.stderr)
    return 0 if answer["ok"] else 1
