"""An observer node that collects what the stack says and decides, and a readable timeline of it.

Used by `vlm-robot demo` (prints the timeline), `vlm-robot replay --decisions`, the graph tests
and the benchmarks. Also the publishers of inputs (frames, transcripts) for scripted scenes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from diagnostic_msgs.msg import DiagnosticArray
from geometry_msgs.msg import PoseStamped, Twist
from rclpy.node import Node
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool, Empty

from vlm_robot import graph
from vlm_robot.nodes import common, messages

WATCHED = {
    common.PEOPLE: "people", common.PERSON_STATES: "person_states", common.DECISION: "decision",
    common.UTTERANCE: "utterance", common.INTENT: "intent", common.VERDICT: "verdict",
    common.SPEECH_DONE: "speech_done", common.REPLY_CHUNK: "reply_chunk", common.APPROVED: "intent",
    common.VQA_ANSWER: "vqa_answer", common.SCENE_DESCRIPTION: "scene_description", common.VOICE_STYLE: "voice_style",
}
VQA_FEEDBACK = common.VQA_ACTION + "/feedback"
"""Not a topic: the events of the answers so far that :meth:`Observer.ask` receives as the action's feedback."""


@dataclass
class Event:
    topic: str
    received: float  # wall clock, seconds
    body: dict


@dataclass
class Observed:
    events: list[Event] = field(default_factory=list)
    diagnostics: list[dict] = field(default_factory=list)
    cmd_vel: list[dict] = field(default_factory=list)
    head: list[dict] = field(default_factory=list)  # /head/command: {"name": [...], "position": [...], ...}
    goals: list[dict] = field(default_factory=list)  # /goal_pose: {"frame", "x", "y", "z", "qx", "qy", "qz", "qw"}
    cancels: int = 0

    def of(self, topic: str) -> list[dict]:
        """The messages seen on ``topic`` (those that failed their checks are only in ``events``)."""
        return [e.body for e in self.events if e.topic == topic and "invalid" not in e.body]


class Observer(Node):
    """Subscribes to every output topic; ``on_event`` (optional) sees each event as it arrives."""

    def __init__(self, on_event: Callable[[Event], None] | None = None, name: str = "observer") -> None:
        super().__init__(name)
        self.seen = Observed()
        self.exit_codes: dict[str, int] = {}
        self.on_event = on_event
        self.lock = threading.Lock()
        for topic, kind in WATCHED.items():
            self.create_subscription(messages.CLASSES[kind], topic, self._cb(topic, kind), common.EVENT_QOS)
        self.create_subscription(DiagnosticArray, common.DIAGNOSTICS, self._on_diag, common.EVENT_QOS)
        self.create_subscription(Twist, common.CMD_VEL, self._on_twist, common.EVENT_QOS)
        self.create_subscription(JointState, common.HEAD_COMMAND, self._on_head, common.EVENT_QOS)
        self.create_subscription(PoseStamped, common.GOAL_POSE, self._on_goal, common.EVENT_QOS)
        self.create_subscription(Empty, common.CANCEL, self._on_cancel, common.EVENT_QOS)
        self.image_pub = self.create_publisher(Image, common.IMAGE, common.IMAGE_PUB_QOS)
        self.transcript_pub = messages.publisher(self, common.TRANSCRIPT)
        self.estop_pub = self.create_publisher(Bool, common.ESTOP, common.STATE_QOS)
        self._vqa = None

    def _cb(self, topic: str, kind: str):
        def cb(msg) -> None:
            try:
                body = messages.from_msg(kind, msg)
            except Exception as e:  # noqa: BLE001 - the observer reports, it does not crash
                body = {"invalid": str(e)}
            self._add(Event(topic, time.time(), body))

        return cb

    def _add(self, ev: Event) -> None:
        with self.lock:
            self.seen.events.append(ev)
        if self.on_event is not None:
            self.on_event(ev)

    def _on_diag(self, msg: DiagnosticArray) -> None:
        for st in msg.status:
            d = {"level": int.from_bytes(st.level, "little") if isinstance(st.level, bytes) else int(st.level),
                 "name": st.name, "message": st.message, "values": {kv.key: kv.value for kv in st.values}}
            with self.lock:
                self.seen.diagnostics.append(d)
            self._add(Event(common.DIAGNOSTICS, time.time(), d))

    def _on_twist(self, msg: Twist) -> None:
        d = {"linear_x": msg.linear.x, "angular_z": msg.angular.z}
        with self.lock:
            self.seen.cmd_vel.append(d)
        self._add(Event(common.CMD_VEL, time.time(), d))

    def _on_head(self, msg: JointState) -> None:
        d = {"name": list(msg.name), "position": list(msg.position), "velocity": list(msg.velocity)}
        with self.lock:
            self.seen.head.append(d)
        self._add(Event(common.HEAD_COMMAND, time.time(), d))

    def _on_goal(self, msg: PoseStamped) -> None:
        p, q = msg.pose.position, msg.pose.orientation
        d = {"frame": msg.header.frame_id, "x": p.x, "y": p.y, "z": p.z, "qx": q.x, "qy": q.y, "qz": q.z, "qw": q.w}
        with self.lock:
            self.seen.goals.append(d)
        self._add(Event(common.GOAL_POSE, time.time(), d))

    def _on_cancel(self, msg: Empty) -> None:
        with self.lock:
            self.seen.cancels += 1
        self._add(Event(common.CANCEL, time.time(), {}))

    def say(self, text: str, stamp: float | None = None, tid: str = "") -> None:
        """Publish a transcript as a speech recogniser would."""
        body = {"text": text, "stamp": stamp if stamp is not None else time.time(), "speaker": "user",
                "final": True, "id": tid}
        self.transcript_pub.publish(messages.to_msg("transcript", body))

    def ask(self, question: str, qid: str, clip_frames: int = 0) -> None:
        """Send a goal to the VLM node's /vlm_robot/vqa action and return at once.

        The answer arrives on /vlm_robot/vqa/answer with ``qid`` (:meth:`answer`); the feedback is
        kept as :data:`VQA_FEEDBACK` events ``{"id", "text", "index"}``.
        """
        from rclpy.action import ActionClient

        from vlm_robot_interfaces.action import AnswerQuestion

        if self._vqa is None:
            self._vqa = ActionClient(self, AnswerQuestion, common.VQA_ACTION)
        if not self._vqa.wait_for_server(timeout_sec=30.0):
            raise AssertionError(f"no server for {common.VQA_ACTION} within 30 s")

        def feedback(msg) -> None:
            self._add(Event(VQA_FEEDBACK, time.time(), {"id": qid, "text": msg.feedback.text,
                                                        "index": msg.feedback.index}))

        goal = AnswerQuestion.Goal(id=qid, question=question, clip_frames=clip_frames)
        self._vqa.send_goal_async(goal, feedback_callback=feedback)

    def publish_frames(self, rgb, seconds: float, fps: float = 10.0) -> list[float]:
        """Publish ``rgb`` as the camera for ``seconds`` at ``fps``, stamped now; return the stamps."""
        from vlm_robot.nodes.convert import rgb_to_image

        stamps = []
        end = time.time() + seconds
        while time.time() < end:
            t = time.time()
            self.image_pub.publish(rgb_to_image(rgb, t))
            stamps.append(t)
            time.sleep(1 / fps)
        return stamps

    def answer(self, qid: str, timeout: float = 30.0) -> dict:
        """The VLM node's answer to question ``qid``; AssertionError when none came within ``timeout``."""
        if not self.wait_for(lambda s: any(a["id"] == qid for a in s.of(common.VQA_ANSWER)), timeout):
            raise AssertionError(f"no answer to question {qid!r} within {timeout:.0f} s")
        with self.lock:
            return next(a for a in self.seen.of(common.VQA_ANSWER) if a["id"] == qid)

    def wait_for(self, pred: Callable[[Observed], bool], timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if pred(self.seen):
                    return True
            time.sleep(0.05)
        return False


# topic -> the nodes that subscribe to it (besides observers and the recorder)
SUBSCRIBERS = {
    common.IMAGE: ("perception", "vlm"), common.TRANSCRIPT: ("reasoning",), common.PEOPLE: ("reasoning",),
    common.INTENT: ("safety_gate",), common.UTTERANCE: ("speech_out",),
}


def wait_ready(node, g: graph.Graph, timeout: float = 120.0) -> None:
    """Wait until every node of ``g`` has subscribed to its inputs (so its models are loaded).

    ``node`` is the caller's observer: it subscribes to PEOPLE, INTENT and UTTERANCE itself.
    Raises with the name of a node that died while starting.
    """
    names = {s.name for s in g.nodes}
    need = {}
    for topic, subs in SUBSCRIBERS.items():
        is_input = topic in (common.IMAGE, common.TRANSCRIPT)
        # inputs: the recorder records them too; outputs: the observer itself subscribes
        need[topic] = sum(s in names for s in subs) + (("recorder" in names) if is_input else 1)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        gone = g.poll()
        if gone:
            raise RuntimeError(f"node(s) exited while starting: {'; '.join(gone)}; see logs in {g.log_dir}")
        if all(node.count_subscribers(t) >= n for t, n in need.items()):
            return
        time.sleep(0.1)
    raise TimeoutError(f"nodes not ready after {timeout:.0f} s; see logs in {g.log_dir}")


@contextmanager
def person_in_view(obs: Node, mood: str = "neutral", descriptor: tuple[float, ...] = (),
                   period_s: float = 0.2) -> Iterator[None]:
    """While the block runs, one person stands about 1 m in front of the robot, looking at it, as perception
    reports them on /vlm_robot/people (``mood`` with probability 0.94, ``descriptor`` for re-identification)."""
    from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult

    pub = messages.publisher(obs, common.PEOPLE)
    probs = tuple(0.94 if e == mood else 0.01 for e in EXPRESSIONS)
    stop = threading.Event()

    def camera() -> None:
        while not stop.is_set():
            face = Face((280.0, 180.0, 90.0, 90.0), 0.95, (), mood, probs, 1.0, descriptor)
            pub.publish(messages.to_msg(
                "people", PerceptionResult(time.time(), "camera", 640, 480, (face,)).to_dict()))
            time.sleep(period_s)

    cam = threading.Thread(target=camera, name="person-in-view", daemon=True)
    cam.start()
    try:
        yield
    finally:
        stop.set()
        cam.join()


@contextmanager
def observed_graph(g: graph.Graph, name: str = "observer", on_event: Callable[[Event], None] | None = None,
                   settle_s: float = 2.0, setup: Callable[[Observer], None] | None = None) -> Iterator[Observer]:
    """Start ``g``'s node processes and an :class:`Observer` in this process; stop both on exit.

    Yields once every node subscribes to its inputs and ``settle_s`` more seconds have passed, so
    that every publisher has matched every subscriber (discovery is per endpoint pair). ``setup`` runs
    before the nodes start (extra subscriptions that must not miss a node's first messages).
    """
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    rclpy.init()
    obs = Observer(on_event=on_event, name=name)
    ex = SingleThreadedExecutor()
    ex.add_node(obs)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    try:
        if setup is not None:
            setup(obs)
        g.start()
        wait_ready(obs, g)
        time.sleep(settle_s)
        yield obs
    finally:
        obs.exit_codes = g.stop()
        ex.shutdown(timeout_sec=1.0)
        spin.join(timeout=2.0)
        obs.destroy_node()
        rclpy.try_shutdown()


def decision_key(d: dict) -> tuple:
    """What must be the same in a replay: the action, whom it concerns and why (without numbers)."""
    reason = d["reason"]
    for word in ("waiting", "looks", "already addressed", "conversation", "cooldown", "not facing",
                 "replying", "requested", "greeting someone else", "may look", "in view"):
        if word in reason:
            reason = word
            break
    return (d["action"], d.get("person_id"), reason, json.dumps(d.get("detail", {}).get("intent")))


class Timeline:
    """Formats events as readable lines, skipping repeats (the same faces frame after frame)."""

    def __init__(self, t0: float, printer: Callable[[str], None] = print) -> None:
        self.t0 = t0
        self.printer = printer
        self.lines: list[str] = []
        self._last_seen = ""
        self._last_scene = ""
        self._last_belief: dict[int, str] = {}

    def __call__(self, ev: Event) -> None:
        line = self.format(ev)
        if line:
            stamp = f"[{ev.received - self.t0:6.2f}s]"
            self.lines.append(f"{stamp} {line}")
            self.printer(f"{stamp} {line}")

    def format(self, ev: Event) -> str | None:
        b = ev.body
        if "invalid" in b:
            return f"INVALID  {ev.topic}: {b['invalid']}"
        if ev.topic == common.PEOPLE:
            faces = b["faces"]
            summary = ", ".join(f"face at ({f['box'][0]:.0f},{f['box'][1]:.0f}) {f['expression']}" for f in faces)
            key = ",".join(f["expression"] for f in faces)
            if key == self._last_seen:
                return None
            self._last_seen = key
            return f"SAW      {len(faces)} face(s)" + (f": {summary}" if faces else "")
        if ev.topic == common.PERSON_STATES:
            out = []
            for p in b["people"]:
                key = f"{p['mood']}"
                if self._last_belief.get(p["id"]) != key:
                    self._last_belief[p["id"]] = key
                    out.append(f"person {p['id']} looks {p['mood']} ({p['mood_confidence']:.2f}), "
                               f"facing {p['facing']:.2f}, in view {p['dwell_s']:.1f} s")
            return ("BELIEVE  " + "; ".join(out)) if out else None
        if ev.topic == common.DECISION:
            return f"DECIDE   {b['action']:<6} {b['reason']}"
        if ev.topic == common.UTTERANCE:
            return f'SAY      ({b["kind"]}) "{b["text"]}"'
        if ev.topic == common.INTENT:
            params = ", ".join(f"{k}={v}" for k, v in b["params"].items())
            return f"INTENT   {b['type']} -> {b['target'] or '-'} {params} ({b['source']})"
        if ev.topic == common.VERDICT:
            it = b["intent"]
            verdict = "APPROVED" if b["approved"] else ("WAITING" if b.get("pending") else "REJECTED")
            return f"GATE     {verdict} {it['type']} -> {it['target'] or '-'}: {'; '.join(b['reasons'])}"
        if ev.topic == common.SPEECH_DONE:
            return f"AUDIO    {b['duration_s']:.1f} s of speech -> {b['wav']}"
        if ev.topic == common.DIAGNOSTICS:
            return f"DIAG     {b['name']}: {b['message']}" if b["level"] >= 2 else None
        if ev.topic == common.SCENE_DESCRIPTION:
            if b["text"] == self._last_scene:
                return None
            self._last_scene = b["text"]
            return f"SCENE    {b['text']} ({b['backend']}, {b['latency_ms']:.0f} ms)"
        if ev.topic == common.VQA_ANSWER:
            return (f'ANSWER   {b["question"]!r} -> "{b["text"]}"' if b["ok"]
                    else f"ANSWER   {b['question']!r} -> error: {b['error']}")
        if ev.topic == common.CMD_VEL:
            return f"CMD_VEL  linear.x={b['linear_x']:.2f} angular.z={b['angular_z']:.2f}"
        if ev.topic == common.HEAD_COMMAND:
            return "HEAD     " + " ".join(f"{n}={p:+.2f}" for n, p in zip(b["name"], b["position"], strict=False))
        if ev.topic == common.GOAL_POSE:
            return f"GOAL     x={b['x']:.2f} y={b['y']:.2f} in {b['frame']}"
        return None
