"""The robot's voice without ROS: streamed clauses play before the reply is complete; barge-in cuts at once.

A tone stands in for espeak-ng (each clause is 0.1 s per word of a 440 Hz tone) so that timings are about
the pipeline, not the synthesiser; real synthesis is covered by tests/speech/test_voice_loop.py and the
graph test.
"""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.speech.audio import SAMPLE_RATE, read_wav
from vlm_robot.speech.speech_out import SpeechOut, SpeechOutConfig, remainder, spoken_form


def tone(text: str) -> np.ndarray:
    n = int(0.1 * SAMPLE_RATE * len(text.split()))
    return (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SAMPLE_RATE)).astype(np.float32)


class Recorder:
    def __init__(self):
        self.done: list[dict] = []
        self.speaking: list[tuple[float, bool]] = []
        self.event = threading.Event()

    def on_done(self, r):
        self.done.append(r)
        self.event.set()

    def on_speaking(self, b):
        self.speaking.append((time.time(), b))

    def wait(self, n: int, timeout: float = 10.0) -> bool:
        end = time.monotonic() + timeout
        while len(self.done) < n and time.monotonic() < end:
            time.sleep(0.01)
        return len(self.done) >= n


def make(tmp_path, **kw):
    rec = Recorder()
    out = SpeechOut(SpeechOutConfig(output_dir=str(tmp_path), **kw), tone, on_done=rec.on_done,
                    on_speaking=rec.on_speaking)
    return out, rec


def test_first_clause_plays_before_the_reply_is_complete(tmp_path):
    out, rec = make(tmp_path, realtime=True)
    try:
        for piece in ["Of course, ", "I can help ", "with that. ", "The library ", "opens at nine."]:
            out.chunk("t1", piece)
            time.sleep(0.15)  # the model writes slowly
        t_utt = time.time()
        out.utterance({"id": "u1", "text": "Of course, I can help with that. The library opens at nine.",
                       "kind": "reply", "in_reply_to": "t1"})
        assert rec.wait(1, 10)
    finally:
        out.close()
    r = rec.done[0]
    assert r["utterance_id"] == "u1" and r["streamed"] and not r["aborted"]
    assert r["first_audio"] < t_utt - 0.3  # the first words sounded while the model was still writing
    audio, rate = read_wav(r["wav"])
    assert rate == SAMPLE_RATE and abs(len(audio) / SAMPLE_RATE - 1.2) < 0.05  # 12 words, each once
    assert [b for _, b in rec.speaking] == [True, False]


def test_barge_in_stops_playback_within_a_frame_and_every_utterance_is_reported(tmp_path):
    out, rec = make(tmp_path, realtime=True)
    try:
        out.utterance({"id": "g1", "text": " ".join(["word"] * 60) + ".", "kind": "greeting"})  # 6 s
        out.utterance({"id": "g2", "text": "Queued behind it.", "kind": "greeting"})
        out.chunk("t9", "A streamed reply, whose utterance comes later. ")
        time.sleep(1.0)
        t0 = time.time()
        assert out.barge_in("test") == 3
        assert rec.wait(2, 2)
        stopped = next(t for t, b in rec.speaking if not b)
        out.utterance({"id": "u9", "text": "A streamed reply, whose utterance comes later. More.", "kind": "reply",
                       "in_reply_to": "t9"})
        assert rec.wait(3, 2)
    finally:
        out.close()
    print(f"barge-in (core): speaking false {1000 * (stopped - t0):.1f} ms after the call")
    assert stopped - t0 < 0.05
    by_id = {r["utterance_id"]: r for r in rec.done}
    assert set(by_id) == {"g1", "g2", "u9"} and all(r["aborted"] for r in rec.done)
    assert all(r["reason"] == "barge-in: test" for r in rec.done)  # speech_done says why it was cut
    assert 0.8 < by_id["g1"]["duration_s"] < 1.2  # what was played before the cut, not the whole 6 s
    assert by_id["g2"]["duration_s"] == 0.0


def test_words_that_barge_in_keep_their_own_reply_even_when_it_came_first(tmp_path):
    """On a loaded machine the reply to "Wait a moment." reached speech_out before the words did: the words still
    stop the long utterance before it, and their reply is said."""
    out, rec = make(tmp_path, realtime=True)
    try:
        out.utterance({"id": "long", "text": " ".join(["word"] * 60) + ".", "kind": "greeting"})  # 6 s
        out.utterance({"id": "r1", "text": "Sure, take your time.", "kind": "reply", "in_reply_to": "t1"})
        time.sleep(0.5)
        assert out.barge_in("transcript t1", keep="t1") == 1
        assert rec.wait(2, 10)
    finally:
        out.close()
    by_id = {r["utterance_id"]: r for r in rec.done}
    assert by_id["long"]["aborted"] and by_id["long"]["duration_s"] < 1.0
    assert not by_id["r1"]["aborted"] and abs(by_id["r1"]["duration_s"] - 0.4) < 0.05  # 4 words, 0.1 s each


def test_an_utterance_sent_again_is_spoken_once_and_reported_again_once_said(tmp_path):
    """At-least-once delivery: the reasoning node sends an utterance again until its speech_done comes. Sent
    again while queued, it is dropped; sent again once said (its speech_done was lost), the same report goes out
    again and nothing is spoken."""
    out, rec = make(tmp_path)
    try:
        u = {"id": "u3", "text": "The kitchen is down the hall.", "kind": "reply", "in_reply_to": "t3"}
        out.utterance(u)
        out.utterance(dict(u))  # sent again before its speech_done arrived
        assert rec.wait(1)
        out.utterance(dict(u))  # and again after it (the speech_done was lost)
        out.utterance({"id": "u4", "text": "Anything else?", "kind": "reply", "in_reply_to": "t4"})
        assert rec.wait(3)
        time.sleep(0.3)
    finally:
        out.close()
    assert [r["utterance_id"] for r in rec.done] == ["u3", "u3", "u4"]
    assert rec.done[1] == rec.done[0]  # the same report: the same audio, started once
    assert sorted(p.name for p in tmp_path.glob("*.wav")) == ["u3.wav", "u4.wav"]
    assert not any(r["aborted"] for r in rec.done) and rec.done[0]["reason"] == ""


def test_every_sentence_of_an_utterance_is_spoken(tmp_path):
    """A greeting of three sentences sent whole (not streamed), and a streamed reply whose final text carries two
    sentences more than its pieces: every word is heard (0.1 s of tone a word), not only the last sentence."""
    out, rec = make(tmp_path)
    try:
        out.utterance({"id": "g1", "text": "Hi there! I'm the robot assistant. Can I help you with something?",
                       "kind": "greeting"})
        out.chunk("t2", "The kitchen is down the hall. ")
        out.utterance({"id": "u2", "text": "The kitchen is down the hall. Turn left at the door. It is the "
                       "second room.", "kind": "reply", "in_reply_to": "t2"})
        assert rec.wait(2)
    finally:
        out.close()
    words = {r["utterance_id"]: round(r["duration_s"] / 0.1) for r in rec.done}
    assert words == {"g1": 12, "u2": 16}, words


def test_final_text_completes_what_was_streamed():
    assert remainder("Of course, I can help", "Of course, I can help with that.") == "with that."
    assert remainder("", "Hello there.") == "Hello there."
    assert remainder("Something else", "Hello there.") is None
    assert spoken_form("<person1> on the left looks sad (0.61). **Yes**") == "person 1 on the left looks sad. Yes"
    # espeak-ng reads a unit symbol as a letter ("zero point nine em away")
    assert spoken_form("<person1> about 0.9 m away, 1 m from the door, at 0.5 m/s") == \
        "person 1 about 0.9 metres away, 1 metre from the door, at 0.5 metres a second"
    assert spoken_form("The 1990s, 5m people, 3 mice") == "The 1990s, 5m people, 3 mice"


def test_bad_settings_are_refused():
    with pytest.raises(ConfigError, match=r"tts\.output"):
        SpeechOutConfig(output="hdmi")
    with pytest.raises(ConfigError, match="rate_wpm"):
        SpeechOutConfig(rate_wpm=5)
    with pytest.raises(ConfigError, match="word_gap_ms"):
        SpeechOutConfig(word_gap_ms=-10)
    assert SpeechOutConfig().synth_config().word_gap_ms == 50  # the robot keeps its words apart (WER, README)
