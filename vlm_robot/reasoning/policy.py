"""The proactive policy: when the robot speaks first, and why it stays silent otherwise.

Rules, first match wins for each person in view:
1. addressed within ``readdress_after_s``            -> silent ("already addressed")
   do-not-disturb on                                 -> silent
   someone else greeted in this update                -> silent ("one at a time")
   farther than ``max_distance_m`` (from face size)  -> silent ("too far"), unless the intention is at least
                                                         ``intention_engaged`` within ``engaged_max_distance_m``
2. heads turned towards another person's (``talk_min_yaw_deg`` of mesh head yaw, ``talk_min_yaw`` of keypoint
   yaw without a mesh pose), both ways              -> silent ("talking to each other")
3. robot spoke or heard speech within ``quiet_s``    -> silent ("in conversation")
4. any greeting within ``cooldown_s``                 -> silent ("cooldown")
5. overheard words within ``words_memory_s``: VADER compound <= ``upset_sentiment`` -> greet ("sounded upset");
   one of ``confusion_phrases``                       -> greet ("sounded lost")
6. walking past or away (``PersonState.motion``), even when glancing at the robot -> silent ("passing by")
   head pitched down by ``looking_down_deg`` or more (mesh pose) -> silent ("busy: looking down", a phone)
   looked at the robot in less than ``busy_max_attention`` of the last ``tracker.attention_window_s``
                                                      -> silent ("busy"; "looking away" for the first
                                                         ``busy_min_window_s``, so a newcomer is not greeted
                                                         before it is known whether they are busy)
7. mood in ``concern_moods`` with calibrated confidence >= ``min_mood_confidence`` over ``min_observations``
                                                      -> greet ("looks sad")
8. intention at least ``intention_engaged``, in view ``engaged_linger_s`` and facing the robot
                                                      -> greet ("wants to talk": approaching and looking, sooner
                                                         and from farther than waiting; "waved at the robot"
                                                         when a wave at it within ``intention.wave_s`` counts)
   in view ``linger_s``, facing the robot and intention at least ``intention_min`` -> greet ("waiting")
9. otherwise                                          -> silent (what is missing; "low confidence" for a
                                                         concern mood below the confidence threshold)
Words a person said count only when they were not said to the robot (see :meth:`ProactivePolicy.addressed`):
what is said to the robot gets a reply, not a greeting. Words beat posture (rule 5 before 6): someone
reading a map who says "I'm lost" is offered help. Every decision carries a reason a person can read;
silent reasons are reported once per change.

The intention (``PersonState.intention``, set on every evaluation) is engagement.intention: a logistic
combination of looking at the robot, motion, distance, dwell, looking down, talking to someone else and a wave
at the robot (reasoning/gestures.py; a wave does not beat rules 1-6: waving while talking to someone else or
walking away is not a greeting for the robot), with the
weights of ``proactive.intention`` (config/reasoning.yaml); its explanation names each cue's contribution.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, Decision, PersonState
from vlm_robot.reasoning.engagement import IntentionWeights, intention, matching_phrase, talking_partner, waved_ago

_GREETINGS = {
    "concern": "Hello. You look a little {mood}. Is everything all right? Can I help?",
    "waiting": "Hi there! I'm the robot assistant. Can I help you with something?",
    "upset": "Hello. You sounded upset. Is everything all right? Can I help?",
    "confused": "Hello. It sounded like you are looking for something. Can I help you find it?",
    "waved": "Hello! I saw you wave. How can I help you?",
}


@dataclass(frozen=True)
class ProactiveConfig:
    """Thresholds of the proactive policy (config/reasoning.yaml ``proactive.*``).

    Attributes:
        min_mood_confidence: smoothed ``mood_confidence`` a concern mood needs; its measured meaning (how often
            a reading that confident holds over the next second) is in vlm_robot/reasoning/calibration.py.
        talk_min_yaw: head turn (nose offset in eye distances, see engagement.head_yaw) that counts as
            turned towards someone; two people turned towards each other are talking to each other.
        busy_max_attention: a person who looked at the robot in less than this share of the recent
            window (``tracker.attention_window_s``, at least ``busy_min_window_s`` of it seen) is busy.
        upset_sentiment: overheard words with a VADER compound at or below this are a concern.
        confusion_phrases: overheard words containing one of these (whole words, any case) are an offer-help cue.
        words_memory_s: how long overheard words count.
        robot_names: words that make speech addressed to the robot whoever the speaker faces.
        answer_window_s: words said this soon after the robot asked a question (its utterance ended with "?")
            are an answer, said to the robot whoever the speaker faces (unless to a partner they face).
        vision_fresh_s: while the camera's people are this fresh (perception is running), words heard with
            nobody in view are not said to the robot unless they name it or answer its question (a person
            behind the robot on the phone); with no camera running, all words are said to the robot.
        talk_min_yaw_deg: as ``talk_min_yaw``, in degrees of the face mesh's head yaw, for faces with a valid pose.
        looking_down_deg: a head pitched down this much or more (face mesh, degrees from the line of sight to the
            camera) is looking at something else (a phone, a book): busy.
        intention_engaged: intention (P of wanting to interact) from which a person facing the robot is greeted
            after ``engaged_linger_s`` instead of ``linger_s``, and up to ``engaged_max_distance_m`` away.
        intention_min: a person waiting ``linger_s`` facing the robot is greeted only with at least this
            intention (e.g. not while walking past or talking to someone else).
        intention: the intention model's weights (engagement.IntentionWeights; the YAML explains each).
    """

    concern_moods: tuple[str, ...] = ("sad", "fear")
    min_mood_confidence: float = 0.45
    min_observations: int = 3
    linger_s: float = 3.0
    min_facing: float = 0.5
    cooldown_s: float = 6.0
    readdress_after_s: float = 120.0
    quiet_s: float = 4.0
    max_distance_m: float = 2.0
    talk_min_yaw: float = 0.1
    busy_max_attention: float = 0.3
    busy_min_window_s: float = 2.0
    upset_sentiment: float = -0.4
    confusion_phrases: tuple[str, ...] = ("i don't understand", "i do not understand", "i'm lost", "i am lost",
                                          "where is", "where are", "which way", "how do i get", "i'm confused",
                                          "can't find", "cannot find")
    words_memory_s: float = 60.0
    robot_names: tuple[str, ...] = ("robot",)
    answer_window_s: float = 10.0
    vision_fresh_s: float = 2.0
    talk_min_yaw_deg: float = 15.0
    looking_down_deg: float = 15.0
    intention_engaged: float = 0.9
    engaged_linger_s: float = 1.0
    engaged_max_distance_m: float = 3.0
    intention_min: float = 0.5
    intention: dict[str, float] = field(default_factory=dict)
    greetings: dict[str, str] = field(default_factory=lambda: dict(_GREETINGS))

    def __post_init__(self) -> None:
        bad = [m for m in self.concern_moods if m not in EXPRESSIONS]
        if bad:
            raise ConfigError(f"proactive.concern_moods has {bad}; expected names from {list(EXPRESSIONS)}")
        if not 0.0 <= self.min_mood_confidence <= 1.0:
            raise ConfigError(f"proactive.min_mood_confidence must be in [0, 1], got {self.min_mood_confidence}")
        for name in ("linger_s", "cooldown_s", "readdress_after_s", "quiet_s", "max_distance_m", "talk_min_yaw",
                     "busy_min_window_s", "words_memory_s", "answer_window_s", "vision_fresh_s", "talk_min_yaw_deg",
                     "looking_down_deg", "engaged_linger_s", "engaged_max_distance_m"):
            if getattr(self, name) < 0:
                raise ConfigError(f"proactive.{name} must be >= 0, got {getattr(self, name)}")
        if not 0.0 <= self.busy_max_attention <= 1.0:
            raise ConfigError(f"proactive.busy_max_attention must be in [0, 1] (0 turns 'busy' off), "
                              f"got {self.busy_max_attention}")
        if not -1.0 <= self.upset_sentiment <= 1.0:
            raise ConfigError(f"proactive.upset_sentiment is a VADER compound score in [-1, 1], "
                              f"got {self.upset_sentiment}")
        for name in ("intention_engaged", "intention_min"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ConfigError(f"proactive.{name} is a probability in [0, 1], got {getattr(self, name)}")
        object.__setattr__(self, "weights", IntentionWeights.from_dict(dict(self.intention)))
        # templates missing from an older YAML fall back to the built-in ones
        object.__setattr__(self, "greetings", {**_GREETINGS, **self.greetings})
        for key, text in self.greetings.items():
            if not isinstance(text, str) or not text.strip():
                raise ConfigError(f"proactive.greetings.{key} must be a sentence, got {text!r}")


class ProactivePolicy:
    """Decides, on every perception update, whom to greet and why the others are left alone."""

    def __init__(self, config: ProactiveConfig | None = None) -> None:
        self.config = config or ProactiveConfig()
        self.last_greeting_at: float | None = None
        self.last_speech_at: float | None = None
        self.do_not_disturb = False
        self._silent_reason: dict[int, str] = {}
        self._words: dict[int, tuple[float, str, float]] = {}  # person id -> (stamp, overheard text, sentiment)
        self.last_question_at: float | None = None  # when the robot last asked something

    def note_speech(self, stamp: float) -> None:
        """Someone (the person or the robot) spoke at ``stamp``."""
        self.last_speech_at = stamp if self.last_speech_at is None else max(self.last_speech_at, stamp)

    def note_words(self, person_id: int, text: str, sentiment: float, stamp: float) -> None:
        """``person_id`` said ``text`` (VADER compound ``sentiment``) at ``stamp``, not to the robot."""
        self._words[person_id] = (stamp, text, sentiment)

    def note_robot_said(self, text: str, stamp: float) -> None:
        """The robot said ``text`` at ``stamp``; a question opens ``answer_window_s`` for an answer."""
        if text.rstrip().endswith("?"):
            self.last_question_at = stamp if self.last_question_at is None else max(self.last_question_at, stamp)

    def addressed(self, speaker: PersonState | None, people: list[PersonState], text: str,
                  stamp: float | None = None, seeing: bool = False,
                  for_a_robot: Callable[[], bool] | None = None) -> tuple[bool, str]:
        """Whether ``text`` from ``speaker`` (said at ``stamp``) was said to the robot, and why not when it was not.

        Said to the robot when it names one of ``robot_names``. Not when the speaker and another person have
        their heads turned towards each other (talking to them). Said to the robot when it answers the robot's
        question (within ``answer_window_s`` of it). Otherwise not when the speaker looks away from the robot
        (facing below ``min_facing``), or when nobody is in view while the camera is running (``seeing``: the
        voice of someone the robot cannot see, e.g. on the phone behind it) unless the words are of a kind only
        a robot is asked (``for_a_robot``: "is anyone here?", "what can you do?", "where is the kitchen?", "come
        here"); else said to the robot (with no camera running, every voice is).

        Returns:
            ``(True, "")``, or ``(False, reason)``: words not said to the robot get no reply.
        """
        c = self.config
        if matching_phrase(text, c.robot_names):
            return True, ""
        partner = talking_partner(speaker, people, c.talk_min_yaw, c.talk_min_yaw_deg) if speaker is not None else None
        if partner is not None:
            return False, (f"overheard person {speaker.id} talking to person {partner.id} (heads turned towards each "
                           f"other), not to the robot: no reply")
        q = self.last_question_at
        if q is not None and stamp is not None and 0.0 <= stamp - q <= c.answer_window_s:
            return True, ""
        if speaker is None:
            if seeing and not (for_a_robot is not None and for_a_robot()):
                return False, ("heard words while nobody was in view of the running camera, not naming the robot, "
                               "answering a question of it, nor asking what only a robot is asked: taken as not said "
                               "to the robot, no reply")
            return True, ""
        if speaker.facing < c.min_facing:
            return False, (f"overheard person {speaker.id} while they looked away from the robot (facing "
                           f"{speaker.facing:.2f} < {c.min_facing:.2f}) without naming it: no reply")
        return True, ""

    def evaluate(self, people: list[PersonState], now: float) -> list[Decision]:
        """Greet decisions (at most one per call) and changed silent decisions for ``people``."""
        c = self.config
        out: list[Decision] = []
        greeted = False
        for p in people:
            self.assess(p, people)
        for p in sorted(people, key=lambda q: (-self._urgency(q), q.id)):
            key, reason, detail = self._judge(p, people, now, greeted)
            if key.startswith("greet"):
                greeted = True
                p.addressed_at = now
                self.last_greeting_at = now
                self._silent_reason.pop(p.id, None)
                self._words.pop(p.id, None)
                text = c.greetings[key.removeprefix("greet_")].format(mood=p.mood)
                out.append(Decision("greet", reason, now, p.id, {**detail, "text": text}))
            elif self._silent_reason.get(p.id) != key:
                self._silent_reason[p.id] = key
                out.append(Decision("silent", reason, now, p.id, detail))
        seen = {p.id for p in people}
        for pid in list(self._silent_reason):
            if pid not in seen:
                del self._silent_reason[pid]
        for pid, (stamp, _, _) in list(self._words.items()):
            if now - stamp > c.words_memory_s:
                del self._words[pid]
        return out

    def looking_down(self, p: PersonState) -> bool:
        """Whether ``p``'s head (face mesh pose) is pitched down by ``looking_down_deg`` or more."""
        return p.pose_valid and p.head_pitch >= self.config.looking_down_deg

    def assess(self, p: PersonState, people: list[PersonState]) -> float:
        """Set ``p.intention`` and ``p.intention_reason`` from ``p``'s cues among ``people``; return the intention."""
        c = self.config
        talking = talking_partner(p, people, c.talk_min_yaw, c.talk_min_yaw_deg) is not None
        p.intention, p.intention_reason, _ = intention(p, c.weights, self.looking_down(p), talking)
        return p.intention

    def _urgency(self, p: PersonState) -> float:
        if p.id in self._words:
            return 1.0
        return p.mood_confidence if p.mood in self.config.concern_moods else 0.0

    def _judge(self, p: PersonState, people: list[PersonState], now: float, greeted: bool) -> tuple[str, str, dict]:
        c = self.config
        who = f"person {p.id}"
        detail = {"mood": p.mood, "mood_confidence": round(p.mood_confidence, 3), "dwell_s": round(p.dwell(), 2),
                  "facing": round(p.facing, 2), "distance_m": round(p.distance_m, 2), "yaw": round(p.yaw, 2),
                  "attention": round(p.attention, 2), "motion": p.motion, "intention": round(p.intention, 3)}
        if p.pose_valid:
            detail.update(head_yaw=round(p.head_yaw, 1), head_pitch=round(p.head_pitch, 1),
                          eye_contact=round(p.eye_contact, 2))
        engaged = p.intention >= c.intention_engaged
        waved = waved_ago(p, c.weights)
        if waved is not None:
            detail["waved_s_ago"] = round(max(waved, 0.0), 2)
        if p.addressed_at is not None and now - p.addressed_at < c.readdress_after_s:
            return "addressed", f"{who} was already addressed {now - p.addressed_at:.1f} s ago", detail
        if self.do_not_disturb:
            return "dnd", "do-not-disturb is on: the robot speaks only when spoken to", detail
        if greeted:
            return "one_at_a_time", f"greeting someone else first; {who} waits", detail
        if p.distance_m > c.max_distance_m and not (engaged and p.distance_m <= c.engaged_max_distance_m):
            why = (f"{who} is about {p.distance_m:.1f} m away (greets within {c.max_distance_m:.1f} m, or "
                   f"{c.engaged_max_distance_m:.1f} m at intention >= {c.intention_engaged:.2f}; {p.intention_reason})")
            return "too_far", why, detail
        partner = talking_partner(p, people, c.talk_min_yaw, c.talk_min_yaw_deg)
        if partner is not None:
            if p.pose_valid and partner.pose_valid:
                turn = (f"head yaw {p.head_yaw:+.0f} and {partner.head_yaw:+.0f} deg, threshold "
                        f"{c.talk_min_yaw_deg:.0f}")
            else:
                turn = f"yaw {p.yaw:+.2f} and {partner.yaw:+.2f}, threshold {c.talk_min_yaw:.2f}"
            return "talking", (f"{who} is talking to person {partner.id}: their heads are turned towards each other "
                               f"({turn}; {p.intention_reason})"), detail
        if self.last_speech_at is not None and now - self.last_speech_at < c.quiet_s:
            return "conversation", f"a conversation is going on (speech {now - self.last_speech_at:.1f} s ago)", detail
        if self.last_greeting_at is not None and now - self.last_greeting_at < c.cooldown_s:
            left = c.cooldown_s - (now - self.last_greeting_at)
            return "cooldown", f"greeting cooldown: {left:.1f} s left before {who} can be greeted", detail
        words = self._words.get(p.id)
        if words is not None:
            said_at, text, sentiment = words
            quote = text if len(text) <= 60 else text[:57] + "..."
            if sentiment <= c.upset_sentiment:
                return "greet_upset", (f'{who} sounded upset {now - said_at:.1f} s ago ("{quote}", sentiment '
                                       f"{sentiment:+.2f} <= {c.upset_sentiment:+.2f}), not said to the robot, "
                                       "and has not been addressed"), detail
            phrase = matching_phrase(text, c.confusion_phrases)
            if phrase is not None:
                return "greet_confused", (f'{who} sounded lost {now - said_at:.1f} s ago ("{quote}": "{phrase}"), '
                                          "not said to the robot, and has not been addressed"), detail
        if p.motion in ("passing", "leaving"):
            return "passing", (f"{who} is {'walking past' if p.motion == 'passing' else 'walking away'}, not "
                               f"stopping for the robot, even if glancing at it ({p.intention_reason})"), detail
        if self.looking_down(p):
            return "busy_down", (f"{who} is busy: looking down (head pitch {p.head_pitch:.0f} deg >= "
                                 f"{c.looking_down_deg:.0f}), e.g. at a phone ({p.intention_reason})"), detail
        if c.busy_max_attention > 0 and p.attention < c.busy_max_attention:
            if p.dwell() >= c.busy_min_window_s:
                return "busy", (f"{who} is busy: looked at the robot in {p.attention:.0%} of the recent frames "
                                f"(< {c.busy_max_attention:.0%}), e.g. reading or looking elsewhere"), detail
            return "looking_away", (f"{who} is looking away from the robot; watching {c.busy_min_window_s:.1f} s "
                                    "before deciding whether they are busy"), detail
        concerned = p.mood in c.concern_moods
        if concerned and p.mood_confidence >= c.min_mood_confidence and p.observations >= c.min_observations:
            return (
                "greet_concern",
                f"{who} looks {p.mood} (confidence {p.mood_confidence:.2f} over {p.observations} frames) "
                "and has not been addressed",
                detail,
            )
        if engaged and p.dwell() >= c.engaged_linger_s and p.facing >= c.min_facing and waved is not None:
            return (
                "greet_waved",
                f"{who} waved at the robot {max(waved, 0.0):.1f} s ago, looking at it (facing {p.facing:.2f}): "
                f"{p.intention_reason} (>= {c.intention_engaged:.2f}), and has not been addressed",
                detail,
            )
        if engaged and p.dwell() >= c.engaged_linger_s and p.facing >= c.min_facing:
            return (
                "greet_waiting",
                f"{who} wants to talk: {p.motion or 'in view'} and looking at the robot (facing {p.facing:.2f}), "
                f"{p.intention_reason} (>= {c.intention_engaged:.2f}), and has not been addressed",
                detail,
            )
        if p.dwell() >= c.linger_s and p.facing >= c.min_facing:
            if p.intention < c.intention_min:
                return "low_intention", (f"{who} faces the robot but does not seem to want to talk: "
                                         f"{p.intention_reason} (< {c.intention_min:.2f})"), detail
            return (
                "greet_waiting",
                f"{who} has been waiting {p.dwell():.1f} s facing the robot (facing {p.facing:.2f}) "
                f"and has not been addressed; {p.intention_reason}",
                detail,
            )
        if concerned:
            return "low_confidence", (
                f"low confidence: {who} may look {p.mood}, but the smoothed confidence {p.mood_confidence:.2f} "
                f"over {p.observations} frames is below the {c.min_mood_confidence:.2f} over {c.min_observations} "
                "needed to say so"
            ), detail
        if p.facing < c.min_facing:
            return "not_facing", f"{who} is not facing the robot (facing {p.facing:.2f} < {c.min_facing:.2f})", detail
        return "not_yet", f"{who} looks {p.mood}, in view {p.dwell():.1f} s (< {c.linger_s:.1f} s to greet)", detail
