"""Text to speech: espeak-ng (default, any Debian) or piper (optional extra, GPL), to WAV files."""

from __future__ import annotations

import shutil
import subprocess
import wave
from dataclasses import dataclass
from pathlib import Path

from vlm_robot.core.errors import BackendUnavailableError, ConfigError


@dataclass(frozen=True)
class TTSConfig:
    """config/speech_out.yaml ``tts.*``.

    Attributes:
        engine: ``espeak-ng`` or ``piper``.
        voice: engine voice name (espeak-ng: ``en-us``; piper: path to a .onnx voice).
        rate_wpm: espeak-ng speaking rate.
        output: ``wav`` (files only) or ``speaker`` (files, then played with aplay/paplay).
        output_dir: where WAV files go.
    """

    engine: str = "espeak-ng"
    voice: str = "en-us"
    rate_wpm: int = 165
    output: str = "wav"
    output_dir: str = "out/speech"

    def __post_init__(self) -> None:
        if self.engine not in ("espeak-ng", "piper"):
            raise ConfigError(f"tts.engine {self.engine!r} unknown; expected 'espeak-ng' or 'piper'")
        if self.output not in ("wav", "speaker"):
            raise ConfigError(f"tts.output {self.output!r} unknown; expected 'wav' or 'speaker'")
        if not 80 <= self.rate_wpm <= 450:
            raise ConfigError(f"tts.rate_wpm must be in [80, 450], got {self.rate_wpm}")


class Speaker:
    """Synthesises utterances to WAV files and, when configured, plays them."""

    def __init__(self, config: TTSConfig) -> None:
        self.config = config
        if config.engine == "espeak-ng" and not shutil.which("espeak-ng"):
            raise BackendUnavailableError(
                "tts engine espeak-ng not found on PATH; install it with `sudo apt-get install espeak-ng` "
                "or set tts.engine: piper (pip install piper-tts)"
            )
        if config.engine == "piper" and not shutil.which("piper"):
            raise BackendUnavailableError("tts engine piper not found; `pip install piper-tts` (GPL-3.0)")
        self.player = (shutil.which("aplay") or shutil.which("paplay")) if config.output == "speaker" else None
        if config.output == "speaker" and not self.player:
            raise BackendUnavailableError("tts.output speaker needs aplay (alsa-utils) or paplay (pulseaudio-utils)")
        self.out_dir = Path(config.output_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)

    def say(self, text: str, name: str) -> tuple[Path, float]:
        """Synthesise ``text`` to ``<output_dir>/<name>.wav``; return the file and its duration in seconds."""
        path = self.out_dir / f"{name}.wav"
        c = self.config
        if c.engine == "espeak-ng":
            cmd = ["espeak-ng", "-v", c.voice, "-s", str(c.rate_wpm), "-w", str(path), "--", text]
            subprocess.run(cmd, check=True, capture_output=True, timeout=30)
        else:
            subprocess.run(["piper", "--model", c.voice, "--output_file", str(path)], input=text.encode(),
                           check=True, capture_output=True, timeout=60)
        with wave.open(str(path)) as w:
            duration = w.getnframes() / float(w.getframerate())
        if self.player:
            subprocess.run([self.player, str(path)], check=False, capture_output=True, timeout=duration + 10)
        return path, duration
