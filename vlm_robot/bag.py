"""rosbag2 recordings (MCAP storage, CDR serialization, Jazzy type hashes), written to survive a crash.

A bag is what ``ros2 bag record -s mcap`` writes on Jazzy: a folder with ``metadata.yaml`` (version 9)
and MCAP files (``<name>_0.mcap``, ``<name>_1.mcap``, ... when split), each channel carrying its message
definition and RIHS01 hash. :class:`BagWriter` writes them so that a killed recorder loses at most the
last ``flush_s`` of data:

* every ``flush_s`` the open chunk is compressed (zstd by default) and written to the file, with the
  schemas and channels in the first chunk, so the file holds everything recorded up to then;
* the bag is split by size and time; a finished split is complete (summary, footer, fsync) and
  ``metadata.yaml`` is rewritten after every split, so it always lists the complete splits;
* :func:`repair_bag` (``vlm-robot bag repair``) finishes a split whose writer died: it reads the records
  up to where the file stops and writes them again as a complete MCAP, then rewrites ``metadata.yaml``.
  A recorder that is restarted on the same folder does this itself and goes on in the next split.

:func:`read_bag` refuses a bag with an unfinished split, saying how to repair it, rather than read a part
of it silently. Camera frames recorded as JPEG (``sensor_msgs/CompressedImage`` on
``/camera/image_raw/compressed``) are read back as ``sensor_msgs/Image`` on ``/camera/image_raw``.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from vlm_robot.core.errors import ConfigError, InvalidInputError

INTERFACES = "vlm_robot_interfaces"
IMAGE_TOPIC = "/camera/image_raw"
JPEG_TOPIC = IMAGE_TOPIC + "/compressed"
_MAGIC = b"\x89MCAP0\r\n"
_SPLIT = re.compile(r"_(\d+)\.mcap$")
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


@dataclass
class RecordConfig:
    """How the recorder writes a session (config/recorder.yaml).

    Attributes:
        compression: MCAP chunk compression: zstd (smallest), lz4 (cheapest CPU) or none.
        flush_s: seconds between writes of the open chunk to disk: at most this much is lost when the
            recorder is killed.
        split_mb: start a new split (<bag>_N.mcap) when the current one reaches this size (MB).
        split_s: start a new split after this many seconds (0: no time limit).
        budget_mb: disk budget of the session (MB, all splits); when reached, camera frames are no longer
            recorded (said once in the log and on /diagnostics) and the conversation goes on being
            recorded; 64 MB past it, nothing more is written (0: no budget).
        image_every_n: record 1 camera frame in N (1: every frame).
        image_format: raw (sensor_msgs/Image, byte for byte) or jpeg (sensor_msgs/CompressedImage on
            /camera/image_raw/compressed, read back as images by replay and the tools).
        jpeg_quality: JPEG quality 1-100 when image_format is jpeg.
    """

    compression: str = "zstd"
    flush_s: float = 1.0
    split_mb: float = 512.0
    split_s: float = 600.0
    budget_mb: float = 8192.0
    image_every_n: int = 1
    image_format: str = "raw"
    jpeg_quality: int = 80

    def __post_init__(self) -> None:
        if self.compression not in ("zstd", "lz4", "none"):
            raise ConfigError(f"recorder compression must be zstd, lz4 or none, got {self.compression!r}")
        if self.image_format not in ("raw", "jpeg"):
            raise ConfigError(f"recorder image_format must be raw or jpeg, got {self.image_format!r}")
        if not (self.flush_s > 0 and self.split_mb > 0 and self.split_s >= 0 and self.budget_mb >= 0):
            raise ConfigError("recorder flush_s and split_mb must be > 0, split_s and budget_mb >= 0; got "
                              f"{self.flush_s}, {self.split_mb}, {self.split_s}, {self.budget_mb}")
        if self.image_every_n < 1 or not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"recorder image_every_n must be >= 1 and jpeg_quality 1-100, got "
                              f"{self.image_every_n}, {self.jpeg_quality}")


def split_files(folder: Path) -> list[Path]:
    """The MCAP files of a bag folder in split order (``name_0.mcap``, ``name_1.mcap``, ...; others last)."""
    def key(p: Path) -> tuple[int, str]:
        m = _SPLIT.search(p.name)
        return (int(m.group(1)) if m else 1 << 30, p.name)

    return sorted(folder.glob("*.mcap"), key=key)


def is_complete(path: Path) -> bool:
    """Whether an MCAP file was finished (footer and summary), i.e. its writer was not killed."""
    from mcap.reader import make_reader

    try:
        if path.stat().st_size < 2 * len(_MAGIC) + 20:
            return False
        with path.open("rb") as f:
            f.seek(-len(_MAGIC), os.SEEK_END)
            if f.read() != _MAGIC:
                return False
            f.seek(0)
            return make_reader(f).get_summary() is not None
    except Exception:  # noqa: BLE001 - any failure to read the summary means: not a complete file
        return False


class _Split:
    """One MCAP file being written: schemas and channels first, chunks flushed on demand."""

    def __init__(self, path: Path, compression: str, topics: dict[str, tuple[str, str, str]]) -> None:
        from mcap.writer import CompressionType, Writer

        self.path = path
        self.file = path.open("xb")
        kind = {"zstd": CompressionType.ZSTD, "lz4": CompressionType.LZ4, "none": CompressionType.NONE}
        self.mcap = Writer(self.file, compression=kind[compression])
        self.mcap.start(profile="ros2", library="vlm_robot")
        self.schemas: dict[str, int] = {}
        self.channels: dict[str, int] = {}
        self.started = time.monotonic()
        self.messages = 0
        for topic, spec in topics.items():
            self.add(topic, *spec)
        self.mcap.flush()  # the header is on disk at once

    def add(self, topic: str, msgtype: str, msgdef: str, rihs01: str) -> None:
        if msgtype not in self.schemas:
            self.schemas[msgtype] = self.mcap.register_schema(msgtype, "ros2msg", msgdef.encode())
        self.channels[topic] = self.mcap.register_channel(
            topic, "cdr", self.schemas[msgtype], {"offered_qos_profiles": "", "topic_type_hash": rihs01})

    def write(self, topic: str, stamp_ns: int, raw: bytes) -> None:
        self.mcap.add_message(self.channels[topic], log_time=stamp_ns, publish_time=stamp_ns, data=raw)
        self.messages += 1

    def flush(self) -> None:
        self.mcap.flush()

    @property
    def size(self) -> int:
        return self.file.tell()

    def finish(self) -> None:
        self.mcap.finish()
        self.file.flush()
        os.fsync(self.file.fileno())
        self.file.close()


class BagWriter:
    """Writes raw CDR messages to a rosbag2 MCAP folder that survives the recorder's death; thread-safe.

    Args:
        path: the bag folder. It must not exist, unless ``resume``: then the splits already there stay,
            an unfinished one is repaired (:func:`repair_bag`), and writing goes on in the next split.
        config: compression, flush interval and splits (:class:`RecordConfig`; its image and budget
            fields are the recorder's).
    """

    def __init__(self, path: str | Path, config: RecordConfig | None = None, resume: bool = False) -> None:
        self.path = Path(path)
        self.config = config or RecordConfig()
        self.repaired: list[dict] = []
        existing = split_files(self.path) if self.path.is_dir() else []
        if self.path.exists() and not (resume and self.path.is_dir()):
            raise InvalidInputError(f"bag {self.path} already exists; choose a new output path or remove it")
        if existing:
            self.repaired = repair_bag(self.path)
            existing = split_files(self.path)
        self.path.mkdir(parents=True, exist_ok=True)
        self._index = max((int(m.group(1)) for p in existing if (m := _SPLIT.search(p.name))), default=-1) + 1
        self._bytes_before = sum(p.stat().st_size for p in existing)
        self._ts = _typestore()
        self._topics: dict[str, tuple[str, str, str]] = {}
        self._lock = threading.Lock()
        self.counts: dict[str, int] = {}
        self._split: _Split | None = None
        self._last_flush = time.monotonic()
        self._closed = False

    @property
    def split_path(self) -> Path | None:
        """The MCAP file being written (None before the first message)."""
        return self._split.path if self._split else None

    @property
    def bytes_written(self) -> int:
        """Bytes on disk in this bag folder (the earlier splits and what the open one has flushed)."""
        with self._lock:
            return self._bytes_before + (self._split.size if self._split else 0)

    def add_topic(self, topic: str, msgtype: str) -> None:
        """Declare ``topic`` of ROS type ``msgtype`` (``sensor_msgs/msg/Image``)."""
        with self._lock:
            if topic in self._topics:
                return
            msgdef, _ = self._ts.generate_msgdef(msgtype, ros_version=2)
            self._topics[topic] = (msgtype, msgdef, self._ts.hash_rihs01(msgtype))
            self.counts[topic] = 0
            if self._split is not None:
                self._split.add(topic, *self._topics[topic])

    def write(self, topic: str, stamp_ns: int, raw: bytes) -> None:
        with self._lock:
            if self._closed:
                return
            if self._split is None:
                self._split = _Split(self.path / f"{self.path.name}_{self._index}.mcap", self.config.compression,
                                     self._topics)
            self._split.write(topic, stamp_ns, raw)
            self.counts[topic] += 1
            self._maybe_flush_locked()

    def tick(self) -> None:
        """Flush and split when due; call it every second or so (the recorder's timer) so that a quiet
        session is on disk too."""
        with self._lock:
            if not self._closed:
                self._maybe_flush_locked()

    def _maybe_flush_locked(self) -> None:
        now = time.monotonic()
        if self._split is None or now - self._last_flush < self.config.flush_s:
            return
        self._split.flush()
        self._last_flush = now
        cfg = self.config
        if (self._split.size >= cfg.split_mb * 1e6
                or (cfg.split_s > 0 and now - self._split.started >= cfg.split_s)):
            self._finish_split_locked()

    def _finish_split_locked(self) -> None:
        if self._split is None:
            return
        self._split.finish()
        self._bytes_before += self._split.path.stat().st_size
        self._split = None
        self._index += 1
        write_metadata(self.path)

    def close(self) -> None:
        """Finish the open split and write metadata.yaml."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._finish_split_locked()
                if not (self.path / "metadata.yaml").exists():
                    write_metadata(self.path)


def _summary(path: Path):
    from mcap.reader import make_reader

    with path.open("rb") as f:
        return make_reader(f).get_summary()


def write_metadata(folder: Path) -> dict:
    """Write ``metadata.yaml`` (rosbag2 version 9) from the complete splits' MCAP summaries; return it."""
    import yaml

    files, topics, counts = [], {}, {}
    start_all, end_all = None, None
    for path in split_files(folder):
        if not is_complete(path):
            continue
        s = _summary(path)
        st = s.statistics
        n = st.message_count if st else 0
        start, end = (st.message_start_time, st.message_end_time) if st and n else (0, 0)
        files.append({"path": path.name, "starting_time": {"nanoseconds_since_epoch": start},
                      "duration": {"nanoseconds": max(0, end - start)}, "message_count": n})
        if n:
            start_all = start if start_all is None else min(start_all, start)
            end_all = end if end_all is None else max(end_all, end)
        for cid, ch in s.channels.items():
            schema = s.schemas.get(ch.schema_id)
            topics.setdefault(ch.topic, (schema.name if schema else "", ch.metadata.get("topic_type_hash", "")))
            counts[ch.topic] = counts.get(ch.topic, 0) + (st.channel_message_counts.get(cid, 0) if st else 0)
    info = {
        "version": 9,
        "storage_identifier": "mcap",
        "relative_file_paths": [f["path"] for f in files],
        "duration": {"nanoseconds": max(0, (end_all or 0) - (start_all or 0))},
        "starting_time": {"nanoseconds_since_epoch": start_all or 0},
        "message_count": sum(f["message_count"] for f in files),
        "topics_with_message_count": [
            {"topic_metadata": {"name": t, "type": msgtype, "serialization_format": "cdr",
                                "offered_qos_profiles": [], "type_description_hash": rihs01},
             "message_count": counts[t]}
            for t, (msgtype, rihs01) in topics.items()],
        "compression_format": "",
        "compression_mode": "",
        "files": files,
        "custom_data": None,
        "ros_distro": "jazzy",
    }
    tmp = folder / "metadata.yaml.tmp"
    tmp.write_text(yaml.safe_dump({"rosbag2_bagfile_information": info}, sort_keys=False), encoding="utf-8")
    tmp.replace(folder / "metadata.yaml")
    return info


def _salvage(path: Path) -> tuple[list, int]:
    """The schema, channel and message records of a possibly truncated MCAP up to where it stops being
    readable, and how many bytes after that were lost."""
    from mcap.records import Channel, Message, Schema
    from mcap.stream_reader import StreamReader

    records = []
    good_end = 0
    with path.open("rb") as f:
        reader = StreamReader(f, record_size_limit=1 << 31)
        try:
            for rec in reader.records:
                if isinstance(rec, (Schema, Channel, Message)):
                    records.append(rec)
                # the stream's position is after a whole record (a chunk yields its records after reading it)
                good_end = f.tell()
        except Exception:  # noqa: BLE001 - the truncated tail: stop at the last whole record
            pass
        size = f.seek(0, os.SEEK_END)
    return records, max(0, size - good_end)


def repair_bag(folder: str | Path) -> list[dict]:
    """Finish every split of ``folder`` whose writer died (a killed recorder) and rewrite metadata.yaml.

    Each unfinished split is read up to its last whole record and written again as a complete MCAP with
    the same schemas, channels and messages (the original is replaced only once the new file is whole).
    Returns one ``{"file", "messages", "bytes_lost"}`` per repaired split (empty when nothing needed it).

    Raises:
        InvalidInputError: ``folder`` has no MCAP files.
    """
    from mcap.records import Channel, Message, Schema
    from mcap.writer import Writer

    folder = Path(folder)
    splits = split_files(folder) if folder.is_dir() else []
    if not splits:
        raise InvalidInputError(f"{folder} has no .mcap files; pass the folder that `vlm-robot run --record` "
                                "or `ros2 bag record -s mcap` wrote")
    report = []
    for path in splits:
        if is_complete(path):
            continue
        records, lost = _salvage(path)
        messages = [r for r in records if isinstance(r, Message)]
        if not messages:  # killed before its first flush: nothing to keep
            path.unlink()
            report.append({"file": path.name, "messages": 0, "bytes_lost": lost, "removed": True})
            continue
        tmp = path.with_suffix(".mcap.repair")
        with tmp.open("wb") as f:
            w = Writer(f)
            w.start(profile="ros2", library="vlm_robot repair")
            schema_ids: dict[int, int] = {}
            channel_ids: dict[int, int] = {}
            for rec in records:
                if isinstance(rec, Schema):
                    schema_ids[rec.id] = w.register_schema(rec.name, rec.encoding, rec.data)
                elif isinstance(rec, Channel):
                    channel_ids[rec.id] = w.register_channel(rec.topic, rec.message_encoding,
                                                             schema_ids.get(rec.schema_id, 0), rec.metadata)
                elif rec.channel_id in channel_ids:
                    w.add_message(channel_ids[rec.channel_id], rec.log_time, rec.data, rec.publish_time,
                                  rec.sequence)
            w.finish()
            f.flush()
            os.fsync(f.fileno())
        tmp.replace(path)
        report.append({"file": path.name, "messages": len(messages), "bytes_lost": lost, "removed": False})
    write_metadata(folder)
    return report


@dataclass(frozen=True)
class BagMessage:
    topic: str
    msgtype: str
    stamp_ns: int
    raw: bytes


def _check_finished(p: Path) -> None:
    unfinished = [f.name for f in split_files(p) if not is_complete(f)]
    if unfinished:
        raise InvalidInputError(
            f"bag {p} was interrupted: {', '.join(unfinished)} not finished (the recorder was killed, or is still "
            f"recording); run `vlm-robot bag repair {p}` to recover what it holds")


def read_bag(path: str | Path, topics: list[str] | None = None) -> Iterator[BagMessage]:
    """Messages of a rosbag2 folder (MCAP or sqlite3) in time order, optionally only ``topics``.

    JPEG camera frames (:data:`JPEG_TOPIC`) come back as ``sensor_msgs/msg/Image`` on :data:`IMAGE_TOPIC`.

    Raises:
        InvalidInputError: the path is not a rosbag2 folder, or one of its splits is unfinished.
    """
    from rosbags.rosbag2 import Reader, ReaderError

    p = Path(path)
    if not (p / "metadata.yaml").is_file():
        if p.is_dir() and split_files(p):
            _check_finished(p)
        raise InvalidInputError(
            f"{p} is not a rosbag2 folder (no metadata.yaml); pass the folder that `vlm-robot demo` or "
            "`ros2 bag record` wrote")
    _check_finished(p)
    wanted = None if topics is None else set(topics) | ({JPEG_TOPIC} if IMAGE_TOPIC in topics else set())
    try:
        with Reader(p) as reader:
            conns = [c for c in reader.connections if wanted is None or c.topic in wanted]
            for conn, stamp, raw in reader.messages(connections=conns):
                if conn.topic == JPEG_TOPIC and conn.msgtype == "sensor_msgs/msg/CompressedImage":
                    yield BagMessage(IMAGE_TOPIC, "sensor_msgs/msg/Image", stamp, _jpeg_to_image(bytes(raw)))
                else:
                    yield BagMessage(conn.topic, conn.msgtype, stamp, bytes(raw))
    except ReaderError as e:
        raise InvalidInputError(f"cannot read bag {p}: {e}") from e


def image_to_jpeg(raw_image: bytes, quality: int) -> bytes:
    """A ``sensor_msgs/Image`` (CDR) as a ``sensor_msgs/CompressedImage`` (CDR) holding a JPEG, same header."""
    import cv2

    from vlm_robot.core.image import image_to_rgb

    store = _typestore()
    img = store.deserialize_cdr(raw_image, "sensor_msgs/msg/Image")
    rgb = image_to_rgb(img.height, img.width, img.encoding, img.step, bytes(img.data))
    ok, buf = cv2.imencode(".jpg", rgb[:, :, ::-1], [cv2.IMWRITE_JPEG_QUALITY, int(quality)])
    if not ok:
        raise InvalidInputError(f"JPEG encoding of a {img.width}x{img.height} {img.encoding} image failed")
    cls = store.types["sensor_msgs/msg/CompressedImage"]
    msg = cls(header=img.header, format=f"{img.encoding}; jpeg compressed bgr8", data=buf.reshape(-1))
    return bytes(store.serialize_cdr(msg, "sensor_msgs/msg/CompressedImage"))


def _jpeg_to_image(raw_compressed: bytes) -> bytes:
    import cv2
    import numpy as np

    store = _typestore()
    c = store.deserialize_cdr(raw_compressed, "sensor_msgs/msg/CompressedImage")
    bgr = cv2.imdecode(np.asarray(c.data, dtype=np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise InvalidInputError(f"a recorded frame on {JPEG_TOPIC} is not a readable JPEG ({len(c.data)} bytes)")
    rgb = np.ascontiguousarray(bgr[:, :, ::-1])
    h, w = rgb.shape[:2]
    cls = store.types["sensor_msgs/msg/Image"]
    msg = cls(header=c.header, height=h, width=w, encoding="rgb8", is_bigendian=0, step=w * 3,
              data=rgb.reshape(-1))
    return bytes(store.serialize_cdr(msg, "sensor_msgs/msg/Image"))


def bag_summary(path: str | Path) -> dict[str, tuple[str, int]]:
    """``{topic: (msgtype, message count)}`` from a bag's metadata."""
    from rosbags.rosbag2 import Reader, ReaderError

    p = Path(path)
    _check_finished(p)
    try:
        with Reader(p) as reader:
            return {c.topic: (c.msgtype, c.msgcount) for c in reader.connections}
    except ReaderError as e:
        raise InvalidInputError(f"cannot read bag {p}: {e}; pass the folder that `vlm-robot run --record` or "
                                "`ros2 bag record` wrote") from e


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
