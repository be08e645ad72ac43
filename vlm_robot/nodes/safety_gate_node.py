"""Safety gate node: /vlm_robot/intent -> verdicts, approved intents and bounded actuator commands.

Run:  safety_gate_node --ros-args --params-file config/safety_gate.yaml

Independent of every language model: it reads intents, an emergency-stop flag and its own YAML.
``stop`` (and engaging the emergency stop) publishes a zero geometry_msgs/Twist on /cmd_vel.
"""

from __future__ import annotations

import time

from geometry_msgs.msg import Twist
from rclpy.node import Node
from std_msgs.msg import Bool, String

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.transcript import parse_transcript, string_from_cdr
from vlm_robot.core.types import Intent, Verdict
from vlm_robot.nodes import common
from vlm_robot.reasoning.safety import SafetyConfig, SafetyGate


class SafetyGateNode(Node):
    def __init__(self) -> None:
        super().__init__("safety_gate", **common.make_node_kwargs())
        self.gate = SafetyGate(common.config_from_params(self, SafetyConfig, "safety."))
        common.unknown_parameters(self, [("safety.", SafetyConfig)])
        self.diag = common.Diagnostics(self)
        self.verdicts = self.create_publisher(String, common.VERDICT, common.EVENT_QOS)
        self.approved = self.create_publisher(String, common.APPROVED, common.EVENT_QOS)
        self.cmd_vel = self.create_publisher(Twist, common.CMD_VEL, common.EVENT_QOS)
        self.ask = self.create_publisher(String, common.UTTERANCE, common.EVENT_QOS)
        self.create_subscription(String, common.INTENT, self._on_intent, common.EVENT_QOS)
        self.create_subscription(Bool, common.ESTOP, self._on_estop, common.STATE_QOS)
        # a person's yes or no for intents that need confirmation, read by fixed patterns, no model
        self.create_subscription(String, common.TRANSCRIPT, self._on_transcript, common.EVENT_QOS, raw=True)
        self.create_timer(0.5, self._expire)
        self.seq = 0
        self.get_logger().info(f"safety gate ready; allowed intents: {sorted(self.gate.config.allowed)}")

    def _on_estop(self, msg: Bool) -> None:
        if msg.data != self.gate.estop:
            self.get_logger().warning(f"emergency stop {'ENGAGED' if msg.data else 'released'}")
        self.gate.set_estop(bool(msg.data))
        if msg.data:
            self.cmd_vel.publish(Twist())

    def _on_intent(self, msg: String) -> None:
        try:
            intent = Intent.from_dict(payload.decode("intent", msg.data))
        except (InvalidInputError, KeyError, TypeError, ValueError) as e:
            intent = Intent("malformed", "", {}, "unknown", msg.data[:200])
            self.diag.error("rejected malformed intent", str(e))
            self.verdicts.publish(String(data=payload.encode(
                "verdict", Verdict(intent, False, (f"malformed intent: {e}",)).to_dict())))
            return
        verdict = self.gate.check(intent, time.monotonic())
        self._publish(verdict)
        if verdict.pending:
            question = f"Shall I {intent.type.replace('_', ' ')} {intent.target or 'now'}? Please say yes or no."
            self.ask.publish(String(data=payload.encode("utterance", {
                "text": question, "kind": "question", "reason": verdict.reasons[0], "stamp": intent.stamp,
                "person_id": None, "in_reply_to": "", "id": f"gate-q{intent.id or id(intent)}"})))

    def _on_transcript(self, raw: bytes) -> None:
        if self.gate.pending is None:
            return
        self.seq += 1
        try:
            t = parse_transcript(string_from_cdr(raw), time.time(), self.seq)
        except InvalidInputError:
            return  # the reasoning node reports bad transcripts; here only a clear yes or no counts
        verdict = self.gate.answer(t.text, time.monotonic())
        if verdict is not None:
            self._publish(verdict)

    def _expire(self) -> None:
        verdict = self.gate.expire(time.monotonic())
        if verdict is not None:
            self._publish(verdict)

    def _publish(self, verdict: Verdict) -> None:
        """Publish the verdict; an approval also goes out as an approved intent (and stop as a zero Twist)."""
        self.verdicts.publish(String(data=payload.encode("verdict", verdict.to_dict())))
        intent = verdict.intent
        if verdict.approved:
            self.approved.publish(String(data=payload.encode("intent", intent.to_dict())))
            if intent.type == "stop":
                self.cmd_vel.publish(Twist())
        elif not verdict.pending:
            self.get_logger().warning(f"rejected {intent.type} -> {intent.target}: {'; '.join(verdict.reasons)}")


def main(args: list[str] | None = None) -> int:
    return common.spin_node(SafetyGateNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
