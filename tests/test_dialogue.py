"""The real packaged language model through llama.cpp (SmolLM2-135M)."""

import time

import pytest

from vlm_robot.core.errors import ConfigError, ModelNotFoundError
from vlm_robot.core.types import Transcript
from vlm_robot.reasoning.dialogue import DialogueManager, clean_reply
from vlm_robot.reasoning.llm import LLMConfig, load_chat_model
from vlm_robot.reasoning.policy import ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker


def test_reply_streams_in_pieces_and_is_deterministic(chat_model):
    d = DialogueManager(chat_model, max_turns=0)
    t0 = time.perf_counter()
    pieces, first = [], None
    for p in d.reply("What is your name?", []):
        first = first if first is not None else time.perf_counter() - t0
        pieces.append(p)
    total = time.perf_counter() - t0
    assert len(pieces) > 3 and first < total  # the first words come before the whole reply
    assert "".join(d.reply("What is your name?", [])) == "".join(pieces)  # temperature 0


def test_reply_stops_after_two_sentences():
    class Chatty:
        def stream(self, messages, max_tokens):
            yield from ["One. ", "Two! ", "Three. ", "Four."]

    assert "".join(DialogueManager(Chatty()).reply("hi", [])) == "One. Two! "


def test_model_failure_still_answers_with_an_error_utterance():
    class Broken:
        def stream(self, messages, max_tokens):
            raise RuntimeError("out of memory")
            yield ""

    r = Reasoner(PeopleTracker(), ProactivePolicy(), DialogueManager(Broken()))
    out = r.on_transcript(Transcript("hello", 1.0, id="t1"))
    assert out.utterances[0].kind == "error" and "out of memory" in out.utterances[0].reason
    assert out.utterances[0].in_reply_to == "t1"


def test_clean_reply():
    assert clean_reply("  **Hello**   there") == "Hello there."
    assert clean_reply("Fine. And then some more words without end") == "Fine. And then some more words without end."


def test_config_errors_name_the_fix(tmp_path):
    with pytest.raises(ConfigError, match="expected one of"):
        LLMConfig(backend="gpt")
    with pytest.raises(ModelNotFoundError, match="does not exist"):
        load_chat_model(LLMConfig(model_path=str(tmp_path / "missing.gguf")))


def test_prompt_carries_what_the_robot_sees_and_how_people_sound():
    from vlm_robot.core.types import PersonState
    from vlm_robot.perception.text_affect import TextAffect

    upset = PersonState(2, (0, 0, 80, 80), 0.0, 3.0, mood="sad", mood_confidence=0.6)
    upset.text_sentiment = TextAffect().sentiment("I feel terrible, nothing works today.")
    calm = PersonState(1, (0, 0, 80, 80), 0.0, 3.0, mood="happy", mood_confidence=0.9)
    calm.text_sentiment = TextAffect().sentiment("This is great, thank you so much!")
    system = DialogueManager(None).messages("hi", [upset, calm])[0]["content"]
    assert "You see 2 people: person 1 looks happy and sounds pleased; person 2 looks sad and sounds upset." in system
