"""The grounded VLM's question parser: :func:`parse_question` recognises the question kinds the entity
table can answer (a :class:`Query`); anything else is ``open``."""

from __future__ import annotations

import re
from dataclasses import dataclass

# words in a question -> the expression classes they ask about
MOOD_QUERY: dict[str, frozenset[str]] = {}
for _words, _classes in (
    (("sad", "unhappy", "down", "crying", "sorrowful", "gloomy", "depressed", "miserable", "blue"), {"sad"}),
    (("upset", "distressed", "troubled", "bothered"), {"sad", "angry", "fear", "disgust"}),
    (("happy", "smiling", "smile", "smiles", "glad", "cheerful", "joyful", "pleased", "content"), {"happy"}),
    (("angry", "mad", "annoyed", "furious", "cross", "irritated", "grumpy"), {"angry", "disgust"}),
    (("afraid", "scared", "frightened", "fearful", "worried", "anxious", "nervous"), {"fear"}),
    (("surprised", "shocked", "astonished", "amazed"), {"surprise"}),
    (("disgusted",), {"disgust"}),
    (("neutral", "calm", "relaxed", "expressionless"), {"neutral"}),
):
    for _w in _words:
        MOOD_QUERY[_w] = frozenset(_classes)

PERSON_WORDS = frozenset({
    "person", "people", "persons", "someone", "somebody", "anyone", "anybody", "everyone", "everybody",
    "man", "men", "woman", "women", "human", "humans", "face", "faces", "guy", "guys", "lady", "ladies",
    "visitor", "visitors", "kid", "kids", "child", "children", "boy", "girl", "one", "ones", "individual",
    "individuals", "folks", "user", "users",
})
_NUMBER_WORDS = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
_ORDINALS = {"first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5}



@dataclass(frozen=True)
class Query:
    """What a question asks, as far as the parser recognises it.

    Attributes:
        kind: one of ``count, who, mood, mood_query, why, looking, where, distance, holding, objects,
            thing, changes, person, describe, open``.
        yes_no: the question expects yes or no ("is anyone there?").
        moods: ``mood_query``: the expression classes asked about; ``mood_word`` the word used.
        target: a reference to one person: ``"<person2>"``, ``"side:left"``, ``"mood:sad"``,
            ``"only"`` (a pronoun), or ``""`` for everyone.
        side: ``where``: "who is on the left" asks about this side.
        thing: ``thing``/``count``: the noun phrase asked about ("a cup").
        superlative: ``distance``: ``"closest"`` or ``"farthest"``.
        focus: ``changes``: ``"arrived"``, ``"left"``, ``"dwell"`` or ``""`` (everything that changed).
    """

    kind: str
    yes_no: bool = False
    moods: frozenset[str] = frozenset()
    mood_word: str = ""
    target: str = ""
    side: str = ""
    thing: str = ""
    superlative: str = ""
    focus: str = ""


_PERSON_NUM = re.compile(r"<?\bperson\s*#?\s*(\d+|one|two|three|four|five)\b>?")
_SIDE_REF = re.compile(
    r"\b(?:the\s+)?(?:(?:one|person|man|woman|guy|lady|face|someone|somebody|anyone)\s+)?"
    r"(?:on|at|in|to)\s+the\s+(left|right|middle|centre|center)\b"
    r"|\bthe\s+(left|right|middle|centre|center)(?:most|-most)?\s+(?:one|person|man|woman|guy|lady|face)\b"
)
_ORDINAL_REF = re.compile(r"\bthe\s+(first|second|third|fourth|fifth)\s+(?:one|person|man|woman|guy|lady)\b")
_MOOD_REF = re.compile(r"\bthe\s+(\w+)\s+(?:one|person|man|woman|guy|lady|face)\b")
_PRONOUN = re.compile(r"\b(he|she|him|her|his|hers|they|them|their|this person|that person|the person)\b")
_THING = re.compile(
    r"\b(?:is\s+there|are\s+there|do\s+you\s+see|can\s+you\s+see|could\s+you\s+see|you\s+see|see|spot|notice)\s+"
    r"((?:a|an|any|the|some)\s+)?([a-z][a-z' -]*)$"
)
_HOW_MANY = re.compile(r"\bhow\s+many\s+([a-z]+)")


def _normalise(text: str) -> str:
    t = text.lower().replace("\u2019", "'")
    t = re.sub(r"[^a-z0-9<>#' -]+", " ", t)
    return re.sub(r"\s+", " ", t).strip()


def _side_word(w: str) -> str:
    return "centre" if w in ("middle", "centre", "center") else w


def _reference(t: str) -> str:
    """The single person a question refers to, as a target string (see :class:`Query`), or ""."""
    m = _PERSON_NUM.search(t)
    if m:
        n = m.group(1)
        return f"<person{_NUMBER_WORDS.index(n) if n in _NUMBER_WORDS else int(n)}>"
    m = _SIDE_REF.search(t)
    if m:
        return f"side:{_side_word(m.group(1) or m.group(2))}"
    m = _ORDINAL_REF.search(t)
    if m:
        return f"<person{_ORDINALS[m.group(1)]}>"
    m = _MOOD_REF.search(t)
    if m and m.group(1) in MOOD_QUERY:
        return f"mood:{m.group(1)}"
    if _PRONOUN.search(t) and not re.search(r"\b(anyone|anybody|someone|somebody|everyone|everybody|people)\b", t):
        return "only"
    return ""


def parse_question(text: str) -> Query:
    """Recognise the question kinds the entity table can answer; anything else is ``open``.

    The rules are checked in order: why (about people), holding, changes, describe, looking, a mood word, a general
    mood question, who-is-on-a-side, where, distance, counting, who, objects, a named thing.
    """
    t = _normalise(text)
    words = set(re.findall(r"[a-z]+", t))
    yes_no = bool(re.match(r"^(is|are|does|do|did|has|have|can|could|am)\b", t))
    target = _reference(t)
    if t.startswith("why ") and not re.search(r"\byou\b", t) and (target or words & (PERSON_WORDS | set(MOOD_QUERY))):
        return Query("why", target=target)
    if re.search(r"\b(hold|holds|holding|held|carry|carries|carrying|in (his|her|their|its|the) hands?)\b", t):
        return Query("holding", yes_no, target=target)
    if re.search(r"\b(arrive[sd]?|arriving|came in|come in|just (came|showed)|new(comer)?s?|leave|leaving|gone|"
                 r"chang(e|ed|es|ing)|how long|since when|been (there|here|waiting|around)|"
                 r"(has|have|who|just|anyone|someone|somebody|anybody) (just )?left)\b", t) \
            and not re.search(r"\bleft (side|of|one)\b", t):
        focus = ("arrived" if re.search(r"\b(arriv|came|come|showed|new)", t) else
                 "left" if re.search(r"\b(left|leave|leaving|gone)\b", t) else
                 "dwell" if re.search(r"\b(how long|since when|been)\b", t) else "")
        return Query("changes", yes_no, target=target, focus=focus)
    if re.search(r"\b(describe|what (do|can|did) you (see|notice)|what('s| is) (in front of you|going on|happening|"
                 r"around( you)?|in view)|tell me what you see|what is there|look around|what are you seeing)\b", t):
        return Query("describe")
    if re.search(r"\b(looking|look at|looks at|facing|faces (me|you|the)|watching|eye contact|attention|"
                 r"staring|stares)\b", t):
        return Query("looking", yes_no, target=target)
    mood_hits = [w for w in re.findall(r"[a-z]+", t) if w in MOOD_QUERY]
    if mood_hits and not target.startswith("mood:"):
        return Query("mood_query", yes_no, moods=MOOD_QUERY[mood_hits[0]], mood_word=mood_hits[0], target=target)
    if target.startswith("mood:") and len(mood_hits) >= 2:  # "is the sad one upset?"
        w = next(h for h in mood_hits if h != target[5:])
        return Query("mood_query", yes_no, moods=MOOD_QUERY[w], mood_word=w, target=target)
    if re.search(r"\b(mood|moods|feel|feels|feeling|feelings|emotion|emotions|emotional|expression|expressions)\b", t) \
            or re.search(r"\bhow (does|do|is|are)\b.*\b(look|looks|looking|seem|seems|doing)\b", t) \
            or re.search(r"\bhow (is|are) (everyone|everybody|they|he|she|it going)\b", t):
        return Query("mood", yes_no, target=target)
    m = re.search(r"\bwho('s| is| are)? (standing |sitting |there )?(on|at|in|to) the "
                  r"(left|right|middle|centre|center)\b", t)
    if m:
        return Query("where", yes_no, side=_side_word(m.group(4)))
    if re.search(r"\b(where|which side|position|positions|located|location)\b", t):
        return Query("where", yes_no, target=target)
    m = re.search(r"\b(closest|nearest|farthest|furthest)\b", t)
    if m or re.search(r"\b(how far|distance|how close|far away)\b", t):
        sup = "" if not m else ("closest" if m.group(1) in ("closest", "nearest") else "farthest")
        return Query("distance", yes_no, target=target, superlative=sup)
    m = _HOW_MANY.search(t)
    if m:
        noun = m.group(1)
        if noun in PERSON_WORDS:
            return Query("count")
        return Query("thing", thing=f"any {noun}")
    if re.search(r"^(is|are) (there )?(anyone|anybody|someone|somebody|people|persons?|a person)\b", t) \
            or re.search(r"\b(am i alone|are (you|we) alone|any(body|one) (here|there|around))\b", t):
        return Query("count", yes_no=True)
    if target and re.search(r"\b(tell me about|what about|who is|who's|describe)\b", t):
        return Query("person", target=target)
    if "who" in words:
        return Query("who")
    if re.search(r"\b(objects?|things?|items?|stuff)\b", t) and re.search(r"\b(what|which|any|see|there)\b", t):
        return Query("objects")
    m = _THING.search(t)
    if m:
        article, noun = (m.group(1) or "").strip(), m.group(2).strip()
        head = noun.split()[0] if noun else ""
        if head in PERSON_WORDS or noun in PERSON_WORDS:
            return Query("count", yes_no=True)
        if head in ("me", "us", "you", "it", "this", "that", "anything", "something"):
            return Query("open")
        return Query("thing", yes_no, thing=f"{article} {noun}".strip())
    return Query("open", yes_no, target=target)
