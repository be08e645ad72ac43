"""The VLM node as a real ROS 2 process: questions with streamed answers, descriptions, bad input,
and the node on a second host (network namespace) joined to the robot's by a veth pair."""

from __future__ import annotations

import json
import os
import random
import shutil
import subprocess
import sys
import time
from pathlib import Path

import cv2
import pytest

from vlm_robot import graph
from vlm_robot.nodes import common, messages
from vlm_robot.observe import VQA_FEEDBACK

pytestmark = pytest.mark.graph
ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def vlm_graph(tmp_path_factory):
    from vlm_robot.observe import observed_graph

    out = tmp_path_factory.mktemp("vlm")
    g = graph.Graph([s for s in graph.NODES if s.name == "vlm"], {"vlm": {"describe_rate_hz": "2.0"}},
                    log_dir=out / "logs")
    with observed_graph(g, "vlm_test", settle_s=1.0) as obs:
        yield obs
    assert all(c == 0 for c in obs.exit_codes.values()), obs.exit_codes


def test_questions_are_answered_about_the_newest_frames_with_entities(vlm_graph, demo_scene):
    obs = vlm_graph
    two = demo_scene.render(16.0)  # the astronaut and the sad second person
    obs.publish_frames(two, 1.5)
    obs.ask("How many people do you see?", "count")
    obs.publish_frames(two, 0.5)
    a = obs.answer("count")
    assert a["ok"] and a["backend"] == "grounded" and a["text"]
    assert {"<person1>", "<person2>"} <= set(a["entities"]), a
    assert a["frame_stamps"] and a["latency_ms"] > 0
    partials = [p for p in obs.seen.of(VQA_FEEDBACK) if p["id"] == "count"]
    assert partials and partials[-1]["text"].strip() == a["text"]
    assert [p["index"] for p in partials] == list(range(len(partials)))
    # periodic descriptions keep coming, about the frames being published
    assert obs.wait_for(lambda s: len(s.of(common.SCENE_DESCRIPTION)) >= 2, 10)
    d = obs.seen.of(common.SCENE_DESCRIPTION)[-1]
    assert d["text"] and d["backend"] == "grounded"


def test_describe_service_returns_the_latest_description(vlm_graph):
    from vlm_robot_interfaces.srv import Describe

    obs = vlm_graph
    client = obs.create_client(Describe, common.DESCRIBE_SERVICE)
    assert client.wait_for_service(timeout_sec=10)
    fut = client.call_async(Describe.Request())
    deadline = time.monotonic() + 10
    while not fut.done() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert fut.done() and fut.result().ok, fut.result()
    d = messages.from_msg("scene_description", fut.result().description)
    assert d["text"].strip() and d["backend"] == "grounded" and d["frame_stamps"]
    obs.destroy_client(client)


def test_bad_requests_get_a_diagnostic_and_an_error_answer_and_the_node_keeps_answering(vlm_graph, demo_scene):
    obs = vlm_graph
    n_diag = len(obs.seen.diagnostics)
    obs.ask("   ", "empty")
    obs.ask("why " * 300, "long")
    obs.ask("How many people?", "clip", clip_frames=200)
    assert not obs.answer("empty", 5)["ok"]
    assert "at most 500" in obs.answer("long", 5)["error"]
    assert "clip_frames" in obs.answer("clip", 5)["error"]
    assert obs.wait_for(lambda s: len(s.diagnostics) >= n_diag + 3, 5)
    said = " | ".join(d["message"] for d in obs.seen.diagnostics[n_diag:])
    assert "empty" in said and "at most 500" in said and "clip_frames must be 0" in said
    obs.publish_frames(demo_scene.render(5.0), 0.5)
    obs.ask("Is anyone here?", "after")
    assert obs.answer("after")["ok"]


def _ip(*args: str, ns: str | None = None) -> None:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    subprocess.run(cmd, check=True, capture_output=True, text=True)


def _rx_bytes(ns: str, dev: str) -> int:
    out = subprocess.run(["ip", "-n", ns, "-j", "-s", "link", "show", dev], check=True, capture_output=True,
                         text=True).stdout
    return int(json.loads(out)[0]["stats64"]["rx"]["bytes"])


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("ip"), reason="needs root and iproute2 to make test hosts")
def test_vlm_node_on_a_second_host_answers_the_robot(tmp_path, demo_scene):
    """The robot's side and a 'GPU box' in two network namespaces joined only by a veth pair.

    Both namespaces are made by this test and reach nothing else; DDS discovers over the veth
    (SUBNET range, UDP only: no shared memory across hosts), and the bytes counted on the veth
    prove the frames and the answer crossed it.
    """
    tag = f"{os.getpid() % 100000}"
    robot, gpu = f"vlmr{tag}", f"vlmg{tag}"
    image = tmp_path / "scene.png"
    cv2.imwrite(str(image), cv2.cvtColor(cv2.resize(demo_scene.render(16.0), (320, 240)), cv2.COLOR_RGB2BGR))
    env = {k: v for k, v in os.environ.items() if k != "FASTRTPS_DEFAULT_PROFILES_FILE"}
    env.update(ROS_AUTOMATIC_DISCOVERY_RANGE="SUBNET", ROS_DOMAIN_ID=str(random.randint(101, 200)),
               FASTDDS_BUILTIN_TRANSPORTS="UDPv4", PYTHONUNBUFFERED="1")
    node = None
    try:
        _ip("netns", "add", robot)
        _ip("netns", "add", gpu)
        _ip("link", "add", f"r{tag}", "type", "veth", "peer", "name", f"g{tag}")
        _ip("link", "set", f"r{tag}", "netns", robot)
        _ip("link", "set", f"g{tag}", "netns", gpu)
        for ns, dev, addr in ((robot, f"r{tag}", "10.213.7.1/24"), (gpu, f"g{tag}", "10.213.7.2/24")):
            _ip("addr", "add", addr, "dev", dev, ns=ns)
            _ip("link", "set", "lo", "up", ns=ns)
            _ip("link", "set", dev, "up", "multicast", "on", ns=ns)
            _ip("route", "add", "224.0.0.0/4", "dev", dev, ns=ns)
        log = (tmp_path / "vlm_node.log").open("w")
        node = subprocess.Popen(
            ["ip", "netns", "exec", gpu, sys.executable, "-m", "vlm_robot.nodes.vlm_node", "--ros-args",
             "--params-file", str(ROOT / "config" / "vlm.yaml"), "-p", "describe_rate_hz:=0.0"],
            env=env, stdout=log, stderr=subprocess.STDOUT)
        asked = subprocess.run(
            ["ip", "netns", "exec", robot, sys.executable, "-m", "vlm_robot.tools.cli", "ask",
             "How many people are there?", "--image", str(image), "--timeout", "90", "--json"],
            env=env, capture_output=True, text=True, timeout=150)
        logs = (tmp_path / "vlm_node.log").read_text()[-3000:]
        assert asked.returncode == 0, f"{asked.stdout}\n{asked.stderr}\n--- vlm node:\n{logs}"
        answer = json.loads(asked.stdout.strip().splitlines()[-1])
        assert answer["ok"] and answer["text"] and {"<person1>", "<person2>"} <= set(answer["entities"])
        # the frames (230 kB each) and the answer crossed the veth, in both directions
        assert _rx_bytes(gpu, f"g{tag}") > 230_000 and _rx_bytes(robot, f"r{tag}") > 1000
    finally:
        if node is not None:
            node.send_signal(2)
            try:
                node.wait(timeout=15)
            except subprocess.TimeoutExpired:
                node.kill()
        for ns in (robot, gpu):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)

