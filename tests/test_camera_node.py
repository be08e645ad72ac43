"""camera_node with a device that is missing, comes, and goes: the node stays up, says why, and reconnects."""

from __future__ import annotations

import os
import time

import numpy as np
import pytest

from vlm_robot.core.errors import InvalidInputError


class _FakeDevice:
    """Stands in for cv2.VideoCapture on a V4L2 device: opens while ``plugged``, frames until unplugged."""

    plugged = False
    opened = 0

    def __init__(self, source, width=0, height=0, loop=True):
        if not _FakeDevice.plugged:
            raise InvalidInputError(f"cannot open camera source {source!r} (check the device exists and is free)")
        _FakeDevice.opened += 1

    def read(self):
        return np.zeros((48, 64, 3), np.uint8) if _FakeDevice.plugged else None

    def close(self):
        pass


def test_a_missing_camera_device_keeps_the_node_up_and_frames_flow_once_it_is_plugged_in(monkeypatch):
    import rclpy
    from diagnostic_msgs.msg import DiagnosticArray
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.parameter import Parameter
    from sensor_msgs.msg import Image

    from vlm_robot.nodes import camera_node, common

    monkeypatch.setattr(camera_node, "CameraSource", _FakeDevice)
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    executor = SingleThreadedExecutor(context=ctx)
    frames, diags = [], []
    try:
        watcher = rclpy.create_node("camera_watcher", context=ctx)
        watcher.create_subscription(Image, common.IMAGE, frames.append, 10)
        watcher.create_subscription(DiagnosticArray, common.DIAGNOSTICS,
                                    lambda m: diags.extend((s.level, s.message) for s in m.status), 50)
        executor.add_node(watcher)
        monkeypatch.setattr(camera_node.Node, "__init__", _with_context(camera_node.Node.__init__, ctx, [
            Parameter("source", value="/dev/video7"), Parameter("fps", value=20.0),
            Parameter("reconnect_s", value=0.2)]))
        node = camera_node.CameraNode()  # no device: it does not raise
        executor.add_node(node)

        def spin(until, timeout=20.0):
            end = time.monotonic() + timeout
            while not until() and time.monotonic() < end:
                executor.spin_once(timeout_sec=0.05)
            return until()

        assert spin(lambda: any(lvl == b"\x02" for lvl, _ in diags)), diags  # the ERROR, repeated while missing
        why = next(m for lvl, m in diags if lvl == b"\x02")
        assert "/dev/video7" in why and "trying again every 0.2 s" in why and "source:=" in why
        assert not frames
        _FakeDevice.plugged = True
        assert spin(lambda: len(frames) >= 3), "no frames after the device was plugged in"
        assert node.reconnects == 1 and any(lvl == b"\x00" and "opened after" in m for lvl, m in diags)
        _FakeDevice.plugged = False  # unplugged mid-stream
        n = len(diags)
        assert spin(lambda: any("stopped delivering frames" in m for _, m in diags[n:])), diags[n:]
        _FakeDevice.plugged = True
        n = len(frames)
        assert spin(lambda: len(frames) >= n + 3), "no frames after the device came back"
        assert node.reconnects == 2
    finally:
        _FakeDevice.plugged = False
        executor.shutdown()
        rclpy.try_shutdown(context=ctx)


def test_a_missing_video_file_is_a_configuration_error_that_names_the_fix():
    from vlm_robot.camera import CameraSource

    with pytest.raises(InvalidInputError, match="neither a device"):
        CameraSource("/no/such/video.mp4")


def _with_context(init, ctx, overrides):
    def wrapped(self, name, **kw):
        init(self, name, context=ctx, parameter_overrides=overrides, **kw)
    return wrapped
