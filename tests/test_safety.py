import math

import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Intent
from vlm_robot.reasoning.safety import SafetyConfig, SafetyGate


def check(it, gate=None, now=0.0):
    return (gate or SafetyGate()).check(it, now)


def test_allowed_intents_within_bounds_pass():
    assert check(Intent("look_at", "person1")).approved
    assert check(Intent("approach", "person1", {"distance_m": 1.0, "speed_mps": 0.3})).approved


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
