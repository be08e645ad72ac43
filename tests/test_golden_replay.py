"""Golden replay: a recorded session's inputs, replayed into a fresh graph, give the recorded decisions.

The bag (tests/artifacts/golden_session, re-made by tests/artifacts/make_golden.py) holds the
frames and transcripts of a live run and the decisions and gate verdicts the stack made then.
Decisions use the stamps of their inputs (the event clock), so the replay must match them.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vlm_robot import graph
from vlm_robot.bag import read_bag
from vlm_robot.nodes import common, messages
from vlm_robot.observe import decision_key

pytestmark = pytest.mark.graph
BAG = Path(__file__).resolve().parent / "artifacts" / "golden_session"
INPUTS = [common.IMAGE, common.TRANSCRIPT]


def recorded(topic: str) -> list[dict]:
    return [messages.from_raw(messages.KIND_OF_TOPIC[topic], m.raw) for m in read_bag(BAG, [topic])]


def ordered(decisions: list[dict]) -> list[tuple]:
    return [decision_key(d) for d in sorted(decisions, key=lambda d: (round(d["stamp"], 3), d["action"]))]


def verdicts(vs: list[dict]) -> list[tuple]:
    return [(v["intent"]["type"], v["intent"]["target"], v["approved"]) for v in vs]


def test_replayed_inputs_give_the_recorded_decisions(tmp_path):
    from vlm_robot.observe import observed_graph
    from vlm_robot.tools.replay import publish_bag

    expected = recorded(common.DECISION)
    assert any(d["action"] == "greet" for d in expected) and any(d["action"] == "silent" for d in expected)
    n_transcripts = sum(1 for _ in read_bag(BAG, [common.TRANSCRIPT]))

    g = graph.Graph([s for s in graph.NODES if s.name in ("perception", "reasoning", "safety_gate")],
                    {"reasoning": {"memory.path": str(tmp_path / "memory.json")}}, log_dir=tmp_path / "logs")
    with observed_graph(g, "golden_replay", settle_s=1.0) as obs:
        sent = publish_bag(obs, BAG, rate=1.0, topics=INPUTS)
        assert sent > 20
        obs.wait_for(lambda s: len([d for d in s.of(common.DECISION) if d["action"] == "reply"]) >= n_transcripts, 20)
        time.sleep(1.0)
    got = obs.seen.of(common.DECISION)
    assert ordered(got) == ordered(expected)
    assert verdicts(obs.seen.of(common.VERDICT)) == verdicts(recorded(common.VERDICT))
