"""Noise suppression (vlm_robot/speech/denoise.py) and turn ending in babble (vad.noise_snr_db), on real audio.

The person is espeak-ng's en-us+f3 voice at 150 wpm (vlm_robot/benchmarks/voices.py); the noise is white or
babble (5 other espeak-ng talkers saying other sentences, vlm_robot/benchmarks/voice_noise.py) at 10 dB SNR
over the speech's active samples. `python -m vlm_robot.benchmarks.voice_noise` measures the whole matrix.
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
PACKAGE = {"rnnoise": "pyrnnoise", "webrtc": "webrtc_noise_gain"}
ROOT = Path(__file__).resolve().parents[2]


def _have(kind: str) -> bool:
    return importlib.util.find_spec(PACKAGE[kind]) is not None


def _backend(kind: str):
    return pytest.param(kind, marks=pytest.mark.skipif(not _have(kind), reason=f"{PACKAGE[kind]} not installed: "
                                                         "`pip install -r requirements/denoise.txt` (see its notes)"))


def _zeros(s: float) -> np.ndarray:
    return np.zeros(round(s * SAMPLE_RATE), np.float32)


def _run(d, x: np.ndarray) -> np.ndarray:
    n = len(x) // FRAME * FRAME
    return np.concatenate([d(x[i:i + FRAME]) for i in range(0, n, FRAME)])


@needs_espeak
@pytest.mark.parametrize("kind", [_backend("rnnoise"), _backend("webrtc")])
def test_denoiser_lowers_the_noise_keeps_the_sentence_and_states_its_delay(kind):
    from vlm_robot.benchmarks.voice_noise import active_power
    from vlm_robot.benchmarks.voices import say
    from vlm_robot.speech.denoise import make_denoiser

    speech = say("Where did I leave my keys this morning?")
    clean = np.concatenate([_zeros(1.0), speech, _zeros(0.5)])
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(len(clean)).astype(np.float32)
    noise *= np.sqrt(active_power(speech) / 10 / np.mean(noise ** 2))  # 10 dB SNR
    d = make_denoiser(kind)
    delay = round(d.delay_ms * SAMPLE_RATE / 1000)
    # the stated delay is the measured one: the clean sentence through a fresh suppressor, cross-correlated
    y_clean = _run(make_denoiser(kind), clean)
    lags = [float(np.dot(clean[:len(y_clean) - k], y_clean[k:])) for k in range(0, 1200, 16)]
    assert abs(16 * int(np.argmax(lags)) - delay) <= 16
    y = _run(d, clean + noise)
    sp = slice(SAMPLE_RATE + delay, SAMPLE_RATE + delay + len(speech))  # the sentence, in the output
    quiet = slice(int(0.5 * SAMPLE_RATE), SAMPLE_RATE)  # noise alone, after the suppressor has settled

    def snr(a):  # speech-segment power over noise-alone power, dB
        return 10 * np.log10(np.mean(a[sp] ** 2) / np.mean(a[quiet] ** 2) - 1)

    x = (clean + noise)[: len(y)]
    x_shift = np.concatenate([np.zeros(delay, np.float32), x])[: len(y)]
    # measured: rnnoise 9.8 -> 62.8 dB, webrtc 9.8 -> 20.5 dB (this estimate); the sentence keeps its power
    assert snr(y) > snr(x_shift) + 8, (snr(x_shift), snr(y))
    assert np.mean(y[sp] ** 2) > 0.3 * np.mean(clean[sp.start - delay:sp.stop - delay] ** 2)
    assert d.ms_per_s < 500  # far below real time (measured 25-48 ms per s idle, ~200 under load)


def test_config_is_checked():
    from vlm_robot.speech.listener import MicrophoneConfig
    from vlm_robot.speech.vad import TurnConfig

    assert MicrophoneConfig().denoise == "none"
    for ok in ("none", "rnnoise", "webrtc"):
        assert MicrophoneConfig(denoise=ok).denoise == ok
    with pytest.raises(ConfigError, match="denoise 'speex' unknown"):
        MicrophoneConfig(denoise="speex")
    base = TurnConfig()
    assert base.noise_snr_db == 0.0  # off in the library; config/microphone.yaml turns it on
    for bad in ({"noise_snr_db": -1.0}, {"noise_snr_db": 31.0}, {"noise_window_s": 0.5}):
        with pytest.raises(ConfigError):
            replace(base, **bad)


@pytest.mark.parametrize("kind", ["rnnoise", "webrtc"])
def test_a_missing_package_gives_one_line_and_no_suppression(monkeypatch, caplog, kind):
    from vlm_robot.speech import denoise
    from vlm_robot.speech.listener import Listener, MicrophoneConfig

    if kind == "rnnoise":
        monkeypatch.setattr(denoise, "_RNNOISE_LIB", None)
        real = importlib.util.find_spec
        monkeypatch.setattr(denoise.importlib.util, "find_spec",
                            lambda n, *a: None if n == "pyrnnoise" else real(n, *a))
    else:
        monkeypatch.setitem(sys.modules, "webrtc_noise_gain", None)  # import raises ImportError
    with caplog.at_level(logging.WARNING, logger="vlm_robot.speech.denoise"):
        assert denoise.make_denoiser(kind) is None
        lis = Listener(MicrophoneConfig(denoise=kind), _FakeTurn(), lambda a: None, lambda b: None)
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 2 and lines[0] == lines[1], lines  # one line per attempt
    assert "no noise suppression" in lines[0] and denoise.PIP[kind] in lines[0]
    frame = np.full(FRAME, 0.1, np.float32)
    lis.feed(frame, 0.0)
    assert lis.turn.frames[-1] is frame  # unchanged, undelayed


class _FakeTurn:
    class c:  # stands in for TurnConfig
        start_frames = 2

    def __init__(self):
        self.frames = []

    def push(self, frame):
        self.frames.append(frame)
        return []


@needs_espeak
def test_a_turn_in_babble_ends_soon_and_gives_one_transcript_per_sentence():
    from vlm_robot.benchmarks.voice_noise import add_noise, yaml_vad
    from vlm_robot.benchmarks.voices import say
    from vlm_robot.speech.listener import Listener, MicrophoneConfig
    from vlm_robot.speech.vad import SileroVad, TurnConfig, TurnDetector

    said = ["Please bring me a glass of water.", "Where is the nearest bus stop?"]
    parts, spans, pos = [_zeros(6.0)], [], 6 * SAMPLE_RATE  # the crowd first: the floor is learned
    for s in said:
        a = say(s)
        spans.append((pos / SAMPLE_RATE, (pos + len(a)) / SAMPLE_RATE))
        parts += [a, _zeros(2.5)]
        pos += len(a) + round(2.5 * SAMPLE_RATE)
    x = add_noise(np.concatenate(parts), "babble")  # 10 dB SNR
    vad = SileroVad()
    gate = {k: v for k, v in yaml_vad(str(ROOT / "config" / "microphone.yaml")).items() if k.startswith("noise_")}
    mic = TurnConfig(**gate, max_turn_s=8.0, end_of_turn="silence")
    assert mic.noise_snr_db > 0  # the crowd gate is on in the microphone node's configuration

    def listen(snr_db):
        vad.reset()
        det = TurnDetector(replace(mic, noise_snr_db=snr_db), vad=vad)
        finals = []
        # a final is published as its turn ends, inside feed(): the stream position is the turn's end
        lis = Listener(MicrophoneConfig(partials=False), det, lambda a: _Text(a),
                       lambda b: finals.append({**b, "turn_end": lis.samples / SAMPLE_RATE}))
        for i in range(0, len(x) // FRAME * FRAME, FRAME):
            lis.feed(x[i:i + FRAME], wall=(i + FRAME) / SAMPLE_RATE)
        return [b for b in finals if b["final"]], det

    finals, det = listen(mic.noise_snr_db)
    assert det.crowd  # the background was heard as voices
    # measured: two finals, each 0.3-0.5 s after its sentence's end
    ends = [b["speech_end"] for b in finals if b["audio_s"] < 6.0]
    assert len(finals) == 2 == len(ends), [(b["speech_start"], b["speech_end"], b["audio_s"]) for b in finals]
    bounds = [0.0] + [e for _, e in spans]
    for k, (b, (start, end)) in enumerate(zip(finals, spans, strict=True)):
        assert bounds[k] < b["speech_start"] < start + 0.3 and end - 0.3 < b["speech_end"] < end + 0.5
        assert 0.0 < b["turn_end"] - end < 1.0
    without, _ = listen(0.0)  # silero alone: the crowd keeps the turn open until max_turn_s
    assert any(b["audio_s"] >= 7.9 for b in without)


class _Text:
    def __init__(self, audio):
        self.text = f"{len(audio)} samples"
        self.compute_s = 0.0
        self.model = "fake"
