"""The `vlm-robot` command.

    vlm-robot demo                          # scripted scene through the real graph, timeline + MCAP + report
    vlm-robot run --camera /dev/video0      # the bringup without `ros2 launch`
    vlm-robot run --single-process          # the same nodes in one process (the recorder apart): less memory
    vlm-robot run --viz                     # ... and a live Rerun view of them in the browser (127.0.0.1)
    vlm-robot view out/demo/session         # a recorded session in the Rerun web viewer (converted to .rrd)
    vlm-robot replay out/demo/session       # publish a recording with its original timing (--rate 2)
    vlm-robot replay BAG --lockstep         # a recording's inputs through a fresh graph; same decisions?
    vlm-robot sim --all                     # simulation scenarios (MuJoCo room) end to end, results table
    vlm-robot sim greet_sad_visitor --repeat --replay   # one scenario, twice and replayed: same decisions?
    vlm-robot bench sim                     # render and perception rates of the simulation on this machine
    vlm-robot audio devices                 # PortAudio microphones and speakers, by index and name
    vlm-robot ask "Who is here?"            # a question to the running VLM node, answer streamed
    vlm-robot bench pipeline                # latest-frame-wins vs inference in the callback
    vlm-robot bench resources               # the whole stack's RSS / PSS, a process per node vs single-process
    vlm-robot bench viz                     # perception with and without viz_node; Rerun's cost per frame
    vlm-robot bench encoder                 # ONNX Runtime vs PyTorch eager for SigLIP / CLIP encoders
    vlm-robot bench voice                   # end of speech -> first robot audio through the running voice nodes
    vlm-robot models export --tiny llava    # vision encoder -> ONNX (+ JSON sidecar) in the cache
    vlm-robot models build ENC.onnx --precision fp16   # TensorRT engine (needs tensorrt + CUDA)
    vlm-robot models list | verify ENC.onnx
    vlm-robot eval vqa --limit 200          # the robot's VLM vs the grounded backend and a blind baseline
    vlm-robot data sim --workers 2          # VQA dataset from randomised MuJoCo rooms into out/sim_vqa
    vlm-robot calibrate expression          # reliability of the expression model (ECE) and its fitted temperature
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from vlm_robot.isolate import loopback_defaults, reexec_isolated
from vlm_robot.nodes.registry import LAUNCH_ARGS, is_true

DEFAULT_SCENE = "sim/scenes/demo.yaml"


def _scene_path(p: str) -> str:
    if Path(p).is_file():
        return p
    share = Path(sys.prefix) / "share" / "vlm_robot" / p
    return str(share) if share.is_file() else p


def cmd_demo(a: argparse.Namespace) -> int:
    from vlm_robot.tools import demo

    return demo.main(_scene_path(a.scene), a.out, a.scale)


def cmd_run(a: argparse.Namespace) -> int:
    from vlm_robot import graph

    if a.local:
        loopback_defaults()
    # each bringup.launch.py argument (camera_source:=, mic:=, record:=, ...) has its `vlm-robot run` option
    nodes, overrides = graph.bringup({arg.name: getattr(a, arg.option) for arg in LAUNCH_ARGS})
    g = graph.Graph(nodes, overrides, env=graph.current_env(), log_dir=Path(a.log_dir) if a.log_dir else None,
                    single_process=a.single_process)
    print(f"starting {len(nodes)} nodes in {len(g.units)} process(es): "
          f"{'; '.join(','.join(s.executable for s in specs) for specs in g.units.values())} (Ctrl-C stops)")
    viewer = None
    if a.viz:  # the Rerun web viewer viz_node sends to (vlm_robot/tools/view.py)
        from vlm_robot.tools.view import viewer_for_run

        viewer = viewer_for_run(a.viz_url)
    g.start()
    try:
        end = time.monotonic() + a.duration if a.duration > 0 else float("inf")
        while time.monotonic() < end:
            for gone in g.poll():
                unit = gone.split(" (")[0]
                why = g.last_words(unit)
                print(f"node {gone} exited{f': {why}' if why else ''}; restarting in {g.restart_in.get(unit, 0):.1f} s"
                      + (" (it keeps exiting right after its start: see its log)" if g.restart_in.get(unit, 0) >
                         g.respawn_delay else ""))
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    try:
        print("stopping:", g.stop())
    finally:
        if viewer is not None:  # by its pid, whatever happened to the nodes or the terminal
            viewer.stop()
    return 0


def cmd_view(a: argparse.Namespace) -> int:
    from vlm_robot.tools import view

    return view.main(a.path, a.host, a.grpc_port, a.web_port, a.memory_limit, a.perceive, a.out, a.convert_only,
                     not a.no_browser, a.duration)


def cmd_replay(a: argparse.Namespace) -> int:
    if a.lockstep:
        from vlm_robot.sim.replay_lockstep import replay_lockstep

        loopback_defaults()
        rep = replay_lockstep(a.bag, Path(a.out))
        print(f"replayed {rep.frames} frames in lockstep: {len(rep.replayed)} decisions, {len(rep.recorded)} recorded")
        print("same decisions as the recording" if rep.same else f"DIFFERENT: {rep.first_difference()}")
        for p in rep.problems:
            print(f"  lockstep: {p}")
        return 0 if rep.same else 1
    from vlm_robot.tools import replay

    loopback_defaults() if a.local else None
    return replay.main(a.bag, a.rate, a.topics or None)


def cmd_sim(a: argparse.Namespace) -> int:
    from vlm_robot.sim import cli as sim_cli

    loopback_defaults()
    if a.faces:
        from vlm_robot.sim.face_reading import main as faces_main

        return faces_main()
    return sim_cli.main(a.scenario, a.all, a.fast, a.out, a.record, a.repeat, a.replay, a.dir)


def cmd_bench(a: argparse.Namespace) -> int:
    if a.what == "encoder":
        from vlm_robot.benchmarks import encoder

        return encoder.main(a.encoders or None, a.threads, a.runs, a.warmup, int8=not a.no_int8)
    if a.what == "voice":
        from vlm_robot.benchmarks import voice

        loopback_defaults()
        return voice.main(a.turns or len(voice.SENTENCES), a.gap, end_of_turn=a.end_of_turn)
    if a.what == "resources":
        from vlm_robot.benchmarks import resources

        loopback_defaults()
        return resources.main(a.seconds or 20.0, a.executor)
    if a.what == "recorder":
        from vlm_robot.benchmarks import recorder

        loopback_defaults()
        return recorder.main(a.seconds or 20.0, a.fps or 15.0)
    if a.what == "viz":
        from vlm_robot.benchmarks import viz as bench_viz

        loopback_defaults()
        return bench_viz.main(a.seconds or 20.0, a.fps or 30.0)
    if a.what == "sim":
        from vlm_robot.benchmarks import sim as bench_sim

        return bench_sim.main(a.seconds or 60.0)
    from vlm_robot.benchmarks import pipeline

    loopback_defaults()
    return pipeline.main(a.what, a.seconds or 60.0, a.fps or 30.0)


def cmd_models(a: argparse.Namespace) -> int:
    from vlm_robot.tools import models

    return models.main(a)


def cmd_train(a: argparse.Namespace) -> int:
    from vlm_robot.vlm.palme import train

    return train.main(a)


def cmd_eval(a: argparse.Namespace) -> int:
    from vlm_robot.vlm.palme import eval as palme_eval

    return palme_eval.main(a)


def cmd_data(a: argparse.Namespace) -> int:
    from vlm_robot.sim import vqa_data

    rooms = {"train": a.rooms_train, "val": a.rooms_val, "test": a.rooms_test}
    return vqa_data.main(a.out, rooms, a.views, a.seed, a.workers, a.force)


def cmd_suite(a: argparse.Namespace) -> int:
    if a.what == "proactive":
        from vlm_robot.tools.suites import proactive

        return proactive.main(_scene_path(a.cases or "sim/suites/proactive.yaml"))
    if a.what == "dialogue":
        from vlm_robot.tools.suites import dialogue

        return dialogue.main(_scene_path(a.cases or "sim/suites/dialogue.yaml"), a.fast)
    from vlm_robot.tools.suites import adversarial

    loopback_defaults()
    return adversarial.main(_scene_path(a.cases or "sim/suites/adversarial.yaml"))


def cmd_calibrate(a: argparse.Namespace) -> int:
    from vlm_robot.tools import calibrate_expression

    return calibrate_expression.main()


def cmd_audio(a: argparse.Namespace) -> int:
    from vlm_robot.core.errors import BackendUnavailableError
    from vlm_robot.speech.audio import list_devices

    try:
        devices = list_devices()
    except BackendUnavailableError as e:
        print(e, file=sys.stderr)
        return 2
    for d in devices:
        print(f"{d['index']:>3}  in {d['inputs']:>2}  out {d['outputs']:>2}  {d['rate']:>7.0f} Hz  {d['name']}")
    if not devices:
        print("no audio devices (PortAudio sees none); WAV files still work as sources and sinks")
    return 0


def cmd_bag(a: argparse.Namespace) -> int:
    """`vlm-robot bag info|repair BAG`: what a recording holds; finish a split whose recorder was killed."""
    from vlm_robot.bag import bag_summary, is_complete, repair_bag, split_files
    from vlm_robot.core.errors import InvalidInputError

    bag = Path(a.bag)
    try:
        if a.what == "repair":
            report = repair_bag(bag)
            for r in report:
                print(f"{r['file']}: " + ("nothing recorded before the kill; removed" if r["removed"] else
                      f"repaired, {r['messages']} messages kept, {r['bytes_lost']} bytes of unwritten tail lost"))
            print(f"{bag}: " + ("every split was complete; metadata.yaml rewritten" if not report else
                                f"{len(report)} split(s) repaired; metadata.yaml rewritten"))
        for f in split_files(bag):
            print(f"  {f.name}: {f.stat().st_size / 1e6:.2f} MB{'' if is_complete(f) else ' (unfinished)'}")
        for topic, (msgtype, n) in sorted(bag_summary(bag).items()):
            print(f"  {n:7d}  {topic}  [{msgtype}]")
    except (InvalidInputError, OSError) as e:
        print(f"bag {a.what}: {e}")
        return 2
    return 0


def cmd_ask(a: argparse.Namespace) -> int:
    from vlm_robot.tools import ask

    loopback_defaults() if a.local else None
    return ask.main(a.question, a.image, a.timeout, a.clip_frames, a.json)


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="vlm-robot", description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = p.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("demo", help="play a scripted scene through the real ROS graph")
    d.add_argument("--scene", default=DEFAULT_SCENE, help="scene YAML (default: %(default)s)")
    d.add_argument("--out", default="out/demo", help="output folder: session bag, speech WAVs, report, logs")
    d.add_argument("--scale", type=float, default=1.0, help="frame size factor (0.5: 320x240)")
    d.set_defaults(fn=cmd_demo, isolate=True)
    r = sub.add_parser("run", help="start the bringup nodes (same as bringup.launch.py)")
    launch = {arg.option: arg for arg in LAUNCH_ARGS}  # bringup.launch.py's arguments, same defaults
    r.add_argument("--camera", default=launch["camera"].default, help="V4L2 device, video file or image folder")
    r.add_argument("--transcripts", default=launch["transcripts"].default,
                   help="speech_in source: stdin or a text file")
    r.add_argument("--mic", default=launch["mic"].default, help="microphone_node source: a device name or index "
                   "(`vlm-robot audio devices`), 'default', or a WAV file (default: idle)")
    r.add_argument("--no-record", dest="record", action="store_false", default=is_true(launch["record"].default),
                   help="do not record a bag")
    r.add_argument("--bag", default=launch["bag"].default, help="bag folder to write")
    r.add_argument("--log-dir", default="", help="write each node's output to LOG_DIR/<node>.log")
    r.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: run until Ctrl-C)")
    r.add_argument("--local", action="store_true", help="keep DDS on this machine (localhost discovery, random domain)")
    r.add_argument("--single-process", action="store_true", help="run the nodes in one process (the recorder in its "
                   "own): less memory; a crash of any node restarts them all (vlm_robot/nodes/composed.py)")
    r.add_argument("--viz", action="store_true", default=is_true(launch["viz"].default),
                   help="show the robot live in a Rerun web viewer: starts viz_node, and a viewer on 127.0.0.1 "
                   "unless one already listens at --viz-url (the [viz] extra)")
    r.add_argument("--viz-url", default=launch["viz_url"].default, help="the viewer's gRPC address for viz_node "
                   "(default: %(default)s)")
    r.set_defaults(fn=cmd_run, isolate=False)
    v = sub.add_parser("view", help="a Rerun web viewer on 127.0.0.1: the live robot, or a recorded session")
    v.add_argument("path", nargs="?", default="", help="a bag folder (converted to BAG.rrd next to it) or an .rrd; "
                   "none: the live robot (viz_node)")
    v.add_argument("--host", default="127.0.0.1", help="address the viewer binds (default %(default)s: this machine "
                   "only; another address lets anyone who reaches it watch)")
    v.add_argument("--grpc-port", type=int, default=9876, help="where viz_node connects (0: a free port)")
    v.add_argument("--web-port", type=int, default=9090, help="where the browser connects (0: a free port)")
    v.add_argument("--memory-limit", default="1GB", help="what the viewer's server keeps for the browser; the "
                   "oldest data goes first (e.g. 512MB, 25%%)")
    v.add_argument("--perceive", action="store_true", help="a bag without faces: compute them from its frames")
    v.add_argument("--out", default="", help="the .rrd to write (default: next to the bag)")
    v.add_argument("--convert-only", action="store_true", help="write the .rrd and stop (no viewer)")
    v.add_argument("--no-browser", action="store_true", help="only print the URL")
    v.add_argument("--duration", type=float, default=0.0, help="stop after this many seconds (0: at Ctrl-C)")
    v.set_defaults(fn=cmd_view, isolate=False)
    rp = sub.add_parser("replay", help="publish a recorded bag into the graph with its original timing")
    rp.add_argument("bag", help="rosbag2 folder (MCAP or sqlite3)")
    rp.add_argument("--rate", type=float, default=1.0, help="playback speed factor (2: twice as fast)")
    rp.add_argument("--topics", nargs="*", help="only these topics (default: all)")
    rp.add_argument("--local", action="store_true", help="keep DDS on this machine")
    rp.add_argument("--lockstep", action="store_true", help="play only the inputs through a fresh perception, "
                    "reasoning and gate, frame by frame, and compare the decisions with the recorded ones")
    rp.add_argument("--out", default="out/replay", help="lockstep: logs and memory of the fresh graph")
    rp.set_defaults(fn=cmd_replay, isolate=False)
    sm = sub.add_parser("sim", help="run simulation scenarios (MuJoCo room) through the real graph, scored")
    sm.add_argument("scenario", nargs="?", default="", help="scenario name in sim/scenarios or a YAML file")
    sm.add_argument("--all", action="store_true", help="every scenario in --dir; prints the results table")
    sm.add_argument("--fast", action="store_true", help="only the quick subset (`fast: true`) make test runs")
    sm.add_argument("--dir", default="sim/scenarios", help="scenario folder (default: %(default)s)")
    sm.add_argument("--out", default="out/sim", help="per scenario: result.json, the MCAP bag, node logs")
    sm.add_argument("--no-record", dest="record", action="store_false", help="do not record a bag")
    sm.add_argument("--repeat", action="store_true", help="run each scenario twice; the decisions must match")
    sm.add_argument("--replay", action="store_true", help="replay each recording in lockstep; decisions must match")
    sm.add_argument("--faces", action="store_true", help="measure how perception reads the rendered faces")
    sm.set_defaults(fn=cmd_sim, isolate=True)
    q = sub.add_parser("ask", help="ask the running VLM node a question about what the camera sees")
    q.add_argument("question", help='e.g. "Who is here?"')
    q.add_argument("--image", default="", help="publish this image file as the camera while asking")
    q.add_argument("--clip-frames", type=int, default=0, help="frames of recent video in the prompt (0: node default)")
    q.add_argument("--timeout", type=float, default=60.0, help="seconds to wait for the answer")
    q.add_argument("--json", action="store_true", help="print the whole answer (entities, latency) as JSON")
    q.add_argument("--local", action="store_true", help="keep DDS on this machine")
    q.set_defaults(fn=cmd_ask, isolate=False)
    b = sub.add_parser("bench", help="benchmarks that compare against a baseline measured in the same run")
    b.add_argument("what", choices=["pipeline", "proactive", "encoder", "voice", "sim", "recorder", "resources",
                                    "viz"])
    b.add_argument("--seconds", type=float, default=None,
                   help="length of each run (default: 60; recorder: 20 per policy; resources: 20 per mode; "
                   "viz: 20 per run)")
    b.add_argument("--fps", type=float, default=None, help="camera frame rate fed in (default: 30; recorder: 15)")
    b.add_argument("--executor", choices=["per-node", "shared", "multi"], default="per-node",
                   help="resources: the executors of single-process mode (default %(default)s)")
    b.add_argument("--encoders", nargs="*", help="encoder: which (siglip-b16-384 clip-vit-b16-224; default both)")
    b.add_argument("--threads", type=int, default=2, help="encoder: torch and ORT threads (default %(default)s)")
    b.add_argument("--runs", type=int, default=10, help="encoder: timed rounds, median reported")
    b.add_argument("--warmup", type=int, default=2, help="encoder: rounds dropped before timing")
    b.add_argument("--no-int8", action="store_true", help="encoder: skip the INT8 dynamic quantisation row")
    b.add_argument("--turns", type=int, default=None,
                   help="voice: sentences spoken to the running nodes (default: all 32 of the benchmark)")
    b.add_argument("--gap", type=float, default=5.0, help="voice: seconds of silence after each sentence")
    b.add_argument("--end-of-turn", choices=["model", "silence"], default=None,
                   help="voice: only the settings of this end of turn (default: the learned one, the same with open "
                        "talk as before, then the silence rule)")
    b.set_defaults(fn=cmd_bench, isolate=True)
    m = sub.add_parser("models", help="export / build / list / verify compiled vision encoders (no ROS)")
    msub = m.add_subparsers(dest="action", required=True)
    me = msub.add_parser("export", help="vision encoder + projector -> ONNX with a JSON sidecar")
    me.add_argument("model", nargs="?", default="", help="model folder (save_pretrained) or hub id")
    me.add_argument("--tiny", default="", metavar="FAMILY", help="build a tiny random model of FAMILY first")
    me.add_argument("--out", default="", help="the .onnx to write (default: the cache)")
    me.add_argument("--allow-download", action="store_true", help="let a hub id be downloaded")
    me.add_argument("--exporter", choices=["auto", "dynamo", "torchscript"], default="auto")
    me.add_argument("--fixed", action="store_true", help="fixed shapes instead of a dynamic image batch")
    me.add_argument("--fp16", action="store_true", help="export float16 weights (GPU providers)")
    me.add_argument("--int8", action="store_true", help="also write an ONNX Runtime INT8 (dynamic) model")
    me.add_argument("--force", action="store_true", help="export even when the cache has it")
    mb = msub.add_parser("build", help="TensorRT engine from an export (tensorrt Python API, CUDA)")
    mb.add_argument("onnx", help="an .onnx written by `models export`")
    mb.add_argument("--precision", choices=["fp16", "int8", "fp32"], default="fp16")
    mb.add_argument("--calib", default="sim", help="INT8 frames: rosbag2 folder, scene YAML or 'sim'")
    mb.add_argument("--calib-frames", type=int, default=32, help="how many calibration frames")
    mb.add_argument("--batch", type=int, nargs=3, default=[1, 1, 4], metavar=("MIN", "OPT", "MAX"))
    mb.add_argument("--out", default="", help="the .engine to write (default: the cache)")
    mb.add_argument("--force", action="store_true", help="rebuild even when the cache has it")
    ml = msub.add_parser("list", help="families, cached exports / engines, ONNX Runtime providers here")
    ml.add_argument("--cache", default="", help="cache folder (default $VLM_ROBOT_CACHE or ~/.cache/vlm_robot)")
    mv = msub.add_parser("verify", help="parity of a compiled encoder with PyTorch's reference features")
    mv.add_argument("encoder", help="an .onnx (or .engine) with its sidecar")
    mv.add_argument("--provider", choices=["cpu", "cuda", "tensorrt", "engine"], default="cpu")
    mv.add_argument("--tol", type=float, default=1e-4, help="max abs diff allowed (fp16: ~1e-2)")
    mv.add_argument("--allow-download", action="store_true")
    m.set_defaults(fn=cmd_models, isolate=False)
    tr = sub.add_parser("train", help="train the robot's own VLM (palme) on a `vlm-robot data sim` dataset (no ROS)")
    from vlm_robot.vlm.palme.train import add_arguments as train_arguments  # argparse only; torch loads in main

    train_arguments(tr)
    tr.set_defaults(fn=cmd_train, isolate=False)
    ev = sub.add_parser("eval", help="accuracy per question type of the robot's VLM and the baselines (no ROS)")
    ev.add_argument("what", choices=["vqa"])
    ev.add_argument("--data", default="out/sim_vqa", help="a `vlm-robot data sim` dataset (default %(default)s)")
    ev.add_argument("--split", default="test", help="which split (default %(default)s: the held-out rooms)")
    ev.add_argument("--model", default="models/palme-sim", help="the trained palme folder (default %(default)s)")
    ev.add_argument("--blind-model", default="models/palme-sim-blind",
                    help="a palme folder trained without the image (default %(default)s; skipped if absent)")
    ev.add_argument("--limit", type=int, default=0, help="at most this many questions, spread over the types (0: all)")
    ev.add_argument("--systems", nargs="*", choices=["palme", "grounded", "blind", "compiled"],
                    help="which systems (default: all four)")
    ev.add_argument("--threads", type=int, default=0, help="torch and ONNX Runtime threads (0: their default)")
    ev.add_argument("--max-new-tokens", type=int, default=24, help="answer length cap (default %(default)s)")
    ev.add_argument("--out", default="out/eval_vqa.json", help="the JSON report (default %(default)s)")
    ev.set_defaults(fn=cmd_eval, isolate=False)
    da = sub.add_parser("data", help="datasets: `data sim` renders VQA data from randomised MuJoCo rooms (no ROS)")
    da.add_argument("what", choices=["sim"])
    da.add_argument("--out", default="out/sim_vqa", help="the dataset folder (default %(default)s)")
    da.add_argument("--rooms-train", type=int, default=1500, help="training rooms (default %(default)s)")
    da.add_argument("--rooms-val", type=int, default=100, help="validation rooms (default %(default)s)")
    da.add_argument("--rooms-test", type=int, default=150, help="held-out test rooms (default %(default)s)")
    da.add_argument("--views", type=int, default=4, help="robot poses (images) per room (default %(default)s)")
    da.add_argument("--seed", type=int, default=0, help="everything follows from it (default %(default)s)")
    da.add_argument("--workers", type=int, default=2, help="rendering processes; the output does not depend on "
                    "it (default %(default)s)")
    da.add_argument("--force", action="store_true", help="replace a dataset already in --out")
    da.set_defaults(fn=cmd_data, isolate=False)
    s = sub.add_parser("suite", help="run a behaviour suite against the real nodes")
    s.add_argument("what", choices=["adversarial", "proactive", "dialogue"])
    s.add_argument("--cases", default="", help="suite YAML (default: sim/suites/<what>.yaml)")
    s.add_argument("--fast", action="store_true", help="dialogue: only the cases marked fast (as in make test)")
    s.set_defaults(fn=cmd_suite, isolate=True)
    bg = sub.add_parser("bag", help="a recording: what it holds (info), or finish one whose recorder was killed")
    bg.add_argument("what", choices=["info", "repair"])
    bg.add_argument("bag", help="the bag folder (out/session_...)")
    bg.set_defaults(fn=cmd_bag, isolate=False)
    au = sub.add_parser("audio", help="audio devices for the microphone and the speaker")
    au.add_argument("what", choices=["devices"])
    au.set_defaults(fn=cmd_audio, isolate=False)
    c = sub.add_parser("calibrate", help="measure the expression model's reliability and fit its temperature")
    c.add_argument("what", choices=["expression"])
    c.set_defaults(fn=cmd_calibrate, isolate=False)
    return p


def main(argv: list[str] | None = None) -> int:
    a = build_parser().parse_args(argv)
    # bench encoder starts no ROS; a lockstep replay does
    if (a.isolate or getattr(a, "lockstep", False)) and getattr(a, "what", "") != "encoder":
        reexec_isolated()
    return a.fn(a)


if __name__ == "__main__":
    raise SystemExit(main())
