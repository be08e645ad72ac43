"""Back-pressure with meaning (issue 13, item 4): words too old are not answered minutes late, a flood from one
source does not starve another, and what is left out is said (one apology per burst, a decision for each)."""

import os
import statistics
import threading
import time
from collections import Counter
from pathlib import Path

import pytest

from vlm_robot.core.delivery import declined
from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Transcript
from vlm_robot.reasoning.backlog import APOLOGY, Backlog, BacklogConfig


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def backlog(**kw) -> tuple[Backlog, Clock]:
    clock = Clock()
    return Backlog(BacklogConfig(**kw), clock), clock


def test_words_older_than_the_limit_are_dropped_with_the_reason_when_their_turn_comes():
    b, clock = backlog(max_age_s=10.0)
    b.put("mic", 95.0, "old")
    b.put("mic", 99.0, "fresh")
    clock.now = 105.5  # "old" was said 10.5 s ago, "fresh" 6.5 s ago
    dropped, item = b.pop()
    assert item == "fresh" and [d.item for d in dropped] == ["old"]
    assert "said 10.5 s ago" in dropped[0].reason and "backlog.max_age_s 10" in dropped[0].reason
    assert dropped[0].stamp == 95.0 and dropped[0].source == "mic"
    b.put("mic", 95.0, "said long ago, arrived now")  # age is from the stamp (when it was said), not the arrival
    dropped, item = b.pop()
    assert item is None and [d.item for d in dropped] == ["said long ago, arrived now"]
    b.put("mic", 96.0, "just within")
    dropped, item = b.pop()
    assert item == "just within" and dropped == []


def test_a_sentence_exactly_at_the_limit_is_still_answered():
    b, _ = backlog(max_age_s=10.0)  # the clock stands at 100.0
    b.put("mic", 90.0, "x")
    assert b.pop() == ([], "x")


def test_a_newer_sentence_pushes_out_the_oldest_of_its_source():
    b, _ = backlog(max_per_source=3)
    for i in range(5):
        b.put("flood", 100.0, i)
    assert len(b) == 3
    dropped, item = b.pop()
    assert [d.item for d in dropped] == [0, 1] and item == 2
    assert all("backlog.max_per_source 3" in d.reason and "'flood'" in d.reason for d in dropped)
    assert [b.pop()[1], b.pop()[1], b.pop()[1]] == [3, 4, None]


def test_words_are_answered_in_the_order_they_were_said_not_heard():
    """Issue 13, item 5: "My name is Alice." lost while reasoning started, sent again after "What is my name?"."""
    b, _ = backlog(max_per_source=4)  # the clock stands at 100.0
    b.put("user", 93.5, "What is my name?")
    b.put("user", 95.5, "Where is the kitchen?")
    b.put("user", 91.0, "My name is Alice.")  # sent again by speech_in, with the stamp of when it was said
    b.put("user", 95.5, "And the toilet?")  # the same stamp: in the order heard
    assert [b.pop()[1] for _ in range(5)] == ["My name is Alice.", "What is my name?", "Where is the kitchen?",
                                              "And the toilet?", None]
    b, _ = backlog(max_per_source=2)
    b.put("user", 95.0, "b")
    b.put("user", 96.0, "c")
    b.put("user", 94.0, "a")  # the oldest said is pushed out, though heard last
    dropped, item = b.pop()
    assert [d.item for d in dropped] == ["a"] and item == "b"


def test_a_flood_from_one_source_does_not_starve_another():
    b, _ = backlog(max_per_source=3)
    for i in range(3):
        b.put("flood", 100.0, f"f{i}")
    assert b.pop()[1] == "f0"  # being answered when the other person speaks
    for i in range(3, 50):
        b.put("flood", 100.0, f"f{i}")
    b.put("visitor", 100.0, "v0")
    assert b.pop()[1] == "v0"  # served longest ago (never): next
    b.put("visitor", 100.0, "v1")
    order = [b.pop()[1] for _ in range(4)]
    assert order == ["f47", "v1", "f48", "f49"]  # the sources take turns


def test_all_sources_together_are_bounded_the_longest_queue_losing_first():
    b, _ = backlog(max_per_source=3, max_waiting=4)
    for s in ("a", "b"):
        b.put(s, 100.0, f"{s}0")
    b.put("a", 100.0, "a1")
    b.put("c", 100.0, "c0")
    b.put("c", 100.0, "c1")  # 5 waiting: "a" (2) ties "c" (2): the queue with the oldest item loses it
    dropped, _ = b.pop()
    assert [d.item for d in dropped] == ["a0"] and "backlog.max_waiting 4" in dropped[0].reason
    assert len(b) == 3


def test_one_apology_per_burst_and_per_source():
    b, clock = backlog(max_per_source=1, burst_gap_s=10.0)
    for i in range(30):  # a flood while the worker answers: every new sentence pushes out the one before
        clock.now = 100.0 + i * 0.05
        b.put("flood", clock.now, i)
    dropped, item = b.pop()
    marks = [(d.item, d.apologize, d.burst) for d in dropped]
    assert item == 29 and marks[0] == (0, True, 1) and [m[1] for m in marks[1:]] == [False] * 28
    assert marks[-1] == (28, False, 29)
    b.put("visitor", clock.now, "v0")
    b.put("visitor", clock.now, "v1")  # another source's burst: its own apology
    assert [(d.item, d.apologize) for d in b.pop()[0]] == [("v0", True)]
    clock.now += 10.5  # the flood stopped for longer than burst_gap_s: a new burst
    b.put("flood", clock.now, 100)
    b.put("flood", clock.now, 101)
    assert [(d.item, d.apologize, d.burst) for d in b.pop()[0]] == [(100, True, 1)]


def test_bad_bounds_are_refused_with_the_reason():
    with pytest.raises(ConfigError, match=r"backlog.max_age_s must be in \[1, 3600\]"):
        BacklogConfig(max_age_s=0.5)
    with pytest.raises(ConfigError, match=r"backlog.max_per_source must be in \[1, 1000\], got 0"):
        BacklogConfig(max_per_source=0)
    with pytest.raises(ConfigError, match=r"backlog.max_waiting must be in \[max_per_source \(3\)"):
        BacklogConfig(max_waiting=2)
    with pytest.raises(ConfigError, match=r"backlog.burst_gap_s must be in \[0, 3600\] seconds, got -1"):
        BacklogConfig(burst_gap_s=-1)


def test_the_worker_reports_what_was_left_out_before_it_answers_the_next():
    from vlm_robot.nodes.latest import BacklogWorker

    events = []
    busy = threading.Event()
    release = threading.Event()

    def handle(item):
        events.append(("answer", item))
        if item == "a0":
            busy.set()
            release.wait(5)

    b, _ = backlog(max_per_source=2)
    w = BacklogWorker(b, handle, lambda ds: events.extend(("dropped", d.item) for d in ds), "test-backlog")
    w.put("a", 100.0, "a0")
    assert busy.wait(5)
    for i in range(1, 5):
        w.put("a", 100.0, f"a{i}")
    release.set()
    w.close()
    assert events == [("answer", "a0"), ("dropped", "a1"), ("dropped", "a2"), ("answer", "a3"), ("answer", "a4")]


def test_the_reasoner_declines_with_one_apology_and_decisions_that_settle_the_transcripts():
    from vlm_robot.reasoning.dialogue import DialogueManager
    from vlm_robot.reasoning.policy import ProactivePolicy
    from vlm_robot.reasoning.reasoner import Reasoner
    from vlm_robot.reasoning.tracker import PeopleTracker

    r = Reasoner(PeopleTracker(), ProactivePolicy(), DialogueManager(None))
    t1, t2 = Transcript("hello", 100.0, id="t1"), Transcript("and another thing", 100.1, id="t2")
    r.hear(t1)
    first = r.decline(t1, "said 31.0 s ago", apologize=True, detail={"source": "mic", "burst": 1})
    [u] = first.utterances
    assert (u.text, u.kind, u.in_reply_to) == (APOLOGY, "error", "t1") and "said 31.0 s ago" in u.reason
    assert [d.action for d in first.decisions] == ["reply"]
    rest = r.decline(t2, "pushed out", apologize=False, detail={"source": "mic", "burst": 2})
    assert rest.utterances == [] and [d.action for d in rest.decisions] == ["silent"]
    body = rest.decisions[0].to_dict()
    assert body["detail"] == {"transcript": "t2", "source": "mic", "burst": 2} and "pushed out" in body["reason"]
    assert declined(body) == "t2"  # speech_in / microphone stop sending t2 again
    assert declined(first.decisions[0].to_dict()) == ""  # the apology (an utterance) settles t1
    assert declined({"action": "silent", "detail": {}}) == ""


def test_the_reasoner_waits_for_the_tracker_to_reach_the_moment_words_were_said():
    from vlm_robot.core.types import Face, PerceptionResult
    from vlm_robot.reasoning.policy import ProactivePolicy
    from vlm_robot.reasoning.reasoner import Reasoner
    from vlm_robot.reasoning.tracker import PeopleTracker

    r = Reasoner(PeopleTracker(), ProactivePolicy(), None)
    face = Face((280.0, 180.0, 90.0, 90.0), 0.95, ())
    r.on_perception(PerceptionResult(100.0, "camera", 640, 480, (face,)))
    assert r.wait_perceived(100.0, 0.0) and not r.wait_perceived(103.0, 0.05)
    later = threading.Timer(0.1, lambda: r.on_perception(PerceptionResult(103.0, "camera", 640, 480, (face,))))
    later.start()
    assert r.wait_perceived(103.0, 5.0)
    later.join()
    out = r.hear(Transcript("hello robot", 103.0, id="t1"))  # the speaker is the person seen at 103.0
    assert [d.person_id for d in out.decisions] == [r.people()[0].id]


# -- the real graph ------------------------------------------------------------------------------------------

# issue 13 says 30 s; 8 s keeps the suite short. The full one: VLM_ROBOT_FLOOD_S=30 pytest -s -k flood (this file)
FLOOD_S = float(os.environ.get("VLM_ROBOT_FLOOD_S", "8"))
FLOOD_RATE = 20.0
OPEN_TALK = ["I went to the park today.", "Tell me a story.", "I like painting.", "Do you like music?",
             "What should I cook tonight?", "I love football.", "What do you think about cats?", "That's interesting."]


@pytest.mark.graph
def test_a_flood_is_not_answered_late_and_does_not_starve_another_speaker(tmp_path: Path):
    """Issue 13, item 4: open talk (the language model, the slowest answers) from speech_in at 20/s, then a normal
    sentence from another speaker. Every flooded sentence gets exactly one of: a reply within the age limit, the
    one apology of the burst, a decision why not; speech_in stops sending them; the other speaker is answered
    within 2 s (issue 13's bound)."""
    from vlm_robot import graph
    from vlm_robot.nodes import common, messages
    from vlm_robot.observe import observed_graph

    start_s = 3.0  # from speech_in's start, which comes once reasoning answers (its outputs no longer held)
    lines = [f"{start_s + i / FLOOD_RATE:.3f}\t{OPEN_TALK[i % len(OPEN_TALK)]}"
             for i in range(int(FLOOD_S * FLOOD_RATE))]
    said = tmp_path / "said.txt"
    said.write_text("\n".join(lines) + "\n")
    resend_after_s = 3.0
    g = graph.Graph([s for s in graph.NODES if s.name == "reasoning"],
                    {"reasoning": {"memory.path": str(tmp_path / "memory.json")}}, log_dir=tmp_path / "logs")
    speech = graph.Graph([s for s in graph.NODES if s.name == "speech_in"],
                         {"speech_in": {"source": str(said), "resend_after_s": str(resend_after_s)}},
                         log_dir=tmp_path / "logs")
    cfg = BacklogConfig()

    def ids(s) -> set[str]:  # speech_in's transcripts decisions name (each transcript heard gets one at once)
        return {i for d in s.of(common.DECISION) if (i := d["detail"].get("transcript", ""))
                and not i.startswith(("probe", "visitor"))}

    def say(obs, text: str, speaker: str, tid: str) -> float:
        stamp = time.time()
        obs.transcript_pub.publish(messages.to_msg("transcript", {
            "text": text, "stamp": stamp, "speaker": speaker, "final": True, "id": tid}))
        return stamp

    def answered(tid: str):
        return lambda s: any(u["in_reply_to"] == tid for u in s.of(common.UTTERANCE))

    with observed_graph(g, "flood_test", settle_s=0.5) as obs:
        # answered once reasoning's outputs are no longer held; sent again (same id) like speech_in does, since a
        # message published before discovery has matched reasoning's subscription is lost (seen on a loaded machine)
        deadline = time.monotonic() + 30
        while not obs.seen.of(common.UTTERANCE) and time.monotonic() < deadline:
            say(obs, "Hello robot.", "probe", "probe-1")
            obs.wait_for(answered("probe-1"), 2.0)
        assert obs.wait_for(answered("probe-1"), 1.0)
        speech.start()
        try:
            assert obs.wait_for(lambda s: any(ids(s)), 30), "no decision on a transcript: is speech_in flooding?"
            session = next(iter(ids(obs.seen))).split("-")[0]  # speech_in's ids: SESSION-SEQ
            last = f"{session}-{len(lines)}"
            assert obs.wait_for(lambda s: last in ids(s), FLOOD_S + 30), "the flood's last sentence never arrived"
            sent = say(obs, "Where is the kitchen?", "visitor", "visitor-1")  # right after the flood, another speaker
            assert obs.wait_for(answered("visitor-1"), 30)
            visitor_s = next(e.received for e in obs.seen.events
                             if e.topic == common.UTTERANCE and e.body.get("in_reply_to") == "visitor-1") - sent
            # what waits is answered or declined; then time for any unsettled sentence to be sent again by speech_in
            time.sleep(resend_after_s + 3.0)
        finally:
            speech.stop()
        with obs.lock:
            events = list(obs.seen.events)
    utterances = [(e.received, e.body) for e in events if e.topic == common.UTTERANCE and "invalid" not in e.body]
    decisions = [e.body for e in events if e.topic == common.DECISION and "invalid" not in e.body]
    flood = {d["detail"]["transcript"]: d["stamp"] for d in decisions
             if d["detail"].get("transcript", "").startswith(session + "-")}
    assert len(flood) == len(lines), (len(flood), len(lines))
    replies = Counter(u["in_reply_to"] for _, u in utterances if u["in_reply_to"] in flood)
    silent = Counter(declined(d) for d in decisions if declined(d) in flood)
    assert not set(replies) & set(silent) and set(replies.values()) <= {1} and set(silent.values()) <= {1}
    assert set(replies) | set(silent) == set(flood)  # each exactly once: a reply, the apology, or a decision
    apologies = [u for _, u in utterances if u["in_reply_to"] in flood and u["kind"] == "error"]
    assert [u["text"] for u in apologies] == [APOLOGY]  # one burst: one apology
    late = sorted(r - flood[u["in_reply_to"]] for r, u in utterances
                  if u["in_reply_to"] in flood and u["kind"] == "reply")
    assert late and late[-1] <= cfg.max_age_s + 5.0, late[-5:]  # the age limit, plus the answer's own time
    warnings = [e.body for e in events if e.topic == common.DIAGNOSTICS and e.body["level"] == 1]
    assert [w["name"] for w in warnings] == ["reasoning: words left unanswered"]
    assert visitor_s <= 2.0, f"the other speaker waited {visitor_s:.2f} s"
    log = (tmp_path / "logs" / "speech_in.log").read_text()
    assert "sending it again" not in log and "never acknowledged" not in log  # declined ones are settled
    print(f"\nflood {FLOOD_S:g} s at {FLOOD_RATE:g}/s: {len(flood)} sentences, {len(late)} replies "
          f"({len(late) / FLOOD_S:.2f}/s), late p50 {statistics.median(late):.2f} s max {late[-1]:.2f} s, "
          f"{len(silent)} declined, 1 apology; the other speaker answered after {visitor_s:.2f} s")
