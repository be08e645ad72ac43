"""The proactive scenario suite: rendered scenes, real perception, the policy with config/reasoning.yaml."""

from vlm_robot.proactive_suite import metrics, run


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
    # known limit, kept visible: without face re-identification a person who left for longer than
    # tracker.forget_after_s is a new person and is greeted again
    assert not by_name["greeted person returns after a long absence"].passed
