"""Speech-out node: /vlm_robot/utterance -> audio (WAV files, or the speaker), /vlm_robot/speaking.

Run:  speech_out_node --ros-args --params-file config/speech_out.yaml

Utterances are spoken in order on a worker thread; /vlm_robot/speaking (latched Bool) is true
while the robot talks, so a microphone path can ignore the robot's own voice.
"""

from __future__ import annotations

import re

from rclpy.node import Node
from std_msgs.msg import Bool, String

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import common
from vlm_robot.nodes.latest import WorkQueue
from vlm_robot.speech.tts import Speaker, TTSConfig


class SpeechOutNode(Node):
    def __init__(self) -> None:
        super().__init__("speech_out", **common.make_node_kwargs())
        self.speaker = Speaker(common.config_from_params(self, TTSConfig, "tts."))
        common.unknown_parameters(self, [("tts.", TTSConfig)])
        self.diag = common.Diagnostics(self)
        self.speaking = self.create_publisher(Bool, common.SPEAKING, common.STATE_QOS)
        self.done = self.create_publisher(String, common.SPEECH_DONE, common.EVENT_QOS)
        self.speaking.publish(Bool(data=False))
        self.work: WorkQueue[dict] = WorkQueue(self._speak, "speech-out-worker")
        self.create_subscription(String, common.UTTERANCE, self._on_utterance, common.EVENT_QOS)
        self.get_logger().info(f"speech out ready ({self.speaker.config.engine} -> {self.speaker.config.output})")

    def _on_utterance(self, msg: String) -> None:
        try:
            u = payload.decode("utterance", msg.data)
        except InvalidInputError as e:
            self.diag.error("bad utterance", str(e))
            return
        if not self.work.put(u):
            self.diag.error("overload", f"speech queue full; utterance {u.get('id')} not spoken")

    def _speak(self, u: dict) -> None:
        name = re.sub(r"[^A-Za-z0-9_-]", "_", u.get("id") or "utt")
        self.speaking.publish(Bool(data=True))
        try:
            wav, duration = self.speaker.say(u["text"], name)
            self.done.publish(String(data=payload.encode("speech_done", {
                "utterance_id": u.get("id", ""), "text": u["text"], "wav": str(wav),
                "duration_s": round(duration, 3), "engine": self.speaker.config.engine})))
        except Exception as e:  # noqa: BLE001 - one failed synthesis must not silence the robot for good
            self.diag.error("speech synthesis failed", f"{type(e).__name__}: {e}", utterance=u.get("id"))
        finally:
            self.speaking.publish(Bool(data=False))

    def close(self) -> None:
        self.work.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(SpeechOutNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
