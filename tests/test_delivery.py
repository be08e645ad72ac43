"""Nothing said goes unanswered: transcripts are sent again until answered, across a reasoning crash."""

import os
import signal
import time
from collections import Counter

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
    assert p.due(16.0) == ([], ["a"]) and len(p) == 0


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
    overrides = {"speech_in": {"source": str(said), "resend_after_s": "4.0"}}
    g = graph.Graph([s for s in graph.NODES if s.name in ("speech_in", "reasoning")], overrides,
                    log_dir=tmp_path / "logs", respawn_delay=0.5)
    with observed_graph(g, "delivery_test", settle_s=1.0) as obs:
        assert obs.wait_for(lambda s: any(u["in_reply_to"] for u in s.of(common.UTTERANCE)), 30)
        os.kill(g.procs["reasoning"].pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            g.poll()
            if len({u["in_reply_to"] for u in obs.seen.of(common.UTTERANCE)}) >= 3:
                break
            time.sleep(0.2)
        time.sleep(1.0)
    answers = Counter(u["in_reply_to"] for u in obs.seen.of(common.UTTERANCE))
    assert g.restarts.get("reasoning") == 1
    assert len(answers) == 3 and set(answers.values()) == {1}, answers
