"""Spoken lines in the simulation: synthesised to audio and heard through the microphone path.

A scenario with ``speech: audio`` does not inject its lines as text: each is spoken with espeak-ng in a
voice other than the robot's, followed by silence, and fed frame by frame (16 kHz, 32 ms) through the
same :class:`~vlm_robot.speech.listener.Listener` the microphone node runs (silero VAD, end of turn,
Whisper); what it recognises is what the robot hears. Sim time does not move while it listens.
"""

from __future__ import annotations

import numpy as np

from vlm_robot.speech.audio import FRAME, SAMPLE_RATE

USER_VOICE = "en-us+f3"  # not the robot's voice (en-us, 50 ms between words)


class SimMicrophone:
    """Text -> speech audio -> VAD + Whisper -> transcript bodies, as microphone_node would publish them."""

    def __init__(self, voice: str = USER_VOICE, rate_wpm: int = 160) -> None:
        from vlm_robot.speech.asr import ASRConfig, WhisperASR
        from vlm_robot.speech.listener import Listener, MicrophoneConfig
        from vlm_robot.speech.stream_tts import ClauseSynth, StreamTTSConfig
        from vlm_robot.speech.vad import TurnConfig, TurnDetector

        self.synth = ClauseSynth(StreamTTSConfig(voice=voice, rate_wpm=rate_wpm))
        self.asr = WhisperASR(ASRConfig())
        self.heard: list[dict] = []
        self.listener = Listener(MicrophoneConfig(partials=False), TurnDetector(TurnConfig()), self.asr.transcribe,
                                 self.heard.append)

    def hear(self, text: str, stamp: float) -> list[dict]:
        """Speak ``text`` into the microphone path; the final transcripts it gives (stamped ``stamp``)."""
        audio = np.concatenate([np.zeros(int(0.3 * SAMPLE_RATE), np.float32), self.synth(text),
                                np.zeros(int(1.2 * SAMPLE_RATE), np.float32)])
        self.heard.clear()
        for i in range(0, len(audio) - FRAME + 1, FRAME):
            self.listener.feed(audio[i:i + FRAME], stamp)
        return [{**b, "stamp": stamp} for b in self.heard if b.get("final", True)]
