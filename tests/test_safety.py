import math

import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Intent
from vlm_robot.reasoning.safety import SafetyConfig, SafetyGate


def check(it, gate=None, now=0.0):
    return (gate or SafetyGate()).check(it, now)


def test_allowed_intents_within_bounds_pass():
    assert check(Intent("look_at", "person1")).approved
    no_confirm = SafetyGate(SafetyConfig(confirm=()))
    assert check(Intent("approach", "person1", {"distance_m": 1.0, "speed_mps": 0.3}), no_confirm).approved


@pytest.mark.parametrize(
    ("intent", "why"),
    [
        (Intent("fly", "person1"), "not allowed"),
        (Intent("approach", "p", {"distance_m": 1.0, "speed_mps": 1.5}), "outside"),
        (Intent("approach", "p", {"distance_m": 0.1, "speed_mps": 0.3}), "outside"),
        (Intent("approach", "p", {"distance_m": 1.0}), "needs parameter 'speed_mps'"),
        (Intent("approach", "p", {"distance_m": math.nan, "speed_mps": 0.3}), "finite"),
        (Intent("approach", "p", {"distance_m": math.inf, "speed_mps": 0.3}), "finite"),
        (Intent("approach", "p", {"distance_m": "1", "speed_mps": 0.3}), "finite"),
        (Intent("approach", "p", {"distance_m": True, "speed_mps": 0.3}), "finite"),
        (Intent("wave", "p", {"speed_mps": 9.0}), "not accepted"),
        (Intent("look_at", "x" * 500), "characters"),
    ],
)
def test_unsafe_intents_are_rejected_with_reason(intent, why):
    v = check(intent)
    assert not v.approved and any(why in r for r in v.reasons)


def test_rate_limit_per_type_but_stop_is_never_limited():
    g = SafetyGate(SafetyConfig(max_per_window=2, window_s=10.0))
    assert [g.check(Intent("wave", "p"), t).approved for t in (0, 1, 2)] == [True, True, False]
    assert g.check(Intent("wave", "p"), 11.5).approved
    assert all(g.check(Intent("stop"), t).approved for t in range(20))


def test_emergency_stop_overrides_everything_but_stop():
    g = SafetyGate()
    g.set_estop(True)
    assert not g.check(Intent("look_at", "p"), 0).approved
    assert g.check(Intent("stop"), 0).approved
    g.set_estop(False)
    assert g.check(Intent("look_at", "p"), 0).approved


def test_config_must_allow_stop_and_be_consistent():
    with pytest.raises(ConfigError, match="stop"):
        SafetyConfig(allowed=("wave",))
    with pytest.raises(ConfigError, match="min <= max"):
        SafetyConfig(bounds={"approach": {"speed_mps": [1.0, 0.1]}})
    with pytest.raises(ConfigError, match="does not allow"):
        SafetyConfig(allowed=("stop",), bounds={"approach": {"speed_mps": [0.0, 0.1]}})


def test_risky_intents_wait_for_a_person_to_say_yes():
    g = SafetyGate(SafetyConfig(confirm=("approach",), confirm_timeout_s=10.0))
    come = Intent("approach", "person1", {"distance_m": 1.0, "speed_mps": 0.3})
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
    g.check(Intent("approach", "p", {"distance_m": 1.0, "speed_mps": 0.3}), 0.0)
    g.set_estop(True)
    v = g.answer("yes", 1.0)
    assert not v.approved and "emergency stop" in v.reasons[0]
    with pytest.raises(ConfigError, match="never waits"):
        SafetyConfig(confirm=("stop",))


def test_approach_and_look_at_need_a_target():
    v = check(Intent("approach", "", {"distance_m": 1.0, "speed_mps": 0.3}))
    assert not v.approved and "needs a target" in v.reasons[0]
    assert check(Intent("wave", "")).approved
