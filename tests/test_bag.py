"""rosbag2 MCAP files: written by us, read back by rosbags and by the mcap reader, Jazzy type hashes."""

import json
from pathlib import Path

import numpy as np
import pytest
import yaml

from vlm_robot.bag import BagWriter, bag_summary, deserialize, read_bag
from vlm_robot.core.errors import InvalidInputError


@pytest.fixture()
def bag(tmp_path) -> Path:
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    from vlm_robot.nodes.convert import rgb_to_image

    w = BagWriter(tmp_path / "session")
    w.add_topic("/camera/image_raw", "sensor_msgs/msg/Image")
    w.add_topic("/speech/transcript", "std_msgs/msg/String")
    img = np.random.default_rng(0).integers(0, 255, (48, 64, 3), dtype=np.uint8)
    for i in range(5):
        w.write("/camera/image_raw", 1_000_000_000 + i * 100_000_000,
                serialize_message(rgb_to_image(img, 1.0 + i * 0.1)))
    w.write("/speech/transcript", 1_250_000_000, serialize_message(String(data="hello robot")))
    w.close()
    return tmp_path / "session"


def test_bag_reads_back_with_rosbags_in_time_order(bag):
    msgs = list(read_bag(bag))
    assert [m.topic for m in msgs].count("/camera/image_raw") == 5
    assert [m.stamp_ns for m in msgs] == sorted(m.stamp_ns for m in msgs)
    img = deserialize(msgs[0])
    assert (img.width, img.height, img.encoding) == (64, 48, "rgb8")
    assert bag_summary(bag)["/speech/transcript"] == ("std_msgs/msg/String", 1)


def test_bag_reads_with_the_mcap_reader_and_ros2_decoder(bag):
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory

    (mcap_file,) = bag.glob("*.mcap")
    with mcap_file.open("rb") as f:
        reader = make_reader(f, decoder_factories=[DecoderFactory()])
        summary = reader.get_summary()
        topics = {c.topic for c in summary.channels.values()}
        assert topics == {"/camera/image_raw", "/speech/transcript"}
        assert {s.encoding for s in summary.schemas.values()} == {"ros2msg"}
        texts = [m.data for _, ch, _, m in reader.iter_decoded_messages(topics=["/speech/transcript"])]
    assert texts == ["hello robot"]


def share_dir(pkg: str) -> Path:
    """A ROS package's share directory: the ament index (apt ROS) or the pip wheels' prefix."""
    import sys

    try:
        from ament_index_python.packages import get_package_share_directory

        return Path(get_package_share_directory(pkg))
    except (OSError, LookupError):
        return Path(sys.prefix) / "share" / pkg


def test_metadata_is_rosbag2_version_9_with_jazzy_type_hashes(bag):
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["version"] == 9 and meta["storage_identifier"] == "mcap"
    for entry in meta["topics_with_message_count"]:
        tm = entry["topic_metadata"]
        pkg, _, name = tm["type"].split("/")
        ref = json.loads((share_dir(pkg) / "msg" / f"{name}.json").read_text())
        assert tm["type_description_hash"] == ref["type_hashes"][0]["hash_string"]
        assert tm["serialization_format"] == "cdr"


def test_not_a_bag_and_existing_output_are_refused(tmp_path, bag):
    with pytest.raises(InvalidInputError, match=r"no metadata\.yaml"):
        list(read_bag(tmp_path))
    with pytest.raises(InvalidInputError, match="already exists"):
        BagWriter(bag)


_KILLED_WRITER = """
import sys, time
from rclpy.serialization import serialize_message
from std_msgs.msg import String
from vlm_robot.bag import BagWriter, RecordConfig
w = BagWriter(sys.argv[1], RecordConfig(flush_s=0.05), resume=True)
w.add_topic("/speech/transcript", "std_msgs/msg/String")
for i in range(500):
    w.write("/speech/transcript", 1_000_000_000 + i, serialize_message(String(data=f"sentence {i}")))
time.sleep(0.1)
w.tick()  # flush is due: the 500 are on disk
print("flushed", flush=True)
for i in range(500, 550):  # written but not yet flushed when the process is killed
    w.write("/speech/transcript", 1_000_000_000 + i, serialize_message(String(data=f"sentence {i}")))
time.sleep(120)
"""


def _killed_writer(bag: Path) -> None:
    import subprocess
    import sys

    p = subprocess.Popen([sys.executable, "-c", _KILLED_WRITER, str(bag)], stdout=subprocess.PIPE, text=True)
    try:
        assert p.stdout.readline().strip() == "flushed"
    finally:
        p.kill()  # SIGKILL: no close, no metadata
        p.wait()


def test_a_killed_writer_loses_only_what_was_not_flushed_and_the_bag_is_repaired(tmp_path):
    from vlm_robot.bag import repair_bag

    bag = tmp_path / "session"
    _killed_writer(bag)
    with pytest.raises(InvalidInputError, match=r"interrupted.*vlm-robot bag repair"):
        list(read_bag(bag))
    (report,) = repair_bag(bag)
    assert report["file"] == "session_0.mcap" and 500 <= report["messages"] <= 550
    texts = [deserialize(m).data for m in read_bag(bag)]
    assert texts[:500] == [f"sentence {i}" for i in range(500)]
    assert bag_summary(bag)["/speech/transcript"][1] == len(texts)
    assert repair_bag(bag) == []  # a second repair finds nothing to do


def test_a_restarted_writer_repairs_the_killed_split_and_goes_on_in_the_next(tmp_path):
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    from vlm_robot.bag import split_files

    bag = tmp_path / "session"
    _killed_writer(bag)
    w = BagWriter(bag, resume=True)
    assert w.repaired and w.repaired[0]["messages"] >= 500
    w.add_topic("/speech/transcript", "std_msgs/msg/String")
    w.write("/speech/transcript", 5_000_000_000, serialize_message(String(data="after the restart")))
    w.close()
    assert [p.name for p in split_files(bag)] == ["session_0.mcap", "session_1.mcap"]
    meta = yaml.safe_load((bag / "metadata.yaml").read_text())["rosbag2_bagfile_information"]
    assert meta["relative_file_paths"] == ["session_0.mcap", "session_1.mcap"]
    texts = [deserialize(m).data for m in read_bag(bag)]
    assert texts[0] == "sentence 0" and texts[-1] == "after the restart"


def test_a_long_recording_is_split_and_every_split_is_a_complete_bag_file(tmp_path):
    from rclpy.serialization import serialize_message

    from vlm_robot.bag import RecordConfig, is_complete, split_files
    from vlm_robot.nodes.convert import rgb_to_image

    bag = tmp_path / "session"
    w = BagWriter(bag, RecordConfig(split_mb=0.05, flush_s=1e-6))
    w.add_topic("/camera/image_raw", "sensor_msgs/msg/Image")
    rng = np.random.default_rng(1)
    for i in range(12):  # incompressible frames of 9 kB: a split every ~6
        img = rng.integers(0, 255, (48, 64, 3), dtype=np.uint8)
        w.write("/camera/image_raw", 1_000_000_000 + i, serialize_message(rgb_to_image(img, 1.0 + i)))
    w.close()
    splits = split_files(bag)
    assert len(splits) >= 2 and all(is_complete(p) for p in splits)
    assert [m.stamp_ns for m in read_bag(bag)] == [1_000_000_000 + i for i in range(12)]


def test_jpeg_frames_are_read_back_as_images(tmp_path):
    from rclpy.serialization import serialize_message

    from vlm_robot.bag import IMAGE_TOPIC, JPEG_TOPIC, image_to_jpeg
    from vlm_robot.nodes.convert import rgb_to_image

    yy, xx = np.mgrid[0:96, 0:128]
    img = np.stack([xx * 2, yy * 2, np.full_like(xx, 90)], axis=-1).astype(np.uint8)  # smooth: JPEG keeps it
    raw = serialize_message(rgb_to_image(img, 7.25))
    w = BagWriter(tmp_path / "jpeg")
    w.add_topic(JPEG_TOPIC, "sensor_msgs/msg/CompressedImage")
    w.write(JPEG_TOPIC, 1, image_to_jpeg(raw, 90))
    w.close()
    assert bag_summary(tmp_path / "jpeg")[JPEG_TOPIC][0] == "sensor_msgs/msg/CompressedImage"
    (msg,) = read_bag(tmp_path / "jpeg", [IMAGE_TOPIC])
    back = deserialize(msg)
    assert (msg.topic, back.width, back.height, back.encoding) == (IMAGE_TOPIC, 128, 96, "rgb8")
    assert back.header.stamp.sec == 7 and back.header.stamp.nanosec == 250_000_000
    pixels = np.frombuffer(bytes(back.data), np.uint8).reshape(96, 128, 3).astype(int)
    assert np.abs(pixels - img).mean() < 3  # JPEG at q90 of a smooth image
