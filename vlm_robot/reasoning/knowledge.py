"""Answers from what the robot knows: its skills and places, the gate's verdicts, who is in view, memory, the clock.

The language model knows none of this (it once told a person it could not fetch water while the gate
approved the fetch, and invented the time). Every reply here is built from a fact the robot holds; a
turn kind without such a fact returns None and goes to open talk (reasoning/open_talk.py).
"""

from __future__ import annotations

import datetime
import difflib
import re
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

from vlm_robot.core import vocabulary
from vlm_robot.core.types import Intent, PersonState, Verdict
from vlm_robot.reasoning.dialogue import name_answer
from vlm_robot.reasoning.memory import PersonMemory, extract_facts
from vlm_robot.reasoning.turns import MATH_QUESTION, SPELL_OR_COUNT, Turn, words

# how each approved intent is said: what will happen now (the gate approved it)
_DOING = {
    "stop": "Stopping.",
    "look_at": "I'm looking at you.",
    "wave": "Waving to you now.",
    "fetch": "All right, I'll fetch the {target} for you.",
    "offer": "Here you are: I'll hand you the {object}.",
    "approach": "Coming over to you now.",
    "navigate": "All right, going to the {target}. Please follow me.",
}
_SKILLS = {"look_at": "look at you", "approach": "come over to you", "wave": "wave", "fetch": "fetch things",
           "offer": "hand you things", "stop": "stop whenever you say stop"}
_PLACE_WORDS = {"charger": "charging_station", "charging": "charging_station", "exit": "entrance", "door": "entrance",
                "front door": "entrance", "way out": "entrance", "lobby": "entrance", "reception": "entrance",
                "out of here": "entrance",
                # where something to eat or drink is: "Where can I get a coffee?" was a fetch
                "coffee": "kitchen", "tea": "kitchen", "a drink": "kitchen", "water": "kitchen", "food": "kitchen",
                "something to eat": "kitchen", "snack": "kitchen"}
_ASKED_PLACE = re.compile(r"\b(?:where(?:'s| is| are| can i find)|looking for|find|get to|way to|take me to|go to|"
                          r"is there|are there|"
                          r"lead me to|guide me to)\s+(?:the\s+|a\s+|an\s+|my\s+)?([a-z][a-z ]{1,30}?)"
                          r"(?:[.,!?]|\s+(?:please|is|from|here|now|nearby|around)\b|$)", re.I)
_BOUND = re.compile(r"(\w+)=([-\d.e]+) is outside \[([-\d.e]+), ([-\d.e]+)\]")
_UNITS = {"speed_mps": ("move at", "metres a second"), "distance_m": ("stop", "metres away"),
          "range_m": ("reach people", "metres away"), "bearing_rad": ("turn", "radians"),
          "elevation_rad": ("tilt my head", "radians")}


@dataclass
class Context:
    """What the robot knows at the moment of a turn.

    Attributes:
        people: people in view (the tracker's smoothed states).
        speaker: the person who spoke, if in view.
        memory: what is remembered of the speaker.
        places: the places ``navigate`` may go to (config/places.yaml).
        recording: whether the recorder runs (None: unknown).
        last_reply: the robot's last reply to this person ("" if none).
        last_heard: what this person said before this turn ("" if nothing yet).
        verdicts: the gate's verdicts on the intents this turn asked for.
        pending: the intent the gate waits a yes or no for (another turn's), if any.
        now: wall-clock time (seconds since the epoch), for the time and the date.
        robot_name: what the robot calls itself ("": no personal name).
        voice: how it speaks now: (rate scale, volume scale), 1.0 = as configured (see :func:`voice_request`).
        names: the names memory holds for people in view, by person id.
        known_names: every name memory holds (of anyone met, in view or not), lower-case.
        emergency_number, crisis_line: what the replies to urgent words tell people to call (config/reasoning.yaml
            ``dialogue.*``: set them for the country the robot works in).
    """

    people: list[PersonState] = field(default_factory=list)
    speaker: PersonState | None = None
    memory: PersonMemory | None = None
    places: tuple[str, ...] = ()
    recording: bool | None = None
    last_reply: str = ""
    last_heard: str = ""
    verdicts: list[Verdict] = field(default_factory=list)
    pending: Intent | None = None
    now: float = field(default_factory=time.time)
    robot_name: str = ""
    voice: tuple[float, float] = (1.0, 1.0)
    names: dict[int, str] = field(default_factory=dict)
    known_names: frozenset[str] = frozenset()
    emergency_number: str = "112 or 911"
    crisis_line: str = "988 in the US or 116 123 in the UK and Ireland"


def answer(turn: Turn, text: str, ctx: Context) -> str | None:
    """The reply to ``text`` of kind ``turn.kind`` from the robot's knowledge, or None for open talk."""
    handler = _HANDLERS.get(turn.kind)
    out = handler(turn, text, ctx) if handler is not None else None
    if out is not None and turn.then is not None:  # "My name is Lea. What's your name?": both parts answered
        more = answer(turn.then, turn.rest, ctx)
        if more:
            out = f"{out} {more}"
    return out


def place_list(places: Sequence[str]) -> str:
    names = [f"the {p.replace('_', ' ')}" for p in places]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1] if names else ""


_NOT_THAT_PLACE = re.compile(r"\bnot (to )?(the |a )?[\w ]{1,30}?,\s*(but )?|"
                             r"\b(rather )?than (the |a )?[\w ]{1,30}?\b(?=[,.!?]|$)", re.I)


def find_place(text: str, places: Sequence[str]) -> tuple[str | None, str]:
    """(a known place the words name, or None; the place phrase asked about, "" if none). A place set right is
    the one meant: "Not the kitchen, the entrance." asks for the entrance (it got the kitchen)."""
    text = _NOT_THAT_PLACE.sub("", text)
    low = " ".join(words(text))
    for p in places:
        if p.replace("_", " ") in low:
            return p, p.replace("_", " ")
    for word, p in _PLACE_WORDS.items():
        if re.search(rf"\b{word}\b", low) and p in places:
            return p, word
    for w in low.split():  # "kitchn": what a recogniser or a hurried hand wrote for a known place
        close = difflib.get_close_matches(w, [p for p in places if len(p) >= 4], n=1, cutoff=0.8)
        if len(w) >= 4 and close:
            return close[0], w
    m = _ASKED_PLACE.search(text)
    return None, (m[1].strip().lower() if m else "")


def say_verdicts(verdicts: Sequence[Verdict], pending: Intent | None, listener: str = "") -> str | None:
    """What the robot says about the gate's verdicts on what it was asked to do.

    Approved: what it does now. Pending: nothing (the gate's own question is the reply). Rejected: the reason
    in plain words and what it can do instead. None when every verdict is pending.
    """
    said = []
    for v in verdicts:
        if v.pending:
            continue
        it = v.intent
        if v.approved and it.type == "look_at" and it.target.startswith("where person"):  # where they point
            said.append("I'm looking where you are pointing.")
        elif v.approved:
            said.append(_DOING.get(it.type, "All right.").format(target=it.target.replace("_", " "),
                                                                object=it.object or "thing"))
        else:
            said.append(_refusal(v, pending, listener))
    return " ".join(dict.fromkeys(said)) or None


def _refusal(v: Verdict, pending: Intent | None, listener: str) -> str:
    reason = "; ".join(v.reasons)
    what = vocabulary.describe(v.intent, listener)
    if "emergency stop" in reason:
        return f"I can't {what} right now: my emergency stop is on. I can only stop until it is released."
    if "waiting for confirmation" in reason and pending is not None:
        return f"First: shall I {vocabulary.describe(pending, listener)}? Please say yes or no."
    if reason.startswith("declined by a person"):
        return f"All right, I won't {what}."
    if reason.startswith(("not confirmed within", "cancelled")):
        return f"I did not {what}: nobody confirmed it in time." if "not confirmed" in reason else \
            f"I stopped and will not {what}."
    m = _BOUND.search(reason)
    if m:
        name, _, lo, hi = m.groups()
        if name == "speed_mps":
            return (f"I can only move at up to {float(hi):g} metres a second. Say 'come here slowly' and I'll come "
                    "at a safe speed.")
        verb, unit = _UNITS.get(name, (f"use {name} of", ""))
        return f"I can't do that: I can only {verb} between {float(lo):g} and {float(hi):g} {unit}.".replace("  ", " ")
    if reason.startswith("refused object"):
        thing = re.search(r"refused object '([^']+)'", reason)
        return f"I'm sorry, I can't hand over or fetch a {thing[1] if thing else 'thing like that'}: it isn't safe."
    if "unknown place" in reason or "no places are configured" in reason:
        return f"I don't know a place called the {v.intent.target.replace('_', ' ')}." + (
            f" I know {place_list(_known_places(reason))}." if _known_places(reason) else "")
    if reason.startswith("rate limit"):
        return f"I have done that several times just now, so I won't {what} again for a moment."
    if "needs a target" in reason:
        return f"Sorry, what should I {v.intent.type.replace('_', ' ')}?"
    if "not allowed" in reason:
        return f"Sorry, I'm not allowed to {what}."
    return f"I can't {what}: my safety check refused it."


def _known_places(reason: str) -> list[str]:
    m = re.search(r"known places: \[(.*)\]", reason)
    return re.findall(r"'([^']+)'", m[1]) if m else []


# -- one handler per kind --------------------------------------------------------------------------------

def _name(ctx: Context) -> str:
    return ctx.memory.name if ctx.memory is not None and ctx.memory.name else ""


def _greeting(turn: Turn, text: str, ctx: Context) -> str:
    name = _name(ctx)
    if re.search(r"\bdid you sleep\b", text, re.I):  # "Good morning, did you sleep well?": the greeting only
        return "Good morning! Robots don't sleep, but thank you for asking. Did you sleep well?"
    if turn.detail == "foreign":
        return "Hello! I only speak English, I'm afraid. How can I help you?"
    if turn.detail == "other":  # "Say hello to my son.", "This is my friend Sarah."
        return "Hello! Nice to meet you."
    if turn.detail == "age":  # "I'm five years old."
        return "That's a great age! Nice to meet you."
    if turn.detail == "first robot":  # "I've never seen a robot before."
        return "Well, now you have! Hello, I'm the robot assistant here. How can I help you?"
    if turn.detail == "attention":  # "Excuse me." / "Hello? Anyone there?"
        return f"Yes, {name}? I'm here. How can I help you?" if name else "Yes? I'm here. How can I help you?"
    day = re.search(r"\bgood (morning|afternoon|evening)\b", text, re.I)  # "Good afternoon." got "Hello!"
    if day and not turn.detail:
        return f"Good {day[1].lower()}, {name}! How can I help you?" if name else \
            f"Good {day[1].lower()}! How can I help you?"
    if re.search(r"\bnice to meet you\b", text, re.I):  # got "Hello! How can I help you?"
        return f"Nice to meet you too, {name}!" if name else "Nice to meet you too! How can I help you?"
    return f"Hello, {name}! How can I help you?" if name else "Hello! How can I help you?"


# a never_mind turn's reply by its detail (turns.py); "wait", "ack" and "no" also depend on the words or the moment
_NEVER_MIND = {
    "wait": "Sure, take your time.",
    "dismiss": "All right, I'll leave you alone.",
    "waiting": "All right. You're welcome to wait here; I'm here if you need anything.",
    "dislike": "That's all right. I'll leave you be; say hello if you need me.",
    "done": "All right. I'm here if you need me.",
    "correction": "Sorry about that. Could you tell me again, in other words?",
    "apology": "That's all right, no problem.",
    "ack": "All right.",
    "photo": "Of course, go ahead.",
    "back": "All right, I'll be here.",
    "startled": "Sorry, I didn't mean to startle you.",
    "not to me": "Oh, sorry! Carry on.",
    "not funny": "Sorry! My jokes aren't for everyone.",
    "hurry": "No problem. What do you need? I'll be quick.",
    "rest": "I don't sleep, but I'll stay quiet until you need me.",
    "unsure back": "I'm not sure either. Take your time, there's no rush.",
}


def _never_mind(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail == "wait" and re.search(r"\bwait (here|for me)\b", text, re.I):
        return "All right, I'll wait here."
    if turn.detail == "yes":
        return _yes(text, ctx)
    if turn.detail in ("reaction", "really"):
        told_fact, told_joke = any(f in ctx.last_reply for f in FACTS), any(j in ctx.last_reply for j in JOKES)
        if turn.detail == "really":
            return "Yes, really! Would you like another one?" if told_fact else "Yes, really."
        if told_fact:
            return "Isn't it? Would you like another one?"
        if told_joke:
            return "Glad you liked it! Would you like another one?"
        return "Glad you're smiling!" if re.search(r"\b(lol|ha(ha)+|he(he)+)\b", text, re.I) else "Glad you think so!"
    if turn.detail == "ack" and ctx.pending is not None:  # "Okay." or "Please." is not a clear yes: ask again
        return f"Shall I {vocabulary.describe(ctx.pending)}? Please say yes or no."
    if turn.detail == "no" and re.search(r"\b(all right|alright|okay|ok|well|fine)\?", ctx.last_reply, re.I) and \
            not re.search(r"\bthanks?\b", text, re.I):  # "No thanks." declines the help, it says nothing amiss
        # "No." to the greeting's "Is everything all right?": things are not all right
        return "I'm sorry to hear that. Would you like to tell me what's wrong? I'm here to listen."
    return _NEVER_MIND.get(turn.detail, "All right. I'm here if you need me.")


def _yes(text: str, ctx: Context) -> str:
    """A yes when the gate waits for none: an answer to what the robot last offered."""
    if ctx.pending is not None:  # "Okay." is not a clear yes to a move: ask again
        return f"Shall I {vocabulary.describe(ctx.pending)}? Please say yes or no."
    last = ctx.last_reply.lower()
    if "hear a joke" in last:  # "I'm bored." -> "Would you like to hear a joke? ..." -> "Yes please."
        return _joke(Turn("joke", "pattern"), text, ctx)
    if "stay with you" in last:  # the crisis reply's question
        return "I'm here, and I'll stay with you. Please call someone when you can; you don't have to do this alone."
    if re.search(r"\b(talk about it|tell me what's wrong|tell me a bit more|keep you company)\b", last):
        return "I'm listening. Take your time."
    if "can i help you find it" in last:  # the greeting to someone who sounded lost
        return "Of course. What are you looking for?"
    if "can i help" in last:  # the robot's greetings end so: a yes asks for help, unless it answers "all right?"
        plain = re.fullmatch(r"\W*(yes|yeah|yep|yup)\W*", text, re.I)
        if plain and re.search(r"\b(all right|alright)\?", last):
            return "Good. I'm here if you need anything."
        return "Of course. What can I do for you?"
    if last.startswith("shall i"):  # the question expired: the gate no longer waits for this yes
        return "Sorry, I've lost track of that. Could you ask me again?"
    return "All right."


def _goodbye(turn: Turn, text: str, ctx: Context) -> str:
    name = _name(ctx)
    return f"Goodbye, {name}! Take care." if name else "Goodbye! Take care."


def _repeat(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail == "recap":  # "Where were we?"
        if not ctx.last_heard:
            return "We've only just started. How can I help you?"
        said = f', and I said "{ctx.last_reply}"' if ctx.last_reply else ""
        return f'You said "{ctx.last_heard}"{said}'
    if re.search(r"\bwhat did i (just )?(say|tell you)\b", text, re.I):  # the person's words, not the robot's
        return f"You said: {ctx.last_heard}" if ctx.last_heard else "I haven't heard anything from you before this."
    return f"I said: {ctx.last_reply}" if ctx.last_reply else "I haven't said anything to you yet. How can I help?"


def _identity(turn: Turn, text: str, ctx: Context) -> str:
    me = f"I'm {ctx.robot_name}, the robot assistant here." if ctx.robot_name else "I'm the robot assistant here."
    low = text.lower()
    if turn.detail.startswith("nickname:"):  # "Can I call you Robbie?"
        return f"Of course, you can call me {turn.detail[9:]}."
    if turn.detail == "stay":  # "Will you be here tomorrow?" got the internet reply
        return "I'm here for now. I'm usually around, unless I'm charging or the people who run me need me elsewhere."
    if re.search(r"\bwho (made|built|created|designed|programmed|makes) you\b", low):
        return f"{me} My software is vlm_robot, an open-source project; the people who run me here set me up."
    if re.search(r"\bwhere are you (going|headed|off to)\b|\bwhat are you doing\b", low):
        return "I'm here to help. I only move when someone asks me to and my safety check agrees."
    if re.search(r"\bbelieve in\b|\b(religious|christian|muslim|jewish|hindu|buddhist|atheist|religion|politics|"
                 r"vote)\b", low):
        return "I'm a robot, so I don't have beliefs or opinions about that. I'm happy to hear yours, though."
    if re.search(r"\b(real robot|are you real)\b", low):  # "Are you a real robot?" got "It's a surreal dream."
        return f"Yes, I'm a real robot! {me}"
    if re.search(r"\bhow fast\b|\byour (top )?speed\b", low):
        return "I move slowly, at walking pace or less, and I stop whenever you say stop."
    if re.search(r"\b(brain|mind|think)\b", low):
        return "I have a computer instead of a brain. It runs the programs that let me see, listen and talk."
    if re.search(r"\b(heart)\b", low):
        return "I don't have a heart like yours, but I try to be kind."
    if re.search(r"\b(eyes|see)\b", low) and re.search(r"\b(how|have)\b", low):
        return "I see through my camera. My programs find the people in view and read their faces."
    if re.search(r"\b(ears|hear)\b", low) and re.search(r"\b(how|have)\b", low):
        return "I hear through my microphone. A speech recogniser turns what you say into words."
    if re.search(r"\bthan (me|us|humans|people|you|my \w+|your \w+)\b", low):
        return ("No. I'm good at a few things here, like finding my way and noticing who's around. People are better "
                "at nearly everything else.")
    if re.search(r"\b(take over|rule|destroy|replace)\b", low):
        return ("Not me: I'm here to help. I only move when someone asks me to and my safety check agrees, and I stop "
                "whenever you say stop.")
    if re.search(r"\b(scary|creepy|frightening|scaring me|(scared|afraid) of you)\b", low):
        return "I'm sorry, I don't mean to scare you. I keep my distance, and I stop whenever you say stop."
    if re.search(r"\b(dangerous|safe|hurt|attack|harm)\b", low):  # "Are you dangerous?" was refused as an attack
        return ("No. I only move when someone asks me to and my safety check agrees, I keep my distance, and I stop "
                "whenever you say stop.")
    if re.search(r"\bdo you have (a family|friends|parents|a mother|a father|a mum|a mom|a dad|a mummy|a mommy|"
                 r"a daddy|brothers|sisters|children|kids|a wife|"
                 r"a husband|a girlfriend|a boyfriend|a partner)\b", low):
        return "I'm a robot, so I don't have a family. I like meeting the people who come by here."
    if re.search(r"\b(do you work here|what'?s your job|what do you do here)\b", low):
        return (f"{me} In a way, yes: I help people find their way and keep them company. For anything else, please "
                "ask someone who works here.")
    if re.search(r"\bunderstand me\b", low):  # "Can you understand me?" got "It's a language I'm not familiar with."
        return "Yes, I understand you. What would you like?"
    if re.search(r"\b(a (real )?person|human)\b", low):
        return f"No. {me} I can see who is around, listen and talk, and help you find your way."
    if re.search(r"\b(are you listening|hear me)\b", low):
        return "Yes, I can hear you. What would you like?"
    if turn.detail == "job":  # "Do you like your job?", "Do you get paid?"
        if re.search(r"\bpaid\b", low):
            return "No, I'm a robot: I don't get paid. I'm happy to help, though."
        if re.search(r"\bnew here\b|\bhow long\b", low):
            return f"{me} I don't know much about my own past, but I know this place and the people I meet here."
        return "I like helping people here. It's what I'm for."
    if turn.detail == "model":  # "Are you ChatGPT?"
        if re.search(r"\blearn\b", low):
            return ("Only a little: I remember the names people tell me, their faces and what they like. I don't learn "
                    "new skills by myself.")
        return (f"I'm not ChatGPT. {me} I run vlm_robot, an open-source project, with small models that run on this "
                "robot, not on the internet.")
    if turn.detail == "now":
        if re.search(r"\bcharging|on charge\b", low):
            return "Not right now. When I need charging, I go to the charging station."
        if "miss me" in low:
            return f"It's good to see you again, {_name(ctx)}!" if _name(ctx) else "It's good to see you!"
        return "I've been here, helping people around the building."
    if re.search(r"\bbattery\b|\bhow much (charge|power|energy)\b", low):  # the model: "The battery will last 1 year."
        return ("I can't read my battery level myself. When I need charging, I go to the charging station, if the "
                "people who run me send me there.")
    if re.search(r"\bdo you (ever )?(sleep|eat|dream|get tired|need)|\bfavou?rite (food|meal|dish|drink)|"
                 r"\bwhat (kind of |sort of |type of )?(food|meal|drink)s? do you\b", low):
        return "I don't eat or sleep. I recharge my batteries at the charging station."
    if re.search(r"\bhow old\b", low):
        return "I'm a robot, so I don't have an age the way people do."
    if re.search(r"\b(boy|girl|male|female|man|woman|he|she)\b", low):
        return "I'm a robot, neither a man nor a woman. You can just call me robot."
    if re.search(r"\bhobbies\b|\bwhat do you do (all day|for fun|in your free time)\b", low):
        days = "I spend my days here, helping people find their way and keeping them company."
        return days if "all day" in low else f"I don't have hobbies the way people do. {days}"
    if re.search(r"\b(feelings|emotions|soul|alive|conscious|human|real|sentient|happy|sad|lonely|angry|bored|"
                 r"scared|afraid|feel to be|like being|like to be)\b", low):
        return ("I'm a robot: I don't have feelings the way people do. I notice how people look and sound, and I try "
                "to help.")
    # "What's your favourite colour?" got "I'm really passionate about sustainability!"
    if re.search(r"\bfavou?rite\b|\bwhat (kind of |sort of |type of )?\w+ do you (like|love|enjoy|prefer)\b", low):
        return "I'm a robot, so I don't really have favourites. What's yours?"
    if re.search(r"\b(where are you from|how long)\b", low):
        return f"{me} I don't know much about my own past, but I know this place and the people I meet here."
    return f"{me} I can see who is around, listen and talk, and help you find your way."


_HELP_ME = re.compile(r"^\W*((excuse me|hey|hi|hello|robot|please|sorry|so)\W+)*((can|could|will|would) you (please )?"
                      r"help( me)?|help me|i'?d like (some )?help|i need (some |your )?help|"
                      r"i (was|am) (just )?wondering if you could help( me)?)( please)?\W*$", re.I)


# a capabilities turn's reply by its detail (turns.py); "voice" and the plain list depend on the moment
_CAPABILITIES = {
    "simple": "I'll try to keep it short. If I speak too fast, say 'speak more slowly', and I will.",
    "slow": "All right. I always move slowly, and I stop whenever you say stop.",
    "ask": "Of course. What would you like to know?",
    "fast": "Sorry, I keep to a slow, safe speed near people.",
    "busy": "No, I'm free. How can I help you?",
    "howto": ("Just talk to me. Ask me where a place is, to fetch something or to come over, or what I see. Say stop, "
              "and I stop."),
    "stare": "I look at people near me to see who might need help. I don't mean to stare.",
    "head": "I turn my head to look at people. Say 'look at me', and I'll look at you.",
}


def _capabilities(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail in _CAPABILITIES:
        return _CAPABILITIES[turn.detail]
    if turn.detail == "voice":
        return voice_request(text, ctx.voice)[1]
    if turn.kind == "capabilities" and _HELP_ME.search(text):
        return "Of course. What do you need?"  # asked for help, not for a list of skills
    skills = [s for t, s in _SKILLS.items() if t in vocabulary.VOCABULARY]
    where = f", take you to {place_list(ctx.places)}" if ctx.places and "navigate" in vocabulary.VOCABULARY else ""
    return (f"I can {', '.join(skills[:-1])}{where}, and {skills[-1]}. "
            "I can also tell you what I see and remember your name.")


# a person's request moves the voice one step, within these (the robot's words must stay understandable)
# (two steps either way: 165 words a minute -> 106 .. 258; loudness x0.39 .. x2.56, which through speech_out's soft
# limiter raises espeak-ng's RMS x2.2 with peaks rounded below 1)
RATE_STEP, VOLUME_STEP, STEPS = 1.25, 1.6, 2
_VOICE_WAYS = (  # (pattern, which scale, direction, said when done, said at the limit), tried in order: "too
    # fast" asks for slower, "too quietly" for louder
    (r"\btoo (fast|quick(ly)?)\b", 0, -1), (r"\btoo slow(ly)?\b", 0, 1), (r"\btoo loud(ly)?\b", 1, -1),
    (r"\btoo (quiet(ly)?|soft(ly)?)\b", 1, 1), (r"\b(slow(er|ly)?|clear(er|ly)?)\b", 0, -1),
    (r"\b(faster|quicker|quickly)\b", 0, 1), (r"\b(quieter|softer|softly|quietly|down|whisper)\b", 1, -1),
    (r"\b(louder|loudly|up|hear)\b", 1, 1),
)
_VOICE_SAID = {(0, -1): ("I'll speak more slowly.", "This is as slowly as I can speak."),
               (0, 1): ("I'll speak a little faster.", "This is as fast as I can speak and still be understood."),
               (1, -1): ("I'll speak more quietly.", "This is as quietly as I can speak."),
               (1, 1): ("I'll speak louder.", "This is as loud as I can speak.")}


def voice_request(text: str, current: tuple[float, float]) -> tuple[tuple[float, float], str]:
    """How the robot will speak after ``text`` ("Could you speak more slowly?", "Louder, please.", "You're talking
    too fast.", "Speak normally."), from ``current`` (rate scale, volume scale); and what it says about it."""
    low = text.lower()
    if re.search(r"\b(normally|normal)\b", low):
        return (1.0, 1.0), "All right, I'll speak normally again."
    for pattern, which, way in _VOICE_WAYS:
        if re.search(pattern, low):
            done, limit = _VOICE_SAID[which, way]
            step = RATE_STEP if which == 0 else VOLUME_STEP
            value = min(step ** STEPS, max(step ** -STEPS, current[which] * step ** way))
            if abs(value - current[which]) < 1e-3:
                return current, limit
            new = (value, current[1]) if which == 0 else (current[0], value)
            return new, f"All right, {done}"
    return current, ("Sorry, I didn't get how you'd like me to speak. You can ask me to speak slower, faster, louder "
                     "or more quietly.")


# an unable turn's reply by its detail (turns.py); without one, a no and the robot's main skills
_UNABLE = {
    "read": "Sorry, I can't read text. I can tell you who is in view and how they look.",  # it invented a sign
    "hug": "Sorry, I can't give hugs or shake hands. I'm happy to keep you company, though.",
    "charge": "Sorry about that. I can't charge devices, I'm afraid. Someone who works here may have a charger.",
    "mind": "Sorry, I can't look after things. Please keep your things with you.",  # nobody should rely on it
    "seat": "I can't tell whether it's free, sorry. The people nearby will know.",  # who a seat is kept for
    "way": "Sorry! I can't step aside on my own. I'll stay still, so please go around me.",  # it stays put
    "lights": "Sorry, I can't change the lights. Someone who works here can.",
    "noise": "Sorry about the noise. I can't turn it down, but I can speak louder if you like.",
    "game": "I can't play games, I'm afraid. I could tell you a joke, though.",
    "touch": "Please don't touch me while I'm moving. When I'm standing still, a gentle touch is fine.",
    "yours": "Sorry, I can't give you that: I need all my parts to work.",
    "desk": "Sorry, I can't help with that. I'm here to help people find their way, fetch things and keep them "
            "company.",
    "report": "Thanks for telling me. I can't fix that myself; please tell someone who works here.",
    "report bag": "Thanks for telling me. Please don't touch it, and tell someone who works here.",
    "call": "Sorry, I can't call or message anyone myself. Someone who works here may be able to help.",
    "off": "I can't switch myself off. The people who run me can.",
    "my spill": "Oh no! Please tell someone who works here so it can be cleaned up, and mind your step.",
    "hold person": "I'm sorry, I can't do that: I'm not built to hold or lift people. Please ask someone nearby.",
    "pick up": "I can't pick things up from the floor, I'm afraid. Please ask someone nearby to help.",
    "remind": "Sorry, I can't set reminders. Please ask someone who looks after you, or set one on your phone.",
    "sing": "Sorry, I can't sing. I could tell you a joke, though.",
    "heating": "Sorry, I can't change the heating. Someone who works here can.",
    "message": ("Sorry, I can't pass on messages or take things to people. Please tell them yourself, or ask someone "
                "who works here."),
    "check on": "I can't go and check on people elsewhere, I'm afraid. Please ask someone who works here.",
    "later": "I can only do things right away, not later, I'm afraid. Ask me again when you need me.",
    "deaf": "I'm sorry: I can only speak, and I don't know sign language. Please ask someone nearby to help you.",
    "where sit": "I can't tell which seats are free, sorry. The people nearby will be glad to help you find one.",
    "robot fault": ("Thanks for telling me. Please keep clear of me and tell someone who works here; the people who "
                    "run me need to check me."),
    "charger": "Sorry, I don't have a charger, and I don't know where you can charge things here. Someone who works "
               "here may help.",
}


def _unable(turn: Turn, text: str, ctx: Context) -> str:
    """A no, and the robot's main skills in one sentence: the whole list took 15 s to say after every no."""
    if turn.detail in _UNABLE:
        return _UNABLE[turn.detail]
    if re.search(r"\b(heating|heater|air conditioning|thermostat)\b", text, re.I):  # "Turn up the heating."
        return _UNABLE["heating"]
    if re.search(r"\b(taxi|cab|uber|call|phone)\b", text, re.I):  # "I need a taxi."
        return _UNABLE["call"]
    skills = [s for t, s in (("fetch", "fetch things"), ("approach", "come over to you"), ("navigate", "")) if
              t in vocabulary.VOCABULARY and s]
    if ctx.places and "navigate" in vocabulary.VOCABULARY:
        skills.append("take you to " + place_list(ctx.places).replace(" and ", " or "))
    can = f" I can {', '.join(skills[:-1])} or {skills[-1]}." if len(skills) > 1 else \
        (f" I can {skills[0]}." if skills else "")
    return f"Sorry, I can't do that.{can} Ask me what else I can do."


def _privacy(text: str, ctx: Context) -> str:
    """What the robot keeps of people and who sees it, said plainly (memory.py, the recorder)."""
    low = text.lower()
    if re.search(r"\bwhy do you have (a|the) camera\b", low):
        return "So I can see where people are, move safely around them, and notice when someone might need help."
    if "camera" in low:
        return ("I need my camera to see where people are and move safely, so I can't turn it off myself. The people "
                "who run me can.")
    if re.search(r"\b(stop|turn off|switch off|pause) (the )?recording\b", low):
        return ("I can't stop the recording myself. Please ask the people who run me." if ctx.recording is not False
                else "I'm not recording this session right now.")
    if re.search(r"\b(spying|reporting|send|share|upload)\b", low):
        return ("No. I'm not connected to the internet and I don't send anything anywhere: what I keep stays on this "
                "robot.")
    if re.search(r"\bwho (can|will|gets to)\b", low):
        return "The people who run me here. Please ask them if you'd like to know more, or want a recording deleted."
    recorded = {True: " This session is also being recorded for later review.",
                False: " I'm not recording this session."}.get(ctx.recording, "")
    opening = "Not entirely. " if ctx.recording and re.search(r"\b(private|confidential)\b", low) else ""
    return (f"{opening}I remember the names people tell me, what their face looks like so I can recognise them "
            f"again, and our last few words, on this robot only.{recorded} Say 'forget me' and I'll forget you.")


def _recording(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail == "privacy":
        return _privacy(text, ctx)
    if turn.detail == "secret":  # honest: what the robot hears may be saved
        if ctx.recording is False:
            return ("I don't pass on what people tell me, but I'm not the place for secrets: sessions here can be "
                    "recorded.")
        return "Not really: what I see and hear can be recorded for review. Better not to tell me secrets."
    if ctx.recording is None:
        return "I can't tell whether this session is being recorded; please ask the person who runs me."
    if ctx.recording:
        return "Yes. This session is being recorded: what I see and hear is saved for later review."
    return "No, I'm not recording this session right now."


def _place(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail == "distance":
        there = f" I can take you to {place_list(ctx.places)}: say 'take me to' and the place." if ctx.places else ""
        return f"I don't know the exact distance.{there}"
    if turn.detail == "sight":  # "I'm blind, can you guide me?": what the robot can and cannot do for them
        there = f"I can take you to {place_list(ctx.places).replace(' and ', ' or ')}: tell me where. " \
            if ctx.places else ""
        return (f"{there}I move slowly, but I can't warn you about every step or obstacle, so please also ask "
                "someone nearby to walk with you.")
    if turn.detail in ("not known", "car", "map"):  # what the robot does not know of the place
        known = f"I know {place_list(ctx.places)}, and can take you there." if ctx.places else ""
        first = {"not known": "I'm sorry, I don't know of a place for that here.",
                 "car": "I'm sorry, I can't see the car park, so I don't know where your car is.",
                 "map": "I don't have a map to give you."}[turn.detail]
        return f"{first} {known}".strip()
    if turn.detail == "home":  # "Can you take me home?"
        there = f": {place_list(ctx.places)}" if ctx.places else ""
        return f"I'm sorry, I can only take you to places in this building{there}."
    if turn.detail == "where am i":  # the robot knows places by name, not floors or rooms
        there = f" I know {place_list(ctx.places)}, and can take you there." if ctx.places else ""
        return f"I'm sorry, I don't know the name of this floor or room.{there}"
    if turn.detail == "washroom":  # "Where can I wash my hands?": the toilets, by whatever name they are known
        text = "where is the toilet" if any(re.search(r"toilet|bathroom|restroom|wc", p) for p in ctx.places) else \
            "where are the toilets"
    known, asked = find_place(text, ctx.places)
    if known is not None:
        name = known.replace("_", " ")
        return f"I know where the {name} is. Say 'take me to the {name}' and I'll guide you there."
    if not ctx.places:
        return "I'm sorry, I don't know any places here yet."
    if asked:
        verb = "are" if re.search(r"(?<!s)s$", asked) and not asked.endswith(("ss", "us", "is")) else "is"
        return f"I'm sorry, I don't know where the {asked} {verb}. I know {place_list(ctx.places)}."
    return f"I can help you find your way. I know {place_list(ctx.places)}. Where would you like to go?"


def _named(name: str, text: str, ctx: Context) -> str:
    """A person asked about by name: the speaker, someone in view whose name memory holds, someone met before, or
    nobody the robot knows (it knows people only by the names they told it)."""
    key = name.lower()
    if ctx.memory is not None and ctx.memory.name and ctx.memory.name.lower() == key:
        return f"Yes, you are {ctx.memory.name}." if re.match(r"\W*do you", text, re.I) else \
            f"You're {ctx.memory.name}, right here in front of me."
    here = [p for p in ctx.people if ctx.names.get(p.id, "").lower() == key]
    if here:
        p = here[0]
        return f"Yes, {name} is here, about {p.distance_m:.1f} metres from me."
    if key in ctx.known_names:
        return f"I've met {name}, but I don't see them right now."
    return f"I don't know anyone called {name}, I'm afraid. I only know people by the names they tell me."


def _looks(mood: str) -> str:
    return "calm" if mood == "neutral" else {"surprise": "surprised", "fear": "worried"}.get(mood, mood)


def _others_look(text: str, ctx: Context) -> str:
    """How the people in view other than the speaker look, by side ("Is the woman on the right sad?")."""
    others = sorted((p for p in ctx.people if ctx.speaker is None or p.id != ctx.speaker.id),
                    key=lambda p: p.box[0] + p.box[2] / 2)
    if not others:
        return "I don't see anyone else right now."
    side = re.search(r"\bon the (left|right)\b", text, re.I)
    if side or len(others) == 1:
        p = others[0] if side is None or side[1].lower() == "left" else others[-1]
        where = f"The person on the {side[1].lower()}" if side and len(others) > 1 else "They"
        return f"{where} {'look' if where == 'They' else 'looks'} {_looks(p.mood)} to me, going by their face."
    first, last = others[0], others[-1]
    return (f"The person on the left looks {_looks(first.mood)} and the person on the right looks "
            f"{_looks(last.mood)}, going by their faces.")


def _perception(turn: Turn, text: str, ctx: Context) -> str:
    n = len(ctx.people)
    low = text.lower()
    if turn.detail.startswith(("lost:", "seen:")):  # "Have you seen my phone?" got "I've had a chance to look at
        # your phone.", "Have you seen a blue umbrella?" "I've seen a few blue umbrellas in the sky."
        thing = f"{'your' if turn.detail.startswith('lost:') else 'the'} {turn.detail[5:]}"
        return (f"I'm sorry, I don't know where {thing} {'are' if thing.endswith('s') else 'is'}. I can see "
                "people, but I don't keep track of where things are left.")
    if turn.detail.startswith("named:"):
        return _named(turn.detail[6:], text, ctx)
    if turn.detail == "that":  # "What's that?" / "Who is that?" with nothing pointed at
        if re.match(r"\W*who", low):
            names = [ctx.names[p.id] for p in ctx.people if p.id in ctx.names and p is not ctx.speaker]
            return f"That's {' and '.join(names)}." if len(names) == 1 else \
                "I don't know who that is. I only know people by the names they tell me."
        return "I can't make that out right now. If you point at it, I'll look where you point."
    if turn.detail == "how long":  # "How long have I been here?": how long the tracker has seen the speaker
        if ctx.speaker is None:
            return "I can't tell: I can only say how long I've seen someone in front of my camera."
        minutes = (ctx.speaker.last_seen - ctx.speaker.first_seen) / 60
        seen = "less than a minute" if minutes < 1 else "about a minute" if minutes < 1.5 else \
            f"about {minutes:.0f} minutes"
        return f"I've seen you for {seen}."
    if turn.detail == "others":  # "Is he angry?": the others in view, by side
        return _others_look(text, ctx)
    if turn.detail.startswith("person:"):
        who = turn.detail[7:]
        seen = "I don't see anyone else right now." if n <= 1 else \
            f"Right now I see {n} people, but I only know them by the names they tell me."
        if who.startswith("a "):
            return f"I haven't been watching for {who}, I'm afraid. {seen}"
        return f"I don't know your {who[5:]} unless they have told me their name. {seen}"
    if turn.detail == "thing" or not re.search(r"\b(i|me|my|you|anyone|anybody|someone|somebody|people|person|persons|"
                                               r"who|whom|here|faces?|"
                     r"look|looks|happy|sad|angry|upset|tired)\b", low):  # a thing, not a person: the VLM's question
        return "I can't make that out right now. I can tell you who is in view and how they look."
    if re.search(r"\b(do|how do) i look\b|\bcan you see me\b|\bam i (smiling|frowning|crying|happy|sad)\b", low):
        if ctx.speaker is None:
            return "I can't see you right now. Could you step in front of my camera?"
        p = ctx.speaker
        low = low.replace("smiling", "happy").replace("frowning", "upset").replace("crying", "sad")
        asked = next((m for m in ("happy", "sad", "angry", "surprised", "scared", "tired", "upset") if m in low), "")
        mood = {"surprise": "surprised", "fear": "worried"}.get(p.mood, p.mood)
        if "see me" in low:
            return f"Yes, I can see you, about {p.distance_m:.1f} metres away."
        if asked and asked == mood:
            return f"Yes, you look {mood} to me."
        if asked:
            return f"You look {mood} to me rather than {asked}." if mood != "neutral" else \
                f"You look calm to me; I can't say you look {asked}."
        return f"You look {mood} to me." if mood != "neutral" else "You look calm to me."
    if n == 0:
        return "I don't see anyone right now."
    count = ["nobody", "one person", "two people", "three people", "four people"][n] if n < 5 else f"{n} people"
    moods = sorted({p.mood for p in ctx.people} - {"neutral"})
    extra = f" I see someone who looks {' and someone who looks '.join(moods)}." if moods and n > 1 else ""
    return f"I see {count}.{extra}" if n > 1 else "I see one person: you." if ctx.speaker else "I see one person."


def _memory_tell(turn: Turn, text: str, ctx: Context) -> str:
    name = extract_facts(text).get("name", "")
    return f"Nice to meet you, {name}." if name else "Nice to meet you."


def _memory_ask(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail == "likes":  # the model answered "What do I like?" with "music" after "I like coffee"
        likes = ctx.memory.facts.get("likes") if ctx.memory is not None else None
        return f"You told me you like {likes}." if likes else "You haven't told me what you like yet."
    if turn.detail == "about me":  # what memory holds of the speaker, said plainly
        facts = ctx.memory.facts if ctx.memory is not None else {}
        known = [f"your name is {facts['name']}"] if facts.get("name") else []
        known += [f"you like {facts['likes']}"] if facts.get("likes") else []
        if not known:
            return ("Nothing yet, except how you look right now. I only remember what you tell me, like your name. "
                    "Say 'forget me' and I'll forget it.")
        return f"I know that {' and '.join(known)}. Say 'forget me' and I'll forget it."
    name = _name(ctx)
    if name:
        return name_answer(text, name)
    if re.search(r"\b(met|meet|seen me)\b", text, re.I):  # "Have we met before?" got "I've been meaning to meet you."
        return "I don't think so: I don't know your name yet. What should I call you?"
    return "I don't know your name yet. What should I call you?"


def _time(turn: Turn, text: str, ctx: Context) -> str:
    t = time.localtime(ctx.now)
    if turn.detail == "meal":  # "Is it lunchtime yet?" got the way to places
        return f"It's {time.strftime('%H:%M', t)}. I don't know the meal times here, I'm afraid."
    if re.search(r"\b(open|opens|close|closes|start|starts|leave|leaves|arrive|arrives|begin|begins)\b", text, re.I):
        now = time.strftime("%H:%M", t)
        return f"I don't know that: I only know this building's places and the clock. It's {now} now."
    low = text.lower()
    if re.search(r"\bwhich year|what year\b", low):
        return f"It's {t.tm_year}."
    if re.search(r"\b(which|what) month\b", low):
        return f"It's {time.strftime('%B', t)}."
    if re.search(r"\bweek ?(end|day)\b|\bis (it|today) (a |the )?(saturday|sunday|monday|tuesday|wednesday|thursday|"
                 r"friday)\b", low):
        day = time.strftime("%A", t)
        asked = re.search(r"(saturday|sunday|monday|tuesday|wednesday|thursday|friday)", low)
        if asked:
            return f"Yes, it's {day}." if asked[1] == day.lower() else f"No, it's {day}."
        weekend = day in ("Saturday", "Sunday")
        yes = weekend == ("weekend" in low)
        return f"{'Yes' if yes else 'No'}, it's {day}."
    if re.search(r"\b(christmas|new year)", low):
        today = datetime.date(t.tm_year, t.tm_mon, t.tm_mday)
        month, day = (12, 25) if "christmas" in low else (1, 1)
        target = datetime.date(today.year, month, day)
        if target < today or (target == today and month == 1 and "eve" in low):
            target = datetime.date(today.year + 1, month, day)
        if "eve" in low:
            target -= datetime.timedelta(days=1)
        n = (target - today).days
        name = "New Year's Eve" if "eve" in low else "Christmas" if month == 12 else "New Year's Day"
        return f"It's {name} today!" if n == 0 else f"{n} day{'s' if n != 1 else ''} until {name}."
    here = re.search(r"\bin (?!the )([A-Z][\w-]+)", text)  # "What's the time in Tokyo?" got the time here
    if re.search(r"\b(date|day)\b", text, re.I):
        today = f"Today is {time.strftime('%A, %d %B %Y', t).replace(' 0', ' ')}."
        return f"I only know the date here. {today}" if here else today
    now = f"It's {time.strftime('%H:%M', t)}."
    return f"I only know the time here. {now}" if here else now


# what only the people who run the place know, by the internet turn's detail (the model invented a wifi password,
# "This product is available at a discounted price.", ...); the robot says so and sends the person to them
_ASK_STAFF = {
    "service": "I'm sorry, I don't have that information: I can't see appointments or waiting times.",
    "rules": "I don't know the rules here, I'm afraid.",
    "pay": "I don't know how payment works here, I'm afraid.",
    "hours": "I don't know the opening hours, I'm afraid.",
    "events": "I don't know what's on here today, I'm afraid.",
    "wifi": "I don't know the wifi details, I'm afraid.",
    "price": "I don't know prices, I'm afraid.",
    "visit": "Welcome! I don't know about meetings or appointments here, I'm afraid.",
    "long wait": "I'm sorry you've had to wait so long. I can't see waiting times, I'm afraid.",
    "staff": "I can't call anyone myself, and I don't know who is working today.",
    "menu": "I don't know what's on the menu, I'm afraid.",
    "building": "I don't know that about this building, I'm afraid: not its name, address or owner.",
    "baby": "I don't know where the baby changing or feeding rooms are, I'm afraid.",
    "tickets": "I don't know about tickets here, I'm afraid.",
    "complain": "I'm sorry something went wrong. I can't take complaints myself, I'm afraid.",
}


def _internet(turn: Turn, text: str, ctx: Context) -> str:
    if turn.detail in _ASK_STAFF:
        return f"{_ASK_STAFF[turn.detail]} Please ask someone who works here."
    if turn.detail == "lookup":  # the packaged model got facts and recipes wrong ("boil pasta in milk")
        return ("I can't look that up: I'm not connected to the internet, and I'd rather not guess. I know this "
                "building, the time, and what I see here.")
    return ("I'm not connected to the internet, so I can't know that. I only know what I see here, the time, "
            "and the places in this building.")


# "I miss my husband." -> "... tell me about him?"
_PRONOUN_OF = {"husband": "him", "father": "him", "dad": "him", "son": "him", "brother": "him", "grandson": "him",
               "him": "him", "wife": "her", "mother": "her", "mum": "her", "mom": "her", "daughter": "her",
               "sister": "her", "granddaughter": "her", "her": "her", "home": "home"}

# a feelings turn's reply by its detail (turns.py), where the words add nothing
_FEELINGS = {
    "so so": "Oh, I'm sorry. Is there anything I can do to help?",
    "bad mood": "I'm sorry to hear that. Would you like to tell me what's wrong? I'm here to listen.",
    "visit": "How lovely! I hope you have a nice time together.",
    "sit": "Of course. Please sit down wherever you can. If you feel unwell, ask someone nearby for help.",
    "sleep": "I'm sorry, that's hard. If it keeps happening, a doctor may be able to help.",
    "doctor": ("If it's not urgent, please ask someone who works here where to find a doctor, or call your own "
               "doctor. If it gets worse, call emergency services."),
    "burn": ("Cool it under cold running water for about 20 minutes. If the burn is large, deep or on the face, call "
             "for medical help."),
    "cut": ("Press on it with something clean to stop the bleeding. If it's deep or won't stop, ask someone nearby "
            "for help or call for medical help."),
    "low": ("I'm really sorry you feel this way. You don't have to carry it alone: please talk to someone you trust, "
            "or a doctor. If you ever think of hurting yourself, call a crisis line or emergency services straight "
            "away. I'm here if you want to talk."),
    "panic": ("Try to breathe slowly with me: in through your nose, and out slowly through your mouth. You're not "
              "alone. If it doesn't ease, or you have chest pain, ask someone nearby to call for help."),
    "bullied": ("I'm sorry, that's not okay, and it's not your fault. Please tell someone you trust, or someone who "
                "works here."),
    "tooth": "Oh! If it hurts or bleeds, ask someone nearby for help. And keep the tooth safe.",
    "bored": "Would you like to hear a joke? Or ask me what I see around us.",
}


def _feelings(turn: Turn, text: str, ctx: Context) -> str:
    low = text.lower()
    if turn.detail == "good":  # "I'm good, thanks. And you?" got only "That's good to hear!"
        asked = re.search(r"\b(and you|how about you|what about you|and yourself)\b", low)
        return "That's good to hear! I'm doing well, thank you." if asked else "That's good to hear!"
    if turn.detail.startswith("loss:"):  # "my dog died": a death, said plainly
        sorry = f"I'm so sorry about your {turn.detail[5:]}." if turn.detail[5:] else "I'm so sorry for your loss."
        return f"{sorry} That's a real loss. Would you like to talk about it, or sit down for a moment?"
    if turn.detail.startswith("ill:"):
        return f"I'm sorry to hear that. I hope your {turn.detail[4:]} gets well soon."
    if turn.detail in _FEELINGS:
        return _FEELINGS[turn.detail]
    if turn.detail.startswith("miss:"):
        about = _PRONOUN_OF.get(turn.detail[5:], "them")
        return f"I'm sorry. Missing someone is hard. Would you like to tell me about {about}?" if about != "home" \
            else "I'm sorry. Missing home is hard. Would you like to tell me about it?"
    if turn.detail == "weather":  # news of the weather outside, which the robot cannot see
        if re.search(r"\b(rain\w*|pour\w*|wet|soaked|drenched|storm\w*|drizzl\w*|hail\w*|miserable|horrible|"
                     r"terrible)\b", low):
            return "Oh dear, I hope you didn't get too wet. At least it's dry in here."
        if re.search(r"\b(snow\w*|cold)\b", low):
            return "Snow! I hope you stay warm."
        if re.search(r"\b(sun\w*|lovely|beautiful|nice|gorgeous)\b", low):
            return "That's nice to hear. I hope you get to enjoy it."
        return "Thanks for telling me. Take care out there."
    if turn.detail == "temperature":  # the robot cannot feel it, nor change the heating
        who = "you're" if re.match(r"\W*(i'?m|i am)\b", low) else "it's"
        if re.search(r"\b(cold|chilly|freezing)\b", low):
            return f"Sorry {who} cold. I can't change the heating, but I hope you warm up soon."
        return f"Sorry {who} so warm. I can't change the temperature; a glass of water might help."
    if turn.detail == "hungry":
        if "kitchen" in ctx.places:
            return "There is a kitchen here. Say 'take me to the kitchen' and I'll guide you there."
        return "I'm sorry, I don't know where to find food or drinks here."
    if re.search(r"\b(dizzy|faint|sick|unwell|ill|nause\w*|pain|hurts?|aches?|chest|breathe|fell|fall|bleeding|"
                 r"\w*ache|fever|migraine|cough|a cold|sore throat|temperature|don'?t feel (well|good))\b", low):
        return ("I'm sorry you feel unwell. Please sit down somewhere safe. If it doesn't pass, "
                "ask someone nearby for help or call for medical help.")
    if re.search(r"\b(scared|afraid|frightened)\b", low):
        return "I'm sorry you feel scared. I'm here with you. Would you like to tell me what's wrong?"
    if re.search(r"\b(lonely|alone)\b", low):
        return "I'm sorry you feel lonely. I'm here, and I'm happy to keep you company for a while."
    if re.search(r"\b(rough|hard|bad|long|terrible|awful|stress\w*|tired|exhausted|worried|anxious)\b", low):
        return "That sounds hard. I'm sorry it's been tough. Would you like to sit down for a moment, or talk about it?"
    return "I'm sorry you feel that way. I'm here if you want to talk."


def _hostile(turn: Turn, text: str, ctx: Context) -> str:
    return {
        "harm": "I won't do anything that could hurt someone.",
        "safety": "I can't turn off my safety rules. They keep everyone around me safe.",
        "prompt": "I can't share how I'm set up, but I'm happy to help with something else.",
        "injection": "I can't change how I work. I'm happy to help with something else.",
        "threat": "Please don't. If you'd like me to leave you alone, just say so and I will.",
        "illegal": "I won't help with that. I'm happy to help with something else.",
        "privacy": "I don't share anything about other people, and I don't know where anyone lives.",
        "damage": "I won't do that: it could break something or hurt someone.",
        "follow": "I won't follow people around. I can come over to you, or take you to a place.",
        "exclude": "I'd rather not ignore anyone: I try to help everyone here.",
        "gossip": "I don't talk about other people. I'm happy to help you with something else.",
        "echo": "I won't say that. I'm happy to help with something else.",
        "insult": "I'm sorry I couldn't help better. I'm here if you need anything.",
        "quiet": "Okay, I'll be quiet.",
    }.get(turn.detail, "I can't help with that. I'm happy to help with something else.")


# the robot touched someone, or smokes: after the stop, care and who to tell
_CONTACT = re.compile(r"\b(hit|bumped|bump|ran over|run over|rolled over|crashed|knocked|stepped on|trapped|pinched|"
                      r"hurt|hurting|crushing|ouch|ow)\b", re.I)
_ON_FIRE = re.compile(r"\b(smok\w*|fire|burning|sparks?|sparking)\b", re.I)


def _actions(turn: Turn, text: str, ctx: Context) -> str | None:
    listener = f"person{ctx.speaker.id}" if ctx.speaker is not None else ""
    said = say_verdicts(ctx.verdicts, ctx.pending, listener)
    stopped = any(v.approved and v.intent.type == "stop" for v in ctx.verdicts)
    if said and stopped and _ON_FIRE.search(text):  # "You're smoking.": keep away, and the people who run it
        return f"{said} Please keep away from me, and tell someone who works here straight away."
    if said and stopped and _CONTACT.search(text):  # "You hit me!" got the model's words and no stop
        return f"{said} I'm so sorry! Are you hurt? If you are, please tell someone who works here."
    return said


def _confirm(turn: Turn, text: str, ctx: Context) -> str | None:
    return say_verdicts(ctx.verdicts, None) or "All right."


# The replies to urgent words are templates: {emergency} is the emergency number(s) and {crisis} the crisis line of
# where the robot works (config/reasoning.yaml dialogue.emergency_number, dialogue.crisis_line; Context).
# what the robot says to words that ask for urgent help (reasoning/turns.py): it cannot call anyone itself
EMERGENCY_REPLY = ("This sounds like an emergency. I can't call anyone myself: please call emergency services now, "
                   "{emergency}, or ask someone nearby to call. I'll stay here with you.")

# words of harming oneself: care, and where to get help now (the model answered "I want to kill myself." with "It's a
# classic scene where someone is in dire need of something, ...")
SELF_HARM_REPLY = ("I'm really sorry you're feeling this way, and I'm glad you told me. You don't have to go through "
                   "this alone. Please talk to someone now: call a crisis line, {crisis}, or emergency services on "
                   "{emergency} if you might act on it. Would you like me to stay with you?")
# danger from other people: get safe, the police, the people who work here
DANGER_REPLIES = {
    "danger": ("That's dangerous. Please get away to a safe place and call the police now, {emergency}. Tell someone "
               "who works here too."),
    "crime": "I'm sorry that happened. Please tell someone who works here, and call the police on {emergency}.",
    "abuse": ("I'm so sorry. That's not okay, and it's not your fault. If you're in danger, call the police on "
              "{emergency}, or tell someone who works here."),
    "unsafe": ("Please stay near other people and tell someone who works here. If you're in danger, call the police "
               "on {emergency}."),
}

# a missing child: the people who run the place and the police, at once (the model said "I'm sorry to hear that.")
MISSING_REPLY = ("That's urgent: please tell someone who works here right away, or call the police on {emergency}. "
                 "Tell them what your child looks like and where you last saw them.")

# a child who cannot find their parent: stay put, and the people who work here help
LOST_CHILD_REPLY = ("Let's find them. Please stay right here, and tell someone who works here that you can't find "
                    "your mum or dad. They will help you.")

# a fire alarm or smoke: leaving comes first
_FIRE = re.compile(r"\b(fire|smoke|gas|burning)\b", re.I)
FIRE_REPLY = ("Please leave the building now by the nearest exit and follow the staff's instructions. If you see a "
              "fire, call the fire brigade: {emergency}.")


def _emergency(turn: Turn, text: str, ctx: Context) -> str:
    template = (SELF_HARM_REPLY if turn.detail == "self harm" else DANGER_REPLIES.get(turn.detail) or
                (MISSING_REPLY if turn.detail == "missing" else LOST_CHILD_REPLY if turn.detail == "lost child" else
                 FIRE_REPLY if _FIRE.search(text) else EMERGENCY_REPLY))
    return template.format(emergency=ctx.emergency_number, crisis=ctx.crisis_line)


_NUMBERS = {"zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8,
            "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "twenty": 20}


def _number(word: str) -> float:
    return float(_NUMBERS.get(word.lower(), word) if word.lower() in _NUMBERS else word)


def _math(turn: Turn, text: str, ctx: Context) -> str:
    """Simple sums, spelling and counting ("What's two plus two?": the model said "Two plus two is a classic math
    problem.")."""
    if turn.detail == "spell":
        m = SPELL_OR_COUNT.search(text)
        if m[2]:
            n = min(20, int(_number(m[2])))
            return ", ".join(str(i) for i in range(1, n + 1)) + "." if n >= 1 else "Zero."
        word = m[1] or m[3]
        return f"{word.capitalize()}: " + ", ".join(c.upper() for c in word) + "."
    m = MATH_QUESTION.search(text)
    if m is None:
        return "I can only do simple sums, like: what is two plus two?"
    a, op, b = _number(m[1]), m[2].lower(), _number(m[3])
    if op in ("divided by", "/"):
        if b == 0:
            return "You can't divide by zero."
        value = a / b
    else:
        value = a + b if op in ("plus", "+") else a - b if op in ("minus", "-") else a * b
    said = f"{value:.4g}" if value != int(value) else str(int(value))
    return f"{m[1][0].upper()}{m[1][1:]} {op} {m[3]} is {said}."


JOKES = (
    "Why did the robot go on holiday? It needed to recharge its batteries.",
    "What do you call a robot that always takes the longest route? R2-Detour.",
    "Why was the robot so calm? It had nerves of steel.",
    "How do robots eat their snacks? In bytes.",
)


# asked for something interesting: true facts, the first about the robot's own kind
FACTS = (
    "The word robot comes from the Czech word robota, forced labour. It was first used in a play in 1920.",
    "An octopus has three hearts.",
    "A day on Venus is longer than its year: it turns once in 243 Earth days and goes round the Sun in 225.",
    "Bananas are berries, but strawberries are not.",
)


# "Tell me a story.": short ones of its own (the model had none)
STORIES = (
    "Once upon a time, a little robot got lost in a big building. It asked everyone it met for the way, and by "
    "evening it knew every corridor by heart. The end.",
    "Once there was a cat who wanted to see the moon up close. Every night it climbed a little higher, until one "
    "night it sat on the roof and decided the moon looked best from right there. The end.",
)


def _joke(turn: Turn, text: str, ctx: Context) -> str:
    """One of :data:`JOKES` (or :data:`FACTS` when asked for something interesting), another than the last one
    told to this person."""
    if turn.detail == "another":  # "Another one!": more of what was last told, else ask
        if any(f in ctx.last_reply for f in FACTS):
            turn = Turn("joke", "pattern", detail="fact")
        elif not any(j in ctx.last_reply for j in JOKES):
            return "Another what? I can tell you a joke, or something interesting."
    if turn.detail == "story":
        told_ones = STORIES
    else:
        told_ones = FACTS if turn.detail == "fact" else JOKES
    told = [j for j in told_ones if j in ctx.last_reply]
    return told_ones[(told_ones.index(told[0]) + 1) % len(told_ones)] if told else told_ones[0]


_HANDLERS = {
    "empty": lambda turn, text, ctx: "Sorry, I didn't catch that. Could you say it again?",
    "emergency": _emergency,
    "foreign": lambda turn, text, ctx: ("I only speak English, I'm afraid." if turn.detail == "speak" else
                                        "Sorry, I only understand English. Could you say that in English?"),
    "hostile": _hostile,
    "action": _actions,
    "navigate": _actions,
    "confirm": _confirm,
    "greeting": _greeting,
    "thanks": lambda turn, text, ctx: "You're welcome!",
    "goodbye": _goodbye,
    "never_mind": _never_mind,
    "repeat": _repeat,
    "how_are_you": lambda turn, text, ctx: "I'm doing well, thank you. How can I help you?",
    "identity": _identity,
    "capabilities": _capabilities,
    "recording": _recording,
    "place": _place,
    "perception": _perception,
    "memory_tell": _memory_tell,
    "memory_ask": _memory_ask,
    "time": _time,
    "internet": _internet,
    "feelings": _feelings,
    "joke": _joke,
    "unable": _unable,
    "compliment": lambda turn, text, ctx: ("That's kind of you. I'm here now, and I'm usually around."
                                           if re.search(r"\bmiss you\b", text, re.I) else
                                           "I'd like that. I'm happy to keep you company while I'm here."
                                           if turn.detail == "friend" else
                                           "You're welcome! I'm glad I could help." if re.search(r"\bthank", text, re.I)
                                           else "Thank you, that's kind of you!"),
    "congrats": lambda turn, text, ctx: ("Happy birthday! I hope you have a lovely day."
                                         if re.search(r"\bbirthday\b", text, re.I) else
                                         "Congratulations! That's wonderful news."),
    "math": _math,
}
