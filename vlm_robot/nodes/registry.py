"""The robot's nodes, written once: what setup.py installs, what `vlm-robot run` starts, what bringup launches.

* ``setup.py``'s console scripts are :func:`console_scripts` (setup.py loads this file by path: it must
  import nothing but the standard library, and nothing from its own package).
* ``vlm_robot/graph.py`` (``vlm-robot run`` and the tests' graphs) starts :data:`NODES` as processes.
* ``launch/bringup.launch.py`` declares :data:`LAUNCH_ARGS` and loops over :data:`NODES`, one ``Node`` each.

Every node is respawned after :data:`RESPAWN_DELAY_S` when it crashes. Which nodes start: all of them,
except a node with a ``condition`` (the recorder, the viz node), which starts only when that launch argument is
true (``record:=true`` / ``vlm-robot run`` without ``--no-record``; ``viz:=true`` / ``vlm-robot run --viz``).
``speech_in`` and ``microphone`` both always start: each stays idle while its ``source`` parameter is empty (the
default), so typed transcripts (``transcripts:=``) and a microphone (``mic:=``) are chosen by their launch
arguments, not by leaving a node out.
"""

from __future__ import annotations

from dataclasses import dataclass

PACKAGE = "vlm_robot"
RESPAWN_DELAY_S = 1.0


@dataclass(frozen=True)
class LaunchArg:
    """A launch argument of bringup.launch.py (``name:=value``) and the `vlm-robot run` option that matches it."""

    name: str
    default: str
    description: str
    option: str  # argparse dest of the matching `vlm-robot run` option


@dataclass(frozen=True)
class NodeSpec:
    """One node of the bringup.

    Attributes:
        name: ROS node name (also the top key of its parameter file and its log file's name).
        executable: console script (setup.py) and module ``vlm_robot.nodes.<executable>``.
        params_file: parameter file, relative to the package's ``config/``.
        launch_params: ``(ROS parameter, launch argument)`` pairs: the parameter takes the argument's value.
        condition: a boolean launch argument the node needs to start (``""``: it always starts).
    """

    name: str
    executable: str
    params_file: str
    launch_params: tuple[tuple[str, str], ...] = ()
    condition: str = ""

    @property
    def module(self) -> str:
        return f"{PACKAGE}.nodes.{self.executable}"

    @property
    def entry_point(self) -> str:
        """The console_scripts line: ``camera_node = vlm_robot.nodes.camera_node:main``."""
        return f"{self.executable} = {self.module}:main"


LAUNCH_ARGS: tuple[LaunchArg, ...] = (
    LaunchArg("camera_source", "/dev/video0",
              "V4L2 device (/dev/videoN or N), a video file, or a folder of images", "camera"),
    LaunchArg("transcripts", "",
              "speech_in source: 'stdin', a text file of sentences, or '' (idle)", "transcripts"),
    LaunchArg("mic", "",
              "microphone_node source: '' (idle), 'default', a device index or name "
              "(`vlm-robot audio devices`), or a WAV file", "mic"),
    LaunchArg("record", "true", "record every topic to a rosbag2 MCAP folder", "record"),
    LaunchArg("bag", "", "bag folder to write (empty: out/session_<date>_<time>)", "bag"),
    LaunchArg("viz", "false", "show the robot live in a Rerun viewer (viz_node; the [viz] extra; start the viewer "
              "with `vlm-robot view`)", "viz"),
    LaunchArg("viz_url", "rerun+http://127.0.0.1:9876/proxy",
              "the Rerun viewer's gRPC address that viz_node sends to (`vlm-robot view` prints it)", "viz_url"),
)

NODES: tuple[NodeSpec, ...] = (
    NodeSpec("camera", "camera_node", "camera.yaml", launch_params=(("source", "camera_source"),)),
    NodeSpec("perception", "perception_node", "perception.yaml"),
    NodeSpec("vlm", "vlm_node", "vlm.yaml"),
    NodeSpec("reasoning", "reasoning_node", "reasoning.yaml"),
    NodeSpec("safety_gate", "safety_gate_node", "safety_gate.yaml"),
    NodeSpec("speech_out", "speech_out_node", "speech_out.yaml"),
    NodeSpec("speech_in", "speech_in_node", "speech_in.yaml", launch_params=(("source", "transcripts"),)),
    NodeSpec("microphone", "microphone_node", "microphone.yaml", launch_params=(("source", "mic"),)),
    NodeSpec("viz", "viz_node", "viz.yaml", launch_params=(("url", "viz_url"),), condition="viz"),
    NodeSpec("recorder", "recorder_node", "recorder.yaml", launch_params=(("output", "bag"),), condition="record"),
)

# console scripts that are not bringup nodes: the command line, the Gazebo head adapter (sim_gazebo.launch.py), and
# several nodes in one process (`composed_node camera perception ... -p camera:source:=0`, nodes/composed.py)
OTHER_SCRIPTS: tuple[str, ...] = (
    f"vlm-robot = {PACKAGE}.tools.cli:main",
    f"gz_head_adapter = {PACKAGE}.sim.gz_head_adapter:main",
    f"composed_node = {PACKAGE}.nodes.composed:main",
)


def console_scripts() -> list[str]:
    """setup.py's ``console_scripts``: every node of :data:`NODES`, then :data:`OTHER_SCRIPTS`."""
    return [s.entry_point for s in NODES] + list(OTHER_SCRIPTS)


def is_true(value: object) -> bool:
    """A launch argument's truth as ``IfCondition`` reads it: 'true'/'1' true, 'false'/'0' false (any case)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"launch argument value {value!r} is not a boolean (true/false/1/0)")


def selected(values: dict[str, object] | None = None) -> list[tuple[NodeSpec, dict[str, str]]]:
    """The nodes a bringup with these launch argument values starts, each with its launch-argument parameters.

    ``values``: launch argument name -> value (missing ones take their default). A parameter whose value
    is empty is left out (its parameter file's value stands), as the files' defaults for those are empty.
    """
    given = {a.name: a.default for a in LAUNCH_ARGS}
    unknown = set(values or {}) - set(given)
    if unknown:
        raise KeyError(f"unknown launch arguments {sorted(unknown)}; known: {sorted(given)}")
    given.update(values or {})
    out = []
    for spec in NODES:
        if spec.condition and not is_true(given[spec.condition]):
            continue
        params = {param: str(given[arg]) for param, arg in spec.launch_params if str(given[arg]) != ""}
        out.append((spec, params))
    return out
