"""The MuJoCo room (vlm_robot.sim.world): assembly, deterministic frames, real face detection, head and base."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

if importlib.util.find_spec("mujoco") is None:
    pytest.skip("mujoco is not installed (pip install -r requirements/sim.txt)", allow_module_level=True)

from vlm_robot.core.errors import ConfigError
from vlm_robot.sim.world import World  # sets MUJOCO_GL before mujoco is imported


@pytest.fixture(scope="module")
def world():
    w = World({"alice": "astronaut", "bob": "grace_hopper"}, faces_needed=["lfw:31"])
    yield w
    w.close()


@pytest.fixture(scope="module")
def detector():
    from vlm_robot.perception.faces import FaceDetector

    return FaceDetector("full", 0.5)


def _reset(w: World) -> None:
    w.cancel()
    w.command_head(0.0, 0.0)
    w.step(3.0)
    w.command_goal(0.0, 0.0, 0.0, "map")
    w.step(15.0)
    for n in ("alice", "bob"):
        w.set_person(n, 0, 0, 0, present=False)


def test_renders_non_blank_deterministic_frames(world):
    _reset(world)
    world.set_person("alice", 1.5, 0.3, math.pi)
    a, b = world.render(), world.render()
    assert a.shape == (480, 640, 3) and a.dtype == np.uint8
    assert a.std() > 20  # a room, not a blank frame
    assert np.array_equal(a, b)
    other = World({"alice": "astronaut", "bob": "grace_hopper"}, faces_needed=["lfw:31"])
    try:
        other.set_person("alice", 1.5, 0.3, math.pi)
        assert np.array_equal(a, other.render())
    finally:
        other.close()


def test_facing_face_detected_turned_away_not(world, detector):
    _reset(world)
    world.set_person("alice", 1.2, 0.0, math.pi)
    u, v, width = world.face_pixel("alice")
    assert abs(u - 320) < 1 and 0 < v < 240 and 60 < width < 100
    dets = detector.detect(world.render())
    assert dets, "the astronaut facing the robot at 1.2 m must be detected"
    x, y, w, h = max(dets, key=lambda d: d.score).box
    assert math.hypot(x + w / 2 - u, y + h / 2 - v) < width / 2
    world.set_person("alice", 1.2, 0.0, 0.0)  # looking away from the robot
    assert not detector.detect(world.render())
    world.set_person("alice", 1.2, 0.0, math.pi, present=False)
    assert world.face_pixel("alice") is None and world.bearing_to("alice") is None
    assert not detector.detect(world.render())


def test_face_switch_and_unknown_faces(world):
    _reset(world)
    world.set_person("alice", 1.2, 0.0, math.pi)
    before = world.render()
    world.set_person("alice", 1.2, 0.0, math.pi, face="lfw:31")
    assert world.face_of("alice") == "lfw:31" and not np.array_equal(before, world.render())
    world.set_person("alice", 1.2, 0.0, math.pi, face="astronaut")
    assert np.array_equal(before, world.render())
    with pytest.raises(ConfigError, match="astronaut"):
        World({"x": "nobody"})
    with pytest.raises(ConfigError, match="faces_needed"):
        world.set_person("alice", 1.2, 0.0, math.pi, face="lfw:88")


def test_head_pan_speed_clipping_and_view(world):
    _reset(world)
    world.set_person("bob", 2.0, 0.8, math.pi)  # on the robot's left
    u0 = world.face_pixel("bob")[0]
    assert u0 < 320 and world.bearing_to("bob") > 0
    world.command_head(0.2, 0.0, speed=0.5)
    world.step(0.2)
    assert world.head()[0] == pytest.approx(0.1, abs=1e-6)  # 0.5 rad/s for 0.2 s
    world.step(1.0)
    assert world.head()[0] == pytest.approx(0.2, abs=1e-6)
    u1 = world.face_pixel("bob")[0]
    assert u0 < u1 < 320  # panning left brings the person on the left toward the centre
    world.command_head(0.2 + world.bearing_to("bob"), 0.0)
    world.step(1.0)
    # (the camera sits 8 cm in front of the pan axis: one correction leaves a little parallax)
    assert abs(world.face_pixel("bob")[0] - 320) < 10 and abs(world.bearing_to("bob")) < 0.02
    pan = world.head()[0]
    world.command_head(5.0, -5.0, speed=99.0)  # clipped to the URDF limits and velocity
    world.step(0.1)
    assert world.head()[0] == pytest.approx(pan + 0.15, abs=1e-6)
    world.step(3.0)
    assert world.head() == pytest.approx((1.4, -0.5))


def test_goals_in_base_link_and_map(world):
    _reset(world)
    world.command_goal(1.0, 0.0, math.pi / 2, "base_link")
    world.step(1.0)
    x, _, _ = world.robot_pose()
    assert 0.4 < x <= 0.5 + 1e-6  # drives at <= 0.5 m/s
    world.step(5.0)
    assert world.goal_status == "reached"
    assert world.robot_pose() == pytest.approx((1.0, 0.0, math.pi / 2), abs=0.03)
    world.command_goal(1.0, 0.0, 0.0, "base_link")  # 1 m along the current heading (+y in map)
    world.step(6.0)
    assert world.robot_pose() == pytest.approx((1.0, 1.0, math.pi / 2), abs=0.03)
    world.command_goal(-0.5, 0.5, math.pi, "map")
    world.step(10.0)
    x, y, yaw = world.robot_pose()
    assert (x, y) == pytest.approx((-0.5, 0.5), abs=0.03) and abs(abs(yaw) - math.pi) < 0.03
    with pytest.raises(ConfigError, match="map"):
        world.command_goal(0, 0, 0, "odom")


def test_velocity_watchdog_and_people_in_the_way(world):
    _reset(world)
    x0, y0, _ = world.robot_pose()
    world.command_velocity(0.4, 0.0)
    world.step(0.3)
    assert math.hypot(world.robot_pose()[0] - x0, world.robot_pose()[1] - y0) == pytest.approx(0.12, abs=1e-6)
    world.step(1.0)  # no new command: the 0.5 s watchdog stopped the base
    assert math.hypot(world.robot_pose()[0] - x0, world.robot_pose()[1] - y0) == pytest.approx(0.2, abs=1e-6)
    _reset(world)
    world.set_person("alice", 2.0, 0.0, math.pi)
    world.command_goal(3.0, 0.0, 0.0, "map")
    world.step(8.0)
    assert world.goal_status == "blocked"  # stops 0.4 m short of the person's footprint
    assert world.robot_pose()[0] == pytest.approx(2.0 - 0.25 - 0.2 - 0.4, abs=0.03)
