"""Which spoken questions are about what the robot sees, so they go to the VLM node, not the chat model.

Fixed patterns, tested in tests/test_visual_questions.py: a question about the scene ("what do you see?",
"who is here?", "does anyone look sad?", "what am I holding?", "what is on the table?", "what colour is the
bottle?") is answered from the camera by the VLM node; anything else goes to the chat model. A miss only
means the chat model answers.
"""

from __future__ import annotations

import re

_VISUAL = re.compile(
    r"\b(what|who|how many|whom|which|is there|are there|is anyone|is anybody|does anyone|does anybody|can you see"
    r"|do you see|describe)\b.*\b(see|seeing|look|looks|looking|here|there|around|room|people|person|anyone|anybody"
    r"|someone|holding|hold|wearing|in front of you|in view|camera|scene|sad|happy|upset|angry|left|right"
    r"|table|shelf|floor|cups?|bottles?|balls?|box|boxes|colou?r)\b"
    r"|\b(can|do) you see\b|\bdescribe (the|what|your)\b|\bwhat('s| is) (in front of you|around you|happening)\b"
    # "Is he angry?" (the chat model guessed): how a person in view looks
    r"|\b(is|does) (he|she|that (man|woman|person|guy|lady|boy|girl)|the (man|woman|person|guy|lady|boy|girl))\b.*"
    r"\b(sad|happy|upset|angry|scared|afraid|surprised|worried|look|looks|feeling)\b",
    re.IGNORECASE,
)
_NOT_VISUAL = re.compile(r"\b(where is the|where can i find|how do i get|see you|look up|look for)\b", re.IGNORECASE)


def is_visual_question(text: str) -> bool:
    """True when ``text`` asks about what the robot sees now."""
    return bool(_VISUAL.search(text)) and not _NOT_VISUAL.search(text)
