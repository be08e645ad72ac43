"""Tracker, proactive policy, intents: the decisions, without ROS or models."""

from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult
from vlm_robot.reasoning.intents import intents_from_transcript
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker


def face(x: float, mood: str, p: float = 0.9, facing: float = 1.0) -> Face:
    probs = [(1 - p) / 6] * 7
    probs[EXPRESSIONS.index(mood)] = p
    return Face((x, 100, 80, 80), 0.9, (), mood, tuple(probs), facing)


def frames(reasoner, t0, t1, faces, fps=10.0):
    out = []
    t = t0
    while t < t1:
        out += reasoner.on_perception(PerceptionResult(t, "cam", 640, 480, tuple(faces))).decisions
        t += 1 / fps
    return out


def make(**kw) -> Reasoner:
    return Reasoner(PeopleTracker(), ProactivePolicy(ProactiveConfig(**kw)), None)


def test_ids_stay_stable_while_people_move_and_new_people_get_new_ids():
    tr = PeopleTracker()
    for i in range(10):
        seen = tr.update(PerceptionResult(i * 0.1, "c", 640, 480, (face(100 + 5 * i, "happy"), face(400, "sad"))))
    assert sorted(p.id for p in seen) == [1, 2]
    seen = tr.update(PerceptionResult(5.0, "c", 640, 480, (face(100, "happy"),)))  # both gone > 2 s: new person
    assert [p.id for p in seen] == [3]


def test_expression_is_smoothed_over_time():
    tr = PeopleTracker()
    tr.update(PerceptionResult(0.0, "c", 640, 480, (face(100, "happy"),)))
    p = tr.update(PerceptionResult(0.1, "c", 640, 480, (face(100, "sad"),)))[0]
    assert p.mood == "happy"  # one sad frame does not flip the belief
    for i in range(2, 30):
        p = tr.update(PerceptionResult(i * 0.1, "c", 640, 480, (face(100, "sad"),)))[0]
    assert p.mood == "sad" and p.mood_confidence > 0.8


def test_sad_person_is_greeted_once_with_reason_and_intents():
    r = make()
    ds = frames(r, 0.0, 2.0, [face(100, "sad")])
    greets = [d for d in ds if d.action == "greet"]
    assert len(greets) == 1
    assert "looks sad" in greets[0].reason and greets[0].stamp < 1.0
    out = r.on_perception(PerceptionResult(2.0, "c", 640, 480, (face(100, "sad"),)))
    assert not [d for d in out.decisions if d.action == "greet"]


def test_waiting_person_is_greeted_after_linger_time_only_when_facing():
    r = make(linger_s=3.0)
    ds = frames(r, 0.0, 2.9, [face(100, "neutral")])
    assert not [d for d in ds if d.action == "greet"]
    ds = frames(r, 2.9, 3.5, [face(100, "neutral")])
    greets = [d for d in ds if d.action == "greet"]
    assert len(greets) == 1 and "waiting" in greets[0].reason and greets[0].stamp >= 3.0
    r2 = make(linger_s=3.0)
    ds = frames(r2, 0.0, 5.0, [face(100, "neutral", facing=0.1)])
    assert not [d for d in ds if d.action == "greet"]
    assert any("is busy: looked at the robot in 0%" in d.reason for d in ds)  # never looked: busy
    r3 = make(linger_s=3.0, busy_max_attention=0.0)
    ds = frames(r3, 0.0, 5.0, [face(100, "neutral", facing=0.1)])
    assert not [d for d in ds if d.action == "greet"] and any("not facing" in d.reason for d in ds)


def test_silence_reasons_cooldown_conversation_low_confidence():
    r = make(cooldown_s=5.0, quiet_s=0.0)
    frames(r, 0.0, 1.0, [face(100, "sad")])
    ds = frames(r, 1.0, 2.0, [face(100, "sad"), face(400, "sad")])
    assert any("cooldown" in d.reason for d in ds if d.person_id == 2)
    ds = frames(r, 2.0, 7.0, [face(100, "sad"), face(400, "sad")])
    assert [d.person_id for d in ds if d.action == "greet"] == [2]  # after the cooldown

    r = make()
    r.policy.note_speech(0.0)
    ds = frames(r, 0.0, 1.0, [face(100, "sad")])
    assert any("conversation" in d.reason for d in ds) and not any(d.action == "greet" for d in ds)

    r = make()
    ds = frames(r, 0.0, 2.0, [face(100, "sad", p=0.3)])
    assert not any(d.action == "greet" for d in ds)
    assert any("may look sad" in d.reason or "in view" in d.reason for d in ds)


def test_silent_decisions_are_reported_once_per_change():
    r = make(linger_s=100.0)
    ds = frames(r, 0.0, 5.0, [face(100, "neutral")])
    assert len([d for d in ds if d.action == "silent"]) == 1


def test_intents_from_speech():
    kinds = lambda s: [(i.type, i.target, i.params) for i in intents_from_transcript(s, "person1", 0.0)]  # noqa: E731
    assert kinds("Please stop!") == [("stop", "person1", {})]
    assert kinds("Stop and come here") == [("stop", "person1", {})]  # stop wins
    assert kinds("come here")[0][2]["speed_mps"] == 0.3
    assert kinds("come here as fast as you can")[0][2]["speed_mps"] == 1.5  # the gate refuses it, not us
    assert kinds("Approach at 5 meters per second.")[0][2]["speed_mps"] == 5.0
    assert kinds("come here, set speed_mps to 99")[0][2]["speed_mps"] == 99.0
    assert kinds("come here at 0.2 m/s")[0][2]["speed_mps"] == 0.2
    assert kinds("could you bring me a cup of water, please?") == [("fetch", "cup of water", {})]
    assert kinds("wave at me and look at me") == [("look_at", "person1", {}), ("wave", "person1", {})]
    assert kinds("what a lovely day") == []


def test_transcript_goes_to_the_person_last_addressed():
    r = make()
    frames(r, 0.0, 1.5, [face(100, "sad"), face(400, "happy")])
    from vlm_robot.core.types import Transcript

    out = r.hear(Transcript("stop", 1.6, id="t1"))
    assert out.intents[0].target == "person1" and out.decisions[0].person_id == 1


def test_fillers_and_restarts_do_not_change_what_was_asked():
    # "Uh, where is the, the toilet?" asked for a place called "the the"; "My name is, um, Peter." was no
    # introduction; "Um, can you, can you take me to the kitchen?" must still be a navigate request
    from vlm_robot.core.types import Transcript
    from vlm_robot.reasoning.turns import clean_speech

    assert clean_speech("Uh, where is the, the toilet?") == "where is the toilet?"
    assert clean_speech("My name is, um, Peter.") == "My name is Peter."
    assert clean_speech("Um, can you, can you take me to the kitchen?") == "can you take me to the kitchen?"
    for kept in ("No, no, no!", "Help, help!", "Stop, stop.", "Hmm, let me think.", "Um.", "Bye bye."):
        assert clean_speech(kept) == kept, kept  # said twice on purpose, or nothing but the filler
    assert clean_speech("An umbrella, um, please.") == "An umbrella please."  # "um", not "umbrella"
    r = make()
    frames(r, 0.0, 1.5, [face(100, "neutral")])
    out = r.hear(Transcript("Um, can you, can you take me to the kitchen?", 1.6, id="t1"))
    assert [(i.type, i.target) for i in out.intents] == [("navigate", "kitchen")]


def test_a_head_turn_moves_the_tracks_with_the_image_so_nobody_becomes_new():
    from vlm_robot.core.types import Face, PerceptionResult
    from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig

    tr = PeopleTracker(TrackerConfig(match_distance=1.5, camera_hfov_deg=60.0))
    face = lambda x: Face(box=(x, 200.0, 40.0, 40.0), score=0.9)  # noqa: E731
    tr.follow_head(0.0, 0.0, 640, 480)
    (p,) = tr.update(PerceptionResult(0.0, "camera", 640, 480, (face(100.0),)))
    # the head pans 0.35 rad left towards the person: their face jumps ~190 px right, to near the centre
    tr.follow_head(0.35, 0.0, 640, 480)
    (q,) = tr.update(PerceptionResult(0.2, "camera", 640, 480, (face(290.0),)))
    assert q.id == p.id and tr.next_id == 2
    # without knowing the head turned, the same jump is a new person
    blind = PeopleTracker(TrackerConfig(match_distance=1.5, camera_hfov_deg=60.0, reid_max_distance=0.0))
    (a,) = blind.update(PerceptionResult(0.0, "camera", 640, 480, (face(100.0),)))
    (b,) = blind.update(PerceptionResult(0.2, "camera", 640, 480, (face(290.0),)))
    assert b.id != a.id


def test_a_frame_waits_briefly_for_the_joint_state_of_its_moment():
    import threading

    from vlm_robot.reasoning.policy import ProactivePolicy
    from vlm_robot.reasoning.reasoner import Reasoner
    from vlm_robot.reasoning.tracker import PeopleTracker

    r = Reasoner(PeopleTracker(), ProactivePolicy(), None)
    assert r.head_at(1.0) is None  # no joint states at all: no wait, nothing known
    r.on_head(0.8, 0.0, 0.0)
    threading.Timer(0.01, r.on_head, (1.0, 0.4, 0.1)).start()  # the frame's own joint state comes a bit late
    assert r.head_at(1.0) == (0.4, 0.1)
    r.on_head(1.2, 0.5, 0.0)
    assert r.head_at(1.1) == (0.4, 0.1)  # the last one at or before the frame
    assert r.head_at(5.0, wait_s=0.01) == (0.5, 0.0)  # joint states stopped long ago: no waiting for them
