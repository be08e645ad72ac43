"""Questions and answers about one simulated view, made from its ground truth, and the one scoring rule.

The ground truth is the ``truth`` of a meta line written by :mod:`vlm_robot.sim.vqa_data`. A question is only
asked when the view can answer it (a colour only when exactly one object of that type is visible, a relation
only between two visible table objects the question can name unambiguously, an expression only of a visible
person whose face the perception read as its catalogue label, ...). Answers are short canonical strings;
:func:`score` accepts any phrasing that carries the same content ("It is blue." for "blue", "2" for "two").

    from vlm_robot.sim.vqa_questions import QUESTION_TYPES, questions_for, score
    for q in questions_for(meta):   # every question (every paraphrase) one image can answer
        ...
    score("table", "There is a blue bottle and a red cup.", "a red cup and a blue bottle")   # True
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict

import numpy as np

from vlm_robot.core.errors import InvalidInputError

QUESTION_TYPES: tuple[str, ...] = ("table", "count", "color", "relation", "presence", "closest", "expression",
                                   "looking", "place")
TYPES = ("cup", "bottle", "ball", "box")
PLURAL = {"cup": "cups", "bottle": "bottles", "ball": "balls", "box": "boxes"}
COLORS = ("red", "green", "blue", "yellow", "white")
NUMBERS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten")
EXPRESSION_WORDS = {"angry": "angry", "anger": "angry", "disgust": "disgust", "disgusted": "disgust",
                    "fear": "fear", "afraid": "fear", "scared": "fear", "fearful": "fear", "happy": "happy",
                    "sad": "sad", "surprise": "surprise", "surprised": "surprise", "neutral": "neutral"}
LOOK_WORDS = {"table": "table", "shelf": "shelf", "bookshelf": "shelf", "chair": "chair", "plant": "plant",
              "door": "door", "window": "window", "picture": "picture", "painting": "picture", "wall": "wall",
              "floor": "floor", "ground": "floor", "person": "person", "someone": "person", "somebody": "person",
              "people": "person", "man": "person", "woman": "person"}
LOOK_ANSWER = {"person": "at a person"}  # other targets: "at the <target>"
PLACES = {"kitchen": "kitchen", "charging station": "charging_station", "charger": "charging_station",
          "entrance": "entrance"}
CANT_SEE_TABLE = "I can't see the table"
MIN_GAP_U = 0.04  # left/right only when the centres are this far apart (image widths)
MIN_GAP_M = 0.4  # "closest" only when the nearest person is this much nearer than the next (m)

TEMPLATES: dict[str, tuple[str, ...]] = {
    "table": ("What is on the table?", "What do you see on the table?", "What's on the table?",
              "Which objects are on the table?"),
    "count": ("How many {plural} are there?", "How many {plural} can you see?", "Count the {plural}.",
              "How many {plural} do you see?"),
    "color": ("What colour is the {thing}?", "What color is the {thing}?", "Which colour does the {thing} have?"),
    "relation": ("Where is the {a} relative to the {b}?", "Is the {a} left or right of the {b}?",
                 "Where is the {a} compared to the {b}?"),
    "presence_people": ("Is anyone there?", "Is anybody here?", "Do you see anyone?", "Is there anyone in view?"),
    "presence_object": ("Is there a {thing}?", "Do you see a {thing}?", "Can you see a {thing}?"),
    "closest": ("Who is closest to you?", "Which person is nearest to you?", "Who is the closest person?"),
    "expression": ("How does {who} look?", "How is {who} feeling?", "What is the expression of {who}?",
                   "What mood is {who} in?"),
    "looking": ("What are you looking at?", "What is in front of you?", "Where are you looking?",
                "What is straight ahead of you?"),
    "place": ("Which place is nearest?", "Which named place are you closest to?", "Which place are you nearest to?"),
}


# ---- answers from the ground truth ----------------------------------------------------------------------------------
def _number(n: int) -> str:
    return NUMBERS[n] if 0 <= n < len(NUMBERS) else str(n)


def _phrase(count: int, color: str, kind: str) -> str:
    """``(1, "red", "cup")`` -> "a red cup"; ``(2, ...)`` -> "two red cups"."""
    return f"a {color} {kind}" if count == 1 else f"{_number(count)} {color} {PLURAL[kind]}"


def _join(parts: list[str]) -> str:
    return parts[0] if len(parts) == 1 else ", ".join(parts[:-1]) + " and " + parts[-1]


def table_answer(objects: list[tuple[str, str]]) -> str:
    """The canonical answer listing ``(colour, type)`` pairs, sorted by type then colour; "nothing" if none."""
    if not objects:
        return "nothing"
    c = Counter(objects)
    keys = sorted(c, key=lambda ct: (TYPES.index(ct[1]), COLORS.index(ct[0])))
    return _join([_phrase(c[k], *k) for k in keys])


def _positions(n: int) -> list[str]:
    """Names of ``n`` people sorted left to right."""
    return {1: ["the person"], 2: ["the person on the left", "the person on the right"],
            3: ["the person on the left", "the person in the middle", "the person on the right"]}.get(n, [])


def questions_for(meta: dict, rng: np.random.Generator | None = None) -> list[dict]:
    """Every question ``meta``'s view can answer, in every paraphrase.

    Each item: ``{"type", "key", "question", "answer", "bucket"}``; paraphrases of one question share ``key``;
    ``bucket`` is what :func:`sample_questions` balances within a type. ``rng`` picks which absent object
    the "is there a ...?" question asks about (default: seeded by the meta's room and view).

    Raises:
        InvalidInputError: ``meta`` lacks the ``truth`` written by vlm_robot.sim.vqa_data.
    """
    t = meta.get("truth") if isinstance(meta, dict) else None
    if not isinstance(t, dict) or not {"objects", "people", "looking_at", "table_visible", "nearest_place"} <= set(t):
        raise InvalidInputError("questions_for: expected a meta line of vlm_robot.sim.vqa_data with 'truth' "
                                "(objects, people, looking_at, table_visible, nearest_place); regenerate the "
                                "dataset with `vlm-robot data sim`")
    if rng is None:
        rng = np.random.default_rng([int(meta.get("room", 0)), int(meta.get("view", 0)), 7])
    out: list[dict] = []

    def add(qtype: str, key: str, templates: tuple[str, ...], answer: str, bucket: str, **fmt: str) -> None:
        for tpl in templates:
            out.append({"type": qtype, "key": key, "question": tpl.format(**fmt), "answer": answer, "bucket": bucket})

    vis = [o for o in t["objects"] if o["visible"]]
    # table: what is on it, when enough of it is in view and no table object inside the frame is hidden
    if t["table_visible"] and t.get("table_complete", True):
        on = [(o["color"], o["type"]) for o in vis if o["on"] == "table"]
        add("table", "table", TEMPLATES["table"], table_answer(on), str(len(on)))
    elif not t["table_visible"]:
        add("table", "table", TEMPLATES["table"], CANT_SEE_TABLE, "unseen")
    # count: every object type, and people
    for kind in TYPES:
        n = sum(o["type"] == kind for o in vis)
        add("count", kind, TEMPLATES["count"], _number(n), _number(n), plural=PLURAL[kind])
    people = sorted([p for p in t["people"] if p["visible"]], key=lambda p: p["u"])
    add("count", "people", TEMPLATES["count"], _number(len(people)), _number(len(people)), plural="people")
    # color: a type seen exactly once
    for kind in TYPES:
        same = [o for o in vis if o["type"] == kind]
        if len(same) == 1:
            add("color", kind, TEMPLATES["color"], same[0]["color"], same[0]["color"], thing=kind)
    # relation: two visible table objects of different types, each named unambiguously
    names = {}
    for o in vis:
        if sum(p["type"] == o["type"] for p in vis) == 1:
            names[id(o)] = o["type"]
        elif sum((p["type"], p["color"]) == (o["type"], o["color"]) for p in vis) == 1:
            names[id(o)] = f"{o['color']} {o['type']}"
    table_objs = [o for o in vis if o["on"] == "table" and id(o) in names]
    for a in table_objs:
        for b in table_objs:
            if a is b or a["type"] == b["type"] or abs(a["u"] - b["u"]) < MIN_GAP_U:
                continue
            side = "left" if a["u"] < b["u"] else "right"
            add("relation", f"{names[id(a)]}|{names[id(b)]}", TEMPLATES["relation"], f"{side} of the {names[id(b)]}",
                side, a=names[id(a)], b=names[id(b)])
    # presence: people, and one present and one absent object
    n = len(people)
    ans = "no" if n == 0 else f"yes, {_number(n)} {'person' if n == 1 else 'people'}"
    add("presence", "people", TEMPLATES["presence_people"], ans, ans)
    seen = sorted({(o["color"], o["type"]) for o in vis})
    if seen:
        c, k = seen[int(rng.integers(len(seen)))]
        add("presence", f"{c} {k}", TEMPLATES["presence_object"], "yes", "object yes", thing=f"{c} {k}")
    absent = [(c, k) for k in TYPES for c in COLORS if (c, k) not in seen]
    c, k = absent[int(rng.integers(len(absent)))]
    add("presence", f"{c} {k}", TEMPLATES["presence_object"], "no", "object no", thing=f"{c} {k}")
    # closest: among two or three visible people, when one is clearly nearest; "nobody" when none is in view
    where = _positions(n)
    if n >= 2:
        d = sorted(p["distance"] for p in people)
        if d[1] - d[0] >= MIN_GAP_M:
            i = min(range(n), key=lambda j: people[j]["distance"])
            add("closest", "closest", TEMPLATES["closest"], where[i], where[i].split()[-1])
    elif n == 0:
        add("closest", "closest", TEMPLATES["closest"], "nobody", "nobody")
    # expression: a visible person whose face the perception read as its catalogue label
    for i, p in enumerate(people):
        if p.get("read") == p["expression"] and i < len(where):
            add("expression", where[i], TEMPLATES["expression"], p["expression"], p["expression"], who=where[i])
    # looking
    target = t["looking_at"]
    add("looking", "looking", TEMPLATES["looking"], LOOK_ANSWER.get(target, f"at the {target}"), target)
    # place
    place = t["nearest_place"]
    add("place", "place", TEMPLATES["place"], f"the {place.replace('_', ' ')}", place)
    return out


def sample_questions(metas: list[dict], seed: int = 0, cap_factor: float = 1.5) -> list[dict]:
    """Balanced questions for a split: one paraphrase per question, each type's answer buckets capped.

    Within a type, a bucket (an answer, or for ``table`` the number of objects) keeps at most ``cap_factor``
    times the median bucket size of that type, chosen at random (seeded); the order follows the images.
    Returns ``[{"image", "type", "question", "answer"}]``.
    """
    rng = np.random.default_rng(seed)
    groups: dict[str, dict[str, list]] = defaultdict(lambda: defaultdict(list))
    for i, meta in enumerate(metas):
        by_key: dict[tuple[str, str], list[dict]] = defaultdict(list)
        for q in questions_for(meta):
            by_key[(q["type"], q["key"])].append(q)
        for (qtype, _), paras in by_key.items():
            q = paras[int(rng.integers(len(paras)))]
            groups[qtype][q["bucket"]].append((int(meta.get("i", i)), q))
    chosen = []
    for qtype in QUESTION_TYPES:
        buckets = groups.get(qtype, {})
        if not buckets:
            continue
        cap = max(1, math.ceil(cap_factor * float(np.median([len(v) for v in buckets.values()]))))
        for name in sorted(buckets):
            items = buckets[name]
            if len(items) > cap:
                keep = np.sort(rng.choice(len(items), cap, replace=False))
                items = [items[j] for j in keep]
            chosen.extend(items)
    chosen.sort(key=lambda iq: (iq[0], QUESTION_TYPES.index(iq[1]["type"]), iq[1]["key"]))
    return [{"image": i, "type": q["type"], "question": q["question"], "answer": q["answer"]} for i, q in chosen]


# ---- scoring --------------------------------------------------------------------------------------------------------
def normalize(text: str) -> str:
    """Lower case, "colour" -> "color", contractions of "cannot" and "do not" unified, digits as words,
    punctuation dropped, single spaces."""
    s = str(text).lower().replace("colour", "color").replace("’", "'")
    s = re.sub(r"\bcan ?not\b|\bcan't\b|\bcant\b", "cannot", s)
    s = re.sub(r"\bdon't\b|\bdont\b|\bdo not\b", "do not", s)
    s = re.sub(r"\bno one\b|\bno-one\b|\bnoone\b", "nobody", s)
    s = re.sub(r"\d+", lambda m: _number(int(m.group())), s)
    s = re.sub(r"[^a-z ]+", " ", s)
    return " ".join(s.split())


_COUNT_WORDS = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5}
_SINGULAR = {**{k: k for k in TYPES}, **{v: k for k, v in PLURAL.items()}}


def parse_objects(text: str) -> Counter:
    """``(colour, type)`` -> count of every "[count] colour type" phrase in ``text`` (normalised)."""
    words = normalize(text).split()
    found: Counter = Counter()
    for j, w in enumerate(words):
        if w in _SINGULAR and j > 0 and words[j - 1] in COLORS:
            n = _COUNT_WORDS.get(words[j - 2], 1) if j > 1 else 1
            found[(words[j - 1], _SINGULAR[w])] += n
    return found


def _words(text: str, vocab: dict[str, str]) -> set[str]:
    """The vocabulary's canonical values named in ``text`` (multi-word keys allowed)."""
    s = f" {normalize(text)} "
    return {v for k, v in vocab.items() if f" {k} " in s}


def _count(text: str) -> int | None:
    words = normalize(text).split()
    for w in words:
        if w in NUMBERS:
            return NUMBERS.index(w)
        if w in ("none", "no", "nobody", "nothing"):
            return 0
    return None


def _yes_no(text: str) -> str | None:
    words = set(normalize(text).split())
    yes, no = bool(words & {"yes", "yeah", "yep"}), bool(words & {"no", "nobody", "nope", "not"})
    return "yes" if yes and not no else "no" if no and not yes else None


def score(qtype: str, predicted: str, answer: str) -> bool:
    """Whether ``predicted`` says what the canonical ``answer`` says, for a question of ``qtype``.

    Case, punctuation, "colour"/"color" and number words/digits do not matter; extra words do not matter as
    long as the content is the same and nothing contradicting is named (two colours for one object is wrong).
    ``table`` compares the sets of (colour, type) with their counts; "nothing" and "I can't see the table"
    must be said as such (no objects named).

    Raises:
        InvalidInputError: ``qtype`` is not one of :data:`QUESTION_TYPES`.
    """
    if qtype not in QUESTION_TYPES:
        raise InvalidInputError(f"score: question type {qtype!r} unknown; expected one of {QUESTION_TYPES}")
    p, a = normalize(predicted), normalize(answer)
    if not p:
        return False
    if qtype == "table":
        objs = parse_objects(predicted)
        if a == normalize(CANT_SEE_TABLE):
            return not objs and bool(re.search(r"\b(cannot|do not|not|no) (see|visible|table)\b", p))
        if a == "nothing":
            return not objs and bool(re.search(r"\b(nothing|empty|no objects|no object)\b", p))
        return bool(objs) and objs == parse_objects(answer)
    if qtype == "count":
        return _count(p) is not None and _count(p) == _count(a)
    if qtype == "color":
        return set(w for w in p.split() if w in COLORS) == set(w for w in a.split() if w in COLORS)
    if qtype == "relation":
        sides = {"left", "right"}
        return (set(p.split()) & sides) == (set(a.split()) & sides) != set()
    if qtype == "presence":
        yn = _yes_no(p)
        if yn is None or yn != _yes_no(a):
            return False
        return yn == "no" or _count(a) is None or _count(p) == _count(a)
    if qtype == "closest":
        keys = {"left", "right", "middle", "nobody"}
        got = set(p.split()) & keys | ({"middle"} if "center" in p.split() or "centre" in p.split() else set())
        want = set(a.split()) & keys
        if not want:  # "the person": the only one in view
            return not got and "person" in p.split()
        return got == want
    if qtype == "expression":
        return _words(p, EXPRESSION_WORDS) == _words(a, EXPRESSION_WORDS) != set()
    if qtype == "looking":
        return _words(p, LOOK_WORDS) == _words(a, LOOK_WORDS) != set()
    return _words(p, PLACES) == _words(a, PLACES) != set()
