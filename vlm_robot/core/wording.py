"""Words the robot never says, whatever a language model writes.

A small fixed list, checked on whole words: the reasoning node leaves out a reply's sentences that
contain one, and speech out drops such a clause before synthesis (the reply streams clause by clause,
so the spoken path is checked on its own). Measured need: SmolLM2-135M said "a shitty knife" in a
demo run. This is a last line, not content moderation.
"""

from __future__ import annotations

import re

_BLOCKED = re.compile(
    r"\b(shit|shitty|bullshit|fuck|fucking|fucked|fucker|motherfucker|bitch|bitches|asshole|cunt|bastard"
    r"|dickhead|whore|slut|piss|pissed|wanker|twat|nigger|faggot|retard)\b", re.IGNORECASE)
_SENTENCE = re.compile(r"[^.!?]+[.!?]*\s*")


def unspeakable(text: str) -> bool:
    """True when ``text`` contains a blocked word."""
    return bool(_BLOCKED.search(text))


def without_unspeakable_sentences(text: str) -> str:
    """``text`` without the sentences that contain a blocked word (may be empty)."""
    if not unspeakable(text):
        return text
    return "".join(s for s in _SENTENCE.findall(text) if not unspeakable(s)).strip()
