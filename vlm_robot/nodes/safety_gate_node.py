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
        self.create_subscription(String, common.INTENT, self._on_intent, common.EVENT_QOS)
        self.create_subscription(Bool, common.ESTOP, self._on_estop, common.STATE_QOS)
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
            self._publish(Verdict(intent, False, (f"malformed intent: {e}",)))
            return
        verdict = self.gate.check(intent, time.monotonic())
        self._publish(verdict)
        if verdict.approved:
            self.approved.publish(String(data=payload.encode("intent", intent.to_dict())))
            if intent.type == "stop":
                self.cmd_vel.publish(Twist())
        else:
            self.get_logger().warning(f"rejected {intent.type} -> {intent.target}: {'; '.join(verdict.reasons)}")

    def _publish(self, verdict: Verdict) -> None:
        self.verdicts.publish(String(data=payload.encode("verdict", verdict.to_dict())))


def main(args: list[str] | None = None) -> int:
    return common.spin_node(SafetyGateNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
