"""Calibration maths and the proactive policy's engagement cues, without ROS or models."""

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult, Transcript
from vlm_robot.reasoning.calibration import apply_temperature, fit_temperature, nll, reliability
from vlm_robot.reasoning.engagement import AttentionWindow, head_yaw, matching_phrase
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig


class FakeAffect:
    """VADER's sign on a few words, so that these tests need no lexicon."""

    def sentiment(self, text: str) -> float:
        return -0.8 if any(w in text.lower() for w in ("awful", "terrible")) else 0.0


def face(x: float, mood: str = "neutral", p: float = 0.9, yaw: float = 0.0, facing: float | None = None) -> Face:
    """A face at ``x`` whose keypoints show a head turn ``yaw`` (nose offset in eye distances)."""
    probs = [(1 - p) / 6] * 7
    probs[EXPRESSIONS.index(mood)] = p
    cx, cy = x + 40, 140.0
    kps = ((cx - 15, cy - 10), (cx + 15, cy - 10), (cx + yaw * 30, cy + 5), (cx, cy + 20), (cx - 35, cy), (cx + 35, cy))
    return Face((x, 100, 80, 80), 0.9, kps, mood, tuple(probs), 1.0 - 2 * abs(yaw) if facing is None else facing)


def make(**kw) -> Reasoner:
    return Reasoner(PeopleTracker(TrackerConfig()), ProactivePolicy(ProactiveConfig(**kw)), None, FakeAffect())


def frames(r: Reasoner, t0: float, t1: float, faces, fps: float = 10.0):
    out, t = [], t0
    while t < t1 - 1e-9:
        out += r.on_perception(PerceptionResult(round(t, 3), "cam", 640, 480, tuple(faces))).decisions
        t += 1 / fps
    return out


def greets(ds):
    return [d for d in ds if d.action == "greet"]


# --- calibration ---------------------------------------------------------------------------------------------


def test_temperature_softens_and_sharpens_and_keeps_the_ranking():
    p = np.array([0.6, 0.3, 0.1])
    soft, sharp = apply_temperature(p, 2.0), apply_temperature(p, 0.5)
    assert soft.max() < 0.6 < sharp.max()
    assert np.allclose(soft.sum(), 1) and np.allclose(sharp.sum(), 1)
    assert list(np.argsort(soft)) == list(np.argsort(p)) == list(np.argsort(sharp))
    assert np.allclose(apply_temperature(p, 1.0), p)
    with pytest.raises(ConfigError, match="temperature must be > 0"):
        apply_temperature(p, 0.0)


def test_fit_temperature_recovers_the_temperature_that_made_the_data():
    rng = np.random.default_rng(0)
    logits = rng.normal(0, 3, (4000, 7))
    true = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    labels = np.array([rng.choice(7, p=row) for row in true])
    overconfident = apply_temperature(true, 0.5)  # a model twice as sure as the truth
    t = fit_temperature(overconfident, labels)
    assert 1.8 < t < 2.2
    assert nll(overconfident, labels, t) < nll(overconfident, labels, 1.0)
    before = reliability(overconfident.max(1), overconfident.argmax(1) == labels)
    fixed = apply_temperature(overconfident, t)
    after = reliability(fixed.max(1), fixed.argmax(1) == labels)
    assert after.ece < 0.03 < before.ece


def test_reliability_of_perfectly_calibrated_bins_is_zero_and_bad_inputs_are_refused():
    conf = np.array([0.25] * 4 + [0.75] * 4)
    ok = np.array([1, 0, 0, 0, 1, 1, 1, 0], bool)
    rel = reliability(conf, ok)
    assert rel.ece == pytest.approx(0.0) and rel.count == 8 and "0.7-0.8" in rel.table()
    assert reliability(np.array([0.9, 0.9]), np.array([False, False])).ece == pytest.approx(0.9)
    with pytest.raises(ConfigError):
        reliability(np.array([0.5]), np.array([True, False]))
    with pytest.raises(ConfigError):
        fit_temperature(np.zeros((0, 7)), np.zeros(0))


def test_tracker_applies_the_configured_temperature():
    sharp = PeopleTracker(TrackerConfig(expression_temperature=0.5))
    plain = PeopleTracker(TrackerConfig())
    for tr in (sharp, plain):
        tr.update(PerceptionResult(0.0, "c", 640, 480, (face(100, "sad", p=0.4),)))
    assert sharp.people[1].mood_confidence > plain.people[1].mood_confidence == pytest.approx(0.4)
    with pytest.raises(ConfigError, match="expression_temperature"):
        TrackerConfig(expression_temperature=0.0)


# --- engagement cues ----------------------------------------------------------------------------------------


def test_head_yaw_sign_and_attention_window():
    assert head_yaw(face(100, yaw=0.25).keypoints) == pytest.approx(0.25)
    assert head_yaw(face(100, yaw=-0.2).keypoints) == pytest.approx(-0.2)
    assert head_yaw(()) == 0.0
    w = AttentionWindow(2.0, 0.7)
    assert w.add(0.0, 1.0) == 1.0
    assert w.add(1.0, 0.2) == 0.5
    assert w.add(3.5, 0.2) == 1.0 - 1.0  # the frames before 1.5 s have left the window
    assert matching_phrase("Hmm, WHERE IS the exit?", ("where is",)) == "where is"
    assert matching_phrase("nowhere isn't here", ("where is",)) is None


def test_two_people_turned_towards_each_other_are_left_alone_even_when_one_looks_sad():
    r = make()
    # left person turned right (towards the other), right person turned left: a conversation
    ds = frames(r, 0.0, 6.0, [face(100, "sad", yaw=0.15, facing=0.8), face(400, yaw=-0.15, facing=0.8)])
    assert not greets(ds)
    assert any("is talking to person 2" in d.reason and "heads are turned" in d.reason for d in ds if d.person_id == 1)
    # the same faces turned away from each other: no conversation, the sad one is greeted
    r = make()
    ds = frames(r, 0.0, 2.0, [face(100, "sad", yaw=-0.15, facing=0.8), face(400, yaw=0.15, facing=0.8)])
    assert [d.person_id for d in greets(ds)] == [1] and "looks sad" in greets(ds)[0].reason


def test_busy_person_is_not_greeted_even_when_sad_or_glancing():
    r = make()
    ds = frames(r, 0.0, 3.0, [face(100, "sad", yaw=0.3)])  # looking away (facing 0.4) for 3 s
    ds += frames(r, 3.0, 3.4, [face(100, "sad")])  # a glance at the robot
    assert not greets(ds)
    assert any(d.reason.startswith("person 1 is busy: looked at the robot in") for d in ds)
    off = make(busy_max_attention=0.0)  # busy turned off: the sad reader is greeted
    assert greets(frames(off, 0.0, 3.0, [face(100, "sad", yaw=0.3)]))


def test_low_confidence_reason_says_so():
    r = make()
    ds = frames(r, 0.0, 2.0, [face(100, "sad", p=0.3)])
    assert not greets(ds)
    low = [d.reason for d in ds if d.reason.startswith("low confidence")]
    assert low and "0.30" in low[0] and "0.45" in low[0]


def test_overheard_upset_words_count_as_concern_after_the_conversation():
    r = make(quiet_s=2.0)
    talk = [face(100, yaw=0.15, facing=0.8), face(400, yaw=-0.15, facing=0.8)]
    frames(r, 0.0, 1.0, talk)
    heard = r.hear(Transcript("This is awful, I missed my train.", 1.0, "person1", id="t1"))
    assert [d.action for d in heard.decisions] == ["silent"] and "overheard person 1" in heard.decisions[0].reason
    assert r.answer(Transcript("This is awful, I missed my train.", 1.0, "person1", id="t1")).utterances == []
    assert not greets(frames(r, 1.0, 4.0, talk))  # still talking to each other
    ds = frames(r, 4.0, 6.0, [face(100, facing=0.95)])  # the friend left, she looks at the robot
    g = greets(ds)
    assert len(g) == 1 and "sounded upset" in g[0].reason and "-0.80" in g[0].reason
    assert g[0].detail["text"].startswith("Hello. You sounded upset")


def test_overheard_confusion_offers_help_and_words_said_to_the_robot_get_a_reply():
    r = make(quiet_s=2.0)
    frames(r, 0.0, 1.0, [face(100, yaw=0.3)])  # alone, looking at a map (facing 0.4)
    heard = r.hear(Transcript("I'm lost, where is the exit?", 1.0, "person1", id="t1"))
    assert heard.decisions[0].action == "silent" and "looked away" in heard.decisions[0].reason
    g = greets(frames(r, 1.0, 4.0, [face(100, yaw=0.3)]))
    assert len(g) == 1 and 'sounded lost' in g[0].reason and '"i\'m lost"' in g[0].reason
    # naming the robot makes it a question to the robot, whoever the speaker faces
    r = make(quiet_s=2.0)
    frames(r, 0.0, 1.0, [face(100, yaw=0.3)])
    heard = r.hear(Transcript("Robot, this is awful, where is the exit?", 1.0, "person1", id="t2"))
    assert heard.decisions[0].action == "reply"
    assert not greets(frames(r, 1.0, 5.0, [face(100, yaw=0.3)]))


def test_overheard_stop_still_reaches_the_gate():
    r = make()
    frames(r, 0.0, 1.0, [face(100, yaw=0.15, facing=0.8), face(400, yaw=-0.15, facing=0.8)])
    out = r.hear(Transcript("stop it, that is terrible", 1.0, "person1", id="t1"))
    assert [i.type for i in out.intents] == ["stop"]


def test_new_config_values_are_checked_and_old_yaml_greetings_still_load():
    with pytest.raises(ConfigError, match="busy_max_attention"):
        ProactiveConfig(busy_max_attention=1.5)
    with pytest.raises(ConfigError, match="upset_sentiment"):
        ProactiveConfig(upset_sentiment=-3.0)
    cfg = ProactiveConfig(greetings={"concern": "Hi, {mood}?", "waiting": "Hi!"})
    assert cfg.greetings["concern"] == "Hi, {mood}?" and "upset" in cfg.greetings and "confused" in cfg.greetings


def test_a_voice_nobody_in_view_is_not_answered_while_the_camera_runs():
    """Issue 14's case: a person behind the robot on the phone was answered three times."""
    r = make()
    frames(r, 0.0, 2.0, [])  # the camera runs and sees nobody
    for i, text in enumerate(("Hi mum, yes, I'm at the station.", "No, the train is late again.", "See you soon.")):
        t = Transcript(text, 2.0 + i, "user", id=f"t{i}")
        heard = r.hear(t)
        assert [d.action for d in heard.decisions] == ["silent"], heard.decisions
        assert "nobody was in view" in heard.decisions[0].reason
        assert r.answer(t).utterances == []
        frames(r, 2.0 + i, 3.0 + i, [])
    heard = r.hear(Transcript("Robot, where is the exit?", 5.0, "user", id="t9"))  # naming it: a question to it
    assert heard.decisions[0].action == "reply"
    for i, text in enumerate(("Is anyone here?", "Where is the kitchen?", "Come here.")):  # only a robot is
        assert r.hear(Transcript(text, 5.0, "user", id=f"q{i}")).decisions[0].action == "reply", text  # asked these
    # no camera running (a voice-only robot), or a camera that stopped: every voice is said to the robot
    assert make().hear(Transcript("Hi, where is the exit?", 1.0, "user", id="t1")).decisions[0].action == "reply"
    assert r.hear(Transcript("Where is the exit?", 12.0, "user", id="t10")).decisions[0].action == "reply"


def test_an_answer_to_the_robots_question_counts_whoever_the_speaker_faces():
    r = make(quiet_s=2.0)
    frames(r, 0.0, 1.0, [face(100, yaw=0.3)])  # looking at a map (facing 0.4)
    r.hear(Transcript("I'm lost, where is the exit?", 1.0, "person1", id="t1"))
    g = greets(frames(r, 1.0, 4.0, [face(100, yaw=0.3)]))
    assert len(g) == 1 and g[0].detail["text"].rstrip().endswith("?")  # the robot asks whether it can help
    asked = g[0].stamp
    answer = r.hear(Transcript("Yes please, the exit.", asked + 2.0, "person1", id="t2"))
    assert answer.decisions[0].action == "reply"  # still looking at the map, but it answers the robot
    frames(r, asked, asked + 15.0, [face(100, yaw=0.3)])
    later = r.hear(Transcript("Hmm, this map is confusing.", asked + 15.0, "person1", id="t3"))
    assert later.decisions[0].action == "silent" and "looked away" in later.decisions[0].reason
