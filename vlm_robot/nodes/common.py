"""What every vlm_robot node shares: topic names, QoS, diagnostics, parameters, and ``main``."""

from __future__ import annotations

import dataclasses
import signal
import sys
import threading
from typing import Any, TypeVar

import rclpy
import rclpy.executors
import rclpy.signals
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

# Topic names, types and QoS: one table, nodes/topics.py (README.md's "Topics" table is checked against it)
from vlm_robot.nodes.topics import (  # noqa: F401 - re-exported: nodes write common.PEOPLE
    APPROVED,
    BY_NAME,
    CANCEL,
    CMD_VEL,
    DECISION,
    DESCRIBE_SERVICE,
    DIAGNOSTICS,
    DND,
    ESTOP,
    GOAL_POSE,
    HEAD_COMMAND,
    IMAGE,
    INTENT,
    JOINT_STATES,
    PARTIAL_TRANSCRIPT,
    PEOPLE,
    PERSON_STATES,
    REPLY_CHUNK,
    SCENE_DESCRIPTION,
    SPEAKING,
    SPEECH_DONE,
    TRANSCRIPT,
    UTTERANCE,
    VERDICT,
    VOICE_ACTIVITY,
    VOICE_STYLE,
    VQA_ACTION,
    VQA_ANSWER,
)

# Latest frame wins: a slow consumer gets the newest image, never a backlog. Subscribers are
# best effort so that any camera driver (sensor-data QoS) matches; our publishers are reliable
# so that a frame is not lost in fragments on the way (config/fastdds.xml does the rest).
IMAGE_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.BEST_EFFORT)
IMAGE_PUB_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE)
IMAGE_RECORD_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
# Robot state streams (/joint_states): best effort matches any driver; the newest value is what counts.
SENSOR_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=10, reliability=ReliabilityPolicy.BEST_EFFORT)
# Nothing said or decided is lost: reliable, with room for bursts.
EVENT_QOS = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=100, reliability=ReliabilityPolicy.RELIABLE)
# Latched state (emergency stop, speaking): a late joiner gets the current value.
STATE_QOS = QoSProfile(
    history=HistoryPolicy.KEEP_LAST, depth=1, reliability=ReliabilityPolicy.RELIABLE,
    durability=DurabilityPolicy.TRANSIENT_LOCAL,
)

def qos_for(topic: str, publisher: bool) -> QoSProfile:
    """The QoS to publish (``publisher=True``) or record/subscribe ``topic`` with (its kind in nodes/topics.py)."""
    kind = BY_NAME[topic].qos if topic in BY_NAME else "event"
    if kind == "image":
        return IMAGE_PUB_QOS if publisher else IMAGE_RECORD_QOS
    if kind == "sensor":
        return EVENT_QOS if publisher else SENSOR_QOS
    return STATE_QOS if kind == "state" else EVENT_QOS


class Diagnostics:
    """Publishes one DiagnosticStatus per problem on /diagnostics and logs it once, clearly."""

    def __init__(self, node: Node) -> None:
        self._node = node
        self._pub = node.create_publisher(DiagnosticArray, DIAGNOSTICS, EVENT_QOS)
        self.errors = 0

    @staticmethod
    def quiet() -> _Quiet:
        """For a second subscriber of a topic whose main consumer reports its bad messages (transcripts)."""
        return _Quiet()

    def error(self, what: str, message: str, **values: Any) -> None:
        self.errors += 1
        self._node.get_logger().error(f"{what}: {message}")
        self._publish(DiagnosticStatus.ERROR, what, message, values)

    def still(self, what: str, message: str, **values: Any) -> None:
        """An ERROR that persists, published again (a monitor that started late sees it) without a new log line."""
        self._publish(DiagnosticStatus.ERROR, what, message, values)

    def warn(self, what: str, message: str, **values: Any) -> None:
        """Something the robot handled on purpose but whoever runs it should know of (words left unanswered)."""
        self._node.get_logger().warning(f"{what}: {message}")
        self._publish(DiagnosticStatus.WARN, what, message, values)

    def ok(self, what: str, message: str, **values: Any) -> None:
        self._publish(DiagnosticStatus.OK, what, message, values)

    def _publish(self, level: bytes, what: str, message: str, values: dict[str, Any]) -> None:
        st = DiagnosticStatus(level=level, name=f"{self._node.get_name()}: {what}", message=message[:1000],
                              hardware_id=self._node.get_fully_qualified_name())
        st.values = [KeyValue(key=k, value=str(v)[:200]) for k, v in values.items()]
        arr = DiagnosticArray(status=[st])
        arr.header.stamp = self._node.get_clock().now().to_msg()
        self._pub.publish(arr)


class _Quiet:
    errors = 0

    def error(self, what: str, message: str, **values: Any) -> None:
        pass


C = TypeVar("C")


def config_from_params(node: Node, cls: type[C], prefix: str = "", **fixed: Any) -> C:
    """Declare a ROS parameter per scalar or list field of dataclass ``cls`` and build it from their values.

    Dict fields are read from every parameter under ``prefix.field.`` (nested YAML keys).
    Raises ConfigError (from the dataclass) when a value is out of range.
    """
    kwargs: dict[str, Any] = {}
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        if f.name in fixed:
            continue
        name = f"{prefix}{f.name}"
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
        if isinstance(default, dict):
            sub = node.get_parameters_by_prefix(name)
            if sub:
                kwargs[f.name] = _unflatten({k: p.value for k, p in sub.items()})
            continue
        if isinstance(default, tuple):
            default = list(default)
        value = param(node, name, default, docs.get(f.name, "") or f"{cls.__name__}.{f.name}")
        kwargs[f.name] = tuple(value) if isinstance(f.default, tuple) else value
    kwargs.update(fixed)
    return cls(**kwargs)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        d = out
        for p in parents:
            d = d.setdefault(p, {})
        d[leaf] = list(value) if isinstance(value, (list, tuple)) or type(value).__name__ == "array" else value
    return out


READ_AT_START = ("read once when the node starts (models are loaded and configs checked then); a change at run "
                 "time would be ignored, so `ros2 param set` is refused: set it in the YAML or with --ros-args -p "
                 "and restart the node")


def field_docs(cls: type) -> dict[str, str]:
    """``{field: description}`` from the ``Attributes:`` section of a dataclass's docstring."""
    import inspect
    import re

    doc = inspect.getdoc(cls) or ""
    if "Attributes:" not in doc:
        return {}
    out: dict[str, str] = {}
    name = None
    for line in doc.split("Attributes:", 1)[1].splitlines():
        m = re.match(r"^    (\w+)(?: \([^)]*\))?: (.*)$", line)
        if m:
            name = m.group(1)
            out[name] = m.group(2).strip()
        elif name and line.startswith("        "):
            out[name] += " " + line.strip()
        elif line.strip() and not line.startswith(" "):
            break
    return out


def param(node: Node, name: str, default: Any, description: str = "") -> Any:
    """Declare ``name`` (read-only, with ``description``) and return its value: the parameter file's or
    the command line's value when given (already declared from the overrides), else ``default``.

    Every parameter of our nodes is read once at start-up, so it is declared read-only: ``ros2 param
    describe`` says what it is and that it is read at start, and ``ros2 param set`` is refused with that
    reason instead of "succeeding" without effect.
    """
    from rcl_interfaces.msg import ParameterDescriptor

    desc = ParameterDescriptor(name=name, description=description or name, read_only=True,
                               additional_constraints=READ_AT_START)
    if node.has_parameter(name):  # declared from the YAML / command line without a descriptor: declare it again
        value = node.get_parameter(name).value
        node.undeclare_parameter(name)
        node.declare_parameter(name, value, desc)
    else:
        node.declare_parameter(name, default, desc)
    return node.get_parameter(name).value


def make_node_kwargs() -> dict[str, Any]:
    """Node options for nested YAML parameters whose keys we cannot know in advance (bounds, greetings)."""
    return {"automatically_declare_parameters_from_overrides": True}


_BUILTIN_PARAMS = {"use_sim_time", "start_type_description_service"}  # declared by rclpy itself


def unknown_parameters(node: Node, configs: list[Any], known: tuple[str, ...] = ()) -> list[str]:
    """Parameters from the YAML or the command line that no config field reads (typos), logged as errors.

    ``configs`` are ``(prefix, dataclass)`` pairs; ``known`` are other names the node reads itself.
    """
    fields = {f"{prefix}{f.name}" for prefix, cls in configs for f in dataclasses.fields(cls)}
    bad = []
    for name in node._parameters:
        if name in _BUILTIN_PARAMS or name in known or name in fields:
            continue
        if any(name.startswith(f + ".") for f in fields):  # inside a dict field (bounds, greetings)
            continue
        bad.append(name)
    if bad:
        node.get_logger().error(
            f"unknown parameter(s) {sorted(bad)} ignored; check the spelling against the node's YAML in config/")
    return bad


CLOSE_BUDGET_S = 10.0  # Graph.stop sends SIGKILL 15 s after SIGINT


def spin_node(node_factory, args: list[str] | None = None) -> int:
    """Create the node, spin it until SIGINT/SIGTERM, then close it (``node.close()``) and shut down."""
    rclpy.init(args=args, signal_handler_options=rclpy.signals.SignalHandlerOptions.NO)
    stop = threading.Event()
    try:
        node = node_factory()
    except Exception as e:  # noqa: BLE001 - a node that cannot start says why and exits non-zero
        print(f"[vlm_robot] could not start: {type(e).__name__}: {e}", file=sys.stderr)
        rclpy.try_shutdown()
        return 2
    # callbacks only convert and queue (work runs on worker threads), so one executor thread is enough;
    # the multi-threaded executor cost a third of the frames in `vlm-robot bench pipeline`
    executor = rclpy.executors.SingleThreadedExecutor()
    executor.add_node(node)

    def _on_signal(signum, _frame):
        stop.set()

    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    try:
        while not stop.is_set() and rclpy.ok():
            executor.spin_once(timeout_sec=0.1)
    finally:
        close = getattr(node, "close", None)
        if close is not None:
            # bounded: the graph (and launch) give a node CLOSE_BUDGET_S + a little before SIGKILL, and a worker
            # still answering (waiting for a verdict or an answer that the stopping graph no longer sends) must not
            # turn a clean stop into a kill
            closer = threading.Thread(target=close, name="close", daemon=True)
            closer.start()
            closer.join(CLOSE_BUDGET_S)
            if closer.is_alive():
                print(f"[vlm_robot] {node.get_name()}: close() did not finish within {CLOSE_BUDGET_S:.0f} s "
                      "(a worker still busy); exiting without it", file=sys.stderr)
        executor.shutdown(timeout_sec=1.0)
        node.destroy_node()
        rclpy.try_shutdown()
    return 0
