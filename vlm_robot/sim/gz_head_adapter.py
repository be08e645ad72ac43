"""Head command adapter for Gazebo: /head/command (sensor_msgs/JointState) -> one std_msgs/Float64 per joint.

The safety gate publishes head targets as a JointState (names head_pan / head_tilt, ``position`` the
target in rad, ``velocity`` the speed limit in rad/s; missing or <= 0 means ``max_speed``). Gazebo's
JointPositionController takes a bare target per joint and would jump to it, so this node steps the
commanded position toward the target at the commanded speed (at most ``max_speed``) ``rate_hz`` times a
second and publishes every step on ``topic_format.format(joint=...)`` (the topics that
sim/world/gazebo/robot_plugins.xml listens on, through ros_gz_bridge). A joint starts from its position
on /joint_states when one was seen, else 0.

Run:  python3 -m vlm_robot.sim.gz_head_adapter --ros-args -p use_sim_time:=true
"""

from __future__ import annotations

import math

from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Float64

from vlm_robot.nodes import common

JOINTS = ("head_pan", "head_tilt")
TOPIC_FORMAT = "/{joint}/cmd_pos"
RATE_HZ = 20.0
MAX_SPEED = 1.5  # rad/s: the URDF velocity limit of both head joints


def step_toward(pos: float, target: float, speed: float, dt: float) -> float:
    """``pos`` moved toward ``target`` by at most ``speed * dt``."""
    d, limit = target - pos, speed * dt
    return target if abs(d) <= limit + 1e-9 else pos + math.copysign(limit, d)


class GzHeadAdapter(Node):
    def __init__(self) -> None:
        super().__init__("gz_head_adapter")
        joints = list(common.param(self, "joints", list(JOINTS)))
        topic_format = str(common.param(self, "topic_format", TOPIC_FORMAT))
        self.rate_hz = float(common.param(self, "rate_hz", RATE_HZ))
        self.max_speed = float(common.param(self, "max_speed", MAX_SPEED))
        if not 1.0 <= self.rate_hz <= 1000.0 or self.max_speed <= 0:
            raise ValueError(f"rate_hz must be in [1, 1000] and max_speed > 0, got {self.rate_hz}, {self.max_speed}")
        self.pubs = {j: self.create_publisher(Float64, topic_format.format(joint=j), common.EVENT_QOS) for j in joints}
        self.pos: dict[str, float] = {}  # last position commanded (or measured before the first command)
        self.target: dict[str, float] = {}
        self.speed: dict[str, float] = {}
        self.create_subscription(JointState, common.HEAD_COMMAND, self._on_command, common.EVENT_QOS)
        self.create_subscription(JointState, common.JOINT_STATES, self._on_joint_states, common.SENSOR_QOS)
        self.create_timer(1.0 / self.rate_hz, self._tick)
        self.get_logger().info(f"head commands -> {sorted(p.topic_name for p in self.pubs.values())} "
                               f"at {self.rate_hz:g} Hz, at most {self.max_speed:g} rad/s")

    def _on_joint_states(self, msg: JointState) -> None:
        for name, p in zip(msg.name, msg.position, strict=False):
            if name in self.pubs and name not in self.target and math.isfinite(p):
                self.pos[name] = float(p)  # follow the joint until it is first commanded

    def _on_command(self, msg: JointState) -> None:
        for i, name in enumerate(msg.name):
            if name not in self.pubs or i >= len(msg.position) or not math.isfinite(msg.position[i]):
                continue
            v = msg.velocity[i] if i < len(msg.velocity) else math.nan
            self.speed[name] = min(self.max_speed, max(0.0, v)) if math.isfinite(v) and v > 0 else self.max_speed
            self.target[name] = float(msg.position[i])
            self.pos.setdefault(name, 0.0)

    def _tick(self) -> None:
        dt = 1.0 / self.rate_hz
        for name, target in self.target.items():
            if self.pos[name] == target:
                continue
            self.pos[name] = step_toward(self.pos[name], target, self.speed[name], dt)
            self.pubs[name].publish(Float64(data=self.pos[name]))


def main(args: list[str] | None = None) -> int:
    return common.spin_node(GzHeadAdapter, args)


if __name__ == "__main__":
    raise SystemExit(main())
