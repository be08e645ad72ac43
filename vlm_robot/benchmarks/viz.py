"""`vlm-robot bench viz`: what showing the robot in Rerun costs the robot, against the same run without it.

1. Per frame, in this process, through the code viz_node runs (:class:`~vlm_robot.viz.layout.VizSession`, sending
   to a real Rerun viewer on 127.0.0.1): logging one 640x480 camera frame (raw CDR in, decoded, JPEG q80 or raw)
   and one frame's people and tracked people, against the robot's own per-frame work on the same frame
   (perception: face detection and expression), interleaved rounds, medians.
2. In the ROS graph: perception and reasoning fed 640x480 frames (two faces) at ``fps`` without viz_node and with
   it at 5 and 15 shown frames a second (:data:`RATES`), alternating runs of ``seconds``: frames processed per
   second and frame -> result latency. The viewer runs throughout (idle without viz_node).
   No browser is attached (it renders on the user's machine; here it would take the cores the robot needs).
3. What the [viz] extra installs: rerun-sdk and those of its dependencies that nothing else installed needs.
"""

from __future__ import annotations

import re
import statistics
import sys
import tempfile
import time
from pathlib import Path

from vlm_robot import graph

ROUNDS = 5
PER_ROUND = 100  # CPU times tick in 10 ms: 0.1 ms resolution per call
RATES = (0.0, 5.0, 15.0)  # viz_node's max_rate_hz in the graph runs (0: no viz_node)


def _label(hz: float) -> str:
    return f"with viz_node, {hz:g}/s" if hz else "without viz_node"


def _frame_messages():
    """A demo-scene frame (two faces) as raw CDR, with its people and tracked people as raw CDR."""
    from rclpy.serialization import serialize_message

    from vlm_robot.core.types import Frame
    from vlm_robot.nodes import messages
    from vlm_robot.nodes.convert import rgb_to_image
    from vlm_robot.perception.pipeline import Perceiver
    from vlm_robot.reasoning.tracker import PeopleTracker
    from vlm_robot.sim.scene import Scene

    scene = Scene.load(graph.config_dir().parent / "sim" / "scenes" / "demo.yaml")
    rgb = scene.render(14.0)
    perceiver, tracker = Perceiver(), PeopleTracker()
    result = perceiver.process(Frame(rgb, time.time()))
    people = tracker.update(result)
    raw = {
        "image": serialize_message(rgb_to_image(rgb, time.time())),
        "people": serialize_message(messages.to_msg("people", result.to_dict())),
        "person_states": serialize_message(messages.to_msg(
            "person_states", {"stamp": result.stamp, "people": [p.to_dict() for p in people]})),
    }
    return rgb, perceiver, raw, len(result.faces)


def per_frame_cost(viewer_url: str, viewer_pid: int) -> dict[str, tuple[float, float, float]]:
    """Per call, medians over rounds: (wall ms, CPU ms of this process, CPU ms of the viewer).

    CPU time counts every thread (Rerun batches, encodes and sends on its own threads after ``log`` returns);
    each round ends with a flush so that its work is inside the round.
    """
    import psutil
    import rerun as rr

    from vlm_robot.core.types import Frame
    from vlm_robot.nodes import topics
    from vlm_robot.viz.config import VizConfig
    from vlm_robot.viz.layout import VizSession

    rgb, perceiver, raw, faces = _frame_messages()
    rec = rr.RecordingStream("vlm_robot_bench")
    rec.connect_grpc(viewer_url)
    jpeg, plain = VizSession(rec, VizConfig()), VizSession(rec, VizConfig(image_format="raw"))
    jpeg.tracked = plain.tracked = True
    cases = {
        "perception (baseline)": lambda: perceiver.process(Frame(rgb, time.time())),
        "log frame, jpeg q80": lambda: jpeg.handle(topics.IMAGE, raw["image"], time.time()),
        "log frame, raw": lambda: plain.handle(topics.IMAGE, raw["image"], time.time()),
        f"log people + person_states ({faces} faces)": lambda: (
            jpeg.handle(topics.PEOPLE, raw["people"], time.time()),
            jpeg.handle(topics.PERSON_STATES, raw["person_states"], time.time())),
    }
    viewer = psutil.Process(viewer_pid)

    def cpu(p) -> float:
        t = p.cpu_times()
        return t.user + t.system

    me = psutil.Process()
    times: dict[str, list[tuple[float, float, float]]] = {k: [] for k in cases}
    for fn in cases.values():  # warm up (model first run, first connection)
        fn()
    rec.flush(timeout_sec=5.0)
    for _ in range(ROUNDS):
        for name, fn in cases.items():
            w0, c0, v0 = time.perf_counter(), cpu(me), cpu(viewer)
            for _ in range(PER_ROUND):
                fn()
            rec.flush(timeout_sec=5.0)
            times[name].append(((time.perf_counter() - w0) * 1000 / PER_ROUND, (cpu(me) - c0) * 1000 / PER_ROUND,
                                (cpu(viewer) - v0) * 1000 / PER_ROUND))
    rec.disconnect()
    return {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in times.items()}


def _viz_cmd(url: str, log: Path, hz: float) -> list[str]:
    cfg = graph.config_dir() / "viz.yaml"
    py = f"{sys.executable} -m vlm_robot.nodes.viz_node --ros-args --params-file {cfg} -p url:={url} " \
         f"-p max_rate_hz:={hz}"
    return ["sh", "-c", f"exec {py} > {log} 2>&1"]  # exec: the pid feed() signals is viz_node's


def _name(req: str) -> str:
    return re.split(r"[ ;<>=!~\[(]", req, maxsplit=1)[0].lower().replace("_", "-")


def installed_mb(root: str = "rerun-sdk") -> dict[str, float]:
    """MB on disk (the wheels' RECORD) of ``root`` and of its dependencies that nothing else installed here needs."""
    from importlib import metadata

    needs: dict[str, set[str]] = {}
    for d in metadata.distributions():
        for req in d.requires or []:
            if "extra ==" not in req:
                needs.setdefault(_name(req), set()).add(d.metadata["Name"].lower().replace("_", "-"))
    try:
        deps = {_name(r) for r in metadata.distribution(root).requires or [] if "extra ==" not in r}
    except metadata.PackageNotFoundError:
        return {}
    only = [root, *sorted(d for d in deps if needs.get(d, set()) <= {root})]
    out = {}
    for dist in only:
        try:
            out[dist] = sum((f.size or 0) for f in metadata.distribution(dist).files or []) / 1e6
        except metadata.PackageNotFoundError:
            continue
    return out


def main(seconds: float = 20.0, fps: float = 30.0) -> int:
    from vlm_robot.benchmarks.pipeline import feed
    from vlm_robot.viz.viewer import Viewer

    print(f"bench viz: the cost of viz_node to the robot; 640x480 frames, 2 faces, {fps:.0f} fps, "
          f"{seconds:.0f} s per run")
    with tempfile.TemporaryDirectory() as tmp, Viewer(None, grpc_port=0, web_port=0) as viewer:
        cost = per_frame_cost(viewer.grpc_url, viewer.pid)
        base = cost["perception (baseline)"][1]
        print(f"\n1. per call, medians of {ROUNDS} interleaved rounds of {PER_ROUND} (to a viewer on 127.0.0.1); CPU: "
              "all threads:")
        print(f"  {'':44} {'wall ms':>8} {'CPU ms':>8} {'viewer CPU ms':>14}   CPU vs perception, at 5 / 15 per s")
        for k, (wall, cpu_ms, viewer_ms) in cost.items():
            extra = "" if k.startswith("perception") else (
                f"   {cpu_ms / base:.2f}x, {cpu_ms * 5 / 10:.1f} % / {cpu_ms * 15 / 10:.1f} % of a core")
            print(f"  {k:44} {wall:8.2f} {cpu_ms:8.2f} {viewer_ms:14.2f}{extra}")
        nodes = [s for s in graph.NODES if s.name in ("perception", "reasoning")]
        rows, notes = {}, []
        for i in range(2):
            for hz in RATES:
                name = f"{_label(hz)} #{i + 1}"
                log = Path(tmp) / f"viz{i}_{hz:g}.log"
                run = feed(name, nodes, seconds, fps, extra_cmd=_viz_cmd(viewer.grpc_url, log, hz) if hz else None)
                rows[name] = run.row()
                if hz:
                    text = log.read_text(errors="replace") if log.exists() else ""
                    m = re.search(r"viz: \d+ frames shown.*", text)
                    notes.append(f"{name}: " + (m.group(0) if m else f"(no summary in the viz_node log {log})"))
    keys = ["frames processed /s", "frame->result p50 ms", "frame->result p95 ms"]
    print(f"\n2. perception and reasoning in the ROS graph, alternating runs:\n{'':32}" +
          "".join(f"{k:>22}" for k in keys))
    for name, row in rows.items():
        print(f"{name:32}" + "".join(f"{row[k]:>22.1f}" for k in keys))
    avg = {hz: {k: statistics.mean(r[k] for n, r in rows.items() if n.startswith(_label(hz))) for k in keys}
           for hz in RATES}
    for hz in RATES[1:]:
        print(f"ratio {_label(hz)} / without: " + ", ".join(
            f"{k} {avg[hz][k] / max(avg[0.0][k], 1e-9):.2f}" for k in keys))
    for n in notes:
        print(f"  {n}")
    sizes = installed_mb()
    print("\n3. the [viz] extra installs: " + ", ".join(f"{k} {v:.0f} MB" for k, v in sizes.items()) +
          f" = {sum(sizes.values()):.0f} MB (rerun-sdk and what only it needs here)")
    return 0 if rows else 1


if __name__ == "__main__":
    raise SystemExit(main(float(sys.argv[1]) if len(sys.argv) > 1 else 20.0))
