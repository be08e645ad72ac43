"""The /speech/transcript contract: the checks every receiver of a transcript makes.

The message is vlm_robot_interfaces/msg/Transcript; ``nodes/messages.py`` turns it into fields. A
transcript with a zero stamp is stamped on arrival and one without an id is numbered, so that
``ros2 topic pub /speech/transcript vlm_robot_interfaces/msg/Transcript "{text: 'hello'}"`` works.
"""

from __future__ import annotations

from typing import Any

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.types import Transcript

MAX_CHARS = 2000


def parse_transcript(fields: dict[str, Any], arrival: float, seq: int, max_chars: int = MAX_CHARS) -> Transcript:
    """Check the fields of one /speech/transcript message and make a :class:`Transcript` of them.

    Raises:
        InvalidInputError: empty or too long.
    """
    stamp = fields.get("stamp")
    t = Transcript(text=str(fields["text"]), stamp=float(stamp) if stamp else arrival,
                   speaker=str(fields.get("speaker") or "unknown"), final=bool(fields.get("final", True)),
                   id=str(fields.get("id") or f"t{seq}"))
    if not t.text.strip():
        raise InvalidInputError("transcript is empty; expected the words a person said")
    if len(t.text) > max_chars:
        raise InvalidInputError(
            f"transcript has {len(t.text)} characters; expected at most {max_chars} "
            "(split long speech into sentences at the speech recogniser)"
        )
    return t
