"""Learned end of turn: Smart Turn v3.2 (pipecat-ai, BSD-2-Clause) on the last 8 s of a turn's audio.

The model reads how a turn *sounds* at a pause (falling pitch, a finished phrase; or a held
"I'm looking for ..." that will go on) and gives P(the turn is complete). :class:`EndOfTurnModel`
computes the model's input itself, numpy only, exactly as pipecat does (``pipecat/audio/turn/
smart_turn/local_smart_turn_v3.py`` + ``_whisper_features.py``, the numpy twin of
``transformers.WhisperFeatureExtractor(chunk_length=8)``):

1. the last 8 s of 16 kHz audio; shorter audio is zero-padded at the **start** (the end of the turn
   always lies at the right edge of the window);
2. zero-mean unit-variance normalisation of the whole padded 8 s waveform;
3. centred (reflect-padded) 400-sample periodic-Hann STFT every 160 samples, power spectrum,
   80 Slaney mel filters (0-8 kHz, Slaney area norm), ``log10(max(1e-10, mel))``, last frame dropped
   -> 80 x 800; clamped to ``max - 8``, then ``(x + 4) / 4``;
4. ONNX input ``input_features`` float32 [1, 80, 800]; output ``logits`` [1, 1] is already a
   probability (the graph ends in a Sigmoid node).

The model file is located inside the installed pipecat-ai wheel (installed ``--no-deps``, never
imported) and sha256-checked like every packaged model (:mod:`vlm_robot.core.assets`).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from vlm_robot.core.assets import Asset
from vlm_robot.core.errors import BackendUnavailableError, InvalidInputError, ModelNotFoundError
from vlm_robot.speech.audio import SAMPLE_RATE

SMART_TURN = Asset(
    "Smart Turn v3.2 end-of-turn model (ONNX, int8, CPU)",
    "pipecat",
    "audio/turn/smart_turn/data/smart-turn-v3.2-cpu.onnx",
    "2bb026316b14a660486a75b1733cd3fbab8c2fd0314dc9af7be49f8cca967e4f",
    "pipecat-ai==1.14.0",
)

WINDOW_S = 8
WINDOW = WINDOW_S * SAMPLE_RATE  # 128000 samples
N_FFT = 400
HOP = 160
N_MELS = 80
N_FRAMES = WINDOW // HOP  # 800


def _hz_to_mel(f: np.ndarray) -> np.ndarray:
    """Slaney mel scale: linear below 1 kHz, logarithmic above."""
    f = np.asarray(f, np.float64)
    return np.where(f >= 1000.0, 15.0 + np.log(np.maximum(f, 1e-12) / 1000.0) * 27.0 / np.log(6.4), 3.0 * f / 200.0)


def _mel_to_hz(m: np.ndarray) -> np.ndarray:
    m = np.asarray(m, np.float64)
    return np.where(m >= 15.0, 1000.0 * np.exp(np.log(6.4) / 27.0 * (m - 15.0)), 200.0 * m / 3.0)


def _mel_filters() -> np.ndarray:
    """[201 frequency bins, 80 mels], Slaney-normalised triangles over 0-8 kHz (Whisper's filterbank)."""
    hz = _mel_to_hz(np.linspace(_hz_to_mel(0.0), _hz_to_mel(SAMPLE_RATE / 2), N_MELS + 2))
    fft_hz = np.linspace(0, SAMPLE_RATE // 2, N_FFT // 2 + 1)
    slopes = hz[None, :] - fft_hz[:, None]
    down = -slopes[:, :-2] / np.diff(hz)[:-1]
    up = slopes[:, 2:] / np.diff(hz)[1:]
    return np.maximum(0.0, np.minimum(down, up)) * (2.0 / (hz[2:] - hz[:-2]))[None, :]


_MEL = _mel_filters()
_HANN = np.hanning(N_FFT + 1)[:-1]  # periodic, as torch.hann_window


def fit_window(audio: np.ndarray) -> np.ndarray:
    """The last 8 s of ``audio``; shorter audio gets zeros at the start (the model's training layout)."""
    audio = np.asarray(audio, np.float32).reshape(-1)
    if len(audio) >= WINDOW:
        return audio[-WINDOW:]
    return np.concatenate([np.zeros(WINDOW - len(audio), np.float32), audio])


def log_mel(audio: np.ndarray) -> np.ndarray:
    """Smart Turn v3 input features (80 x 800 float32) of up to 8 s of 16 kHz audio; see the module docstring."""
    x = fit_window(audio)
    x = (x - x.mean()) / np.sqrt(x.var() + 1e-7)  # float32, like transformers' normalisation
    padded = np.pad(x.astype(np.float64), (N_FFT // 2, N_FFT // 2), mode="reflect")
    frames = np.lib.stride_tricks.sliding_window_view(padded, N_FFT)[::HOP]  # 801 x 400
    power = np.abs(np.fft.rfft(frames * _HANN, axis=-1)) ** 2  # 801 x 201
    mel = np.log10(np.maximum(1e-10, power @ _MEL)).T[:, :-1]  # 80 x 800
    mel = np.maximum(mel, mel.max() - 8.0)
    return ((mel + 4.0) / 4.0).astype(np.float32)


class EndOfTurnModel:
    """P(the turn is complete) of a turn's audio so far (16 kHz float32, trailing pause included).

    Args:
        path: an ONNX file of the same interface; None = the packaged Smart Turn v3.2 (sha256-checked).
        threads: ONNX Runtime intra-op threads (1: ~40 ms per call, leaves the other cores to Whisper).

    Raises:
        ModelNotFoundError: pipecat-ai is not installed or lacks the file.
        ModelIntegrityError: the packaged file's sha256 is not the pinned one.
        BackendUnavailableError: onnxruntime is missing, or the file is not a loadable model.
    """

    def __init__(self, path: str | Path | None = None, threads: int = 1) -> None:
        self.path = Path(path).expanduser() if path else SMART_TURN.path()
        if not self.path.is_file():
            raise ModelNotFoundError(f"end-of-turn model {self.path} does not exist; give an ONNX file with Smart "
                                     f"Turn v3's interface or leave vad.model_path empty (packaged: {SMART_TURN.pip})")
        try:
            import onnxruntime as ort
        except ImportError as e:
            raise BackendUnavailableError("the end-of-turn model needs onnxruntime: "
                                          "`pip install -r requirements/vlm.txt`") from e
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), sess_options=so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BackendUnavailableError(f"end-of-turn model {self.path} could not be loaded: {e}") from e
        inputs = self.session.get_inputs()
        if len(inputs) != 1 or list(inputs[0].shape[1:]) != [N_MELS, N_FRAMES]:
            raise BackendUnavailableError(f"end-of-turn model {self.path}: expected one input of shape "
                                          f"[batch, {N_MELS}, {N_FRAMES}], got {[(i.name, i.shape) for i in inputs]}")
        self.input_name = inputs[0].name
        self.last_s = 0.0  # compute time of the last call (features + model)

    def __call__(self, audio: np.ndarray) -> float:
        """P(complete) in [0, 1] for the turn whose audio (up to now) is ``audio``."""
        if audio is None or len(audio) == 0:
            raise InvalidInputError("end-of-turn model: expected some audio, got none")
        t0 = time.perf_counter()
        features = log_mel(audio)[None]
        out = self.session.run(None, {self.input_name: features})[0]
        self.last_s = time.perf_counter() - t0
        return float(np.asarray(out).reshape(-1)[0])
