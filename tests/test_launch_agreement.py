"""bringup.launch.py, `vlm-robot run` and setup.py follow the one node list (vlm_robot/nodes/registry.py).

Without launch_ros (pip rclpy has no launch package) the launch file is run with small stand-ins for
``launch``, ``launch_ros`` and ``ament_index_python`` that record what it builds: its launch arguments,
and per Node its executable, name, parameter file, launch-argument parameters and condition. Those are
compared with the registry and with what `vlm-robot run` starts for the same argument values. Where
launch_ros is installed the real launch description is built as well.
"""

from __future__ import annotations

import ast
import importlib.util
import inspect
import os
import runpy
import sys
import types
from pathlib import Path

import pytest
import yaml

from vlm_robot import graph
from vlm_robot.nodes.registry import LAUNCH_ARGS, NODES, PACKAGE, RESPAWN_DELAY_S, is_true
from vlm_robot.paths import config_dir

ROOT = Path(__file__).resolve().parent.parent
LAUNCH = ROOT / "launch" / "bringup.launch.py"
STUBBED = ("launch", "launch.actions", "launch.conditions", "launch.substitutions", "launch_ros",
           "launch_ros.actions", "ament_index_python", "ament_index_python.packages")


class Recorded:
    """A launch object stand-in: keeps the arguments it was made with."""

    def __init__(self, *args, **kwargs) -> None:
        self.args, self.kwargs = args, kwargs


def _stub_modules(share: Path) -> dict[str, types.ModuleType]:
    kinds: dict[str, type] = {}

    def kind(name: str) -> type:  # any launch class the file imports (Node, IfCondition, ...) records its call
        if name.startswith("__"):
            raise AttributeError(name)
        return kinds.setdefault(name, type(name, (Recorded,), {}))

    mods = {}
    for name in STUBBED:
        m = types.ModuleType(name)
        m.__getattr__ = kind
        mods[name] = m
    mods["ament_index_python.packages"].get_package_share_directory = (
        lambda pkg: str(share) if pkg == PACKAGE else pytest.fail(f"launch file asks for package {pkg!r}"))
    return mods


@pytest.fixture
def stub_launch(monkeypatch):
    """The launch description bringup.launch.py builds, with the source tree standing in for the share folder."""
    for name, mod in _stub_modules(ROOT).items():
        monkeypatch.setitem(sys.modules, name, mod)
    spec = importlib.util.spec_from_file_location("bringup_launch_under_stubs", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    ld = mod.generate_launch_description()
    assert type(ld).__name__ == "LaunchDescription" and len(ld.args) == 1
    return list(ld.args[0])


def _of(entities: list[Recorded], kind: str) -> list[Recorded]:
    return [e for e in entities if type(e).__name__ == kind]


def _value(x: object, values: dict[str, str]) -> str:
    """A parameter value or condition: literal, or LaunchConfiguration(name) read from ``values``."""
    if type(x).__name__ == "LaunchConfiguration":
        return values[x.args[0]]
    assert isinstance(x, str | int | float | bool), f"unexpected launch value {x!r}"
    return str(x)


def launched(entities: list[Recorded], given: dict[str, str] | None = None) -> list[tuple[str, str, dict]]:
    """(executable, parameter file, launch parameters) of the Nodes that start for these argument values."""
    values = {d.args[0]: d.kwargs["default_value"] for d in _of(entities, "DeclareLaunchArgument")}
    values.update(given or {})
    out = []
    for n in _of(entities, "Node"):
        cond = n.kwargs.get("condition")
        if cond is not None:
            assert type(cond).__name__ in ("IfCondition", "UnlessCondition"), cond
            if is_true(_value(cond.args[0], values)) != (type(cond).__name__ == "IfCondition"):
                continue
        file, *rest = n.kwargs["parameters"]
        params = {k: _value(v, values) for d in rest for k, v in d.items()}
        out.append((n.kwargs["executable"], os.path.relpath(file, ROOT / "config"), params))
    return out


def test_launch_file_declares_the_registry_arguments(stub_launch):
    declared = [(d.args[0], d.kwargs["default_value"], d.kwargs["description"])
                for d in _of(stub_launch, "DeclareLaunchArgument")]
    assert declared == [(a.name, a.default, a.description) for a in LAUNCH_ARGS]


def test_launch_file_starts_the_registry_nodes(stub_launch):
    nodes = _of(stub_launch, "Node")
    assert len(stub_launch) == len(LAUNCH_ARGS) + len(NODES)  # nothing else
    got = []
    for n in nodes:
        kw = n.kwargs
        assert (kw["package"], kw["output"], kw["respawn"], kw["respawn_delay"]) == (PACKAGE, "screen", True,
                                                                                     RESPAWN_DELAY_S), kw
        file, *rest = kw["parameters"]
        assert Path(file) == ROOT / "config" / Path(file).name and Path(file).is_file(), file
        assert len(rest) <= 1 and all(type(v).__name__ == "LaunchConfiguration" for d in rest for v in d.values())
        sets = tuple((k, v.args[0]) for d in rest for k, v in d.items())
        cond = kw.get("condition")
        condition = ""
        if cond is not None:
            assert type(cond).__name__ == "IfCondition" and type(cond.args[0]).__name__ == "LaunchConfiguration"
            condition = cond.args[0].args[0]
        got.append((kw["name"], kw["executable"], Path(file).name, sets, condition))
    assert got == [(s.name, s.executable, s.params_file, s.launch_params, s.condition) for s in NODES]


@pytest.mark.parametrize("given", [
    {},
    {"record": "false"},
    {"record": "True", "mic": "default", "transcripts": "stdin", "bag": "/tmp/bag", "camera_source": "2"},
    {"record": "0", "camera_source": "sim/frames", "transcripts": "said.txt"},
])
def test_launch_file_and_run_start_the_same_nodes(stub_launch, given):
    """For the same argument values, `vlm-robot run` (graph.bringup) and the launch file start the same nodes with
    the same parameter files and values (run leaves an empty value out: its parameter file has that empty value)."""
    nodes, overrides = graph.bringup(given)
    run = [(s.executable, s.params_file, overrides.get(s.name, {})) for s in nodes]
    launch = [(exe, file, {k: v for k, v in params.items() if v != ""})
              for exe, file, params in launched(stub_launch, given)]
    assert launch == run


def test_an_empty_launch_value_is_the_parameter_files_value():
    args = {a.name: a for a in LAUNCH_ARGS}
    for s in NODES:
        params = yaml.safe_load((config_dir() / s.params_file).read_text())[s.name]["ros__parameters"]
        for param, arg in s.launch_params:
            assert param in params, f"{s.params_file} has no {param} for launch argument {arg}"
            if args[arg].default == "":
                assert params[param] == "", (s.params_file, param)


def test_registry_is_consistent():
    names = [a.name for a in LAUNCH_ARGS]
    assert len(set(names)) == len(names)
    assert len({s.name for s in NODES}) == len({s.executable for s in NODES}) == len(NODES)
    for s in NODES:
        assert all(arg in names for _, arg in s.launch_params), s
        if s.condition:
            assert s.condition in names
            is_true(next(a.default for a in LAUNCH_ARGS if a.name == s.condition))  # a boolean default


def _setup_kwargs(monkeypatch) -> dict:
    """What setup.py passes to setuptools.setup(), without installing anything."""
    import setuptools

    seen = {}
    monkeypatch.setattr(setuptools, "setup", lambda **kw: seen.update(kw))
    monkeypatch.chdir(ROOT)
    runpy.run_path(str(ROOT / "setup.py"), run_name="__main__")
    return seen


def test_every_node_is_a_console_script_with_a_main(monkeypatch):
    kw = _setup_kwargs(monkeypatch)
    scripts = dict(line.replace(" ", "").split("=") for line in kw["entry_points"]["console_scripts"])
    for s in NODES:
        assert scripts.get(s.executable) == f"{s.module}:main", s.executable
        path = ROOT / Path(*s.module.split(".")).with_suffix(".py")
        tree = ast.parse(path.read_text())
        assert any(isinstance(d, ast.FunctionDef) and d.name == "main" for d in tree.body), f"{path}: no main()"
    assert {"vlm-robot", "gz_head_adapter"} <= set(scripts)
    # the launch file finds the parameter files in the installed share folder
    installed = {f for dest, files in kw["data_files"] if dest == f"share/{PACKAGE}/config" for f in files}
    assert {f"config/{s.params_file}" for s in NODES} <= installed
    assert f"launch/{LAUNCH.name}" in {f for dest, files in kw["data_files"] for f in files}


def test_every_parameter_file_exists_and_names_its_node():
    for s in NODES:
        doc = yaml.safe_load((config_dir() / s.params_file).read_text())
        assert list(doc) == [s.name] and "ros__parameters" in doc[s.name]


def test_run_options_match_the_launch_arguments():
    from vlm_robot.tools.cli import build_parser

    a = build_parser().parse_args(["run"])
    assert a.fn.__name__ == "cmd_run"
    for arg in LAUNCH_ARGS:
        got = getattr(a, arg.option)
        assert (got == is_true(arg.default)) if isinstance(got, bool) else (got == arg.default), arg
    assert inspect.signature(graph.Graph).parameters["respawn_delay"].default == RESPAWN_DELAY_S


def test_launch_file_runs_where_launch_ros_is_installed():
    if importlib.util.find_spec("launch_ros") is None:
        pytest.skip("launch_ros not installed here (pip rclpy has no launch); checked with stand-ins above")
    spec = importlib.util.spec_from_file_location("bringup", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    ld = mod.generate_launch_description()
    assert [e.name for e in ld.entities if isinstance(e, DeclareLaunchArgument)] == [a.name for a in LAUNCH_ARGS]
    exes = [e.node_executable for e in ld.entities if isinstance(e, Node)]
    assert exes == [s.executable for s in NODES]
