"""A person asks the robot to speak slower, faster, louder or more quietly, and it does.

The reasoning core decides the new style and says so (reasoning/knowledge.py ``voice_request``); speech_out's
synthesiser speaks every following clause at it (speech/stream_tts.py ``ClauseSynth.set_style``); through ROS
the style travels on /vlm_robot/voice_style (tests/test_speech_graph.py).
"""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from vlm_robot.core.types import Transcript
from vlm_robot.reasoning import knowledge
from vlm_robot.reasoning.policy import ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker
from vlm_robot.speech.stream_tts import louder


def test_each_request_moves_the_voice_one_step_and_says_so_until_the_limit():
    style = (1.0, 1.0)
    said = []
    for text in ("Could you speak more slowly, please?", "Slower.", "Slower."):
        style, reply = knowledge.voice_request(text, style)
        said.append(reply)
    assert style == pytest.approx((1 / 1.25 ** 2, 1.0))
    assert said[:2] == ["All right, I'll speak more slowly."] * 2 and said[2] == "This is as slowly as I can speak."
    style, reply = knowledge.voice_request("Speak normally again.", style)
    assert style == (1.0, 1.0) and "normally" in reply


@pytest.mark.parametrize(("said", "rate", "volume"), [
    ("You're talking too fast.", 0.8, 1.0),  # "fast" asks for slower
    ("You speak too slowly.", 1.25, 1.0),
    ("You're talking too quietly.", 1.0, 1.6),  # "quietly" asks for louder
    ("Can you speak up?", 1.0, 1.6),
    ("I can't hear you.", 1.0, 1.6),
    ("Please speak more clearly.", 0.8, 1.0),
    ("Can you whisper?", 1.0, 1 / 1.6),
    ("Turn the volume down.", 1.0, 1 / 1.6),
])
def test_which_way_the_words_ask_for(said, rate, volume):
    assert knowledge.voice_request(said, (1.0, 1.0))[0] == pytest.approx((rate, volume))


def test_the_reasoner_answers_and_hands_the_new_style_to_speech_out_once():
    r = Reasoner(PeopleTracker(), ProactivePolicy(), None)
    out = r.on_transcript(Transcript("Can you speak a little slower?", 1.0, id="t1"))
    assert [u.text for u in out.utterances] == ["All right, I'll speak more slowly."]
    assert out.voice == pytest.approx((0.8, 1.0)) and r.voice == out.voice
    out = r.on_transcript(Transcript("Louder, please.", 2.0, id="t2"))
    assert out.voice == pytest.approx((0.8, 1.6))
    r.on_transcript(Transcript("Slower.", 3.0, id="t3"))
    out = r.on_transcript(Transcript("Slower.", 4.0, id="t4"))  # at the limit: nothing to send
    assert out.voice is None and "as slowly as I can" in out.utterances[0].text


def test_louder_rounds_peaks_instead_of_clipping():
    x = np.sin(np.linspace(0, 40 * np.pi, 16000)).astype(np.float32) * 0.7
    y = louder(x, 2.56)
    assert np.abs(y).max() < 1.0 and np.sqrt((y ** 2).mean()) > 1.3 * np.sqrt((x ** 2).mean())
    assert np.allclose(louder(x, 0.5), 0.5 * x) and louder(x, 1.0) is x


@pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")
def test_the_synthesiser_speaks_slower_and_louder_when_asked():
    from vlm_robot.speech.stream_tts import ClauseSynth, StreamTTSConfig

    synth = ClauseSynth(StreamTTSConfig(word_gap_ms=50))
    text = "Hello, I am the robot assistant. Can I help you with something?"
    base = synth(text)
    synth.set_style(0.8, 1.0)
    slow = synth(text)
    synth.set_style(1.0, 1.6)
    loud = synth(text)

    def rms(a):
        return float(np.sqrt((a ** 2).mean()))

    print(f"{len(base) / 16000:.2f} s at the configured rate, {len(slow) / 16000:.2f} s at x0.8; RMS x"
          f"{rms(loud) / rms(base):.2f} at volume x1.6")
    assert len(slow) > 1.15 * len(base)
    assert 1.3 < rms(loud) / rms(base) < 1.7 and np.abs(loud).max() < 1.0
    with pytest.raises(ValueError, match="finite and positive"):
        synth.set_style(float("nan"), 1.0)


def test_the_voice_goes_back_to_normal_once_nobody_has_been_in_view_for_a_while():
    """The next visitor gets the configured voice; while someone is in view, or without a camera, it stays."""
    from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult
    from vlm_robot.reasoning.reasoner import VOICE_RESET_S

    def face(x: float, mood: str) -> Face:
        probs = [0.1 / 6] * 7
        probs[EXPRESSIONS.index(mood)] = 0.9
        return Face((x, 100, 80, 80), 0.9, (), mood, tuple(probs), 1.0)

    r = Reasoner(PeopleTracker(), ProactivePolicy(), None)

    def frame(t, faces=()):
        return r.on_perception(PerceptionResult(t, "cam", 640, 480, tuple(faces)))

    for i in range(20):  # a person in view for 2 s
        frame(i * 0.1, [face(300, "neutral")])
    assert r.on_transcript(Transcript("Could you speak more slowly?", 2.0, id="t1")).voice == pytest.approx((0.8, 1.0))
    t = 2.0
    while t < 2.0 + VOICE_RESET_S - 1:  # they left: nobody in view, not yet long enough
        assert frame(t).voice is None
        t += 1.0
    reset = [o for o in (frame(t + k) for k in range(3)) if o.voice is not None]
    assert len(reset) == 1 and reset[0].voice == (1.0, 1.0) and "nobody in view" in reset[0].voice_reason
    assert r.voice == (1.0, 1.0)

    blind = Reasoner(PeopleTracker(), ProactivePolicy(), None)  # no camera: no frames, the voice stays as asked
    blind.on_transcript(Transcript("Slower, please.", 1.0, id="t1"))
    assert blind.voice == pytest.approx((0.8, 1.0))
