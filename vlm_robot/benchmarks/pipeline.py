"""`vlm-robot bench pipeline`: latest-frame-wins against inference in the image callback, same run, same feed.

Feeds 640x480 frames at 30 fps (two faces in view) and a transcript every few seconds into
(a) our perception and reasoning nodes, then (b) a naive perception node that runs the same
models inside its image callback on every frame with a default depth-10 reliable queue, as
many ROS examples do. Prints frames received and processed per second, frame -> result
latency p50/p95 for the first and the last third of the run, and transcript -> first reply
token latency. Absolute numbers depend on the machine; compare the two columns.
"""

from __future__ import annotations

import sys
import threading
import time
from dataclasses import dataclass, field

from vlm_robot import graph
from vlm_robot.nodes import common


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * (len(s) - 1) + 0.5))]


@dataclass
class Run:
    name: str
    seconds: float
    published: int = 0
    results: list[tuple[float, float]] = field(default_factory=list)  # (frame stamp, latency s)
    first_token: list[float] = field(default_factory=list)

    def row(self) -> dict[str, float]:
        lat = [lat for _, lat in self.results]
        t0 = min((s for s, _ in self.results), default=0.0)
        third = self.seconds / 3
        early = [lat for s, lat in self.results if s - t0 < third]
        late = [lat for s, lat in self.results if s - t0 >= 2 * third]
        return {
            "frames published /s": self.published / self.seconds,
            "frames processed /s": len(self.results) / self.seconds,
            "frame->result p50 ms": 1000 * pct(lat, 0.5),
            "frame->result p95 ms": 1000 * pct(lat, 0.95),
            "p50 ms, first third": 1000 * pct(early, 0.5),
            "p50 ms, last third": 1000 * pct(late, 0.5),
            "transcript->1st token p50 ms": 1000 * pct(self.first_token, 0.5),
            "transcript->1st token p95 ms": 1000 * pct(self.first_token, 0.95),
        }


def feed(name: str, nodes: list[graph.NodeSpec], seconds: float, fps: float = 30.0,
         say_every: float = 3.0, extra_cmd: list[str] | None = None, frames: list | None = None,
         overrides: dict[str, dict[str, str]] | None = None) -> Run:
    """Start ``nodes`` (and ``extra_cmd``), feed frames and transcripts, collect latencies.

    ``frames``: RGB frames to cycle through (default: the demo scene's); ``overrides``: node parameters on top of
    the benchmark's own (``{"perception": {"perception.body": "true"}}``)."""
    import subprocess

    from vlm_robot.nodes.convert import rgb_to_image
    from vlm_robot.observe import observed_graph
    from vlm_robot.sim.scene import Scene

    scene = Scene.load(graph.config_dir().parent / "sim" / "scenes" / "demo.yaml")
    if frames is None:
        frames = [scene.render(12.0 + i * 0.1) for i in range(4)]  # rendered once: the feed costs no drawing
    run = Run(name, seconds)
    said: dict[str, float] = {}
    lock = threading.Lock()

    def on_event(ev) -> None:
        with lock:
            if ev.topic == common.PEOPLE:
                run.results.append((ev.body["stamp"], ev.received - ev.body["stamp"]))
            elif ev.topic == common.REPLY_CHUNK and ev.body["index"] == 0 and ev.body["in_reply_to"] in said:
                run.first_token.append(ev.received - said.pop(ev.body["in_reply_to"]))

    params: dict[str, dict[str, str]] = {"reasoning": {"memory.path": "''"}}  # no memory kept between runs
    for node, values in (overrides or {}).items():
        params[node] = {**params.get(node, {}), **values}
    g = graph.Graph(nodes, params, log_dir=None)
    extra = subprocess.Popen(extra_cmd, env=graph.current_env()) if extra_cmd else None
    node_name = "bench_" + "".join(c if c.isalnum() else "_" for c in name)
    try:
        with observed_graph(g, node_name, on_event=on_event) as obs:
            deadline = time.monotonic() + 60
            while obs.count_subscribers(common.IMAGE) < 1 + (extra is not None) and time.monotonic() < deadline:
                time.sleep(0.1)
            time.sleep(2.0)
            t0 = time.time()
            next_say, k = t0 + 1.0, 0
            while time.time() - t0 < seconds:
                t = time.time()
                obs.image_pub.publish(rgb_to_image(frames[run.published % len(frames)], t))
                run.published += 1
                if t >= next_say:
                    k += 1
                    with lock:
                        said[f"b{k}"] = time.time()
                    obs.say("Hello robot, what can you do for me?", tid=f"b{k}")
                    next_say += say_every
                time.sleep(max(0.0, t0 + run.published / fps - time.time()))
            time.sleep(1.0)
    finally:
        if extra is not None:
            extra.send_signal(2)
            extra.wait(timeout=10)
    return run


def naive_node_main() -> int:
    """A perception node done the naive way: inference in the image callback, every frame, depth-10 queue."""
    from rclpy.node import Node
    from sensor_msgs.msg import Image

    from vlm_robot.core.image import image_to_rgb
    from vlm_robot.core.types import Frame
    from vlm_robot.nodes import messages
    from vlm_robot.perception.pipeline import Perceiver

    class NaivePerception(Node):
        def __init__(self) -> None:
            super().__init__("naive_perception")
            self.perceiver = Perceiver()
            self.pub = messages.publisher(self, common.PEOPLE)
            self.create_subscription(Image, common.IMAGE, self.on_image, 10)  # default reliable, depth 10

        def on_image(self, msg: Image) -> None:
            rgb = image_to_rgb(msg.height, msg.width, msg.encoding, msg.step, msg.data)
            stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
            result = self.perceiver.process(Frame(rgb, stamp))
            self.pub.publish(messages.to_msg("people", result.to_dict()))

    return common.spin_node(NaivePerception)


def proactive(trials: int = 10, fps: float = 15.0) -> int:
    """From a visible change of expression (happy -> sad, same place) to the robot's greeting and its audio.

    The reasoning node runs with ``linger_s`` so long that only the concern rule can fire, and with no
    cooldown or quiet time between trials; each trial starts with an empty room so that the tracker
    forgets the last person.
    """
    from vlm_robot.nodes.convert import rgb_to_image
    from vlm_robot.observe import observed_graph
    from vlm_robot.sim.scene import Scene, ScenePerson

    happy = ScenePerson("before", "astronaut", 0.0, 1e9, (320, 200), 120)
    sad = ScenePerson("after", "lfw:6", 0.0, 1e9, (320, 200), 120)
    scenes = {k: Scene("bench", 1.0, fps, (640, 480), people, []) for k, people in
              (("empty", []), ("happy", [happy]), ("sad", [sad]))}
    frames = {k: s.render(0.5) for k, s in scenes.items()}
    overrides = {"reasoning": {"proactive.linger_s": "1000.0", "proactive.cooldown_s": "0.0",
                               "proactive.quiet_s": "0.0", "memory.path": "''"}}
    g = graph.Graph([s for s in graph.NODES if s.name in ("perception", "reasoning", "speech_out")], overrides,
                    log_dir=None)
    to_words, to_audio = [], []
    print(f"bench proactive: {trials} trials, 640x480 at {fps:.0f} fps; happy for 2 s, then sad in the same place")
    with observed_graph(g, "bench_proactive") as obs:

        def show(kind: str, seconds: float) -> None:
            end = time.time() + seconds
            while time.time() < end:
                obs.image_pub.publish(rgb_to_image(frames[kind], time.time()))
                time.sleep(1 / fps)

        for i in range(trials):
            show("empty", 2.5)
            show("happy", 2.0)
            n_utt, n_done = len(obs.seen.of(common.UTTERANCE)), len(obs.seen.of(common.SPEECH_DONE))
            t_change = time.time()
            deadline = t_change + 10
            while time.time() < deadline and len(obs.seen.of(common.SPEECH_DONE)) <= n_done:
                obs.image_pub.publish(rgb_to_image(frames["sad"], time.time()))
                time.sleep(1 / fps)
            utt = [e for e in obs.seen.events if e.topic == common.UTTERANCE][n_utt:]
            done = [e for e in obs.seen.events if e.topic == common.SPEECH_DONE][n_done:]
            if utt and done:
                to_words.append(utt[0].received - t_change)
                to_audio.append(done[0].received - t_change)
                print(f"  trial {i + 1}: greeting decided after {to_words[-1]:.2f} s, audio ready after "
                      f"{to_audio[-1]:.2f} s: \"{utt[0].body['text']}\"")
            else:
                print(f"  trial {i + 1}: no greeting within 10 s")
    print(f"\nchange of expression -> greeting decided: p50 {pct(to_words, 0.5):.2f} s, "
          f"p95 {pct(to_words, 0.95):.2f} s")
    print(f"change of expression -> first audio ready (espeak-ng WAV): p50 {pct(to_audio, 0.5):.2f} s, "
          f"p95 {pct(to_audio, 0.95):.2f} s  (target p50 <= 1.5 s)")
    return 0 if len(to_audio) == trials else 1


def main(what: str, seconds: float, fps: float = 30.0) -> int:
    if what == "proactive":
        return proactive()
    if what != "pipeline":
        raise ValueError(f"unknown benchmark {what!r}")
    ours_nodes = [s for s in graph.NODES if s.name in ("perception", "reasoning")]
    print(f"bench pipeline: 640x480 frames at {fps:.0f} fps, 2 faces, a transcript every 3 s, "
          f"{seconds:.0f} s per design")
    ours = feed("latest-frame-wins", ours_nodes, seconds, fps)
    naive = feed("naive (in callback)", [s for s in graph.NODES if s.name == "reasoning"], seconds, fps,
                 extra_cmd=[sys.executable, "-m", "vlm_robot.benchmarks.pipeline", "naive-node"])
    a, b = ours.row(), naive.row()
    print(f"\n{'':34}{ours.name:>20}{naive.name:>22}")
    for k in a:
        print(f"{k:34}{a[k]:>20.1f}{b[k]:>22.1f}")
    growth_ours = a["p50 ms, last third"] - a["p50 ms, first third"]
    growth_naive = b["p50 ms, last third"] - b["p50 ms, first third"]
    print(f"\nlatency growth first->last third: ours {growth_ours:+.1f} ms, naive {growth_naive:+.1f} ms")
    ratio = b["frame->result p50 ms"] / max(a["frame->result p50 ms"], 1e-9)
    print(f"frame->result p50 ratio naive/ours: {ratio:.1f}x")
    print(f"targets: perception >= 15 Hz (ours {a['frames processed /s']:.1f} Hz), "
          f"transcript->first token p50 <= 300 ms (ours {a['transcript->1st token p50 ms']:.0f} ms)")
    return 0 if ours.results and naive.results else 1


if __name__ == "__main__":
    if sys.argv[1:] == ["naive-node"]:
        raise SystemExit(naive_node_main())
    raise SystemExit(main("pipeline", float(sys.argv[1]) if len(sys.argv) > 1 else 60.0))
