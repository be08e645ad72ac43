"""Audio in and out as 16 kHz mono float32 frames, without ROS.

Sources (all yield float32 blocks in [-1, 1] at :data:`SAMPLE_RATE`):
    :class:`WavSource` (a file), :class:`ArraySource` (numpy / the simulation), :class:`DeviceSource`
    (a PortAudio input through ``sounddevice``, chosen by name or index; ``vlm-robot audio devices`` lists them).
Sinks (take float32 blocks at :data:`SAMPLE_RATE`):
    :class:`MemorySink` (tests, the simulation), :class:`WavSink`, :class:`DeviceSink` (the speaker).

Other sample rates between :data:`MIN_RATE` and :data:`MAX_RATE` are resampled (:class:`Resampler`,
windowed-sinc low-pass then interpolation, streaming); anything else raises
:class:`UnsupportedSampleRateError` with the rates that work.
"""

from __future__ import annotations

import threading
import wave
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, InvalidInputError

SAMPLE_RATE = 16000
FRAME = 512  # samples per frame: 32 ms, the window silero VAD takes at 16 kHz
MIN_RATE = 8000
MAX_RATE = 192000


class UnsupportedSampleRateError(InvalidInputError):
    """Audio arrived at a sample rate the pipeline cannot convert."""


def check_rate(rate: int, what: str = "audio") -> int:
    """Return ``rate`` if it can be resampled to 16 kHz.

    Raises:
        UnsupportedSampleRateError: not an integer rate in [MIN_RATE, MAX_RATE].
    """
    if int(rate) != rate or not MIN_RATE <= rate <= MAX_RATE:
        raise UnsupportedSampleRateError(
            f"{what}: sample rate {rate} Hz is not supported; expected {MIN_RATE}-{MAX_RATE} Hz "
            f"(it is resampled to {SAMPLE_RATE} Hz); convert the file, e.g. `sox in.wav -r 16000 out.wav`"
        )
    return int(rate)


def to_mono_float(block: np.ndarray) -> np.ndarray:
    """int16 / int32 / float blocks, shape (n,) or (n, channels) -> float32 (n,) in [-1, 1].

    Raises:
        InvalidInputError: more than two dimensions or a non-numeric dtype.
    """
    a = np.asarray(block)
    if a.ndim == 2:
        a = a.mean(axis=1) if a.shape[1] > 1 else a[:, 0]
    elif a.ndim != 1:
        raise InvalidInputError(f"audio block must have shape (n,) or (n, channels), got {a.shape}")
    if a.dtype == np.int16:
        return a.astype(np.float32) / 32768.0
    if a.dtype == np.int32:
        return a.astype(np.float32) / 2147483648.0
    if a.dtype.kind != "f":
        raise InvalidInputError(f"audio samples must be int16, int32 or float, got {a.dtype}")
    return np.clip(np.nan_to_num(a.astype(np.float32, copy=False)), -1.0, 1.0)


class Resampler:
    """Streaming sample-rate converter to ``out_rate`` (state carried across blocks).

    A windowed-sinc FIR removes what the lower rate cannot carry, then the filtered signal is
    interpolated linearly at the output instants. Good enough for speech recognition and playback.
    """

    def __init__(self, in_rate: int, out_rate: int = SAMPLE_RATE, taps: int = 64) -> None:
        self.in_rate = check_rate(in_rate, "resampler input")
        self.out_rate = out_rate
        self.step = in_rate / out_rate  # input samples per output sample
        cutoff = 0.45 * min(in_rate, out_rate) / in_rate  # fraction of the input rate
        n = np.arange(-taps, taps + 1)
        self.kernel = (2 * cutoff * np.sinc(2 * cutoff * n) * np.hamming(len(n))).astype(np.float32)
        self.half = taps
        self.hist = np.zeros(2 * taps, np.float32)  # raw input carried over
        self.pos = 0.0  # next output instant, in input samples relative to the start of the filtered block

    def __call__(self, block: np.ndarray) -> np.ndarray:
        """Resample one block; returns float32 at ``out_rate`` (possibly empty)."""
        x = np.asarray(block, np.float32)
        if self.in_rate == self.out_rate:
            return x
        buf = np.concatenate([self.hist, x])
        filt = np.convolve(buf, self.kernel, mode="valid")  # filt[i] is centred on buf[i + half]
        n_avail = len(filt)
        if n_avail < 2:
            self.hist = buf
            return np.zeros(0, np.float32)
        t = np.arange(self.pos, n_avail - 1, self.step)
        out = np.interp(t, np.arange(n_avail), filt).astype(np.float32)
        consumed = n_avail - 1  # keep the last filtered sample's input context for the next block
        self.pos = (t[-1] + self.step - consumed) if len(t) else self.pos - consumed
        self.hist = buf[consumed:]
        return out


class Framer:
    """Re-buffers blocks of any length into fixed frames of :data:`FRAME` samples."""

    def __init__(self, frame: int = FRAME) -> None:
        self.frame = frame
        self.buf = np.zeros(0, np.float32)

    def __call__(self, block: np.ndarray) -> Iterator[np.ndarray]:
        self.buf = np.concatenate([self.buf, np.asarray(block, np.float32)])
        n = len(self.buf) // self.frame
        for i in range(n):
            yield self.buf[i * self.frame:(i + 1) * self.frame]
        self.buf = self.buf[n * self.frame:].copy()


def frames(blocks: Iterator[np.ndarray], rate: int = SAMPLE_RATE, frame: int = FRAME) -> Iterator[np.ndarray]:
    """Blocks at ``rate`` (any shape :func:`to_mono_float` takes) -> 16 kHz mono frames of ``frame`` samples."""
    res = Resampler(rate) if rate != SAMPLE_RATE else None
    framer = Framer(frame)
    for b in blocks:
        x = to_mono_float(b)
        yield from framer(res(x) if res else x)


def read_wav(path) -> tuple[np.ndarray, int]:
    """A PCM WAV file (path or binary file object) -> (float32 mono samples, its sample rate), unconverted.

    Raises:
        InvalidInputError: not a PCM WAV of 8, 16 or 32 bits.
    """
    try:
        with wave.open(path if hasattr(path, "read") else str(path)) as w:
            rate, ch, width, n = w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()
            raw = w.readframes(n)
    except (wave.Error, EOFError) as e:
        raise InvalidInputError(f"{path}: expected a PCM WAV file ({e}); convert it with `sox in out.wav`") from e
    dtype = {1: np.uint8, 2: np.int16, 4: np.int32}.get(width)
    if dtype is None:
        raise InvalidInputError(f"{path}: {8 * width}-bit samples; expected 8, 16 or 32-bit PCM")
    a = np.frombuffer(raw, dtype).reshape(-1, ch)
    if dtype is np.uint8:
        a = (a.astype(np.int16) - 128) * 256
    return to_mono_float(a.astype(a.dtype, copy=False)), rate


def write_wav(path: str | Path, samples: np.ndarray, rate: int = SAMPLE_RATE) -> Path:
    """Write float32 samples as 16-bit mono PCM."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    pcm = (np.clip(samples, -1, 1) * 32767).astype(np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(pcm.tobytes())
    return path


def resample(samples: np.ndarray, rate: int, out_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Whole-signal resampling (flushes the filter's delay with zeros)."""
    if rate == out_rate:
        return np.asarray(samples, np.float32)
    r = Resampler(rate, out_rate)
    out = np.concatenate([r(samples), r(np.zeros(2 * r.half + 2, np.float32))])
    delay = round(r.half / r.step)
    return out[delay:delay + round(len(samples) * out_rate / rate)]


class ArraySource:
    """Samples from memory (the simulation, tests) as blocks, optionally paced in real time."""

    def __init__(self, samples: np.ndarray, rate: int = SAMPLE_RATE, block: int = FRAME) -> None:
        self.rate = check_rate(rate, "array source")
        self.samples = np.asarray(samples)
        self.block = block

    def blocks(self) -> Iterator[np.ndarray]:
        for i in range(0, len(self.samples), self.block):
            yield self.samples[i:i + self.block]

    def frames(self) -> Iterator[np.ndarray]:
        """16 kHz mono frames of :data:`FRAME` samples."""
        return frames(self.blocks(), self.rate)


class WavSource(ArraySource):
    """A WAV file as a source.

    Raises:
        InvalidInputError: not a readable PCM WAV; UnsupportedSampleRateError for its rate.
    """

    def __init__(self, path: str | Path, block: int = 4096) -> None:
        samples, rate = read_wav(path)
        check_rate(rate, str(path))
        super().__init__(samples, rate, block)


def _sounddevice():
    try:
        import sounddevice
    except OSError as e:  # the module imports, but PortAudio's shared library is missing
        raise BackendUnavailableError(
            f"audio devices need the PortAudio library ({e}); install it with `sudo apt-get install libportaudio2`"
        ) from e
    except ImportError as e:
        raise BackendUnavailableError("audio devices need sounddevice: `pip install -r requirements/speech.txt`") from e
    return sounddevice


def list_devices() -> list[dict]:
    """Every PortAudio device: index, name, input/output channels, default sample rate."""
    sd = _sounddevice()
    return [{"index": i, "name": d["name"], "inputs": d["max_input_channels"], "outputs": d["max_output_channels"],
             "rate": d["default_samplerate"]} for i, d in enumerate(sd.query_devices())]


def find_device(spec: str | int | None, kind: str = "input") -> int | None:
    """A device index from an index, a (part of a) name, or None / "" / "default" for the default.

    Raises:
        InvalidInputError: no device of that kind matches; the message lists the devices there are.
    """
    if spec is None or str(spec) in ("", "default"):
        return None
    key = "inputs" if kind == "input" else "outputs"
    devs = [d for d in list_devices() if d[key] > 0]
    if str(spec).isdigit():
        match = [d for d in devs if d["index"] == int(spec)]
    else:
        match = [d for d in devs if str(spec).lower() in d["name"].lower()]
    if not match:
        names = ", ".join(f"{d['index']}: {d['name']}" for d in devs) or "none"
        raise InvalidInputError(f"no {kind} audio device matches {spec!r}; {kind} devices: {names} "
                                "(`vlm-robot audio devices` lists them)")
    return match[0]["index"]


class DeviceSource:
    """A microphone through PortAudio (``sounddevice``): blocks of float32 at the device's rate.

    Raises:
        BackendUnavailableError: sounddevice or PortAudio missing.
        InvalidInputError: no such device.
    """

    def __init__(self, device: str | int | None = None, rate: int = SAMPLE_RATE, block: int = FRAME) -> None:
        self.sd = _sounddevice()
        self.device = find_device(device, "input")
        self.rate = check_rate(rate, "microphone")
        self.block = block
        self._stop = threading.Event()

    def blocks(self) -> Iterator[np.ndarray]:
        with self.sd.InputStream(device=self.device, channels=1, samplerate=self.rate, blocksize=self.block,
                                 dtype="float32") as stream:
            while not self._stop.is_set():
                data, _overflow = stream.read(self.block)
                yield data[:, 0].copy()

    def frames(self) -> Iterator[np.ndarray]:
        return frames(self.blocks(), self.rate)

    def close(self) -> None:
        self._stop.set()


class MemorySink:
    """Keeps what was played (tests, the simulation)."""

    def __init__(self, max_seconds: float = 600.0) -> None:
        self.chunks: list[np.ndarray] = []
        self.samples = 0
        self.max_samples = int(max_seconds * SAMPLE_RATE)

    def write(self, block: np.ndarray) -> None:
        if self.samples + len(block) <= self.max_samples:  # bounded: a runaway reply cannot eat memory
            self.chunks.append(np.asarray(block, np.float32))
        self.samples += len(block)

    def audio(self) -> np.ndarray:
        return np.concatenate(self.chunks) if self.chunks else np.zeros(0, np.float32)

    def close(self) -> None:
        pass


class WavSink(MemorySink):
    """Collects what was played and writes it to a WAV file on :meth:`close`."""

    def __init__(self, path: str | Path) -> None:
        super().__init__()
        self.path = Path(path)

    def close(self) -> None:
        write_wav(self.path, self.audio())


class DeviceSink:
    """The speaker through PortAudio; :meth:`write` blocks for about the block's duration."""

    def __init__(self, device: str | int | None = None) -> None:
        sd = _sounddevice()
        self.stream = sd.OutputStream(device=find_device(device, "output"), channels=1, samplerate=SAMPLE_RATE,
                                      dtype="float32", blocksize=FRAME)
        self.stream.start()

    def write(self, block: np.ndarray) -> None:
        self.stream.write(np.ascontiguousarray(block, np.float32).reshape(-1, 1))

    def close(self) -> None:
        self.stream.stop()
        self.stream.close()
