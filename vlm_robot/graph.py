"""The robot's node graph, started without ``ros2 launch``: same executables, same parameter files.

``launch/bringup.launch.py`` is the ROS 2 way to start these nodes; both take their list from
:mod:`vlm_robot.nodes.registry` (:data:`NODES`), as do setup.py's console scripts. Each node runs in its
own process, is restarted when it crashes (like ``respawn=True``), and is stopped with SIGINT.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from vlm_robot.isolate import dds_defaults
from vlm_robot.nodes.registry import LAUNCH_ARGS, NODES, RESPAWN_DELAY_S, NodeSpec, selected
from vlm_robot.paths import config_dir

__all__ = ["LAUNCH_ARGS", "MODULES", "NODES", "Graph", "NodeSpec", "bringup", "config_dir", "current_env",
           "node_command"]

MODULES = {s.executable: s.module for s in NODES}


def bringup(values: dict[str, object] | None = None) -> tuple[list[NodeSpec], dict[str, dict[str, str]]]:
    """The nodes and per-node parameter overrides that bringup.launch.py starts for these launch argument values.

    ``values``: launch argument name -> value (``{"record": False, "mic": "default"}``); the rest take their
    defaults. Returns ``(nodes, overrides)`` for :class:`Graph`.
    """
    chosen = selected(values)
    return [s for s, _ in chosen], {s.name: p for s, p in chosen if p}


def current_env() -> dict[str, str]:
    """This process's environment for the nodes, with unbuffered output so logs arrive as they happen."""
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
                 respawn_delay: float = RESPAWN_DELAY_S) -> None:
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
