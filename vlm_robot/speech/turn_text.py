"""Does a transcript read like a finished turn? The words' half of the learned end of turn, without ROS.

The sound of a pause (Smart Turn, :mod:`vlm_robot.speech.end_of_turn`) hears most mid-sentence pauses of a
synthetic voice as an end, and Whisper puts a question mark after fragments that sound like questions
("Could you bring me?", "Do you know where?"). A language model knows better: after "do you know where"
a sentence rarely stops, after "where is the kitchen" it usually does. :class:`TextEndModel` asks the
packaged SmolLM2-135M-Instruct (the chat model's GGUF, run by llama.cpp; no new download) for the
probability that the person's turn ends after these words: the transcript is lower-cased and stripped of
punctuation (Whisper's own guess must not decide), put in the chat template as the user's message after
a few fixed example turns that show user messages without punctuation, and the probability of the next
token being the end of the message (``<|im_end|>``) or a sentence end (a token starting with ``.``, ``?``
or ``!``) is the answer. The same idea as LiveKit's turn detector, here without fine-tuning.

:func:`read_words` combines it with rules: a last word that cannot end an English sentence ("the",
"my", "and", "um") means the turn goes on whatever the model says; one or two words that Whisper closed
with ``!`` ("Stop!") are finished, with ``.`` or ``?`` finished if the model is sure ("Thank you.") and
else left to the sound ("Can you?"), never kept open; otherwise the model's probability decides: below ``text_low`` the
turn goes on, at or above ``text_high`` it is finished, in between the sound decides. Words Whisper left
without closing punctuation go on unless the model is sure (``text_high``) of an end; then the sound
decides (Whisper tiny drops the full stop of some finished sentences: "Please bring me a glass of water").

Measured (``python -m vlm_robot.benchmarks.end_of_turn --text``): README, Speech, and config/microphone.yaml.
"""

from __future__ import annotations

import logging
import re
import threading
import time

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError

log = logging.getLogger("vlm_robot.speech.turn_text")

# Example turns shown before the person's words. Chosen to share no sentence with the benchmarks'
# (vlm_robot.benchmarks.end_of_turn, vlm_robot.benchmarks.voice): user messages without punctuation,
# short and long, a question and a request.
EXAMPLE_TURNS = (
    ("hi robot", "Hello!"),
    ("could you move a bit to the left please", "Moving to the left."),
    ("thanks", "You're welcome."),
    ("what's that thing on the floor", "It looks like a bag."),
)

# Last words after which an English sentence cannot be over: articles, possessive determiners, conjunctions,
# hesitations. (Prepositions are not here: "Where are you from?" ends with one.)
_GOES_ON = frozenset("a an the my your our their and or but because than um uh er erm".split())
_WORD = re.compile(r"[a-z']+")

GOES_ON, UNSURE, FINISHED = "goes_on", "unsure", "finished"


def unfinished_text(text: str) -> bool:
    """Whether a transcript reads like a sentence that goes on, by rule.

    Whisper closes what it hears as a finished sentence with ``.``, ``?`` or ``!``; a cut-off phrase ("I'm
    looking for") usually gets no punctuation, or a trailing ``...``, ``,`` or ``-``. And some last words
    cannot end a sentence ("Could you bring me a"). Empty text (noise, nothing recognised) is not unfinished:
    the sound decides.
    """
    t = text.strip()
    if not t:
        return False
    if t.endswith(("...", "\u2026", ",", "-", ":", ";")) or t[-1] not in ".?!":
        return True
    words = _WORD.findall(t.lower())
    return bool(words) and words[-1] in _GOES_ON


def normalise(text: str) -> str:
    """What the model reads: lower case, words and apostrophes only."""
    return " ".join(re.sub(r"[^\w' ]+", " ", text.lower()).split())


class TextEndModel:
    """P(the turn ends after these words), from SmolLM2-135M-Instruct through llama.cpp.

    Args:
        path: a GGUF of a model with SmolLM2's chat template; None = the packaged one (sha256-pinned).
        threads: llama.cpp threads, also for the batch of the person's words (llama-cpp-python's default batch
            threads are all cores, which beside another busy process made a 28 ms call take 208 ms).

    Raises:
        BackendUnavailableError: llama-cpp-python is not installed.
        ModelNotFoundError, ModelIntegrityError: the GGUF is missing or has another sha256.
    """

    def __init__(self, path: str | None = None, threads: int = 1) -> None:
        from vlm_robot.core.assets import CHAT_LLM

        gguf = path or str(CHAT_LLM.path())  # located and sha256-checked before llama.cpp reads it
        try:
            from llama_cpp import Llama
        except ImportError as e:
            raise BackendUnavailableError("the words' end-of-turn model needs llama-cpp-python: "
                                          "`pip install -r requirements/llm.txt`") from e
        t0 = time.perf_counter()
        self._llm = Llama(model_path=gguf, n_ctx=512, n_batch=128, n_threads=threads, n_threads_batch=threads, seed=0,
                          verbose=False)
        tok = self._llm.tokenize
        ends = {i for i in range(self._llm.n_vocab()) if self._llm.detokenize([i])[:1] in (b".", b"?", b"!")}
        end_of_message = tok(b"<|im_end|>", add_bos=False, special=True)
        if len(end_of_message) != 1:
            raise BackendUnavailableError(f"{gguf}: no <|im_end|> token; expected a model with SmolLM2's chat "
                                          "template")
        ends.add(end_of_message[0])
        self._ends = np.array(sorted(ends))
        prefix = "".join(f"<|im_start|>user\n{u}<|im_end|>\n<|im_start|>assistant\n{a}<|im_end|>\n"
                         for u, a in EXAMPLE_TURNS) + "<|im_start|>user\n"
        self._llm.reset()
        self._llm.eval(tok(prefix.encode(), add_bos=False, special=True))
        self._prefix = self._llm.n_tokens  # kept in the KV cache; each call evaluates only the person's words
        self._empty = np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(self._llm.n_vocab(),)).copy()
        self._lock = threading.Lock()
        self.last_s = 0.0
        self.load_s = time.perf_counter() - t0

    def __call__(self, text: str) -> float:
        """P(the turn is over) after ``text`` (any transcript; punctuation and case are ignored)."""
        t0 = time.perf_counter()
        words = normalise(text)
        toks = self._llm.tokenize(words.encode(), add_bos=False, special=False) if words else []
        with self._lock:
            self._llm.n_tokens = self._prefix  # eval() drops the previous call's words from the KV cache
            if toks:
                self._llm.eval(toks)
                logits = np.ctypeslib.as_array(self._llm._ctx.get_logits(), shape=(self._llm.n_vocab(),))
            else:
                logits = self._empty
            logits = logits.astype(np.float64)
        p = np.exp(logits - logits.max())
        self.last_s = time.perf_counter() - t0
        return float(p[self._ends].sum() / p.sum())


def too_many_words(n_words: int, voiced_s: float | None, max_rate: float) -> bool:
    """More words than ``voiced_s`` seconds of voice can carry (``max_rate`` words a voiced second, plus one
    word of slack for short turns): Whisper completed a fragment with words nobody said ("Please tell me"
    heard as "Please tell me what you want.", 6 words in 0.61 s). ``max_rate`` <= 0 or no duration: never."""
    return bool(max_rate > 0 and voiced_s and n_words > max_rate * voiced_s + 1)


def read_words(text: str, model=None, low: float = 0.05, high: float = 0.3, voiced_s: float | None = None,
               max_rate: float = 0.0) -> tuple[str, float | None]:
    """The words' verdict on a pause: (``goes_on`` | ``unsure`` | ``finished``, the model's P or None).

    ``model`` is any callable text -> P(turn over) (:class:`TextEndModel`); None = rules only (then a
    closed sentence is ``unsure``: the sound decides, as before the model). Empty text (nothing
    recognised) is ``unsure``. Words too many for the turn's ``voiced_s`` seconds of voice
    (:func:`too_many_words` at ``max_rate``) are not trusted: ``goes_on``. A model error propagates (the
    caller falls back to the rules).
    """
    t = text.strip()
    if not t:
        return UNSURE, None
    words = _WORD.findall(t.lower())
    if words and words[-1] in _GOES_ON:
        return GOES_ON, None  # "Could you bring me a"
    if too_many_words(len(words), voiced_s, max_rate):
        return GOES_ON, None  # a completion Whisper made up: the person may not have finished
    left_open = unfinished_text(t)
    short = not left_open and len(words) <= 2
    if short and t.endswith("!"):
        return FINISHED, None  # "Stop!", "Help!": an exclamation Whisper closed, too short to be a fragment
    if model is None:
        return (GOES_ON if left_open else UNSURE), None
    p = float(model(t))
    if short:
        # "Thank you." ends; "Can you?" / "I'm." may be the start of a sentence: the model, or else the sound
        # ("stop", "no" and "wait" alone get a low P: the language model never goes on against a closed short turn)
        return (FINISHED if p >= high else UNSURE), p
    if left_open:
        # Whisper left it open ("I'm looking for", but also a finished "Please bring me a glass of water"): only
        # a model sure of the end lets the sound decide
        return (UNSURE if p >= high else GOES_ON), p
    return (GOES_ON if p < low else FINISHED if p >= high else UNSURE), p
