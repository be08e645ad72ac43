"""Camera sources (image folder, video file), the speech_in line format, scenes, and replay timing."""

import time

import cv2
import numpy as np
import pytest

from vlm_robot.camera import CameraSource
from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.nodes.speech_in_node import parse_line
from vlm_robot.sim.scene import Scene


def test_image_folder_source_loops_and_resizes(tmp_path, astronaut):
    for i in range(3):
        cv2.imwrite(str(tmp_path / f"{i:03d}.png"), cv2.cvtColor(np.roll(astronaut, i * 10, 1), cv2.COLOR_RGB2BGR))
    cam = CameraSource(str(tmp_path), 320, 240, loop=True)
    frames = [cam.read() for _ in range(4)]
    assert all(f.shape == (240, 320, 3) for f in frames)
    assert np.array_equal(frames[0], frames[3])  # looped
    once = CameraSource(str(tmp_path), loop=False)
    assert [once.read() is None for _ in range(4)] == [False, False, False, True]
    for f in tmp_path.glob("*.png"):  # the images go away while the camera runs: an error, not a recursion
        f.write_bytes(b"not an image")
    with pytest.raises(InvalidInputError, match="none of its 3 image files"):
        cam.read()


def test_video_file_source(tmp_path, astronaut):
    path = tmp_path / "clip.avi"
    w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (512, 512))
    for _ in range(5):
        w.write(cv2.cvtColor(astronaut, cv2.COLOR_RGB2BGR))
    w.release()
    cam = CameraSource(str(path), loop=False)
    frames = [cam.read() for _ in range(6)]
    assert sum(f is not None for f in frames) == 5 and frames[0].shape == (512, 512, 3)
    assert abs(int(frames[0][100, 200, 0]) - int(astronaut[100, 200, 0])) < 30  # RGB order kept


def test_bad_sources_say_what_is_accepted(tmp_path):
    with pytest.raises(InvalidInputError, match="neither a device"):
        CameraSource(str(tmp_path / "nope"))
    with pytest.raises(InvalidInputError, match="has no images"):
        CameraSource(str(tmp_path))


def test_speech_in_lines():
    assert parse_line("2.5\thello there\n") == (2.5, "hello there")
    assert parse_line("no time here\n") == (None, "no time here")
    assert parse_line("not a number\tx") == (None, "not a number\tx")


def test_scene_is_deterministic_and_checked(tmp_path, demo_scene):
    assert np.array_equal(demo_scene.render(12.0), demo_scene.render(12.0))
    assert len(demo_scene.visible(0.5)) == 0 and len(demo_scene.visible(12.0)) == 2
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nduration_s: 5\nfps: 5\nsize: [64, 48]\npeople:\n  - {name: a, face: mona}\n")
    with pytest.raises(ConfigError, match=r"see sim/scenes/demo\.yaml"):
        Scene.load(bad)


def test_replay_keeps_timing_and_rate(tmp_path):
    import rclpy
    from rclpy.serialization import serialize_message

    from vlm_robot.bag import BagWriter
    from vlm_robot.nodes import messages
    from vlm_robot.tools.replay import publish_bag

    w = BagWriter(tmp_path / "b")
    w.add_topic("/speech/transcript", "vlm_robot_interfaces/msg/Transcript")
    for i in range(5):  # 2 s of recording
        said = messages.to_msg("transcript", {"text": f"m{i}"})
        w.write("/speech/transcript", i * 500_000_000, serialize_message(said))
    w.close()
    rclpy.init()
    try:
        node = rclpy.create_node("replay_timing")
        times = []
        publish_bag(node, tmp_path / "b", rate=4.0, on_message=lambda m: times.append(time.monotonic()))
        node.destroy_node()
    finally:
        rclpy.try_shutdown()
    assert len(times) == 5 and 0.4 < times[-1] - times[0] < 0.8  # 2 s at rate 4 = 0.5 s
    with pytest.raises(ValueError, match="rate must be > 0"):
        publish_bag(None, tmp_path / "b", rate=0)
