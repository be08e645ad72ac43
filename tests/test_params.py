"""Node parameters: YAML values become validated configs; typos are reported, not silently ignored."""

import pytest
from rclpy.parameter import Parameter

from vlm_robot.core.errors import ConfigError
from vlm_robot.nodes import common
from vlm_robot.safety.gate import SafetyConfig


@pytest.fixture()
def make_node():
    import rclpy
    from rclpy.node import Node

    rclpy.init()
    nodes = []

    def make(**overrides):
        params = [Parameter(k, value=v) for k, v in overrides.items()]
        n = Node("param_test", parameter_overrides=params, **common.make_node_kwargs())
        nodes.append(n)
        return n

    yield make
    for n in nodes:
        n.destroy_node()
    rclpy.try_shutdown()


def test_nested_yaml_values_build_the_config(make_node):
    n = make_node(**{"safety.allowed": ["stop", "wave"], "safety.bounds.wave.height_m": [0.5, 1.0],
                     "safety.window_s": 5.0})
    cfg = common.config_from_params(n, SafetyConfig, "safety.")
    assert cfg.allowed == ("stop", "wave") and cfg.window_s == 5.0
    assert cfg.bounds == {"wave": {"height_m": [0.5, 1.0]}}
    assert common.unknown_parameters(n, [("safety.", SafetyConfig)]) == []


def test_typos_are_reported(make_node):
    n = make_node(**{"safety.windw_s": 5.0, "safty.allowed": ["stop"]})
    common.config_from_params(n, SafetyConfig, "safety.")
    assert common.unknown_parameters(n, [("safety.", SafetyConfig)]) == ["safety.windw_s", "safty.allowed"]


def test_out_of_range_values_are_refused_with_the_reason(make_node):
    n = make_node(**{"safety.allowed": ["wave"]})
    with pytest.raises(ConfigError, match="must include 'stop'"):
        common.config_from_params(n, SafetyConfig, "safety.")


def test_parameters_describe_themselves_and_refuse_a_change_that_would_be_ignored(make_node):
    from vlm_robot.reasoning.dialogue import DialogueConfig

    n = make_node(**{"dialogue.verdict_timeout_s": 3.0})
    cfg = common.config_from_params(n, DialogueConfig, "dialogue.")
    assert cfg.verdict_timeout_s == 3.0  # the YAML value survives being declared again with its descriptor
    [desc] = n.describe_parameters(["dialogue.verdict_timeout_s"])
    assert desc.read_only and "safety gate's verdict" in desc.description and "restart" in desc.additional_constraints
    [default] = n.describe_parameters(["dialogue.robot_name"])  # declared from the default, not the YAML
    assert default.read_only and "calls itself" in default.description
    [result] = n.set_parameters([Parameter("dialogue.verdict_timeout_s", value=9.0)])
    assert not result.successful and "read-only" in result.reason
    assert n.get_parameter("dialogue.verdict_timeout_s").value == 3.0
