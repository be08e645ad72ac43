"""bringup.launch.py and `vlm-robot run` start the same executables with the same parameter files."""

import ast
import importlib.util
import re
from pathlib import Path

import pytest

from vlm_robot.graph import NODES, config_dir

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = ROOT / "launch" / "bringup.launch.py"


def launch_nodes() -> list[tuple[str, str, str]]:
    """(name, executable, parameter file) of every Node(...) in the launch file, read from its syntax tree."""
    out = []
    for call in ast.walk(ast.parse(LAUNCH.read_text())):
        if isinstance(call, ast.Call) and getattr(call.func, "id", "") == "Node":
            kw = {k.arg: k.value for k in call.keywords}
            params = [e for e in kw["parameters"].elts if isinstance(e, ast.Call)]
            yaml_file = params[0].args[1].value  # os.path.join(config, "x.yaml")
            out.append((kw["name"].value, kw["executable"].value, yaml_file))
    return out


def test_launch_file_and_run_agree():
    assert launch_nodes() == [(s.name, s.executable, s.params_file) for s in NODES]


def test_every_launch_executable_is_a_console_script():
    setup = (ROOT / "setup.py").read_text()
    names = re.search(r"NODES = \[(.*?)\]", setup, re.S).group(1)
    scripts = set(re.findall(r'"(\w+)"', names))
    for _, exe, _ in launch_nodes():
        assert exe in scripts
        assert importlib.util.find_spec(f"vlm_robot.nodes.{exe}") is not None


def test_every_parameter_file_exists_and_names_its_node():
    import yaml

    for s in NODES:
        doc = yaml.safe_load((config_dir() / s.params_file).read_text())
        assert list(doc) == [s.name] and "ros__parameters" in doc[s.name]


def test_launch_file_runs_where_launch_ros_is_installed():
    if importlib.util.find_spec("launch_ros") is None:
        pytest.skip("launch_ros not installed here (pip rclpy has no launch); agreement checked from the syntax tree")
    spec = importlib.util.spec_from_file_location("bringup", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from launch_ros.actions import Node

    ld = mod.generate_launch_description()
    exes = [e.node_executable for e in ld.entities if isinstance(e, Node)]
    assert exes == [s.executable for s in NODES]
