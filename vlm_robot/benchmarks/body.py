"""Bodies and hands: what each model costs, what perception costs with and without them, and what they find.

``python -m vlm_robot.benchmarks.body [what ...]`` with what in ``models``, ``stream``, ``graph``, ``found``
(default: models stream found):

- ``models``: per-model ms on one 640x480 frame with two people (the astronaut and Grace Hopper photographs side
  by side), faces-only perception (old) and faces + bodies (new) interleaved in the same run, medians;
- ``stream``: perception over 90 frames stamped at 30 fps (bodies due every 6th frame at 5 Hz), old and new
  alternated: per-frame ms mean / p50 / p95 / max and CPU ms per frame;
- ``graph``: perception + reasoning nodes fed 640x480 at 30 fps, body reading off and on alternated twice
  (``vlm_robot.benchmarks.pipeline.feed``): frames processed per second, frame -> result latency;
- ``found``: whether a body, its shoulders and hands are found on the photographs installed here, and on the
  MuJoCo room's rendered people over a grid of places (needs mujoco and EGL).
"""

from __future__ import annotations

import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

PHOTOS = {  # installed with scikit-image / matplotlib; None: not found here
    "astronaut": ("skimage", "data/astronaut.png"),
    "camera (cameraman)": ("skimage", "data/camera.png"),
    "grace_hopper": ("matplotlib", "mpl-data/sample_data/grace_hopper.jpg"),
}


def photo(name: str) -> np.ndarray | None:
    """An installed photograph as RGB, located without importing its package (None when absent)."""
    import importlib.util

    import cv2

    pkg, rel = PHOTOS[name]
    spec = importlib.util.find_spec(pkg)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / rel
    img = cv2.imread(str(path), cv2.IMREAD_COLOR) if path.is_file() else None
    return None if img is None else cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def two_people() -> np.ndarray:
    """640x480: the astronaut (left) and Grace Hopper (right), upper bodies, on grey."""
    import cv2

    can = np.full((480, 640, 3), 200, np.uint8)
    can[160:480, 0:320] = cv2.resize(photo("astronaut"), (320, 320), interpolation=cv2.INTER_AREA)
    can[128:480, 330:630] = cv2.resize(photo("grace_hopper"), (300, 352), interpolation=cv2.INTER_AREA)
    return can


def _perceivers(thread: bool = False):
    from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig

    return Perceiver(PerceptionConfig(body=False)), Perceiver(PerceptionConfig(body=True, body_thread=thread))


def models(rounds: int = 30) -> None:
    from vlm_robot.core.types import Frame

    old, new = _perceivers()
    frame = two_people()
    stages: dict[str, list[float]] = {}
    totals: dict[str, list[float]] = {"old": [], "new": []}
    for i in range(rounds + 3):
        for name, p in (("old", old), ("new", new)):
            p._bodies = None  # bodies due on every call: their full cost
            r = p.process(Frame(frame, float(i)))
            if i < 3:
                continue
            totals[name].append(r.latency_ms)
            for k, v in p.timings.items():
                stages.setdefault(f"{name} {k}", []).append(v)
            if name == "new":
                for k, v in p.body.ms.items():
                    stages.setdefault(f"  body: {k}", []).append(v)
                found = (len(r.faces), len(r.bodies))
    print(f"models: one 640x480 frame, 2 people (astronaut + Grace Hopper photographs), {rounds} rounds, "
          f"old and new interleaved; found {found[0]} faces, {found[1]} bodies")
    print(f"{'stage':34}{'median ms':>10}{'p90 ms':>9}")
    for k, v in sorted(stages.items(), key=lambda kv: (not kv[0].startswith("old"), kv[0].startswith("  "), kv[0])):
        print(f"{k:34}{statistics.median(v):>10.1f}{np.percentile(v, 90):>9.1f}")
    a, b = statistics.median(totals["old"]), statistics.median(totals["new"])
    print(f"{'old: faces only, total':34}{a:>10.1f}")
    print(f"{'new: faces + bodies, total':34}{b:>10.1f}   ratio new/old {b / a:.2f} (bodies measured this frame)")


def stream(seconds: float = 6.0, fps: float = 30.0, rounds: int = 2) -> None:
    """A camera at ``fps`` (the frame of the current moment; latest frame wins, as in the node's worker)."""
    from vlm_robot.core.types import Frame

    img = two_people()
    designs = {"old: faces only": _perceivers()[0], "new: bodies in process()": _perceivers(False)[1],
               "new: bodies on a thread": _perceivers(True)[1]}
    rows: dict[str, list[tuple[float, list[float], float, int]]] = {k: [] for k in designs}
    for r in range(rounds):
        for name, p in designs.items():
            wall, with_bodies = [], 0
            c0, t0 = time.process_time(), time.perf_counter()
            last = -1
            while time.perf_counter() - t0 < seconds:
                k = int((time.perf_counter() - t0) * fps)
                if k == last:
                    time.sleep(max(0.0, t0 + (k + 1) / fps - time.perf_counter()))
                    continue
                last = k
                t = time.perf_counter()
                res = p.process(Frame(img, 1000.0 * r + k / fps))
                wall.append((time.perf_counter() - t) * 1000)
                with_bodies += bool(res.bodies)
            el = time.perf_counter() - t0
            rows[name].append((len(wall) / el, wall, (time.process_time() - c0) / el, with_bodies))
    for p in designs.values():
        p.close()
    print(f"\nstream: a {fps:.0f} fps camera, latest frame wins, {seconds:.0f} s x {rounds} rounds per design, "
          f"designs alternated; bodies at {designs['new: bodies on a thread'].config.body_rate_hz:.0f} Hz")
    print(f"{'':28}{'frames/s':>9}{'p50 ms':>8}{'p95 ms':>8}{'max ms':>8}{'CPU cores':>10}{'with bodies':>12}")
    for name, rs in rows.items():
        w = [x for _, ws, _, _ in rs for x in ws]
        print(f"{name:28}{' / '.join(f'{f:.1f}' for f, _, _, _ in rs):>9}{np.percentile(w, 50):>8.1f}"
              f"{np.percentile(w, 95):>8.1f}{max(w):>8.1f}{statistics.mean(c for _, _, c, _ in rs):>10.2f}"
              f"{sum(b for *_, b in rs) / max(len(w), 1):>12.2f}")


def graph_run(seconds: float = 20.0, fps: float = 30.0) -> None:
    from vlm_robot import graph
    from vlm_robot.benchmarks.pipeline import feed

    nodes = [s for s in graph.NODES if s.name in ("perception", "reasoning")]
    frames = [two_people()]
    rows = []
    for k in range(2):
        for body in ("false", "true"):
            run = feed(f"body {body} #{k + 1}", nodes, seconds, fps, frames=frames,
                       overrides={"perception": {"perception.body": body}})
            rows.append((run.name, run.row()))
    print(f"\ngraph: perception + reasoning nodes, 640x480 at {fps:.0f} fps (2 people), {seconds:.0f} s per run")
    print(f"{'':16}{'published/s':>12}{'processed/s':>12}{'p50 ms':>9}{'p95 ms':>9}")
    for name, r in rows:
        print(f"{name:16}{r['frames published /s']:>12.1f}{r['frames processed /s']:>12.1f}"
              f"{r['frame->result p50 ms']:>9.1f}{r['frame->result p95 ms']:>9.1f}")


def found() -> None:
    from vlm_robot.core.types import Face
    from vlm_robot.perception.body import BodyConfig, BodyReader
    from vlm_robot.perception.pipeline import Perceiver

    reader = BodyReader(BodyConfig())
    faces = Perceiver().faces
    print("\nfound on photographs (installed here):")
    imgs = {n: photo(n) for n in PHOTOS}
    imgs["two people (composite)"] = two_people()
    for name, img in imgs.items():
        if img is None:
            print(f"  {name}: not installed")
            continue
        fs = [Face(d.box, d.score) for d in faces.detect(img)]
        bodies = reader.read(img, 0.0, fs)
        hands = reader.hands(img)
        desc = [f"body (face {b.face_index}, shoulders {'seen' if b.shoulders_valid else 'not seen'}, "
                f"yaw {b.shoulder_yaw_deg:+.0f} deg, {b.distance_m:.2f} m, gesture {b.gesture})" for b in bodies]
        print(f"  {name} {img.shape[1]}x{img.shape[0]}: {len(fs)} faces, {len(bodies)} bodies, {len(hands)} hands "
              f"({', '.join(h.gesture for h in hands) or '-'}); " + "; ".join(desc))
    try:
        from vlm_robot.sim.world import World
    except Exception as e:  # noqa: BLE001 - mujoco or EGL missing: say so
        print(f"\nMuJoCo room: not measured ({type(e).__name__}: {e})")
        return
    print("\nfound on the MuJoCo room's rendered people (2 people facing the robot, 640x480):")
    world = World({"a": "astronaut", "b": "lfw:6"}, 640, 480)
    per: dict[str, list[int]] = {"a": [0, 0, 0], "b": [0, 0, 0]}  # in view, body found, shoulders found
    yaw_err, dist_err = [], []
    gestures, hands, renders = 0, 0, 0
    try:
        for da in (1.2, 1.6, 2.0, 2.5, 3.0):
            for db in (1.5, 2.2, 3.0, 3.8):
                for ya, yb in ((0.4, -0.6), (-0.5, 0.5)):
                    world.set_person("a", da, ya, math.atan2(-ya, -da))
                    world.set_person("b", db, yb, math.atan2(-yb, -db))
                    world.step(0.0)
                    img = world.render()
                    fs = [Face(d.box, d.score) for d in faces.detect(img)]
                    bodies = reader.read(img, 0.0, fs)
                    renders += 1
                    gestures += sum(b.gesture != "none" for b in bodies)
                    hands += sum(b.hands for b in bodies)
                    for n, d in (("a", math.hypot(da, ya)), ("b", math.hypot(db, yb))):
                        where = world.face_pixel(n)
                        if where is None:
                            continue
                        per[n][0] += 1
                        u, v, fw = where
                        near = [b for b in bodies if b.pose_valid and b.keypoints
                                and math.hypot(b.keypoints[0][0] - u, b.keypoints[0][1] - v) < fw]
                        if near:
                            per[n][1] += 1
                            b = near[0]
                            if b.shoulders_valid:
                                per[n][2] += 1
                                yaw_err.append(abs(b.shoulder_yaw_deg))  # truth: square on to the camera (0)
                                dist_err.append(b.distance_m / d - 1.0)
        turned = []
        world.set_person("b", 0.0, 0.0, 0.0, present=False)
        for delta in (-60, -30, 0, 30, 60):
            world.set_person("a", 1.6, 0.0, math.pi + math.radians(delta))
            world.step(0.0)
            img = world.render()
            bs = [b for b in reader.read(img, 0.0, [Face(d.box, d.score) for d in faces.detect(img)])
                  if b.shoulders_valid]
            turned.append((delta, f"{bs[0].shoulder_yaw_deg:+.0f}" if bs else "not found"))
    finally:
        world.close()
    print(f"  {renders} renders: {hands} hands found, {gestures} gestures read (the figures have capsule arms and "
          f"no hands)")
    print("  the astronaut figure alone at 1.6 m, body turned (truth deg -> shoulder yaw read): "
          + ", ".join(f"{d:+d} -> {r}" for d, r in turned))
    for n, face in (("a", "astronaut"), ("b", "lfw:6")):
        seen, body, sh = per[n]
        print(f"  person with face {face}: in view {seen}, body found {body}, shoulders {sh}")
    if yaw_err:
        print(f"  shoulder yaw |error| (truth 0): median {statistics.median(yaw_err):.0f} deg, max {max(yaw_err):.0f}; "
              f"distance / truth - 1: median {statistics.median(dist_err):+.2f} (figure's torso 0.40 m wide, "
              f"assumed 0.39)")


def main(argv: list[str]) -> int:
    what = argv or ["models", "stream", "found"]
    for w in what:
        {"models": models, "stream": stream, "graph": graph_run, "found": found}[w]()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
