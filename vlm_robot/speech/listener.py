"""The microphone side without ROS: 16 kHz frames in, voice activity and transcripts out.

:class:`Listener` runs the end-of-turn detector (:class:`~vlm_robot.speech.vad.TurnDetector`) and Whisper
on one worker: a voice starting gives ``on_voice(True)``; a short pause (``early_end``) transcribes
speculatively and, with ``partials``, publishes that text with ``final: false``; the end of the turn
publishes the final transcript (the speculative text is reused when the person did not go on, so the
partial costs nothing extra). While the robot speaks (:attr:`Listener.speaking`) the microphone is either
gated (``while_speaking: gate``, for a speaker and microphone without echo cancellation: the robot's
own voice is never transcribed) or listened to with a stricter start (``barge_in``: the person can
interrupt; needs a headset or a microphone array with echo cancellation).
:func:`open_source` opens a device, a WAV file, or nothing, from one configuration string.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlm_robot.core.errors import ConfigError
from vlm_robot.speech.asr import collapse_repeats
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE, DeviceSource, WavSource
from vlm_robot.speech.denoise import check_denoise, make_denoiser
from vlm_robot.speech.vad import TurnDetector, TurnEvent

log = logging.getLogger("vlm_robot.speech.listener")


@dataclass(frozen=True)
class MicrophoneConfig:
    """Top-level parameters of config/microphone.yaml.

    Attributes:
        source: ``""`` (idle: no audio is opened), ``default`` (the default input device), a device index
            or (part of a) name (``vlm-robot audio devices`` lists them), or a ``.wav`` file.
        rate: the device's capture rate (resampled to 16 kHz); a WAV file's own rate is used.
        realtime: a WAV file is fed at the pace a microphone would deliver it.
        file_delay_s: a WAV file starts this long after /speech/transcript has a subscriber.
        while_speaking: ``gate`` (ignore the microphone while the robot speaks) or ``barge_in``.
        barge_frames: voiced 32 ms frames needed to start a turn while the robot speaks (barge_in).
        partials: publish the speculative transcript of a pause (``final: false``) on /speech/partial.
        silence_warn_s: digital silence this long gives one diagnostic (a muted or wrong device).
        speaker: the transcripts' ``speaker`` field.
        denoise: noise suppression before VAD and ASR: ``none``, ``rnnoise`` or ``webrtc``
            (:mod:`vlm_robot.speech.denoise`; a missing package: one log line, no suppression).
    """

    source: str = ""
    rate: int = SAMPLE_RATE
    realtime: bool = True
    file_delay_s: float = 1.0
    while_speaking: str = "gate"
    barge_frames: int = 3
    partials: bool = True
    silence_warn_s: float = 10.0
    speaker: str = "user"
    denoise: str = "none"

    def __post_init__(self) -> None:
        check_denoise(self.denoise)
        if self.while_speaking not in ("gate", "barge_in"):
            raise ConfigError(f"while_speaking {self.while_speaking!r} unknown; expected 'gate' or 'barge_in'")
        if not 1 <= self.barge_frames <= 30:
            raise ConfigError(f"barge_frames must be in [1, 30] (32 ms frames), got {self.barge_frames}")
        if self.silence_warn_s <= 0:
            raise ConfigError(f"silence_warn_s must be > 0, got {self.silence_warn_s}")


def open_source(config: MicrophoneConfig):
    """The configured source (with ``frames()`` and ``rate``), or None when idle.

    Raises:
        InvalidInputError: unreadable WAV, unsupported sample rate, no such device.
        BackendUnavailableError: a device was asked for and PortAudio / sounddevice is missing.
    """
    s = config.source.strip()
    if not s:
        return None
    if s.lower().endswith(".wav") or Path(s).is_file():
        return WavSource(s)
    return DeviceSource(s, config.rate)


class Listener:
    """See the module docstring.

    Args:
        config: microphone settings.
        turn: the end-of-turn detector (owns the VAD).
        transcribe: audio -> a Recognition (``.text``, ``.compute_s``, ``.model``).
        on_transcript: gets each ``vlm_robot/transcript`` body (final or partial).
        on_voice: True when a person starts speaking, False when the turn ends.
        on_problem: (what, message) for bad audio: clipping, long digital silence.
    """

    def __init__(self, config: MicrophoneConfig, turn: TurnDetector, transcribe: Callable[[np.ndarray], object],
                 on_transcript: Callable[[dict], None], on_voice: Callable[[bool], None] = lambda v: None,
                 on_problem: Callable[[str, str], None] = lambda w, m: log.warning("%s: %s", w, m)) -> None:
        self.c = config
        self.turn = turn
        self.transcribe = transcribe
        self.on_transcript = on_transcript
        self.on_voice = on_voice
        self.on_problem = on_problem
        self.speaking = False  # the robot is talking (set from /vlm_robot/speaking)
        self.samples = 0
        self.silent = 0
        self.denoiser = make_denoiser(config.denoise)
        self.session = uuid.uuid4().hex[:8]
        self.seq = 0
        self._spec: tuple[object, TurnEvent] | None = None
        self.last_end: dict = {}  # why and when the last turn ended (for the log)
        turn.expect_hints = True  # every pause is transcribed (early_end) and its words handed to turn.hint()

    def feed(self, frame: np.ndarray, wall: float) -> None:
        """One frame of :data:`FRAME` samples whose last sample arrived at wall-clock time ``wall``."""
        self.samples += len(frame)
        self._check_silence(frame)
        if self.denoiser is not None:  # before VAD and ASR; fed even while gated, so its noise estimate stays current
            frame = self.denoiser(frame)
        gated = self.speaking and self.c.while_speaking == "gate"
        if gated:
            frame = np.zeros_like(frame)
        self.turn.start_frames_now = self.c.barge_frames if self.speaking and not gated else self.turn.c.start_frames
        now = self.samples / SAMPLE_RATE
        for ev in self.turn.push(frame):
            self._on_event(ev, lambda t, now=now, wall=wall: wall - (now - t))

    def _check_silence(self, frame: np.ndarray) -> None:
        if np.max(np.abs(frame)) > 1e-4:
            self.silent = 0
            return
        self.silent += len(frame)
        if self.silent == int(self.c.silence_warn_s * SAMPLE_RATE) // FRAME * FRAME:
            self.on_problem("microphone silent", f"{self.c.silence_warn_s:.0f} s of digital silence from "
                            f"{self.c.source!r}; expected some background noise: is it muted or the wrong device? "
                            "(`vlm-robot audio devices` lists them)")

    def _on_event(self, ev: TurnEvent, wall_of: Callable[[float], float]) -> None:
        if ev.kind == "start":
            self.on_voice(True)
        elif ev.kind == "early_end":
            r = self.transcribe(ev.audio)
            self._spec = (r, ev)
            if self.c.partials and r.text:
                self.on_transcript(self._body(r, ev, wall_of, final=False))
            for follow in self.turn.hint(r.text):  # the words of the pause: over now, or wait for more
                self._on_event(follow, wall_of)
        elif ev.kind == "resume":
            self._spec = None
        elif ev.kind in ("end", "cut"):
            spec, self._spec = self._spec, None
            self.last_end = {"by": ev.info.get("end_by", "max_turn_s" if ev.kind == "cut" else "silence"),
                             "pause_ms": round(1000 * (ev.t - ev.info.get("speech_end", ev.t))),
                             "p_complete": ev.info.get("p_complete")}
            r = spec[0] if spec is not None and ev.kind == "end" else self.transcribe(ev.audio)
            if ev.clipped > 0.01:
                self.on_problem("microphone clipping", f"{100 * ev.clipped:.1f} % of the turn's samples are clipped; "
                                "expected peaks below full scale: lower the microphone gain")
            if r.text:
                self.on_transcript(self._body(r, ev, wall_of, final=True))
            else:
                log.info("a turn of %.1f s gave no words (noise); nothing published", len(ev.audio) / SAMPLE_RATE)
            if ev.kind == "end":
                self.on_voice(False)
        elif ev.kind == "drop":
            self._spec = None
            self.on_voice(False)

    def _body(self, r, ev: TurnEvent, wall_of: Callable[[float], float], final: bool) -> dict:
        if final:
            self.seq += 1
        end = wall_of(ev.info.get("speech_end", ev.t))
        # Whisper's decoding loops are said once; the end-of-turn check above still sees them (a loop of a
        # fragment, "Can you help me? Can you help me? ...", is what its word-rate rule keeps the turn open on)
        return {"text": collapse_repeats(r.text), "stamp": end, "speaker": self.c.speaker, "final": final,
                "id": f"mic-{self.session}-{self.seq + (0 if final else 1)}", "speech_start": wall_of(ev.speech_start),
                "speech_end": end, "audio_s": round(len(ev.audio) / SAMPLE_RATE, 3),
                "asr_ms": round(1000 * getattr(r, "compute_s", 0.0), 1), "model": getattr(r, "model", "")}
