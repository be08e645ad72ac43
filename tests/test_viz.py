"""The Rerun view (vlm_robot/viz, nodes/viz_node.py): the entity layout, bag -> .rrd, the viewer process, the live
node in the ROS graph with its viewer killed and restarted. Every check reads the .rrd back (rerun.chunk).

The browser test is tests/test_viz_browser.py. Skipped as a whole when rerun-sdk (the [viz] extra) is missing.
"""

from __future__ import annotations

import math
import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import pytest

pytest.importorskip("rerun", reason="rerun-sdk (the [viz] extra) is not installed: pip install -r requirements/viz.txt")

from rclpy.serialization import serialize_message

from vlm_robot.core.errors import ConfigError
from vlm_robot.nodes import messages, topics
from vlm_robot.viz.config import VizConfig, viewer_address
from vlm_robot.viz.rrd import read_rrd

GOLDEN = Path(__file__).resolve().parent / "artifacts" / "golden_session"
T0 = 1_795_921_220.0


def _raw(kind: str, body: dict) -> bytes:
    return serialize_message(messages.to_msg(kind, body))


def _frame(t: float, shade: int = 90) -> bytes:
    import numpy as np

    from vlm_robot.nodes.convert import rgb_to_image

    rgb = np.full((120, 160, 3), shade, np.uint8)
    rgb[30:90, 50:110] = (200, 150, 120)
    return serialize_message(rgb_to_image(rgb, t))


def _person_states(t: float, mood: str, conf: float) -> bytes:
    return _raw("person_states", {"stamp": t, "people": [
        {"id": 3, "box": [50.0, 30.0, 60.0, 60.0], "mood": mood, "mood_confidence": conf, "facing": 0.9,
         "name": "Alice"}]})


def _intent(kind: str, **kw) -> dict:
    return {"type": kind, "target": "person3", "params": kw, "source": "dialogue", "reason": "asked", "stamp": T0 + 2}


def test_every_topic_has_a_view_and_every_mood_a_colour():
    from vlm_robot.core.types import EXPRESSIONS
    from vlm_robot.viz.layout import COVERED, MOOD_COLOURS, SHOWN, VIEWED

    assert VIEWED | set(COVERED) == set(topics.TOPIC_TYPES)
    assert set(SHOWN) == set(VIEWED) and set(MOOD_COLOURS) == set(EXPRESSIONS)


def test_config_says_what_a_good_url_looks_like():
    assert viewer_address("rerun+http://127.0.0.1:9876/proxy") == ("127.0.0.1", 9876)
    assert VizConfig(url="rerun+http://10.0.0.5:1234/proxy").address == ("10.0.0.5", 1234)
    with pytest.raises(ConfigError, match=r"viz url must look like rerun\+http://127.0.0.1:9876/proxy"):
        VizConfig(url="http://127.0.0.1:9090")
    with pytest.raises(ConfigError, match="image_format must be jpeg or raw, got 'png'"):
        VizConfig(image_format="png")
    VizConfig(url="nonsense", rrd_path="x.rrd")  # writing a file needs no viewer url


def test_each_message_kind_lands_in_its_entity(tmp_path):
    """Raw CDR of every kind -> VizSession -> .rrd -> read back: rows, boxes, texts, colours of verdicts."""
    import rerun as rr
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Bool

    from vlm_robot.viz.layout import VizSession

    rrd = tmp_path / "kinds.rrd"
    rec = rr.RecordingStream("vlm_robot_test")
    rec.save(str(rrd))
    s = VizSession(rec, VizConfig())
    face = {"box": [50.0, 30.0, 60.0, 60.0], "score": 0.9, "keypoints": [[60.0, 50.0], [90.0, 50.0]],
            "expression": "sad", "expression_scores": {"sad": 0.8, "neutral": 0.2}, "facing": 0.9}
    head = JointState(name=["head_pan", "head_tilt"], position=[math.radians(10.0), math.radians(-5.0)])
    inputs = [
        (topics.IMAGE, _frame(T0)), (topics.IMAGE, _frame(T0 + 0.1, 120)),
        (topics.PEOPLE, _raw("people", {"stamp": T0, "width": 160, "height": 120, "faces": [face]})),
        (topics.PERSON_STATES, _person_states(T0, "happy", 0.7)),
        (topics.PERSON_STATES, _person_states(T0 + 0.1, "sad", 0.6)),
        (topics.TRANSCRIPT, _raw("transcript", {"text": "Come here fast.", "stamp": T0 + 1, "speaker": "alice"})),
        (topics.UTTERANCE, _raw("utterance", {"text": "I can only move slowly.", "kind": "reply", "reason": "gate",
                                              "stamp": T0 + 2})),
        (topics.DECISION, _raw("decision", {"action": "greet", "reason": "waiting 3 s", "stamp": T0, "person_id": 3})),
        (topics.INTENT, _raw("intent", _intent("approach", speed_mps=1.5))),
        (topics.VERDICT, _raw("verdict", {"intent": _intent("approach", speed_mps=1.5), "approved": False,
                                          "reasons": ["speed_mps=1.5 is outside [0.05, 0.5]"]})),
        (topics.VERDICT, _raw("verdict", {"intent": _intent("stop"), "approved": True, "reasons": ["always"]})),
        (topics.REPLY_CHUNK, _raw("reply_chunk", {"in_reply_to": "t1", "text": "I can", "index": 0})),
        (topics.SPEAKING, serialize_message(Bool(data=True))),
        (topics.HEAD_COMMAND, serialize_message(head)),
        (topics.PEOPLE, b"\x00\x01 not a message"), (topics.PEOPLE, b"\x02"), (topics.SPEAKING, b"\x00"),
        (topics.IMAGE, b"\x00\x01\x00\x00 truncated"),
    ]
    shown = [s.handle(topic, raw, T0 + 5) for topic, raw in inputs]
    rec.flush()
    rec.disconnect()
    assert shown.count(False) == 5  # the reply chunk (covered by the utterance) and the four bad messages
    assert s.problems[topics.PEOPLE][0] == 2 and "CDR vlm_robot_interfaces/People" in s.problems[topics.PEOPLE][1]
    assert "expected a CDR std_msgs/msg/Bool (1 bytes arrived)" in s.problems[topics.SPEAKING][1]
    assert "expected a CDR sensor_msgs/msg/Image" in s.problems[topics.IMAGE][1]
    got = read_rrd(rrd)
    assert got.rows == s.counts
    assert got.rows["camera/image"] == 2 and got.rows["camera/image/people"] == 2
    assert got.boxes == {"camera/image/faces": 1, "camera/image/people": 2}
    assert got.texts["speech/person"] == ["alice: Come here fast."]
    assert got.texts["speech/robot"] == ["(reply) I can only move slowly."]
    assert got.texts["decisions"] == ["greet person 3: waiting 3 s"]
    assert got.texts["intents"] == ["approach -> person3 (speed_mps=1.5) [dialogue: asked]"]
    assert sorted(got.texts["intents/verdicts"]) == [
        "APPROVED stop -> person3: always", "REJECTED approach -> person3 (speed_mps=1.5): speed_mps=1.5 is outside "
        "[0.05, 0.5]"]
    assert len(got.texts["session/problems"]) == 3  # once per topic
    assert any(topics.PEOPLE in t for t in got.texts["session/problems"])
    # mood over time: happy 0.7, then sad 0.6 while happy drops to 0; facing per person; the head in degrees
    assert got.rows["people/person_3/happy"] == 2 and got.rows["people/person_3/sad"] == 1
    assert got.rows["people/person_3/facing"] == 2
    assert got.rows["head/command/pan"] == got.rows["head/command/tilt"] == got.rows["robot/speaking"] == 1


def test_golden_session_converts_with_faces_computed(tmp_path):
    from vlm_robot.bag import bag_summary
    from vlm_robot.viz.convert import bag_to_rrd

    counts = {t: n for t, (_m, n) in bag_summary(GOLDEN).items()}
    conv = bag_to_rrd(GOLDEN, tmp_path / "golden.rrd", perceive=True)
    got = read_rrd(conv.rrd)
    assert got.rows == conv.counts and got.blueprint
    assert got.rows["camera/image"] == conv.frames == counts[topics.IMAGE] == 68
    assert len(got.texts["speech/person"]) == counts[topics.TRANSCRIPT] == 2
    assert len(got.texts["decisions"]) == counts[topics.DECISION] == 11
    assert len(got.texts["intents/verdicts"]) == counts[topics.VERDICT] == 6
    assert got.boxes["camera/image/people"] == got.boxes["camera/image/faces"] > 68  # two people most of the time
    assert {"people/person_1/facing", "people/person_2/facing"} <= got.entities
    assert conv.perceived and len(conv.gaps) == 1 and "computed from the recorded frames" in conv.gaps[0]
    assert got.texts["session/gaps"] == conv.gaps and not conv.problems


def test_a_bag_without_faces_names_the_gap_and_draws_no_boxes(tmp_path):
    from vlm_robot.viz.convert import bag_to_rrd

    conv = bag_to_rrd(GOLDEN, tmp_path / "plain.rrd")
    assert conv.frames == 68 and conv.boxes == 0 and not conv.perceived
    assert conv.gaps == ["no faces recorded (/vlm_robot/people, /vlm_robot/person_states): no boxes on the frames; "
                         "`vlm-robot view BAG --perceive` computes them from the frames"]
    assert not any(e.startswith("camera/image/") for e in read_rrd(conv.rrd).entities)


def test_a_bag_without_images_with_an_unknown_type_and_a_bad_message(tmp_path):
    """The rest is shown; the gaps (no frames, the unknown topic, the unreadable message) are named."""
    from vlm_robot.bag import BagWriter, _typestore
    from vlm_robot.viz.convert import bag_to_rrd

    bag = tmp_path / "odd"
    w = BagWriter(bag)
    for topic, msgtype in ((topics.TRANSCRIPT, topics.TOPIC_TYPES[topics.TRANSCRIPT]),
                           (topics.UTTERANCE, topics.TOPIC_TYPES[topics.UTTERANCE]),
                           ("/lidar/nearest", "geometry_msgs/msg/Point")):
        w.add_topic(topic, msgtype)
    store = _typestore()
    point = store.types["geometry_msgs/msg/Point"](x=1.0, y=2.0, z=0.0)
    w.write("/lidar/nearest", int(T0 * 1e9), bytes(store.serialize_cdr(point, "geometry_msgs/msg/Point")))
    w.write(topics.TRANSCRIPT, int(T0 * 1e9) + 1, _raw("transcript", {"text": "hello", "stamp": T0}))
    w.write(topics.UTTERANCE, int(T0 * 1e9) + 2, b"\x00\x01\x00\x00garbage")
    w.close()
    conv = bag_to_rrd(bag)
    assert conv.rrd == tmp_path / "odd.rrd"
    assert conv.gaps == [
        "/lidar/nearest (geometry_msgs/msg/Point) is not shown: vlm_robot has no view for this topic",
        "no camera frames in this recording (/camera/image_raw): the camera view stays empty"]
    assert conv.problems[topics.UTTERANCE][0] == 1
    got = read_rrd(conv.rrd)
    assert got.texts["speech/person"] == ["unknown: hello"] and got.texts["session/gaps"] == conv.gaps
    assert "/vlm_robot/utterance" in got.texts["session/problems"][0] and "camera/image" not in got.entities
    lines = "\n".join(conv.lines())
    assert "gap: no camera frames" in lines and "unreadable: 1 message(s) on /vlm_robot/utterance" in lines


def _listening_addresses(pid: int) -> set[str]:
    import psutil

    return {c.laddr.ip for c in psutil.Process(pid).net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


def test_viewer_listens_on_loopback_only_and_a_taken_port_is_named(tmp_path, capsys):
    import urllib.request

    from vlm_robot.tools import view
    from vlm_robot.viz.viewer import PortInUseError, Viewer

    with Viewer(None, grpc_port=0, web_port=0, log=tmp_path / "viewer.log") as v:
        assert _listening_addresses(v.pid) == {"127.0.0.1"}
        assert v.url == (f"http://127.0.0.1:{v.web_port}/?url=rerun%2Bhttp%3A%2F%2F127.0.0.1%3A{v.grpc_port}"
                         "%2Fproxy")
        page = urllib.request.urlopen(f"http://127.0.0.1:{v.web_port}/", timeout=10).read()
        assert b"<html" in page.lower()
        taken = v.web_port
        with pytest.raises(PortInUseError, match=rf"web viewer port 127.0.0.1:{taken} is in use .*--web-port"):
            Viewer(None, grpc_port=0, web_port=taken).start()
        assert view.main("", grpc_port=v.grpc_port, web_port=0, browser=False) == 2
        assert f"gRPC (viz_node connects here) port 127.0.0.1:{v.grpc_port} is in use" in capsys.readouterr().err
        pid = v.pid
    assert v.proc.returncode is not None and not Path(f"/proc/{pid}").exists()  # stopped by its pid, reaped


class _Sink:
    """A Rerun gRPC server on 127.0.0.1 that saves what it receives (stands in for the viewer; stopped by pid)."""

    def __init__(self, port: int, rrd: Path) -> None:
        from vlm_robot.viz.viewer import rerun_binary

        self.rrd = rrd
        self.proc = subprocess.Popen([str(rerun_binary()), "--serve-grpc", "--bind", "127.0.0.1", "--port", str(port),
                                      "--save", str(rrd)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     start_new_session=True)
        deadline = time.monotonic() + 20
        while not _connectable(port):
            assert self.proc.poll() is None and time.monotonic() < deadline, "the Rerun sink did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        os.kill(self.proc.pid, signal.SIGTERM)
        self.proc.wait(timeout=10)


def _connectable(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False


@pytest.mark.graph
def test_viz_node_shows_the_live_robot_and_survives_its_viewer(tmp_path):
    """viz_node in the graph: frames, people and words reach the viewer; the viewer is killed (said once, the node
    runs on) and started again (the node reconnects and shows what comes next)."""
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image

    from vlm_robot import graph
    from vlm_robot.nodes import common
    from vlm_robot.observe import observed_graph
    from vlm_robot.viz.viewer import free_port

    port = free_port()
    first = _Sink(port, tmp_path / "first.rrd")
    g = graph.Graph([s for s in graph.NODES if s.name == "viz"],
                    {"viz": {"url": f"rerun+http://127.0.0.1:{port}/proxy", "check_s": "0.3"}}, log_dir=tmp_path)
    log = tmp_path / "viz.log"
    second = None
    try:
        with observed_graph(g, "viz_test", settle_s=0.5) as obs:
            states = messages.publisher(obs, common.PERSON_STATES)
            deadline = time.monotonic() + 60
            while obs.count_subscribers(common.PERSON_STATES) < 2 and time.monotonic() < deadline:
                time.sleep(0.1)  # viz_node subscribes once Rerun is loaded (the observer is the other one)
            time.sleep(1.0)

            def show(n: int, said: str) -> None:
                for i in range(n):
                    t = time.time()
                    obs.image_pub.publish(deserialize_message(_frame(t, 60 + 10 * i), Image))
                    states.publish(messages.to_msg("person_states", {"stamp": t, "people": [
                        {"id": 1, "box": [50.0, 30.0, 60.0, 60.0], "mood": "happy", "mood_confidence": 0.8,
                         "facing": 0.9}]}))
                    time.sleep(0.1)
                obs.say(said, tid=said)
                time.sleep(1.0)

            show(8, "first words")
            first.stop()
            assert _wait_log(log, "lost the Rerun viewer", 10)
            show(5, "nobody sees these")
            second = _Sink(port, tmp_path / "second.rrd")
            assert _wait_log(log, "connected to the Rerun viewer", 10, count=2)
            show(8, "second words")
            second.stop()
        assert obs.exit_codes == {"viz": 0} and not g.restarts
    finally:
        for sink in (first, second):
            if sink is not None and sink.proc.poll() is None:
                sink.stop()
    text = log.read_text()
    assert text.count("lost the Rerun viewer") == 1, text[-3000:]
    before, after = read_rrd(first.rrd), read_rrd(second.rrd)
    assert [t.split(": ", 1)[1] for t in before.texts["speech/person"]] == ["first words"]
    assert [t.split(": ", 1)[1] for t in after.texts["speech/person"]] == ["second words"]
    for got in (before, after):  # 8 frames and people at 10/s; newest wins at most 5/s: dropped, never queued
        assert 3 <= got.rows["camera/image"] <= 6 and 3 <= got.rows["camera/image/people"] <= 6
        assert got.boxes["camera/image/people"] == got.rows["camera/image/people"] == got.rows["people/person_1/happy"]
    assert "not sent (no viewer)" in text and "frames shown" in text  # the summary at shutdown


def _wait_log(log: Path, text: str, timeout: float, count: int = 1) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if log.exists() and log.read_text(errors="replace").count(text) >= count:
            return True
        time.sleep(0.1)
    return False


def test_view_converts_a_bag_and_names_what_is_not_one(tmp_path, capsys):
    from vlm_robot.tools import view

    assert view.main(str(GOLDEN), out=str(tmp_path / "g.rrd"), convert_only=True) == 0
    assert read_rrd(tmp_path / "g.rrd").rows["camera/image"] == 68
    assert "gap: no faces recorded" in capsys.readouterr().out
    assert view.main(str(tmp_path / "nothing"), convert_only=True) == 2
    assert "is not a rosbag2 folder (no metadata.yaml)" in capsys.readouterr().err
    assert view.main(str(tmp_path / "missing.rrd"), browser=False) == 2
    assert "missing.rrd does not exist" in capsys.readouterr().err
