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
