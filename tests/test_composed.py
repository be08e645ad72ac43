"""Single-process mode (vlm_robot/nodes/composed.py): several nodes in one rclpy process.

The graph tests of tests/test_graph.py run in both modes; here: how the composed process is made (parameters
per node, the command line, which process a node lives in), what it does when a node cannot start or crashes
in a callback, and `vlm-robot run --single-process`.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

from vlm_robot import graph
from vlm_robot.nodes import composed
from vlm_robot.nodes.registry import NODES


def test_every_registry_node_has_one_node_class_to_compose():
    classes = {s.name: composed.node_class(s) for s in NODES}
    assert classes["camera"].__name__ == "CameraNode" and classes["safety_gate"].__name__ == "SafetyGateNode"
    assert len(set(classes.values())) == len(NODES)


def test_overrides_are_node_scoped_and_read_as_yaml_like_ros_args():
    got = composed.overrides_yaml(
        ["camera:source:=/dev/video2", "camera:fps:=10.0", "reasoning:memory.path:=''", "speech_in:source:=",
         "reasoning:proactive.concern_moods:=[sad]", "vlm:describe_rate_hz:=2"], ["camera", "reasoning", "speech_in",
                                                                                "vlm"])
    assert got == {"camera": {"ros__parameters": {"source": "/dev/video2", "fps": 10.0}},
                   "reasoning": {"ros__parameters": {"memory.path": "", "proactive.concern_moods": ["sad"]}},
                   "speech_in": {"ros__parameters": {"source": ""}},
                   "vlm": {"ros__parameters": {"describe_rate_hz": 2}}}
    with pytest.raises(ValueError, match=r"-p 'source:=x': expected NODE:PARAM:=VALUE"):
        composed.overrides_yaml(["source:=x"], ["camera"])
    with pytest.raises(ValueError, match=r"NODE one of \['camera'\]"):
        composed.overrides_yaml(["perception:max_pixels:=4"], ["camera"])


def test_single_process_graph_runs_the_nodes_together_and_the_recorder_apart(tmp_path):
    nodes, overrides = graph.bringup({"camera_source": "frames", "bag": "b"})
    g = graph.Graph(nodes, overrides, log_dir=tmp_path, single_process=True)
    assert list(g.units) == [graph.COMPOSED, "recorder"]
    assert [s.name for s in g.units[graph.COMPOSED]] == [s.name for s in NODES if not s.condition]  # recorder, viz
    with_viz = graph.Graph(*graph.bringup({"viz": "true"}), single_process=True)
    assert list(with_viz.units) == [graph.COMPOSED, "viz", "recorder"]  # viz_node never takes the nodes' GIL
    cmd = g._command(graph.COMPOSED)
    assert cmd[1:3] == ["-m", "vlm_robot.nodes.composed"]
    assert cmd[3:3 + len(g.units[graph.COMPOSED])] == [s.name for s in g.units[graph.COMPOSED]]
    assert cmd[cmd.index("--executor") + 1] == "per-node"
    sets = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-p"]
    assert sets == ["camera:source:=frames"]  # the recorder's output goes to its own process
    assert g._command("recorder")[-2:] == ["-p", "output:=b"]
    assert list(graph.Graph(nodes, overrides).units) == [s.name for s in nodes]  # default: a process per node
    assert list(graph.Graph(nodes, overrides, single_process=True, apart=()).units) == [graph.COMPOSED]


def test_run_has_a_single_process_option():
    from vlm_robot.tools.cli import build_parser

    assert build_parser().parse_args(["run", "--single-process"]).single_process is True
    assert build_parser().parse_args(["run"]).single_process is False


class _Boom:
    def spin_once(self, timeout_sec: float) -> None:
        raise RuntimeError("boom in a callback")

    def get_nodes(self) -> list:
        return []


def test_a_callback_exception_is_kept_and_stops_the_process():
    stopped = []
    s = composed._Spinner(_Boom(), lambda: stopped.append(True))
    s._run()
    assert stopped == [True] and "crashed" in s.error and "RuntimeError: boom in a callback" in s.error


def _run_composed(script: str, timeout: float = 60.0) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          timeout=timeout)


@pytest.mark.graph
def test_a_node_that_cannot_start_stops_the_process_with_its_reason():
    r = _run_composed("""
        from vlm_robot.nodes import composed
        composed.main(["safety_gate", "camera", "-p", "camera:fps:=500.0", "-p", "camera:source:=/nonexistent"])
    """)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "camera could not start: ValueError: camera fps must be in [0.1, 120], got 500.0" in r.stderr


@pytest.mark.graph
def test_a_crash_in_one_nodes_callback_closes_all_and_exits_non_zero():
    r = _run_composed("""
        from rclpy.node import Node
        from vlm_robot.nodes import composed

        class Boom(Node):
            def __init__(self):
                super().__init__("camera")
                self.create_timer(0.3, self.tick)
            def tick(self):
                raise RuntimeError("boom in a callback")

        class Gate(composed.node_class(next(s for s in composed.NODES if s.name == "safety_gate"))):
            def close(self):
                print("gate closed", flush=True)

        found = {"camera": Boom, "safety_gate": Gate}
        composed.node_class = lambda spec: found[spec.name]
        composed.main(["safety_gate", "camera"])
    """)
    assert r.returncode == 1, r.stderr[-2000:]
    assert "node(s) camera crashed" in r.stderr and "RuntimeError: boom in a callback" in r.stderr
    assert "gate closed" in r.stdout  # the other node was closed too: the graph respawns the whole process
