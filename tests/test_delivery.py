"""Nothing said goes unanswered: transcripts are sent again until answered, across a reasoning crash."""

import json
import os
import signal
import threading
import time
from collections import Counter

import numpy as np
import pytest

from vlm_robot import graph
from vlm_robot.core.delivery import PendingTranscripts, SeenIds
from vlm_robot.nodes import common


def test_pending_transcripts_are_resent_until_answered_then_given_up():
    p = PendingTranscripts(resend_after_s=5.0, max_tries=3)
    p.sent("a", "A", 0.0)
    p.sent("b", "B", 1.0)
    assert p.due(4.0) == ([], [])
    assert p.due(5.5) == ([("a", "A")], [])
    assert p.answered("b") and not p.answered("b")
    assert p.due(10.6) == ([("a", "A")], [])
    assert p.due(16.0) == ([], [("a", "A")]) and len(p) == 0


def test_messages_waiting_for_an_absent_consumer_are_given_up_by_age_not_by_tries():
    p = PendingTranscripts(resend_after_s=2.0, max_tries=15)
    p.sent("old", "O", 0.0)
    p.sent("new", "N", 25.0)
    p.postpone(29.0)  # nothing subscribes: no tries counted
    assert p.older_than(30.0, 29.0) == []
    assert p.older_than(30.0, 31.0) == [("old", "O")] and len(p) == 1  # 31 s old: given up; 6 s old: kept


def test_a_new_consumer_gets_every_pending_message_with_its_tries_counted_afresh():
    p = PendingTranscripts(resend_after_s=3.0, max_tries=2)
    p.sent("a", "A", 0.0)
    assert p.due(3.5) == ([("a", "A")], [])  # try 2 of 2, spent on a consumer that is gone
    assert p.restart(5.0, after_s=1.0) == 1  # the restarted consumer matched
    assert p.due(5.9) == ([], [])  # its own publishers are discovered first
    assert p.due(6.0) == ([("a", "A")], [])  # try 1 of a fresh 2
    assert p.due(9.0) == ([("a", "A")], [])
    assert p.due(12.0) == ([], [("a", "A")])


class _FakePublisher:
    topic_name = "/vlm_robot/transcript"

    def __init__(self):
        self.subscribers, self.sent = 0, []

    def get_subscription_count(self):
        return self.subscribers

    def publish(self, msg):
        self.sent.append(msg)


def test_a_consumer_that_restarts_slower_than_the_tries_last_still_gets_the_message(monkeypatch):
    """The Resender's clock and its publisher's matched subscriptions are driven by the test: the consumer is
    killed, its tries run out while it is still listed, and the restarted one matches just before the give-up."""
    import rclpy

    from vlm_robot.nodes import resend

    clock = [100.0]
    monkeypatch.setattr(resend.time, "monotonic", lambda: clock[0])
    ctx = rclpy.Context()
    rclpy.init(context=ctx, domain_id=int(os.environ.get("ROS_DOMAIN_ID", "0")))
    try:
        node = rclpy.create_node("resend_restart", context=ctx)
        pub = _FakePublisher()
        pub.subscribers = 1
        r = resend.Resender(node, pub, resend_after_s=2.0, max_tries=3)
        r.publish("t-1", "hello")  # try 1; the consumer dies before it answers (still listed: lease)

        def tick(at):
            clock[0] = 100.0 + at
            r._resend()
            return len(pub.sent)

        assert [tick(at) for at in (1.0, 2.0, 3.0, 4.0)] == [1, 2, 2, 3]  # tries 2 and 3
        pub.subscribers = 0  # the lease ran out
        assert tick(5.0) == 3
        pub.subscribers = 1  # the restarted consumer matched, 1 s before the give-up
        assert tick(5.5) == 3 and len(r) == 1  # not at once: the consumer's own publishers are discovered first
        assert tick(6.5) == 3 and len(r) == 1  # kept past the old give-up time (6 s)
        assert tick(5.4 + min(resend.SETTLE_S, 2.0)) == 3 and tick(5.5 + min(resend.SETTLE_S, 2.0)) == 4  # fresh try 1
        assert len(r) == 1
    finally:
        rclpy.try_shutdown(context=ctx)


def test_seen_ids_forget_the_oldest():
    s = SeenIds(size=2)
    assert s.first_time("x") and not s.first_time("x")
    s.first_time("y")
    s.first_time("z")
    assert s.first_time("x")  # forgotten


@pytest.mark.graph
def test_every_transcript_is_answered_although_reasoning_is_killed_mid_conversation(tmp_path):
    from vlm_robot.observe import observed_graph

    said = tmp_path / "said.txt"
    # the first sentence comes once everything is up; the second while reasoning is down (killed after
    # answering the first, back about 2 s later); each must be answered, none twice
    said.write_text("5.0\tHello robot.\n7.5\tWhat is your name?\n9.5\tWhere is the kitchen?\n")
    overrides = {"speech_in": {"source": str(said), "resend_after_s": "4.0"},
                 "reasoning": {"memory.path": str(tmp_path / "memory.json")}}
    g = graph.Graph([s for s in graph.NODES if s.name in ("speech_in", "reasoning")], overrides,
                    log_dir=tmp_path / "logs", respawn_delay=0.5)
    with observed_graph(g, "delivery_test", settle_s=1.0) as obs:
        # the first answer waits for the reasoning node's start (models loaded, discovery hold): more than 30 s
        # once, beside a full `make test` and two other test processes on the 2 cores
        assert obs.wait_for(lambda s: any(u["in_reply_to"] for u in s.of(common.UTTERANCE)), 120)
        os.kill(g.procs["reasoning"].pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            g.poll()  # notices the kill and restarts the node (on a loaded machine all 3 may be answered first)
            if g.restarts.get("reasoning") and len({u["in_reply_to"] for u in obs.seen.of(common.UTTERANCE)}) >= 3:
                break
            time.sleep(0.2)
        time.sleep(1.0)
    answers = Counter(u["in_reply_to"] for u in obs.seen.of(common.UTTERANCE))
    assert g.restarts.get("reasoning") == 1
    assert len(answers) == 3 and set(answers.values()) == {1}, answers


@pytest.mark.graph
def test_memory_survives_a_killed_reasoning_node_and_every_transcript_is_answered_once(tmp_path):
    """Done criterion of issue 5: killed mid-conversation, the node is restarted, its memory survives."""
    from vlm_robot.observe import observed_graph, person_in_view

    said = tmp_path / "said.txt"
    # the name comes once everything is up; the question about it while reasoning is down (killed after its
    # first answer): the restarted node must answer it from the memory the killed one saved.
    # speech_in starts once reasoning is up and follows Alice (its times count from its own start): when both
    # started together, under load (two CPU burners) the language model took 11.6 s to load, the three sentences
    # all reached the first process and were answered before the kill the test is about
    said.write_text("4.0\tMy name is Alice.\n6.5\tWhat is my name?\n8.5\tWhere is the kitchen?\n")
    memory = tmp_path / "memory.json"
    g = graph.Graph([s for s in graph.NODES if s.name == "reasoning"], {"reasoning": {"memory.path": str(memory)}},
                    log_dir=tmp_path / "logs", respawn_delay=0.5)
    speech = graph.Graph([s for s in graph.NODES if s.name == "speech_in"],
                         {"speech_in": {"source": str(said), "resend_after_s": "4.0"}}, log_dir=tmp_path / "logs")
    v = np.random.default_rng(5).random(128)
    alice = tuple(float(x) for x in v / np.linalg.norm(v))  # her appearance descriptor
    with observed_graph(g, "memory_test", settle_s=1.0) as obs, person_in_view(obs, descriptor=alice):
        # Alice stands in front of the robot the whole time (as perception reports her); its person states come
        # once its outputs are no longer held for discovery
        assert obs.wait_for(lambda s: any(st["people"] for st in s.of(common.PERSON_STATES)), 30)
        speech.start()
        try:
            assert obs.wait_for(lambda s: any(u["in_reply_to"] for u in s.of(common.UTTERANCE)), 30)
            os.kill(g.procs["reasoning"].pid, signal.SIGKILL)
            states_before = len(obs.seen.of(common.PERSON_STATES))
            said_before = len(obs.seen.of(common.UTTERANCE))
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                g.poll()
                if len({u["in_reply_to"] for u in obs.seen.of(common.UTTERANCE) if u["in_reply_to"]}) >= 3:
                    break
                time.sleep(0.2)
            time.sleep(1.0)
        finally:
            speech.stop()
    utterances = obs.seen.of(common.UTTERANCE)
    answers = Counter(u["in_reply_to"] for u in utterances if u["in_reply_to"])
    assert g.restarts.get("reasoning") == 1
    assert len(answers) == 3 and set(answers.values()) == {1}, answers
    replies = {u["in_reply_to"]: u for u in utterances if u["in_reply_to"]}
    first = next(u for u in utterances if u["in_reply_to"])
    assert first["person_id"] is not None
    # the restarted process knew Alice by sight (same id), by name, and what she had said
    after = obs.seen.of(common.PERSON_STATES)[states_before:]
    assert any(p["id"] == first["person_id"] and p.get("name") == "Alice" and p.get("remembered_turns", 0) >= 1
               for s in after for p in s["people"]), after[-1:]
    asked = [u for u in replies.values() if "my name" in u["reason"].lower() or "Alice" in u["text"]]
    assert any(u["text"] == "Your name is Alice." for u in asked), [u["text"] for u in replies.values()]
    # she spoke to the robot seconds ago: the restarted node does not greet her as a stranger
    assert not [u for u in utterances[said_before:] if u["kind"] == "greeting"]
    saved = json.loads(memory.read_text())
    assert [p["facts"].get("name") for p in saved["people"]] == ["Alice"]
    heard = [t["user"] for t in saved["conversation"] if t["user"]]  # one exchange per sentence, none twice
    assert sorted(heard) == sorted(line.split("\t")[1] for line in said.read_text().splitlines())
    # how old the words said while reasoning was down were when answered: what backlog.max_age_s must allow
    ages = [e.received - e.body["stamp"] for e in obs.seen.events
            if e.topic == common.UTTERANCE and e.body.get("in_reply_to")]
    print(f"\nreplies came {', '.join(f'{a:.1f}' for a in ages)} s after the words were said")


@pytest.mark.graph
def test_a_restarted_node_follows_the_camera_while_its_outputs_wait_and_knows_who_speaks(tmp_path):
    """Issue 13, item 5. Before: the scene worker waited for discovery after its first frame (>= 4 s here, 3.5 s
    measured in the memory test's restarted node) while words said since were heard, so nobody was in view for
    them and "What is my name?" was not answered from the speaker's memory (failed once in the test above, under
    load). Now the tracker follows every frame while the outputs are held, and such words wait for it."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    from vlm_robot.core.types import Face, PerceptionResult
    from vlm_robot.nodes.reasoning_node import ReasoningNode
    from vlm_robot.reasoning.memory import Memory, MemoryConfig

    v = np.random.default_rng(5).random(128)
    alice = tuple(float(x) for x in v / np.linalg.norm(v))
    memory = Memory(MemoryConfig(path=str(tmp_path / "memory.json")))
    memory.saw(1, "neutral", list(alice))  # seen and named before the restart
    memory.addressed(1)
    memory.heard(1, "My name is Alice.")
    memory.save()

    def frame(stamp: float) -> dict:
        face = Face((280.0, 180.0, 90.0, 90.0), 0.95, (), descriptor=alice)
        return PerceptionResult(stamp, "camera", 640, 480, (face,)).to_dict()

    rclpy.init(args=["--ros-args", "-p", f"memory.path:={memory.config.path}", "-p", "vlm_questions:=false"])
    node = ReasoningNode()
    ex = SingleThreadedExecutor()
    ex.add_node(node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    try:
        s0 = time.time()
        node._on_people(frame(s0))
        node._on_people(frame(s0 + 3.0))
        assert node.reasoner.wait_perceived(s0 + 3.0, 3.0)
        # followed while the outputs are still held (no subscribers here: held for 4 s after start)
        assert not node.hold.ready
        assert [(p.id, p.last_seen) for p in node.reasoner.people()] == [(1, s0 + 3.0)]
        node._on_transcript({"text": "What is my name?", "stamp": s0 + 3.2, "speaker": "user", "final": True,
                             "id": "ask"})
        threading.Timer(0.2, lambda: node._on_people(frame(s0 + 3.4))).start()  # the moment it was said, seen
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not any(c["user"] == "What is my name?"
                                                      for c in node.reasoner.memory.conversation):
            time.sleep(0.05)
        [said] = [c for c in node.reasoner.memory.conversation if c["user"] == "What is my name?"]
        assert (said["person"], said["robot"]) == (1, "Your name is Alice.")
    finally:
        node.close()
        ex.shutdown()
        node.destroy_node()
        rclpy.try_shutdown()
