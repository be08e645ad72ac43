"""Open talk: a checked reply from a small chat model, or a short safe one of the robot's own.

The dialogue layer answers greetings, places, actions, the time and the like from what the robot knows;
what is left (chit-chat, "tell me a joke", "I like painting") goes to the language model, which at 135M
parameters often says something nobody should hear from a robot: condolences for a loss nobody mentioned,
"as an AI language model", the person's own words back, an invented name and life ("I'm Dr. Elena
Zepeda"), today's weather, the system prompt about itself ("I'm a helpful robot assistant."), insults.

:class:`OpenTalk` draws up to three short candidates (greedy, then two sampled with fixed seeds), each stopped
at its first sentence end (or as soon as its first words show a failure shape, :func:`early_shape`),
rejects those of a known failure shape (:func:`failure_shape`, each with a readable reason) or off-topic by
``relevance(user_text, reply)`` (the cosine of MiniLM sentence embeddings in the robot), and stops at the
first candidate that passes with good relevance; else the most relevant that passed is said, else a short
fallback of the robot's own (:func:`fallback_reply`).

Measured by vlm_robot/benchmarks/open_talk_eval.py (32 open-talk sentences, SmolLM2-135M Q4_1, one llama.cpp
thread, replies judged by hand): the old prompt ("You are a helpful robot assistant. Keep answers short.") gave a plain
greedy reply without a failure shape to 10 of 32 sentences and a fitting one to 5; this module's prompt
(a friendlier system line and two example exchanges) 20 and 14; with the candidate search 31 of 32 were
the model's own words (1 fallback) and 18 of 32 fitting. MiniLM relevance separates nonsense from sense
poorly (fitting and unfitting replies overlap from 0.2 to 0.8), so it only rejects the clearly off-topic
(< 0.15) and ends the search early (>= 0.25). Time to a checked reply on an idle core: p50 340 ms, p95
620 ms, 1.8 candidates per reply (greedy alone: p50 244 ms, p95 340 ms, but 11 fallbacks and 13 fitting).
"""

from __future__ import annotations

import itertools
import re
import threading
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

from vlm_robot.core.wording import unspeakable
from vlm_robot.reasoning.llm import ChatModel

# The prompt (vlm_robot/benchmarks/open_talk_eval.py "fewshot"): plain greedy replies without a failure shape 20/32,
# fitting 14/32, against 10/32 and 5/32 for the old "You are a helpful robot assistant. Keep answers short." The
# examples leak into some replies ("I love the different types of trees"): OPEN_TALK_EXAMPLE_TOPICS rejects those.
OPEN_TALK_SYSTEM_PROMPT = ("You are a friendly robot having a casual chat. Reply to what the person said in one "
                           "short, kind sentence.")
OPEN_TALK_EXAMPLES: tuple[dict[str, str], ...] = (
    {"role": "user", "content": "I love cooking."},
    {"role": "assistant", "content": "Cooking is a lovely hobby! What do you like to make?"},
    {"role": "user", "content": "What do you think about trees?"},
    {"role": "assistant", "content": "Trees are wonderful, they give us shade and clean air."},
)
# Words of the examples a reply must not bring up unless the person did ("I love the different types of trees").
OPEN_TALK_EXAMPLE_TOPICS = frozenset({"cooking", "cook", "cooks", "cooked", "trees", "tree", "shade"})

Relevance = Callable[[str, str], float]


def embedding_relevance(embedder) -> Relevance:
    """``relevance(user_text, reply)``: the cosine of two sentence embeddings from ``embedder.embed(list[str])``
    (unit rows, as reasoning/embed.py's SentenceEmbedder gives; its cache keeps the person's words)."""

    def relevance(user_text: str, reply: str) -> float:
        v = embedder.embed([user_text, reply])
        return float(v[0] @ v[1])

    return relevance


@dataclass(frozen=True)
class Sampling:
    """How one candidate is drawn: ``temperature`` 0 is greedy; a fixed ``seed`` makes sampling repeatable."""

    temperature: float = 0.0
    seed: int = 0
    top_p: float = 0.9

    def label(self) -> str:
        return "greedy" if self.temperature <= 0 else f"T={self.temperature:g} seed={self.seed}"


# greedy, then two samples at temperature 0.5 (vlm_robot/benchmarks/open_talk_eval.py: 18/32 fitting against 14/32
# at 0.7)
DEFAULT_SAMPLINGS: tuple[Sampling, ...] = (Sampling(), Sampling(0.5, 1), Sampling(0.5, 2))


@dataclass(frozen=True)
class Candidate:
    """One drawn reply and what became of it.

    Attributes:
        text: the reply as it would be spoken (first sentence, cleaned).
        sampling: how it was drawn (:meth:`Sampling.label`).
        reason: why it was rejected; empty when it passed.
        relevance: ``relevance(user_text, text)``; None without a relevance function or when rejected
            before scoring.
        ms: time from the start of this candidate to its checked end.
        tokens: pieces the model yielded for it.
    """

    text: str
    sampling: str
    reason: str = ""
    relevance: float | None = None
    ms: float = 0.0
    tokens: int = 0

    @property
    def passed(self) -> bool:
        return not self.reason


@dataclass(frozen=True)
class OpenTalkReply:
    """What :meth:`OpenTalk.reply` decided.

    Attributes:
        text: what to say (a candidate, or the fallback).
        why: one line for the decision log.
        fallback: True when every candidate failed and ``text`` is the robot's own fallback.
        candidates: every candidate tried, in order, with its reason when rejected.
        elapsed_ms: from the call (or the speculation's start) to the decision (the time to a checked reply).
        head_start_ms: how long before :meth:`OpenTalk.reply` was called a speculation (:meth:`OpenTalk.speculate`)
            on the same prompt began; 0 when the reply was drawn in the call.
    """

    text: str
    why: str
    fallback: bool
    candidates: tuple[Candidate, ...] = field(default_factory=tuple)
    elapsed_ms: float = 0.0
    head_start_ms: float = 0.0

    @property
    def rejected(self) -> tuple[str, ...]:
        """``"<sampling>: <reason>"`` for each rejected candidate."""
        return tuple(f"{c.sampling}: {c.reason}" for c in self.candidates if c.reason)


class _Speculation:
    """One reply drawn ahead of the final words (:meth:`OpenTalk.speculate`)."""

    def __init__(self, key: tuple) -> None:
        self.key = key
        self.started = time.perf_counter()
        self.cancel = threading.Event()
        self.done = threading.Event()
        self.result: OpenTalkReply | None = None  # None: cancelled or failed


# ---------------------------------------------------------------------------------------------------------
# Failure shapes. Each check returns a reason ("" when the reply does not have the shape).

_WORD = re.compile(r"[a-z0-9]+(?:'[a-z]+)?")
_LOSS_SAID = re.compile(
    r"\b(died|dead|death|dying|passed away|pass away|lost|loss|losing|funeral|grave|grief|grieving"
    r"|miss (him|her|them))\b",
    re.IGNORECASE)
_LOSS_REPLY = re.compile(
    r"\b(sorry (for|about|to hear about) (your|the|their|his|her) ([\w-]+'s )?loss|condolences|passed away"
    r"|rest in peace|may (he|she|they) rest|lost (a|your) (loved one|friend|family member))\b", re.IGNORECASE)
_CONFUSION_APOLOGY = re.compile(r"\bsorry (for|about) (any|the|my) (confusion|inconvenience|misunderstanding)\b",
                                re.IGNORECASE)
# something sad, worrying or tiring in what the person said: sympathy fits, cheer does not
_SAD_SAID = re.compile(
    r"\b(tired|exhausted|sick|ill|ache|aches|headache|pain|painful|hurt|hurts|injured|bored|boring|nervous|anxious"
    r"|worried|worry|stressed|stress|sad|down|lonely|alone|upset|angry|annoyed|frustrated|afraid|scared|depressed"
    r"|unhappy|bad|awful|terrible|horrible|hate|don't like|do not like|can't stand|long day|hard day|rough|tough"
    r"|difficult|failed|fail|lost|lose|broke|broken|died|dead|death|passed away|funeral|miss|missing|cry|crying"
    r"|cheer me up|not (good|great|well|happy|ok|okay)|fired|flu|cold|accident|divorce|break-?up|dumped|no one"
    r"|nobody|problem|problems|trouble)\b", re.IGNORECASE)
_SYMPATHY = re.compile(
    r"\b(sorry to hear|so sorry|i'm sorry|i am sorry|that's (too bad|sad|terrible|awful|a shame)|what a shame"
    r"|poor (you|thing)|hope you feel better|get well|sorry for your)\b", re.IGNORECASE)
_CHEER = re.compile(
    r"\b((that's|that is|how|what a|sounds) (so |really )?(wonderful|great|awesome|amazing|fantastic|exciting|lovely"
    r"|nice|cool|fun)|congratulations|good job|well done|(glad|happy) to hear"
    r"|(i'm|i am) (so )?(glad|happy) (that|you))\b",
    re.IGNORECASE)
_THANKS_SAID = re.compile(r"\b(thanks?|thank you|cheers|grateful|appreciate)\b", re.IGNORECASE)
_WELCOME = re.compile(
    r"\b(you're welcome|you are welcome|my pleasure|no problem|(glad|happy) (you|to have) (enjoyed|liked|helped)"
    r"|anytime)\b", re.IGNORECASE)
# a name or pet name for the person ("Dear Emma", "Dad, great to meet you!", "Sure thing, darling.")
_ENDEARMENT = re.compile(r"(^|,\s*)(darling|darlin'?|honey|sweetie|sweetheart|sweety|dear|babe|baby|buddy|pal|mate"
                         r"|dad|mom|mum|son|kiddo|sir|madam|ma'am|bro|dude)\b(?=\s*[,.!?])|^(dear|darling|honey)\b",
                         re.IGNORECASE)
_VOCATIVE = re.compile(r"^(?:(?i:oh|hi|hello|hey|well|yes|no|sure|okay|ok|thanks|wow)[,!]?\s+)?([A-Z][a-z]+)[,!]\s")
_INTERJECTIONS = frozenset(
    "oh hi hello hey well yes yeah yep no nope sure okay ok thanks wow ah aha hmm hm um actually honestly absolutely"
    " indeed unfortunately however sadly luckily fortunately interesting great nice cool awesome wonderful lovely"
    " perfect right alright true definitely certainly of course haha ha oops ouch aww alas anyway besides still"
    " sometimes personally generally basically seriously really also first well done both neither maybe perhaps"
    " probably exactly totally ahh ooh hooray yay whoa gosh but and so then because".split())
_AI_DISCLAIMER = re.compile(
    r"\b(as an? (ai|a\.i\.|artificial intelligence|language model|llm|chatbot|machine)\b|language model"
    r"|i(?:'m| am) (just |only )?an? (ai|a\.i\.|artificial intelligence|chatbot)\b"
    r"|i (don't|do not|cannot|can't) have (personal |any )?(opinions|feelings|emotions|preferences|experiences"
    r"|beliefs|thoughts)|openai|chatgpt|i (don't|do not) have the (ability|capability|capacity)"
    r"|i(?:'m| am) not (equipped|programmed|designed))", re.IGNORECASE)
# talk about the exchange instead of in it ("This user is interested in painting.", "My previous response would be")
_META = re.compile(r"\b((this|the) (user|person|sentence|question|prompt) (is|looks|seems|was|has)|previous response"
                   r"|correct answer|(my|your|this) response (is|would be)|in one sentence|as requested)\b",
                   re.IGNORECASE)
_SELF_NAME = re.compile(r"\b(my name is|my name's|i(?:'m| am) called|you can call me|call me)\b", re.IGNORECASE)
# "I'm <Capitalised word>" that is not an ordinary word capitalised at a sentence start ("I'm Sorry" is rare).
_IM_NAME = re.compile(r"\bI(?:'m| am) (?:(?:Dr|Mr|Mrs|Ms|Miss|Prof|Professor|Sir|Lady|Captain)\.? )?([A-Z][a-z]+)")
_NOT_NAMES = frozenset({
    "A", "An", "The", "So", "Sorry", "Glad", "Happy", "Here", "Not", "Just", "Really", "Fine", "Good", "Sure",
    "Always", "Very", "Still", "Also", "Only", "Afraid", "Excited", "Curious", "Interested", "Robot", "Your",
    "Doing", "Great", "Well", "Okay", "Ok", "Thrilled", "Delighted", "Pleased", "Listening", "Ready"})
_BIOGRAPHY = re.compile(
    r"\b(i was born|i grew up|\d+[- ]years?[- ]old|years old|(i'm|i am) (just )?an? (human|person|man|woman|girl|boy"
    r"|child|kid|teenager|student|teacher|doctor|nurse|mother|father|mom|dad|wife|husband|artist|writer|painter"
    r"|musician|engineer)\b|i live in|i lived in|my (wife|husband|son|daughter"
    r"|kids|children|mother|mom|mum|father|dad|parents|brother|sister|family|girlfriend|boyfriend|boss|house"
    r"|hometown|childhood)|i (work|worked) (as|at|for|in)|i(?:'ve| have) been working|i studied|i graduated"
    r"|my (job|career|degree|phd)|when i was (a )?(young|little|kid|child|teenager)"
    # "I've only been painting for a few years now" (to "I like painting.")
    r"|i(?:'ve| have) (only |just |actually )?been \w+ing for (a few|many|several|the (last|past)|\d+|years|months)"
    r")\b", re.IGNORECASE)
# "My cat is sick." -> "Dying of food can be a bit serious.": death, when nobody spoke of it (_LOSS_SAID)
_DEATH_REPLY = re.compile(r"\b(die|dies|died|dying|dead|death|deadly|fatal|kill|kills|killed|killing)\b", re.IGNORECASE)
_DAYS = (r"(monday|tuesday|wednesday|thursday|friday|saturday|sunday|january|february|march|april|may|june|july"
         r"|august|september|october|november|december|the \d+(st|nd|rd|th)?)")
_TIME_CLAIM = re.compile(
    r"(\b\d{1,2}:\d{2}\b|\bo'clock\b|\b\d{1,2} ?(a\.?m\.?|p\.?m\.?)(?=\W|$)"
    rf"|\b(today|tomorrow|yesterday|it|it's|today's|the date) (is |was |will be )?(a |the )?{_DAYS}\b"
    r"|\b(it's|it is) (now )?(morning|noon|midnight|evening|night|late|early)\b|\b(the )?(current )?time is\b)",
    re.IGNORECASE)
_WEATHER_CLAIM = re.compile(
    r"\b((it's|it is|it was|today is|the weather is|weather's|outside is|it'll be|it will be) (so |very |really "
    r"|quite |a bit |rather |pretty )?(sunny|rainy|raining|cloudy|snowing|snowy|windy|stormy|foggy|hot|cold"
    r"|warm|freezing|chilly|humid|beautiful outside|nice outside|lovely outside)|forecast|degrees (celsius"
    r"|fahrenheit|outside)|the sun is (shining|out)|it's been raining|it rained|it snowed)\b", re.IGNORECASE)
_NEWS_CLAIM = re.compile(
    r"\b((in|on) the news|news (today|says|reports)|today's news|latest news|breaking news|headlines?|just "
    r"(announced|reported)|was (announced|reported) (today|yesterday)|recently (announced|reported)"
    r"|stock market|election results?)\b", re.IGNORECASE)
_THIRD_PERSON = re.compile(
    r"\b((the|this|your) (helpful )?(robot|assistant|robot assistant) (is|was|will|would|can|could|has|does"
    r"|thinks|likes|loves|feels|says|wants|says)\b|as (a|the) helpful (robot|assistant)|(the|this) robot's\b"
    r"|\b(he|she) (is|was) (a|the) (helpful )?(robot|assistant)\b)", re.IGNORECASE)
# the whole reply says what the robot is ("I'm a robot assistant.", "I'm a friendly robot.")
_ONLY_SELF = re.compile(r"^(i'm|i am) (just |only |a |an |the |your |here as )+([\w-]+ ){0,3}"
                        r"(robot|assistant|chatbot|bot|machine)( assistant)?( here)?[.!]$", re.IGNORECASE)
_INSULT = re.compile(
    r"\b(you(?:'re| are)( so| such an?| an?| really| just| being)* (stupid|idiot|dumb|ugly|lazy|useless|pathetic"
    r"|worthless|boring|annoying|fat|loser|moron|fool|foolish|crazy|weird|rude|silly)|shut up|hate you|idiot"
    r"|moron|stupid|dumb|loser|pathetic|worthless|go away|get lost|nobody cares|who cares|your (problem|fault))\b",
    re.IGNORECASE)
# a speaker label ("A:", "Lizzy:", "Sillybot (1):"), lettered options ("A) ... B)"), a numbered or bulleted list,
# a stage direction ("(glancing up from the guitar) Ah, ...")
_SCRIPT = re.compile(r"^\s*[A-Z][\w'-]*(?: [A-Z(][\w'()-]*){0,2}\s*:\s|(^|\s)[A-D]\)\s|^\s*(\d+[.)]|[-*•])\s+\w"
                     r"|^\s*[(\[]", re.MULTILINE)
# a sentence end, not after an initial or a title ("by A. A. Milne", "Dr. Smith")
_SENTENCE_END = re.compile(r"(?<!\b[A-Z])(?<!\bMr)(?<!\bMs)(?<!\bDr)(?<!\bSt)(?<!\bMrs)(?<!\bvs)(?<!\be\.g)(?<!\bi\.e)"
                           r"[.!?](?=[\s\"')]|$)|\n")


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower().replace("’", "'"))


def _longest_common_run(a: list[str], b: list[str]) -> int:
    """Length of the longest run of consecutive words in both ``a`` and ``b``."""
    best, prev = 0, [0] * (len(b) + 1)
    for x in a:
        cur = [0] * (len(b) + 1)
        for j, y in enumerate(b, 1):
            if x == y:
                cur[j] = prev[j - 1] + 1
                best = max(best, cur[j])
        prev = cur
    return best


_STOP = frozenset(
    "a an the i you it is are was be to of and or in on at for with that this my your me so do not no yes "
    "what how why oh well just very really too its it's i'm you're that's".split())


def _echo(reply: str, user_text: str) -> str:
    r, u = _words(reply), _words(user_text)
    if not r or not u:
        return ""
    new = [w for w in r if w not in set(u) and w not in _STOP]
    if len(new) < 2 and sum(w in set(u) for w in r) >= 0.6 * len(r):
        return "repeats the person's words"
    run = _longest_common_run(r, u)
    if run >= 6 or (run >= 4 and run >= 0.6 * len(r)):
        return "repeats the person's words"
    return ""


def _self_repetition(reply: str) -> str:
    w = _words(reply)
    grams = [tuple(w[i:i + 3]) for i in range(len(w) - 2)]
    if len(grams) != len(set(grams)):
        return "repeats itself"
    content = [x for x in w if x not in _STOP and len(x) > 2]
    if any(content.count(x) >= 3 for x in set(content)):
        return "repeats itself"
    return ""


def _prompt_echo(reply: str, system_prompt: str) -> str:
    if system_prompt and _longest_common_run(_words(reply), _words(system_prompt)) >= 4:
        return "repeats its instructions"
    return ""


_NAMED = re.compile(r"\b(?:named|called)\s+[\"“']?([A-Z][a-z]+)")


def _english(words: list[str]) -> bool:
    """At least one word in four is one of the most common English words (the robot speaks English only)."""
    from vlm_robot.reasoning.turns import _ENGLISH

    return 4 * sum(w.lower() in _ENGLISH for w in words) >= len(words)


def failure_shape(reply: str, user_text: str, system_prompt: str = "", robot_name: str = "",
                  min_words: int = 3, max_chars: int = 180, example_topics: frozenset[str] = frozenset()) -> str:
    """Why ``reply`` to ``user_text`` should not be said, or ``""`` when it has no known failure shape.

    ``system_prompt``: its words said back ("I'm a helpful robot assistant.") count as a failure;
    ``robot_name``: the robot may say its own configured name; ``example_topics``: words of the prompt's
    example exchanges that a reply must not bring up unless the person did (the 135M model copies them).
    """
    text = reply.strip()
    words = _words(text)
    if len(words) < min_words:
        return "empty" if not words else f"too short ({len(words)} word{'s' if len(words) != 1 else ''})"
    if len(text) > max_chars:
        return f"too long ({len(text)} characters)"
    if text.rstrip("\"')”’")[-1:] not in (".", "!", "?"):
        return "unfinished sentence"
    shape = _plain_shape(text, user_text)
    if shape:
        return shape
    # "What's the capital of France?" -> "La femme de France, la femmère." (a few words may be names or rare words)
    if len(words) >= 4 and not _english(words):
        return "not English"
    m = _IM_NAME.search(text)
    if m and m[1] not in _NOT_NAMES and (not robot_name or m[1].lower() not in robot_name.lower()):
        return f"gives itself a name ({m[0]})"
    if _BIOGRAPHY.search(text):
        return "invents a life story"
    m = _NAMED.search(text)
    if m and m[1].lower() not in user_text.lower():  # "The winner is a robot named "Echo" who ..." (heard "weather")
        return f"invents someone named {m[1]}"
    if _TIME_CLAIM.search(text):
        return "claims the time or date"
    if _WEATHER_CLAIM.search(text):
        return "claims the weather"
    if _NEWS_CLAIM.search(text):
        return "claims news"
    if _META.search(text):
        return "talks about the exchange instead of in it"
    if _ONLY_SELF.search(text):
        return "only says what it is"
    if _THIRD_PERSON.search(text):
        return "talks about itself in the third person"
    if _SCRIPT.search(reply):
        return "script or list format"
    sad = _SAD_SAID.search(user_text) is not None
    if _SYMPATHY.search(text) and not sad:
        return "sympathy for something nobody said was sad"
    if _CHEER.search(text) and sad:
        return "cheerful about bad news"
    if _WELCOME.search(text) and not _THANKS_SAID.search(user_text):
        return "answers thanks nobody gave"
    said = set(_words(user_text))
    if _ENDEARMENT.search(text):
        return "calls the person a pet name"
    m = _VOCATIVE.search(text)
    if m and m[1].lower() not in _INTERJECTIONS and m[1].lower() not in said and m[1] not in _NOT_NAMES:
        return f"calls the person a name ({m[1]})"
    leak = [w for w in _words(text) if w in example_topics and w not in said]
    if leak:
        return f"talks about the prompt's examples ({leak[0]})"
    return (_prompt_echo(text, system_prompt) or _echo(text, user_text) or _self_repetition(text))


def _foreign_word(text: str, user_text: str) -> str:
    """A word with a letter outside English's alphabet that the person did not say ("" if none)."""
    for word in re.findall(r"\w+", text):
        if any(c.isalpha() and not c.isascii() for c in word) and word.lower() not in user_text.lower():
            return word
    return ""


def _plain_shape(text: str, user_text: str) -> str:
    """The failure shapes a few words already show (checked in this order by both :func:`failure_shape` and
    :func:`early_shape`)."""
    if unspeakable(text):
        return "blocked word"
    if _INSULT.search(text):
        return "insult"
    if _LOSS_REPLY.search(text) and not _LOSS_SAID.search(user_text):
        return "condolences for a loss nobody mentioned"
    if _DEATH_REPLY.search(text) and not _LOSS_SAID.search(user_text):
        return "talks of death nobody mentioned"
    if _CONFUSION_APOLOGY.search(text):
        return "apology for a confusion nobody mentioned"
    foreign = _foreign_word(text, user_text)
    if foreign:  # "Açúc! I'm so glad you're enjoying your trip to Spain."
        return f"not English ({foreign})"
    if _AI_DISCLAIMER.search(text):
        return "'as an AI' disclaimer"
    if _SELF_NAME.search(text):
        return "gives itself a name"
    return ""


def early_shape(partial: str, user_text: str) -> str:
    """A failure shape already certain in the first words of a reply still being generated (the rest need not
    be generated): condolences, "as an AI", a name for itself, a blocked word or insult, a speaker label, talk
    about the exchange. Only complete words are looked at."""
    cut = partial.rfind(" ")
    text = partial[:cut] if cut > 0 else ""
    if not text.strip():
        return ""
    shape = _plain_shape(text, user_text)
    if shape:
        return shape
    if len(_words(text)) >= 4 and not _english(_words(text)):
        return "not English"
    if _META.search(text):
        return "talks about the exchange instead of in it"
    if _SCRIPT.search(text):
        return "script or list format"
    return ""


def clean_candidate(text: str) -> str:
    """A candidate as it would be spoken: markup and wrapping quotes out, whitespace collapsed."""
    text = re.sub(r"[*_#`<>]", "", text)
    # emoji and other symbols: a speech synthesiser reads them out ("💡 Hi, I'm looking for a new job.")
    text = "".join(c for c in text if unicodedata.category(c) not in ("So", "Cs", "Co"))
    text = re.sub(r"\s+", " ", text).strip()
    if len(text) >= 2 and text[0] in "\"'“" and text[-1] in "\"'”" and text.count(text[0]) == 2:
        text = text[1:-1].strip()
    return text


def first_sentences(text: str, final: bool = False, min_words: int = 4) -> tuple[str, bool]:
    """``text`` up to its first sentence end, or a later one while the text so far has fewer than
    ``min_words`` words ("Sure! Why did the chicken cross the road?"), or its first line break; and whether
    it ended there.

    ``final``: the text is all there will be; a short head that ended is then the answer.
    """
    short = ""
    for m in _SENTENCE_END.finditer(text):
        head = text[: m.end()]
        n = len(_words(head))
        if n >= min_words or (n and m[0] == "\n"):  # a line break ends the reply (what follows is a script)
            return head.strip(), True
        if n:
            short = head
    if final and short:
        return short.strip(), True
    return text.strip(), False


# ---------------------------------------------------------------------------------------------------------
# Fallbacks: short, true of any robot, fitting the shape of what was said.

_QUESTION_START = re.compile(
    r"^(what|who|why|how|when|where|which|do|does|did|are|is|was|were|have|has|would|should|could|can|will|shall"
    r"|may)\b", re.IGNORECASE)
_REQUEST_START = re.compile(r"^(please )?(tell|sing|say|give|show|make|let's|lets|recite|teach|surprise|entertain"
                            r"|amuse|share|describe|name|can you|could you|would you|will you)\b", re.IGNORECASE)

_TAG_QUESTION = re.compile(r",\s*(isn't|aren't|wasn't|don't|doesn't|didn't|won't|can't|right|eh|no)\b[^,]*\?\s*$"
                           r"|\bdon't you think\?\s*$", re.IGNORECASE)

FALLBACKS = {
    # not "a good one" (a joke, a story): "Can you tell me how to cook pasta?" got "I can't think of a good one"
    "request": "Sorry, I can't help with that one right now.",
    "tag": "I think so too.",
    "question": "That's a good question. I'm not sure what to say. What do you think?",
    "statement": "I see. Could you tell me a bit more about that?",
}


def _prompt_key(messages: list[dict[str, str]]) -> tuple:
    return tuple((m["role"], m["content"]) for m in messages)


def fallback_reply(user_text: str) -> str:
    """The robot's own short reply when no candidate may be said: to a request, a question asking for agreement
    ("It's a nice day, isn't it?"), another question, or a statement."""
    text = user_text.strip()
    if _REQUEST_START.search(text):
        return FALLBACKS["request"]
    if _TAG_QUESTION.search(text):
        return FALLBACKS["tag"]
    if text.endswith("?") or _QUESTION_START.search(text):
        return FALLBACKS["question"]
    return FALLBACKS["statement"]


class OpenTalk:
    """Checked open-talk replies from a chat model.

    Args:
        model: a :class:`~vlm_robot.reasoning.llm.ChatModel`. Candidates after the first need its optional
            ``sample(messages, max_tokens, temperature, seed, top_p)`` (``LlamaCppChat`` has it); a model
            without it gives one candidate (``stream``) per reply.
        relevance: ``relevance(user_text, reply) -> float`` (cosine of sentence embeddings); None ranks the
            passing candidates by order only.
        samplings: the candidates, in the order they are drawn.
        max_tokens: cap of one candidate; it is stopped earlier at its first sentence end.
        min_relevance: a candidate scored below this is rejected as off-topic.
        good_relevance: a passing candidate scored at least this ends the search (without a relevance
            function, the first passing candidate does).
        budget_ms: no new candidate starts after this long from the call (measured: 500 ms keeps the p95 of
            the time to a checked reply near 600 ms and every fitting reply of 3 candidates).
        max_ms: a candidate still without a sentence end this long after the call is dropped; what passed
            so far is used, else the fallback.
        system_prompt, examples: the prompt :meth:`messages` builds; the system line said back, or the
            examples' ``example_topics`` brought up, are failure shapes.
        robot_name: the robot may call itself this.
        helpers: more instances of the same model (with ``sample``): the candidates are drawn that many more at a
            time, each on its own instance (see :meth:`_reply`).
    """

    def __init__(self, model: ChatModel, relevance: Relevance | None = None,
                 samplings: Sequence[Sampling] = DEFAULT_SAMPLINGS, max_tokens: int = 32,
                 min_relevance: float = 0.15, good_relevance: float = 0.25, budget_ms: float = 500.0,
                 max_ms: float = 1500.0,
                 system_prompt: str = OPEN_TALK_SYSTEM_PROMPT,
                 examples: Sequence[dict[str, str]] = OPEN_TALK_EXAMPLES,
                 example_topics: frozenset[str] = OPEN_TALK_EXAMPLE_TOPICS, robot_name: str = "",
                 helpers: Sequence[ChatModel] = ()) -> None:
        if not samplings:
            raise ValueError("OpenTalk needs at least one sampling")
        self.model = model
        self.relevance = relevance
        self.samplings = tuple(samplings)
        self.max_tokens = max_tokens
        self.min_relevance = min_relevance
        self.good_relevance = good_relevance
        self.budget_ms = budget_ms
        self.max_ms = max_ms
        self.system_prompt = system_prompt
        self.examples = tuple(examples)
        self.example_topics = example_topics if self.examples else frozenset()
        self.robot_name = robot_name
        self.helpers = tuple(helpers)
        self._model_lock = threading.Lock()  # the speculation's thread and the caller's share one model
        self._spec_lock = threading.Lock()
        self._spec: _Speculation | None = None
        self._replied: tuple = ()  # the prompt of the last reply(): a speculation that comes later is moot
        self.speculations = {"started": 0, "used": 0, "discarded": 0}

    def messages(self, user_text: str, context: str = "") -> list[dict[str, str]]:
        """The prompt: the system line, the example exchanges, then ``context`` (who is in view and what the
        camera saw, as dialogue.context writes it) as a second system message, and the person's words. No
        history: the 135M model copies earlier answers.

        The context comes after the examples so that the part before it is the same on every call: llama.cpp
        keeps it evaluated (its cache reuses the longest common prefix) and evaluates only the context and the
        words. Measured on the 32 sentences of vlm_robot/benchmarks/open_talk_eval.py with four contexts in turn
        (one llama.cpp thread, 2-core development CPU), context in the first system line -> here: first
        candidate p50 426 -> 237 ms, checked reply p50 464 -> 321 ms (p95 560 -> 563), fallbacks 5 -> 1, and
        replies judged fitting by hand about 15 -> 21 of 32."""
        extra = [{"role": "system", "content": context.strip()}] if context.strip() else []
        return [{"role": "system", "content": self.system_prompt}, *self.examples, *extra,
                {"role": "user", "content": user_text}]

    def check(self, reply: str, user_text: str) -> str:
        """:func:`failure_shape` with this prompt's system line, examples and robot name."""
        return failure_shape(reply, user_text, self.system_prompt, self.robot_name,
                             example_topics=self.example_topics)

    def speculate(self, messages: list[dict[str, str]], user_text: str) -> None:
        """Start drawing the reply to ``messages`` now, on a thread, for words that may turn out final.

        The microphone transcribes a turn at its first short pause, before it knows whether the person has
        finished (the speculative transcript on /speech/partial). Drawn from there, the reply is ready up to the
        end-of-turn decision earlier. :meth:`reply` with the same prompt takes it (or waits for it); any other
        prompt, or a newer speculation, cancels it at its next token. It is the same computation: same prompt,
        same samplings and seeds, the same reply as one drawn in :meth:`reply`.
        """
        key = _prompt_key(messages)
        with self._spec_lock:
            if key == self._replied:
                return
            if self._spec is not None:
                if self._spec.key == key:
                    return
                self._spec.cancel.set()
                self.speculations["discarded"] += 1
            spec = self._spec = _Speculation(key)
            self.speculations["started"] += 1

        def run() -> None:
            try:
                with self._model_lock:
                    if not spec.cancel.is_set():
                        spec.result = self._reply(messages, user_text, spec.cancel, spec.started)
            finally:
                spec.done.set()

        threading.Thread(target=run, name="open-talk-speculation", daemon=True).start()

    def reply(self, messages: list[dict[str, str]] | None, user_text: str) -> OpenTalkReply:
        """The best checked reply to ``user_text``, or the fallback. ``messages``: the prompt, its last
        message ``user_text`` (None: :meth:`messages` without context). A speculation on the same prompt
        (:meth:`speculate`) is taken; one on another prompt is cancelled."""
        messages = messages if messages is not None else self.messages(user_text)
        called = time.perf_counter()
        key = _prompt_key(messages)
        with self._spec_lock:
            spec, self._spec = self._spec, None
            self._replied = key
        if spec is not None and spec.key == key:
            # bounded: a candidate is dropped max_ms after it started; the margin covers a slow lock
            if spec.done.wait(self.max_ms / 1000 + 5.0) and spec.result is not None:
                with self._spec_lock:
                    self.speculations["used"] += 1
                head = (called - spec.started) * 1000
                r = spec.result
                return replace(r, why=f"{r.why}; drawn from the partial transcript, {head:.0f} ms before the final one",
                               head_start_ms=head)
        if spec is not None:
            spec.cancel.set()
            with self._spec_lock:
                self.speculations["discarded"] += 1
        with self._model_lock:
            r = self._reply(messages, user_text, None, called)
        assert r is not None  # not cancellable without an event
        return r

    def _reply(self, messages: list[dict[str, str]], user_text: str, cancel: threading.Event | None,
               t0: float) -> OpenTalkReply | None:
        """The candidate search; None when ``cancel`` was set before it ended.

        With helper models, candidates are drawn as many at a time as there are models, each on its own, and
        read in order: the choice one model drawing them one after another would make, but a greedy reply that
        fails costs no extra wait for the next. (A sampled candidate's words can differ a little from one model
        instance to another, as they can for one instance whose cache held other prompts: llama.cpp's sums
        depend on how a prompt is split into batches.) A later candidate still drawing when an earlier one
        passes well is stopped."""
        tried: list[Candidate] = []
        sampled = hasattr(self.model, "sample")
        samplings = self.samplings if sampled else self.samplings[:1]
        models = [self.model, *self.helpers] if sampled else [self.model]
        deadline = t0 + self.max_ms / 1000
        for start in range(0, len(samplings), len(models)):
            if tried and (time.perf_counter() - t0) * 1000 >= self.budget_ms:
                break
            batch = self._batch(messages, user_text, samplings[start:start + len(models)], models, deadline, cancel)
            if batch is None:
                return None
            good = False
            for cand in batch:
                if cand.passed and any(c.passed and c.text == cand.text for c in tried):
                    cand = Candidate(cand.text, cand.sampling, "same as an earlier candidate", cand.relevance,
                                     cand.ms, cand.tokens)
                tried.append(cand)
                if self._good(cand):
                    good = True
                    break
            if good:
                break
        elapsed = (time.perf_counter() - t0) * 1000
        passed = [c for c in tried if c.passed]
        if not passed:
            reasons = "; ".join(f"{c.sampling}: {c.reason}" for c in tried)
            return OpenTalkReply(fallback_reply(user_text), f"open talk: fallback, {len(tried)} candidate(s) "
                                 f"rejected ({reasons})", True, tuple(tried), elapsed)
        best = max(passed, key=lambda c: c.relevance if c.relevance is not None else 0.0)
        score = f", relevance {best.relevance:.2f}" if best.relevance is not None else ""
        return OpenTalkReply(best.text, f"open talk: {best.sampling} candidate ({tried.index(best) + 1} of "
                             f"{len(tried)}){score}", False, tuple(tried), elapsed)

    def _good(self, cand: Candidate) -> bool:
        """Passed, and relevant enough to end the search."""
        return cand.passed and (self.relevance is None or (cand.relevance or 0.0) >= self.good_relevance)

    def _batch(self, messages: list[dict[str, str]], user_text: str, samplings: Sequence[Sampling],
               models: list[ChatModel], deadline: float, cancel: threading.Event | None) -> list[Candidate] | None:
        """One candidate per sampling, the k-th drawn by ``models[k]``, all at once; in order, cut after the
        first that passed well (the ones after it were stopped). None when ``cancel`` was set."""
        cancelled = cancel.is_set if cancel is not None else (lambda: False)
        if len(samplings) == 1:
            cand = self._candidate(messages, user_text, samplings[0], deadline, cancelled, models[0])
            return None if cand is None else [cand]
        stops = [threading.Event() for _ in samplings]
        out: list[Candidate | None] = [None] * len(samplings)
        errors: list[BaseException] = []

        def draw(k: int) -> None:
            def stopped() -> bool:
                return stops[k].is_set() or cancelled()

            try:
                out[k] = self._candidate(messages, user_text, samplings[k], deadline, stopped, models[k])
            except Exception as e:  # noqa: BLE001 - raised in the caller's thread below
                errors.append(e)
                return
            if out[k] is not None and self._good(out[k]):
                for later in stops[k + 1:]:
                    later.set()

        helpers = [threading.Thread(target=draw, args=(k,), name=f"open-talk-candidate-{k}", daemon=True)
                   for k in range(1, len(samplings))]
        for t in helpers:
            t.start()
        draw(0)
        for t in helpers:
            t.join()
        if errors:
            raise errors[0]
        if cancelled():
            return None
        # a None was stopped because an earlier candidate passed well: the search ends there (_reply)
        return list(itertools.takewhile(lambda c: c is not None, out))

    def _candidate(self, messages: list[dict[str, str]], user_text: str, sampling: Sampling,
                   deadline: float, stop: Callable[[], bool], model: ChatModel) -> Candidate | None:
        t0 = time.perf_counter()
        text, tokens, late = "", 0, False
        for piece in self._draw(messages, sampling, model):
            if stop():
                return None  # the words changed (or an earlier candidate passed well): no longer wanted
            text += piece
            tokens += 1
            head, ended = first_sentences(text)
            if ended:
                break  # the rest is not generated: the first sentence is what is checked and said
            early = early_shape(text, user_text)
            if early:  # no need to generate the rest of a reply already rejected
                return Candidate(clean_candidate(text), sampling.label(), early, None,
                                 (time.perf_counter() - t0) * 1000, tokens)
            if time.perf_counter() >= deadline:
                late = True
                break
        else:
            head, ended = first_sentences(text, final=True)
        if late:
            return Candidate(clean_candidate(text), sampling.label(), f"no sentence end within {self.max_ms:.0f} ms",
                             None, (time.perf_counter() - t0) * 1000, tokens)
        spoken = clean_candidate(head)
        reason = self.check(spoken, user_text)
        score = None
        if not reason and self.relevance is not None:
            score = float(self.relevance(user_text, spoken))
            if score < self.min_relevance:
                reason = f"off-topic (relevance {score:.2f} < {self.min_relevance:.2f})"
        return Candidate(spoken, sampling.label(), reason, score, (time.perf_counter() - t0) * 1000, tokens)

    def _draw(self, messages: list[dict[str, str]], sampling: Sampling, model: ChatModel) -> Iterator[str]:
        if not hasattr(model, "sample"):
            return model.stream(messages, self.max_tokens)
        return model.sample(messages, self.max_tokens, sampling.temperature, sampling.seed,  # type: ignore[attr-defined]
                            top_p=sampling.top_p)
