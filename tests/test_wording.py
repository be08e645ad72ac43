"""Words the robot never says: left out of replies, dropped from streamed speech."""

from __future__ import annotations

from vlm_robot.core.types import Transcript
from vlm_robot.core.wording import unspeakable, without_unspeakable_sentences
from vlm_robot.reasoning.dialogue import DialogueManager
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig


def test_blocked_words_are_found_as_whole_words_only():
    assert unspeakable("please don't touch me with a Shitty knife")
    assert not unspeakable("Charles Dickens wrote about shipping and scrap metal")
    assert without_unspeakable_sentences("I can help. Don't touch my shitty knife! Ask me anything.") == \
        "I can help. Ask me anything."
    assert without_unspeakable_sentences("Fuck.") == ""


class WrittenReply:
    """The words a language model wrote (what is under test here is what the robot does with them)."""

    def __init__(self, text: str) -> None:
        self.text = text

    def stream(self, messages, max_tokens):
        for i, word in enumerate(self.text.split(" ")):
            yield (" " if i else "") + word

    def close(self) -> None: ...


def test_a_reply_sentence_with_a_blocked_word_is_not_said():
    cases = (("I'm sorry. Don't touch me with a shitty knife! I can help you.", "I'm sorry. I can help you."),
             ("What the fuck.", "Sorry, I have no answer to that."))
    for written, said in cases:
        model = WrittenReply(" ".join(written.split()))
        r = Reasoner(PeopleTracker(TrackerConfig()), ProactivePolicy(ProactiveConfig()),
                     DialogueManager(model, max_turns=0, max_sentences=5), None)
        t = Transcript("Hello robot.", 1.0, id="t1")
        r.hear(t)
        (u,) = r.answer(t).utterances
        assert u.text == said and not unspeakable(u.text)
        assert "blocked word was left out" in u.reason
