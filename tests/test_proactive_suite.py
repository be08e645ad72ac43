"""The proactive scenario suite: rendered scenes, real perception, the policy with config/reasoning.yaml."""

from vlm_robot.tools.suites.proactive import metrics, run


def test_proactive_suite_meets_its_targets():
    results = run("sim/suites/proactive.yaml")
    m = metrics(results)
    assert m["scenarios"] >= 15
    assert m["precision"] >= 0.9 and m["recall"] >= 0.8, m
    by_name = {r.name: r for r in results}
    assert by_name["empty room"].greetings == []
    assert any("away" in s for s in by_name["person waits far away"].silences)
    assert any("do-not-disturb" in s for s in by_name["do-not-disturb"].silences)
    assert any("conversation" in s for s in by_name["sad visitor arrives during a conversation"].silences)
    assert by_name["nobody is greeted twice"].passed
    # engagement cues (issue 5): each stays silent, or greets, for its own reason
    assert m["scenarios"] >= 22
    for name in ("two people talk to each other", "friends talk, one says she is lost, both stay",
                 "busy reader glances at the robot", "upset words, then the friend leaves",
                 "reader mutters that she does not understand", "two talk, a third waits for the robot",
                 "weakly sad face is greeted as waiting, not as sad", "words said to the robot: a reply, no greeting"):
        assert by_name[name].passed, (name, by_name[name].greetings, sorted(set(by_name[name].silences)))
    # intention to interact (issue 14): approaching and looking is greeted early (the policy before it greeted these
    # at 4.0 s and 4.2 s), passers-by, a phone and two people looking at each other are left alone, for those reasons
    new = ("approaching and looking is greeted early", "approach from the side, looking, greeted early",
           "approach from detection's edge, greeted early", "passer-by glances at the robot",
           "passer-by looks at the robot all the way", "looking down at a phone, glancing up once",
           "two people look at each other, one nearer", "walks up looking elsewhere")
    for name in new:
        assert by_name[name].passed, (name, by_name[name].greetings, sorted(set(by_name[name].silences)))
    m_new = metrics([by_name[n] for n in new])
    assert m_new["precision"] >= 0.95 and m_new["recall"] >= 0.9, m_new
    assert all(t < 3.0 for r in new[:3] for _, t, _ in by_name[r].greetings)
