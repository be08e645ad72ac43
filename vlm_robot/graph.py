"""The robot's node graph, started without ``ros2 launch``: same executables, same parameter files.

``launch/bringup.launch.py`` is the ROS 2 way to start these nodes; :data:`NODES` is the same list
for machines without the launch package (a test proves the two agree). Each node runs in its own
process, is restarted when it crashes (like ``respawn=True``), and is stopped with SIGINT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class NodeSpec:
    """One node of the bringup: its name, its console script and its parameter file."""

    name: str
    executable: str
    params_file: str  # relative to the config directory


NODES: tuple[NodeSpec, ...] = (
    NodeSpec("camera", "camera_node", "camera.yaml"),
    NodeSpec("perception", "perception_node", "perception.yaml"),
    NodeSpec("vlm", "vlm_node", "vlm.yaml"),
    NodeSpec("reasoning", "reasoning_node", "reasoning.yaml"),
    NodeSpec("safety_gate", "safety_gate_node", "safety_gate.yaml"),
    NodeSpec("speech_out", "speech_out_node", "speech_out.yaml"),
    NodeSpec("speech_in", "speech_in_node", "speech_in.yaml"),
    NodeSpec("microphone", "microphone_node", "microphone.yaml"),
    NodeSpec("recorder", "recorder_node", "recorder.yaml"),
)

MODULES = {s.executable: f"vlm_robot.nodes.{s.executable}" for s in NODES}


def config_dir() -> Path:
    """The parameter files: the source tree's ``config/``, else the installed share directory."""
    here = Path(__file__).resolve().parent.parent / "config"
    if here.is_dir():
        return here
    share = Path(sys.prefix) / "share" / "vlm_robot" / "config"
    if share.is_dir():
        return share
    raise FileNotFoundError(f"no config directory at {here} or {share}; reinstall vlm_robot")


def current_env() -> dict[str, str]:
    """This process's environment for the nodes, with unbuffered output so logs arrive as they happen."""
    from vlm_robot.isolate import dds_defaults

    dds_defaults()
    env = dict(os.environ)
    env["PYTHONUNBUFFERED"] = "1"
    return env


def node_command(spec: NodeSpec, cfg: Path, overrides: dict[str, str] | None = None) -> list[str]:
    cmd = [sys.executable, "-m", MODULES[spec.executable], "--ros-args", "--params-file", str(cfg / spec.params_file)]
    for k, v in (overrides or {}).items():
        cmd += ["-p", f"{k}:={v}"]
    return cmd


class Graph:
    """Starts node processes, restarts crashed ones, stops them all in order.

    Args:
        nodes: which of :data:`NODES` to run.
        overrides: per node name, extra ``param:=value`` pairs.
        log_dir: each node's output goes to ``<log_dir>/<name>.log`` (None: inherit the terminal).
        respawn: restart a node that exits unexpectedly, after ``respawn_delay`` seconds.
    """

    def __init__(self, nodes: list[NodeSpec], overrides: dict[str, dict[str, str]] | None = None,
                 env: dict[str, str] | None = None, log_dir: Path | None = None, respawn: bool = True,
                 respawn_delay: float = 1.0) -> None:
        self.nodes = nodes
        self.overrides = overrides or {}
        self.env = env or current_env()
        self.log_dir = log_dir
        self.respawn = respawn
        self.respawn_delay = respawn_delay
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self._cfg = config_dir()
        self._stopping = False

    def _start(self, spec: NodeSpec) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"{spec.name}.log").open("ab")
        self.procs[spec.name] = subprocess.Popen(
            node_command(spec, self._cfg, self.overrides.get(spec.name)), env=self.env,
            stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True)

    def start(self) -> None:
        for spec in self.nodes:
            self._start(spec)

    def poll(self) -> list[str]:
        """Restart crashed nodes; return the names of those that exited since the last poll."""
        gone = []
        for spec in self.nodes:
            p = self.procs.get(spec.name)
            if p is not None and p.poll() is not None and not self._stopping:
                gone.append(f"{spec.name} (exit {p.returncode})")
                if self.respawn:
                    time.sleep(self.respawn_delay)
                    self.restarts[spec.name] = self.restarts.get(spec.name, 0) + 1
                    self._start(spec)
        return gone

    def stop(self, timeout: float = 15.0) -> dict[str, int]:
        """SIGINT every node, the recorder last so it keeps their final messages; SIGKILL stragglers.

        Returns each node's exit code.
        """
        self._stopping = True
        codes: dict[str, int] = {}
        first = [n for n in self.procs if n != "recorder"]
        last = [n for n in self.procs if n == "recorder"]
        for group in (first, last):
            for name in group:
                if self.procs[name].poll() is None:
                    self.procs[name].send_signal(signal.SIGINT)
            deadline = time.monotonic() + timeout
            for name in group:
                p = self.procs[name]
                try:
                    codes[name] = p.wait(timeout=max(0.1, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    codes[name] = p.wait()
        return codes
