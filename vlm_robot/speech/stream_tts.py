"""Streaming speech synthesis: text pieces (a language model's tokens) in, audio clause by clause out.

:class:`ClauseChunker` cuts the growing reply at clause ends (``. ! ? ; :`` and, once a clause is long
enough, ``,``) so the first clause is spoken while the model still writes the rest.
:class:`ClauseSynth` turns one clause into 16 kHz mono float32 with espeak-ng (default, any Debian) or
piper (optional extra: GPL-3.0, ``pip install piper-tts``; used through its command line).
"""

from __future__ import annotations

import io
import math
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, ConfigError
from vlm_robot.speech.audio import SAMPLE_RATE, read_wav, resample

_HARD = re.compile(r"[.!?;:](?:[\"')\]]*)(?=\s)")
_SOFT = re.compile(r",(?=\s)")


@dataclass(frozen=True)
class StreamTTSConfig:
    """``tts.*`` for streamed speech (config/speech_out.yaml).

    Attributes:
        engine: ``espeak-ng`` or ``piper``.
        voice: espeak-ng voice (``en-us``) or the path of a piper ``.onnx`` voice.
        rate_wpm: espeak-ng speaking rate.
        min_clause_chars: a comma ends a clause only after this many characters (very short clauses sound choppy).
        max_clause_chars: a clause with no punctuation is cut at a space after this many characters.
        word_gap_ms: espeak-ng's pause between words (``-g``, in 10 ms steps at its default rate); 0 = none,
            espeak-ng's own run-together speech (what the test "persons" use); the robot's voice
            (:class:`~vlm_robot.speech.speech_out.SpeechOutConfig`) uses 50 ms, see there.
    """

    engine: str = "espeak-ng"
    voice: str = "en-us"
    rate_wpm: int = 165
    min_clause_chars: int = 24
    max_clause_chars: int = 160
    word_gap_ms: int = 0

    def __post_init__(self) -> None:
        if self.engine not in ("espeak-ng", "piper"):
            raise ConfigError(f"tts.engine {self.engine!r} unknown; expected 'espeak-ng' or 'piper'")
        if not 80 <= self.rate_wpm <= 450:
            raise ConfigError(f"tts.rate_wpm must be in [80, 450], got {self.rate_wpm}")
        if not 0 <= self.word_gap_ms <= 500:
            raise ConfigError(f"tts.word_gap_ms must be in [0, 500], got {self.word_gap_ms}")
        if not 1 <= self.min_clause_chars < self.max_clause_chars:
            raise ConfigError("tts: expected 1 <= min_clause_chars < max_clause_chars, got "
                              f"{self.min_clause_chars} and {self.max_clause_chars}")


class ClauseChunker:
    """Accumulates text pieces; :meth:`push` returns the clauses completed so far."""

    def __init__(self, min_chars: int = 24, max_chars: int = 160) -> None:
        self.buf = ""
        self.min_chars = min_chars
        self.max_chars = max_chars

    def push(self, piece: str) -> list[str]:
        self.buf += piece
        out = []
        while True:
            cut = self._cut()
            if cut is None:
                break
            clause, self.buf = self.buf[:cut].strip(), self.buf[cut:].lstrip()
            if clause:
                out.append(clause)
        return out

    def _cut(self) -> int | None:
        m = _HARD.search(self.buf)
        if m:
            return m.end()
        for m in _SOFT.finditer(self.buf):
            if m.end() >= self.min_chars:
                return m.end()
        if len(self.buf) > self.max_chars:
            space = self.buf.rfind(" ", 0, self.max_chars)
            return space if space > 0 else self.max_chars
        return None

    def flush(self) -> list[str]:
        """The rest, at the end of the reply."""
        rest, self.buf = self.buf.strip(), ""
        return [rest] if rest else []


def clauses(pieces: Iterable[str], min_chars: int = 24, max_chars: int = 160) -> Iterator[str]:
    """Clauses of a streamed text, each as soon as it is complete."""
    ch = ClauseChunker(min_chars, max_chars)
    for p in pieces:
        yield from ch.push(p)
    yield from ch.flush()


class ClauseSynth:
    """One clause of text -> float32 samples at 16 kHz, at the voice style a person asked for (:meth:`set_style`).

    Raises:
        BackendUnavailableError: the engine is not installed.
    """

    def __init__(self, config: StreamTTSConfig | None = None) -> None:
        self.config = c = config or StreamTTSConfig()
        exe = "espeak-ng" if c.engine == "espeak-ng" else "piper"
        self.exe = shutil.which(exe)
        if not self.exe:
            fix = "`sudo apt-get install espeak-ng`" if exe == "espeak-ng" else "`pip install piper-tts` (GPL-3.0)"
            raise BackendUnavailableError(f"tts engine {exe} not found on PATH; install it with {fix}")
        if c.engine == "piper" and not Path(c.voice).is_file():
            raise BackendUnavailableError(f"tts.voice {c.voice!r} must be a piper .onnx voice file for engine piper")
        self.rate_scale = 1.0
        self.volume_scale = 1.0

    def set_style(self, rate_scale: float, volume_scale: float) -> None:
        """Speak ``rate_scale`` x the configured rate (espeak-ng's words a minute, within its 80-450; piper's
        phoneme length) and ``volume_scale`` x as loud, from the next clause on."""
        if not (math.isfinite(rate_scale) and math.isfinite(volume_scale) and rate_scale > 0 and volume_scale > 0):
            raise ValueError(f"voice style scales must be finite and positive, got {rate_scale}, {volume_scale}")
        self.rate_scale, self.volume_scale = float(rate_scale), float(volume_scale)

    def __call__(self, text: str):
        c = self.config
        rate_scale, volume_scale = self.rate_scale, self.volume_scale
        if c.engine == "espeak-ng":
            wpm = min(450, max(80, round(c.rate_wpm * rate_scale)))
            gap = round(c.word_gap_ms / rate_scale / 10)  # slower speech: longer pauses between words too
            cmd = [self.exe, "-v", c.voice, "-s", str(wpm), "-g", str(gap), "--stdout", "--", text]
            wav = subprocess.run(cmd, check=True, capture_output=True, timeout=30).stdout
            samples, rate = read_wav(io.BytesIO(_fix_stream_header(wav)))
        else:
            with tempfile.TemporaryDirectory() as d:
                out = Path(d) / "clause.wav"
                subprocess.run([self.exe, "--model", c.voice, "--output_file", str(out),
                                "--length_scale", f"{1.0 / rate_scale:.3f}"], input=text.encode(),
                               check=True, capture_output=True, timeout=60)
                samples, rate = read_wav(out)
        return louder(resample(samples, rate, SAMPLE_RATE), volume_scale)


def louder(samples: np.ndarray, gain: float) -> np.ndarray:
    """``samples`` x ``gain``; above 1 through a soft limiter (tanh), so that peaks are rounded, not clipped:
    espeak-ng's speech peaks near 0.7, so a plain gain above 1.4 would clip."""
    if gain == 1.0:
        return samples
    x = np.asarray(samples, np.float32)
    return (np.tanh(gain * x) if gain > 1.0 else gain * x).astype(np.float32)


def _fix_stream_header(wav: bytes) -> bytes:
    """espeak-ng --stdout cannot seek back, so its RIFF and data sizes are placeholders; set the real ones."""
    if len(wav) < 44 or wav[:4] != b"RIFF":
        return wav
    data_at = wav.find(b"data", 12)
    if data_at < 0:
        return wav
    n = len(wav) - data_at - 8
    return b"RIFF" + (len(wav) - 8).to_bytes(4, "little") + wav[8:data_at + 4] + n.to_bytes(4, "little") + \
        wav[data_at + 8:]
