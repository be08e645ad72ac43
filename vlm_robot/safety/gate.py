"""The safety gate: the only path from intents to actuators. It depends on no language model.

Checks, in order: emergency stop (only ``stop`` passes while engaged), allowlist, the vocabulary
(core/vocabulary.py: target, object, required and unknown parameters, finite numbers), the gate's
own bounds from its YAML (every parameter must have one), known places for ``navigate``, rate limit
per type, and a person's confirmation for risky types.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field, replace

from vlm_robot.core import vocabulary
from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Intent, Verdict


def _default_bounds() -> dict[str, dict[str, list[float]]]:
    return {"look_at": {"bearing_rad": [-1.6, 1.6], "elevation_rad": [-0.8, 0.8]},
            "approach": {"distance_m": [0.5, 3.0], "speed_mps": [0.05, 0.5], "bearing_rad": [-1.6, 1.6],
                         "range_m": [0.3, 8.0]}}


@dataclass(frozen=True)
class SafetyConfig:
    """Allowlist and bounds (config/safety_gate.yaml).

    Attributes:
        allowed: the allowlist of intent types (each must be in core/vocabulary.py); anything else is rejected.
        bounds: per allowed type, each parameter's ``[min, max]``. A parameter without bounds here is
            rejected; whether it is required comes from the vocabulary, whose required parameters must
            all have bounds.
        max_per_window: at most this many intents of one type per ``window_s`` (``stop`` is never limited).
        needs_target: intent types refused without a target (approach whom?).
        confirm: intent types that also need a person to say yes (within ``confirm_timeout_s``).
        refused_objects: things ``fetch`` and ``offer`` never carry (a whole word of the target or object).
    """

    allowed: tuple[str, ...] = ("look_at", "approach", "wave", "fetch", "offer", "navigate", "stop")
    bounds: dict[str, dict[str, list[float]]] = field(default_factory=_default_bounds)
    max_per_window: int = 4
    window_s: float = 10.0
    max_target_len: int = 64
    needs_target: tuple[str, ...] = ("look_at", "approach", "fetch", "offer", "navigate")
    confirm: tuple[str, ...] = ("approach", "navigate")
    confirm_timeout_s: float = 15.0
    refused_objects: tuple[str, ...] = ("knife", "knives", "blade", "scissors", "razor", "gun", "lighter", "matches",
                                        "needle", "saw", "axe", "hammer", "medication", "pills")

    def __post_init__(self) -> None:
        if "stop" not in self.allowed:
            raise ConfigError("safety.allowed must include 'stop': stopping can never be refused")
        unknown = sorted(set(self.allowed) - set(vocabulary.VOCABULARY))
        if unknown:
            raise ConfigError(f"safety.allowed has {unknown}, which the intent vocabulary (core/vocabulary.py) "
                              f"does not define; known: {list(vocabulary.VOCABULARY)}")
        extra = sorted(set(self.bounds) - set(self.allowed))
        if extra:
            raise ConfigError(f"safety.bounds has limits for {extra}, which safety.allowed does not allow")
        for t, params in self.bounds.items():
            for name, lim in params.items():
                if len(lim) != 2 or not all(isinstance(v, (int, float)) for v in lim) or lim[0] > lim[1]:
                    raise ConfigError(f"safety.bounds.{t}.{name} must be [min, max] with min <= max, got {lim}")
        for t in self.allowed:
            unbounded = [p.name for p in vocabulary.VOCABULARY[t].params
                         if p.required and p.name not in self.bounds.get(t, {})]
            if unbounded:
                raise ConfigError(f"safety.bounds.{t} must give [min, max] for {unbounded}: {t} requires them "
                                  "and the gate judges every number")
        if "stop" in self.confirm:
            raise ConfigError("safety.confirm must not include 'stop': stopping never waits for anyone")
        if self.confirm_timeout_s <= 0:
            raise ConfigError(f"safety.confirm_timeout_s must be > 0, got {self.confirm_timeout_s}")
        if self.max_per_window < 1 or self.window_s <= 0:
            raise ConfigError("safety.max_per_window must be >= 1 and safety.window_s > 0")


class SafetyGate:
    """Approves or rejects intents; keeps its own rate-limit history and emergency-stop state."""

    def __init__(self, config: SafetyConfig | None = None, places: tuple[str, ...] | None = None) -> None:
        """``places``: the names ``navigate`` may go to (config/places.yaml); None refuses every navigate."""
        self.config = config or SafetyConfig()
        self.places = tuple(places or ())
        self.estop = False
        self._history: dict[str, deque[float]] = {}
        self.pending: Intent | None = None  # waiting for a person's yes or no
        self._pending_since = 0.0

    def set_estop(self, engaged: bool) -> None:
        self.estop = engaged

    def check(self, intent: Intent, now: float) -> Verdict:
        """The verdict for ``intent`` at time ``now`` (seconds); approvals count towards the rate limit."""
        c = self.config
        reasons: list[str] = []
        if self.estop and intent.type != "stop":
            return Verdict(intent, False, ("emergency stop engaged: only 'stop' is accepted",))
        if intent.type not in c.allowed:
            why = f"intent type {intent.type!r} is not allowed; allowed: {sorted(c.allowed)}"
            return Verdict(intent, False, (why,))
        if intent.type == "stop":  # stopping is never refused; whatever else came with it is dropped, not used
            dropped = [k for k, v in (("object", intent.object), ("params", intent.params)) if v]
            clean = replace(intent, target=intent.target[:c.max_target_len], object="", params={})
            return Verdict(clean, True, ("stop is always accepted" + (f"; dropped {dropped}" if dropped else ""),))
        if intent.type in c.needs_target and not intent.target.strip():
            reasons.append(f"{intent.type} needs a target (whom or what); none was given")
        thing = f"{intent.target} {intent.object}".lower() if intent.type in ("fetch", "offer") else ""
        refused = [o for o in c.refused_objects if re.search(rf"\b{re.escape(o)}\b", thing)]
        if refused:
            reasons.append(f"refused object {refused[0]!r}: the robot does not hand over or fetch sharp, dangerous "
                           "or medical things (safety.refused_objects)")
        for what, value in (("target", intent.target), ("object", intent.object)):
            if len(value) > c.max_target_len:
                reasons.append(f"{what} is {len(value)} characters; at most {c.max_target_len}")
        for r in vocabulary.problems(intent):  # the gate's own target and length checks come first, once
            if "characters; at most" not in r and not ("needs a target" in r and intent.type in c.needs_target):
                reasons.append(r)
        limits = c.bounds.get(intent.type, {})
        for name, v in intent.params.items():
            if name not in limits:
                if vocabulary.VOCABULARY[intent.type].param(name) is not None:  # known, but the gate sets no bound
                    reasons.append(f"parameter {name!r} of {intent.type} has no bounds in safety.bounds; refused")
                continue
            lo, hi = limits[name]
            if vocabulary.is_finite_number(v) and not lo <= v <= hi:
                reasons.append(f"{name}={v} is outside [{lo}, {hi}]")
        if intent.type == "navigate" and intent.target.strip() and intent.target not in self.places:
            reasons.append(f"unknown place {intent.target[:40]!r}; known places: {list(self.places)}"
                           if self.places else "no places are configured (config/places.yaml); navigate refused")
        if reasons:
            return Verdict(intent, False, tuple(reasons))
        self.expire(now)
        if intent.type in c.confirm and self.pending is not None:
            return Verdict(intent, False, (f"another {self.pending.type} is waiting for confirmation",))
        if intent.type != "stop":
            hist = self._history.setdefault(intent.type, deque())
            while hist and now - hist[0] > c.window_s:
                hist.popleft()
            if len(hist) >= c.max_per_window:
                return Verdict(intent, False, (
                    f"rate limit: {len(hist)} {intent.type} intents in the last {c.window_s:.0f} s "
                    f"(at most {c.max_per_window})",))
            hist.append(now)
        if intent.type in c.confirm:
            self.pending, self._pending_since = intent, now
            return Verdict(intent, False, (f"{intent.type} needs a person's confirmation: waiting for yes or no "
                                           f"({c.confirm_timeout_s:.0f} s)",), pending=True)
        return Verdict(intent, True, ("within allowlist and bounds",))

    @staticmethod
    def question(intent: Intent) -> str:
        """What the gate asks a person before an intent of a ``confirm`` type goes out."""
        return f"Shall I {vocabulary.describe(intent)}? Please say yes or no."

    def answer(self, said: str, now: float) -> Verdict | None:
        """A person's words while an intent waits for confirmation: yes approves it, no rejects it."""
        if self.pending is None or self.expire(now) is not None:
            return None
        it = self.pending
        if _NO.match(said):
            self.pending = None
            return Verdict(it, False, (f'declined by a person: "{said[:60]}"',))
        if _YES.match(said):
            self.pending = None
            if self.estop:
                return Verdict(it, False, ("confirmed, but the emergency stop is engaged",))
            return Verdict(it, True, (f'within allowlist and bounds, confirmed by a person: "{said[:60]}"',))
        return None

    def cancel_pending(self, why: str) -> Verdict | None:
        """Reject the intent waiting for confirmation (a stop or the emergency stop came first)."""
        if self.pending is None:
            return None
        it, self.pending = self.pending, None
        return Verdict(it, False, (f"cancelled: {why}",))

    def expire(self, now: float) -> Verdict | None:
        """Reject the waiting intent once nobody confirmed it in time."""
        if self.pending is not None and now - self._pending_since > self.config.confirm_timeout_s:
            it, self.pending = self.pending, None
            return Verdict(it, False, (f"not confirmed within {self.config.confirm_timeout_s:.0f} s",))
        return None


_YES = re.compile(r"^\W*(yes|yeah|yep|sure|ok(ay)?|please do|go ahead|do it|confirm(ed)?)\b", re.I)
_NO = re.compile(r"^\W*(no|nope|don'?t|do not|cancel|never mind|stop)\b", re.I)


def answers_a_question(said: str) -> bool:
    """True for words the gate reads as a yes or a no to the intent it waits for."""
    return bool(_YES.match(said) or _NO.match(said))
