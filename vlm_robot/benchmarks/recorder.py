"""`vlm-robot bench recorder`: disk and CPU of the recorder node per recording policy, same run, same feed.

Publishes 640x480 camera frames (scikit-image's astronaut photograph, or the demo scene's rendering when
scikit-image is missing, with Gaussian noise of sigma 2 grey levels as a camera adds) at ``fps`` and a
transcript a second into the real recorder node, once per policy,
for ``seconds`` each. Per policy: MB written per second, frames recorded per second, the recorder process's
CPU (user + system, % of one core), and the size relative to the first policy (raw frames, no compression:
what the recorder wrote before chunk compression existed). The bag of each run is read back and counted.
How well frames compress depends on the camera and the scene; compare the rows.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import numpy as np

from vlm_robot import graph
from vlm_robot.nodes import common

NOISE_SIGMA = 2.0  # grey levels, about a webcam's in daylight
POLICIES: tuple[tuple[str, dict[str, str]], ...] = (
    ("raw, no compression", {"compression": "none"}),
    ("raw, lz4", {"compression": "lz4"}),
    ("raw, zstd (default)", {"compression": "zstd"}),
    ("1 frame in 3, zstd", {"compression": "zstd", "image_every_n": "3"}),
    ("JPEG q80, zstd", {"compression": "zstd", "image_format": "jpeg"}),
)


def _frames(size: tuple[int, int] = (480, 640)) -> list[np.ndarray]:
    import cv2

    try:
        from skimage import data

        rgb = data.astronaut()
    except ImportError:
        from vlm_robot.sim.scene import Scene

        rgb = Scene.load(graph.config_dir().parent / "sim" / "scenes" / "demo.yaml").render(12.0)
    rgb = cv2.resize(rgb, (size[1], size[0]), interpolation=cv2.INTER_AREA)
    # a camera's sensor noise (a still photograph compresses far better than a real camera's frames)
    rng = np.random.default_rng(0)
    # 32 different frames: more than an MCAP chunk of JPEGs holds, so no chunk repeats a frame
    return [np.clip(rgb + rng.normal(0, NOISE_SIGMA, rgb.shape), 0, 255).astype(np.uint8) for _ in range(32)]


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process so far (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_policy(name: str, params: dict[str, str], out: Path, seconds: float, fps: float) -> dict[str, float]:
    from vlm_robot.bag import bag_summary
    from vlm_robot.nodes.convert import rgb_to_image
    from vlm_robot.observe import observed_graph

    frames = _frames()
    bag = out / ("".join(c if c.isalnum() else "_" for c in name))
    spec = next(s for s in graph.NODES if s.name == "recorder")
    g = graph.Graph([spec], {"recorder": {"output": str(bag), **params}}, log_dir=out / "logs")
    published = 0
    with observed_graph(g, "bench_recorder") as obs:
        pid = g.procs["recorder"].pid
        cpu0, t0 = _cpu_s(pid), time.time()
        next_say, k = t0, 0
        while time.time() - t0 < seconds:
            obs.image_pub.publish(rgb_to_image(frames[published % len(frames)], time.time()))
            published += 1
            if time.time() >= next_say:
                k += 1
                obs.say(f"sentence number {k} for the recording", tid=f"r{k}")
                next_say += 1.0
            time.sleep(max(0.0, t0 + published / fps - time.time()))
        time.sleep(0.5)
        cpu = _cpu_s(pid) - cpu0
        wall = time.time() - t0
    size = sum(p.stat().st_size for p in bag.glob("*.mcap"))
    counts = {t: n for t, (_, n) in bag_summary(bag).items()}
    frames = counts.get(common.IMAGE, 0) + counts.get(common.IMAGE + "/compressed", 0)
    return {"MB/s": size / 1e6 / wall, "frames recorded /s": frames / wall, "frames published /s": published / wall,
            "transcripts recorded": counts.get(common.TRANSCRIPT, 0), "recorder CPU %": 100 * cpu / wall,
            "MB": size / 1e6}


def main(seconds: float = 20.0, fps: float = 15.0) -> int:
    print(f"bench recorder: 640x480 photograph (+ noise sigma {NOISE_SIGMA:g}) at {fps:.0f} fps and a transcript "
          f"a second, {seconds:.0f} s per policy, through the recorder node")
    rows: list[tuple[str, dict[str, float]]] = []
    with tempfile.TemporaryDirectory(prefix="bench_recorder_") as tmp:
        for name, params in POLICIES:
            rows.append((name, run_policy(name, params, Path(tmp), seconds, fps)))
            r = rows[-1][1]
            print(f"  {name}: {r['MB/s']:.2f} MB/s, {r['frames recorded /s']:.1f} frames/s recorded "
                  f"(of {r['frames published /s']:.1f}), {r['transcripts recorded']} transcripts, "
                  f"recorder CPU {r['recorder CPU %']:.0f} %")
    base = rows[0][1]["MB/s"]
    print(f"\n{'policy':24}{'MB/s':>8}{'vs raw':>8}{'frames/s':>10}{'CPU %':>8}{'GB/hour':>9}")
    for name, r in rows:
        print(f"{name:24}{r['MB/s']:8.2f}{r['MB/s'] / base:8.2f}{r['frames recorded /s']:10.1f}"
              f"{r['recorder CPU %']:8.0f}{r['MB/s'] * 3.6:9.1f}")
    return 0
