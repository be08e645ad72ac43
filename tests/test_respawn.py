"""A node that crashes is restarted (respawn, as in bringup.launch.py) and works again; in single-process mode
the whole composed process is restarted."""

import os
import signal
import time

import pytest

from vlm_robot import graph
from vlm_robot.nodes import common

pytestmark = pytest.mark.graph


@pytest.mark.parametrize("single_process", [False, True], ids=["processes", "single_process"])
def test_crashed_safety_gate_is_restarted_and_answers_again(tmp_path, single_process):
    from vlm_robot.nodes import messages
    from vlm_robot.observe import observed_graph

    g = graph.Graph([s for s in graph.NODES if s.name == "safety_gate"], log_dir=tmp_path, respawn_delay=0.5,
                    single_process=single_process)
    process = graph.COMPOSED if single_process else "safety_gate"
    intent = messages.to_msg("intent", {"type": "wave", "target": "person1", "params": {}})
    with observed_graph(g, "respawn_test", settle_s=0.5) as obs:
        pub = messages.publisher(obs, common.INTENT)
        os.kill(g.process_of("safety_gate").pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not g.restarts and time.monotonic() < deadline:
            g.poll()
            time.sleep(0.1)
        assert g.restarts == {process: 1}
        # the killed process's subscription lingers in the DDS graph until its lease runs out, so
        # "subscribed" says nothing about the new process: ask until the new gate answers
        answered = False
        deadline = time.monotonic() + 30
        while not answered and time.monotonic() < deadline:
            pub.publish(intent)
            answered = obs.wait_for(lambda s: len(s.of(common.VERDICT)) >= 1, 1.0)
        assert answered, "the restarted safety gate never answered"
        assert obs.seen.of(common.VERDICT)[0]["approved"]


def test_a_node_that_cannot_start_is_restarted_less_and_less_often_and_says_why(tmp_path):
    """camera_node pointed at a file that does not exist exits at once, each time: the delays double (0.2, 0.4,
    0.8 s, ...) instead of a restart every 0.2 s, and its last log line says why."""
    g = graph.Graph([s for s in graph.NODES if s.name == "camera"], {"camera": {"source": "/no/such/video.mp4"}},
                    log_dir=tmp_path, respawn_delay=0.2)
    delays = []
    g.start()
    try:
        deadline = time.monotonic() + 90
        while len(delays) < 4 and time.monotonic() < deadline:
            delays += [g.restart_in["camera"] for _ in g.poll()]
            time.sleep(0.05)
    finally:
        g.stop()
    assert delays == [0.2, 0.4, 0.8, 1.6], delays
    assert "neither a device" in g.last_words("camera") and "/no/such/video.mp4" in g.last_words("camera")
