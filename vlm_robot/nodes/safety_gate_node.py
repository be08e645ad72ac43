"""Safety gate node: /vlm_robot/intent -> verdicts, approved intents and bounded actuator commands.

Run:  safety_gate_node --ros-args --params-file config/safety_gate.yaml

Independent of every language model: it reads intents, an emergency-stop flag, spoken yes/no and its
own YAML (plus config/places.yaml). Approved intents become commands (vlm_robot/safety/actuation.py):
look_at -> /head/command, approach and navigate -> /goal_pose, stop -> a zero /cmd_vel and /vlm_robot/cancel.
While the emergency stop is engaged, a zero Twist goes out every 0.5 s and nothing else moves.
"""

from __future__ import annotations

import math
import time

from geometry_msgs.msg import PoseStamped, Twist
from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool, Empty

from vlm_robot import graph
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.transcript import parse_transcript
from vlm_robot.core.types import Intent, Verdict
from vlm_robot.nodes import common, messages
from vlm_robot.safety.actuation import Actuation, ActuationConfig, GoalCommand, HeadCommand, StopCommand, load_places
from vlm_robot.safety.gate import SafetyConfig, SafetyGate


class SafetyGateNode(Node):
    def __init__(self) -> None:
        super().__init__("safety_gate", **common.make_node_kwargs())
        act_cfg = common.config_from_params(self, ActuationConfig, "actuation.")
        places = load_places(act_cfg.places_file or graph.config_dir() / "places.yaml")
        self.gate = SafetyGate(common.config_from_params(self, SafetyConfig, "safety."), tuple(places))
        self.actuation = Actuation(act_cfg, places)
        common.unknown_parameters(self, [("safety.", SafetyConfig), ("actuation.", ActuationConfig)])
        self.diag = common.Diagnostics(self)
        self.verdicts = messages.publisher(self, common.VERDICT)
        self.approved = messages.publisher(self, common.APPROVED)
        self.cmd_vel = self.create_publisher(Twist, common.CMD_VEL, common.EVENT_QOS)
        # A position-controlled head takes target positions; sensor_msgs/JointState carries them by joint name
        # with the speed limit in `velocity`, needs no extra message package, and is what dynamixel- and
        # servo-driver heads subscribe to. ros2_control's joint_trajectory_controller wants
        # trajectory_msgs/JointTrajectory instead: a one-message adapter on the robot's side.
        self.head = self.create_publisher(JointState, common.HEAD_COMMAND, common.EVENT_QOS)
        self.goal = self.create_publisher(PoseStamped, common.GOAL_POSE, common.EVENT_QOS)
        self.cancel = self.create_publisher(Empty, common.CANCEL, common.EVENT_QOS)
        self.ask = messages.publisher(self, common.UTTERANCE)
        # a malformed intent is answered with a rejection, so the one who sent it hears why
        messages.subscribe(self, common.INTENT, self._on_intent, self.diag, on_error=self._on_malformed)
        self.create_subscription(Bool, common.ESTOP, self._on_estop, common.STATE_QOS)
        # a person's yes or no for intents that need confirmation, read by fixed patterns, no model
        messages.subscribe(self, common.TRANSCRIPT, self._on_transcript, common.Diagnostics.quiet())
        # where the head points now: bearings in intents were measured in the camera image
        self.head_pose: tuple[float, float] | None = None
        self.create_subscription(JointState, common.JOINT_STATES, self._on_joint_states, common.SENSOR_QOS)
        self.create_timer(0.5, self._tick)
        self.seq = 0
        # verdicts by intent id: an intent sent again (the reasoning node had no verdict: this node restarted,
        # or the verdict was lost) gets the same verdict again, and nothing moves twice
        self.decided: dict[str, Verdict] = {}
        self.get_logger().info(f"safety gate ready; allowed intents: {sorted(self.gate.config.allowed)}; "
                               f"places: {sorted(places)}")

    def _on_estop(self, msg: Bool) -> None:
        if msg.data != self.gate.estop:
            self.get_logger().warning(f"emergency stop {'ENGAGED' if msg.data else 'released'}")
        self.gate.set_estop(bool(msg.data))
        if msg.data:
            self._stop("the emergency stop was engaged")

    def _on_joint_states(self, msg: JointState) -> None:
        pos = dict(zip(msg.name, msg.position, strict=False))
        if "head_pan" in pos:
            pan, tilt = float(pos["head_pan"]), float(pos.get("head_tilt", 0.0))
            if math.isfinite(pan) and math.isfinite(tilt):
                self.head_pose = (pan, tilt)

    def _on_malformed(self, why: str) -> None:
        intent = Intent("malformed", "", {}, "unknown", why[:200])
        verdict = Verdict(intent, False, (f"malformed intent: {why}",))
        self.verdicts.publish(messages.to_msg("verdict", verdict.to_dict()))

    def _on_intent(self, fields: dict) -> None:
        try:
            intent = Intent.from_dict(fields)
        except (KeyError, TypeError, ValueError) as e:
            self.diag.error("rejected malformed intent", str(e))
            self._on_malformed(str(e))
            return
        if intent.id and intent.id in self.decided:
            self.verdicts.publish(messages.to_msg("verdict", self.decided[intent.id].to_dict()))
            return
        verdict = self.gate.check(intent, time.monotonic())
        if intent.id:
            self.decided[intent.id] = verdict
            while len(self.decided) > 500:
                self.decided.pop(next(iter(self.decided)))
        self._publish(verdict)
        if verdict.pending:
            question = self.gate.question(intent)
            self.ask.publish(messages.to_msg("utterance", {
                "text": question, "kind": "question", "reason": verdict.reasons[0], "stamp": intent.stamp,
                "person_id": None, "in_reply_to": intent.in_reply_to, "id": f"gate-q{intent.id or id(intent)}"}))

    def _on_transcript(self, fields: dict) -> None:
        if self.gate.pending is None:
            return
        self.seq += 1
        try:
            t = parse_transcript(fields, time.time(), self.seq)
        except InvalidInputError:
            return  # the reasoning node reports bad transcripts; here only a clear yes or no counts
        verdict = self.gate.answer(t.text, time.monotonic())
        if verdict is not None:
            self._publish(verdict)

    def _tick(self) -> None:
        verdict = self.gate.expire(time.monotonic())
        if verdict is not None:
            self._publish(verdict)
        if self.gate.estop:  # the emergency stop overrides any other publisher of /cmd_vel, again and again
            self.cmd_vel.publish(Twist())

    def _publish(self, verdict: Verdict) -> None:
        """Publish the verdict; an approval also goes out as an approved intent and its actuator commands."""
        self.verdicts.publish(messages.to_msg("verdict", verdict.to_dict()))
        intent = verdict.intent
        if not verdict.approved:
            if not verdict.pending:
                self.get_logger().warning(f"rejected {intent.type} -> {intent.target}: {'; '.join(verdict.reasons)}")
            return
        self.approved.publish(messages.to_msg("intent", intent.to_dict()))
        try:
            commands = self.actuation.commands(intent, self.head_pose or (0.0, 0.0))
        except InvalidInputError as e:  # approved but not executable: nothing moves, and it is said why
            self.diag.error(f"no command for approved {intent.type}", str(e))
            return
        for cmd in commands:
            if isinstance(cmd, StopCommand):
                self._stop("a stop was approved")
            elif isinstance(cmd, HeadCommand):
                msg = JointState(name=["head_pan", "head_tilt"], position=[cmd.pan, cmd.tilt],
                                 velocity=[cmd.speed, cmd.speed])
                msg.header.stamp = self.get_clock().now().to_msg()
                self.head.publish(msg)
            elif isinstance(cmd, GoalCommand):
                msg = PoseStamped()
                msg.header.frame_id = cmd.frame
                msg.header.stamp = self.get_clock().now().to_msg()
                msg.pose.position.x, msg.pose.position.y = cmd.x, cmd.y
                msg.pose.orientation.z, msg.pose.orientation.w = math.sin(cmd.yaw / 2), math.cos(cmd.yaw / 2)
                self.goal.publish(msg)

    def _stop(self, why: str) -> None:
        """Zero velocity, cancel the navigation goal, and drop any intent still waiting for a yes."""
        self.cmd_vel.publish(Twist())
        self.cancel.publish(Empty())
        cancelled = self.gate.cancel_pending(why)
        if cancelled is not None:
            self._publish(cancelled)


def main(args: list[str] | None = None) -> int:
    return common.spin_node(SafetyGateNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
