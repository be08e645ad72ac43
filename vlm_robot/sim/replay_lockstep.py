"""`vlm-robot replay BAG --lockstep`: a recording's inputs through a fresh graph, frame by frame.

Only the inputs are played (camera frames, transcripts, do-not-disturb, joint states), in the order
they were recorded, each waiting for the graph's answer as the simulator did (vlm_robot/sim/lockstep.py),
so replay speed and machine load cannot change what is decided. The decisions are compared with the
ones recorded in the bag (``decision_key``: action, person, reason, intent).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

from vlm_robot.bag import bag_summary, read_bag
from vlm_robot.nodes import common
from vlm_robot.observe import decision_key
from vlm_robot.sim.lockstep import Inbox, Lockstep

INPUTS = (common.DND, common.JOINT_STATES, common.IMAGE, common.TRANSCRIPT)


@dataclass
class ReplayResult:
    recorded: list[dict]  # decisions in the bag
    replayed: list[dict]  # decisions of this replay
    frames: int
    problems: list[str]

    @property
    def same(self) -> bool:
        return [decision_key(d) for d in self.recorded] == [decision_key(d) for d in self.replayed]

    def first_difference(self) -> str:
        a = [decision_key(d) for d in self.recorded]
        b = [decision_key(d) for d in self.replayed]
        for i, (x, y) in enumerate(zip(a, b, strict=False)):
            if x != y:
                return f"decision {i}: recorded {x}, replayed {y}"
        return f"recorded {len(a)} decisions, replayed {len(b)}" if len(a) != len(b) else ""


def recorded_decisions(bag: str | Path) -> list[dict]:
    from vlm_robot.bag import check_wire_format
    from vlm_robot.nodes import messages

    check_wire_format(bag)
    return [messages.from_raw("decision", m.raw) for m in read_bag(bag, [common.DECISION])]


RANK = {common.DND: 0, common.JOINT_STATES: 1, common.IMAGE: 2, common.TRANSCRIPT: 3}


def ordered_inputs(bag: str | Path) -> list:
    """The bag's inputs in the order they happened, not the order the recorder got them.

    The recorder writes each topic as its callback runs, so a frame can land before the joint state of
    the same moment. Inputs are ordered by their own header stamps;
    at one stamp do-not-disturb, then joint states, the frame, and what was said. Do-not-disturb has no
    stamp and takes that of the next frame.
    """
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image, JointState

    from vlm_robot.nodes import messages

    msgs = list(read_bag(bag, list(INPUTS)))
    stamps: list[float | None] = []
    for m in msgs:
        if m.topic in (common.IMAGE, common.JOINT_STATES):
            st = deserialize_message(m.raw, Image if m.topic == common.IMAGE else JointState).header.stamp
            stamps.append(st.sec + st.nanosec * 1e-9)
        elif m.topic == common.TRANSCRIPT:
            stamps.append(messages.from_raw("transcript", m.raw)["stamp"])
        else:
            stamps.append(None)
    nxt = None  # an unstamped message takes the stamp of the next stamped one (or the last one)
    for i in range(len(msgs) - 1, -1, -1):
        if stamps[i] is None:
            stamps[i] = nxt
        else:
            nxt = stamps[i]
    last = 0.0
    keyed = []
    for i, (m, st) in enumerate(zip(msgs, stamps, strict=True)):
        last = st if st is not None else last
        keyed.append(((last, RANK[m.topic], i), m))
    return [m for _, m in sorted(keyed, key=lambda x: x[0])]


def replay_lockstep(bag: str | Path, out: Path) -> ReplayResult:
    """Play ``bag``'s inputs through perception, reasoning and the gate in lockstep."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image

    from vlm_robot.nodes import messages
    from vlm_robot.nodes.topics import message_class
    from vlm_robot.observe import observed_graph
    from vlm_robot.sim.runner import sim_graph

    recorded = recorded_decisions(bag)
    inbox = Inbox()
    lock = Lockstep(inbox)
    decisions: list[dict] = []
    frames = 0
    answered: set[float] = set()
    with observed_graph(sim_graph(out, record=False), name="replay", on_event=inbox, settle_s=1.0) as obs:
        # every input's publisher first, so that all are matched before the first frame
        pubs = {topic: obs.create_publisher(message_class(msgtype), topic, common.qos_for(topic, publisher=True))
                for topic, (msgtype, _) in bag_summary(bag).items() if topic in INPUTS}
        time.sleep(0.5)
        for msg in ordered_inputs(bag):
            if msg.topic == common.DND:
                pubs[msg.topic].publish(msg.raw)
                time.sleep(0.3)
                continue
            if msg.topic == common.IMAGE:
                st = deserialize_message(msg.raw, Image).header.stamp
                stamp = st.sec + st.nanosec * 1e-9
                if stamp in answered:  # the live run sent its priming frame more than once
                    continue
                answered.add(stamp)
                if len(answered) == 1:  # the first frame is sent until the fresh graph answers it
                    lock.prime(lambda raw=msg.raw, topic=msg.topic: pubs[topic].publish(raw), stamp)
                    continue
                pubs[msg.topic].publish(msg.raw)
                lock.after_frame(stamp)
                frames += 1
                continue
            pubs[msg.topic].publish(msg.raw)
            if msg.topic == common.TRANSCRIPT:
                tid = messages.from_raw("transcript", msg.raw)["id"]
                if tid:
                    lock.after_transcript(tid)
        decisions = [b for k, b in inbox.drain() if k == "decision"]
    return ReplayResult(recorded, decisions, frames, list(lock.late))
