"""The grounded VLM's answers: :func:`answer_query` composes the deterministic answer to a parsed question
from the entity table, and :class:`GroundedVLM` (the ``grounded`` backend) perceives the clip, parses the
question and answers it, or streams the chat model's answer to an open question."""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vlm_robot.core.errors import ConfigError, InvalidInputError, VlmRobotError
from vlm_robot.core.types import Frame, PerceptionResult
from vlm_robot.vlm.base import VLMAnswer, VLMConfig, answer_from_stream, sample_clip
from vlm_robot.vlm.grounded.entities import (
    MOOD_WORDS,
    Observation,
    PersonEntity,
    _facing_words,
    _mood_words,
    _where,
    build_observation,
    person_clause,
)
from vlm_robot.vlm.grounded.questions import _NUMBER_WORDS, MOOD_QUERY, Query, parse_question
from vlm_robot.vlm.palme.scope import about_objects

EXTRA_DEFAULTS: dict[str, Any] = {
    "max_frames": 8,  # frames of a clip that are run through perception (sampled by time)
    "facing_threshold": 0.7,  # facing score from which a face counts as looking at the robot
    "camera_hfov_deg": 60.0,  # for distance from face size
    "face_width_m": 0.16,
    "llm_model_path": "",  # a GGUF for open questions; empty: the packaged SmolLM2-135M-Instruct
    "llm_threads": 1,
    "min_face_score": 0.5,
    "max_sentences": 2,  # an open answer from the chat model is cut after this many sentences
    # a palme model folder (e.g. models/palme-sim, trained in the simulated room; needs torch): questions about
    # objects, what the robot looks at and where it is go to it; empty: those are answered "I can't tell"
    "objects_model": "",
}

SYSTEM_PROMPT = "You are a helpful robot assistant. Keep answers short. Only mention what is in the scene."



class NotLoadedError(VlmRobotError, RuntimeError):
    """A backend was asked a question before :meth:`GroundedVLM.load`."""



# --------------------------------------------------------------------------------------------------
# answers from the entity table



def _count(n: int, one: str = "person", many: str = "people") -> str:
    word = _NUMBER_WORDS[n] if n < len(_NUMBER_WORDS) else str(n)
    return f"{word} {one if n == 1 else many}"


def _join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def _cap(s: str) -> str:
    return s[:1].upper() + s[1:]



def _resolve(target: str, obs: Observation) -> tuple[list[PersonEntity], str]:
    """The people a target refers to, and a phrase naming the target when nobody matches."""
    people = obs.people
    if not target:
        return people, ""
    if target.startswith("<person"):
        return [p for p in people if p.token == target], target.strip("<>")
    if target.startswith("side:"):
        side = target[5:]
        where = "in the centre" if side == "centre" else f"on the {side}"
        return [p for p in people if p.side == side], f"anyone {where}"
    if target.startswith("mood:"):
        classes = MOOD_QUERY[target[5:]]
        return [p for p in people if p.mood in classes], f"anyone who looks {target[5:]}"
    return people, ""  # "only" (a pronoun): everyone, which is one person when it is unambiguous


def _nobody() -> str:
    return "I don't see anyone."


def _listing(people: list[PersonEntity]) -> str:
    return _join([f"{p.token} {_where(p)} {_mood_words(p, with_score=False)}" for p in people])


def answer_query(q: Query, obs: Observation) -> str | None:
    """The deterministic answer to ``q`` about ``obs``, or ``None`` for an open question."""
    people = obs.people
    n = len(people)
    if q.kind == "open":
        return None
    if q.kind == "describe":
        return _describe(obs)
    if q.kind == "count":
        if n == 0:
            return ("No, " if q.yes_no else "") + _nobody()
        return f"{'Yes, ' if q.yes_no else ''}{_cap(_count(n)) if not q.yes_no else _count(n)}: {_listing(people)}."
    if q.kind == "who":
        if n == 0:
            return _nobody()
        clauses = [person_clause(p, obs, "me") for p in people]
        return f"I see {_count(n)} (I don't recognise who they are): " + "; ".join(clauses) + "."
    if q.kind == "thing":
        return (f"I don't see {q.thing}. I can only recognise people and their faces, not objects, "
                "so I can't rule it out.")
    if q.kind == "objects":
        seen = f"I see {_count(n)}: {_join([p.token for p in people])}." if n else "I don't see anyone either."
        return f"I don't see any objects I can name: I can only recognise people and their faces. {seen}"
    if n == 0:
        return _nobody()
    chosen, missing = _resolve(q.target, obs)
    if not chosen and q.kind != "where":
        return f"I don't see {missing}; I see {_count(n)}: {_listing(people)}."
    if q.kind == "holding":
        if q.target and len(chosen) == 1:
            return (f"I can't tell what {chosen[0].token} is holding: I only see faces, not hands or objects.")
        return "I can't tell what they are holding: I only see faces, not hands or objects " \
               f"({_join([p.token for p in chosen])} {'is' if len(chosen) == 1 else 'are'} in view)."
    if q.kind == "mood":
        return _cap("; ".join(f"{p.token} {_mood_words(p)}" for p in chosen)) + "."
    if q.kind == "why":
        return "I can't tell why; I can only see that " + _join([f"{p.token} {_mood_words(p)}" for p in chosen]) + "."
    if q.kind == "mood_query":
        return _mood_query(q, chosen, bool(q.target))
    if q.kind == "looking":
        return _looking(q, chosen, obs, bool(q.target))
    if q.kind == "where":
        if q.side:
            on = [p for p in people if p.side == q.side]
            where = "in the centre" if q.side == "centre" else f"on the {q.side}"
            if not on:
                return f"Nobody is {where}; I see " + _join([f"{p.token} {_where(p)}" for p in people]) + "."
            return _cap(_join([p.token for p in on])) + f" {'is' if len(on) == 1 else 'are'} {where}."
        if not chosen:
            return f"I don't see {missing}; I see " + _join([f"{p.token} {_where(p)}" for p in people]) + "."
        return _cap("; ".join(f"{p.token} is {_where(p)}, about {p.distance_m:.1f} m away" for p in chosen)) + "."
    if q.kind == "distance":
        ranked = sorted(chosen, key=lambda p: p.distance_m)
        parts = [f"{p.token} is about {p.distance_m:.1f} m away" for p in ranked]
        if q.superlative and len(ranked) > 1:
            if ranked[-1].distance_m - ranked[0].distance_m < 0.15:
                how = "close" if q.superlative == "closest" else "far"
                return (f"{_cap(_join(sorted(p.token for p in ranked)))} are about equally {how}, "
                        f"about {ranked[0].distance_m:.1f} m away.")
            best = ranked[0] if q.superlative == "closest" else ranked[-1]
            rest = [s for p, s in zip(ranked, parts, strict=True) if p is not best]
            return f"{best.token} is {q.superlative}, about {best.distance_m:.1f} m away; " + "; ".join(rest) + "."
        return _cap("; ".join(parts)) + "."
    if q.kind == "changes":
        return _changes(q, obs, chosen if q.target else people)
    if q.kind == "person":
        return _cap("; ".join(person_clause(p, obs, "me") for p in chosen)) + "."
    return None


def _mood_query(q: Query, chosen: list[PersonEntity], targeted: bool) -> str:
    word = q.mood_word
    match = [p for p in chosen if p.mood in q.moods]
    if targeted and len(chosen) == 1:
        p = chosen[0]
        if match:
            return f"Yes, {p.token} {_mood_words(p)}."
        return f"No, {p.token} {_mood_words(p)}, not {word}."
    if match:
        others = [p for p in chosen if p not in match]
        tail = f"; {_listing(others)}" if others else ""
        found = _join([f"{p.token} {_where(p)} {_mood_words(p)}" for p in match])
        return f"{'Yes: ' + found if q.yes_no else _cap(found)}{tail}."
    return f"{'No, n' if q.yes_no else 'N'}obody looks {word}: {_listing(chosen)}."


def _looking(q: Query, chosen: list[PersonEntity], obs: Observation, targeted: bool) -> str:
    thr = obs.facing_threshold
    facing = [p for p in chosen if p.facing >= thr]
    away = [p for p in chosen if p.facing < thr]
    if targeted and len(chosen) == 1:
        p = chosen[0]
        if facing:
            return f"Yes, {p.token} is facing me (facing {p.facing:.2f})."
        return f"No, {p.token} is {_facing_words(p, thr)} (facing {p.facing:.2f})."
    if not facing:
        return f"{'No, n' if q.yes_no else 'N'}obody is looking at me: " + \
            _join([f"{p.token} is {_facing_words(p, thr)}" for p in away]) + "."
    verb = "is" if len(facing) == 1 else "are"
    s = f"{'Yes, ' if q.yes_no else ''}{_join([p.token for p in facing])} {verb} facing me"
    s = _cap(s)
    if away:
        s += "; " + _join([f"{p.token} is {_facing_words(p, thr)}" for p in away])
    return s + "."


def _changes(q: Query, obs: Observation, people: list[PersonEntity]) -> str:
    if len(obs.stamps) < 2:
        return ("I have only one frame, so I can't tell what changed or for how long; I see "
                f"{_count(len(obs.people))}" + (f": {_listing(obs.people)}." if obs.people else "."))
    newest = obs.stamps[-1]
    over = f"in the last {obs.span_s:.1f} s"
    if q.focus == "arrived":
        came = [p for p in people if p.appeared]
        if not came:
            return f"{'No, n' if q.yes_no else 'N'}obody arrived {over}."
        s = _join([f"{p.token} {_where(p)} appeared {newest - p.first_seen:.1f} s ago" for p in came])
        return f"{'Yes, ' + s if q.yes_no else _cap(s)}."
    if q.focus == "left" and not q.target:
        if not obs.gone:
            return f"{'No, n' if q.yes_no else 'N'}obody left {over}."
        s = _join([f"someone who was {_where(g)} has left (last seen {newest - g.last_seen:.1f} s ago)"
                   for g in obs.gone])
        return f"{'Yes, ' + s if q.yes_no else _cap(s)}."
    out = []
    for p in people:
        if p.appeared:
            out.append(f"{p.token} appeared {newest - p.first_seen:.1f} s ago")
        else:
            out.append(f"{p.token} has been there for at least {p.last_seen - p.first_seen:.1f} s")
        if p.first_mood != p.last_mood:
            out.append(f"{p.token} {MOOD_WORDS.get(p.first_mood, p.first_mood).replace('looks', 'looked')} "
                       f"and now {MOOD_WORDS.get(p.last_mood, p.last_mood)}")
    for g in obs.gone:
        out.append(f"someone who was {_where(g)} has left (last seen {newest - g.last_seen:.1f} s ago)")
    if not out:
        return f"Nothing changed over the last {obs.span_s:.1f} s: I don't see anyone."
    return _cap("; ".join(out)) + f" (over the last {obs.span_s:.1f} s)."


def _describe(obs: Observation) -> str:
    n = len(obs.people)
    head = f"I see {_count(n)}." if n else "I don't see anyone."
    body = " ".join(f"{_cap(person_clause(p, obs, 'me'))}." for p in obs.people)
    tail = "".join(f" Someone who was {_where(g)} has left (last seen {obs.stamps[-1] - g.last_seen:.1f} s ago)."
                   for g in obs.gone)
    return f"{head} {body}{tail}".strip()


# --------------------------------------------------------------------------------------------------
# the backend


@dataclass
class _Cache:
    """Perception results of recent frames (the same clip is often asked about several times)."""

    size: int = 64
    items: OrderedDict[tuple, PerceptionResult] = field(default_factory=OrderedDict)

    @staticmethod
    def key(frame: Frame) -> tuple:
        img = frame.image
        return (frame.frame_id, frame.stamp, frame.seq, img.shape, img[:: max(1, img.shape[0] // 16),
                                                                       :: max(1, img.shape[1] // 16)].tobytes())

    def get(self, frame: Frame) -> PerceptionResult | None:
        k = self.key(frame)
        if k in self.items:
            self.items.move_to_end(k)
            return self.items[k]
        return None

    def put(self, frame: Frame, result: PerceptionResult) -> None:
        self.items[self.key(frame)] = result
        while len(self.items) > self.size:
            self.items.popitem(last=False)


class GroundedVLM:
    """The ``grounded`` backend: packaged perception + entity tokens + a question parser + SmolLM2.

    See the module docstring for what is answered deterministically and what goes to the chat model.

    Args:
        config: ``vlm.*``; backend options in ``config.extra`` (see :data:`EXTRA_DEFAULTS`).
        perceiver: an already loaded :class:`~vlm_robot.perception.pipeline.Perceiver` to share
            (else :meth:`load` builds one).
        chat: an already loaded :class:`~vlm_robot.reasoning.llm.ChatModel` to share (else
            :meth:`load` loads the packaged one). A shared llama.cpp model must not be used by two
            threads at once.

    Raises:
        ConfigError: an unknown or out-of-range ``extra`` option.
    """

    name = "grounded"

    def __init__(self, config: VLMConfig, perceiver: Any = None, chat: Any = None) -> None:
        unknown = sorted(set(config.extra) - set(EXTRA_DEFAULTS))
        if unknown:
            raise ConfigError(f"vlm.extra for the grounded backend: unknown option(s) {unknown}; "
                              f"expected some of {sorted(EXTRA_DEFAULTS)}")
        self.config = config
        self.options = {**EXTRA_DEFAULTS, **config.extra}
        if not 1 <= int(self.options["max_frames"]) <= 32:
            raise ConfigError(f"vlm.extra.max_frames must be in [1, 32], got {self.options['max_frames']}")
        if not 0.0 < float(self.options["facing_threshold"]) <= 1.0:
            raise ConfigError(f"vlm.extra.facing_threshold must be in (0, 1], got {self.options['facing_threshold']}")
        self._perceiver = perceiver
        self._chat = chat
        self._own_chat = False
        self._cache = _Cache()
        self._objects: Any = None  # the palme backend of vlm.extra.objects_model, loaded by load()
        self.last_entities: dict[str, dict[str, Any]] = {}
        self.last_observation: Observation | None = None
        self.last_query: Query | None = None
        self.model_name = "grounded (not loaded)"

    def load(self) -> None:
        """Load the face, expression and chat models (seconds; call on configure).

        Raises:
            ModelNotFoundError, ModelIntegrityError: a packaged model is missing or altered.
            BackendUnavailableError: llama-cpp-python is not installed.
        """
        if self._perceiver is None:
            from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig

            self._perceiver = Perceiver(PerceptionConfig(min_face_score=float(self.options["min_face_score"])))
        if self._chat is None:
            from vlm_robot.reasoning.llm import LLMConfig, load_chat_model

            self._chat = load_chat_model(LLMConfig(model_path=str(self.options["llm_model_path"]),
                                                   n_threads=int(self.options["llm_threads"]),
                                                   max_tokens=self.config.max_new_tokens))
            self._own_chat = True
        llm = getattr(self._chat, "model_name", type(self._chat).__name__)
        self.model_name = f"BlazeFace full + FER expression + {llm}"
        if self.options["objects_model"] and self._objects is None:
            from vlm_robot.vlm.base import make_backend

            self._objects = make_backend(VLMConfig(backend="transformers", model=str(self.options["objects_model"]),
                                                   max_new_tokens=self.config.max_new_tokens))
            self._objects.load()
            self.model_name += f"; objects: palme {self.options['objects_model']}"

    def _check(self, frames: Sequence[Frame]) -> list[Frame]:
        if self._perceiver is None or self._chat is None:
            raise NotLoadedError("grounded VLM: the models are not loaded; call load() first (on configure)")
        if not frames:
            raise InvalidInputError("grounded VLM: expected at least one Frame (oldest first), got none")
        for f in frames:
            img = getattr(f, "image", None)
            if not isinstance(img, np.ndarray) or img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
                got = "no image" if img is None else f"{getattr(img, 'dtype', type(img).__name__)} " \
                                                     f"{getattr(img, 'shape', '')}"
                raise InvalidInputError(f"grounded VLM: expected Frame.image as (H, W, 3) uint8 RGB, got {got}; "
                                        "convert with vlm_robot.core.image.image_to_rgb")
        frames = sorted(frames, key=lambda f: f.stamp)
        n = int(self.options["max_frames"])
        if len(frames) > n:
            frames = sample_clip(frames, n, frames[-1].stamp - frames[0].stamp + 1e-6)
        return frames

    def observe(self, frames: Sequence[Frame]) -> Observation:
        """Perceive the clip (oldest first) and build the entity table and multimodal sentence.

        Raises:
            NotLoadedError: :meth:`load` was not called.
            InvalidInputError: no frames, or a frame whose image is not ``(H, W, 3)`` uint8.
        """
        frames = self._check(frames)
        spent = 0.0
        results = []
        for f in frames:
            r = self._cache.get(f)
            if r is None:
                r = self._perceiver.process(f)
                spent += r.latency_ms
                self._cache.put(f, r)
            results.append(r)
        obs = build_observation(results, float(self.options["facing_threshold"]),
                                float(self.options["camera_hfov_deg"]), float(self.options["face_width_m"]))
        obs.perception_ms = spent
        return obs

    def stream(self, question: str, frames: Sequence[Frame]) -> Iterator[str]:
        """Yield the answer in pieces: sentences of a deterministic answer, or the chat model's tokens.

        ``last_entities`` / ``last_observation`` / ``last_query`` are set before the first piece.

        Raises:
            NotLoadedError: :meth:`load` was not called.
            InvalidInputError: no frames, a bad image, or an empty question.
        """
        if not question or not question.strip():
            raise InvalidInputError("grounded VLM: the question is empty; ask something about the scene")
        if self._objects is not None and about_objects(question):
            self.last_observation, self.last_query, self.last_entities = None, None, {}
            yield from self._objects.stream(question, self._check(frames)[-1:])  # the newest frame
            return
        obs = self.observe(frames)
        q = parse_question(question)
        self.last_observation, self.last_query = obs, q
        self.last_entities = obs.entities()
        text = answer_query(q, obs)
        if text is not None:
            yield from re.findall(r".+?(?:[.;:](?:\s+|$)|$)", text)
            return
        messages = [{"role": "system", "content": f"{SYSTEM_PROMPT} The scene: {obs.sentence}"},
                    {"role": "user", "content": question.strip()}]
        text, limit = "", int(self.options["max_sentences"])
        for piece in self._chat.stream(messages, self.config.max_new_tokens):
            text += piece
            yield piece
            if len(re.findall(r"[.!?](?:\s|$)", text)) >= limit:
                break

    def answer(self, question: str, frames: Sequence[Frame]) -> VLMAnswer:
        """The whole answer with the entities it may cite (see :meth:`stream`)."""
        return answer_from_stream(self, question, frames)

    def close(self) -> None:
        """Release the chat model if this backend loaded it; a shared one is left to its owner."""
        self._cache.items.clear()
        if self._objects is not None:
            self._objects.close()
            self._objects = None
        if self._own_chat and self._chat is not None:
            self._chat.close()
        self._perceiver = None
        self._chat = None
        self._own_chat = False
