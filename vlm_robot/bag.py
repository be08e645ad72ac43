"""rosbag2 recordings (MCAP storage, CDR serialization, Jazzy type hashes) through ``rosbags``.

The bags are what ``ros2 bag record -s mcap`` writes on Jazzy: a folder with ``metadata.yaml``
(version 9) and one ``.mcap`` file, each channel carrying its message definition and RIHS01 hash.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vlm_robot.core.errors import InvalidInputError

INTERFACES = "vlm_robot_interfaces"
_STORE = None
_STORE_LOCK = threading.Lock()


def share_dir(pkg: str) -> Path:
    """A ROS package's share directory: the ament index (ROS from apt), else the venv's prefix (pip wheels,
    and vlm_robot_interfaces as `make setup` installs it)."""
    import sys

    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(pkg))
    except (ImportError, OSError, LookupError, ValueError):
        return Path(sys.prefix) / "share" / pkg


def interface_definitions() -> dict[str, str]:
    """``{"vlm_robot_interfaces/msg/Name": .msg text}`` of every message of our interface package."""
    folder = share_dir(INTERFACES) / "msg"
    if not folder.is_dir():  # a source checkout without the built package: the definitions in the repository
        folder = Path(__file__).resolve().parent.parent / INTERFACES / "msg"
    return {f"{INTERFACES}/msg/{p.stem}": p.read_text(encoding="utf-8") for p in sorted(folder.glob("*.msg"))}


def _typestore():
    """Jazzy's types plus vlm_robot_interfaces, so that bags carry our definitions and RIHS01 hashes."""
    global _STORE
    with _STORE_LOCK:
        if _STORE is None:
            from rosbags.typesys import Stores, get_types_from_msg, get_typestore

            store = get_typestore(Stores.ROS2_JAZZY)
            types: dict = {}
            for name, text in interface_definitions().items():
                types.update(get_types_from_msg(text, name))
            store.register(types)
            _STORE = store
        return _STORE


class BagWriter:
    """Writes raw CDR messages to a new rosbag2 MCAP folder; safe to call from several threads."""

    def __init__(self, path: str | Path) -> None:
        from rosbags.rosbag2 import StoragePlugin, Writer

        self.path = Path(path)
        if self.path.exists():
            raise InvalidInputError(f"bag {self.path} already exists; choose a new output path or remove it")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer = Writer(self.path, version=9, storage_plugin=StoragePlugin.MCAP)
        self._writer.open()
        self._ts = _typestore()
        self._conns: dict[str, object] = {}
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self._closed = False

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` of ROS type ``msgtype`` (``sensor_msgs/msg/Image``)."""
        with self._lock:
            if topic not in self._conns:
                self._conns[topic] = self._writer.add_connection(topic, msgtype, typestore=self._ts)
                self.counts[topic] = 0

    def write(self, topic: str, stamp_ns: int, raw: bytes) -> None:
        with self._lock:
            if self._closed:
                return
            self._writer.write(self._conns[topic], stamp_ns, raw)
            self.counts[topic] += 1

    def close(self) -> None:
        """Finish the MCAP file and write metadata.yaml (a bag is unreadable without this)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._writer.close()


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    stamp_ns: int
    raw: bytes


def read_bag(path: str | Path, topics: list[str] | None = None) -> Iterator[BagMessage]:
    """Messages of a rosbag2 folder (MCAP or sqlite3) in time order, optionally only ``topics``.

    Raises:
        InvalidInputError: the path is not a rosbag2 folder.
    """
    from rosbags.rosbag2 import Reader, ReaderError

    p = Path(path)
    if not (p / "metadata.yaml").is_file():
        raise InvalidInputError(
            f"{p} is not a rosbag2 folder (no metadata.yaml); pass the folder that `vlm-robot demo` or "
            "`ros2 bag record` wrote"
        )
    try:
        with Reader(p) as reader:
            conns = [c for c in reader.connections if topics is None or c.topic in topics]
            for conn, stamp, raw in reader.messages(connections=conns):
                yield BagMessage(conn.topic, conn.msgtype, stamp, bytes(raw))
    except ReaderError as e:
        raise InvalidInputError(f"cannot read bag {p}: {e}") from e


def bag_summary(path: str | Path) -> dict[str, tuple[str, int]]:
    """``{topic: (msgtype, message count)}`` from a bag's metadata."""
    from rosbags.rosbag2 import Reader

    with Reader(Path(path)) as reader:
        return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}


def check_wire_format(path: str | Path) -> None:
    """Refuse a bag recorded before the typed interfaces, saying so (not a crash halfway through a replay).

    Raises:
        InvalidInputError: a topic of ours is recorded as std_msgs/msg/String (the JSON wire format, version 1).
    """
    from vlm_robot.nodes.topics import TOPIC_TYPES

    old = sorted(t for t, (msgtype, _) in bag_summary(path).items()
                 if msgtype == "std_msgs/msg/String" and TOPIC_TYPES.get(t, "").startswith(INTERFACES))
    if old:
        raise InvalidInputError(
            f"{path} was recorded with vlm_robot's old wire format (JSON in std_msgs/String, version 1) on "
            f"{len(old)} topics ({', '.join(old[:3])}...); this build reads and writes {INTERFACES} messages "
            "(version 2). Record the session again with this build (`vlm-robot demo` or `vlm-robot run --record`)")


def deserialize(msg: BagMessage):
    """The message as a rosbags dataclass (for reports and tests; nodes get rclpy messages)."""
    return _typestore().deserialize_cdr(msg.raw, msg.msgtype)
