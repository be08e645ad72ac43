"""Bodies and hands from the packaged pose / palm / hand models on real photographs; gestures into intents."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vlm_robot.core.errors import ModelIntegrityError, ModelNotFoundError
from vlm_robot.core.types import Body, Face, Frame, Intent, PerceptionResult


def _models_present() -> str:
    from vlm_robot.core import assets

    try:
        for a in (assets.POSE_DETECTOR, assets.POSE_LANDMARK_FULL, assets.PALM_DETECTOR_LITE,
                  assets.HAND_LANDMARK_LITE):
            a.path()
    except (ModelNotFoundError, ModelIntegrityError) as e:
        return str(e)
    return ""


MISSING = _models_present()
needs_models = pytest.mark.skipif(bool(MISSING), reason=f"body models not available: {MISSING}")


@pytest.fixture(scope="module")
def reader():
    from vlm_robot.perception.body import BodyConfig, BodyReader

    return BodyReader(BodyConfig())


def _faces(perceiver, img) -> list[Face]:
    return [Face(d.box, d.score) for d in perceiver.faces.detect(img)]


@needs_models
def test_astronaut_has_a_body_with_shoulders_facing_the_camera(reader, perceiver, astronaut):
    from vlm_robot.perception.body import L_SHOULDER, NOSE, R_SHOULDER

    faces = _faces(perceiver, astronaut)
    bodies = reader.read(astronaut, 0.0, faces)
    assert len(bodies) == 1
    b = bodies[0]
    assert b.pose_valid and b.shoulders_valid and len(b.keypoints) == 33 and len(b.visibility) == 33
    nose, left, right = (np.array(b.keypoints[k]) for k in (NOSE, L_SHOULDER, R_SHOULDER))
    assert left[0] > nose[0] > right[0]  # her left shoulder on the image's right: she faces the camera
    assert left[1] > nose[1] + 50 and right[1] > nose[1] + 50  # shoulders below the face
    assert abs(b.shoulder_yaw_deg) < 25, b.shoulder_yaw_deg
    assert 0.5 < b.distance_m < 1.5, b.distance_m
    assert b.face_index == 0 and b.gesture == "none"


@needs_models
def test_two_people_get_a_body_each_with_their_own_face(reader, perceiver):
    from vlm_robot.benchmarks.body import two_people

    img = two_people()
    faces = _faces(perceiver, img)
    assert len(faces) == 2
    bodies = reader.read(img, 0.0, faces)
    assert len(bodies) == 2, "the second person is found by the search around their face"
    assert sorted(b.face_index for b in bodies) == [0, 1]
    for b in bodies:  # each body's nose inside its own face box
        x, y, w, h = faces[b.face_index].box
        nx, ny = b.keypoints[0]
        assert x <= nx <= x + w and y <= ny <= y + h


@needs_models
def test_turned_body_reads_turned(reader, perceiver):
    from vlm_robot.benchmarks.body import photo

    img = photo("camera (cameraman)")
    if img is None:
        pytest.skip("scikit-image's camera.png is not installed")
    (b,) = reader.read(img, 0.0, _faces(perceiver, img))
    assert b.shoulders_valid and b.shoulder_yaw_deg > 30  # he faces the image's right, towards his camera


@needs_models
@pytest.mark.parametrize("shape", [(480, 640, 3), (8, 8, 3), (1, 1, 3), (2000, 40, 3), (40, 2000, 3), (7, 300, 3)])
def test_garbage_tiny_and_thin_frames_do_not_crash(reader, shape):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    bodies = reader.read(img, 0.0, [])
    assert all(isinstance(b, Body) for b in bodies)
    assert reader.read(np.zeros(shape, np.uint8), 0.0, []) == []


@needs_models
def test_edge_crops_and_odd_faces_do_not_crash(reader, astronaut):
    h, w = astronaut.shape[:2]
    for crop in (astronaut[:, : w // 8], astronaut[: h // 8], astronaut[h - 30 :], astronaut[100:140, 200:260],
                 np.ascontiguousarray(astronaut[::-1])):
        odd = [Face((-50.0, -50.0, 10.0, 10.0), 0.9), Face((0.0, 0.0, 1e6, 1e6), 0.9), Face((5, 5, 0.0, 0.0), 0.9)]
        for b in reader.read(np.ascontiguousarray(crop), 0.0, odd):
            assert -1 <= b.face_index < len(odd) and b.gesture in ("none", "raised_palm", "wave", "point")
            assert all(math.isfinite(v) for v in (*b.box, b.shoulder_yaw_deg, b.distance_m))


@needs_models
def test_perceiver_reads_bodies_at_their_rate_and_reuses_them(astronaut):
    from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig

    p = Perceiver(PerceptionConfig(body=True, body_thread=False, body_rate_hz=5.0))
    ages = [b.age_s for i in range(7) for b in p.process(Frame(astronaut, i / 30)).bodies]
    assert len(ages) == 7 and ages[0] == 0.0 and ages[6] == 0.0  # measured at 0 s and 0.2 s
    assert ages[1:6] == pytest.approx([i / 30 for i in range(1, 6)])
    assert p.process(Frame(astronaut, 10.0)).bodies[0].face_index == 0
    threaded = Perceiver(PerceptionConfig(body=True, body_thread=True))
    try:
        threaded.process(Frame(astronaut, 0.0))
        assert threaded.body_worker.wait_idle(30.0)
        r = threaded.process(Frame(astronaut, 0.1))
        assert len(r.bodies) == 1 and r.bodies[0].age_s == pytest.approx(0.1) and r.bodies[0].face_index == 0
    finally:
        threaded.close()


# --- gestures from landmarks (no models) ---------------------------------------------------------------------------

def _hand(fingers_up: tuple[bool, bool, bool, bool], tilt_deg: float = 0.0) -> np.ndarray:
    """21 hand landmarks (x, y, z): wrist at (100, 200), fingers up the image (extended) or folded back."""
    lm = np.zeros((21, 3))
    lm[0] = (100, 200, 0)
    for i in range(1, 5):  # thumb, out to the side
        lm[i] = (100 - 12 * i, 190 - 6 * i, 0)
    for f, up in enumerate(fingers_up):
        x = 82 + 12 * f
        base = 5 + 4 * f
        lm[base] = (x, 150, 0)
        if up:
            lm[base + 1: base + 4] = [(x, 130, 0), (x, 115, 0), (x, 100, 0)]
        else:  # curled: down towards the palm
            lm[base + 1: base + 4] = [(x, 135, 0), (x + 2, 148, 0), (x + 1, 160, 0)]
    if tilt_deg:
        a = math.radians(tilt_deg)
        r = np.array([[math.cos(a), -math.sin(a)], [math.sin(a), math.cos(a)]])
        lm[:, :2] = (lm[:, :2] - lm[0, :2]) @ r.T + lm[0, :2]
    return lm


def test_hand_gestures_from_landmarks():
    from vlm_robot.perception.body import classify_hand

    assert classify_hand(_hand((True, True, True, True)))[0] == "raised_palm"
    assert classify_hand(_hand((True, True, True, True), tilt_deg=120))[0] == "none"  # open, but not raised
    g, ray = classify_hand(_hand((True, False, False, False), tilt_deg=60))
    assert g == "point"
    assert math.hypot(ray[2], ray[3]) == pytest.approx(1.0)
    assert ray[2] == pytest.approx(math.sin(math.radians(60)), abs=0.05)  # up the image, turned 60 deg clockwise
    assert classify_hand(_hand((False, False, False, False)))[0] == "none"  # a fist


def test_wave_needs_swings_and_a_still_palm_is_still():
    from vlm_robot.perception.body import WaveDetector

    w = WaveDetector(window_s=2.0, min_reversals=2, min_amplitude=0.3)
    out = [w.update(i * 0.2, [((100 + 40 * math.sin(i * math.pi / 2.5), 100), 40.0, True)]) for i in range(10)]
    assert out[-1][0][0]  # waving after two reversals
    assert not out[1][0][0]
    still = WaveDetector()
    res = [still.update(i * 0.2, [((100 + (i % 2), 100), 40.0, True)]) for i in range(10)]
    assert not any(r[0][0] for r in res) and all(r[0][1] for r in res[1:]) and not res[0][0][1]


# --- gestures into intents through the reasoner and the gate ---------------------------------------------------------

def _frames(reasoner, t0: float, t1: float, gesture_at, fps: float = 30.0, rate: float = 5.0):
    """Frames at ``fps`` with one face and its body; the body measured at ``rate`` (age_s in between). Returns the
    stop intents and all decisions."""
    intents: list[Intent] = []
    decisions = []
    k = 0
    while t0 + k / fps < t1:
        t = t0 + k / fps
        measured = math.floor((t - t0) * rate + 1e-9) / rate + t0
        face = Face((300.0, 100.0, 80.0, 80.0), 0.9, facing=1.0)
        body = Body((260.0, 80.0, 160.0, 400.0), 0.9, True, shoulders_valid=True, face_index=0,
                    gesture=gesture_at(measured), age_s=round(t - measured, 6))
        out = reasoner.on_perception(PerceptionResult(t, "cam", 640, 480, (face,), 0.0, (body,)))
        intents += [i for i in out.intents if i.type == "stop"]  # (the policy may greet the lingering person)
        decisions += out.decisions
        k += 1
    return intents, decisions


def _reasoner():
    from vlm_robot.reasoning.policy import ProactivePolicy
    from vlm_robot.reasoning.reasoner import Reasoner
    from vlm_robot.reasoning.tracker import PeopleTracker

    return Reasoner(PeopleTracker(), ProactivePolicy(), None)


def test_a_raised_palm_held_up_is_one_stop_through_the_gate():
    from vlm_robot.safety.gate import SafetyGate

    r = _reasoner()
    _frames(r, 0.0, 1.0, lambda m: "none")
    intents, decisions = _frames(r, 1.0, 3.0, lambda m: "raised_palm")
    stops = intents
    assert len(stops) == 1, intents  # held for 2 s: one stop, not one per frame
    s = stops[0]
    assert s.source == "gesture" and "raised open palm" in s.reason and s.target.startswith("person")
    assert 1.39 < s.stamp < 1.61  # the third measurement (1.0, 1.2, 1.4) with its frames' delay
    assert any(d.action == "intent" and "gesture" in d.reason for d in decisions)
    gate = SafetyGate()
    gate.set_estop(True)  # even with the emergency stop engaged, stop passes
    v = gate.check(s, s.stamp)
    assert v.approved, v.reasons
    # lowered, raised again: a second stop
    _frames(r, 3.0, 3.5, lambda m: "none")
    again, _ = _frames(r, 3.5, 4.5, lambda m: "raised_palm")
    assert [i.type for i in again] == ["stop"]


def test_one_noisy_measurement_does_not_stop():
    r = _reasoner()
    intents, _ = _frames(r, 0.0, 4.0, lambda m: "raised_palm" if abs(m - 1.0) < 1e-6 or abs(m - 2.6) < 1e-6
                         else "none")
    assert intents == []
    # two in a row are still not enough (3 needed)
    intents, _ = _frames(r, 4.0, 6.0, lambda m: "raised_palm" if 4.95 < m < 5.25 else "none")
    assert intents == []


def test_a_wave_is_a_greeting_cue_on_the_person_and_not_a_stop():
    r = _reasoner()
    intents, _ = _frames(r, 0.0, 2.0, lambda m: "wave" if m >= 1.0 else "none")
    assert intents == []
    (pid,) = r.tracker.people
    assert 1.0 <= r.gestures.waved_at[pid] <= 2.0


def _pointing(reasoner, t0: float, t1: float, point_at, fps: float = 10.0):
    """Frames with one person facing the robot whose body points along ``point_at(t)`` (a ray, or None: no point)."""
    k = 0
    while t0 + k / fps < t1 - 1e-9:
        t = round(t0 + k / fps, 3)
        ray = point_at(t)
        body = Body((260.0, 80.0, 160.0, 400.0), 0.9, True, shoulders_valid=True, face_index=0,
                    gesture="point" if ray else "none", point=ray or (0.0, 0.0, 0.0, 0.0))
        reasoner.on_perception(PerceptionResult(t, "cam", 640, 480, (Face((300.0, 100.0, 80.0, 80.0), 0.9),), 0.0,
                                                (body,)))
        k += 1


def test_look_there_while_pointing_looks_along_the_ray_through_the_gate():
    from vlm_robot.core.types import Transcript, Verdict
    from vlm_robot.reasoning.knowledge import say_verdicts
    from vlm_robot.safety.gate import SafetyGate

    r = _reasoner()
    _pointing(r, 0.0, 2.0, lambda t: (200.0, 250.0, -1.0, 0.0) if t >= 1.0 else None)  # pointing to the left
    out = r.hear(Transcript("Look over there!", 2.5, id="t1"))
    (it,) = out.intents
    # the ray leaves the image at (0, 250): bearing atan2(320, f), f = 320 / tan(30 deg), + left; a bit below
    f = 320 / math.tan(math.radians(30))
    assert it.type == "look_at" and it.target == "where person1 points" and it.source == "dialogue"
    assert it.params["bearing_rad"] == pytest.approx(math.atan2(320, f), abs=1e-3)
    assert it.params["elevation_rad"] == pytest.approx(math.atan2(-10, f), abs=1e-3)
    assert "person 1 pointed (0.6 s before the words)" in it.reason and "(0, 250)" in it.reason
    assert any(d.action == "intent" and "where person 1 points" in d.reason for d in out.decisions)
    v = SafetyGate().check(it, 2.5)  # through the gate like any look_at
    assert v.approved, v.reasons
    assert say_verdicts([Verdict(it, True, ("ok",))], None) == "I'm looking where you are pointing."
    # "what is that" refers to the point too; up and right
    r = _reasoner()
    _pointing(r, 0.0, 2.0, lambda t: (400.0, 200.0, 0.6, -0.8))
    (it,) = r.hear(Transcript("what is that?", 2.0, id="t2")).intents
    assert it.type == "look_at" and it.params["bearing_rad"] < 0 and it.params["elevation_rad"] > 0


def test_look_there_without_a_recent_point_is_as_before():
    from vlm_robot.core.types import Transcript

    r = _reasoner()
    _pointing(r, 0.0, 2.0, lambda t: None)
    assert [i.type for i in r.hear(Transcript("look over there", 2.0, id="t1")).intents] == []
    r = _reasoner()  # pointed, but 4 s before the words (gestures.point_memory_s 3 s)
    _pointing(r, 0.0, 6.0, lambda t: (200.0, 250.0, -1.0, 0.0) if t < 1.0 else None)
    assert r.hear(Transcript("look there", 4.95, id="t2")).intents == []
    # "look at me" while pointing is still a look at the speaker's face (centre x 340 px)
    r = _reasoner()
    _pointing(r, 0.0, 2.0, lambda t: (200.0, 250.0, -1.0, 0.0))
    (it,) = r.hear(Transcript("look at me", 2.0, id="t3")).intents
    assert it.target == "person1"
    assert it.params["bearing_rad"] == pytest.approx(math.atan2(-20, 320 / math.tan(math.radians(30))), abs=1e-3)
    # "go there" needs a named place (navigate has no bearing target): nothing, as before
    assert r.hear(Transcript("go there", 2.0, id="t4")).intents == []


def test_pointed_pixel_is_where_the_ray_leaves_the_image():
    from vlm_robot.reasoning.gestures import pointed_pixel

    assert pointed_pixel((200.0, 250.0, -1.0, 0.0), 640, 480) == (0.0, 250.0)
    assert pointed_pixel((320.0, 240.0, 0.6, -0.8), 640, 480) == pytest.approx((500.0, 0.0))
    assert pointed_pixel((700.0, -5.0, 0.0, 1.0), 640, 480) == (640.0, 480.0)  # origin clamped into the image
    assert pointed_pixel((100.0, 100.0, 0.0, 0.0), 640, 480) == (100.0, 100.0)


# --- messages ---------------------------------------------------------------------------------------------------------

def _result() -> PerceptionResult:
    kps = tuple((float(i), float(2 * i)) for i in range(33))
    bodies = (
        Body((10.0, 20.0, 100.0, 300.0), 0.8, True, kps, tuple(0.5 for _ in range(33)), True, -30.5, 1.7, 0,
             "point", (50.0, 60.0, 0.6, -0.8), 1, 0.066),
        Body((400.0, 20.0, 40.0, 50.0), 0.7, False, gesture="raised_palm", hands=1),
    )
    return PerceptionResult(12.5, "cam", 640, 480, (Face((0.0, 0.0, 50.0, 50.0), 0.9),), 3.0, bodies)


def test_bodies_round_trip_through_the_message():
    pytest.importorskip("vlm_robot_interfaces.msg")
    from vlm_robot.nodes import messages

    r = _result()
    back = PerceptionResult.from_dict(messages.from_msg("people", messages.to_msg("people", r.to_dict())))
    assert len(back.bodies) == 2
    a, b = back.bodies
    assert a.pose_valid and a.shoulders_valid and a.gesture == "point" and a.face_index == 0 and a.hands == 1
    assert a.shoulder_yaw_deg == pytest.approx(-30.5) and a.distance_m == pytest.approx(1.7)
    assert a.point == pytest.approx((50.0, 60.0, 0.6, -0.8)) and a.age_s == pytest.approx(0.066)
    assert a.keypoints[32] == pytest.approx((32.0, 64.0)) and a.visibility[0] == pytest.approx(0.5)
    assert not b.pose_valid and b.gesture == "raised_palm" and b.face_index == -1 and b.keypoints == ()
    # a People without bodies reads as before (no "bodies" key)
    plain = PerceptionResult(1.0, "cam", 640, 480, (), 1.0)
    assert "bodies" not in messages.from_msg("people", messages.to_msg("people", plain.to_dict()))


@pytest.mark.parametrize("field,value,named", [
    ("gesture", "thumbs_up", "bodies[0].gesture"), ("face_index", 5, "bodies[0].face_index"),
    ("shoulder_yaw_deg", float("nan"), "bodies[0].shoulder_yaw_deg"), ("distance_m", -1.0, "bodies[0].distance_m"),
    ("score", 1.5, "bodies[0].score"), ("age_s", -0.1, "bodies[0].age_s"),
])
def test_bad_body_fields_are_named(field, value, named):
    pytest.importorskip("vlm_robot_interfaces.msg")
    from vlm_robot.core.errors import InvalidInputError
    from vlm_robot.nodes import messages

    m = messages.to_msg("people", _result().to_dict())
    setattr(m.bodies[0], field, value)
    with pytest.raises(InvalidInputError, match=named.replace("[", r"\[").replace("]", r"\]")):
        messages.from_msg("people", m)
    m = messages.to_msg("people", _result().to_dict())
    m.bodies[0].point_dx = 0.1  # not a unit direction
    with pytest.raises(InvalidInputError, match="point_dx"):
        messages.from_msg("people", m)


def test_a_raised_wrist_swinging_waves_from_the_body_alone():
    from vlm_robot.perception.body import (
        L_ELBOW,
        L_SHOULDER,
        L_WRIST,
        R_SHOULDER,
        Pose,
        WaveDetector,
        raised_wrists,
    )

    def pose(wrist_x: float, wrist_y: float = 100.0) -> Pose:
        lm = np.zeros((33, 3))
        lm[L_SHOULDER], lm[R_SHOULDER] = (360, 200, 0), (240, 200, 0)
        lm[L_ELBOW], lm[L_WRIST] = (400, 160, 0), (wrist_x, wrist_y, 0)
        return Pose(lm, np.ones(33), 1.0, 1.0, (200.0, 80.0, 250.0, 300.0))

    assert raised_wrists(pose(420, 250), 0.5) == []  # hanging down: no wave input
    w = WaveDetector()
    waving = [w.update(i * 0.2, raised_wrists(pose(420 + 30 * math.sin(i * math.pi / 2.5)), 0.5))[0][0]
              for i in range(10)]
    assert waving[-1] and not waving[1]
