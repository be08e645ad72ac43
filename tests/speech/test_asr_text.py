"""What the microphone node publishes of Whisper's text: its decoding loops said once."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vlm_robot.speech.asr import collapse_repeats
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE


@pytest.mark.parametrize(("heard", "published"), [
    # measured loops of Whisper tiny.en on paused fragments (piper voice, clean and white noise)
    ("Could you bring me? Could you bring me? Could you bring me? Could you", "Could you bring me?"),
    ("I need it. I need it. I need it. I need it.", "I need it."),
    ("Stop. Stop. Stop. Stop. Stop. Stop. Stop. Stop.", "Stop."),
    ("Hello robot. Hello robot. Hello robot. Hello", "Hello robot."),
    # two copies and a third cut off at the end (a spoken session, piper voice)
    ("Where can I get a coffee? Where can I get a coffee? Where can I", "Where can I get a coffee?"),
    # what people say twice or three times stays
    ("Stop, stop!", "Stop, stop!"),
    ("No, no, no.", "No, no, no."),
    ("Help! Help!", "Help! Help!"),
    ("Thank you, thank you.", "Thank you, thank you."),
    ("Come here. Come here, please.", "Come here. Come here, please."),
    ("It's very very good.", "It's very very good."),
    ("Where is the kitchen?", "Where is the kitchen?"),
    ("", ""),
])
def test_a_decoding_loop_is_said_once_and_real_repetition_is_kept(heard, published):
    assert collapse_repeats(heard) == published


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")
def test_the_listener_publishes_the_loop_once():
    from vlm_robot.benchmarks.voices import say
    from vlm_robot.speech.listener import Listener, MicrophoneConfig
    from vlm_robot.speech.vad import SileroVad, TurnConfig, TurnDetector

    class Looped:
        text = "Can you help me? Can you help me? Can you help me? Can you"
        compute_s = 0.01
        model = "fake"

    audio = np.concatenate([np.zeros(SAMPLE_RATE // 2, np.float32), say("Can you help me?", "espeak"),
                            np.zeros(SAMPLE_RATE, np.float32)])
    bodies = []
    lis = Listener(MicrophoneConfig(partials=False), TurnDetector(TurnConfig(end_of_turn="silence"), vad=SileroVad()),
                   lambda a: Looped(), bodies.append)
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        lis.feed(audio[i:i + FRAME], wall=(i + FRAME) / SAMPLE_RATE)
    assert [b["text"] for b in bodies if b["final"]] == ["Can you help me?"]
