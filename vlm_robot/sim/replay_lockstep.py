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

from vlm_robot.bag import read_bag
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
    from rclpy.serialization import deserialize_message
    from std_msgs.msg import String

    from vlm_robot.core import payload

    return [payload.decode("decision", deserialize_message(m.raw, String).data)
            for m in read_bag(bag, [common.DECISION])]


def replay_lockstep(bag: str | Path, out: Path) -> ReplayResult:
    """Play ``bag``'s inputs through perception, reasoning and the gate in lockstep."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image
    from std_msgs.msg import String

    from vlm_robot.core import payload
    from vlm_robot.nodes.recorder_node import message_class
    from vlm_robot.observe import observed_graph
    from vlm_robot.sim.runner import sim_graph

    recorded = recorded_decisions(bag)
    inbox = Inbox()
    lock = Lockstep(inbox)
    decisions: list[dict] = []
    frames = 0
    answered: set[float] = set()
    with observed_graph(sim_graph(out, record=False), name="replay", on_event=inbox, settle_s=1.0) as obs:
        pubs = {}
        for msg in read_bag(bag, list(INPUTS)):
            if msg.topic not in pubs:
                pubs[msg.topic] = obs.create_publisher(message_class(msg.msgtype), msg.topic,
                                                       common.qos_for(msg.topic, publisher=True))
                time.sleep(0.3)  # let the graph match the new publisher
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
                tid = payload.decode("transcript", deserialize_message(msg.raw, String).data).get("id", "")
                if tid:
                    lock.after_transcript(tid)
        decisions = [b for k, b in inbox.drain() if k == "decision"]
    return ReplayResult(recorded, decisions, frames, list(lock.late))
