"""Approved intents -> actuator commands: the bearing math, clamping to the YAML's limits, places, no NaN."""

import math

import pytest

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.core.types import Intent
from vlm_robot.graph import config_dir
from vlm_robot.safety.actuation import (
    Actuation,
    ActuationConfig,
    GoalCommand,
    HeadCommand,
    StopCommand,
    bearing_from_box,
    clamp,
    load_places,
)

PLACES = load_places(config_dir() / "places.yaml")


def act(**cfg):
    return Actuation(ActuationConfig(**cfg), PLACES)


def test_bearing_from_a_box_left_right_centre():
    # 640 px wide, 60 degree lens: the image's left edge is +30 degrees (left is positive, REP-103)
    assert bearing_from_box((310, 230, 20, 20), 640, 480, 60.0) == pytest.approx((0.0, 0.0))
    b, _ = bearing_from_box((0, 230, 0, 20), 640, 480, 60.0)
    assert b == pytest.approx(math.radians(30.0))
    b, e = bearing_from_box((600, 0, 40, 40), 640, 480, 60.0)
    assert b < 0 and e > 0  # right of centre, above it
    # pinhole: a quarter of the width off centre is atan(0.5 * tan(30 deg)), not 15 degrees
    b, _ = bearing_from_box((150, 230, 20, 20), 640, 480, 60.0)
    assert b == pytest.approx(math.atan(0.5 * math.tan(math.radians(30))))
    with pytest.raises(InvalidInputError):
        bearing_from_box((0, 0, 1, 1), 0, 480, 60.0)


def test_look_at_turns_the_head_within_its_joint_limits():
    a = act(head_pan_limits_rad=(-1.0, 1.0), head_tilt_limits_rad=(-0.3, 0.4), head_speed_rps=0.5)
    (cmd,) = a.commands(Intent("look_at", "person1", {"bearing_rad": 0.4, "elevation_rad": 0.1}))
    assert cmd == HeadCommand(pan=0.4, tilt=pytest.approx(-0.1), speed=0.5)  # looking up is a negative pitch
    (cmd,) = a.commands(Intent("look_at", "person1", {"bearing_rad": 1.5, "elevation_rad": -1.0}))
    assert (cmd.pan, cmd.tilt) == (1.0, 0.4)  # clamped, whatever the gate let through
    (cmd,) = a.commands(Intent("look_at", "person1", {"bearing_rad": -0.2}))
    assert cmd.tilt == 0.0  # elevation defaults to level


def test_bearings_measured_in_the_camera_add_to_where_the_head_already_points():
    # the head is panned 0.5 left and tilted 0.1 down; the person is 0.2 further left, 0.05 up in the image
    a = act()
    (cmd,) = a.commands(Intent("look_at", "p", {"bearing_rad": 0.2, "elevation_rad": 0.05}), head=(0.5, 0.1))
    assert (cmd.pan, cmd.tilt) == (pytest.approx(0.7), pytest.approx(0.05))
    (cmd,) = a.commands(Intent("look_at", "p", {"bearing_rad": 0.0}), head=(1.3, 0.0))
    assert cmd.pan == pytest.approx(1.3)  # centred already: the head stays, not back to 0
    (cmd,) = a.commands(Intent("look_at", "p", {"bearing_rad": 0.5}), head=(1.3, 0.0))
    assert cmd.pan == 1.4  # still within the joint limits
    (g,) = a.commands(Intent("approach", "p", {"distance_m": 1.0, "speed_mps": 0.3, "bearing_rad": 0.0,
                                               "range_m": 2.0}), head=(math.pi / 2, 0.0))
    assert (g.x, g.y, g.yaw) == (pytest.approx(0.0, abs=1e-9), pytest.approx(1.0), pytest.approx(math.pi / 2))


def test_approach_goal_stops_short_of_the_person_and_within_reach():
    a = act(max_goal_distance_m=2.0)
    (g,) = a.commands(Intent("approach", "p", {"distance_m": 1.0, "speed_mps": 0.3, "bearing_rad": 0.0,
                                               "range_m": 2.5}))
    assert g == GoalCommand("base_link", pytest.approx(1.5), pytest.approx(0.0), 0.0)
    (g,) = a.commands(Intent("approach", "p", {"distance_m": 1.0, "speed_mps": 0.3, "bearing_rad": math.pi / 2,
                                               "range_m": 7.0}))
    assert math.hypot(g.x, g.y) == pytest.approx(2.0) and g.y == pytest.approx(2.0)  # reach-limited, to the left
    (g,) = a.commands(Intent("approach", "p", {"distance_m": 2.0, "speed_mps": 0.3, "bearing_rad": -0.5,
                                               "range_m": 1.0}))
    assert (g.x, g.y, g.yaw) == (0.0, 0.0, -0.5)  # already close: only turn to face them


def test_navigate_goes_to_a_listed_place_in_the_map_frame():
    (g,) = act().commands(Intent("navigate", "kitchen"))
    k = PLACES["kitchen"]
    assert g == GoalCommand("map", k.x, k.y, pytest.approx(k.yaw))
    with pytest.raises(InvalidInputError, match="known places"):
        act().commands(Intent("navigate", "garage"))


def test_stop_and_skills():
    assert act().commands(Intent("stop")) == [StopCommand()]
    assert act().commands(Intent("wave", "p")) == []
    assert act().commands(Intent("offer", "p", object="cup")) == []


def test_non_finite_values_never_become_commands():
    for bad in (math.nan, math.inf, -math.inf, "1.0", True):
        with pytest.raises(InvalidInputError, match="finite"):
            clamp(bad, -1, 1)
    with pytest.raises((InvalidInputError, TypeError, ValueError)):
        act().commands(Intent("look_at", "p", {"bearing_rad": math.nan}))


def test_config_and_places_are_checked(tmp_path):
    with pytest.raises(ConfigError, match="head_pan_limits_rad"):
        ActuationConfig(head_pan_limits_rad=(1.0, -1.0))
    with pytest.raises(ConfigError, match="max_goal_distance_m"):
        ActuationConfig(max_goal_distance_m=math.inf)
    bad = tmp_path / "places.yaml"
    bad.write_text("places:\n  kitchen: {x: .nan, y: 0, yaw: 0}\n")
    with pytest.raises(ConfigError, match="finite"):
        load_places(bad)
    with pytest.raises(ConfigError, match="does not exist"):
        load_places(tmp_path / "none.yaml")
    assert set(PLACES) == {"charging_station", "kitchen", "entrance"}
