"""`vlm-robot sim SCENARIO`: the simulated room drives the real node graph, in lockstep, and is scored.

Each camera frame is rendered from the robot's head camera (vlm_robot/sim/world.py, MuJoCo), published
on /camera/image_raw with the sim time as its stamp (and the head's joints on /joint_states), and
the run waits for the graph's answer to it (vlm_robot/sim/lockstep.py). Scripted speech goes in as
/speech/transcript, attributed to the tracked person nearest the speaker, as a microphone array
would. Approved intents come back as /head/command, /goal_pose, /cmd_vel and /vlm_robot/cancel and are
executed by the simulated robot, so what the robot does changes what it sees next. The recorder node
writes everything to an MCAP bag that `vlm-robot replay --lockstep` plays back.
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from vlm_robot import graph
from vlm_robot.observe import decision_key
from vlm_robot.sim.lockstep import Inbox, Lockstep
from vlm_robot.sim.scenario import Check, FrameRecord, Scenario, SimLog, evaluate

SIM_NODES = ("perception", "reasoning", "safety_gate")
PRIME_STAMP = -1.0  # sim time of the priming frame (vlm_robot/sim/lockstep.py, Lockstep.prime)


@dataclass
class SimResult:
    scenario: Scenario
    log: SimLog
    checks: list[Check]
    bag: Path | None
    wall_s: float
    frames: int
    problems: list[str] = field(default_factory=list)
    render_s: float = 0.0
    loop_s: float = 0.0  # wall time of the frame loop alone (no graph start-up or shutdown)

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks) and not self.problems

    def decision_keys(self) -> list[tuple]:
        return [decision_key(d) for d in self.log.decisions()]


def sim_graph(out: Path, record: bool, vlm: dict[str, str] | None = None) -> graph.Graph:
    """The nodes a simulation runs: perception, reasoning (with a fresh memory), the gate, the recorder, and
    the VLM node when the scenario configures one (``vlm``: its ``vlm.*`` parameters; no periodic descriptions)."""
    names = SIM_NODES + (("recorder",) if record else ()) + (("vlm",) if vlm else ())
    nodes = [s for s in graph.NODES if s.name in names]
    memory = out / "memory.json"
    memory.unlink(missing_ok=True)
    overrides = {"reasoning": {"memory.path": str(memory)}}
    if vlm:
        overrides["vlm"] = {**{f"vlm.{k}": v for k, v in vlm.items()}, "describe_rate_hz": "0.0"}
    if record:
        shutil.rmtree(out / "bag", ignore_errors=True)
        overrides["recorder"] = {"output": str(out / "bag")}
    return graph.Graph(nodes, overrides, log_dir=out / "logs")


def _attribute(states: dict | None, world, names: list[str], log: SimLog) -> None:
    """Match each tracked person's face box to the nearest rendered face (tracker id -> scenario name)."""
    if not states:
        return
    seen = {n: world.face_pixel(n) for n in names}
    for p in states.get("people", []):
        x, y, w, h = p["box"]
        cx, cy = x + w / 2, y + h / 2
        best = min(((math.hypot(cx - u, cy - v) / max(fw, 1.0), n) for n, px in seen.items() if px
                    for u, v, fw in [px]), default=None)
        if best is not None and best[0] <= 1.0:
            log.tracked.setdefault(int(p["id"]), best[1])


def _speaker_id(states: dict | None, world, speaker: str) -> str:
    """The tracked id ("person3") whose face is nearest ``speaker``'s rendered face, else "unknown"."""
    px = world.face_pixel(speaker) if speaker else None
    if not px or not states:
        return "unknown"
    u, v, fw = px
    best = min(((math.hypot(p["box"][0] + p["box"][2] / 2 - u, p["box"][1] + p["box"][3] / 2 - v), p["id"])
                for p in states.get("people", [])), default=None)
    return f"person{best[1]}" if best is not None and best[0] <= 1.5 * fw else "unknown"


def _apply(world, kind: str, body: dict) -> None:
    """Execute one actuator command in the simulation."""
    if kind == "head":
        pos = dict(zip(body["name"], body["position"], strict=False))
        vel = [v for v in body.get("velocity", []) if v > 0]
        pan, tilt = world.head()
        world.command_head(pos.get("head_pan", pan), pos.get("head_tilt", tilt), min(vel) if vel else None)
    elif kind == "goal":
        yaw = 2 * math.atan2(body["qz"], body["qw"])
        world.command_goal(body["x"], body["y"], yaw, body["frame"] or "map")
    elif kind == "cmd_vel":
        world.command_velocity(body["linear_x"], body["angular_z"])
    elif kind == "cancel":
        world.cancel()


def run_scenario(sc: Scenario, out: Path, record: bool = True, printer=None) -> SimResult:
    """Run ``sc`` through the node graph in lockstep; results and the bag go to ``out``."""
    from geometry_msgs.msg import Twist  # noqa: F401 - rclpy message types load before the world's GL
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from vlm_robot.nodes import common, messages
    from vlm_robot.nodes.convert import rgb_to_image, stamp_msg
    from vlm_robot.observe import observed_graph
    from vlm_robot.sim.world import World

    out.mkdir(parents=True, exist_ok=True)
    say = printer or (lambda s: None)
    objects = None
    if sc.objects:
        from vlm_robot.sim.world import SimObject

        objects = [SimObject(o["kind"], o["color"], o["pos"], o["yaw"]) for o in sc.objects]
    world = World({p.name: p.face for p in sc.people}, sc.size[0], sc.size[1], seed=sc.seed,
                  faces_needed=sc.faces(), objects=objects)
    if sc.robot_start != (0.0, 0.0, 0.0) or sc.head_start != (0.0, 0.0):
        world.set_robot(*sc.robot_start, *sc.head_start)
    log = SimLog()
    inbox = Inbox()
    lock = Lockstep(inbox)
    names = [p.name for p in sc.people]
    mic = None
    if sc.speech == "audio":
        from vlm_robot.sim.voice import SimMicrophone

        mic = SimMicrophone()
    g = sim_graph(out, record, sc.vlm)
    t_start = time.monotonic()
    render_s = loop_s = 0.0
    try:
        with observed_graph(g, name="simulator", on_event=inbox, settle_s=1.0) as obs:
            joints = obs.create_publisher(JointState, common.JOINT_STATES, common.qos_for(common.JOINT_STATES, True))
            dnd = obs.create_publisher(Bool, common.DND, common.STATE_QOS)
            dnd_on: bool | None = None
            lines = list(sc.lines)
            states: dict | None = None
            dt = 1.0 / sc.fps

            def collect(t: float) -> None:  # what the graph answered, stamped with the sim time that caused it
                for kind, body in inbox.drain():
                    log.events.append((t, kind, body))
                    _apply(world, kind, body)

            for p in sc.people:  # the priming frame: the empty room, before the scenario starts
                world.set_person(p.name, 0.0, 0.0, 0.0, present=False)
            empty = rgb_to_image(world.render(), PRIME_STAMP, frame_id="camera_link")
            lock.prime(lambda: obs.image_pub.publish(empty), PRIME_STAMP)
            collect(PRIME_STAMP)
            loop0 = time.monotonic()
            for i, t in enumerate(sc.frame_times()):
                collect(t)  # anything that came late
                if i:
                    world.step(dt)
                rx, ry, _ = world.robot_pose()
                for p in sc.people:
                    pose = sc.person_at(p, t, (rx, ry))
                    world.set_person(p.name, pose.x, pose.y, pose.yaw, pose.face, pose.present)
                want_dnd = any(a <= t < b for a, b in sc.do_not_disturb)
                if want_dnd != dnd_on:
                    dnd.publish(Bool(data=want_dnd))
                    dnd_on = want_dnd
                    time.sleep(0.3)  # a latched state: let the reasoning node take it before the next frame
                r0 = time.perf_counter()
                rgb = world.render()
                render_s += time.perf_counter() - r0
                pan, tilt = world.head()
                js = JointState(name=["head_pan", "head_tilt"], position=[pan, tilt])
                js.header.stamp = stamp_msg(t)
                joints.publish(js)
                obs.image_pub.publish(rgb_to_image(rgb, t, frame_id="camera_link"))
                states = lock.after_frame(t) or states
                collect(t)
                _attribute(states, world, names, log)
                log.frames.append(_record(world, sc, t))
                while lines and lines[0].at <= t + 1e-6:
                    ln = lines.pop(0)
                    speaker = _speaker_id(states, world, ln.speaker)
                    if mic is None:
                        bodies = [{"text": ln.text, "stamp": t, "final": True, "id": f"sim-{ln.at:g}-{len(lines)}"}]
                    else:
                        bodies = mic.hear(ln.text, t)
                        if not bodies:
                            log.events.append((t, "heard", {"text": "", "said": ln.text,
                                                            "scenario_speaker": ln.speaker}))
                    for body in bodies:
                        body["speaker"] = speaker
                        obs.transcript_pub.publish(messages.to_msg("transcript", body))
                        log.events.append((t, "heard", {**body, "said": ln.text, "scenario_speaker": ln.speaker}))
                        lock.after_transcript(body["id"])
                        collect(t)
                if i % max(1, int(sc.fps)) == 0:
                    say(f"  t={t:5.1f}s  head pan {pan:+.2f}  base ({rx:+.2f}, {ry:+.2f})")
            loop_s = time.monotonic() - loop0
            collect(sc.duration_s)
    finally:
        world.close()
    log.lost_frames = lock.lost_frames
    res = SimResult(sc, log, evaluate(sc, log), out / "bag" if record else None, time.monotonic() - t_start,
                    len(log.frames), list(lock.late), render_s, loop_s)
    _write(res, out)
    return res


def _record(world, sc: Scenario, t: float) -> FrameRecord:
    rx, ry, ryaw = world.robot_pose()
    bearing, distance = {}, {}
    for p in sc.people:
        b = world.bearing_to(p.name)
        if b is not None:
            bearing[p.name] = b
            pose = sc.person_at(p, t, (rx, ry))
            distance[p.name] = math.hypot(pose.x - rx, pose.y - ry)
    return FrameRecord(t, (rx, ry, ryaw), world.head(), bearing, distance)


def _write(res: SimResult, out: Path) -> None:
    doc = {
        "scenario": res.scenario.name, "passed": res.passed, "frames": res.frames,
        "wall_s": round(res.wall_s, 2), "problems": res.problems,
        "checks": [{"expected": c.expected, "observed": c.observed, "passed": c.passed} for c in res.checks],
        "decisions": res.log.decisions(),
        "said": [{"t": t, **u} for t, u in res.log.of("utterance")],
        "heard": [{"t": t, **h} for t, h in res.log.of("heard")],
        "tracked": {str(k): v for k, v in res.log.tracked.items()},
    }
    (out / "result.json").write_text(json.dumps(doc, indent=1))


def table(results: list[SimResult]) -> str:
    """The results as a plain-text table: scenario, expected, observed, pass or fail."""
    rows = [("scenario", "expected", "observed", "result")]
    for r in results:
        for i, c in enumerate(r.checks):
            rows.append((r.scenario.name if i == 0 else "", c.expected, c.observed, "pass" if c.passed else "FAIL"))
        for p in r.problems:
            rows.append(("" if r.checks else r.scenario.name, "lockstep", p, "FAIL"))
    widths = [min(max(len(row[i]) for row in rows), cap) for i, cap in enumerate((34, 44, 52, 6))]

    def cut(s: str, w: int) -> str:
        return s if len(s) <= w else s[: w - 1] + "~"

    lines = ["  ".join(cut(c, w).ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
