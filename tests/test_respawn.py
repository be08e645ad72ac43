"""A node that crashes is restarted (respawn, as in bringup.launch.py) and works again."""

import os
import signal
import time

import pytest

from vlm_robot import graph
from vlm_robot.nodes import common

pytestmark = pytest.mark.graph


def test_crashed_safety_gate_is_restarted_and_answers_again(tmp_path):
    from vlm_robot.nodes import messages
    from vlm_robot.observe import observed_graph

    g = graph.Graph([s for s in graph.NODES if s.name == "safety_gate"], log_dir=tmp_path, respawn_delay=0.5)
    intent = messages.to_msg("intent", {"type": "wave", "target": "person1", "params": {}})
    with observed_graph(g, "respawn_test", settle_s=0.5) as obs:
        pub = messages.publisher(obs, common.INTENT)
        os.kill(g.procs["safety_gate"].pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while not g.restarts and time.monotonic() < deadline:
            g.poll()
            time.sleep(0.1)
        assert g.restarts == {"safety_gate": 1}
        # the killed process's subscription lingers in the DDS graph until its lease runs out, so
        # "subscribed" says nothing about the new process: ask until the new gate answers
        answered = False
        deadline = time.monotonic() + 30
        while not answered and time.monotonic() < deadline:
            pub.publish(intent)
            answered = obs.wait_for(lambda s: len(s.of(common.VERDICT)) >= 1, 1.0)
        assert answered, "the restarted safety gate never answered"
        assert obs.seen.of(common.VERDICT)[0]["approved"]
