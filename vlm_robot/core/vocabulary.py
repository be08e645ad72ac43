"""The action-intent vocabulary: what each intent type means, whom it concerns and which parameters it takes.

One table, used by every producer of intents (the pattern parser, the grammar-constrained model call,
the policy) and by the safety gate, which checks the structure here and the numbers against its own
bounds (config/safety_gate.yaml). Units are SI; angles follow REP-103 (radians, positive to the left
and up, seen from the robot).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from vlm_robot.core.types import INTENT_TYPES, Intent


@dataclass(frozen=True)
class ParamSpec:
    """One numeric parameter of an intent type.

    Attributes:
        name: key in ``Intent.params``.
        meaning: what it says, with its unit.
        required: the intent is refused without it.
        default: the value used when an optional parameter is left out.
    """

    name: str
    meaning: str
    required: bool = True
    default: float | None = None


@dataclass(frozen=True)
class IntentSpec:
    """One intent type of the vocabulary.

    Attributes:
        type: the name (``Intent.type``).
        target: what ``Intent.target`` names: ``"person"``, ``"place"``, ``"thing"`` or ``""`` (nothing).
        target_required: refused without a target.
        needs_object: ``Intent.object`` (the thing handed over) is required.
        params: numeric parameters; any other key is refused.
        phrase: how the robot says it when it asks for confirmation (``{target}``, ``{object}``).
        moves_base: drives the robot's base (stopped by ``stop`` and the emergency stop).
    """

    type: str
    target: str
    target_required: bool
    needs_object: bool
    params: tuple[ParamSpec, ...]
    phrase: str
    moves_base: bool = False

    def param(self, name: str) -> ParamSpec | None:
        return next((p for p in self.params if p.name == name), None)


_BEARING = ParamSpec("bearing_rad", "horizontal angle to the person from the robot's forward axis, rad, + left")
_ELEVATION = ParamSpec("elevation_rad", "vertical angle to the person's face, rad, + up", required=False, default=0.0)

VOCABULARY: dict[str, IntentSpec] = {s.type: s for s in (
    IntentSpec("look_at", "person", True, False, (_BEARING, _ELEVATION), "look at {target}"),
    IntentSpec("approach", "person", True, False, (
        ParamSpec("distance_m", "how far from the person to stop, m"),
        ParamSpec("speed_mps", "travel speed, m/s"),
        _BEARING,
        ParamSpec("range_m", "how far away the person is now, m"),
    ), "come over to {target}", moves_base=True),
    IntentSpec("wave", "person", False, False, (), "wave at {target}"),
    IntentSpec("fetch", "thing", True, False, (), "fetch the {target}"),
    IntentSpec("offer", "person", True, True, (), "offer the {object} to {target}"),
    IntentSpec("navigate", "place", True, False, (), "go to the {target}", moves_base=True),
    IntentSpec("stop", "person", False, False, (), "stop"),
)}

if tuple(VOCABULARY) != INTENT_TYPES:  # one vocabulary: types.py names it, this table defines it
    raise ImportError(f"core/vocabulary.py defines {tuple(VOCABULARY)} but core/types.py lists {INTENT_TYPES}")

MAX_NAME_LEN = 64
NAME_CHARS = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _\-']*$")
"""Targets and objects are plain names: no punctuation, markup or control characters."""


def problems(intent: Intent) -> list[str]:
    """Why ``intent`` does not fit the vocabulary (empty when it does): type, target, object, parameters.

    Numbers are only checked to be finite here; their bounds belong to the safety gate's YAML.
    """
    spec = VOCABULARY.get(intent.type)
    if spec is None:
        return [f"intent type {intent.type!r} is not in the vocabulary {list(VOCABULARY)}"]
    out = []
    for what, value, needed in (("target", intent.target, spec.target_required),
                                ("object", intent.object, spec.needs_object)):
        if not value.strip():
            if needed:
                noun = {"person": "whom", "place": "a place", "thing": "what"}.get(spec.target, "what")
                what = f"a target ({noun})" if what == "target" else "an object (the thing to hand over)"
                out.append(f"{intent.type} needs {what}; none was given")
            continue
        if len(value) > MAX_NAME_LEN:
            out.append(f"{what} is {len(value)} characters; at most {MAX_NAME_LEN}")
        elif not NAME_CHARS.match(value):
            out.append(f"{what} {value[:40]!r} must be a plain name (letters, digits, space, _ - ')")
    if intent.object and not spec.needs_object:
        out.append(f"{intent.type} takes no object; got {intent.object[:40]!r}")
    for name, value in intent.params.items():
        if spec.param(name) is None:
            out.append(f"parameter {name!r} is not accepted for {intent.type}; accepted: "
                       f"{[p.name for p in spec.params]}")
        elif not is_finite_number(value):
            out.append(f"{name}={value!r} is not a finite number")
    for p in spec.params:
        if p.required and p.name not in intent.params:
            out.append(f"{intent.type} needs parameter {p.name!r} ({p.meaning})")
    return out


def is_finite_number(value: object) -> bool:
    """A real int or float (not a bool, not a string) that is neither NaN nor infinite."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def with_defaults(intent: Intent) -> dict[str, float]:
    """The intent's parameters with the defaults of the optional ones it left out."""
    spec = VOCABULARY[intent.type]
    out = {p.name: float(p.default) for p in spec.params if p.default is not None}
    out.update({k: float(v) for k, v in intent.params.items()})
    return out


def describe(intent: Intent, listener: str = "") -> str:
    """The intent in a few words, as the robot says it ("come over to you", "go to the kitchen").

    A tracked person (``person3``) is nobody's name: said to ``listener`` (or to anyone, when no
    listener is given) it is "you".
    """
    spec = VOCABULARY.get(intent.type)
    if spec is None:
        return intent.type
    target = intent.target or "you"
    if re.fullmatch(r"person\d+", target) and (not listener or listener == target):
        target = "you"
    return spec.phrase.format(target=target.replace("_", " "), object=intent.object or "thing").strip()
