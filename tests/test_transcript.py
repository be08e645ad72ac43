import pytest
from rclpy.serialization import serialize_message

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.transcript import parse_transcript
from vlm_robot.nodes import messages
from vlm_robot_interfaces.msg import Transcript


def fields(**kw) -> dict:
    return messages.from_raw("transcript", serialize_message(Transcript(**kw)))


def test_a_bare_text_is_stamped_on_arrival_and_numbered():
    t = parse_transcript(fields(text="where is the lab?"), 12.5, 3)
    assert (t.text, t.stamp, t.id, t.final, t.speaker) == ("where is the lab?", 12.5, "t3", True, "unknown")


def test_a_full_transcript_keeps_its_fields():
    body = {"text": "hi", "stamp": 4.0, "speaker": "ana", "final": True, "id": "x1", "speech_start": 3.0,
            "speech_end": 3.9, "audio_s": 0.9, "asr_ms": 120.0, "model": "tiny.en"}
    got = messages.from_raw("transcript", serialize_message(messages.to_msg("transcript", body)))
    t = parse_transcript(got, 99.0, 1)
    assert (t.text, t.stamp, t.speaker, t.id) == ("hi", 4.0, "ana", "x1")
    assert got["speech_start"] == pytest.approx(3.0) and got["model"] == "tiny.en"


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", ["empty"]),
        ("   \n", ["empty"]),
        ("a" * 5_000, ["5000 characters", "at most 2000"]),
    ],
)
def test_bad_transcripts_are_rejected_with_reason(text, words):
    with pytest.raises(InvalidInputError) as e:
        parse_transcript(fields(text=text), 0.0, 1)
    for w in words:
        assert w in str(e.value)


def test_invalid_utf8_and_truncated_bytes_are_errors_not_crashes():
    good = serialize_message(Transcript(text="héllo robot", id="a"))
    bad_utf8 = good.replace("é".encode(), b"\xc3\x28")
    with pytest.raises(InvalidInputError, match="field text must be UTF-8"):
        messages.from_raw("transcript", bad_utf8)
    with pytest.raises(InvalidInputError, match="vlm_robot_interfaces/Transcript"):
        messages.from_raw("transcript", good[:9])
