"""Head pose, eyes and eye contact from the packaged face mesh and iris models, on real and rendered faces."""

from __future__ import annotations

import importlib.util
import math

import numpy as np
import pytest

from vlm_robot.core.types import Face, Frame, PerceptionResult
from vlm_robot.perception.face_mesh import FaceMesh, MeshConfig, facing_from_pose, pose_angles


@pytest.fixture(scope="module")
def mesh() -> FaceMesh:
    return FaceMesh()


@pytest.fixture(scope="module")
def astronaut_face(perceiver, astronaut):
    return max(perceiver.faces.detect(astronaut), key=lambda d: d.score)


def test_astronaut_reads_frontal_with_eye_contact(mesh, astronaut, astronaut_face):
    d = astronaut_face
    p = mesh.estimate(astronaut, d.box, d.keypoints)
    assert p.valid, p.reason
    assert abs(p.yaw) < 8 and abs(p.pitch) < 10 and abs(p.roll) < 8, (p.yaw, p.pitch, p.roll)
    assert p.iris and p.eye_contact > 0.5
    assert 0.15 < p.eyes_open < 0.6  # eyes open
    assert p.landmarks.shape == (468, 3)
    assert facing_from_pose(p) > 0.8


def test_roll_follows_an_in_plane_rotation(mesh, perceiver, astronaut):
    import cv2

    h, w = astronaut.shape[:2]
    img = cv2.warpAffine(astronaut, cv2.getRotationMatrix2D((w / 2, h / 2), -20, 1.0), (w, h))  # 20 deg clockwise
    d = max(perceiver.faces.detect(img), key=lambda d: d.score)
    p = mesh.estimate(img, d.box, d.keypoints)
    assert p.valid and 12 < p.roll < 30, p.roll


def test_mirror_image_flips_the_sign_of_yaw_only(mesh, perceiver, astronaut):
    out = []
    for img in (astronaut, np.ascontiguousarray(astronaut[:, ::-1])):
        d = max(perceiver.faces.detect(img), key=lambda d: d.score)
        out.append(mesh.estimate(img, d.box, d.keypoints))
    assert all(p.valid for p in out)
    assert abs(out[0].yaw + out[1].yaw) < 6 and abs(out[0].pitch - out[1].pitch) < 3


@pytest.mark.parametrize("box", [(-300.0, 100.0, 330.0, 330.0),  # almost all outside the image
                                 (500.0, 500.0, 40.0, 40.0),      # at the bottom-right edge
                                 (200.0, 100.0, 10.0, 10.0),      # tiny
                                 (100.0, 100.0, math.nan, 50.0)])  # not a number
def test_bad_boxes_give_an_invalid_pose_not_a_crash(mesh, astronaut, box):
    p = mesh.estimate(astronaut, box, None)
    assert not p.valid and p.reason and p.yaw == 0.0 and p.eye_contact == 0.0


def test_garbage_crop_is_not_a_face(mesh):
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)
    p = mesh.estimate(noise, (100.0, 60.0, 100.0, 100.0), None)
    assert not p.valid and "presence" in p.reason
    flat = np.full((240, 320, 3), 128, np.uint8)
    assert not mesh.estimate(flat, (100.0, 60.0, 100.0, 100.0), None).valid


def test_pose_angles_are_relative_to_the_line_of_sight():
    # a face at the right edge of the image that looks straight at the camera reads 0
    t = np.array([0.5, 0.0, 1.0])
    fwd = -t / np.linalg.norm(t)  # the face's outward direction: towards the camera
    z = -fwd  # model z points into the head
    x = np.cross(np.array([0.0, 1.0, 0.0]), z)
    x /= np.linalg.norm(x)
    r = np.column_stack([x, np.cross(z, x), z])
    yaw, pitch, roll = pose_angles(r, t)
    assert abs(yaw) < 1e-6 and abs(pitch) < 1e-6 and abs(roll) < 1e-6
    # the same face with the rotation of a head looking along the optical axis reads turned right (+)
    yaw, _, _ = pose_angles(np.eye(3), t)
    assert yaw == pytest.approx(math.degrees(math.atan2(0.5, 1.0)), abs=1e-6)


def test_perceiver_fills_the_pose_and_reuses_it_between_runs(astronaut, monkeypatch):
    from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig

    p = Perceiver(PerceptionConfig(mesh_interval_s=0.1))
    calls = []
    real = p.mesh.estimate
    monkeypatch.setattr(p.mesh, "estimate", lambda *a, **k: calls.append(1) or real(*a, **k))
    f0 = p.process(Frame(astronaut, 1.0)).faces[0]
    assert f0.pose_valid and f0.facing == pytest.approx(facing_from_pose_of(f0), abs=1e-6)
    f1 = p.process(Frame(astronaut, 1.05)).faces[0]  # within mesh_interval_s: cached
    assert len(calls) == 1 and f1.head_yaw == f0.head_yaw
    p.process(Frame(astronaut, 1.2))  # due again
    assert len(calls) == 2
    off = Perceiver(PerceptionConfig(mesh=False)).process(Frame(astronaut, 1.0)).faces[0]
    assert not off.pose_valid and off.head_yaw == 0.0


def facing_from_pose_of(face: Face) -> float:
    from vlm_robot.perception.face_mesh import HeadPose

    return facing_from_pose(HeadPose(True, face.head_yaw, face.head_pitch, face.head_roll, face.eye_contact,
                                     iris=True))


def test_face_message_round_trip_carries_the_pose():
    from rclpy.serialization import serialize_message

    from vlm_robot.nodes import messages

    face = Face((10.0, 20.0, 30.0, 40.0), 0.75, ((1.0, 2.0),) * 6, "happy", (1 / 7,) * 7, 0.5, (), True,
                -31.5, 12.25, -3.0, 0.125, 0.3, 0.05)
    body = PerceptionResult(12.5, "camera", 640, 480, (face,), 3.5).to_dict()
    back = messages.from_raw("people", serialize_message(messages.to_msg("people", body)))
    got = Face.from_dict(back["faces"][0])
    assert got.pose_valid and got.head_yaw == -31.5 and got.head_pitch == 12.25 and got.head_roll == -3.0
    assert got.eye_contact == 0.125 and got.eyes_open == pytest.approx(0.3) and got.mouth_open == pytest.approx(0.05)
    # without a pose the payload looks as before and the message says pose_valid false
    plain = PerceptionResult(12.5, "camera", 640, 480, (Face((10.0, 20.0, 30.0, 40.0), 0.75),), 3.5).to_dict()
    assert "head_yaw" not in plain["faces"][0] and "pose_valid" not in plain["faces"][0]
    m = messages.to_msg("people", plain)
    assert m.faces[0].pose_valid is False and m.faces[0].head_yaw == 0.0
    assert "head_yaw" not in messages.from_msg("people", m)["faces"][0]


def test_out_of_range_pose_is_refused_with_the_field_named():
    from vlm_robot.core.errors import InvalidInputError
    from vlm_robot.nodes import messages

    face = Face((10.0, 20.0, 30.0, 40.0), 0.75, pose_valid=True, eye_contact=0.5)
    m = messages.to_msg("people", PerceptionResult(1.0, "camera", 640, 480, (face,), 1.0).to_dict())
    m.faces[0].eye_contact = 1.5
    with pytest.raises(InvalidInputError, match="eye_contact"):
        messages.from_msg("people", m)


@pytest.mark.skipif(importlib.util.find_spec("mujoco") is None, reason="mujoco is not installed")
def test_rendered_turned_head_gives_sign_and_size_of_yaw(mesh, perceiver):
    from vlm_robot.sim.world import World

    world = World({"p": "astronaut"}, 640, 480, relief=True)
    try:
        got = {}
        for ang in (0.0, 30.0, -30.0):
            world.set_person("p", 1.0, 0.0, math.pi + math.radians(ang))
            world.step(0.0)
            truth = pose_angles(*world.face_pose_in_camera("p"))
            img = world.render()
            d = max(perceiver.faces.detect(img), key=lambda d: d.score)
            p = mesh.estimate(img, d.box, d.keypoints)
            assert p.valid, p.reason
            got[ang] = (p.yaw, truth[0])
    finally:
        world.close()
    assert abs(got[0.0][0]) < 8
    for ang in (30.0, -30.0):
        est, truth = got[ang]
        assert np.sign(est) == np.sign(ang) == np.sign(truth)
        assert abs(est - truth) < 12, got


def test_mesh_config_thresholds_reject_small_faces(astronaut, astronaut_face):
    strict = FaceMesh(MeshConfig(min_box_px=500.0, iris=False))
    d = astronaut_face
    assert not strict.estimate(astronaut, d.box, d.keypoints).valid
