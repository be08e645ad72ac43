"""Intention to interact (issue 14): motion from trajectories, smoothed head pose, the explained model, its use."""

import math

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult, PersonState
from vlm_robot.reasoning.engagement import IntentionWeights, MotionWindow, intention, talking_partner
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig

W, FOCAL = 640, 320 / math.tan(math.radians(30))  # the tracker's pinhole camera (60 degree lens)


def mesh_face(cx: float, width: float = 80.0, yaw: float = 0.0, pitch: float = 0.0, valid: bool = True,
              facing: float | None = None, mood: str = "neutral") -> Face:
    """A face centred at ``cx`` (px) ``width`` px wide with a face mesh head pose (degrees)."""
    probs = [0.05] * 7
    probs[EXPRESSIONS.index(mood)] = 0.7
    angle = math.hypot(yaw, pitch)
    f = max(0.0, 1 - angle / 50) if facing is None else facing
    ec = math.exp(-0.5 * (angle / 12) ** 2)
    return Face((cx - width / 2, 140 - width / 2, width, width), 0.9, (), mood, tuple(probs), f, (), valid,
                yaw if valid else 0.0, pitch if valid else 0.0, 0.0, ec if valid else 0.0)


def width_at(distance_m: float) -> float:
    return 0.16 * FOCAL / distance_m


def make(**kw) -> Reasoner:
    return Reasoner(PeopleTracker(TrackerConfig()), ProactivePolicy(ProactiveConfig(**kw)), None)


def play(r: Reasoner, t0: float, t1: float, faces_at, fps: float = 10.0):
    """Feed frames from ``t0`` to ``t1``; ``faces_at(t)`` gives each frame's faces. Returns the decisions."""
    out, t = [], t0
    while t < t1 - 1e-9:
        out += r.on_perception(PerceptionResult(round(t, 3), "cam", W, 480, tuple(faces_at(t)))).decisions
        t += 1 / fps
    return out


def greets(ds):
    return [d for d in ds if d.action == "greet"]


# --- motion ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("distance", "bearing", "want"), [
    (lambda t: 2.5 - 0.5 * t, lambda t: 0.0, "approaching"),
    (lambda t: 1.0 + 0.5 * t, lambda t: 0.0, "leaving"),
    (lambda t: 1.5, lambda t: 0.3 - 0.3 * t, "passing"),  # 0.45 m/s sideways at 1.5 m
    (lambda t: 1.5, lambda t: 0.1, "standing"),
])
def test_motion_from_distance_and_bearing(distance, bearing, want):
    m = MotionWindow()
    got = [m.add(t, distance(t), bearing(t)) for t in np.arange(0.0, 2.0, 0.1)]
    assert got[0] == "" and got[3] == ""  # too little track yet
    assert got[-1] == want, (got, m.radial, m.lateral)


def test_a_jittering_face_size_far_away_is_standing_not_approaching():
    rng = np.random.default_rng(0)
    m = MotionWindow()
    got = {m.add(t, 2.5 + rng.normal(0, 0.12), 0.0) for t in np.arange(0.0, 10.0, 0.2)}
    assert got <= {"", "standing"}, got


def test_the_robot_turning_its_head_is_not_the_person_passing():
    """The camera pans 0.6 rad in 1 s: the face sweeps across the image, the person stands still."""
    r = make()
    bearing = 0.2  # rad, + left of the base's axis

    def pan(t):
        return min(max(t - 1.0, 0.0), 1.0) * 0.6

    def faces(t):
        return [mesh_face(W / 2 - FOCAL * math.tan(bearing - pan(t)))]

    motions, t = [], 0.0
    while t < 4.0:
        r.tracker.follow_head(pan(t), 0.0, W, 480)
        r.on_perception(PerceptionResult(round(t, 3), "cam", W, 480, tuple(faces(t))))
        motions.append(r.people()[0].motion)
        t += 0.1
    assert set(motions) == {"", "standing"}, motions
    # without the pan the same pixels are a person walking across
    r2 = make()
    ds = play(r2, 0.0, 2.0, faces)
    assert "passing" in {p.motion for p in r2.people()} or any("walking past" in d.reason for d in ds)


# --- head pose --------------------------------------------------------------------------------------------------


def test_head_pose_is_smoothed_and_forgotten_when_the_mesh_stops():
    r = make()
    play(r, 0.0, 1.0, lambda t: [mesh_face(320, yaw=0.0, pitch=0.0)])
    play(r, 1.0, 1.1, lambda t: [mesh_face(320, yaw=0.0, pitch=30.0)])
    p = r.people()[0]
    assert p.pose_valid and 0 < p.head_pitch < 30  # one frame moves it part of the way (tau 0.3 s)
    play(r, 1.1, 3.0, lambda t: [mesh_face(320, yaw=0.0, pitch=30.0)])
    assert r.people()[0].head_pitch == pytest.approx(30.0, abs=0.5)
    play(r, 3.0, 3.1, lambda t: [mesh_face(320, valid=False)])
    assert r.people()[0].pose_valid and r.people()[0].head_pitch > 29  # a missing reading keeps the pose a while
    play(r, 3.1, 5.0, lambda t: [mesh_face(320, valid=False)])
    p = r.people()[0]
    assert not p.pose_valid and p.head_pitch == 0.0 and p.eye_contact == 0.0
    d = p.to_dict()
    assert {"pose_valid", "head_yaw", "head_pitch", "eye_contact", "motion", "intention", "intention_reason"} <= set(d)


# --- the model --------------------------------------------------------------------------------------------------


def person(**kw) -> PersonState:
    base = {"id": 1, "box": (280, 100, 80, 80), "first_seen": 0.0, "last_seen": 3.0, "facing": 0.95,
            "attention": 1.0, "distance_m": 1.0, "pose_valid": True, "eye_contact": 0.95, "motion": "standing"}
    return PersonState(**{**base, **kw})


def test_intention_weighs_the_cues_and_explains_them():
    w = IntentionWeights()
    standing, why, parts = intention(person(), w)
    approaching, why_a, _ = intention(person(motion="approaching", last_seen=1.0, distance_m=2.5), w)
    passing, why_p, _ = intention(person(motion="passing"), w)
    down, why_d, _ = intention(person(head_pitch=25.0), w, looking_down=True)
    talking, why_t, _ = intention(person(), w, talking=True)
    unknown, _, _ = intention(person(motion="", last_seen=0.5, attention=0.0, facing=0.2, eye_contact=0.0,
                                     distance_m=2.5), w)
    assert 0.5 < standing < 0.9 <= approaching  # waiting is greeted after linger_s; approaching and looking sooner
    assert max(passing, down, talking, unknown) < 0.2
    assert why.startswith(f"intention {standing:.2f}: ") and "looking at the robot" in why and "prior" in why
    assert "+3.0 approaching" in why_a and "2.5 m away" in why_a
    assert "-3.0 passing" in why_p and "looking down (head pitch 25 deg)" in why_d and "talking" in why_t
    z = sum(parts.values())
    assert standing == pytest.approx(1 / (1 + math.exp(-z)), abs=2e-3)


def test_intention_weights_come_from_the_config_and_are_checked():
    cfg = ProactiveConfig(intention={"approaching": 1.0, "bias": -2})
    assert cfg.weights.approaching == 1.0 and cfg.weights.bias == -2.0 and cfg.weights.look == 3.0
    with pytest.raises(ConfigError, match="unknown key"):
        ProactiveConfig(intention={"aproaching": 1.0})
    with pytest.raises(ConfigError, match="near_m < far_m"):
        ProactiveConfig(intention={"near_m": 3.0})
    with pytest.raises(ConfigError, match="intention_engaged"):
        ProactiveConfig(intention_engaged=1.5)


def test_talking_uses_mesh_head_yaw_when_valid_and_keypoint_yaw_otherwise():
    left = person(id=1, box=(100, 100, 80, 80), head_yaw=20.0, yaw=0.0)
    right = person(id=2, box=(400, 100, 80, 80), head_yaw=-20.0, yaw=0.0)
    assert talking_partner(left, [left, right], 0.1, 15.0) is right
    right.head_yaw = -10.0  # turned, but less than 15 degrees: not facing each other
    assert talking_partner(left, [left, right], 0.1, 15.0) is None
    left.pose_valid = right.pose_valid = False  # no mesh: the nose-offset yaw decides, as before
    left.yaw, right.yaw = 0.2, -0.2
    assert talking_partner(left, [left, right], 0.1, 15.0) is right


# --- the policy ---------------------------------------------------------------------------------------------------


def test_approaching_and_looking_is_greeted_sooner_and_from_farther():
    r = make()

    def walker(t):  # 2.8 m -> 1.0 m at 0.6 m/s, looking at the robot, then stands
        return [mesh_face(320, width_at(max(1.0, 2.8 - 0.6 * t)))]

    ds = play(r, 0.0, 6.0, walker)
    g = greets(ds)
    assert len(g) == 1 and g[0].stamp <= 1.2, [(d.stamp, d.reason) for d in ds]
    assert g[0].detail["distance_m"] > 2.0  # beyond max_distance_m, within engaged_max_distance_m
    assert "wants to talk" in g[0].reason and "approaching" in g[0].reason and "intention" in g[0].reason
    assert g[0].detail["motion"] == "approaching" and g[0].detail["intention"] >= 0.9
    # the same person standing there is greeted after linger_s, from within max_distance_m
    r = make()
    g = greets(play(r, 0.0, 6.0, lambda t: [mesh_face(320, width_at(1.5))]))
    assert len(g) == 1 and g[0].stamp == pytest.approx(3.0, abs=0.05) and "waiting" in g[0].reason
    r = make()
    assert greets(play(r, 0.0, 6.0, lambda t: [mesh_face(320, width_at(2.5))])) == []


def test_a_passer_by_glancing_at_the_robot_is_left_alone():
    r = make()

    def passer(t):  # across the image in 5 s at ~1.4 m, looking at the robot from 1.5 s to 3.5 s
        looking = 1.5 <= t < 3.5
        return [mesh_face(40 + 112 * t, width_at(1.4), yaw=0.0 if looking else 35.0)]

    ds = play(r, 0.0, 5.0, passer)
    assert greets(ds) == []
    assert any("walking past" in d.reason and "intention" in d.reason for d in ds), [d.reason for d in ds]


def test_looking_down_at_a_phone_is_busy_even_with_a_glance_up():
    r = make()

    def reader(t):
        return [mesh_face(320, pitch=0.0 if 3.0 <= t < 3.5 else 25.0)]

    ds = play(r, 0.0, 8.0, reader)
    assert greets(ds) == []
    assert any("looking down" in d.reason and "phone" in d.reason for d in ds)


def test_two_people_with_heads_turned_to_each_other_are_talking():
    r = make()
    ds = play(r, 0.0, 6.0, lambda t: [mesh_face(150, yaw=25.0), mesh_face(490, yaw=-25.0)])
    assert greets(ds) == []
    assert any("talking to person" in d.reason and "head yaw" in d.reason for d in ds)
    assert all(p.intention < 0.1 for p in r.people())


# --- a wave at the robot (issue 14: gestures as cues) ---------------------------------------------------------------


def play_waving(r: Reasoner, t0: float, t1: float, faces_at, waving_at, fps: float = 10.0, shoulder_yaw=0.0):
    """As :func:`play`, each face with a body; ``waving_at(t, i)``: whether face ``i``'s body waves at ``t``."""
    from vlm_robot.core.types import Body

    out, t = [], t0
    while t < t1 - 1e-9:
        faces = tuple(faces_at(t))
        bodies = tuple(Body((f.box[0] - 40, f.box[1], f.box[2] + 80, 300.0), 0.9, True, shoulders_valid=True,
                            shoulder_yaw_deg=shoulder_yaw, face_index=i,
                            gesture="wave" if waving_at(t, i) else "none") for i, f in enumerate(faces))
        out += r.on_perception(PerceptionResult(round(t, 3), "cam", W, 480, faces, 0.0, bodies)).decisions
        t += 1 / fps
    return out


def test_a_wave_at_the_robot_is_greeted_sooner_and_says_so():
    r = make()
    ds = play_waving(r, 0.0, 4.0, lambda t: [mesh_face(320, width_at(1.5))], lambda t, i: t >= 0.5)
    g = greets(ds)
    assert len(g) == 1 and g[0].stamp == pytest.approx(1.0, abs=0.05), [(d.stamp, d.reason) for d in ds]
    assert "waved at the robot" in g[0].reason and "+3.0 waved at the robot" in g[0].reason
    assert g[0].detail["text"] == "Hello! I saw you wave. How can I help you?"
    assert g[0].detail["intention"] >= 0.9 and g[0].detail["waved_s_ago"] == pytest.approx(0.0, abs=0.01)
    (p,) = r.people()
    assert p.waved_at == pytest.approx(3.9, abs=0.01) and p.to_dict()["waved_at"] == p.waved_at
    # the same person without the wave: greeted as waiting after linger_s (3 s)
    r = make()
    g = greets(play_waving(r, 0.0, 4.0, lambda t: [mesh_face(320, width_at(1.5))], lambda t, i: False))
    assert len(g) == 1 and g[0].stamp == pytest.approx(3.0, abs=0.05) and "wave" not in g[0].reason


def test_a_wave_from_beyond_max_distance_is_greeted_and_a_stale_one_is_not():
    r = make()  # 2.5 m: too far to greet a person waiting, not for one who waves (engaged_max_distance_m 3 m)
    g = greets(play_waving(r, 0.0, 3.0, lambda t: [mesh_face(320, width_at(2.5))], lambda t, i: 1.0 <= t < 1.5))
    assert len(g) == 1 and 1.0 <= g[0].stamp <= 1.1 and "waved" in g[0].reason
    # waved long ago: the cue has faded (wave_s 5 s), so at 2.5 m they are too far again
    r = make(cooldown_s=0.0)
    ds = play_waving(r, 0.0, 0.2, lambda t: [mesh_face(320, width_at(2.5), facing=0.2)], lambda t, i: True,
                     shoulder_yaw=90.0)  # not towards the robot: not a wave at it
    ds += play_waving(r, 0.2, 8.0, lambda t: [mesh_face(320, width_at(2.5))], lambda t, i: False)
    assert greets(ds) == [] and r.people()[0].waved_at is None


def test_a_wave_while_talking_to_someone_else_or_walking_away_is_not_a_greeting():
    r = make()
    ds = play_waving(r, 0.0, 6.0, lambda t: [mesh_face(150, yaw=25.0), mesh_face(490, yaw=-25.0)],
                     lambda t, i: i == 0 and t >= 1.0)
    assert greets(ds) == []
    assert r.gestures.waved_at  # the wave was seen (shoulders square on) ...
    assert any(d.person_id == 1 and "talking to person" in d.reason for d in ds)
    waver = next(p for p in r.people() if p.id == 1)  # ... and counted, but talking outweighs it
    assert "+3.0 waved at the robot" in waver.intention_reason and "talking" in waver.intention_reason
    assert waver.intention < 0.5
    r = make()

    def leaving(t):  # 1.0 m -> 3.0 m at 0.5 m/s, glancing back at the robot and waving (a goodbye)
        return [mesh_face(320, width_at(min(3.0, 1.0 + 0.5 * t)), facing=0.8)]

    ds = play_waving(r, 0.0, 4.0, leaving, lambda t, i: t >= 1.0)
    assert greets(ds) == []
    assert any("walking away" in d.reason for d in ds), [d.reason for d in ds]
    (p,) = r.people()
    assert p.motion == "leaving" and "-3.0 leaving, +3.0 waved at the robot" in p.intention_reason
    assert p.intention < 0.9


def test_the_wave_weight_comes_from_the_config():
    assert ProactiveConfig().weights.waved == 3.0 and ProactiveConfig().weights.wave_s == 5.0
    assert ProactiveConfig(intention={"waved": 0.0}).weights.waved == 0.0
    with pytest.raises(ConfigError, match="wave_s"):
        ProactiveConfig(intention={"wave_s": -1})
    base = person(waved_at=2.5)
    p_wave, why, parts = intention(base, IntentionWeights())
    p_none, _, _ = intention(person(), IntentionWeights())
    assert parts["waved"] == 3.0 and "+3.0 waved at the robot 0.5 s ago" in why and p_wave > p_none
    assert "waved" not in intention(person(waved_at=-3.0), IntentionWeights())[2]  # 6 s ago > wave_s
