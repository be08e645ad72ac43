"""The robot's node graph, started without ``ros2 launch``: same executables, same parameter files.

``launch/bringup.launch.py`` is the ROS 2 way to start these nodes; both take their list from
:mod:`vlm_robot.nodes.registry` (:data:`NODES`), as do setup.py's console scripts. Each node runs in its
own process, is restarted when it crashes (like ``respawn=True``), and is stopped with SIGINT.

Single-process mode (``Graph(..., single_process=True)``, `vlm-robot run --single-process`): the nodes run
together in one process, :mod:`vlm_robot.nodes.composed` (ROS 2 composition's idea), except those in ``apart``
(the recorder, by default), which keep their own. That saves one Python interpreter, rclpy context and DDS
participant per node (`vlm-robot bench resources`). A crash of any node in it respawns the whole process.
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
from vlm_robot.shm import clean_stale_segments

__all__ = ["APART", "COMPOSED", "LAUNCH_ARGS", "MODULES", "NODES", "Graph", "NodeSpec", "bringup", "composed_command",
           "config_dir", "current_env", "node_command"]

MODULES = {s.executable: s.module for s in NODES}
COMPOSED = "composed"  # single-process mode: the process (log file, procs/restarts key) of the nodes run together
# Single-process mode keeps the recorder in its own process: a crash elsewhere respawns the composed process but
# does not split the recording (which shows the crash), the recorder's Python callbacks for every raw frame do not
# take the interpreter from the nodes it records, and it still stops last. The viz node too: its JPEG encoding and
# Rerun calls for every shown frame must not take the interpreter from the robot's nodes (it never slows them).
APART: tuple[str, ...] = ("recorder", "viz")


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


def composed_command(specs: list[NodeSpec], cfg: Path, overrides: dict[str, dict[str, str]] | None = None,
                     executor: str = "per-node") -> list[str]:
    """``python -m vlm_robot.nodes.composed NODE... -p NODE:PARAM:=VALUE ...``: ``specs`` in one process."""
    cmd = [sys.executable, "-m", "vlm_robot.nodes.composed", *[s.name for s in specs], "--config-dir", str(cfg),
           "--executor", executor]
    for s in specs:
        for k, v in (overrides or {}).get(s.name, {}).items():
            cmd += ["-p", f"{s.name}:{k}:={v}"]
    return cmd


# a process that exits this soon after its start, again and again, is restarted less and less often
FAST_EXIT_S = 10.0
MAX_RESPAWN_DELAY_S = 30.0


class Graph:
    """Starts node processes, restarts crashed ones, stops them all in order.

    Args:
        nodes: which of :data:`NODES` to run.
        overrides: per node name, extra ``param:=value`` pairs.
        log_dir: each node's output goes to ``<log_dir>/<name>.log`` (None: inherit the terminal).
        respawn: restart a node that exits unexpectedly, after ``respawn_delay`` seconds; one that keeps exiting
            within :data:`FAST_EXIT_S` of its start waits twice as long each time, up to :data:`MAX_RESPAWN_DELAY_S`
            (a node that cannot start, restarted every second or two, only loaded the machine). Restarts happen
            in :meth:`poll`, which the owner calls in a loop.
        single_process: run the nodes in one process (:data:`COMPOSED`), but those named in ``apart``;
            ``procs``, ``restarts``, the exit codes and the log files are then per process: ``composed``
            and the names in ``apart`` (:meth:`process_of` finds a node's process).
        executor: single-process mode's executors (:data:`vlm_robot.nodes.composed.EXECUTORS`).
    """

    def __init__(self, nodes: list[NodeSpec], overrides: dict[str, dict[str, str]] | None = None,
                 env: dict[str, str] | None = None, log_dir: Path | None = None, respawn: bool = True,
                 respawn_delay: float = RESPAWN_DELAY_S, single_process: bool = False,
                 apart: tuple[str, ...] = APART, executor: str = "per-node") -> None:
        self.nodes = nodes
        self.overrides = overrides or {}
        self.env = env or current_env()
        self.log_dir = log_dir
        self.respawn = respawn
        self.respawn_delay = respawn_delay
        self.procs: dict[str, subprocess.Popen] = {}
        self.restarts: dict[str, int] = {}
        self.restart_in: dict[str, float] = {}  # unit -> seconds until its pending restart, as set by poll()
        self._started_at: dict[str, float] = {}
        self._fast_exits: dict[str, int] = {}  # unit -> exits in a row within FAST_EXIT_S of their start
        self._due: dict[str, float] = {}  # unit -> monotonic time of its pending restart
        self.executor = executor
        self._cfg = config_dir()
        self._stopping = False
        # process name -> its nodes: one process per node, or in single-process mode the composed one + apart
        self.units: dict[str, list[NodeSpec]] = {s.name: [s] for s in nodes}
        if single_process:
            together = [s for s in nodes if s.name not in apart]
            self.units = ({COMPOSED: together} if together else {}) | {
                s.name: [s] for s in nodes if s.name in apart}

    def process_of(self, node: str) -> subprocess.Popen:
        """The process that runs node ``node`` (its own, or the composed one in single-process mode)."""
        return next(self.procs[u] for u, specs in self.units.items() if any(s.name == node for s in specs))

    def _command(self, unit: str) -> list[str]:
        if unit == COMPOSED:
            return composed_command(self.units[unit], self._cfg, self.overrides, self.executor)
        spec = self.units[unit][0]
        return node_command(spec, self._cfg, self.overrides.get(spec.name))

    def _start(self, unit: str) -> None:
        out = None
        if self.log_dir is not None:
            self.log_dir.mkdir(parents=True, exist_ok=True)
            out = (self.log_dir / f"{unit}.log").open("ab")
        self._started_at[unit] = time.monotonic()
        self.procs[unit] = subprocess.Popen(self._command(unit), env=self.env,
                                            stdout=out, stderr=subprocess.STDOUT if out else None,
                                            start_new_session=True)

    def start(self) -> None:
        clean_stale_segments()  # what killed processes of an earlier run left in /dev/shm
        for unit in self.units:
            self._start(unit)

    def poll(self) -> list[str]:
        """Restart crashed processes when their delay is up; return the names of those that exited since the last
        poll (``restart_in`` says when each comes back)."""
        gone = []
        now = time.monotonic()
        for unit in self.units:
            p = self.procs.get(unit)
            if p is None or p.poll() is None or self._stopping or unit in self._due:
                continue
            gone.append(f"{unit} (exit {p.returncode})")
            if p.returncode < 0:  # killed by a signal: its Fast DDS segment stays in /dev/shm (RAM) unless removed
                clean_stale_segments()
            if self.respawn:
                fast = now - self._started_at.get(unit, now) < FAST_EXIT_S
                self._fast_exits[unit] = self._fast_exits.get(unit, 0) + 1 if fast else 0
                delay = min(MAX_RESPAWN_DELAY_S, self.respawn_delay * 2 ** max(0, self._fast_exits[unit] - 1))
                self.restart_in[unit] = max(delay, self.respawn_delay)
                self._due[unit] = now + self.restart_in[unit]
        for unit, at in list(self._due.items()):
            if now >= at and not self._stopping:
                del self._due[unit]
                self.restarts[unit] = self.restarts.get(unit, 0) + 1
                self._start(unit)
        return gone

    def last_words(self, unit: str) -> str:
        """The last line a process wrote to its log (why it exited), or ""."""
        if self.log_dir is None or not (self.log_dir / f"{unit}.log").is_file():
            return ""
        with (self.log_dir / f"{unit}.log").open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - 4000))
            lines = [ln.strip() for ln in f.read().decode("utf-8", "replace").splitlines() if ln.strip()]
        return lines[-1][:300] if lines else ""

    def stop(self, timeout: float = 15.0) -> dict[str, int]:
        """SIGINT every process, the recorder's last so it keeps their final messages; SIGKILL stragglers.

        Returns each process's exit code (per node, or per process in single-process mode).
        """
        self._stopping = True
        codes: dict[str, int] = {}
        has_recorder = {u for u, specs in self.units.items() if any(s.name == "recorder" for s in specs)}
        first = [n for n in self.procs if n not in has_recorder]
        last = [n for n in self.procs if n in has_recorder]
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
        if any(c < 0 for c in codes.values()):
            clean_stale_segments()
        return codes
