"""vlm_robot_interfaces: the typed wire contract, its conversions, the recorded hashes, the README's table."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from rclpy.serialization import serialize_message

from vlm_robot.bag import BagWriter, check_wire_format, read_bag
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.types import EXPRESSIONS, Decision, Face, Intent, PerceptionResult, Utterance, Verdict
from vlm_robot.nodes import messages, topics

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "artifacts" / "golden_session"

ENTITY = {"kind": "person", "box": [10.0, 20.0, 30.0, 40.0], "score": 0.9, "side": "left", "distance_m": 1.2,
          "facing": 0.8, "looking_at_robot": True, "expression": "sad", "expression_confidence": 0.5,
          "expression_scores": {k: (0.5 if k == "sad" else 0.0625) for k in EXPRESSIONS}, "first_seen": 10.0,
          "last_seen": 12.5, "appeared": False, "present": True}
SAMPLES: dict[str, dict] = {
    "people": PerceptionResult(12.5, "camera", 640, 480, (Face(
        (10.0, 20.0, 30.0, 40.0), 0.75, ((1.0, 2.0),) * 6, "happy", tuple(0.125 if e != "happy" else 0.25
                                                                         for e in EXPRESSIONS),
        0.5, (0.25, -0.5)),), 3.5).to_dict(),
    "person_states": {"stamp": 12.5, "frame_id": "camera", "caused": {"utterances": ["u1"], "intents": ["i1"]},
                      "people": [{"id": 3, "box": [1.0, 2.0, 3.0, 4.0], "mood": "sad", "mood_confidence": 0.5,
                                  "facing": 0.75, "distance_m": 1.5, "dwell_s": 2.0, "text_sentiment": -0.25,
                                  "addressed_at": 11.0, "observations": 9, "name": "Alice", "remembered_turns": 2,
                                  "pose_valid": True, "head_yaw": -20.5, "head_pitch": 12.0, "eye_contact": 0.25,
                                  "motion": "approaching", "intention": 0.75,
                                  "intention_reason": "intention 0.75: +3.0 approaching", "waved_at": 12.25}]},
    "decision": Decision("greet", "person 3 looks sad", 12.5, 3, {"mood": "sad", "dwell_s": 2.0, "frames": 11,
                                                                   "text": "Hello."}).to_dict(),
    "utterance": Utterance("Hello.", "greeting", "looks sad", 12.5, 3, "", "u1").to_dict(),
    "reply_chunk": {"in_reply_to": "t1", "text": "All right", "index": 0},
    "transcript": {"text": "Stop!", "stamp": 12.5, "speaker": "user", "final": True, "id": "t1",
                   "speech_start": 11.5, "speech_end": 12.25, "audio_s": 0.75, "asr_ms": 100.0, "model": "tiny.en"},
    "intent": Intent("approach", "person1", {"distance_m": 1.0, "speed_mps": 0.25, "slowly": True, "how": "calm"},
                     "dialogue", "asked", "i1", 12.5, "", "t1").to_dict(),
    "verdict": Verdict(Intent("wave", "person2", {}, "policy", "", "i2", 1.0), False,
                       ("wave is not allowed",), pending=True).to_dict(),
    "speech_done": {"utterance_id": "u1", "text": "Hello.", "wav": "/tmp/u1.wav", "duration_s": 1.5,
                    "engine": "espeak-ng", "aborted": False, "streamed": True, "started": 12.5, "first_audio": 12.75},
    "scene_description": {"stamp": 12.5, "text": "I see one person.", "entities": {"<person1>": ENTITY},
                          "backend": "grounded", "model": "m", "latency_ms": 9.0, "frame_stamps": [12.0, 12.5]},
    "vqa_answer": {"id": "q1", "question": "Who is here?", "text": "One person.", "ok": True,
                   "entities": {"<person1>": ENTITY}, "backend": "grounded", "model": "m", "latency_ms": 9.0,
                   "frame_stamps": [12.5], "stamp": 12.5},
    "voice_style": {"rate_scale": 0.8, "volume_scale": 1.6, "reason": "asked: \"Slower, please.\"", "stamp": 12.5},
}


def _close(a, b) -> bool:
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() <= b.keys() and all(_close(v, b[k]) for k, v in a.items())
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(
            _close(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) and not isinstance(a, bool):
        return isinstance(b, (int, float)) and math.isclose(a, b, rel_tol=1e-6, abs_tol=1e-6)
    return a == b


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_every_payload_kind_survives_the_wire(kind):
    """core dict -> typed message -> CDR bytes -> checked fields: every field the core set comes back."""
    body = SAMPLES[kind]
    back = messages.from_raw(kind, serialize_message(messages.to_msg(kind, body)))
    expected = {k: v for k, v in body.items() if k not in ("latency_ms",) or kind != "people"}
    if kind == "people":
        expected["faces"] = [{**f, "keypoints": [list(p) for p in f["keypoints"]]} for f in body["faces"]]
    assert _close(expected, back), (expected, back)


def test_every_payload_kind_has_a_topic_and_a_message_class():
    assert set(messages.CLASSES) == set(SAMPLES)
    for topic, kind in messages.KIND_OF_TOPIC.items():
        assert topics.TOPIC_TYPES[topic] == f"vlm_robot_interfaces/msg/{messages.CLASSES[kind].__name__}"


def _people(**face_fields):
    d = dict(SAMPLES["people"])
    d["faces"] = [{**d["faces"][0], **face_fields}]
    return messages.to_msg("people", d)


@pytest.mark.parametrize(("kind", "make", "words"), [
    ("people", lambda: _people(box=[math.nan, 1.0, 2.0, 3.0]), ["faces[0].box.x", "finite"]),
    ("people", lambda: _people(box=[1.0, 1.0, -2.0, 3.0]), ["faces[0].box.width", "[0, inf]"]),
    ("people", lambda: _people(score=1.5), ["faces[0].score", "[0, 1]"]),
    ("people", lambda: _people(expression="bored"), ["faces[0].expression", "one of angry"]),
    ("people", lambda: _people(expression_scores={"happy": 1.0} | {k: 0.0 for k in EXPRESSIONS[:2]}), None),
    ("utterance", lambda: messages.to_msg("utterance", {**SAMPLES["utterance"], "kind": "shout"}),
     ["field kind", "greeting, reply, error, question", "shout"]),
    ("decision", lambda: messages.to_msg("decision", {**SAMPLES["decision"], "action": "dance"}), ["field action"]),
    ("intent", lambda: messages.to_msg("intent", {**SAMPLES["intent"], "type": " "}), ["field type", "non-empty"]),
    ("intent", lambda: messages.to_msg("intent", {**SAMPLES["intent"], "params": {"speed_mps": math.inf}}),
     ["params[0].number (speed_mps)", "finite"]),
    ("reply_chunk", lambda: messages.to_msg("reply_chunk", {**SAMPLES["reply_chunk"], "in_reply_to": ""}),
     ["in_reply_to", "non-empty"]),
    # a voice no one could follow (or hear) is refused, not spoken
    ("voice_style", lambda: messages.to_msg("voice_style", {**SAMPLES["voice_style"], "rate_scale": 9.0}),
     ["field rate_scale", "[0.5, 1.6]", "9.0"]),
    ("voice_style", lambda: messages.to_msg("voice_style", {**SAMPLES["voice_style"], "volume_scale": math.nan}),
     ["field volume_scale"]),
])
def test_out_of_range_fields_are_named(kind, make, words):
    msg = make()
    if words is None:  # a complete score vector is accepted; a short one is not
        msg.faces[0].expression_scores = [0.5, 0.5]
        words = ["faces[0].expression_scores", "7 probabilities"]
    with pytest.raises(InvalidInputError) as e:
        messages.from_raw(kind, serialize_message(msg))
    for w in words:
        assert w in str(e.value), str(e.value)


def test_unknown_intent_param_type_is_named():
    msg = messages.to_msg("intent", SAMPLES["intent"])
    msg.params[0].type = 9
    with pytest.raises(InvalidInputError, match=r"params\[0\].type \(distance_m\) must be NUMBER"):
        messages.from_msg("intent", msg)


@pytest.mark.parametrize("raw", [b"", b"\x00\x01\x00\x00", b"garbage" * 3, b"\x00\x01\x00\x00" + b"\xff" * 64])
def test_bytes_that_are_not_a_message_are_an_error_not_a_crash(raw):
    for kind in messages.CLASSES:
        with pytest.raises(InvalidInputError, match="expected a CDR vlm_robot_interfaces/"):
            messages.from_raw(kind, raw)


def test_readme_topic_table_is_the_topics_table():
    """Every topic in the README's table with the type of nodes/topics.py, and no other."""
    text = (ROOT / "README.md").read_text()
    section = text[text.index("| Topic | Type |"):]
    section = section[: section.index("\n\n")]
    rows = {m.group(1): m.group(2) for m in re.finditer(r"^\| `(/[^`]+)` \| `([^`]+)`", section, re.M)}
    short = {t.name: t.type.replace("/msg/", "/") for t in topics.TOPICS}
    assert rows == short


def test_the_golden_bag_carries_our_types_with_the_hashes_rclpy_reports():
    """The recorded MCAP names vlm_robot_interfaces types, with the RIHS01 hash a live rclpy publisher reports."""
    import rclpy
    import yaml

    meta = yaml.safe_load((GOLDEN / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    recorded = {e["topic_metadata"]["name"]: (e["topic_metadata"]["type"], e["topic_metadata"]["type_description_hash"])
                for e in meta["topics_with_message_count"]}
    assert recorded[topics.DECISION][0] == "vlm_robot_interfaces/msg/Decision"
    rclpy.init(domain_id=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    try:
        node = rclpy.create_node("hash_check")
        for topic, (msgtype, digest) in recorded.items():
            node.create_publisher(topics.message_class(msgtype), topic, 10)
            reported = {str(i.topic_type_hash) for i in node.get_publishers_info_by_topic(topic)
                        if i.node_name == "hash_check"}
            assert reported == {digest}, (topic, reported, digest)
        node.destroy_node()
    finally:
        rclpy.try_shutdown()


def test_the_golden_bag_opens_with_rosbags_anyreader():
    from rosbags.highlevel import AnyReader

    from vlm_robot.bag import _typestore

    with AnyReader([GOLDEN], default_typestore=_typestore()) as reader:
        conns = [c for c in reader.connections if c.topic == topics.DECISION]
        decisions = [reader.deserialize(raw, c.msgtype) for c, _, raw in reader.messages(connections=conns)]
    assert decisions and {d.action for d in decisions} <= {"greet", "reply", "silent", "intent"}
    assert all(d.reason for d in decisions)


def test_a_bag_of_the_old_json_format_is_refused_with_what_to_do(tmp_path):
    from std_msgs.msg import String

    w = BagWriter(tmp_path / "old")
    w.add_topic(topics.DECISION, "std_msgs/msg/String")
    w.write(topics.DECISION, 1, serialize_message(String(data='{"schema": "vlm_robot/decision", "version": 1}')))
    w.close()
    with pytest.raises(InvalidInputError, match=r"old wire format \(JSON in std_msgs/String, version 1\)"):
        check_wire_format(tmp_path / "old")
    from vlm_robot.tools import replay

    assert replay.main(str(tmp_path / "old")) == 2
    assert list(read_bag(tmp_path / "old"))  # the bag itself is readable: only replaying it is refused


WHEELHOUSE = Path(sys.prefix) / "wheelhouse"


@pytest.mark.skipif(not WHEELHOUSE.is_dir(), reason=f"no {WHEELHOUSE}: `make setup` downloads the interface build "
                    "tools' wheels there, so that this test needs no network")
def test_the_interface_package_builds_from_a_clean_venv(tmp_path):
    """A fresh venv, the pinned registry packages only, the repository's build script: the types import."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    py = str(venv / "bin" / "python")
    req = ROOT / "requirements"
    done = subprocess.run([py, "-m", "pip", "install", "-q", "--no-index", "--find-links", str(WHEELHOUSE),
                           "-r", str(req / "ros.txt"), "-r", str(req / "interfaces.txt"), "numpy"],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    t0 = time.monotonic()
    done = subprocess.run([str(ROOT / "vlm_robot_interfaces" / "build_into_venv.sh"), str(venv)],
                          capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    print(f"built vlm_robot_interfaces in {time.monotonic() - t0:.0f} s")
    check = ("from vlm_robot_interfaces.msg import People, Transcript; "
             "from vlm_robot_interfaces.action import AnswerQuestion; from vlm_robot_interfaces.srv import Describe; "
             "assert Transcript().final and People().faces == []; print('ok')")
    out = subprocess.run([py, "-c", check], capture_output=True, text=True, env={"PATH": os.environ["PATH"]})
    assert out.stdout.strip() == "ok", out.stderr[-2000:]
