"""Action intents from what a person asked: by fixed patterns, or by a grammar-constrained model call.

Patterns (the default) are regular expressions a reviewer can read. The optional model path
(``intents.source: grammar | both`` in config/reasoning.yaml) runs llama.cpp with a GBNF grammar
built from the vocabulary (core/vocabulary.py), so the model can only write one JSON object naming a
type of the vocabulary, a short plain name and a short number: its output always parses. Neither path
is trusted: every intent goes through the safety gate, which knows nothing of where it came from.
Measured on sim/suites/intent_requests.yaml (`python -m vlm_robot.tools.intent_eval`): see README.md.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

from vlm_robot.core import vocabulary
from vlm_robot.core.assets import CHAT_LLM
from vlm_robot.core.errors import BackendUnavailableError, ConfigError, ModelNotFoundError
from vlm_robot.core.types import Intent

# "stop" the command, not a place: "the nearest bus stop?" made the robot say "Stopping." (bench voice)
# ("I can't stop crying." was "Stopping.": a stop the person cannot make is no command)
_STOP = re.compile(r"\b(?<!bus )(?<!tram )(?<!next )(?<!first )(?<!last )(?<!full )(?<!pit )(?<!the )(?<!a )"
                   r"(?<!can't )(?<!cant )(?<!cannot )(?<!can not )(?<!couldn't )(?<!won't )(?<!don't )"
                   r"(?<!never )stop\b"
                   r"(?! by\b)(?! (the )?(recording|filming)\b)|"  # "Can you stop recording?" was "Stopping."
                   r"\b(halt|freeze|don'?t move|stay (still|there))\b|^\W*(wait|hold on|hang on)\W*$|"
                   # "Don't come closer." was an approach ("Shall I come over to you?"): a person keeping the robot away
                   r"\b(don'?t|do not) (come|get|move|step|roll|run|walk|drive|hurry|rush) (any )?"
                   r"(closer|nearer|near|here|over)\b|"
                   r"\bstay (back|away)\b|\bback off\b|\bkeep (your )?distance\b|"
                   # "You're too close." got the model's "I'm not too close."
                   r"\btoo close\b|\b(move|step|get) back\b(?! to\b)|^\W*(please\W+)?go back\W*(please\W*)?$|"
                   # the robot touching, about to hit or on fire: "You hit me!" got "If someone hits you, it's not just
                   # about physical contact.", "Watch out!" and "Look out, there's a child behind you." the fallback
                   r"\byou('ve| have)? (just )?(hit|bumped into|bump into|ran over|run over|rolled over|crashed into|"
                   r"knocked|stepped on|trapped|pinched|hurt)\b(?! (the|a|my) (button|switch|ball|lights?)\b)"
                   r"(?! (yourself|itself)\b)|"
                   r"\byou'?re (hitting|bumping|running over|rolling over|crushing|pushing|hurting|on my foot|standing "
                   r"on|touching) (me|my|him|her|them|someone|the child|the baby)\b|\byou'?re (going|gonna|about) to "
                   r"(crash|hit|fall|run over|bump)\b|^\W*(ouch|ow+)\W*$|\b(ouch|ow)\b.{0,30}\byou\b|"
                   r"\b(watch|look) out\b|^\W*(be )?careful\W*$|\byou'?re (smoking|on fire|burning|sparking)\b|"
                   r"\bsomething('s| is) (burning|smoking) on you\b|\b(smoke|sparks) (is |are )?coming (out of|from) "
                   r"you\b|"
                   # "No no no, don't do that." got the model's "Oh no, try again."
                   r"\b(don'?t|do not) do (that|it|this)\b|^\W*no\W+no\W+no\b", re.I)
_APPROACH = re.compile(r"\b(come (here|closer|nearer|over|back|with me)|(move|get|step|roll) (closer|nearer|over here)|"
                       r"approach|follow me|walk with me|"
                       # "Run over here!" got the fallback: an approach asked fast (the gate judges the speed)
                       r"(run|hurry|rush|race|dash|walk|drive|roll) (over )?(here|to me|closer|nearer))\b", re.I)
_FAST = re.compile(r"\b(fast|faster|quick(ly)?|full speed|hurry|run)\b", re.I)
_SLOW = re.compile(r"\b(slow(ly)?|gently|carefully)\b", re.I)
# an explicit speed ("at 5 meters per second", "speed_mps to 99") is passed on as asked, for the gate to judge
_SPEED = re.compile(
    r"(?:(\d+(?:\.\d+)?)\s*(?:m/s|mps|met(?:er|re)s?\s+(?:per|a)\s+second))"
    r"|(?:speed(?:_mps)?\s*(?:to|of|=|:)?\s*(\d+(?:\.\d+)?))", re.I)
_WAVE = re.compile(r"\bwave\b", re.I)
_NOT_LOOK = re.compile(r"\b(don'?t|do not|stop|never|quit) (look|looking)\b", re.I)
_LOOK = re.compile(r"\blook (at|over) (me|here)\b", re.I)
_THING = r"(?:a|an|the|my|some|that|this)?\s*([a-z][a-z ]{1,30}?)(?:[.,!?]|\s+(?:please|now|and|then|to)\b|$)"
_PERSON_BRINGS = re.compile(r"\b(can|may|could|should|shall) (i|we) (bring|take)\b|"
                            r"\b(i'?ll|i will|let me|i'?m going to|we'?ll) (bring|get|fetch)\b", re.I)
# "get" asks the robot to fetch only in a request: "(can|could|would|will) you get", "please get", "go and get",
# or at the start ("Get the ball.")
_GET_ASKED = re.compile(r"(?:\b(?:can|could|would|will|won'?t) you\s+(?:please\s+|just\s+|quickly\s+|also\s+)?|"
                        r"\b(?:would|do) you mind\s+|"
                        r"\bplease\s+|\bgo (?:and\s+)?|\band\s+|\bthen\s+|^\W*(?:(?:hey|ok|okay|robot)\W+)*)$", re.I)
# ("Would you mind bringing me a glass of water?" got the model's "I'd love to help you relax.")
_FETCH = re.compile(r"\b(?:bring|fetch|get|bringing|fetching|getting)\s+(?:me\s+)?" + _THING, re.I)
# a wish for a thing the robot can bring: "I would like a cup of coffee." got "I'd love to have a cup of coffee." from
# the model. Only named things: "I'd like some help" or "I want a hug" are not fetched
_WANT = re.compile(r"\b(?:i'?d like|i would like|i want|i'?d love|could i (?:get|have)|can i (?:get|have)|"
                   r"may i have)\s+"
                   r"(?:a|an|the|my|some|another)?\s*((?:(?:glass|cup|mug|bottle|can|bowl|piece|slice) of )?"
                   r"(?:water|coffee|tea|juice|milk|drink|snack|apple|banana|orange|fruit|cookie|biscuit|sandwich|"
                   r"blanket|pillow|book|newspaper|magazine|pen|remote|tissues?|napkins?|towel|cup|mug|glass|bottle|"
                   r"phone|charger|glasses|medicine|pills|ball|box))\b", re.I)
# "can I have" hands over a thing at hand ("Can I have that cup?"); "Can I have a coffee?" was handed over as if the
# robot held one: with "a" or "some" it is a wish to fetch (_WANT)
_OFFER = re.compile(r"\b(?:(?:hand|give|pass|offer)\s+(?:me|us)|can i have(?=\s+(?:the|that|this|my|those|these)\b))"
                    r"\s+" + _THING, re.I)
_NAVIGATE = re.compile(
    r"\b(?:(?:go|take me|bring me|take us|bring us|navigate|drive|head|walk|walk me|lead me|guide me|show me the way|"
    r"lead the way|return|move)\s+(?:back\s+)?to|"
    # "Meet me in the kitchen." and "Wait for me at the entrance." got the way there: the robot goes there
    r"(?:meet me|wait for me)\s+(?:in|at|by))"
    r"\s+(?:the\s+|your\s+)?([a-z][a-z ]{1,30}?)(?:[.,!?]|\s+(?:please|now|at|with|and|quickly|fast)\b|$)", re.I)
_NOT_A_PLACE = re.compile(r"(sleep|bed|hell|work|school|lunch|dinner|breakfast|town|where|what|how|it|that|this|there|"
                          r"here|them|him|her)\b", re.I)
_CHARGE = re.compile(r"\b(?:go (?:and )?)?(?:charge|recharge) (?:yourself|your batter(?:y|ies))\b|"
                     r"\bgo (?:and )?get (?:yourself )?(?:charged|recharged)\b", re.I)
# a request for later: "Come back in five minutes." was an approach now; the robot acts only at once
LATER = re.compile(r"\b(in|after) (a |an |\w+ )?(few |couple of )?(minutes?|mins?|hours?|seconds?|secs?|moment|"
                   r"while)\b|"
                   r"\blater\b|\btomorrow\b|\btonight\b|\bthis (afternoon|evening)\b|\bat (noon|midnight)\b|"
                   # a clock time, not a speed: "at 7", "at seven o'clock", never "at 5 meters per second"
                   r"\bat (\d{1,2}(:\d\d)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
                   r"(\s*(am|pm|a\.m\.|p\.m\.|o'?clock)\b|\W*$)", re.I)

_NOT_A_THING = re.compile(r"(to|there|here|back|up|out|in|into|lost|ready|going|started|better|off|on|away|home|"
                          r"it|that|this|me|you|along|over|through|some rest|some sleep|door)\b", re.I)

_ASKS_WHERE = re.compile(r"^\W*(where|how|when|which way)\b", re.I)

DEFAULT_APPROACH_SPEED = 0.3  # m/s
FAST_APPROACH_SPEED = 1.5  # m/s: what "fast" asks for; the gate decides whether that is allowed
SLOW_APPROACH_SPEED = 0.15  # m/s
DEFAULT_APPROACH_DISTANCE = 1.0  # m


def place_name(words: str) -> str:
    """``"Charging Station"`` -> ``"charging_station"``, the form of config/places.yaml."""
    return re.sub(r"\s+", "_", words.strip().lower())


def intents_from_transcript(text: str, person: str, stamp: float) -> list[Intent]:
    """Intents a person's words ask for, addressed to ``person`` (``"person3"``; may be empty)."""
    said = text.strip()
    out: list[Intent] = []
    why = f'asked: "{said[:80]}"'
    if _STOP.search(said):
        # stop wins over everything else in the same sentence
        return [Intent("stop", person, {}, "dialogue", why, stamp=stamp)]
    if LATER.search(said):  # "Come back in five minutes.": nothing now (the dialogue layer says so)
        return []
    if _APPROACH.search(said):
        explicit = _SPEED.search(said)
        if explicit:
            speed = float(explicit.group(1) or explicit.group(2))
        elif _FAST.search(said):
            speed = FAST_APPROACH_SPEED
        else:
            speed = SLOW_APPROACH_SPEED if _SLOW.search(said) else DEFAULT_APPROACH_SPEED
        out.append(Intent("approach", person, {"distance_m": DEFAULT_APPROACH_DISTANCE, "speed_mps": speed},
                          "dialogue", why, stamp=stamp))
    if _LOOK.search(said) and not _NOT_LOOK.search(said):  # "Don't look at me." made the robot look
        out.append(Intent("look_at", person, {}, "dialogue", why, stamp=stamp))
    if _WAVE.search(said):
        out.append(Intent("wave", person, {}, "dialogue", why, stamp=stamp))
    nav = _NAVIGATE.search(said)
    place = place_name(nav.group(1)) if nav else ""
    if nav and _NOT_A_PLACE.match(nav.group(1)):  # "Go to sleep." was a place called "the sleep"
        nav, place = None, ""
    if nav is None and _CHARGE.search(said):  # "Go charge yourself." got the robot's skills
        nav, place = _CHARGE.search(said), "charging_station"
    elif nav and re.search(r"\byour (station|base|dock|home)\b", said, re.I):  # "Return to your station."
        place = "charging_station"
    if nav:
        out.append(Intent("navigate", place, {}, "dialogue", why, stamp=stamp))
    m = _OFFER.search(said)
    # "Give me your battery." handed over "the your battery": the robot's own parts are not things to give
    if m and not re.match(r"(your|yours|yourself)\b", m.group(1), re.I):
        out.append(Intent("offer", person, {}, "dialogue", why, stamp=stamp, object=m.group(1).strip().lower()))
    # "bring me to the kitchen" is a place, not a thing; "Where can I get a coffee?" asks where, not to fetch; "Can I
    # bring my dog?" asks for permission and "I'll get it" says what the person does (both were fetches)
    m = _FETCH.search(said) if not nav and not _ASKS_WHERE.search(said) and not _PERSON_BRINGS.search(said) else None
    if m and m.group(0).lower().startswith("get") and not re.match(r"get(ting)? me\b", m.group(0), re.I) \
            and not _GET_ASKED.search(said[:m.start()]):
        m = None  # "Do you get tired?" was a fetch of "the tired"; "get" fetches only when asked for
    if m and not _NOT_A_THING.match(m.group(1)):  # "how do I get to the entrance?" asks for a way, not a thing
        out.append(Intent("fetch", m.group(1).strip().lower(), {}, "dialogue", why, stamp=stamp))
    elif not nav and not out and not _ASKS_WHERE.search(said):
        m = _WANT.search(said)
        if m:
            out.append(Intent("fetch", m.group(1).strip().lower(), {}, "dialogue", why, stamp=stamp))
    return out


def greeting_intents(person: str, reason: str, stamp: float) -> list[Intent]:
    """What the robot does when it greets someone: turn its head to them and wave."""
    return [
        Intent("look_at", person, {}, "policy", reason, stamp=stamp),
        Intent("wave", person, {}, "policy", reason, stamp=stamp),
    ]


# ---- grammar-constrained model output ------------------------------------------------------------

SOURCES = ("patterns", "grammar", "both")


@dataclass(frozen=True)
class IntentConfig:
    """Where intents from speech come from (config/reasoning.yaml ``intents.*``).

    Attributes:
        source: ``patterns`` (fixed regular expressions), ``grammar`` (the chat model under a GBNF
            grammar; ``stop`` is still caught by its pattern at once) or ``both`` (patterns, and the
            model when the patterns found nothing).
        max_tokens: cap of the model's JSON answer (the grammar bounds it to about 40 tokens).
    """

    source: str = "patterns"
    max_tokens: int = 64

    def __post_init__(self) -> None:
        if self.source not in SOURCES:
            raise ConfigError(f"intents.source {self.source!r} unknown; expected one of {list(SOURCES)}")
        if not 16 <= self.max_tokens <= 256:
            raise ConfigError(f"intents.max_tokens must be in [16, 256], got {self.max_tokens}")


# Types the model may name and the field each one takes; person-directed types get their person
# (and where they are) from the reasoner, never from the model.
_MODEL_FIELDS = {"none": "", "stop": "", "wave": "", "look_at": "", "approach": "speed_mps", "fetch": "thing",
                 "offer": "thing", "navigate": "place"}


def intent_grammar(types: tuple[str, ...] = tuple(vocabulary.VOCABULARY)) -> str:
    """A GBNF grammar that admits exactly one JSON object of the vocabulary: nothing else can be generated.

    ``{"type": "none"}``, ``{"type": "navigate", "place": "kitchen"}``, ``{"type": "approach", "speed_mps": 0.3}``.
    Names are 1-24 lower-case letters, spaces or underscores; numbers have at most two digits and one decimal.
    """
    alts = []
    for t in ("none", *types):
        field = _MODEL_FIELDS.get(t)
        if field is None:
            continue
        if field == "speed_mps":
            alts.append(f'"\\"{t}\\"" ( ", \\"speed_mps\\": " num )?')
        elif field:
            alts.append(f'"\\"{t}\\", \\"{field}\\": " name')
        else:
            alts.append(f'"\\"{t}\\""')
    return "\n".join([
        'root ::= "{\\"type\\": " body "}"',
        "body ::= " + " | ".join(alts),
        'name ::= "\\"" [a-z] [a-z _]{0,23} "\\""',
        'num ::= [0-9] [0-9]? ( "." [0-9] )?',
    ]) + "\n"


_SYSTEM = ("Turn the user's request to a robot into JSON. type is one of stop, wave, look_at, approach, fetch, "
           "offer, navigate, none (none for questions and small talk).")
# few-shot examples as earlier turns: the 135M model follows turns much better than a list in the prompt
_SHOTS = (
    ("Stop right now", '{"type": "stop"}'),
    ("Come over here", '{"type": "approach"}'),
    ("Look at me", '{"type": "look_at"}'),
    ("Could you get me a towel", '{"type": "fetch", "thing": "towel"}'),
    ("Hand me the pen", '{"type": "offer", "thing": "pen"}'),
    ("Take me to the garden", '{"type": "navigate", "place": "garden"}'),
    ("What is your name?", '{"type": "none"}'),
    ("Please wave", '{"type": "wave"}'),
)


class GrammarIntents:
    """Intents from speech by SmolLM2 (or any GGUF chat model) under :func:`intent_grammar`.

    It loads its own llama.cpp instance (about 100 MB for the packaged 135M model), so the chat's
    replies and their determinism are untouched; it runs on the dialogue worker, never in a callback.
    """

    def __init__(self, config: IntentConfig | None = None, model_path: str = "", n_threads: int = 1,
                 seed: int = 0) -> None:
        try:
            from llama_cpp import Llama, LlamaGrammar
        except ImportError as e:
            raise BackendUnavailableError(
                "intents.source grammar needs llama-cpp-python: `pip install llama-cpp-python==0.3.36`, or set "
                "intents.source: patterns") from e
        path = Path(model_path).expanduser() if model_path else CHAT_LLM.path()
        if not path.is_file():
            raise ModelNotFoundError(f"intent model {str(path)!r} does not exist; give a GGUF file or leave "
                                     f"llm.model_path empty for the packaged SmolLM2 ({CHAT_LLM.pip})")
        self.config = config or IntentConfig(source="grammar")
        self.seed = seed
        self._llm = Llama(model_path=str(path), n_ctx=1024, n_threads=n_threads, n_threads_batch=n_threads, seed=seed,
                          verbose=False)
        self._grammar = LlamaGrammar.from_string(intent_grammar(), verbose=False)

    def raw(self, text: str) -> str:
        """The model's JSON for ``text``, as generated."""
        out = self._llm.create_chat_completion(
            messages=[{"role": "system", "content": _SYSTEM},
                      *({"role": r, "content": c} for u, a in _SHOTS for r, c in (("user", u), ("assistant", a))),
                      {"role": "user", "content": text.strip()[:300]}],
            grammar=self._grammar, max_tokens=self.config.max_tokens, temperature=0.0, seed=self.seed)
        return out["choices"][0]["message"]["content"] or ""

    def intents(self, text: str, person: str, stamp: float) -> list[Intent]:
        """Intents ``text`` asks for according to the model (none for small talk); see :func:`intents_from_json`."""
        return intents_from_json(self.raw(text), person, stamp, f'asked (model): "{text.strip()[:80]}"')

    def close(self) -> None:
        close = getattr(self._llm, "close", None)
        if close is not None:
            close()


def intents_from_json(raw: str, person: str, stamp: float, why: str = "") -> list[Intent]:
    """Intents from the grammar's JSON object; anything else (a cut-off answer) yields none."""
    try:
        d = json.loads(raw)
    except json.JSONDecodeError:
        return []
    t = d.get("type") if isinstance(d, dict) else None
    if t not in vocabulary.VOCABULARY:
        return []
    if t == "approach":
        speed = d.get("speed_mps", DEFAULT_APPROACH_SPEED)
        return [Intent(t, person, {"distance_m": DEFAULT_APPROACH_DISTANCE, "speed_mps": speed}, "dialogue-model",
                       why, stamp=stamp)]
    if t == "fetch":
        return [Intent(t, str(d.get("thing", "")).strip(), {}, "dialogue-model", why, stamp=stamp)]
    if t == "offer":
        return [Intent(t, person, {}, "dialogue-model", why, stamp=stamp, object=str(d.get("thing", "")).strip())]
    if t == "navigate":
        return [Intent(t, place_name(str(d.get("place", ""))), {}, "dialogue-model", why, stamp=stamp)]
    return [Intent(t, person, {}, "dialogue-model", why, stamp=stamp)]
