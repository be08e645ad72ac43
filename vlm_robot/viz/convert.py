"""A recorded session (rosbag2 MCAP folder) -> a Rerun ``.rrd`` in the live view's layout.

    vlm-robot view out/demo/session               # converts to out/demo/session.rrd and serves it
    vlm-robot view BAG --perceive                 # a bag without faces: compute them from the frames

Every message goes through the same :class:`~vlm_robot.viz.layout.VizSession` as in ``viz_node``, from the
recorded raw CDR bytes, on the timeline of its own stamps. What the recording lacks is named, in the output and
as rows of ``session/gaps`` in the view: no camera frames, no faces, a topic of a type vlm_robot has no view
for, messages that cannot be read. The rest is shown.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vlm_robot.bag import IMAGE_TOPIC, JPEG_TOPIC, bag_summary, check_wire_format, read_bag
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.nodes import topics
from vlm_robot.viz.config import VizConfig


@dataclass
class Conversion:
    """What :func:`bag_to_rrd` wrote and what it could not show."""

    rrd: Path
    messages: int = 0
    frames: int = 0
    boxes: int = 0
    counts: dict[str, int] = field(default_factory=dict)  # rows per entity
    gaps: list[str] = field(default_factory=list)
    problems: dict[str, tuple[int, str]] = field(default_factory=dict)  # topic -> (unreadable, first reason)
    perceived: bool = False
    seconds: float = 0.0

    def lines(self) -> list[str]:
        rows = sum(self.counts.values())
        out = [f"{self.rrd}: {self.messages} messages -> {rows} rows, {self.frames} frames, {self.boxes} boxes "
               f"({self.seconds:.1f} s{', faces computed from the frames' if self.perceived else ''})"]
        out += [f"  gap: {g}" for g in self.gaps]
        out += [f"  unreadable: {n} message(s) on {t}, the first: {why}" for t, (n, why) in self.problems.items()]
        return out


def default_output(bag: Path) -> Path:
    """``out/demo/session`` -> ``out/demo/session.rrd`` (next to the bag folder)."""
    return bag.parent / f"{bag.name}.rrd"


def _plan(summary: dict[str, tuple[str, int]], perceive: bool) -> tuple[list[str], list[str], bool]:
    """The topics to read, the gaps to name, and whether people are tracked in the recording."""
    wanted, gaps = [], []
    for topic, (msgtype, _n) in sorted(summary.items()):
        if topic == JPEG_TOPIC and msgtype == "sensor_msgs/msg/CompressedImage":
            wanted.append(IMAGE_TOPIC)
        elif topics.TOPIC_TYPES.get(topic) == msgtype:
            wanted.append(topic)
        else:
            known = topics.TOPIC_TYPES.get(topic)
            gaps.append(f"{topic} ({msgtype}) is not shown: " + (f"vlm_robot's {topic} is {known}" if known
                                                                 else "vlm_robot has no view for this topic"))
    count = {t: n for t, (_m, n) in summary.items()}
    frames = count.get(IMAGE_TOPIC, 0) + count.get(JPEG_TOPIC, 0)
    faces = count.get(topics.PEOPLE, 0) + count.get(topics.PERSON_STATES, 0)
    if not frames:
        gaps.append(f"no camera frames in this recording ({IMAGE_TOPIC}): the camera view stays empty"
                    + ("; nothing to compute faces from (--perceive)" if perceive else ""))
    elif not faces and not perceive:
        gaps.append(f"no faces recorded ({topics.PEOPLE}, {topics.PERSON_STATES}): no boxes on the frames; "
                    "`vlm-robot view BAG --perceive` computes them from the frames")
    return sorted(set(wanted)), gaps, count.get(topics.PERSON_STATES, 0) > 0


class _Perception:
    """Faces and tracked people computed from recorded frames (``--perceive``), with the robot's own models."""

    def __init__(self) -> None:
        from vlm_robot.perception.pipeline import Perceiver
        from vlm_robot.reasoning.tracker import PeopleTracker

        self.perceiver = Perceiver()
        self.tracker = PeopleTracker()

    def __call__(self, rgb, stamp: float) -> tuple[dict, dict]:
        from vlm_robot.core.types import Frame

        result = self.perceiver.process(Frame(rgb, stamp))
        people = self.tracker.update(result)
        return result.to_dict(), {"stamp": stamp, "people": [p.to_dict() for p in people]}


def bag_to_rrd(bag: str | Path, out: str | Path | None = None, *, perceive: bool = False,
               config: VizConfig | None = None, progress: Callable[[int], None] | None = None) -> Conversion:
    """Write ``bag`` as an ``.rrd`` (default: next to the bag folder, :func:`default_output`).

    Args:
        bag: a rosbag2 folder (MCAP or sqlite3) that `vlm-robot demo`, `vlm-robot run` or `ros2 bag record` wrote.
        out: the .rrd to write (replaced if it exists).
        perceive: when the recording has frames but no faces, run the packaged face and expression models and
            the tracker on the frames (the boxes are computed now, not recorded; the gaps say so).
        config: image format and quality (:class:`VizConfig`; only those fields are used).
        progress: called with the number of messages done, every 100.

    Raises:
        InvalidInputError: not a rosbag2 folder, an unfinished split, or the old JSON wire format.
        BackendUnavailableError: the Rerun SDK is not installed (the [viz] extra).
    """
    from vlm_robot.viz.live import import_rerun

    rr = import_rerun()
    from rclpy.serialization import deserialize_message

    from vlm_robot.core.image import image_to_rgb
    from vlm_robot.viz.layout import GAPS, VizSession, blueprint

    t_start = time.monotonic()
    bag = Path(bag)
    if not (bag / "metadata.yaml").is_file() and not (bag.is_dir() and any(bag.glob("*.mcap"))):
        raise InvalidInputError(f"{bag} is not a rosbag2 folder (no metadata.yaml); pass the folder that `vlm-robot "
                                "demo` or `vlm-robot run` recorded (out/demo/session), or an .rrd")
    check_wire_format(bag)
    summary = bag_summary(bag)
    wanted, gaps, tracked = _plan(summary, perceive)
    perception = _Perception() if perceive and IMAGE_TOPIC in wanted and not tracked else None
    if perception is not None:
        gaps.append("no faces recorded: the boxes are computed from the recorded frames now (packaged face and "
                    "expression models, the reasoning node's tracker), not what the robot saw live")
    rrd = Path(out) if out else default_output(bag)
    rrd.parent.mkdir(parents=True, exist_ok=True)
    rrd.unlink(missing_ok=True)
    rec = rr.RecordingStream("vlm_robot", recording_id=f"{bag.resolve()}")
    rec.save(str(rrd), default_blueprint=blueprint())
    session = VizSession(rec, config or VizConfig(), tracked=tracked or perception is not None)
    conv = Conversion(rrd, gaps=gaps, perceived=perception is not None)
    image_cls = topics.message_class(topics.TOPIC_TYPES[IMAGE_TOPIC])
    noted = False
    for msg in read_bag(bag, wanted):
        t = msg.stamp_ns / 1e9
        if not noted:
            for g in gaps:
                session.note(GAPS, g, t)
            noted = True
        conv.messages += 1
        if perception is not None and msg.topic == IMAGE_TOPIC:
            img = deserialize_message(msg.raw, image_cls)
            stamp = img.header.stamp.sec + img.header.stamp.nanosec * 1e-9 or t
            rgb = image_to_rgb(img.height, img.width, img.encoding, img.step, img.data)
            session.image(rgb, stamp)
            faces, people = perception(rgb, stamp)
            session.show(topics.PEOPLE, faces, stamp)
            session.show(topics.PERSON_STATES, people, stamp)
        else:
            session.handle(msg.topic, msg.raw, t)
        if progress is not None and conv.messages % 100 == 0:
            progress(conv.messages)
    if not noted:
        gaps.append("the recording holds no messages")
        for g in gaps:
            session.note(GAPS, g, time.time())
    rec.flush()
    rec.disconnect()
    conv.counts = dict(session.counts)
    conv.frames = session.counts.get("camera/image", 0)
    conv.boxes = session.boxes
    conv.problems = dict(session.problems)
    conv.seconds = time.monotonic() - t_start
    return conv
