"""Spoken conversation end to end with the real models: espeak-ng voices, silero VAD, Whisper tiny.en.

The person speaks with espeak-ng's en-us+f3 voice (words run together, as espeak-ng speaks by default),
the robot with its configured voice (en-us, 165 wpm, 50 ms between words): different voices. No model is
mocked; only the language model is replaced by a fixed reply streamed word by word (the reply text must
be known to check the robot's speech), and the 10-minute monologue skips Whisper (it tests the turn
detector's buffers, which is what could grow).
"""

from __future__ import annotations

import logging
import resource
import shutil

import numpy as np
import pytest

from vlm_robot.speech.audio import (
    FRAME,
    SAMPLE_RATE,
    ArraySource,
    MemorySink,
    UnsupportedSampleRateError,
    WavSource,
    resample,
    write_wav,
)
from vlm_robot.speech.sentences import USER_SENTENCES
from vlm_robot.speech.wer import normalise, wer

pytestmark = pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")

USER_VOICE = "en-us+f3"  # the robot speaks en-us: another voice (pitch and formants)
SENTENCES = USER_SENTENCES
REPLY = "Of course, I can help with that. The library opens at nine in the morning, and it closes at six."


@pytest.fixture(scope="module")
def asr():
    from vlm_robot.speech.asr import ASRConfig, WhisperASR

    return WhisperASR(ASRConfig(model="tiny.en"))


@pytest.fixture(scope="module")
def user_voice():
    from vlm_robot.speech.stream_tts import ClauseSynth, StreamTTSConfig

    return ClauseSynth(StreamTTSConfig(voice=USER_VOICE, rate_wpm=150, word_gap_ms=0))


@pytest.fixture(scope="module")
def robot_voice():
    from vlm_robot.speech.speech_out import SpeechOutConfig
    from vlm_robot.speech.stream_tts import ClauseSynth

    return ClauseSynth(SpeechOutConfig().synth_config())  # speech_out_node's default voice


def _conversation(asr, robot_voice, **kw):
    from vlm_robot.speech.conversation import Conversation
    from vlm_robot.speech.vad import TurnDetector

    return Conversation(TurnDetector(), asr.transcribe, robot_voice, **kw)


def _feed(conv, audio: np.ndarray) -> None:
    for f in ArraySource(audio).frames():
        conv.feed(f)


def _silence(s: float) -> np.ndarray:
    return np.zeros(int(s * SAMPLE_RATE), np.float32)


def _words(text: str):
    for w in text.split(" "):
        yield w + " "


def test_wer_of_twenty_user_sentences(asr, robot_voice, user_voice):
    audio = np.concatenate([_silence(0.5)] + [x for s in SENTENCES for x in (user_voice(s), _silence(0.8))])
    conv = _conversation(asr, robot_voice)
    _feed(conv, audio)
    hyps = [h.text for h in conv.heard]
    assert len(hyps) == len(SENTENCES), hyps
    score = wer(SENTENCES, hyps)
    print(f"WER {score:.3f} over {len(SENTENCES)} sentences; ASR p50 "
          f"{1000 * np.median([h.asr_s for h in conv.heard]):.0f} ms")
    assert score <= 0.10, list(zip(SENTENCES, hyps, strict=True))
    for h, nxt in zip(conv.heard, conv.heard[1:], strict=False):  # timing: ordered, inside the audio
        assert 0 < h.speech_start < h.speech_end < nxt.speech_start


def test_robot_reply_is_streamed_and_transcribed_back(asr, robot_voice, user_voice):
    sink = MemorySink()
    conv = _conversation(asr, robot_voice, reply=lambda text: _words(REPLY), sink=sink)
    _feed(conv, np.concatenate([_silence(0.3), user_voice(SENTENCES[0]), _silence(9.0)]))
    assert [h.text for h in conv.heard] and conv.timings and conv.timings[0].first_audio_wall is not None
    spoken = sink.audio()
    assert len(spoken) > SAMPLE_RATE
    from vlm_robot.speech.asr import ASRConfig, WhisperASR

    full = WhisperASR(ASRConfig(model="tiny.en", trim_context=False))  # the most accurate reading of it
    back = full.transcribe(np.concatenate([spoken[: 25 * SAMPLE_RATE], _silence(0.3)])).text
    score = wer([REPLY], [back])
    print(f"robot reply transcribed back: {back!r} (WER {score:.3f})")
    # Measured: WER 0.05 (1 of 20 words: "that. The library" read as "that library"), the same every run
    # (espeak-ng and greedy Whisper are deterministic). 0.10 allows one more word. Without the robot's
    # 50 ms word gap it was 0.30 ("opens at nine" -> "open at night"); Whisper base read it at 0.00 with
    # the gap, but is an optional 142 MB install and no better over more replies (README, Speech).
    assert score <= 0.10, back
    assert not [h for h in conv.heard if set(normalise(h.text)) & {"library", "nine"} and h is not conv.heard[0]]


def test_barge_in_stops_playback_within_200_ms_and_dialogue_continues(asr, robot_voice, user_voice):
    from vlm_robot.speech.playback import EchoSuppressor

    replies = []

    def reply(text):
        replies.append(text)
        return _words(REPLY if len(replies) == 1 else "Sure, I will stop.")

    sink = MemorySink()
    conv = _conversation(asr, robot_voice, reply=reply, sink=sink, echo=EchoSuppressor())
    question = np.concatenate([_silence(0.3), user_voice(SENTENCES[0]), _silence(1.6)])
    interrupt = user_voice("Please stop moving for a moment.")
    # the person's first audible sample, about 1.2 s into the robot's reply
    onset = len(question) + int(0.05 * SAMPLE_RATE) + int(np.argmax(np.abs(interrupt) > 0.01))
    mic = np.concatenate([question, _silence(0.05), interrupt, _silence(4.0)])
    # the robot's voice reaches the microphone: echo at half amplitude, 62 ms late (audio buffers + air)
    delay = FRAME + 480
    played = np.zeros(len(mic) + delay + FRAME, np.float32)
    for i, f in enumerate(ArraySource(mic).frames()):
        pos = i * FRAME
        echo = 0.5 * played[pos:pos + FRAME]
        before = sink.samples
        conv.feed(f + echo)
        out = sink.audio()[before:] if sink.samples > before else np.zeros(0, np.float32)
        played[pos + delay: pos + delay + len(out)] = out[: len(played) - pos - delay]
    assert len(conv.barge_ins) == 1, conv.barge_ins  # the robot's own voice did not trigger one
    start, stopped = conv.barge_ins[0]
    latency = stopped - onset / SAMPLE_RATE
    print(f"barge-in: playback stopped {1000 * latency:.0f} ms after the person began (detected onset "
          f"{start:.2f} s, true onset {onset / SAMPLE_RATE:.2f} s)")
    assert 0 < latency <= 0.2
    assert len(replies) == 2 and wer(["Please stop moving for a moment."], [replies[1]]) <= 0.2, replies
    assert not any("library" in normalise(h.text) for h in conv.heard[1:])  # the robot never heard itself


def test_silence_noise_clipping_and_rates(asr, robot_voice, user_voice, caplog, tmp_path):
    conv = _conversation(asr, robot_voice)
    _feed(conv, _silence(5.0))
    assert conv.heard == [] and not conv.turn.in_turn
    rng = np.random.default_rng(0)
    _feed(conv, (0.05 * rng.standard_normal(5 * SAMPLE_RATE)).astype(np.float32))  # noise only
    assert conv.heard == []
    with caplog.at_level(logging.WARNING, logger="vlm_robot.speech.conversation"):
        loud = np.clip(20 * user_voice("Please open the door for me."), -1, 1)
        _feed(conv, np.concatenate([loud, _silence(1.0)]))
    assert any("clipped" in r.message for r in caplog.records)
    assert len(conv.heard) == 1  # clipped speech still gives a transcript (and a warning to lower the gain)
    speech = user_voice("Please bring me a glass of water.")
    write_wav(tmp_path / "s44.wav", resample(np.concatenate([speech, _silence(1.0)]), SAMPLE_RATE, 44100), 44100)
    conv2 = _conversation(asr, robot_voice)
    for f in WavSource(tmp_path / "s44.wav").frames():
        conv2.feed(f)
    assert wer(["Please bring me a glass of water."], [h.text for h in conv2.heard][:1]) <= 0.2
    write_wav(tmp_path / "s4k.wav", np.zeros(4000, np.float32), 4000)
    with pytest.raises(UnsupportedSampleRateError, match="4000 Hz is not supported"):
        WavSource(tmp_path / "s4k.wav")


def test_ten_minute_monologue_keeps_memory_bounded(user_voice):
    from vlm_robot.speech.vad import TurnConfig, TurnDetector

    det = TurnDetector(TurnConfig(max_turn_s=15.0))
    talk = np.concatenate([user_voice(s) for s in SENTENCES])  # continuous speech, no pause to end the turn
    held, rss, cuts = [], [], []
    total = 10 * 60 * SAMPLE_RATE
    for i in range(total // FRAME):
        pos = (i * FRAME) % (len(talk) - FRAME)
        for ev in det.push(talk[pos:pos + FRAME]):
            if ev.kind in ("cut", "end"):
                cuts.append(len(ev.audio))
        if i % 3000 == 0:
            held.append(det.buffered_samples)
            rss.append(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
    print(f"10 min monologue: {len(cuts)} pieces, most audio held {max(held) / SAMPLE_RATE:.1f} s, "
          f"max RSS {rss[0] / 1024:.0f} -> {rss[-1] / 1024:.0f} MB")
    assert len(cuts) >= 35 and max(cuts) <= 15.5 * SAMPLE_RATE
    assert max(held) <= 15.5 * SAMPLE_RATE
    assert rss[-1] - rss[1] < 20 * 1024  # KB: no growth after the first minute
