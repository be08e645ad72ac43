"""The /speech/transcript contract, decoded from raw CDR so that bad bytes cannot crash a node.

/speech/transcript is std_msgs/String. Its data is either a ``vlm_robot/transcript`` JSON payload
(text, stamp, speaker, final, id) or, for convenience with ``ros2 topic pub``, plain text, taken as
a final transcript from an unknown speaker stamped on arrival.
"""

from __future__ import annotations

import struct

from vlm_robot.core import payload
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.types import Transcript

MAX_CHARS = 2000


def string_from_cdr(raw: bytes) -> bytes:
    """The bytes of a serialized std_msgs/String, without decoding them.

    Raises:
        InvalidInputError: the buffer is not a CDR std_msgs/String.
    """
    if len(raw) < 8:
        raise InvalidInputError(f"expected a CDR std_msgs/String (at least 8 bytes), got {len(raw)} bytes")
    little = raw[1] == 1
    (n,) = struct.unpack("<I" if little else ">I", raw[4:8])
    if n == 0 or 8 + n > len(raw):
        raise InvalidInputError(f"std_msgs/String length field says {n} bytes but {len(raw) - 8} arrived")
    return raw[8 : 8 + n - 1]  # drop the terminating NUL


def parse_transcript(data: bytes, arrival: float, seq: int, max_chars: int = MAX_CHARS) -> Transcript:
    """Check and decode the data of one /speech/transcript message.

    Raises:
        InvalidInputError: invalid UTF-8, empty, too long, or a malformed JSON payload.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise InvalidInputError(
            f"transcript is not valid UTF-8 (byte 0x{data[e.start]:02x} at offset {e.start}); "
            "expected UTF-8 text or a vlm_robot/transcript JSON payload"
        ) from e
    if text.lstrip().startswith("{"):
        doc = payload.decode("transcript", text)
        t = Transcript(
            text=doc["text"], stamp=float(doc.get("stamp", arrival)), speaker=doc.get("speaker", "unknown"),
            final=bool(doc.get("final", True)), id=doc.get("id") or f"t{seq}",
        )
    else:
        t = Transcript(text=text, stamp=arrival, id=f"t{seq}")
    if not t.text.strip():
        raise InvalidInputError("transcript is empty; expected the words a person said")
    if len(t.text) > max_chars:
        raise InvalidInputError(
            f"transcript has {len(t.text)} characters; expected at most {max_chars} "
            "(split long speech into sentences at the speech recogniser)"
        )
    return t
