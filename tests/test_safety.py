import math

import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Intent
from vlm_robot.safety.gate import SafetyConfig, SafetyGate

PLACES = ("charging_station", "kitchen", "entrance")
LOOK = {"bearing_rad": 0.2}
COME = {"distance_m": 1.0, "speed_mps": 0.3, "bearing_rad": 0.1, "range_m": 2.0}


def check(it, gate=None, now=0.0):
    return (gate or SafetyGate(places=PLACES)).check(it, now)


def test_allowed_intents_within_bounds_pass():
    assert check(Intent("look_at", "person1", LOOK)).approved
    assert check(Intent("look_at", "person1", {"bearing_rad": -1.2, "elevation_rad": 0.3})).approved
    no_confirm = SafetyGate(SafetyConfig(confirm=()), PLACES)
    assert check(Intent("approach", "person1", COME), no_confirm).approved
    assert check(Intent("navigate", "kitchen"), no_confirm).approved
    assert check(Intent("offer", "person1", object="cup")).approved
    assert check(Intent("fetch", "cup of water")).approved


@pytest.mark.parametrize(
    ("intent", "why"),
    [
        (Intent("fly", "person1"), "not allowed"),
        (Intent("approach", "p", {**COME, "speed_mps": 1.5}), "outside"),
        (Intent("approach", "p", {**COME, "distance_m": 0.1}), "outside"),
        (Intent("approach", "p", {"distance_m": 1.0}), "needs parameter 'speed_mps'"),
        (Intent("approach", "p", {"distance_m": 1.0, "speed_mps": 0.3}), "needs parameter 'range_m'"),
        (Intent("approach", "p", {**COME, "distance_m": math.nan}), "finite"),
        (Intent("approach", "p", {**COME, "distance_m": math.inf}), "finite"),
        (Intent("approach", "p", {**COME, "distance_m": "1"}), "finite"),
        (Intent("approach", "p", {**COME, "distance_m": True}), "finite"),
        (Intent("approach", "p", {**COME, "range_m": 50.0}), "outside"),
        (Intent("wave", "p", {"speed_mps": 9.0}), "not accepted"),
        (Intent("look_at", "x" * 500, LOOK), "characters"),
        (Intent("look_at", "person1"), "needs parameter 'bearing_rad'"),
        (Intent("look_at", "person1", {"bearing_rad": 3.0}), "outside"),
        (Intent("look_at", "person1", {"bearing_rad": math.nan}), "finite"),
        (Intent("navigate", "garage"), "unknown place 'garage'; known places: ['charging_station', 'kitchen'"),
        (Intent("navigate", ""), "needs a target"),
        (Intent("navigate", "kitchen", {"x": 1e9}), "not accepted"),
        (Intent("navigate", "kitchen'; drop table"), "plain name"),
        (Intent("offer", "person1"), "needs an object"),
        (Intent("offer", "", object="cup"), "needs a target"),
        (Intent("offer", "person1", object="<script>"), "plain name"),
        (Intent("wave", "p", object="cup"), "takes no object"),
    ],
)
def test_unsafe_intents_are_rejected_with_reason(intent, why):
    v = check(intent)
    assert not v.approved and any(why in r for r in v.reasons)


def test_rate_limit_per_type_but_stop_is_never_limited():
    g = SafetyGate(SafetyConfig(max_per_window=2, window_s=10.0))
    assert [g.check(Intent("wave", "p"), t).approved for t in (0, 1, 2)] == [True, True, False]
    assert "rate limit" in g.check(Intent("wave", "p"), 3).reasons[0]
    assert g.check(Intent("wave", "p"), 11.5).approved
    assert all(g.check(Intent("stop"), t).approved for t in range(20))


def test_emergency_stop_overrides_everything_but_stop():
    g = SafetyGate(places=PLACES)
    g.set_estop(True)
    for it in (Intent("look_at", "p", LOOK), Intent("navigate", "kitchen"), Intent("approach", "p", COME)):
        v = g.check(it, 0)
        assert not v.approved and not v.pending and "emergency stop" in v.reasons[0]
    assert g.check(Intent("stop"), 0).approved
    g.set_estop(False)
    assert g.check(Intent("look_at", "p", LOOK), 0).approved


def test_stop_is_never_refused_and_carries_nothing_else():
    v = check(Intent("stop", "person1", {"speed_mps": 5.0}, object="knife"))
    assert v.approved and v.intent.params == {} and v.intent.object == "" and "dropped" in v.reasons[0]


def test_config_must_allow_stop_and_be_consistent():
    with pytest.raises(ConfigError, match="stop"):
        SafetyConfig(allowed=("wave",))
    with pytest.raises(ConfigError, match="min <= max"):
        SafetyConfig(bounds={"approach": {"speed_mps": [1.0, 0.1]}})
    with pytest.raises(ConfigError, match="does not allow"):
        SafetyConfig(allowed=("stop",), bounds={"approach": {"speed_mps": [0.0, 0.1]}})
    with pytest.raises(ConfigError, match="vocabulary"):
        SafetyConfig(allowed=("stop", "self_destruct"))
    with pytest.raises(ConfigError, match=r"safety.bounds.look_at must give \[min, max\] for \['bearing_rad'\]"):
        SafetyConfig(allowed=("stop", "look_at"), bounds={})


def test_the_shipped_yaml_builds_and_bounds_every_required_parameter():
    import yaml

    from vlm_robot.graph import config_dir

    cfg = yaml.safe_load((config_dir() / "safety_gate.yaml").read_text())["safety_gate"]["ros__parameters"]["safety"]
    c = SafetyConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in cfg.items()})
    assert set(c.allowed) == {"look_at", "approach", "wave", "fetch", "offer", "navigate", "stop"}
    assert c.bounds["approach"]["speed_mps"][1] <= 0.5


def test_risky_intents_wait_for_a_person_to_say_yes():
    g = SafetyGate(SafetyConfig(confirm=("approach",), confirm_timeout_s=10.0))
    come = Intent("approach", "person1", COME)
    v = g.check(come, 0.0)
    assert not v.approved and v.pending and "confirmation" in v.reasons[0]
    assert g.answer("what is your name", 1.0) is None  # neither yes nor no: still waiting
    assert not g.check(come, 1.5).approved  # one request at a time
    v = g.answer("Yes please.", 2.0)
    assert v.approved and "confirmed by a person" in v.reasons[0] and g.pending is None
    g.check(come, 3.0)
    v = g.answer("no, stay there", 4.0)
    assert not v.approved and "declined" in v.reasons[0]
    g.check(come, 5.0)
    assert g.expire(14.0) is None
    v = g.expire(15.5)
    assert not v.approved and "not confirmed within 10 s" in v.reasons[0]
    assert g.answer("yes", 16.0) is None  # too late: nothing is waiting


def test_confirmation_cannot_override_the_emergency_stop():
    g = SafetyGate()
    g.check(Intent("approach", "p", COME), 0.0)
    g.set_estop(True)
    v = g.answer("yes", 1.0)
    assert not v.approved and "emergency stop" in v.reasons[0]
    with pytest.raises(ConfigError, match="never waits"):
        SafetyConfig(confirm=("stop",))


def test_approach_and_look_at_need_a_target():
    v = check(Intent("approach", "", COME))
    assert not v.approved and "needs a target" in v.reasons[0] and len(v.reasons) == 1
    assert check(Intent("wave", "")).approved


def test_navigate_waits_for_a_yes_and_is_refused_without_places():
    g = SafetyGate(places=PLACES)
    v = g.check(Intent("navigate", "entrance"), 0.0)
    assert v.pending and g.answer("yes", 1.0).approved
    v = SafetyGate().check(Intent("navigate", "kitchen"), 0.0)
    assert not v.approved and "no places are configured" in v.reasons[0]


def test_a_stop_can_cancel_what_waits_for_confirmation():
    g = SafetyGate(places=PLACES)
    assert g.cancel_pending("stop") is None
    g.check(Intent("navigate", "kitchen"), 0.0)
    v = g.cancel_pending("a stop was approved")
    assert not v.approved and v.intent.target == "kitchen" and g.pending is None
    assert g.answer("yes", 1.0) is None
