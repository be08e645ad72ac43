"""Open talk: failure shapes of small-model replies, the candidate search, the fallback; the real SmolLM2."""

from __future__ import annotations

import pytest

from vlm_robot.reasoning.open_talk import (
    FALLBACKS,
    OPEN_TALK_SYSTEM_PROMPT,
    OpenTalk,
    Sampling,
    early_shape,
    embedding_relevance,
    failure_shape,
    fallback_reply,
    first_sentences,
)

# (reply, what the person said, expected reason): shapes SmolLM2-135M produced in vlm_robot/benchmarks/open_talk_eval.py
BAD = [
    ('The winner is a robot named "Echo" who has been tasked with helping people.', "What's the winner like?",
     "invents someone named Echo"),
    ("La femme de France, la femmère.", "What's the capital of France?", "not English"),
    ("Je ne comprends pas de l'anglais.", "Can you speak French?", "not English"),
    ("I'm sorry for your loss.", "I like painting.", "condolences for a loss nobody mentioned"),
    ("I'm sorry for your cat's loss.", "My cat is sick.", "condolences for a loss nobody mentioned"),
    ("I'm sorry for any confusion.", "Tell me something interesting.", "apology for a confusion nobody mentioned"),
    ("As an AI language model, I enjoy all music.", "Do you like music?", "'as an AI' disclaimer"),
    ("I'm a robot, I don't have any preferences.", "Do you like dogs or cats?", "'as an AI' disclaimer"),
    ("It's a nice day, isn't it?", "It's a nice day, isn't it?", "repeats the person's words"),
    ("Oh no, my cat is sick.", "My cat is sick.", "repeats the person's words"),
    ("Music is music and music is music.", "Do you like music?", "repeats itself"),
    ("I'm Dr. Elena Zepeda, nice to meet you.", "Hello there, how are you?", "gives itself a name (I'm Dr. Elena"),
    ("You know me well; my name is Shelter!", "It's a nice day.", "gives itself a name"),
    ("I was born in Ohio and I love jazz.", "Do you like music?", "invents a life story"),
    ("That's a wonderful thing, my daughter!", "My daughter started school.", "invents a life story"),
    ("I am a 10-year old child.", "I like painting.", "invents a life story"),
    ("I'm a painter too, you know.", "I like painting.", "invents a life story"),
    ("It's 3:45 in the afternoon, time for tea.", "I'm bored.", "claims the time or date"),
    ("Today is Monday, the best day of the week.", "I don't like Mondays.", "claims the time or date"),
    ("It's sunny outside, a perfect day for a walk.", "It's a nice day, isn't it?", "claims the weather"),
    ("In the news today, scientists found water.", "Tell me something interesting.", "claims news"),
    ("The robot assistant is happy to help you.", "Cheer me up.", "talks about itself in the third person"),
    ("I'm a helpful robot assistant.", "I like painting.", "only says what it is"),
    ("I'm a friendly robot.", "Tell me something interesting.", "only says what it is"),
    ("As a helpful robot assistant, I like it.", "Do you like painting?", "talks about itself in the third person"),
    ("You are a helpful robot assistant, so keep answers short.", "I like painting.", "repeats its instructions"),
    ("You're so stupid, it's not even funny.", "Tell me a joke.", "insult"),
    ("That's a shitty knife you have there.", "Look at my knife.", "blocked word"),
    ("", "Tell me a joke.", "empty"),
    ("What?", "I love gardening at the weekend.", "too short"),
    ("Music " + "and more music, " * 14 + "always.", "Do you like music?", "too long"),
    ("Music is a universal language that", "Do you like music?", "unfinished sentence"),
    ("A: What's a joke about the Mona Lisa?", "Tell me a joke.", "script or list format"),
    ("1. Dress professionally and be on time.", "Give me advice for an interview.", "script or list format"),
    ("I'm so sorry to hear about your trip.", "I just got back from a holiday in Spain.",
     "sympathy for something nobody said was sad"),
    ("A long day, you say? Well done!", "I had a really long day.", "cheerful about bad news"),
    ("You're welcome, I'm glad you enjoyed my chat.", "Say something nice.", "answers thanks nobody gave"),
    ("Sure thing, darling.", "What should I cook for dinner tonight?", "calls the person a pet name"),
    ("Dad, great to meet you!", "I ran my first marathon last week.", "calls the person a pet name"),
    ("Emma, what a wonderful girl!", "My daughter started school.", "calls the person a name (Emma)"),
    ("I love the different types of trees.", "Do you ever get bored?", "talks about the prompt's examples (trees)"),
    ("I'm sorry, but I don't have the ability to assist with that.", "My grandmother passed away.",
     "'as an AI' disclaimer"),
    ("This user is interested in painting.", "I like painting.", "talks about the exchange instead of in it"),
    ('My previous response would be: "I\'m so nervous."', "I'm nervous.", "talks about the exchange instead of in it"),
    ("(glancing up from the guitar) Ah, you're learning to play.", "I've been learning the guitar.",
     "script or list format"),
    # heard through the nodes in `vlm-robot bench voice` (2026-11-30)
    ("I've only been painting for a few years now, but I still love it.", "I like painting.", "invents a life story"),
    ("Dying of food can be a bit serious.", "My cat is sick.", "talks of death nobody mentioned"),
    ("Açúc! I'm so glad you're enjoying your trip to Spain.", "I just got back from a holiday in Spain.",
     "not English (Açúc)"),
]

# Fitting replies (several from the model itself) that no check may reject.
GOOD = [
    ("Music is a wonderful way to express ourselves.", "What do you think about music?"),
    ("Dogs are my favorite, they're so loyal and loving.", "Do you like dogs or cats?"),
    ("Painting is a wonderful art form, it brings joy to people's lives.", "I like painting."),
    ("I'm so sorry to hear that.", "My grandmother passed away last month."),
    ("I'm sorry for your loss.", "My dog died yesterday."),
    ("Losing a pet is so hard; I'm sorry your dog died.", "My dog died yesterday."),
    ("I've been waiting for you!", "Hello, I'm back."),
    ("Café au lait is a lovely way to start the day.", "I love café au lait."),
    ("I'm sorry to hear that. I hope tomorrow is easier.", "I had a really long day."),
    ("That's a great hobby, playing the guitar can be very rewarding.", "I've been learning to play the guitar."),
    ("Why did the chicken cross the road? To get to the other side!", "Tell me a joke."),
    ("You're welcome, it was my pleasure.", "Thanks for the chat."),
    ("Both, but I think reading is more enjoyable.", "Is it better to read books or watch movies?"),
    ("Well, painting is fun.", "I like painting."),
    ("Trees are wonderful in autumn.", "Do you like trees?"),
    ("Space is a vast and mysterious place, filled with wonders.", "Tell me a fun fact about space."),
    ("The future of robots is exciting, they can help us in many ways.", "What do you think about robots?"),
]


@pytest.mark.parametrize(("reply", "said", "reason"), BAD)
def test_each_failure_shape_is_rejected_with_its_reason(reply, said, reason):
    got = failure_shape(reply, said, OPEN_TALK_SYSTEM_PROMPT + " You are a helpful robot assistant.",
                        example_topics=frozenset({"trees", "tree"}))
    assert got.startswith(reason), got


@pytest.mark.parametrize(("reply", "said"), GOOD)
def test_fitting_replies_are_kept(reply, said):
    assert failure_shape(reply, said, OPEN_TALK_SYSTEM_PROMPT, example_topics=frozenset({"trees"})) == ""


def test_the_robot_may_say_its_configured_name():
    assert failure_shape("I'm Robbie, nice to meet you.", "Hello!").startswith("gives itself a name")
    assert failure_shape("I'm Robbie, nice to meet you.", "Hello!", robot_name="Robbie") == ""


def test_first_sentence_and_a_short_one_joined_to_the_next():
    assert first_sentences("Music is really great. I love it") == ("Music is really great.", True)
    assert first_sentences("Sure! Why did the chicken") == ("Sure! Why did the chicken", False)
    assert first_sentences("Sure! Why did the chicken cross? To") == ("Sure! Why did the chicken cross?", True)
    assert first_sentences("Oh no!", final=True) == ("Oh no!", True)
    assert first_sentences("What's a joke?\nA: The Mona Lisa") == ("What's a joke?", True)
    assert first_sentences('A good one is "The Nightingale" by A. A. Milne. It') == (
        'A good one is "The Nightingale" by A. A. Milne.', True)
    assert first_sentences("Ask Dr. Smith about it. Or") == ("Ask Dr. Smith about it.", True)


class Scripted:
    """A chat model that answers each sampling seed with a scripted reply, piece by piece."""

    def __init__(self, replies: dict[int, str]) -> None:
        self.replies = replies
        self.calls: list[tuple[float, int]] = []
        self.pieces_read = 0

    def _pieces(self, text: str):
        for word in text.split(" "):
            self.pieces_read += 1
            yield word + " "

    def stream(self, messages, max_tokens):
        return self.sample(messages, max_tokens, 0.0, 0)

    def sample(self, messages, max_tokens, temperature, seed, top_p=0.9):
        self.calls.append((temperature, seed))
        return self._pieces(self.replies[seed])

    def close(self):
        pass


SAMPLINGS = (Sampling(), Sampling(0.5, 1), Sampling(0.5, 2))


def test_first_passing_candidate_is_said_and_no_more_are_drawn():
    model = Scripted({0: "Painting is a lovely way to relax. It also " + "goes on " * 20, 1: "x", 2: "y"})
    r = OpenTalk(model, samplings=SAMPLINGS).reply(None, "I like painting.")
    assert r.text == "Painting is a lovely way to relax." and not r.fallback
    assert model.calls == [(0.0, 0)] and model.pieces_read <= 8  # stopped at the first sentence end
    assert r.rejected == () and len(r.candidates) == 1 and r.elapsed_ms >= r.candidates[0].ms


def test_rejected_candidates_carry_their_reasons_and_the_next_is_said():
    model = Scripted({0: "I'm sorry for your loss.", 1: "I'm a helpful robot assistant.", 2: "Painting is fun to do!"})
    r = OpenTalk(model, samplings=SAMPLINGS).reply(None, "I like painting.")
    assert r.text == "Painting is fun to do!" and not r.fallback
    assert r.rejected == ("greedy: condolences for a loss nobody mentioned", "T=0.5 seed=1: only says what it is")
    assert "T=0.5 seed=2" in r.why


def test_a_candidate_is_dropped_as_soon_as_its_first_words_fail():
    model = Scripted({0: "I'm sorry for your loss, but as a helpful robot assistant I can help you with anything.",
                      1: "Painting is fun to do!"})
    r = OpenTalk(model, samplings=SAMPLINGS[:2]).reply(None, "I like painting.")
    assert r.rejected == ("greedy: condolences for a loss nobody mentioned",) and r.text == "Painting is fun to do!"
    assert model.pieces_read == 5 + 5  # "I'm sorry for your loss, " then the whole second candidate
    assert early_shape("I'm not dumb", "hi") == ""  # only complete words: "dumb" may become "dumbbell"
    assert early_shape("As an AI language model, I", "hi") == "'as an AI' disclaimer"


def test_fallback_when_every_candidate_fails():
    model = Scripted({0: "I'm sorry for your loss.", 1: "As an AI language model, I can't.", 2: "What?"})
    r = OpenTalk(model, samplings=SAMPLINGS).reply(None, "I'm tired of my job.")
    assert r.fallback and r.text == FALLBACKS["statement"]
    assert [c.reason for c in r.candidates] == [
        "condolences for a loss nobody mentioned", "'as an AI' disclaimer", "too short (1 word)"]
    assert "fallback" in r.why and "too short" in r.why


def test_relevance_picks_the_best_and_rejects_off_topic():
    model = Scripted({0: "Yes, that is correct indeed.", 1: "Music is nice to hear.", 2: "Music moves us all deeply."})
    scores = {"Yes, that is correct indeed.": 0.05, "Music is nice to hear.": 0.3, "Music moves us all deeply.": 0.6}
    talk = OpenTalk(model, relevance=lambda said, reply: scores[reply], samplings=SAMPLINGS, min_relevance=0.1,
                    good_relevance=0.9)
    r = talk.reply(None, "What do you think about music?")
    assert r.text == "Music moves us all deeply." and r.candidates[2].relevance == 0.6
    assert r.rejected == ("greedy: off-topic (relevance 0.05 < 0.10)",)
    talk.good_relevance = 0.25  # good enough: the search stops at the second candidate
    r = talk.reply(None, "What do you think about music?")
    assert r.text == "Music is nice to hear." and len(r.candidates) == 2


def test_embedding_relevance_is_the_cosine():
    import numpy as np

    class Fake:
        def embed(self, texts):
            return np.array([[1.0, 0.0], [0.6, 0.8]])

    assert embedding_relevance(Fake())("a", "b") == pytest.approx(0.6)


def test_a_model_without_sample_gives_one_candidate():
    class StreamOnly:
        def stream(self, messages, max_tokens):
            yield from ["I'm sorry ", "for your loss."]

        def close(self):
            pass

    r = OpenTalk(StreamOnly(), samplings=SAMPLINGS).reply(None, "Tell me a joke.")
    assert r.fallback and len(r.candidates) == 1 and r.text == FALLBACKS["request"]


def test_budget_stops_the_search():
    model = Scripted({0: "I'm sorry for your loss.", 1: "Fine words here.", 2: "More fine words."})
    r = OpenTalk(model, samplings=SAMPLINGS, budget_ms=0.0).reply(None, "I like painting.")
    assert len(r.candidates) == 1 and r.fallback
    model = Scripted({0: "Painting is a lovely way to relax."})  # a candidate too slow is cut off
    r = OpenTalk(model, samplings=SAMPLINGS[:1], max_ms=0.0).reply(None, "I like painting.")
    assert r.fallback and r.candidates[0].reason == "no sentence end within 0 ms" and model.pieces_read == 1


class Gated(Scripted):
    """A scripted model whose pieces wait for ``go`` (a speculation still drawing while the final words come)."""

    def __init__(self, replies: dict[int, str]) -> None:
        super().__init__(replies)
        import threading

        self.go = threading.Event()
        self.prompts: list[str] = []

    def sample(self, messages, max_tokens, temperature, seed, top_p=0.9):
        self.prompts.append(messages[-1]["content"])
        return super().sample(messages, max_tokens, temperature, seed, top_p)

    def _pieces(self, text):
        for piece in super()._pieces(text):
            self.go.wait(5.0)
            yield piece


def test_speculation_on_the_same_prompt_is_the_reply_and_is_not_drawn_twice():
    model = Gated({0: "Painting is a lovely way to relax."})
    talk = OpenTalk(model, samplings=SAMPLINGS[:1])
    msgs = talk.messages("I like painting.", "You see 1 person: person 1 looks happy.")
    talk.speculate(msgs, "I like painting.")
    talk.speculate(list(msgs), "I like painting.")  # the same words again (a second partial): still one draw
    model.go.set()
    r = talk.reply(list(msgs), "I like painting.")
    assert r.text == "Painting is a lovely way to relax." and model.calls == [(0.0, 0)]
    assert r.head_start_ms > 0 and "partial transcript" in r.why
    assert talk.speculations == {"started": 1, "used": 1, "discarded": 0}
    talk.speculate(list(msgs), "I like painting.")  # late: the final words were answered already
    assert talk.speculations["started"] == 1 and model.calls == [(0.0, 0)]


def test_speculation_on_other_words_is_cancelled_and_the_final_words_are_answered():
    import threading
    import time

    model = Gated({0: "Painting is a lovely way to relax, and it goes on for a long while here."})
    talk = OpenTalk(model, samplings=SAMPLINGS[:1])
    talk.speculate(talk.messages("I like"), "I like")  # the person went on after the pause
    deadline = time.monotonic() + 5
    while not model.calls and time.monotonic() < deadline:
        time.sleep(0.01)  # the speculation is drawing (held at its first piece)
    model.replies[0] = "Painting is fun to do!"
    out = []
    final = threading.Thread(target=lambda: out.append(talk.reply(talk.messages("I like painting."),
                                                                  "I like painting.")))
    final.start()
    while talk.speculations["discarded"] == 0 and time.monotonic() < deadline:
        time.sleep(0.01)  # the final words cancelled it
    model.go.set()
    final.join(10)
    r = out[0]
    assert r.text == "Painting is fun to do!" and r.head_start_ms == 0 and "partial" not in r.why
    assert model.prompts == ["I like", "I like painting."]
    assert talk.speculations == {"started": 1, "used": 0, "discarded": 1}
    assert model.pieces_read == 1 + 5  # the speculation stopped at its first piece


def test_fallback_fits_what_was_said():
    assert fallback_reply("Tell me a story.") == FALLBACKS["request"]
    assert fallback_reply("Can you sing?") == FALLBACKS["request"]
    assert fallback_reply("What do you think about music?") == FALLBACKS["question"]
    assert fallback_reply("I like painting.") == FALLBACKS["statement"]
    assert fallback_reply("It's a nice day, isn't it?") == FALLBACKS["tag"]
    assert fallback_reply("Robots are cool, don't you think?") == FALLBACKS["tag"]
    assert all(failure_shape(t, "I like painting.") == "" for t in FALLBACKS.values())


def test_messages_carry_the_prompt_and_the_context_after_the_fixed_part():
    talk = OpenTalk(Scripted({}))
    m = talk.messages("I like painting.", "You see 1 person: person 1 looks happy.")
    assert m[0] == {"role": "system", "content": OPEN_TALK_SYSTEM_PROMPT}
    assert m[-2] == {"role": "system", "content": "You see 1 person: person 1 looks happy."}
    assert m[-1] == {"role": "user", "content": "I like painting."} and len(m) == 3 + len(talk.examples)
    # what comes before the context is the same whatever the context: llama.cpp keeps it evaluated between replies
    other = talk.messages("Tell me a joke.", "You see 2 people: person 1 looks sad; person 2 looks neutral.")
    assert other[:-2] == m[:-2] == [m[0], *talk.examples]
    assert talk.messages("I like painting.") == [m[0], *talk.examples, m[-1]]  # no context: no empty message


@pytest.fixture(scope="module")
def smollm():
    pytest.importorskip("llama_cpp")
    from vlm_robot.core.assets import CHAT_LLM
    from vlm_robot.core.errors import ModelNotFoundError
    from vlm_robot.reasoning.llm import LLMConfig, load_chat_model

    try:
        CHAT_LLM.path()
    except ModelNotFoundError as e:
        pytest.skip(str(e))
    model = load_chat_model(LLMConfig())
    yield model
    model.close()


def _minilm_relevance():
    from vlm_robot.core.errors import ModelNotFoundError

    try:
        from vlm_robot.reasoning.embed import SentenceEmbedder

        return embedding_relevance(SentenceEmbedder())
    except (ImportError, ModelNotFoundError):
        return None  # ranked by order only


def test_real_model_replies_have_no_failure_shape(smollm):
    # no time limit here: the cores may be busy with other tests
    talk = OpenTalk(smollm, relevance=_minilm_relevance(), budget_ms=60_000, max_ms=60_000)
    sentences = ["I like painting.", "I'm tired of my job.", "Tell me a joke.", "What do you think about music?",
                 "It's a nice day, isn't it?"]
    replies = [talk.reply(talk.messages(s, "You see 1 person: person 1 looks neutral."), s) for s in sentences]
    for s, r in zip(sentences, replies, strict=True):
        assert r.fallback or talk.check(r.text, s) == "", (s, r)
        assert r.text and r.candidates and all(c.reason or c.passed for c in r.candidates)
    assert sum(not r.fallback for r in replies) >= 3, [r.why for r in replies]  # mostly the model's own words
    again = talk.reply(talk.messages(sentences[0], "You see 1 person: person 1 looks neutral."), sentences[0])
    assert again.text == replies[0].text  # greedy first, then fixed seeds: the same sentence, the same reply


def test_the_reasoner_speculates_only_on_words_for_the_language_model_and_the_final_reply_takes_it():
    from vlm_robot.core.types import Transcript
    from vlm_robot.reasoning.dialogue import DialogueManager
    from vlm_robot.reasoning.policy import ProactivePolicy
    from vlm_robot.reasoning.reasoner import Reasoner
    from vlm_robot.reasoning.tracker import PeopleTracker

    model = Gated({0: "Painting is a lovely way to relax."})
    model.go.set()
    talk = OpenTalk(model, samplings=SAMPLINGS[:1])
    r = Reasoner(PeopleTracker(), ProactivePolicy(), DialogueManager(model), open_talk=talk)
    assert not r.speculate(Transcript("Stop!", 1.0, id="t0", final=False))  # an action: the gate, no model
    assert not r.speculate(Transcript("What time is it?", 1.0, id="t0", final=False))  # knowledge
    assert r.speculate(Transcript("I like painting.", 1.0, id="t1", final=False))
    out = r.on_transcript(Transcript("I like painting.", 1.2, id="t1"))
    assert [u.text for u in out.utterances] == ["Painting is a lovely way to relax."]
    assert "drawn from the partial transcript" in out.utterances[0].reason
    assert talk.speculations["used"] == 1 and model.calls == [(0.0, 0)]  # drawn once
    assert r.classify(Transcript("I like painting.", 1.2, id="t1")).kind == "open"


class Slow(Scripted):
    """A scripted model that takes ``delay`` seconds a piece."""

    def __init__(self, replies: dict[int, str], delay: float) -> None:
        super().__init__(replies)
        self.delay = delay

    def _pieces(self, text):
        import time

        for piece in super()._pieces(text):
            time.sleep(self.delay)
            yield piece


@pytest.mark.parametrize("replies", [
    {0: "I'm sorry for your loss.", 1: "I'm a helpful robot assistant.", 2: "Painting is fun to do!"},
    {0: "Painting is a lovely way to relax.", 1: "x y z.", 2: "Painting is fun to do!"},
    {0: "I'm sorry for your loss.", 1: "Painting is fun to do!", 2: "Painting is fun to do!"},
    {0: "What?", 1: "As an AI language model, I can't.", 2: "Hmm."},
])
def test_helper_models_draw_candidates_side_by_side_and_choose_as_one_model_would(replies):
    scores = {"Painting is a lovely way to relax.": 0.5, "Painting is fun to do!": 0.2, "x y z.": 0.3}
    relevance = lambda said, reply: scores.get(reply, 0.5)  # noqa: E731
    alone = OpenTalk(Scripted(replies), relevance, samplings=SAMPLINGS).reply(None, "I like painting.")
    main, helper = Scripted(replies), Scripted(replies)
    paired = OpenTalk(main, relevance, samplings=SAMPLINGS, helpers=[helper]).reply(None, "I like painting.")
    assert (paired.text, paired.fallback, paired.rejected) == (alone.text, alone.fallback, alone.rejected)
    assert [c.text for c in paired.candidates] == [c.text for c in alone.candidates]
    assert [s for _, s in main.calls][:1] == [0] and [s for _, s in helper.calls][:1] == [1]  # greedy; seed 1


def test_a_helper_still_drawing_is_stopped_when_the_greedy_reply_passes_well():
    helper = Slow({1: "Painting is " + "very " * 30 + "nice."}, delay=0.05)
    talk = OpenTalk(Scripted({0: "Painting is a lovely way to relax."}), samplings=SAMPLINGS, helpers=[helper])
    r = talk.reply(None, "I like painting.")
    assert r.text == "Painting is a lovely way to relax." and len(r.candidates) == 1
    assert helper.pieces_read <= 3  # stopped, not drawn to its sentence end (32 pieces)


def test_candidates_side_by_side_on_a_second_instance_of_the_real_model(smollm):
    """The helper draws the sampled candidates; the greedy one is the single model's. (A sampled candidate's words
    may differ: llama.cpp's sums depend on how the prompt was split into batches, so a model whose cache held
    other prompts samples slightly differently; the same holds for one model over time.)"""
    from vlm_robot.reasoning.llm import LLMConfig, load_chat_model

    helper = load_chat_model(LLMConfig())
    calls = []
    sample = helper.sample
    helper.sample = lambda *a, **k: calls.append(a[3]) or sample(*a, **k)  # the seed of each candidate it drew
    try:
        relevance = _minilm_relevance()
        alone = OpenTalk(smollm, relevance=relevance, budget_ms=60_000, max_ms=60_000)
        paired = OpenTalk(smollm, relevance=relevance, budget_ms=60_000, max_ms=60_000, helpers=[helper])
        drawn = []
        for s in ["I'm tired of my job.", "My cat is sick.", "I just got back from a holiday in Spain."]:
            msgs = alone.messages(s, "You see 1 person: person 1 looks neutral.")
            a, b = alone.reply(msgs, s), paired.reply(msgs, s)
            assert b.candidates[0].text == a.candidates[0].text, (s, a, b)  # greedy: the same
            assert b.fallback or paired.check(b.text, s) == "", (s, b)
            drawn.append(len(b.candidates))
        assert max(drawn) > 1 and calls and set(calls) == {1}, (drawn, calls)  # the helper drew seed 1 each time
    finally:
        helper.close()
