"""Scenario files: parsing (with clear errors), people's timelines, and scoring a run's log."""

import math

import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.sim.cli import scenario_dir, select
from vlm_robot.sim.scenario import FrameRecord, Scenario, SimLog, evaluate


def doc(**kw):
    base = {"name": "t", "duration_s": 10, "fps": 5,
            "people": [{"name": "ann", "face": "astronaut", "start": {"x": 2.0, "y": 0.0, "present": False},
                        "timeline": [{"at": 1.0, "appear": True}, {"at": 2.0, "walk_to": [2.0, 1.6], "speed": 0.8},
                                     {"at": 6.0, "look": "away"}, {"at": 7.0, "look": 30},
                                     {"at": 8.0, "face": "lfw:6"}, {"at": 9.0, "leave": True}]}],
            "expect": []}
    base.update(kw)
    return base


def test_every_shipped_scenario_parses_and_ten_or_more_exist():
    scenarios = select("", True, False)
    assert len(scenarios) >= 10
    assert any(s.fast for s in scenarios)
    assert all(s.expect for s in scenarios), "each scenario asserts what the robot said and did"
    assert len({s.name for s in scenarios}) == len(scenarios)
    assert scenario_dir().is_dir()


def test_timeline_walks_turns_and_changes_face():
    sc = Scenario.from_dict(doc())
    p = sc.people[0]
    robot = (0.0, 0.0)
    assert not sc.person_at(p, 0.5, robot).present
    a = sc.person_at(p, 1.5, robot)
    assert a.present and (a.x, a.y) == (2.0, 0.0) and a.yaw == pytest.approx(math.pi)  # faces the robot
    mid = sc.person_at(p, 3.0, robot)  # 1 s of walking at 0.8 m/s
    assert mid.y == pytest.approx(0.8) and mid.x == pytest.approx(2.0)
    end = sc.person_at(p, 5.0, robot)
    assert end.y == pytest.approx(1.6)  # arrived and stays
    away = sc.person_at(p, 6.5, robot)
    assert math.cos(away.yaw - math.atan2(-end.y, -end.x)) == pytest.approx(-1.0)  # back to the robot
    turned = sc.person_at(p, 7.5, robot)
    assert math.degrees(turned.yaw - math.atan2(-end.y, -end.x)) == pytest.approx(30.0)
    assert sc.person_at(p, 8.5, robot).face == "lfw:6" and not sc.person_at(p, 9.5, robot).present
    assert sc.faces() == ["astronaut", "lfw:6"]
    assert len(sc.frame_times()) == 50 and sc.frame_times()[1] == pytest.approx(0.2)


@pytest.mark.parametrize("bad, words", [
    ({"people": [{"name": "a", "face": "x", "timeline": [{"at": 1, "dance": True}]}]}, "unknown action"),
    ({"people": [{"name": "a", "face": "x", "timeline": [{"at": 1, "appear": True, "leave": True}]}]}, "one action"),
    ({"say": [{"at": 1, "speaker": "bob", "text": "hi"}]}, "not one of the people"),
    ({"expect": [{"said": "song"}]}, "said kind"),
    ({"expect": [{"said": "reply", "within": [5, 1]}]}, "within"),
    ({"expect": [{"looks_at": "bob"}]}, "not one of the people"),
    ({"expect": [{"wiggle": 1}]}, "exactly one of"),
    ({"fps": 100}, "fps"),
    ({"speech": "telepathy"}, "speech must be"),
    ({"duration_s": "long"}, "ValueError"),
])
def test_malformed_scenarios_say_what_is_wrong(bad, words):
    with pytest.raises(ConfigError, match=words):
        Scenario.from_dict(doc(**bad))


def test_unknown_scenario_name_lists_the_known_ones():
    with pytest.raises(ConfigError, match="greet_sad_visitor"):
        select("no_such_scenario", False, False)


def _log():
    log = SimLog(tracked={1: "ann"})
    log.events += [
        (2.0, "utterance", {"text": "Hi, you look sad.", "kind": "greeting", "person_id": 1, "id": "u1"}),
        (2.0, "verdict", {"intent": {"type": "look_at", "target": "person1", "id": "i1"}, "approved": True}),
        (4.0, "verdict", {"intent": {"type": "approach", "target": "person1", "id": "i2"}, "approved": False,
                          "pending": True}),
        (4.0, "decision", {"action": "reply", "reason": "replying to x", "person_id": 1}),
        (4.0, "heard", {"text": "Please come here.", "speaker": "person1", "scenario_speaker": "ann"}),
    ]
    for i in range(50):
        t = i / 5
        pan = min(0.35, 0.1 * max(0.0, t - 2.0))
        log.frames.append(FrameRecord(t, (0.1 * max(0.0, t - 6.0), 0.0, 0.0), (pan, 0.0),
                                      {"ann": 0.35 - pan}, {"ann": 2.0 - 0.1 * max(0.0, t - 6.0)}))
    return log


@pytest.mark.parametrize("assertion, passes", [
    ({"said": "greeting", "to": "ann", "within": [1, 3]}, True),
    ({"said": "greeting", "within": [3, 9]}, False),
    ({"said": "greeting", "contains": ["sad"]}, True),
    ({"said": "greeting", "contains": ["happy"]}, False),
    ({"said": "greeting", "times": 2}, False),
    ({"not_said": "reply"}, True),
    ({"not_said": "any", "within": [1, 3]}, False),
    ({"intent": "look_at", "to": "ann", "within": [1, 3]}, True),
    ({"intent": "approach"}, False),
    ({"intent": "approach", "verdict": "pending"}, True),
    ({"not_intent": "approach"}, True),
    ({"heard": "ann", "contains": ["come", "here"], "within": [3, 5]}, True),
    ({"heard": "ann", "contains": ["kitchen"]}, False),
    ({"decision": "reply", "reason_contains": "replying"}, True),
    ({"looks_at": "ann", "tolerance_deg": 1, "within": [0, 3]}, False),
    ({"looks_at": "ann", "tolerance_deg": 1, "within": [5, 10]}, True),
    ({"near": "ann", "distance_m": 1.7, "by": 9}, True),
    ({"near": "ann", "distance_m": 1.7, "by": 8}, False),
    ({"reaches": [0.3, 0.0], "distance_m": 0.05}, True),
    ({"base_still": True, "within": [0, 6]}, True),
    ({"base_still": True}, False),
])
def test_assertions_score_a_log(assertion, passes):
    sc = Scenario.from_dict(doc(expect=[assertion]))
    (check,) = evaluate(sc, _log())
    assert check.passed is passes, check
    assert check.expected and check.observed
