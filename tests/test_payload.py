import pytest

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.types import Intent


def test_round_trip_keeps_schema_and_version():
    it = Intent("approach", "person1", {"distance_m": 1.0, "speed_mps": 0.3}, "dialogue", "asked", "i1", 3.0)
    doc = payload.decode("intent", payload.encode("intent", it.to_dict()))
    assert doc["schema"] == "vlm_robot/intent" and doc["version"] == payload.VERSION
    assert Intent.from_dict(doc) == it


def test_publisher_side_validation_refuses_bad_bodies():
    with pytest.raises(InvalidInputError, match="kind"):
        payload.encode("utterance", {"text": "hi", "kind": "shout", "reason": "", "stamp": 0.0})


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"schema": "vlm_robot/intent", "version": 1}'])
def test_consumer_side_validation(text):
    with pytest.raises(InvalidInputError):
        payload.decode("intent", text)
