"""Fuzz every subscribed topic of every node with broken messages; every node survives and answers the next good one.

Random bytes, truncated CDR, every float field NaN / infinite / huge, invalid UTF-8 in strings, 100k-character
strings, oversized arrays, impossible images and joint states, hostile action goals: published onto the topics the
running nodes subscribe to. Then the stack must still see a person, answer a sentence, rule on an intent and
answer a visual question, with no node restarted.
"""

from __future__ import annotations

import math
import random
import time

import pytest
from rclpy.serialization import serialize_message

from vlm_robot import graph
from vlm_robot.nodes import common, messages, topics

pytestmark = pytest.mark.graph
NODES = ("perception", "vlm", "reasoning", "safety_gate", "speech_out", "speech_in")
FLOAT_TYPES = {"float", "double"}


def _samples() -> dict[str, object]:
    from test_interfaces import SAMPLES  # tests/ is on sys.path (pytest rootdir, no __init__.py)

    return {kind: messages.to_msg(kind, body) for kind, body in SAMPLES.items()}


def _set(msg, name: str, value) -> None:
    """Set a float field; a value beyond float32 (1e308) becomes the largest float32 (the setter refuses it)."""
    try:
        setattr(msg, name, value)
    except AssertionError:
        big = math.copysign(3.4e38, value[0] if isinstance(value, list) else value)
        setattr(msg, name, [big] * len(value) if isinstance(value, list) else big)


def _set_floats(msg, value: float) -> None:
    """Every float field (nested, and float arrays) of ``msg`` set to ``value``."""
    for name, typ in msg.get_fields_and_field_types().items():
        v = getattr(msg, name)
        if typ in FLOAT_TYPES:
            _set(msg, name, value)
        elif typ.startswith("sequence<float") or typ.startswith("sequence<double"):
            _set(msg, name, [value] * max(1, len(v)))
        elif hasattr(v, "get_fields_and_field_types"):
            _set_floats(v, value)
        elif isinstance(v, list):
            for item in v:
                if hasattr(item, "get_fields_and_field_types"):
                    _set_floats(item, value)


def _set_strings(msg, value: str) -> None:
    for name, typ in msg.get_fields_and_field_types().items():
        v = getattr(msg, name)
        if typ == "string":
            setattr(msg, name, value)
        elif hasattr(v, "get_fields_and_field_types"):
            _set_strings(v, value)


def fuzz_cases(rng: random.Random) -> list[tuple[str, str, bytes]]:
    """``(what, topic, raw CDR)`` for every topic of ours a node subscribes to."""
    import copy

    samples = _samples()
    cases = []
    for topic, kind in messages.KIND_OF_TOPIC.items():
        good = serialize_message(samples[kind])
        # (an empty payload is left out: Fast DDS never delivers it, and a reliable reader then holds back
        # everything after it from the same writer; a node cannot see or report it)
        cases += [(f"{kind}: random bytes {n}", topic, rng.randbytes(n)) for n in (3, 64, 4096)]
        cases += [(f"{kind}: cut at {c}", topic, good[:c]) for c in sorted({4, 9, len(good) // 2, len(good) - 1})]
        for value in (math.nan, math.inf, -math.inf, 1e308, -1e30):
            m = copy.deepcopy(samples[kind])
            _set_floats(m, value)
            cases.append((f"{kind}: floats {value}", topic, serialize_message(m)))
        m = copy.deepcopy(samples[kind])
        _set_strings(m, "\u00e9" * 8)
        cases.append((f"{kind}: invalid UTF-8", topic, serialize_message(m).replace("é".encode(), b"\xff\xfe")))
        m = copy.deepcopy(samples[kind])
        _set_strings(m, "x" * 100_000)
        cases.append((f"{kind}: 100k strings", topic, serialize_message(m)))
    big = samples["people"]
    big.faces = [big.faces[0]] * 5000
    cases.append(("people: 5000 faces", topics.PEOPLE, serialize_message(big)))
    return cases


def _bad_images():
    from sensor_msgs.msg import Image

    yield Image(height=10_000, width=10_000, encoding="rgb8", step=30_000, data=b"\x00" * 30)
    yield Image(height=4, width=4, encoding="rgb8", step=12, data=b"\x00" * 10)
    yield Image(height=0, width=0, encoding="rgb8", step=0, data=b"")
    yield Image(height=4, width=4, encoding="yuv422_weird", step=8, data=b"\x00" * 32)


def _bad_joints():
    from sensor_msgs.msg import JointState

    yield JointState(name=["head_pan", "head_tilt"], position=[math.nan, math.inf])
    yield JointState(name=["head_pan", "head_tilt", "x"], position=[0.1])
    yield JointState(name=["head_pan"], position=[1e308, 2.0, 3.0])


def test_no_message_crashes_a_node(tmp_path, demo_scene):
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from vlm_robot.observe import observed_graph, person_in_view

    rng = random.Random(11)
    g = graph.Graph([s for s in graph.NODES if s.name in NODES],
                    {"speech_out": {"tts.output_dir": str(tmp_path / "speech")},
                     "reasoning": {"memory.path": "''"}}, log_dir=tmp_path / "logs", respawn=False)
    with observed_graph(g, "fuzz_test", settle_s=1.0) as obs:
        pubs = {t: obs.create_publisher(topics.message_class(topics.TOPIC_TYPES[t]), t, common.qos_for(t, True))
                for t in messages.KIND_OF_TOPIC}
        image = obs.image_pub
        joints = obs.create_publisher(JointState, common.JOINT_STATES, common.EVENT_QOS)
        bools = {t: obs.create_publisher(Bool, t, common.qos_for(t, True)) for t in (common.VOICE_ACTIVITY,)}
        time.sleep(2.0)  # discovery of the new publishers
        cases = fuzz_cases(rng)
        for _what, topic, raw in cases:
            pubs[topic].publish(raw)
            time.sleep(0.005)
        for msg in _bad_images():
            image.publish(msg)
        for msg in _bad_joints():
            joints.publish(msg)
        bools[common.VOICE_ACTIVITY].publish(b"\x00\x01\x00\x00\x07")
        for qid, question, clip in (("f1", "x" * 100_000, 0), ("f2", "", 0), ("f3", "Who is here?", 255)):
            obs.ask(question, qid, clip)
        for qid in ("f1", "f2", "f3"):
            assert not obs.answer(qid, 20)["ok"]
        time.sleep(2.0)
        assert not g.poll(), "a node exited under fuzzing"
        n_diag = len(obs.seen.diagnostics)
        print(f"{len(cases)} broken messages on {len(messages.KIND_OF_TOPIC)} topics; "
              f"{n_diag} diagnostics so far")
        assert n_diag >= 50  # the broken messages were reported, not silently swallowed

        # the stack still works: a frame is perceived, a sentence answered, an intent ruled on, a question answered
        n_people = len(obs.seen.of(common.PEOPLE))
        obs.publish_frames(demo_scene.render(5.0), 1.5)
        assert obs.wait_for(lambda s: len(s.of(common.PEOPLE)) > n_people and s.of(common.PEOPLE)[-1]["faces"], 10)
        with person_in_view(obs):
            obs.say("What is your name?", tid="after-fuzz")
            assert obs.wait_for(lambda s: any(u["in_reply_to"] == "after-fuzz" for u in s.of(common.UTTERANCE)), 30)
        n = len(obs.seen.of(common.VERDICT))
        pubs[common.INTENT].publish(messages.to_msg("intent", {"type": "wave", "target": "person1", "params": {}}))
        assert obs.wait_for(lambda s: len(s.of(common.VERDICT)) > n, 10)
        obs.publish_frames(demo_scene.render(5.0), 0.5)
        obs.ask("How many people do you see?", "after")
        assert obs.answer("after", 20)["ok"]
        assert not g.poll() and not g.restarts
    assert all(c == 0 for c in obs.exit_codes.values()), obs.exit_codes
