"""Which questions the palme model was trained to answer, so it does not make up an answer to the others.

The model only ever saw the nine question types of :mod:`vlm_robot.sim.vqa_questions`; asked anything else
("what is she holding?", "what's the weather?") a small model still answers in one of its trained forms, e.g.
naming objects that are not there. :func:`question_type` recognises the trained types by their words; a
question it does not recognise gets :data:`OUT_OF_SCOPE` (said honestly, no invented objects).

    question_type("How many cups can you see?")  # "count"
    question_type("What is the man holding?")    # None
"""

from __future__ import annotations

import re

OUT_OF_SCOPE = ("I can't tell that from what I see. I can say what is on the table, count things and name their "
                "colours, say who is here and how they look, and what I'm looking at.")
_THINGS = r"(cups?|bottles?|balls?|box(es)?|things?|objects?|people|persons?)"
_OBJECTS = r"(cup|bottle|ball|box)"
_COLOURS = r"((red|green|blue|yellow|white) )?"
# (type, pattern), tried in order: the first match wins
_RULES: tuple[tuple[str, str], ...] = (
    ("looking", r"\b(what|where) (are|r) you looking\b|\bwhat('s| is) (in front of|straight ahead of) you\b"
                r"|\bwhat do you see in front\b"),
    ("place", r"\b(which|what) (named )?place\b|\bwhere are you\b|\bwhere am i\b"),
    ("table", r"\bon the table\b"),
    ("count", rf"\bhow many {_THINGS}\b|\bcount the {_THINGS}\b"),
    ("color", rf"\b(colou?r)\b.*\b{_OBJECTS}\b|\b{_OBJECTS}\b.*\bcolou?r\b"),
    ("relation", rf"\b{_OBJECTS}\b.*\b(relative to|compared to|left or right of|left of|right of)\b.*\b{_OBJECTS}\b"),
    ("closest", r"\b(who|which person) is (the )?(closest|nearest)\b|\bthe (closest|nearest) person\b"),
    ("expression", r"\bhow (does|is) (the|that|this) (person|man|woman)\b.*\b(look|feel|feeling)\b"
                   r"|\bhow does (he|she|the person\b.*) look\b|\b(expression|mood) of\b|\bwhat mood\b"),
    ("presence", rf"\b(is|are) (there )?(any(one|body)|some(one|body))\b|\bdo you see (any(one|body)|some(one|body))\b"
                 rf"|\b(is there|do you see|can you see) an? {_COLOURS}{_OBJECTS}\b|\bis there anyone\b"),
)


_PEOPLE = re.compile(r"\b(people|persons?|person|anyone|anybody|someone|somebody|who|man|woman)\b")
OBJECT_TYPES = ("table", "count", "color", "relation", "presence", "looking", "place")


def about_objects(question: str) -> bool:
    """A trained question about objects, what the robot looks at or where it is (not about people), e.g. what
    the ``grounded`` backend hands to a palme model (``vlm.extra.objects_model``)."""
    return question_type(question) in OBJECT_TYPES and not _PEOPLE.search(question.lower())


def question_type(question: str) -> str | None:
    """The trained question type ``question`` asks (see the module docstring), or None."""
    q = " ".join(re.sub(r"[^a-z' ]+", " ", question.lower()).split())
    for qtype, pattern in _RULES:
        if re.search(pattern, q):
            return qtype
    return None
