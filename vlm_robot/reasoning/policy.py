"""The proactive policy: when the robot speaks first, and why it stays silent otherwise.

Rules, first match wins for each person in view:
1. addressed within ``readdress_after_s``            -> silent ("already addressed")
   do-not-disturb on                                 -> silent
   someone else greeted in this update                -> silent ("one at a time")
   farther than ``max_distance_m`` (from face size)  -> silent ("too far")
2. robot spoke or heard speech within ``quiet_s``    -> silent ("in conversation")
3. any greeting within ``cooldown_s``                 -> silent ("cooldown")
4. mood in ``concern_moods`` with enough confidence  -> greet ("looks sad")
5. in view ``linger_s`` and facing the robot          -> greet ("waiting")
6. otherwise                                          -> silent (what is missing)
Every decision carries a reason a person can read; silent reasons are reported once per change.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, Decision, PersonState


@dataclass(frozen=True)
class ProactiveConfig:
    """Thresholds of the proactive policy (config/reasoning.yaml ``proactive.*``)."""

    concern_moods: tuple[str, ...] = ("sad", "fear")
    min_mood_confidence: float = 0.45
    min_observations: int = 3
    linger_s: float = 3.0
    min_facing: float = 0.5
    cooldown_s: float = 6.0
    readdress_after_s: float = 120.0
    quiet_s: float = 4.0
    max_distance_m: float = 2.0
    greetings: dict[str, str] = field(
        default_factory=lambda: {
            "concern": "Hello. You look a little {mood}. Is everything all right? Can I help?",
            "waiting": "Hi there! I'm the robot assistant. Can I help you with something?",
        }
    )

    def __post_init__(self) -> None:
        bad = [m for m in self.concern_moods if m not in EXPRESSIONS]
        if bad:
            raise ConfigError(f"proactive.concern_moods has {bad}; expected names from {list(EXPRESSIONS)}")
        if not 0.0 <= self.min_mood_confidence <= 1.0:
            raise ConfigError(f"proactive.min_mood_confidence must be in [0, 1], got {self.min_mood_confidence}")
        for name in ("linger_s", "cooldown_s", "readdress_after_s", "quiet_s", "max_distance_m"):
            if getattr(self, name) < 0:
                raise ConfigError(f"proactive.{name} must be >= 0, got {getattr(self, name)}")
        for key in ("concern", "waiting"):
            if key not in self.greetings:
                raise ConfigError(f"proactive.greetings needs a {key!r} template")


class ProactivePolicy:
    """Decides, on every perception update, whom to greet and why the others are left alone."""

    def __init__(self, config: ProactiveConfig | None = None) -> None:
        self.config = config or ProactiveConfig()
        self.last_greeting_at: float | None = None
        self.last_speech_at: float | None = None
        self.do_not_disturb = False
        self._silent_reason: dict[int, str] = {}

    def note_speech(self, stamp: float) -> None:
        """Someone (the person or the robot) spoke at ``stamp``."""
        self.last_speech_at = stamp if self.last_speech_at is None else max(self.last_speech_at, stamp)

    def evaluate(self, people: list[PersonState], now: float) -> list[Decision]:
        """Greet decisions (at most one per call) and changed silent decisions for ``people``."""
        c = self.config
        out: list[Decision] = []
        greeted = False
        for p in sorted(people, key=lambda q: (-self._urgency(q), q.id)):
            key, reason, detail = self._judge(p, now, greeted)
            if key.startswith("greet"):
                greeted = True
                p.addressed_at = now
                self.last_greeting_at = now
                self._silent_reason.pop(p.id, None)
                text = c.greetings["concern" if key == "greet_concern" else "waiting"].format(mood=p.mood)
                out.append(Decision("greet", reason, now, p.id, {**detail, "text": text}))
            elif self._silent_reason.get(p.id) != key:
                self._silent_reason[p.id] = key
                out.append(Decision("silent", reason, now, p.id, detail))
        seen = {p.id for p in people}
        for pid in list(self._silent_reason):
            if pid not in seen:
                del self._silent_reason[pid]
        return out

    def _urgency(self, p: PersonState) -> float:
        return p.mood_confidence if p.mood in self.config.concern_moods else 0.0

    def _judge(self, p: PersonState, now: float, greeted: bool) -> tuple[str, str, dict]:
        c = self.config
        who = f"person {p.id}"
        detail = {"mood": p.mood, "mood_confidence": round(p.mood_confidence, 3), "dwell_s": round(p.dwell(), 2),
                  "facing": round(p.facing, 2), "distance_m": round(p.distance_m, 2)}
        if p.addressed_at is not None and now - p.addressed_at < c.readdress_after_s:
            return "addressed", f"{who} was already addressed {now - p.addressed_at:.1f} s ago", detail
        if self.do_not_disturb:
            return "dnd", "do-not-disturb is on: the robot speaks only when spoken to", detail
        if greeted:
            return "one_at_a_time", f"greeting someone else first; {who} waits", detail
        if p.distance_m > c.max_distance_m:
            why = f"{who} is about {p.distance_m:.1f} m away (greets within {c.max_distance_m:.1f} m)"
            return "too_far", why, detail
        if self.last_speech_at is not None and now - self.last_speech_at < c.quiet_s:
            return "conversation", f"a conversation is going on (speech {now - self.last_speech_at:.1f} s ago)", detail
        if self.last_greeting_at is not None and now - self.last_greeting_at < c.cooldown_s:
            left = c.cooldown_s - (now - self.last_greeting_at)
            return "cooldown", f"greeting cooldown: {left:.1f} s left before {who} can be greeted", detail
        concerned = p.mood in c.concern_moods
        if concerned and p.mood_confidence >= c.min_mood_confidence and p.observations >= c.min_observations:
            return (
                "greet_concern",
                f"{who} looks {p.mood} (confidence {p.mood_confidence:.2f} over {p.observations} frames) "
                "and has not been addressed",
                detail,
            )
        if p.dwell() >= c.linger_s and p.facing >= c.min_facing:
            return (
                "greet_waiting",
                f"{who} has been waiting {p.dwell():.1f} s facing the robot (facing {p.facing:.2f}) "
                "and has not been addressed",
                detail,
            )
        if concerned:
            return "low_confidence", (
                f"{who} may look {p.mood} but confidence {p.mood_confidence:.2f} over {p.observations} frames "
                f"is below {c.min_mood_confidence:.2f} over {c.min_observations}"
            ), detail
        if p.facing < c.min_facing:
            return "not_facing", f"{who} is not facing the robot (facing {p.facing:.2f} < {c.min_facing:.2f})", detail
        return "not_yet", f"{who} looks {p.mood}, in view {p.dwell():.1f} s (< {c.linger_s:.1f} s to greet)", detail
