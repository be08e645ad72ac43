"""`vlm-robot demo`: a scripted scene through the real ROS graph, printed as a timeline and recorded.

The scene player stands in for the camera and the microphone: it publishes rendered frames on
/camera/image_raw and scripted sentences on /speech/transcript. Everything else is the bringup's
own nodes, in their own processes, with their own parameter files.
"""

from __future__ import annotations

import shutil
import statistics
import time
from dataclasses import dataclass
from pathlib import Path

from vlm_robot import graph
from vlm_robot.isolate import loopback_defaults
from vlm_robot.nodes import common
from vlm_robot.sim.scene import Scene

DEMO_NODES = ("perception", "vlm", "reasoning", "safety_gate", "speech_out", "recorder")


@dataclass
class SceneRun:
    """What happened when a scene was played through the graph."""

    observed: object  # vlm_robot.observe.Observed
    timeline: list[str]
    frames_published: int
    t0: float
    bag: Path | None
    restarts: dict[str, int]
    exit_codes: dict[str, int]


def play_scene(scene: Scene, out_dir: Path, *, record: bool = True, print_timeline: bool = True,
               reply_timeout_s: float = 30.0, node_overrides: dict[str, dict[str, str]] | None = None) -> SceneRun:
    """Start the graph, play ``scene`` in real time, wait for every reply, stop, return what was seen."""
    from vlm_robot.nodes.convert import rgb_to_image
    from vlm_robot.observe import Timeline, observed_graph

    loopback_defaults()
    out_dir.mkdir(parents=True, exist_ok=True)
    bag = out_dir / "session" if record else None
    for old in (bag, out_dir / "logs"):  # a new run, a new recording and fresh logs
        if old is not None and old.exists():
            shutil.rmtree(old)
    names = [n for n in DEMO_NODES if record or n != "recorder"]
    memory = out_dir / "memory.json"  # a new run starts with an empty memory, like its logs
    memory.unlink(missing_ok=True)
    overrides = {"speech_out": {"tts.output_dir": str(out_dir / "speech")}, "reasoning": {"memory.path": str(memory)}}
    if bag is not None:
        overrides["recorder"] = {"output": str(bag)}
    for k, v in (node_overrides or {}).items():
        overrides.setdefault(k, {}).update(v)
    g = graph.Graph([s for s in graph.NODES if s.name in names], overrides, log_dir=out_dir / "logs")
    timeline = Timeline(time.time(), print if print_timeline else (lambda _s: None))
    frames = 0
    with observed_graph(g, "scene_player", on_event=lambda ev: timeline(ev)) as obs:
        t0 = time.time()
        timeline.t0 = t0
        lines = list(scene.transcripts)
        questions = list(scene.questions)
        for ft in scene.frame_times():
            while time.time() < t0 + ft:
                time.sleep(max(0.0, min(0.01, t0 + ft - time.time())))
            while lines and lines[0].at_s <= ft:
                ln = lines.pop(0)
                print_timeline and print(f"[{time.time() - t0:6.2f}s] HEARD    \"{ln.text}\"")
                obs.say(ln.text, t0 + ln.at_s, f"s{len(scene.transcripts) - len(lines)}")
            while questions and questions[0].at_s <= ft:
                q = questions.pop(0)
                print_timeline and print(f"[{time.time() - t0:6.2f}s] ASK      \"{q.text}\"")
                obs.ask(q.text, f"q{len(scene.questions) - len(questions)}")
            obs.image_pub.publish(rgb_to_image(scene.render(ft), t0 + ft, "camera", scene.encoding))
            frames += 1
            g.poll()
        n_lines = len(scene.transcripts)
        answered = obs.wait_for(lambda s: len({u.get("in_reply_to") for u in s.of(common.UTTERANCE)
                                                if u.get("in_reply_to")}) >= n_lines, reply_timeout_s)
        if not answered:
            print(f"warning: not every transcript was answered within {reply_timeout_s:.0f} s")
        obs.wait_for(lambda s: len(s.of(common.SPEECH_DONE)) >= len(s.of(common.UTTERANCE)), reply_timeout_s)
        if not obs.wait_for(lambda s: len(s.of(common.VQA_ANSWER)) >= len(scene.questions), reply_timeout_s):
            print(f"warning: not every question to the VLM node was answered within {reply_timeout_s:.0f} s")
        time.sleep(0.5)
    codes = obs.exit_codes
    return SceneRun(obs.seen, timeline.lines, frames, timeline.t0, bag, dict(g.restarts), codes)


def latency_stats(run: SceneRun) -> dict[str, float]:
    """Frame -> perception-result latency (p50/p95, ms) and how many frames were processed."""
    people = [e for e in run.observed.events if e.topic == common.PEOPLE]
    lat = sorted((e.received - e.body["stamp"]) * 1000 for e in people)
    if not lat:
        return {"frames_published": run.frames_published, "frames_processed": 0}
    return {
        "frames_published": run.frames_published,
        "frames_processed": len(people),
        "frame_to_result_p50_ms": round(statistics.median(lat), 1),
        "frame_to_result_p95_ms": round(lat[int(0.95 * (len(lat) - 1))], 1),
        "model_ms_p50": round(statistics.median(e.body["latency_ms"] for e in people), 1),
    }


def mcap_check(bag: Path) -> str:
    """Open the bag's MCAP file with the mcap reader too (a second, independent reader)."""
    try:
        from mcap.reader import make_reader
    except ImportError:
        return "mcap reader not installed (pip install mcap); skipped the second read-back"
    from vlm_robot.bag import split_files

    channels, n, names = set(), 0, []
    for path in split_files(bag):
        with path.open("rb") as f:
            s = make_reader(f).get_summary()
        channels |= {c.topic for c in s.channels.values()}
        n += sum(s.statistics.channel_message_counts.values())
        names.append(path.name)
    return f"mcap reader: {', '.join(names)}: {len(channels)} channels, {n} messages"


def write_rrd(bag: Path) -> str:
    """The session as a Rerun recording next to the bag (``<bag>.rrd``), and the command that shows it."""
    from vlm_robot.core.errors import BackendUnavailableError
    from vlm_robot.viz.convert import bag_to_rrd

    try:
        conv = bag_to_rrd(bag)
    except BackendUnavailableError as e:  # the [viz] extra is not installed
        return f"no Rerun view: {e}"
    return ("\n".join(["Rerun view: " + conv.lines()[0], *conv.lines()[1:]])
            + f"\nsee it in a browser: .venv/bin/vlm-robot view {conv.rrd}   (prints the URL; 127.0.0.1 only)")


def main(scene_path: str, out: str, scale: float = 1.0) -> int:
    from vlm_robot.bag import bag_summary
    from vlm_robot.tools import report

    t_start = time.monotonic()
    scene = Scene.load(scene_path, scale=scale)
    out_dir = Path(out)
    print(f"vlm_robot demo: scene '{scene.name}' ({scene.duration_s:.0f} s, {scene.fps:.0f} fps, "
          f"{scene.size[0]}x{scene.size[1]}) through the ROS 2 graph; node logs in {out_dir / 'logs'}")
    run = play_scene(scene, out_dir)
    stats = latency_stats(run)
    print("\nperception:", ", ".join(f"{k}={v}" for k, v in stats.items()))
    summary = bag_summary(run.bag)
    print(f"\nrecording {run.bag} (rosbag2, MCAP, {sum(c for _, c in summary.values())} messages):")
    for topic, (msgtype, count) in sorted(summary.items()):
        print(f"  {topic:<28} {msgtype:<38} {count}")
    print(mcap_check(run.bag))
    html = report.write(out_dir / "report.html", scene, run, stats, summary)
    print(f"\n{write_rrd(run.bag)}")
    bad = {k: v for k, v in run.exit_codes.items() if v not in (0, -2)}
    print(f"\nreport: {html}\nnode exit codes: {run.exit_codes}; restarts: {run.restarts or 'none'}")
    print(f"demo finished in {time.monotonic() - t_start:.1f} s")
    return 1 if bad else 0
