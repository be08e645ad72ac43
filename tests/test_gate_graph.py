"""The safety gate node alone on the real graph: approved intents become bounded actuator commands.

look_at -> /head/command (sensor_msgs/JointState), navigate -> /goal_pose in the map frame after a spoken
yes, stop -> a zero /cmd_vel and /vlm_robot/cancel; with the emergency stop engaged nothing but stop moves.
"""

from __future__ import annotations

import math
import time

import pytest

from vlm_robot import graph
from vlm_robot.nodes import common, messages

pytestmark = pytest.mark.graph


@pytest.fixture(scope="module")
def gate(tmp_path_factory):
    from vlm_robot.observe import observed_graph

    g = graph.Graph([s for s in graph.NODES if s.name == "safety_gate"], log_dir=tmp_path_factory.mktemp("gate"),
                    respawn=False)
    with observed_graph(g, "gate_graph_test", settle_s=1.0) as obs:
        pub = messages.publisher(obs, common.INTENT)

        def send(type_, target="person1", params=None, **kw):
            body = {"type": type_, "target": target, "params": params or {}, "source": "test", "id": kw.pop("id", ""),
                    **kw}
            n = len(obs.seen.of(common.VERDICT))
            pub.publish(messages.to_msg("intent", body))
            assert obs.wait_for(lambda s: len(s.of(common.VERDICT)) > n, 10), f"no verdict for {body}"
            return obs.seen.of(common.VERDICT)[n]

        yield obs, send
    assert all(c == 0 for c in obs.exit_codes.values()), obs.exit_codes


def test_look_at_turns_the_head_clamped_to_its_joint_limits(gate):
    obs, send = gate
    assert send("look_at", params={"bearing_rad": 0.3, "elevation_rad": 0.1})["approved"]
    assert obs.wait_for(lambda s: len(s.head) >= 1, 5)
    h = obs.seen.head[-1]
    assert h["name"] == ["head_pan", "head_tilt"] and h["position"] == pytest.approx([0.3, -0.1])
    assert h["velocity"] == [1.0, 1.0]
    assert send("look_at", params={"bearing_rad": 1.6, "elevation_rad": -0.8})["approved"]  # gate bounds allow it
    assert obs.wait_for(lambda s: len(s.head) >= 2, 5)
    assert obs.seen.head[-1]["position"] == pytest.approx([1.4, 0.5])  # the joints' limits do not
    v = send("look_at", params={"bearing_rad": 7.0})
    assert not v["approved"] and "outside" in v["reasons"][0]
    time.sleep(0.3)
    assert len(obs.seen.head) == 2


def test_navigate_to_a_known_place_after_a_spoken_yes(gate):
    obs, send = gate
    v = send("navigate", "garage")
    assert not v["approved"] and "known places: ['charging_station', 'kitchen', 'entrance']" in v["reasons"][0]
    v = send("navigate", "kitchen", id="nav1")
    assert v["pending"] and not obs.seen.goals
    assert obs.wait_for(lambda s: any(u["text"] == "Shall I go to the kitchen? Please say yes or no."
                                      for u in s.of(common.UTTERANCE)), 5)
    obs.say("Yes, go ahead.")
    assert obs.wait_for(lambda s: len(s.goals) == 1, 10)
    g = obs.seen.goals[0]
    assert g["frame"] == "map" and (g["x"], g["y"]) == (4.2, 1.0) and g["qw"] == pytest.approx(1.0)


def test_approach_goal_in_the_base_frame(gate):
    obs, send = gate
    n = len(obs.seen.goals)
    v = send("approach", params={"distance_m": 1.0, "speed_mps": 0.3, "bearing_rad": math.pi / 6, "range_m": 3.0})
    assert v["pending"]
    obs.say("yes")
    assert obs.wait_for(lambda s: len(s.goals) == n + 1, 10)
    g = obs.seen.goals[-1]
    assert g["frame"] == "base_link" and math.hypot(g["x"], g["y"]) == pytest.approx(2.0)
    assert math.atan2(g["y"], g["x"]) == pytest.approx(math.pi / 6) and g["qz"] == pytest.approx(math.sin(math.pi / 12))


def test_stop_sends_a_zero_twist_and_a_cancel(gate):
    obs, send = gate
    n_cancel = obs.seen.cancels
    assert send("navigate", "entrance")["pending"]
    n = len(obs.seen.of(common.VERDICT))
    v = send("stop", params={"speed_mps": 5.0})
    assert v["approved"] and v["intent"]["params"] == {}
    assert obs.wait_for(lambda s: len(s.of(common.VERDICT)) >= n + 2, 5)
    cancelled = obs.seen.of(common.VERDICT)[n + 1]  # the stop also drops what waited for a yes
    assert cancelled["intent"]["target"] == "entrance" and "cancelled: a stop was approved" in cancelled["reasons"][0]
    assert obs.wait_for(lambda s: s.cancels > n_cancel and s.cmd_vel, 5)
    assert obs.seen.cmd_vel[-1] == {"linear_x": 0.0, "angular_z": 0.0}


def test_with_the_emergency_stop_engaged_nothing_but_stop_moves(gate):
    from std_msgs.msg import Bool

    obs, send = gate
    obs.estop_pub.publish(Bool(data=True))
    time.sleep(0.5)
    n_head, n_goals, n_vel = len(obs.seen.head), len(obs.seen.goals), len(obs.seen.cmd_vel)
    for type_, target, params in (("look_at", "person1", {"bearing_rad": 0.1}), ("navigate", "kitchen", {}),
                                  ("approach", "person1", {"distance_m": 1.0, "speed_mps": 0.3, "bearing_rad": 0.0,
                                                           "range_m": 2.0}), ("wave", "person1", {})):
        v = send(type_, target, params)
        assert not v["approved"] and not v["pending"] and "emergency stop" in v["reasons"][0]
    obs.say("yes")  # nothing is waiting, and nothing may move
    assert send("stop")["approved"]
    time.sleep(1.2)
    assert len(obs.seen.head) == n_head and len(obs.seen.goals) == n_goals
    zero = {"linear_x": 0.0, "angular_z": 0.0}
    assert len(obs.seen.cmd_vel) >= n_vel + 3 and all(c == zero for c in obs.seen.cmd_vel)  # repeated while engaged
    obs.estop_pub.publish(Bool(data=False))
    time.sleep(0.5)
    assert send("look_at", params={"bearing_rad": 0.1})["approved"]


def test_look_at_adds_where_the_head_already_points_from_joint_states(gate):
    from sensor_msgs.msg import JointState

    obs, send = gate
    js = obs.create_publisher(JointState, common.JOINT_STATES, common.qos_for(common.JOINT_STATES, True))
    time.sleep(0.5)  # match
    try:
        js.publish(JointState(name=["head_pan", "head_tilt"], position=[0.5, 0.1]))
        time.sleep(0.3)
        n = len(obs.seen.head)
        assert send("look_at", params={"bearing_rad": 0.2, "elevation_rad": 0.05})["approved"]
        assert obs.wait_for(lambda s: len(s.head) > n, 5)
        # a person 0.2 left of the image centre while the head is panned 0.5: turn to 0.7, not to 0.2
        assert obs.seen.head[-1]["position"] == pytest.approx([0.7, 0.05])
    finally:
        js.publish(JointState(name=["head_pan", "head_tilt"], position=[0.0, 0.0]))
        time.sleep(0.3)
        obs.destroy_publisher(js)
