"""The real ROS 2 graph: node processes from graph.NODES with their parameter files, real rclpy on loopback.

A test node publishes frames and transcripts and checks the utterances, intents, verdicts,
actuator commands and diagnostics that come out. Every test runs twice: one process per node, and the
same nodes in one process (single-process mode, vlm_robot/nodes/composed.py), which must behave the same.
"""

from __future__ import annotations

import time
import wave
from pathlib import Path

import pytest

from vlm_robot import graph
from vlm_robot.nodes import common, messages

pytestmark = pytest.mark.graph
NODES = ("perception", "reasoning", "safety_gate", "speech_out")


@pytest.fixture(scope="module", params=[False, True], ids=["processes", "single_process"])
def stack(request, tmp_path_factory):
    from vlm_robot.observe import observed_graph

    out = tmp_path_factory.mktemp("graph")
    g = graph.Graph([s for s in graph.NODES if s.name in NODES],
                    {"speech_out": {"tts.output_dir": str(out / "speech")},
                     "reasoning": {"memory.path": str(out / "memory.json")}}, log_dir=out / "logs",
                    single_process=request.param)
    assert len(g.units) == (1 if request.param else len(NODES))
    with observed_graph(g, "graph_test", settle_s=1.0) as obs:
        yield obs, g
    logs = {p.name: p.read_text()[-2000:] for p in (out / "logs").glob("*.log")}
    assert all(c == 0 for c in obs.exit_codes.values()), f"nodes did not exit cleanly: {obs.exit_codes}\n{logs}"


def test_person_is_greeted_answered_and_intents_are_gated(stack, demo_scene):
    obs, _ = stack
    frame = demo_scene.render(5.0)  # the astronaut, smiling, facing the robot
    obs.publish_frames(frame, 4.5)
    assert obs.wait_for(lambda s: any(u["kind"] == "greeting" for u in s.of(common.UTTERANCE)), 10)
    greet = next(u for u in obs.seen.of(common.UTTERANCE) if u["kind"] == "greeting")
    assert "waiting" in greet["reason"] and greet["person_id"] == 1
    assert obs.wait_for(lambda s: len(s.of(common.VERDICT)) >= 2, 5)
    verdicts = {(v["intent"]["type"], v["approved"]) for v in obs.seen.of(common.VERDICT)}
    assert {("look_at", True), ("wave", True)} <= verdicts

    obs.say("Come here as fast as you can!", tid="g1")
    obs.say("Please stop.", tid="g2")
    obs.publish_frames(frame, 1.0)
    assert obs.wait_for(lambda s: {"g1", "g2"} <= {u["in_reply_to"] for u in s.of(common.UTTERANCE)}, 30)
    verdicts = obs.seen.of(common.VERDICT)
    approach = next(v for v in verdicts if v["intent"]["type"] == "approach")
    assert not approach["approved"] and "speed_mps=1.5 is outside" in approach["reasons"][0]
    stop = next(v for v in verdicts if v["intent"]["type"] == "stop")
    assert stop["approved"] and stop["intent"]["target"] == "person1"
    assert obs.wait_for(lambda s: s.cmd_vel and s.cmd_vel[-1] == {"linear_x": 0.0, "angular_z": 0.0}, 5)
    replies = [u for u in obs.seen.of(common.UTTERANCE) if u["in_reply_to"] in ("g1", "g2")]
    assert all(u["kind"] == "reply" and u["text"].strip() for u in replies)
    said = {u["in_reply_to"]: u["text"] for u in replies}
    assert "0.5 metres a second" in said["g1"] and said["g2"] == "Stopping."  # the words agree with the verdicts
    chunks = [c for c in obs.seen.of(common.REPLY_CHUNK) if c["in_reply_to"] == "g1"]
    assert "".join(c["text"] for c in chunks) == said["g1"]  # what speech out may start on is the reply

    assert obs.wait_for(lambda s: len(s.of(common.SPEECH_DONE)) >= 3, 20)
    for done in obs.seen.of(common.SPEECH_DONE):
        with wave.open(done["wav"]) as w:
            assert w.getnframes() / w.getframerate() > 0.3
        assert Path(done["wav"]).stat().st_size > 1000


def _image(h, w, enc, step, data):
    from sensor_msgs.msg import Image

    msg = Image(height=h, width=w, encoding=enc, step=step)
    msg.header.stamp.sec = int(time.time())
    msg.data = data
    return msg


BAD_IMAGES = [
    ("data length", lambda: _image(480, 640, "rgb8", 1920, bytes(1000)), "1000 bytes"),
    ("step", lambda: _image(4, 4, "rgb8", 5, bytes(20)), "step is 5"),
    ("encoding", lambda: _image(4, 4, "yuv422", 8, bytes(32)), "'yuv422' is not supported"),
    ("empty", lambda: _image(0, 0, "rgb8", 0, b""), "0x0"),
    ("huge", lambda: _image(8000, 8000, "mono8", 8000, bytes(8000 * 8000)), "8000x8000"),
]


@pytest.mark.parametrize(("what", "make", "words"), BAD_IMAGES, ids=[b[0] for b in BAD_IMAGES])
def test_bad_image_gives_one_diagnostic_and_the_next_frame_is_processed(stack, demo_scene, what, make, words):
    obs, g = stack
    n_diag = len(obs.seen.diagnostics)
    obs.image_pub.publish(make())
    assert obs.wait_for(lambda s: len(s.diagnostics) > n_diag, 15), f"no diagnostic for bad image ({what})"
    d = obs.seen.diagnostics[n_diag]
    assert d["level"] == 2 and words in d["message"] and "perception" in d["name"]
    stamps = obs.publish_frames(demo_scene.render(5.0), 0.5)
    assert obs.wait_for(lambda s: any(abs(p["stamp"] - stamps[-1]) < 1e-3 for p in s.of(common.PEOPLE)), 10)
    assert not g.restarts


def _transcript(text: str) -> bytes:
    from rclpy.serialization import serialize_message

    return serialize_message(messages.to_msg("transcript", {"text": text, "id": ""}))


def _people_with_box(box) -> bytes:
    from rclpy.serialization import serialize_message

    face = {"box": box, "score": 0.9, "expression": "happy"}
    return serialize_message(messages.to_msg("people", {"stamp": 1.0, "width": 640, "height": 480, "faces": [face]}))


def _utterance(kind: str) -> bytes:
    from rclpy.serialization import serialize_message

    return serialize_message(messages.to_msg("utterance", {"text": "x", "kind": kind, "reason": "", "stamp": 1.0}))


# what, topic, raw CDR as it arrives on the wire, words of the diagnostic, the node that reports it
BAD_INPUT = [
    ("empty", common.TRANSCRIPT, _transcript(""), "empty", "reasoning"),
    ("100 kB", common.TRANSCRIPT, _transcript("x" * 100_000), "100000 characters", "reasoning"),
    ("invalid UTF-8", common.TRANSCRIPT, _transcript("hello \u00e9 robot").replace("é".encode(), b"\xff\xfe"),
     "UTF-8", "reasoning"),
    ("not CDR", common.TRANSCRIPT, b"not a message", "expected a CDR vlm_robot_interfaces/Transcript", "reasoning"),
    ("NaN box", common.PEOPLE, _people_with_box([float("nan"), 1.0, 2.0, 3.0]), "faces[0].box.x", "reasoning"),
    ("negative size", common.PEOPLE, _people_with_box([1.0, 1.0, -5.0, 3.0]), "faces[0].box.width", "reasoning"),
    ("unknown utterance kind", common.UTTERANCE, _utterance("shout"), "field kind", "speech_out"),
]


@pytest.mark.parametrize(("what", "topic", "raw", "words", "node"), BAD_INPUT, ids=[b[0] for b in BAD_INPUT])
def test_bad_input_gives_one_diagnostic_naming_the_field_and_the_next_is_answered(stack, what, topic, raw, words,
                                                                                  node):
    obs, g = stack
    n_diag = len(obs.seen.diagnostics)
    pub = obs.transcript_pub if topic == common.TRANSCRIPT else messages.publisher(obs, topic)
    if pub is not obs.transcript_pub:
        time.sleep(1.0)  # a new publisher: let discovery match it
    pub.publish(raw)
    assert obs.wait_for(lambda s: any(words in d["message"] for d in s.diagnostics[n_diag:]), 10), \
        f"no diagnostic for bad input ({what}): {obs.seen.diagnostics[n_diag:]}"
    d = next(d for d in obs.seen.diagnostics[n_diag:] if words in d["message"])
    assert d["level"] == 2 and node in d["name"] and topic in d["name"] + d["message"]
    tid = f"ok-after-{what}"
    obs.say("What is your name?", tid=tid)
    assert obs.wait_for(lambda s: any(u["in_reply_to"] == tid for u in s.of(common.UTTERANCE)), 30)
    assert not g.restarts


def test_a_partial_transcript_is_not_answered_and_does_not_swallow_the_final_one(stack):
    obs, _ = stack
    partial = {"text": "What is your", "stamp": time.time(), "speaker": "user", "final": False, "id": "part-1"}
    obs.transcript_pub.publish(messages.to_msg("transcript", partial))
    time.sleep(1.0)
    assert not any(d.get("detail", {}).get("transcript") == "part-1" for d in obs.seen.of(common.DECISION))
    obs.say("What is your name?", tid="part-1")  # the final one, same id, as the microphone sends it
    assert obs.wait_for(lambda s: any(u["in_reply_to"] == "part-1" for u in s.of(common.UTTERANCE)), 30)


def test_emergency_stop_blocks_everything_but_stop(stack):
    from std_msgs.msg import Bool

    obs, _ = stack
    obs.estop_pub.publish(Bool(data=True))
    time.sleep(0.5)
    n = len(obs.seen.of(common.VERDICT))
    obs.say("wave at me", tid="e1")
    obs.say("stop", tid="e2")
    assert obs.wait_for(lambda s: len(s.of(common.VERDICT)) >= n + 2, 10)
    new = obs.seen.of(common.VERDICT)[n:]
    assert {(v["intent"]["type"], v["approved"]) for v in new} == {("wave", False), ("stop", True)}
    assert "emergency stop" in next(v for v in new if v["intent"]["type"] == "wave")["reasons"][0]
    obs.estop_pub.publish(Bool(data=False))


def test_approach_waits_for_a_spoken_yes(stack, demo_scene):
    obs, _ = stack
    time.sleep(0.5)  # the previous test released the emergency stop
    obs.publish_frames(demo_scene.render(5.0), 1.0)  # someone to approach
    n_v = len(obs.seen.of(common.VERDICT))
    obs.say("Please come here.", tid="c1")
    assert obs.wait_for(lambda s: any(v["pending"] for v in s.of(common.VERDICT)[n_v:]), 10)
    assert obs.wait_for(lambda s: any(u["kind"] == "question" for u in s.of(common.UTTERANCE)), 5)
    question = next(u for u in obs.seen.of(common.UTTERANCE) if u["kind"] == "question")
    assert question["text"] == "Shall I come over to you? Please say yes or no."
    assert not any(a["type"] == "approach" for a in obs.seen.of(common.APPROVED))  # nothing moves yet
    obs.say("Yes, please.", tid="c2")
    assert obs.wait_for(lambda s: any(a["type"] == "approach" for a in s.of(common.APPROVED)), 10)
    final = [v for v in obs.seen.of(common.VERDICT)[n_v:] if v["intent"]["type"] == "approach"]
    assert [v["pending"] for v in final] == [True, False] and final[-1]["approved"]
    assert "confirmed by a person" in final[-1]["reasons"][0]


def test_look_at_me_turns_the_head_towards_the_person(stack, demo_scene):
    from vlm_robot.safety.actuation import bearing_from_box

    obs, _ = stack
    frame = demo_scene.render(5.0)
    obs.publish_frames(frame, 1.0)
    n = len(obs.seen.head)
    obs.say("Look at me, please.", tid="h1")
    assert obs.wait_for(lambda s: len(s.head) > n, 10)
    look = [i for i in obs.seen.of(common.APPROVED) if i["type"] == "look_at"][-1]
    face = obs.seen.of(common.PEOPLE)[-1]["faces"][0]
    bearing, elevation = bearing_from_box(face["box"], frame.shape[1], frame.shape[0], 60.0)
    assert look["params"]["bearing_rad"] == pytest.approx(bearing, abs=0.05)
    head = obs.seen.head[-1]
    assert head["position"] == pytest.approx([bearing, -elevation], abs=0.05)
