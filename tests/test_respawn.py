"""A node that crashes is restarted (respawn, as in bringup.launch.py) and works again."""

import os
import signal
import threading
import time

import pytest

from vlm_robot import graph
from vlm_robot.nodes import common

pytestmark = pytest.mark.graph


def test_crashed_safety_gate_is_restarted_and_answers_again(tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from std_msgs.msg import String

    from vlm_robot.core import payload
    from vlm_robot.demo import wait_ready
    from vlm_robot.observe import Observer

    g = graph.Graph([s for s in graph.NODES if s.name == "safety_gate"], log_dir=tmp_path, respawn_delay=0.5)
    rclpy.init()
    obs = Observer(name="respawn_test")
    pub = obs.create_publisher(String, common.INTENT, common.EVENT_QOS)
    ex = SingleThreadedExecutor()
    ex.add_node(obs)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    intent = payload.encode("intent", {"type": "wave", "target": "person1", "params": {}})
    try:
        g.start()
        wait_ready(obs, g)
        os.kill(g.procs["safety_gate"].pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not g.restarts and time.monotonic() < deadline:
            g.poll()
            time.sleep(0.1)
        assert g.restarts == {"safety_gate": 1}
        wait_ready(obs, g)
        time.sleep(1.0)
        pub.publish(String(data=intent))
        assert obs.wait_for(lambda s: len(s.of(common.VERDICT)) == 1, 10)
        assert obs.seen.of(common.VERDICT)[0]["approved"]
    finally:
        g.stop()
        ex.shutdown(timeout_sec=1.0)
        spin.join(timeout=2.0)
        obs.destroy_node()
        rclpy.try_shutdown()
