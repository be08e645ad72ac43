import struct

import pytest

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.transcript import parse_transcript, string_from_cdr


def cdr_string(data: bytes) -> bytes:
    return b"\x00\x01\x00\x00" + struct.pack("<I", len(data) + 1) + data + b"\x00"


def test_cdr_string_round_trip_matches_rclpy_serialisation():
    from rclpy.serialization import serialize_message
    from std_msgs.msg import String

    raw = serialize_message(String(data="héllo robot"))
    assert string_from_cdr(raw) == "héllo robot".encode()
    assert string_from_cdr(cdr_string(b"abc")) == b"abc"


def test_plain_text_and_json_payload():
    t = parse_transcript(b"where is the lab?", 12.5, 3)
    assert (t.text, t.stamp, t.id, t.final) == ("where is the lab?", 12.5, "t3", True)
    body = payload.encode("transcript", {"text": "hi", "stamp": 4.0, "speaker": "ana", "final": True, "id": "x1"})
    t = parse_transcript(body.encode(), 99.0, 1)
    assert (t.text, t.stamp, t.speaker, t.id) == ("hi", 4.0, "ana", "x1")


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", ["empty"]),
        (b"   \n", ["empty"]),
        (b"a" * 100_000, ["100000 characters", "at most 2000"]),
        (b"caf\xc3\x28 \xff", ["not valid UTF-8", "0xc3"]),
        (b'{"schema": "vlm_robot/transcript", "version": 7, "text": "x"}', ["version 7", "reads version 1"]),
        (b'{"schema": "vlm_robot/utterance", "version": 1}', ["expected schema 'vlm_robot/transcript'"]),
    ],
)
def test_bad_transcripts_are_rejected_with_reason(data, words):
    with pytest.raises(InvalidInputError) as e:
        parse_transcript(data, 0.0, 1)
    for w in words:
        assert w in str(e.value)


def test_truncated_cdr_is_rejected():
    with pytest.raises(InvalidInputError, match="length field"):
        string_from_cdr(b"\x00\x01\x00\x00" + struct.pack("<I", 50) + b"abc")
