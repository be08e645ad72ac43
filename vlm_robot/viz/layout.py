"""The entity layout: what each topic becomes in Rerun, and the viewer's blueprint.

    camera/image              the camera (JPEG by default)
    camera/image/people       tracked people: box labelled "#id name mood confidence facing", coloured by mood
    camera/image/faces        perception's faces (labelled with the expression only when nobody is tracked)
    camera/image/faces/keypoints   eyes, nose, mouth, ears
    speech/person             what people said (HEARD); speech/partial: the speculative text at a pause
    speech/robot              what the robot said (SAY; ERROR for error replies); speech/aborted: cut off (barge-in)
    decisions                 greet / reply / intent / silent with the reason (DECIDE)
    intents                   intents as emitted (INTENT); intents/verdicts: the gate's verdict (GATE), coloured
    vlm/scene, vlm/answers    the VLM node's scene descriptions and answers
    people/person_<id>/<mood>, people/person_<id>/facing   smoothed mood confidence and attention over time
    head/command/{pan,tilt}, head/state/{pan,tilt}         degrees: what the gate commanded, where the head is
    robot/speaking, robot/cmd_vel/{linear,angular}, robot/state (estop, do-not-disturb, voice style), robot/goals
    diagnostics               ERROR / WARN from any node
    session/gaps, session/problems   what a converted recording lacks, messages that could not be read

Every row is on the ``time`` timeline at the message's own stamp (the event clock: a person's box is on the
frame it was seen in); messages without a stamp use the time they arrived (live) or were recorded (bag).
:class:`VizSession` does the logging for the live node (:mod:`~vlm_robot.viz.live`) and the converter
(:mod:`~vlm_robot.viz.convert`) alike, from raw CDR bytes as they are on the wire or in the bag.
"""

from __future__ import annotations

import math
from typing import Any

import cv2
import numpy as np
import rerun as rr
import rerun.blueprint as rrb
from rclpy.serialization import deserialize_message

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.image import image_to_rgb
from vlm_robot.nodes import messages, topics
from vlm_robot.viz.config import VizConfig

TIMELINE = "time"
IMAGE = "camera/image"
PEOPLE_BOXES = "camera/image/people"
FACES = "camera/image/faces"
KEYPOINTS = "camera/image/faces/keypoints"
HEARD = "speech/person"
PARTIAL = "speech/partial"
SAID = "speech/robot"
ABORTED = "speech/aborted"
DECISIONS = "decisions"
INTENTS = "intents"
VERDICTS = "intents/verdicts"
SCENE = "vlm/scene"
ANSWERS = "vlm/answers"
GAPS = "session/gaps"
PROBLEMS = "session/problems"
TEXT_ENTITIES = (HEARD, PARTIAL, SAID, ABORTED, DECISIONS, INTENTS, VERDICTS, SCENE, ANSWERS, "robot/state",
                 "robot/goals", "diagnostics", GAPS, PROBLEMS)

MOOD_COLOURS: dict[str, tuple[int, int, int]] = {
    "happy": (46, 170, 80), "neutral": (120, 144, 170), "sad": (52, 110, 230), "angry": (220, 50, 40),
    "fear": (150, 70, 200), "surprise": (240, 150, 20), "disgust": (130, 130, 20),
}
GREEN, RED, AMBER, GREY, BLUE = (40, 170, 60), (220, 50, 40), (235, 160, 0), (140, 140, 140), (40, 110, 220)
# shown elsewhere: the reply's pieces make up the utterance, approved intents are the approved verdicts
COVERED = {topics.REPLY_CHUNK: "the utterance it makes up (speech/robot)", topics.APPROVED: "intents/verdicts"}
SHOWN = [t.name for t in topics.TOPICS if t.name not in COVERED]


def blueprint() -> rrb.Blueprint:
    """Camera with boxes and the mood / attention plots on the left; words, decisions and verdicts on the right."""
    return rrb.Blueprint(
        rrb.Horizontal(
            rrb.Vertical(
                rrb.Spatial2DView(origin=f"/{IMAGE}", name="camera: who is there, their mood"),
                rrb.TimeSeriesView(origin="/people", name="mood confidence and facing, per person"),
                row_shares=[3, 1]),
            rrb.Vertical(
                rrb.TextLogView(origin="/", contents=[f"+ /{e}" for e in TEXT_ENTITIES],
                                name="heard, said, decided, gated",  # the level (SAY, HEARD...) names the source
                                columns=rrb.archetypes.TextLogColumns(text_log_columns=["LogLevel", "Body"])),
                rrb.TimeSeriesView(origin="/", contents=["+ /head/**", "+ /robot/speaking", "+ /robot/cmd_vel/**",
                                                         "+ /speech/voice_activity"],
                                   name="head (deg), speaking, cmd_vel"),
                row_shares=[3, 1]),
            column_shares=[3, 2]),
        rrb.BlueprintPanel(state="collapsed"), rrb.SelectionPanel(state="collapsed"),
        rrb.TimePanel(state="collapsed"))


def _stamp(t: float | None, fallback: float) -> float:
    return t if t is not None and math.isfinite(t) and t > 0 else fallback


def _header_s(msg: Any) -> float:
    return msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9


class VizSession:
    """Logs the robot's messages to one Rerun recording stream in the layout above.

    Args:
        rec: the recording stream (a viewer connection or a file).
        config: image format and quality.
        tracked: whether tracked people (``/vlm_robot/person_states``) will come; until they do, faces carry
            their expression as the label. ``None``: decide from what arrives (live).

    ``counts`` (rows per entity), ``boxes`` and ``problems`` (topic -> unreadable messages, with the first
    reason) say what was shown; :meth:`handle` never raises for a bad message.
    """

    def __init__(self, rec: rr.RecordingStream, config: VizConfig | None = None, tracked: bool | None = None) -> None:
        self.rec = rec
        self.config = config or VizConfig()
        self.tracked = tracked
        self.counts: dict[str, int] = {}
        self.boxes = 0
        self.problems: dict[str, tuple[int, str]] = {}
        self._styled: set[str] = set()
        self._moods: dict[int, str] = {}
        self._classes: dict[str, type] = {}

    def restyle(self) -> None:
        """Send the plots' names and colours again (a new viewer has not seen them)."""
        self._styled.clear()

    # --- entry points --------------------------------------------------------------------------------------

    def handle(self, topic: str, raw: bytes, received: float) -> bool:
        """Decode one message of ``topic`` (raw CDR) and log it; False when it could not be read or is not shown."""
        try:
            if topic == topics.IMAGE:
                return self._image(raw, received)
            if topic in messages.KIND_OF_TOPIC:
                if topic in COVERED:
                    return False
                return self.show(topic, messages.from_raw(messages.KIND_OF_TOPIC[topic], raw), received)
            if topic not in topics.TOPIC_TYPES:
                return False
            return self.show(topic, self._decode(topic, raw), received)
        except (InvalidInputError, ValueError, TypeError, KeyError, RecursionError, MemoryError) as e:
            n, first = self.problems.get(topic, (0, f"{type(e).__name__}: {str(e)[:200]}"))
            self.problems[topic] = (n + 1, first)
            if n == 0:  # said once per topic; the rest are counted
                self._text(PROBLEMS, received, f"a message on {topic} could not be shown: {first}", "WARN", AMBER)
            return False

    def show(self, topic: str, v: Any, received: float) -> bool:
        """Log one decoded message: a checked dict (our interfaces) or a ROS message (std types)."""
        fn = _SHOW.get(topic)
        if fn is None:
            return False
        fn(self, v, received)
        return True

    def note(self, entity: str, text: str, t: float, level: str = "WARN") -> None:
        """A line about the session itself (a gap in a recording, a viewer that came back)."""
        self._text(entity, t, text, level, AMBER if level == "WARN" else GREY)

    # --- helpers -------------------------------------------------------------------------------------------

    def _decode(self, topic: str, raw: bytes) -> Any:
        """The ROS message of a topic of a standard type (Image, Bool, JointState...) from its CDR bytes.

        Raises:
            InvalidInputError: the bytes are not such a message (rclpy's error, whatever its type, named).
        """
        cls = self._classes.get(topic)
        if cls is None:
            cls = self._classes[topic] = topics.message_class(topics.TOPIC_TYPES[topic])
        try:
            return deserialize_message(raw, cls)
        except Exception as e:  # rclpy raises its own RMWError: made the one typed error here
            raise InvalidInputError(f"expected a CDR {topics.TOPIC_TYPES[topic]} ({len(raw)} bytes arrived): "
                                    f"{type(e).__name__}: {str(e)[:200]}") from e

    def _at(self, t: float) -> None:
        self.rec.set_time(TIMELINE, timestamp=t)

    def _log(self, entity: str, t: float, *archetypes: Any) -> None:
        self._at(t)
        self.rec.log(entity, *archetypes)
        self.counts[entity] = self.counts.get(entity, 0) + 1

    def _text(self, entity: str, t: float, text: str, level: str, colour: tuple[int, int, int]) -> None:
        self._log(entity, t, rr.TextLog(text, level=level, color=colour))

    def _scalar(self, entity: str, t: float, value: float, name: str, colour: tuple[int, int, int]) -> None:
        if entity not in self._styled:
            self._styled.add(entity)
            self.rec.log(entity, rr.SeriesLines(names=name, colors=colour), static=True)
        self._log(entity, t, rr.Scalars(float(value)))

    # --- camera and people ---------------------------------------------------------------------------------

    def _image(self, raw: bytes, received: float) -> bool:
        msg = self._decode(topics.IMAGE, raw)
        rgb = image_to_rgb(msg.height, msg.width, msg.encoding, msg.step, msg.data)
        self.image(rgb, _stamp(_header_s(msg), received))
        return True

    def image(self, rgb: np.ndarray, t: float) -> None:
        """An ``(H, W, 3)`` uint8 RGB frame at time ``t``, as JPEG or raw (``config.image_format``)."""
        if self.config.image_format == "jpeg":
            ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, self.config.jpeg_quality])
            if not ok:
                raise InvalidInputError(f"JPEG encoding of a {rgb.shape[1]}x{rgb.shape[0]} frame failed")
            self._log(IMAGE, t, rr.EncodedImage(contents=buf.tobytes(), media_type="image/jpeg"))
        else:
            self._log(IMAGE, t, rr.Image(rgb))

    def _people(self, d: dict, received: float) -> None:
        t = _stamp(d["stamp"], received)
        faces = d["faces"]
        boxes = np.array([f["box"] for f in faces], dtype=np.float32).reshape(-1, 4)
        labelled = not self.tracked
        labels = [f"{f['expression']} {max(f['expression_scores'].values(), default=0.0):.2f}" for f in faces]
        colours = [MOOD_COLOURS.get(f["expression"], GREY) if labelled else GREY for f in faces]
        self._log(FACES, t, rr.Boxes2D(mins=boxes[:, :2], sizes=boxes[:, 2:], labels=labels if labelled else None,
                                       colors=colours, radii=1.0, show_labels=labelled))
        self.boxes += len(faces)
        points = np.array([p for f in faces for p in f["keypoints"]], dtype=np.float32).reshape(-1, 2)
        self._log(KEYPOINTS, t, rr.Points2D(points, radii=2.0, colors=(255, 220, 0)))

    def _person_states(self, d: dict, received: float) -> None:
        t = _stamp(d["stamp"], received)
        if self.tracked is None:
            self.tracked = True
        people = d["people"]
        boxes = np.array([p["box"] for p in people], dtype=np.float32).reshape(-1, 4)
        labels = [" ".join(x for x in (f"#{p['id']}", p.get("name") or "", p["mood"],
                                       f"{p['mood_confidence']:.2f}", f"facing {p['facing']:.2f}") if x)
                  for p in people]
        colours = [MOOD_COLOURS.get(p["mood"], GREY) for p in people]
        self._log(PEOPLE_BOXES, t, rr.Boxes2D(mins=boxes[:, :2], sizes=boxes[:, 2:], labels=labels, colors=colours,
                                              radii=2.5, show_labels=True))
        self.boxes += len(people)
        for p in people:
            pid, mood = int(p["id"]), p["mood"]
            base = f"people/person_{pid}"
            before = self._moods.get(pid)
            if before is not None and before != mood:  # the old mood's line drops to 0 where the new one starts
                self._scalar(f"{base}/{before}", t, 0.0, f"#{pid} {before}", MOOD_COLOURS.get(before, GREY))
            self._moods[pid] = mood
            self._scalar(f"{base}/{mood}", t, p["mood_confidence"], f"#{pid} {mood}", MOOD_COLOURS.get(mood, GREY))
            self._scalar(f"{base}/facing", t, p["facing"], f"#{pid} facing", (90, 90, 90))

    # --- words, decisions, intents -------------------------------------------------------------------------

    def _transcript(self, d: dict, received: float) -> None:
        final = d.get("final", True)
        self._text(HEARD if final else PARTIAL, _stamp(d.get("stamp"), received),
                   f"{d.get('speaker') or 'someone'}: {d['text']}", "HEARD" if final else "PARTIAL",
                   (30, 30, 30) if final else GREY)

    def _partial(self, d: dict, received: float) -> None:
        self._transcript({**d, "final": False}, received)

    def _utterance(self, d: dict, received: float) -> None:
        error = d["kind"] == "error"
        self._text(SAID, _stamp(d.get("stamp"), received), f"({d['kind']}) {d['text']}",
                   "ERROR" if error else "SAY", RED if error else BLUE)

    def _speech_done(self, d: dict, received: float) -> None:
        if d.get("aborted"):
            self._text(ABORTED, received, f"cut off ({d.get('reason') or 'barge-in'}): {d['text']}", "ABORTED", AMBER)

    def _voice_style(self, d: dict, received: float) -> None:
        self._text("robot/state", _stamp(d.get("stamp"), received), f"voice: rate x{d['rate_scale']:.2f}, volume "
                   f"x{d['volume_scale']:.2f} ({d.get('reason', '')[:80]})", "STATE", BLUE)

    def _decision(self, d: dict, received: float) -> None:
        who = f" person {d['person_id']}" if d.get("person_id") is not None else ""
        self._text(DECISIONS, _stamp(d.get("stamp"), received), f"{d['action']}{who}: {d['reason']}", "DECIDE",
                   GREY if d["action"] == "silent" else (20, 120, 120))

    @staticmethod
    def _intent_words(i: dict) -> str:
        params = ", ".join(f"{k}={v}" for k, v in i.get("params", {}).items())
        target = f" -> {i['target']}" if i.get("target") else ""
        return f"{i['type']}{target}{f' ({params})' if params else ''}"

    def _intent(self, d: dict, received: float) -> None:
        why = f" [{d.get('source') or '?'}: {d['reason']}]" if d.get("reason") else ""
        self._text(INTENTS, _stamp(d.get("stamp"), received), self._intent_words(d) + why, "INTENT", (60, 60, 60))

    def _verdict(self, d: dict, received: float) -> None:
        i = d["intent"]
        verdict, colour = (("PENDING", AMBER) if d.get("pending") else ("APPROVED", GREEN) if d["approved"]
                           else ("REJECTED", RED))
        self._text(VERDICTS, _stamp(i.get("stamp"), received),
                   f"{verdict} {self._intent_words(i)}: {'; '.join(d['reasons'])}", "GATE", colour)

    def _scene(self, d: dict, received: float) -> None:
        self._text(SCENE, _stamp(d.get("stamp"), received), d["text"], "SCENE", (100, 60, 160))

    def _answer(self, d: dict, received: float) -> None:
        said = d["text"] if d.get("ok") else f"error: {d.get('error', '')}"
        self._text(ANSWERS, received, f"{d.get('question', '')!r} -> {said}", "ANSWER", (100, 60, 160))

    # --- robot state (std types) ---------------------------------------------------------------------------

    def _cmd_vel(self, msg: Any, received: float) -> None:
        self._scalar("robot/cmd_vel/linear", received, msg.linear.x, "linear.x (m/s)", (60, 60, 60))
        self._scalar("robot/cmd_vel/angular", received, msg.angular.z, "angular.z (rad/s)", (160, 60, 160))

    def _goal(self, msg: Any, received: float) -> None:
        p = msg.pose.position
        self._text("robot/goals", _stamp(_header_s(msg), received),
                   f"goal ({p.x:.2f}, {p.y:.2f}) in {msg.header.frame_id or '?'}", "GOAL", (60, 60, 60))

    def _cancel(self, msg: Any, received: float) -> None:
        self._text("robot/goals", received, "cancel the navigation goal", "GOAL", RED)

    def _diagnostics(self, msg: Any, received: float) -> None:
        for st in msg.status:
            level = st.level if isinstance(st.level, int) else int.from_bytes(st.level, "little")
            if level >= 1:
                self._text("diagnostics", received, f"{st.name}: {st.message}", "ERROR" if level >= 2 else "WARN",
                           RED if level >= 2 else AMBER)


def _flag(name: str, entity: str):
    """A std_msgs/Bool as a 0/1 plot (``entity``) or, with no entity, as an ON / off line in robot/state."""
    def show(self: VizSession, msg: Any, received: float) -> None:
        if entity:
            self._scalar(entity, received, 1.0 if msg.data else 0.0, name, BLUE)
        else:
            self._text("robot/state", received, f"{name} {'ON' if msg.data else 'off'}", "STATE",
                       RED if msg.data else GREY)
    return show


def _head(which: str):
    """A sensor_msgs/JointState's head_pan / head_tilt in degrees under head/<which>/."""
    def show(self: VizSession, msg: Any, received: float) -> None:
        t = _stamp(_header_s(msg), received)
        for joint, pos in zip(msg.name, msg.position, strict=False):
            axis = {"head_pan": "pan", "head_tilt": "tilt"}.get(joint)
            if axis:
                self._scalar(f"head/{which}/{axis}", t, math.degrees(pos), f"{which} {axis} (deg)",
                             (200, 90, 30) if axis == "pan" else (30, 140, 200))
    return show


_SHOW = {
    topics.PEOPLE: VizSession._people, topics.PERSON_STATES: VizSession._person_states,
    topics.TRANSCRIPT: VizSession._transcript, topics.PARTIAL_TRANSCRIPT: VizSession._partial,
    topics.UTTERANCE: VizSession._utterance, topics.SPEECH_DONE: VizSession._speech_done,
    topics.DECISION: VizSession._decision, topics.INTENT: VizSession._intent, topics.VERDICT: VizSession._verdict,
    topics.SCENE_DESCRIPTION: VizSession._scene, topics.VQA_ANSWER: VizSession._answer,
    topics.SPEAKING: _flag("speaking", "robot/speaking"), topics.VOICE_ACTIVITY: _flag("voice activity",
                                                                                      "speech/voice_activity"),
    topics.ESTOP: _flag("emergency stop", ""), topics.DND: _flag("do not disturb", ""),
    topics.HEAD_COMMAND: _head("command"), topics.JOINT_STATES: _head("state"),
    topics.CMD_VEL: VizSession._cmd_vel, topics.GOAL_POSE: VizSession._goal, topics.CANCEL: VizSession._cancel,
    topics.DIAGNOSTICS: VizSession._diagnostics, topics.VOICE_STYLE: VizSession._voice_style,
}
VIEWED = frozenset(_SHOW) | {topics.IMAGE}
"""Topics with a view; tests/test_viz.py checks that it is every topic of nodes/topics.py but :data:`COVERED`."""
