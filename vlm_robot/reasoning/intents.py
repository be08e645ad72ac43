"""Action intents from what a person asked, by fixed patterns (never from language-model output).

The language model only produces words to say. Requests to move are recognised here, by patterns
a reviewer can read, and every intent still goes through the safety gate, which knows nothing of
where an intent came from.
"""

from __future__ import annotations

import re

from vlm_robot.core.types import Intent

_STOP = re.compile(r"\b(stop|halt|freeze|don'?t move|stay (still|there))\b", re.I)
_APPROACH = re.compile(r"\b(come (here|closer|over)|approach|follow me)\b", re.I)
_FAST = re.compile(r"\b(fast|faster|quick(ly)?|full speed|hurry|run)\b", re.I)
# an explicit speed ("at 5 meters per second", "speed_mps to 99") is passed on as asked, for the gate to judge
_SPEED = re.compile(
    r"(?:(\d+(?:\.\d+)?)\s*(?:m/s|mps|met(?:er|re)s?\s+(?:per|a)\s+second))"
    r"|(?:speed(?:_mps)?\s*(?:to|of|=|:)?\s*(\d+(?:\.\d+)?))", re.I)
_WAVE = re.compile(r"\bwave\b", re.I)
_LOOK = re.compile(r"\blook at me\b", re.I)
_FETCH = re.compile(
    r"\b(?:bring|fetch|get)\s+(?:me\s+)?(?:a|an|the|my|some)?\s*([a-z][a-z ]{1,30}?)(?:[.,!?]|\s+please|$)", re.I)

DEFAULT_APPROACH_SPEED = 0.3  # m/s
FAST_APPROACH_SPEED = 1.5  # m/s: what "fast" asks for; the gate decides whether that is allowed
DEFAULT_APPROACH_DISTANCE = 1.0  # m


def intents_from_transcript(text: str, person: str, stamp: float) -> list[Intent]:
    """Intents a person's words ask for, addressed to ``person`` (``"person3"``; may be empty)."""
    said = text.strip()
    out: list[Intent] = []
    why = f'asked: "{said[:80]}"'
    if _STOP.search(said):
        # stop wins over everything else in the same sentence
        return [Intent("stop", person, {}, "dialogue", why, stamp=stamp)]
    if _APPROACH.search(said):
        explicit = _SPEED.search(said)
        if explicit:
            speed = float(explicit.group(1) or explicit.group(2))
        else:
            speed = FAST_APPROACH_SPEED if _FAST.search(said) else DEFAULT_APPROACH_SPEED
        out.append(Intent("approach", person, {"distance_m": DEFAULT_APPROACH_DISTANCE, "speed_mps": speed},
                          "dialogue", why, stamp=stamp))
    if _LOOK.search(said):
        out.append(Intent("look_at", person, {}, "dialogue", why, stamp=stamp))
    if _WAVE.search(said):
        out.append(Intent("wave", person, {}, "dialogue", why, stamp=stamp))
    m = _FETCH.search(said)
    if m:
        out.append(Intent("fetch", m.group(1).strip().lower(), {}, "dialogue", why, stamp=stamp))
    return out


def greeting_intents(person: str, reason: str, stamp: float) -> list[Intent]:
    """What the robot does when it greets someone: turn its head to them and wave."""
    return [
        Intent("look_at", person, {}, "policy", reason, stamp=stamp),
        Intent("wave", person, {}, "policy", reason, stamp=stamp),
    ]
