"""Several of our nodes in one process (like ROS 2 composition), for robots with little memory.

Run:  python -m vlm_robot.nodes.composed camera perception reasoning -p camera:source:=sim/frames
      composed_node camera perception reasoning -p camera:source:=0       # the console script (setup.py)
      vlm-robot run --single-process      # the bringup: every node in one process, the recorder in its own

Each node reads its own parameter file from config/ (:data:`~vlm_robot.nodes.registry.NODES`): the files are
keyed by node name, so one rclpy context given every file applies each file to its own node. ``-p
NODE:PARAM:=VALUE`` sets one node's parameter (the value is YAML, as with ``--ros-args -p``); these go into one
more node-keyed file, read last. One Python interpreter, one rclpy context and one DDS participant replace one
of each per node (`vlm-robot bench resources` measures what that saves).

Executors (``--executor``): ``per-node`` (default) gives every node its own SingleThreadedExecutor on its own
thread, as each has in its own process, so a slow callback of one node does not hold up another's; ``shared``
spins all nodes in one SingleThreadedExecutor; ``multi`` in one MultiThreadedExecutor (which cost a third of the
frames in the per-process measurement, README "Performance").

Stopping (SIGINT/SIGTERM): every node but the recorder stops spinning and is closed (``node.close()``, all at
once, as separate processes would), then the recorder, so that it keeps their last messages. A crash: an
exception out of any node's callback (or a node that cannot start) stops and closes every node and exits
non-zero, and the graph respawns the whole process: all its nodes restart, not only the one that failed.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
import tempfile
import threading
import traceback
from pathlib import Path

import yaml

from vlm_robot.nodes.registry import NODES, NodeSpec

EXECUTORS = ("per-node", "shared", "multi")
LAST = "recorder"  # closed after the others, so that it records what they say while they stop


def node_class(spec: NodeSpec) -> type:
    """The one ``rclpy.node.Node`` subclass that ``spec``'s module defines (``CameraNode`` for camera_node)."""
    from rclpy.node import Node

    mod = importlib.import_module(spec.module)
    found = [c for c in vars(mod).values()
             if isinstance(c, type) and issubclass(c, Node) and c.__module__ == mod.__name__]
    if len(found) != 1:
        raise TypeError(f"{spec.module} defines {len(found)} Node classes ({[c.__name__ for c in found]}); "
                        "single-process mode needs exactly one per node module")
    return found[0]


def overrides_yaml(sets: list[str], names: list[str]) -> dict:
    """``["camera:source:=x", ...]`` -> ``{"camera": {"ros__parameters": {"source": "x"}}}`` (values read as YAML)."""
    out: dict[str, dict] = {}
    for item in sets:
        node, sep, rest = item.partition(":")
        param, eq, value = rest.partition(":=")
        if not (sep and eq and param) or node not in names:
            raise ValueError(f"-p {item!r}: expected NODE:PARAM:=VALUE with NODE one of {names}")
        parsed = yaml.safe_load(value) if value != "" else ""
        out.setdefault(node, {"ros__parameters": {}})["ros__parameters"][param] = parsed
    return out


class _Spinner:
    """One executor on its own thread; the first exception out of a callback is kept and stops the process."""

    def __init__(self, executor, on_crash) -> None:
        self.executor = executor
        self.stop = threading.Event()
        self.error = ""
        self._on_crash = on_crash
        self.thread = threading.Thread(target=self._run, name="executor", daemon=True)

    def _run(self) -> None:
        try:
            while not self.stop.is_set():
                self.executor.spin_once(timeout_sec=0.1)
        except Exception:  # noqa: BLE001 - reported, then the whole process exits non-zero (respawned)
            names = ", ".join(n.get_name() for n in self.executor.get_nodes())
            self.error = f"node(s) {names} crashed:\n{traceback.format_exc()}"
            self._on_crash()


def run(names: list[str], config_dir: Path, sets: list[str], executor: str = "per-node",
        ros_args: list[str] | None = None) -> int:
    """Create the nodes ``names`` in this process, spin them until SIGINT/SIGTERM or a crash, close them."""
    import rclpy
    import rclpy.executors
    import rclpy.signals

    specs = {s.name: s for s in NODES}
    unknown = [n for n in names if n not in specs]
    if unknown or not names or executor not in EXECUTORS:
        raise ValueError(f"nodes {names} (known: {list(specs)}), executor {executor!r} (one of {EXECUTORS})")
    order = [specs[n] for n in names]
    with tempfile.TemporaryDirectory(prefix="vlm_robot_composed_") as tmp:
        files = [str(config_dir / s.params_file) for s in order]
        if sets:  # read by rclpy.init, so the file may go when it returns
            (Path(tmp) / "overrides.yaml").write_text(yaml.safe_dump(overrides_yaml(sets, names)))
            files.append(str(Path(tmp) / "overrides.yaml"))
        args = ["composed", "--ros-args", *[a for f in files for a in ("--params-file", f)], *(ros_args or [])]
        rclpy.init(args=args, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    nodes = []
    for spec in order:
        try:
            nodes.append(node_class(spec)())
        except Exception as e:  # noqa: BLE001 - a node that cannot start says why; all exit (and are respawned)
            print(f"[vlm_robot] {spec.name} could not start: {type(e).__name__}: {e}", file=sys.stderr)
            _close(nodes, [])
            rclpy.try_shutdown()
            return 2
    if executor == "per-node":
        groups = [[n] for n in nodes]
    else:
        groups = [nodes]
    spinners = []
    for group in groups:
        ex = (rclpy.executors.MultiThreadedExecutor() if executor == "multi"
              else rclpy.executors.SingleThreadedExecutor())
        for n in group:
            ex.add_node(n)
        spinners.append(_Spinner(ex, stop.set))
    for s in spinners:
        s.thread.start()
    while not stop.wait(0.2):
        pass
    crashed = [s.error for s in spinners if s.error]
    for e in crashed:
        print(f"[vlm_robot] {e}", file=sys.stderr)
    closed = _close(nodes, spinners)
    rclpy.try_shutdown()
    return 1 if crashed or not closed else 0


def _close(nodes: list, spinners: list[_Spinner]) -> bool:
    """Stop spinning and close every node but the recorder (concurrently), then the recorder; False: a close failed."""
    failed: list[str] = []
    owner = {id(n): s for s in spinners for n in s.executor.get_nodes()}
    names = {id(n): n.get_name() for n in nodes}
    for last in (False, True):
        batch = [n for n in nodes if (names[id(n)] == LAST) == last]
        for n in batch:
            s = owner.get(id(n))
            if s is not None:
                s.executor.remove_node(n)
                if not s.executor.get_nodes():
                    s.stop.set()
                    s.thread.join(timeout=5.0)
                    s.executor.shutdown(timeout_sec=1.0)
        closers = [threading.Thread(target=_close_one, args=(n, names[id(n)], failed), name=f"close-{names[id(n)]}")
                   for n in batch]
        for t in closers:
            t.start()
        for t in closers:
            t.join()
    return not failed


def _close_one(node, name: str, failed: list[str]) -> None:
    try:
        close = getattr(node, "close", None)
        if close is not None:
            close()
    except Exception:  # noqa: BLE001 - one node's failing close must not keep the others from closing
        print(f"[vlm_robot] {name}: close failed:\n{traceback.format_exc()}", file=sys.stderr)
        failed.append(name)
    node.destroy_node()


def main(args: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if args is None else args)
    ros_args = argv[argv.index("--ros-args") + 1:] if "--ros-args" in argv else []
    argv = argv[:argv.index("--ros-args")] if "--ros-args" in argv else argv
    p = argparse.ArgumentParser(prog="vlm_robot.nodes.composed", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("nodes", nargs="+", help=f"node names, in start order: {', '.join(s.name for s in NODES)}")
    p.add_argument("-p", dest="sets", action="append", default=[], metavar="NODE:PARAM:=VALUE",
                   help="one node's parameter (after its parameter file); repeatable")
    p.add_argument("--config-dir", default="", help="the parameter files' folder (default: the package's config/)")
    p.add_argument("--executor", choices=EXECUTORS, default="per-node", help="default: %(default)s")
    a = p.parse_args(argv)
    from vlm_robot.paths import config_dir

    names = [n for item in a.nodes for n in item.split(",") if n]
    code = run(names, Path(a.config_dir) if a.config_dir else config_dir(), a.sets, a.executor, ros_args)
    # every node is closed and rclpy shut down; leave without interpreter finalisation, which can hang on the
    # speech models' native thread pools (as microphone_node's main does)
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


if __name__ == "__main__":
    raise SystemExit(main())
