"""`vlm-robot bench sim`: how fast the simulation renders and how fast perception reads its frames.

Measured on this machine, in one run: MuJoCo rendering of the room from the head camera at 640x480
and 320x240 while two people walk, the 2D compositor of the demo scenes (vlm_robot/sim/scene.py) as the
baseline, the real perception models on each kind of frame, and the whole lockstep loop through the
node graph (one scenario) as sim seconds per wall second.
"""

from __future__ import annotations

import math
import statistics
import time
from pathlib import Path


def _rate(fn, seconds: float, min_n: int = 5) -> tuple[float, list[float]]:
    """Calls per second of ``fn`` over about ``seconds`` (at least ``min_n`` calls), and each call's time."""
    times: list[float] = []
    end = time.perf_counter() + seconds
    while time.perf_counter() < end or len(times) < min_n:
        t0 = time.perf_counter()
        fn(len(times))
        times.append(time.perf_counter() - t0)
    return len(times) / sum(times), times


def _walkers(world, i: int) -> None:
    t = i * 0.2
    world.set_person("guest", 1.6, 0.5 * math.sin(t / 2), math.pi)
    world.set_person("visitor", 2.2, -0.6 + 0.3 * math.cos(t / 3), math.pi)


def main(seconds: float = 10.0, scenario: str = "greet_sad_visitor") -> int:
    from vlm_robot.core.types import Frame
    from vlm_robot.perception.pipeline import Perceiver
    from vlm_robot.sim.scene import Scene
    from vlm_robot.sim.world import World

    per = max(2.0, seconds / 6)
    perceiver = Perceiver()
    rows = []
    for w, h in ((640, 480), (320, 240)):
        t0 = time.perf_counter()
        world = World({"guest": "astronaut", "visitor": "lfw:6"}, w, h)
        build_s = time.perf_counter() - t0
        frames: list = []

        def render(i: int, world=world, frames=frames) -> None:
            _walkers(world, i)
            frames.append(world.render())

        fps, _ = _rate(render, per)
        pfps, ptimes = _rate(lambda i, frames=frames: perceiver.process(Frame(frames[i % len(frames)], i / 10)), per)
        seen = sum(bool(perceiver.process(Frame(f, 0.0)).faces) for f in frames[:20]) / min(20, len(frames))
        world.close()
        rows.append((f"MuJoCo room {w}x{h}", fps, pfps, statistics.median(ptimes) * 1000, seen, build_s))
    scene = Scene.load(Path(__file__).resolve().parents[2] / "sim/scenes/demo.yaml")
    flat: list = []
    fps, _ = _rate(lambda i: flat.append(scene.render(3.0 + (i % 50) * 0.1)), per)
    pfps, ptimes = _rate(lambda i: perceiver.process(Frame(flat[i % len(flat)], i / 10)), per)
    seen = sum(bool(perceiver.process(Frame(f, 0.0)).faces) for f in flat[:20]) / min(20, len(flat))
    rows.append(("2D compositor 640x480 (baseline)", fps, pfps, statistics.median(ptimes) * 1000, seen, 0.0))
    base = rows[-1][1]
    print(f"{'frames':<34}{'render fps':>11}{'vs 2D':>8}{'perception fps':>16}{'p50 ms':>8}{'faces found':>13}"
          f"{'build s':>9}")
    for name, fps, pfps, p50, seen, build in rows:
        print(f"{name:<34}{fps:>11.1f}{fps / base:>7.2f}x{pfps:>16.1f}{p50:>8.1f}{seen:>12.0%}{build:>9.2f}")
    if scenario:
        from vlm_robot.isolate import loopback_defaults
        from vlm_robot.sim.cli import select
        from vlm_robot.sim.runner import run_scenario

        loopback_defaults()
        (sc,) = select(scenario, False, False)
        res = run_scenario(sc, Path("out/bench_sim"), record=False)
        print(f"lockstep through the graph ({sc.name}): {res.frames} frames, {sc.duration_s:g} sim s in "
              f"{res.loop_s:.1f} wall s = {res.frames / max(res.loop_s, 1e-9):.1f} frames/s, real-time factor "
              f"{sc.duration_s / max(res.loop_s, 1e-9):.2f} ({res.wall_s:.1f} s with graph start-up); "
              f"{'pass' if res.passed else 'FAIL'}")
    return 0
