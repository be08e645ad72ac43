"""Spoken questions about the scene are routed to the VLM node; its answer is spoken as the reply."""

from __future__ import annotations

import pytest

from vlm_robot.core.types import Transcript
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig
from vlm_robot.reasoning.visual import is_visual_question

VISUAL = ["What do you see?", "Who is here?", "Does anyone look sad?", "How many people are there?",
          "What am I holding?", "Describe the room.", "Is anyone on the left?", "Can you see me?",
          "What's in front of you?", "What is on the table?", "What colour is the bottle?",
          "How many cups are there?"]
NOT_VISUAL = ["Can you help me find the charging station?", "Come here as fast as you can.", "Stop.",
              "Could you bring me a cup of water, please?", "Where is the kitchen?", "What time is it?",
              "See you later!", "How are you?", "What is your name?", "Look for my keys."]


@pytest.mark.parametrize("text", VISUAL)
def test_questions_about_the_scene_go_to_the_vlm(text):
    assert is_visual_question(text)


@pytest.mark.parametrize("text", NOT_VISUAL)
def test_other_sentences_go_to_the_chat_model(text):
    assert not is_visual_question(text)


def test_the_vlm_answer_is_spoken_with_entities_as_words():
    r = Reasoner(PeopleTracker(TrackerConfig()), ProactivePolicy(ProactiveConfig()), None, None)
    t = Transcript("Who is here?", 10.0, id="t1")
    r.hear(t)
    out = r.answer_from_vision(t, "I see two people. <person1> on the left looks happy (1.00), <person2> looks sad "
                                  "(0.61)", "vlm grounded")
    (u,) = out.utterances
    assert u.text == "I see two people. Person 1 on the left looks happy, person 2 looks sad."
    assert u.kind == "reply" and u.in_reply_to == "t1" and "camera sees (vlm grounded)" in u.reason
