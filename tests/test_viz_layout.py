"""The Rerun view stays out of the core: no module of core, perception, reasoning, safety, speech or vlm can load
rerun, vlm_robot.viz or ROS, however indirectly (the import graph read from the source, as tests/test_layout.py
reads it). Runs without rerun-sdk installed."""

from __future__ import annotations

from test_layout import PACKAGE, _chain, module_files, reached

CORE = ("core", "perception", "reasoning", "safety", "speech", "vlm")
FORBIDDEN = ("rerun", "rerun_bindings", "vlm_robot.viz", "rclpy", "sensor_msgs", "std_msgs", "builtin_interfaces",
             "vlm_robot_interfaces")


def test_the_core_reaches_neither_rerun_nor_ros():
    modules = module_files()
    core = sorted(m for m in modules if m.split(".")[1:2] and m.split(".")[1] in CORE)
    assert f"{PACKAGE}.reasoning.tracker" in core and len(core) > 30
    # the check sees such a path where there is one: viz_node loads rerun through vlm_robot.viz
    assert "rerun" in reached(f"{PACKAGE}.nodes.viz_node", modules)
    problems = []
    for m in core:
        via = reached(m, modules)
        problems += [f"{m} loads {t}:\n{_chain(t, via)}" for t in sorted(via)
                     if any(t == f or t.startswith(f + ".") for f in FORBIDDEN)]
    assert not problems, "the core must not load Rerun or ROS:\n" + "\n".join(problems[:5])
