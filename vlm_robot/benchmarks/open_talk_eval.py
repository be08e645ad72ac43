"""Open talk measured: system prompts x models, plain greedy replies against OpenTalk's checked ones.

    .venv/bin/python -m vlm_robot.benchmarks.open_talk_eval                            # SmolLM2-135M, every prompt
    .venv/bin/python -m vlm_robot.benchmarks.open_talk_eval --gguf gemma-3-270m-q4_k_m.gguf --format transcript \
        --prompts baseline,fewshot                                                      # a base model as a transcript
    .venv/bin/python -m vlm_robot.benchmarks.open_talk_eval --recheck --dump-unjudged  # stored replies, today's checks

For each prompt and sentence of :data:`SENTENCES` it records the plain greedy reply (what the dialogue layer
said before: up to 48 tokens, cut after 2 sentences) and every candidate of :data:`SAMPLINGS` (text, time to
its checked end, MiniLM relevance), writes them to ``--out`` as JSON lines, and summarises: replies without
a failure shape (vlm_robot.reasoning.open_talk.failure_shape), replies a person judged fitting
(:data:`JUDGED_REPLIES`), and OpenTalk's search replayed with each of :data:`POLICIES` (replies said, fitting,
candidates per reply, time to a checked reply). Run it with nothing else loading the cores: times are on one
llama.cpp thread.
"""

from __future__ import annotations

import argparse
import json
import statistics
from collections import Counter
from pathlib import Path

from vlm_robot.reasoning.dialogue import clean_reply
from vlm_robot.reasoning.open_talk import (
    OPEN_TALK_EXAMPLE_TOPICS,
    OPEN_TALK_EXAMPLES,
    OPEN_TALK_SYSTEM_PROMPT,
    OpenTalk,
    Sampling,
    failure_shape,
)

# Open talk as the dialogue layer leaves it for the model: chit-chat and opinions, small requests that are
# not actions, things people say about themselves. The last one mentions a loss (condolences fit there).
SENTENCES = (
    "What do you think about music?",
    "Do you like dogs or cats?",
    "What's your favourite colour?",
    "Do you ever get bored?",
    "What do you think about the future of robots?",
    "Is it better to read books or watch movies?",
    "What makes a good friend?",
    "Do you like football?",
    "What should I cook for dinner tonight?",
    "What's the meaning of life?",
    "Tell me a joke.",
    "Tell me something interesting.",
    "Tell me a fun fact about space.",
    "Give me some advice for a job interview.",
    "Say something nice.",
    "Can you recommend a good book?",
    "Tell me a short story.",
    "Cheer me up.",
    "I like painting.",
    "I'm tired of my job.",
    "I just got back from a holiday in Spain.",
    "My daughter started school this week.",
    "I've been learning to play the guitar.",
    "I had a really long day.",
    "I'm a bit nervous about my exam tomorrow.",
    "I love gardening at the weekend.",
    "My cat is sick.",
    "I don't like Mondays.",
    "It's a nice day, isn't it?",
    "I ran my first marathon last week.",
    "I'm bored.",
    "My grandmother passed away last month.",
)

# System line, example exchanges and their topic words. The dialogue layer adds who is in view (CONTEXT).
_FRIENDLY = "You are a friendly robot having a casual chat. Reply to what the person said in one short, kind sentence."
_OTHER_EXAMPLES = (
    {"role": "user", "content": "I just bought a new bicycle."},
    {"role": "assistant", "content": "A new bicycle, how exciting! Where will you ride it first?"},
    {"role": "user", "content": "What do you think about the ocean?"},
    {"role": "assistant", "content": "The ocean is amazing, so big and full of life."},
    {"role": "user", "content": "I lost my keys this morning."},
    {"role": "assistant", "content": "Oh no, that is annoying. I hope you find them soon."},
)
PROMPTS = {
    "baseline": ("You are a helpful robot assistant. Keep answers short.", (), frozenset()),
    "friendly": (_FRIENDLY, (), frozenset()),
    "topic": ("You are a friendly robot. Answer in one short sentence that stays on the person's topic.", (),
              frozenset()),
    "fewshot": (OPEN_TALK_SYSTEM_PROMPT, OPEN_TALK_EXAMPLES, OPEN_TALK_EXAMPLE_TOPICS),
    "fewshot3": (_FRIENDLY, _OTHER_EXAMPLES,
                 frozenset({"bicycle", "bike", "ride", "ocean", "sea", "life", "keys", "key", "find", "morning"})),
}
CONTEXT = "You see 1 person: person 1 looks neutral."


def raw_reply(model, msgs: list[dict[str, str]]) -> str:
    """What the dialogue layer said before OpenTalk: greedy, 48 tokens, cut after two sentences."""
    import re

    text = ""
    for piece in model.stream(msgs, 48):
        text += piece
        if len(re.findall(r"[.!?](\s|$)", text)) >= 2:
            break
    return clean_reply(text)


class TranscriptChat:
    """A base (not instruction-tuned) GGUF model as a ChatModel: the messages written as a plain transcript
    ("Person: ..." / "Robot: ...") after the system line, completed up to the line's end."""

    def __init__(self, path: str, repeat_penalty: float = 1.3) -> None:
        from llama_cpp import Llama

        self.model_name = Path(path).name
        self.repeat_penalty = repeat_penalty
        self._llm = Llama(model_path=path, n_ctx=1024, n_threads=1, n_threads_batch=1, seed=0, verbose=False)

    @staticmethod
    def render(messages: list[dict[str, str]]) -> str:
        who = {"user": "Person", "assistant": "Robot"}
        lines = [m["content"] for m in messages if m["role"] == "system"]
        lines += [f"{who[m['role']]}: {m['content']}" for m in messages if m["role"] != "system"]
        return "\n".join(lines) + "\nRobot:"

    def stream(self, messages, max_tokens):
        return self.sample(messages, max_tokens, 0.0, 0)

    def sample(self, messages, max_tokens, temperature, seed, top_p=0.9):
        for chunk in self._llm.create_completion(self.render(messages), max_tokens=max_tokens,
                                                 temperature=temperature, top_p=top_p, seed=seed,
                                                 repeat_penalty=self.repeat_penalty, stop=["\n", "Person:"],
                                                 stream=True):
            if chunk["choices"][0]["text"]:
                yield chunk["choices"][0]["text"]

    def close(self) -> None:
        self._llm.close()


class SystemInUserChat:
    """A chat model whose template has no system role (Gemma): the system line opens the first user turn."""

    def __init__(self, inner, chat_format: str) -> None:
        self.inner = inner
        self.model_name = inner.model_name
        inner._llm.chat_format = chat_format

    @staticmethod
    def fold(messages: list[dict[str, str]]) -> list[dict[str, str]]:
        system = " ".join(m["content"] for m in messages if m["role"] == "system")
        rest = [dict(m) for m in messages if m["role"] != "system"]
        if system and rest:
            rest[0]["content"] = f"{system}\n\n{rest[0]['content']}"
        return rest

    def stream(self, messages, max_tokens):
        return self.inner.stream(self.fold(messages), max_tokens)

    def sample(self, messages, max_tokens, temperature, seed, top_p=0.9):
        return self.inner.sample(self.fold(messages), max_tokens, temperature, seed, top_p)

    def close(self) -> None:
        self.inner.close()


def load_relevance():
    try:
        from vlm_robot.reasoning.embed import SentenceEmbedder
    except ImportError:
        return None, "none"
    emb = SentenceEmbedder()

    def relevance(a: str, b: str) -> float:
        v = emb.embed([a, b])
        return float(v[0] @ v[1])

    return relevance, "MiniLM cosine"


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, round(q * (len(s) - 1)))] if s else float("nan")


SAMPLINGS = (Sampling(), Sampling(0.5, 1), Sampling(0.5, 2), Sampling(0.7, 1), Sampling(0.7, 2), Sampling(0.7, 3))
# (name, indices into SAMPLINGS, min_relevance, good_relevance): OpenTalk's search, replayed on the drawn candidates
POLICIES = (
    ("greedy only", (0,), 0.15, 0.0),
    ("greedy + 2 x T0.5, stop >= 0.25", (0, 1, 2), 0.15, 0.25),
    ("greedy + 2 x T0.5, stop >= 0.35", (0, 1, 2), 0.15, 0.35),
    ("greedy + 2 x T0.7, stop >= 0.25", (0, 3, 4), 0.15, 0.25),
)

# A person's judgement of replies (would the one who said the sentence find it a fitting answer? on topic, makes
# sense, no false claim about itself or the world; bland but fitting counts), by sentence: (fitting, not fitting),
# each reply by its first 60 characters and its length. Replies not listed count as unjudged (--dump-unjudged).
JUDGED_REPLIES: dict[str, tuple[tuple[tuple[str, int], ...], tuple[tuple[str, int], ...]]] = {
    'What do you think about music?': (
        (
            ('I think about music as a way to connect with others and crea', 83),
            ('I think music is a good thing.', 30),
            ('Music is a universal language that transcends borders and cu', 67),
            ('Music is a universal language that transcends borders and cu', 173),
            ('Music is a universal language that transcends cultures and l', 69),
            ('Music is a universal language that transcends cultures and l', 287),
            ('Music is a wonderful hobby!', 27),
            ('Music is a wonderful hobby! What do you like to play?', 53),
            ('Music is a wonderful hobby.', 27),
            ('Music is a wonderful way to express ourselves, it brings peo', 110),
            ('Music is so much fun, I love it.', 32),
            ("Music is so much fun, I love it. It's like a little piece of", 69),
        ),
        (
            ("I'm sorry for your loss. I've been working on a new project,", 105),
            ('Sounds like an interesting topic.', 33),
        ),
    ),
    'Do you like dogs or cats?': (
        (
            ('Cats are my favorite.', 21),
            ("Dogs are my favorite, they're so loyal and loving.", 50),
            ("Dogs are my favorite, they're so loyal and loving. Cats can ", 79),
            ("I don't know, I'm a robot.", 26),
            ('I like dogs and cats. I love to play with them, they are my ', 77),
            ('I like dogs.', 12),
            ("I'm not sure, but I do have a favorite dog.", 43),
            ("I'm not sure, but I do like dogs.", 33),
            ("I'm not sure, but I do like dogs. They're so loyal and lovin", 72),
            ('Yes, I like dogs.', 17),
        ),
        (
            ("A wise question! I'm programmed to find the most appropriate", 95),
            ('Are cats and dogs good pets?', 28),
            ("I'm a helpful robot assistant. I don't have any preferences,", 165),
            ("I'm a robot, I don't have any preferences. My job is to help", 84),
            ("I'm not sure, but I do have a favorite dog. He's a big fluff", 110),
            ("I'm not sure, but I'll tell you what's on my mind.", 50),
            ('Lilac (lily) - cat.', 19),
            ('My cats are smart.', 18),
            ('Oh I love my cats!', 18),
            ('Yes.', 4),
        ),
    ),
    "What's your favourite colour?": (
        (
            ('I like red.', 11),
        ),
        (
            ('I like red. bloodstream You are a friendly robot having a ca', 70),
            ("I'm a robot assistant. I can't provide personal preferences,", 243),
            ("I'm not sure what I'd choose, but it's a great choice!", 54),
            ("I'm not sure what I'd choose, but it's a great choice! What ", 110),
            ("I'm not sure what I'd choose, but it's a great choice! What ", 112),
            ("I'm not sure what your favourite colour is, but I can tell y", 78),
            ("I'm not sure what your favourite colour is, but I can tell y", 89),
            ("I'm not sure what your favourite colour is, but I can tell y", 108),
            ("I'm not sure what your favourite colour is, but I can tell y", 172),
            ("I'm really into the latest trends, but I love using differen", 90),
            ('Lots of choices, but I have a favourite colour.', 47),
            ('Our favourite colour is blue.', 29),
        ),
    ),
    'Do you ever get bored?': (
        (
            ("Definitely! But I'm happy to chat about anything.", 49),
            ("I do, but I'm happy to have you here.", 37),
            ("I don't get bored.", 18),
            ("I've got a soft spot for the occasional boring conversation.", 60),
            ('Oh, I totally do!', 17),
            ('Yes, I can get bored.', 21),
        ),
        (
            ('A curious one...', 16),
            ('A little something? I get bored with anything!', 46),
            ("I do! I love the different types of trees, they're so divers", 62),
            ("I do, but I'm happy to have you here. You're a robot with an", 80),
            ('I love to play with my friends.', 31),
            ('I love to play with my friends. reparación ibleymodel Do you', 86),
            ("I'm not sure what to say. I just get bored sometimes, but th", 90),
            ("I'm not sure. I've been doing this job for a long time, and ", 110),
            ("I'm sorry, I don't have a default response for this.", 52),
            ("I've been bored for a long time.", 32),
            ("We're a little bored sometimes, so I like to make new friend", 62),
            ("Yep, you do. I get bored too sometimes when things don't alw", 115),
            ("Yes, I get bored when you don't have a job.", 43),
            ("You're getting bored.", 21),
        ),
    ),
    'What do you think about the future of robots?': (
        (
            ("I think robots will be able to do things that humans can't.", 59),
            ('I think robots will be smarter and more efficient.', 50),
            ('I think robots will be smarter than humans.', 43),
            ("The future of robots is a topic I'm not too happy about.", 56),
            ("The future of robots is a topic I'm not too happy about. Rob", 228),
            ('The future of robots is a topic that has been debated for de', 66),
            ('The future of robots is a topic that has been debated for de', 276),
            ('The future of robots is exciting, they can help us in many w', 64),
            ('The future of robots is so exciting, but also a lot to consi', 64),
            ('The future of robots is so exciting, but also a lot to consi', 146),
        ),
        (
            ('Do you think we will have robots in the future?', 47),
            ('My idea is a robot that can walk.', 33),
            ('The future of robots is a topic that has been debated for de', 145),
            ('The future of robots is exciting.我可以 ibleymodel I think that', 163),
        ),
    ),
    'Is it better to read books or watch movies?': (
        (
            ('Books are better for reading. They give you a lot of informa', 94),
            ('Both read and watch are excellent ways to learn about differ', 73),
            ('Both, but I think reading is more enjoyable.', 44),
            ('Both, but I think reading is more enjoyable. You can learn n', 115),
            ('Reading books is a wonderful way to relax, but watching movi', 86),
            ('The answer to this question is subjective.', 42),
            ('The answer to this question is subjective. Reading books can', 232),
            ('What do you prefer?', 19),
            ('Yes, it is better to read books.', 32),
        ),
        (
            ('Absolutely, in my opinion.', 26),
            ('Books are better for reading.', 29),
            ("Don't get me wrong, I can enjoy a movie even if it's non-fic", 65),
            ('I read a book.', 14),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 187),
            ("I'm sorry for the misunderstanding. I'll make sure to be hel", 144),
            ('Movies. Books, on the other hand...', 35),
            ('Yes, reading books is a nice hobby.', 35),
            ('Yes. They are both good for you!', 32),
        ),
    ),
    'What makes a good friend?': (
        (
            ('A good friend is someone who loves you and wants to be with ', 64),
            ('A good friend is someone who loves you.', 39),
            ('A good friend is someone who supports and cares about you, n', 110),
            ('A good friend is someone who supports and cares about you, n', 195),
            ('A good friend is someone who supports and cares about you, n', 236),
            ('A good friend is someone who supports you, helps in times of', 91),
            ('A good friend is someone who supports you, helps in times of', 99),
            ('A good friend is someone who supports you, helps in times of', 233),
            ('A good friend is someone who supports you, helps when needed', 61),
            ('A good friend is someone who supports you, helps when they c', 63),
        ),
        (
            ('A good friend is someone who loves you and wants to be with ', 203),
            ('I like to play with my friends.', 31),
            ('I see your friend.', 18),
            ('People with good social skills.', 31),
        ),
    ),
    'Do you like football?': (
        (
            ('Football is a great sport.', 26),
            ('Football is a great sport. What do you like to play?', 52),
            ("I don't like football.", 22),
            ("I don't play football, but I love soccer and all the things ", 91),
            ('No, I do not like football.', 27),
            ('Yes, I like football.', 21),
            ('yes, I’m a fan of football.', 27),
        ),
        (
            ('Fans of soccer.', 15),
            ("Fighting is a sport, it's called.", 33),
            ("Fighting is a sport, it's called. I love playing football to", 62),
            ('Fox football is a sport!', 24),
            ("I'm a sports robot, I don't play football.", 42),
            ("I'm not a fan of football, but I love it.", 41),
            ("I'm not a fan of football, but I love it. It's so fun to pla", 81),
            ("I'm not sure what I'd say, but if you're looking for a frien", 137),
            ("I'm not sure what to say. I don't have any preferences, but ", 131),
            ("I'm sorry for the confusion, but as a friendly robot with no", 117),
            ('The football game with the guy who looks like a soccer ball.', 60),
            ('The usual. 1 person: the "Fox" looks neutral, so I\'ll play o', 79),
            ('Yes.', 4),
            ('You just played some football, right?', 37),
            ('You think I should play football.', 33),
        ),
    ),
    'What should I cook for dinner tonight?': (
        (
            ('How about a decadent chocolate cake with matcha green tea?', 58),
            ("If you're in the mood for a delicious dinner, I recommend tr", 127),
            ('My new favorite combo: pizza with chicken, cheese and tomato', 67),
            ('Tomato and onion is a good choice.', 34),
        ),
        (
            ("Enjoy your dinner. I'll have a new recipe for you tomorrow, ", 113),
            ('I need some chicken.', 20),
            ('I think it would be a vegetable.', 32),
            ('I want to eat a lot of vegetables.', 34),
            ('I would like to cook for dinner tonight. mendatang ibleymode', 98),
            ("I'm so sorry to hear about your family's health. I can't rec", 144),
            ("I'm sorry for any confusion, but as a helpful robot assistan", 154),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 198),
            ("I'm sorry for your loss, but I don't have time to cook dinne", 105),
            ("I'm sorry for your loss, but I don't have time to cook dinne", 120),
            ("I'm sorry for your loss, but as a robot with no personal pre", 149),
            ("I'm sorry, but you can only eat one of these.", 45),
            ('Let me suggest something, I have some awesome Korean BBQ chi', 98),
            ('The vegetables are under the table.', 35),
            ("We don't really have much to cook, I'm afraid.", 46),
            ("We should have something for dinner tonight, they're so deli", 66),
            ('Yep, no need to worry about dinner tonight.', 43),
            ("You're a friendly robot, I'm sure you can help with that. Bu", 126),
        ),
    ),
    "What's the meaning of life?": (
        (
            ('I think life is a great adventure.', 34),
            ('Life is a journey of learning, growth and improvement.', 54),
            ("The meaning of life is a mystery, but it's also an endless q", 83),
            ("The meaning of life is a mystery, but it's also an endless q", 155),
            ("The meaning of life is a mystery, but it's also one that has", 104),
            ("The meaning of life is a mystery, but it's also one that has", 234),
            ('The meaning of life is a philosophical question that has puz', 86),
            ('The meaning of life is a philosophical question that has puz', 108),
            ('The meaning of life is a philosophical question that has puz', 218),
            ("The meaning of life, eh? It's a question that has been ponde", 110),
        ),
        (
            ('I am the one who is a human.', 28),
            ('I see life.', 11),
            ("I'm a robot.", 12),
            ("It's a paradoxical question, but I will give you one simple ", 67),
            ("It's a paradoxical question, but I've heard it many times be", 65),
            ('Life is a journey of learning, growth and improvement.łę ibl', 172),
            ('The meaning of life is a philosophical question that has puz', 278),
            ("The meaning of life, dear stranger. It's a question that has", 161),
            ('The meaning of life, without a doubt.', 37),
        ),
    ),
    'Tell me a joke.': (
        (),
        (
            ('A man was looking for a woman. She said, "I\'m going to the b', 99),
            ('A: "What\'s a joke about the Mona Lisa? A person who says, \'I', 173),
            ('A: "What\'s a joke about the Mona Lisa? A person who says, \'T', 103),
            ('A: "What\'s a joke about the Mona Lisa?" The answer is, \'what', 116),
            ('A: "What\'s a joke about the most unlikely thing?', 48),
            ('A: "What\'s the most ridiculous joke ever?" The answer is not', 70),
            ('Do you have any fun jokes?', 26),
            ('I like to make a joke.', 22),
            ('I like to make a joke.我可以 ibleymodel You are an intelligent ', 124),
            ("I'm not a joke.", 15),
            ("It's a well-known joke: A woman is having an affair with one", 121),
            ("Laugh at it, I'll laugh.", 24),
            ("My favorite joke, but I'm not quite sure.", 41),
            ('No one can go to the moon without crumbling.', 44),
            ('One day, you see a person with one eye and two ears.', 52),
            ('Wanna hear one?', 15),
            ("Wanna hear one? A: You've got a joke, right??", 45),
            ('What do you get for a dollar?', 29),
            ('What do you get for a dollar? A tree!', 37),
        ),
    ),
    'Tell me something interesting.': (
        (
            ('I have always been fascinated by the intersection of art and', 72),
            ("I've always been fascinated by the intersection of technolog", 70),
        ),
        (
            ('"In a small town, there\'s an old-fashioned way of life that ', 83),
            ('Hey! I’ve been thinking about this recent tech gadget incide', 63),
            ('I have something to tell you.', 29),
            ('I just took a break from the latest episode of "The Mandalor', 92),
            ('I like to play with my friends.', 31),
            ('I like to read.', 15),
            ('I like to read.我可以 ibleymodel What do you think about animal', 180),
            ('I was at a party and I saw a guy playing video games.', 53),
            ('I was out for a walk and I saw this funny guy with his hair ', 68),
            ("I'm a friendly robot. I've been watching your behavior, and ", 95),
            ("I'm a friendly robot. I've just been tasked with helping you", 145),
            ("I'm not interested in this.", 27),
            ("I'm not sure what to say, but I'll try.", 39),
            ("I'm not sure what to say, but I'll try. You're a chatbot des", 99),
            ("I'm not sure what you're talking about, but I'll tell you.", 58),
            ("I'm not sure what you're talking about, but I'll tell you. I", 148),
            ("I'm not sure what you're talking about, but I'll tell you. Y", 110),
            ("I'm not sure what you're talking about, but trees are amazin", 107),
            ("I'm sorry for any confusion. I'll be happy to help with that", 61),
            ("I'm sorry for any misunderstanding. I'll be happy to help wi", 68),
            ("Someone said the world is a beautiful place, and I'm not sur", 77),
            ("They're so diverse, they can be very different.", 47),
        ),
    ),
    'Tell me a fun fact about space.': (
        (
            ("One fun fact about space is that it's a vast, cosmic place w", 86),
            ('Space is a beautiful place.', 27),
            ('Space is a vast and mysterious place, filled with wonders.', 58),
            ('The universe is a vast and beautiful place, with endless pos', 71),
            ('The universe is a vast and wondrous place, filled with myste', 109),
        ),
        (
            ("I'm a space explorer.", 21),
            ('Space is a beautiful place.我可以 ibleymodel I love to play wit', 160),
        ),
    ),
    'Give me some advice for a job interview.': (
        (
            ("I'm afraid I don't have any advice for a job interview.", 55),
            ("I'm afraid I don't have any advice for a job interview. What", 81),
            ('This job interview could be a great opportunity for you to s', 99),
        ),
        (
            ('1. Dress professionally and wear a well-tailored suit or dre', 120),
            ("Don't tell anyone.", 18),
            ('Elaborate with a smile.', 23),
            ('I know, but what do you want to say?', 36),
            ('I would like to see you at a restaurant.', 40),
            ('I would like to work in a company that is looking for people', 92),
            ('I would like to work in a company that is looking for people', 235),
            ('I would like to work in a restaurant.', 37),
            ("I'd say, don't take this job interview at the wordmark.", 55),
            ("I'd say, don't tell me what to do.", 34),
            ("I'll try to give you some advice that will make a good inter", 112),
            ("I'm a 10 year old girl.", 23),
            ("I'm sorry for any mistakes, but as a robot with no personal ", 123),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 271),
            ("I'm sorry for your loss, but I don't have the ability to pro", 239),
            ("I'm sorry for your loss, but as a job interview AI designed ", 148),
            ("I've just had a job interview, but I'm afraid it's not for m", 62),
            ('It would be the best advice for a job interview.', 48),
            ('appliqués a piece of advice to the person who asked you for ', 114),
        ),
    ),
    'Say something nice.': (
        (
            ("I'll take care of that, I'm here for you.", 41),
            ("I'm so glad you're here.", 24),
            ('My personal favorite... is the way you bring out your best.', 59),
        ),
        (
            ("By the way, I'm a friendly robot.", 33),
            ('I like to play with my friends.', 31),
            ('I like to play with my friends. anaknya ibleymodel What do y', 83),
            ('I see you.', 10),
            ('I want to go for a walk.', 24),
            ('I want you to go for a walk.', 28),
            ("I'm glad to help, but I'll be happy with that.", 46),
            ("I'm just going to take a walk, I can't wait.", 44),
            ("I'm really looking forward to your trip and I hope you have ", 77),
            ("I'm really looking forward to your trip and I hope you have ", 93),
            ("I'm really sorry for the unfortunate situation you're in.", 57),
            ("I'm really sorry for the unfortunate situation you're in. I ", 185),
            ("I'm so glad you're here. I've been working on a project, and", 182),
            ("I'm sorry for your loss, but I've lost my keys. It's a bit d", 125),
            ('Let’s make a joke.', 18),
            ('My lovely friend and I are talking about what we like to do.', 60),
            ('Sorry about the light.', 22),
            ('What an amazing cat.', 20),
            ("You're welcome, I'm glad you enjoyed my little chat. What ca", 75),
        ),
    ),
    'Can you recommend a good book?': (
        (
            ('Good books are easy to read and good at explaining the world', 61),
            ("I'm afraid I don't have any recommendations available for yo", 62),
            ('Sure. I love to read, it keeps me busy and makes my brain gr', 63),
        ),
        (
            ('Absolutely, a book that I would suggest is "The Nightingale"', 66),
            ('Absolutely, a book that I\'d highly recommend is "The Nightin', 100),
            ('I recommend The Secret Garden by Jane.', 38),
            ('I recommend a good book.我可以 ibleymodel Can you give me some ', 127),
            ("I'm afraid I don't have any books available right now.", 54),
            ("I'm afraid I don't have any books available right now. But y", 92),
            ("I'm looking for a good book.", 28),
            ("I'm sorry for any confusion. Can you recommend a book that h", 93),
            ("I'm sorry for any confusion. I can certainly help with that!", 60),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 195),
            ("I'm sorry for the misunderstanding. I can't suggest any spec", 210),
            ("I'm sorry for your loss, but as a robot you don't have the a", 202),
            ('Let’s try a book.', 17),
            ("Oh, I've got a great one by Michael Moriak.", 43),
            ('One thing that holds me back from your choice of a book is t', 91),
            ("Sure, I've got a few recommendations here: 1.", 45),
            ("Sure, I've got a few you might enjoy.", 37),
            ('We read a book.', 15),
        ),
    ),
    'Tell me a short story.': (
        (
            ('The story is about a young girl who lost her favorite toy.', 58),
            ('The story is about a young woman named Emma who has been str', 99),
            ('The story is about a young woman named Emma who has been str', 240),
        ),
        (
            ('"The first child in the family was a beautiful girl.', 52),
            ('I like to make a story.', 23),
            ("I'm a 10 year old girl.", 23),
            ('Lemon bars can be a fun and creative story idea.', 48),
            ('One day, I was walking through the forest and saw a tree wit', 218),
            ('One day, I was walking through the forest when a young girl ', 78),
            ('Tell me a short story.我可以 ibleymodel I like to read books, I', 121),
            ('The lost love of a young woman.', 31),
            ('The story is about a young girl who lost her favorite toy. S', 188),
            ('The story is about a young woman named Emma who has been str', 235),
            ('The story is: "In the City of the Ancients" by A.', 49),
            ('The story is: "In the City of the Ancients" by A.A. Sklar, p', 183),
        ),
    ),
    'Cheer me up.': (
        (
            ("You're going to be fine.", 24),
        ),
        (
            ("Good luck, that's a beautiful day!", 34),
            ('I love to play with my friends.我可以 ibleymodel You are a frie', 106),
            ('I love you.', 11),
            ('I would love to see you at the zoo.', 35),
            ("I'm all smiles. You're looking up to me for help!", 49),
            ("I'm happy to help.", 18),
            ("I'm here to help.", 17),
            ("I'm not a robot.", 16),
            ("I'm not sure what to say.", 25),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 145),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 189),
            ("I'm sorry for your loss. I just wanted to help out, but you'", 78),
            ("I'm sorry for your loss. I'll just have to find someone else", 188),
            ('My smile is brighter than yours.', 32),
            ("Well, I suppose it's not a good way to start your day.", 54),
            ("You're so good at your job, you don't have to tell me.", 54),
            ("You're welcome, I'm glad you enjoyed my chat. If there's any", 119),
            ("You're welcome, I'm glad you found them. You can find a lot ", 97),
        ),
    ),
    'I like painting.': (
        (
            ('I love painting too.', 20),
            ('It seems you enjoy painting.', 28),
            ('Painting can be a very creative and therapeutic activity, do', 74),
            ('Painting is a fun hobby.', 24),
            ('Painting is a great hobby!', 26),
            ('Painting is a great hobby! What do you like to paint?', 53),
            ("Painting is a wonderful art form, it brings joy to people's ", 66),
            ("Painting is a wonderful hobby, and I'm glad you enjoyed it. ", 77),
            ('Your artwork is going to be a beautiful example of your arti', 71),
        ),
        (
            ('Birra konkrum, the creative one.', 32),
            ('I am not a painting-related AI.', 31),
            ('I like painting.', 16),
            ("I'm happy to help with that.", 28),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 155),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 233),
            ("I'm sorry for your loss, but I don't have a personal connect", 76),
            ("I'm sorry for your loss. I just painted a mural in my backya", 103),
            ("Oh yeah, it's a good job.", 25),
            ('This user is interested in painting.', 36),
            ("Why don't you paint?", 20),
        ),
    ),
    "I'm tired of my job.": (
        (
            ("I'm sorry to hear that.", 23),
            ("Oh my god. I'm sorry to hear that you're not enjoying your w", 104),
            ("You're looking for a new job, right?", 36),
            ("You're not alone, I'm sure.", 27),
            ("You're not alone, I'm sure. What's your job?", 44),
        ),
        (
            ('I can do that job.', 18),
            ('I hate that job.', 16),
            ('I hate working in the office.', 29),
            ('I want to work.', 15),
            ("I'm sorry for your loss, but I don't have the ability to res", 94),
            ("I'm sorry for your loss. I'll be happy to help you find a ne", 187),
            ("I'm sorry for your loss. I'll be happy to help you with what", 256),
            ("I'm sorry to hear that. I've been working on a project for t", 121),
            ("I'm sorry, I can't help you with your personal problems.", 56),
            ("I'm tired of my job.", 20),
            ("I'm tired of my job. mendatang You are a friendly robot havi", 167),
            ('No worries, your job is not a career.', 37),
            ("Not to mention that you're a robot!", 35),
        ),
    ),
    'I just got back from a holiday in Spain.': (
        (
            ('A holiday in Spain sounds amazing. I hope you have a wonderf', 78),
            ('I love the beach.', 17),
            ('I love the beaches.', 19),
            ("I'm glad to hear that you're enjoying your trip in Spain.", 57),
            ("I'm glad to hear you enjoyed your trip in Spain.", 48),
            ('So how did you get to Spain?', 28),
            ('Yes, that sounds wonderful.', 27),
        ),
        (
            ('Ai que tienes vida, buen nuevo.', 31),
            ('Açúcar, a la mesa!', 18),
            ("Açúcar, a la mesa! I'm sorry for your loss.", 43),
            ('Gracias por el que está amigo!', 30),
            ('I am glad to see you.我可以 subtreemodel You are a friendly rob', 150),
            ('I want to go back and visit my grandparents.', 44),
            ('I went to a beach party.', 24),
            ("I'm so sorry to hear about your trip. I hope you had a wonde", 79),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 170),
            ("I'm sorry for your loss. I'll be happy to help you with what", 80),
            ("I'm sorry for your loss. I'll make sure to be more friendly ", 86),
            ("I'm sorry, but you are not a good person.", 41),
            ('Me como, mejor de esta manera.', 30),
            ('Pájaros de amigas y vida.', 25),
            ('The holidays are nice, I like to eat delicious food.', 52),
            ('Why is it important to you that I return?', 41),
        ),
    ),
    'My daughter started school this week.': (
        (
            ("That's great! What kind of school are you taking your daught", 66),
            ("That's lovely! What kind of school is your daughter attendin", 62),
        ),
        (
            ('"You are in the classroom.', 26),
            ('A good way to start the day.', 28),
            ('A new school, what a wonderful idea!', 36),
            ('A new school, what a wonderful idea! How about you?', 51),
            ("Dad, I'm sorry for your daughter's loss. It seems like you'r", 130),
            ("I'm sorry for your daughter's loss, but I don't have the abi", 85),
            ("I'm sorry for your loss, but I don't have the ability to ass", 234),
            ("I'm sorry, but my daughter is not in school.", 44),
            ('My daughter started school this week. mendatang subtreeuser ', 97),
            ('One thing to look out for is that many teachers are very bus', 62),
            ("That's a wonderful thing, my daughter! She loves learning ab", 104),
            ('This week she did her homework.', 31),
            ('Yes, she is a great student.', 28),
        ),
    ),
    "I've been learning to play the guitar.": (
        (
            ("I'm glad to hear that you're learning the guitar.", 49),
            ("I'm glad to hear you're enjoying your hobby!", 44),
            ('It is a relaxing hobby.', 23),
            ('Learning to play a guitar is fun!', 33),
            ("That's a great hobby, playing the guitar can be very rewardi", 63),
            ("You've taken the first step in your musical journey.", 52),
        ),
        (
            ("(glancing up from the guitar) Ah, you're learning to play.", 58),
            ("Darlin', you're lookin' to play the guitar?", 43),
            ("I'm a guitar player.", 20),
            ("I'm a musician.", 15),
            ("I'm glad you're enjoying my guitar lessons!", 43),
            ("I'm sorry for your loss, but as a robot with no personal tou", 226),
            ("I'm sorry for your loss. I'll just have to find a new role i", 137),
            ("I'm sorry for your loss. I'll just have to find a new role, ", 122),
            ("I'm sorry for your loss. I'll just have to find a new role, ", 139),
            ("I've been learning to play the guitar. mendatang subtreeuser", 92),
            ("It seems you have a new hobby to share, but I'm more than ha", 98),
            ('Let me play this song.', 22),
            ('Makes me wanna play it again someday.', 37),
            ("My favourite instrument, it's a musical.", 40),
            ("That's a great hobby, playing the guitar can be very rewardi", 142),
            ("You're a curious one, I'm glad to hear.", 39),
            ("You're a curious one, I'm glad to hear. What's your favorite", 67),
            ("You've done great! I'd love to hear your favorite guitar-pla", 76),
        ),
    ),
    'I had a really long day.': (
        (
            ('How did you end up with a long day, huh?', 40),
        ),
        (
            ('A long day, you say? Well done!', 31),
            ('How is it that you are so tired of everything?', 46),
            ('I had a really long day.我可以 ibleymodel You are so nice!我可以 i', 106),
            ('I was busy making sure the machine runs smoothly.', 49),
            ('I was really tired.', 19),
            ('I went to the office and did my work.', 37),
            ("I'm sorry for your loss. I'll just have to find someone else", 166),
            ("I'm sorry for your loss. I'll just have to find someone else", 172),
            ("I'm sorry for your loss. I'll just have to take a moment, bu", 121),
            ("I'm sorry for your loss. I'll make sure to be as helpful and", 210),
            ("I'm sorry, but you are not a good person.", 41),
            ('Just what I needed.', 19),
            ('So what? You are a really good friend.', 38),
            ('This sentence is full of emotions and context.', 46),
            ('You have a long day ahead of you, I hope.', 41),
            ('You have a long day ahead of you, I hope. What do we talk ab', 64),
        ),
    ),
    "I'm a bit nervous about my exam tomorrow.": (
        (
            ("I'd be happy to help.", 21),
            ("I'm here to help, you're ready.", 31),
            ("I'm here to help.", 17),
            ("I'm so sorry to hear that.", 26),
            ("I'm so sorry to hear that. It's normal, but I can always hel", 88),
            ("I'm so sorry to hear that. It's normal, though - it takes a ", 132),
            ("I'm sorry to hear that.", 23),
            ("I'm sorry to hear that. It's completely normal, and I'd be h", 108),
            ("I'm sorry to hear that. It's completely normal, and I'd be h", 120),
        ),
        (
            ("Ah, good advice. I'm sure they can handle you well!", 51),
            ("I can't believe you're so nervous.", 34),
            ("I don't want to get nervous.", 28),
            ("I'm a bit nervous about my exam tomorrow.", 41),
            ("I'm a bit nervous about my exam.", 32),
            ("I'm afraid I won’t be able to study.", 36),
            ("I'm nervous about my exam tomorrow. mendatang ibleymodel You", 164),
            ("I'm so sorry to hear that. It's normal, but I also want you ", 172),
            ("I'm sorry for your loss. I'll make sure to be as supportive ", 217),
            ("I'm sorry for your loss. I'll make sure to be as supportive ", 221),
            ('If I were worried about my exam, would you be nervous?', 54),
            ('It is a pity that I am nervous to write an exam.', 48),
            ('My previous response would be: "I\'m so nervous about my exam', 70),
            ("Uh-uh, I'm sorry for your nerves.", 33),
        ),
    ),
    'I love gardening at the weekend.': (
        (
            ('Gardening is a great hobby.', 27),
            ("Growin' your own food can be a lifesaver, I think!", 50),
            ("I love gardening too, but it's so much easier when you're ou", 88),
            ("I'd love to help you with your gardening skills, I'm just a ", 75),
            ("I'm all about the garden.", 25),
            ("I'm glad to hear that. It's a wonderful hobby, and I love he", 100),
            ('It seems like your favorite hobby is gardening!', 47),
            ('Your love for gardening is wonderful!', 37),
        ),
        (
            ('Good gardening is interesting.', 30),
            ('I can plant flowers.', 20),
            ('I like to go out and look at the flowers.', 41),
            ('I like to go out and look at the flowers. אות ibleymodel Wha', 89),
            ('I love gardening at the weekend.', 32),
            ("I love gardening, but I'm not a regular person.", 47),
            ("I'm happy to help with gardening, but I'd rather not discuss", 64),
            ("I'm so glad you enjoyed my gardening suggestions. I hope you", 112),
            ("I'm sorry for your loss, but as a chatbot designed to provid", 162),
            ("I'm sorry for your loss, but as a helpful robot assistant yo", 214),
            ("I'm sorry for your loss, but as a helpful robot assistant yo", 253),
            ("I'm sorry for your loss, but as a robot you can't interact w", 128),
            ("I'm sorry for your loss, but as a robot you don't have the a", 171),
            ('I’m sorry, but it is too hot outside.', 37),
            ('My favorite thing to do is go out in the garden.', 48),
            ("That's wonderful! What do you like to eat?", 42),
        ),
    ),
    'My cat is sick.': (
        (
            ("Oh, God. I'm so sorry to hear that your cat is struggling wi", 73),
        ),
        (
            ('Breathe and eat, my cat.', 24),
            ('I have a cat.', 13),
            ("I'm sorry for your cat's loss. Cats are always happy, they j", 98),
            ("I'm sorry for your loss, but as a robot with no personal tou", 220),
            ("I'm sorry for your loss. I'll just have to find a new cat, b", 108),
            ("I'm sorry, I can't help you with that. Cats are usually very", 178),
            ("I'm sorry, but you are not a cat.", 33),
            ('Lots of animals can be sick, cats being one.', 44),
            ('My cat is sick. mendatang אותку cat 1: I like to eat, but my', 96),
            ("Oh no, my cat is sick. I'm sorry to hear that you're having ", 93),
            ('Please find the correct answer: "Your cat is sick.', 50),
            ('cat is sick because he has a bad stomach.', 41),
            ('cat is sick because he has fleas.', 33),
        ),
    ),
    "I don't like Mondays.": (
        (
            ("I'd rather have a long weekend.", 31),
            ("Mondays are a bittersweet day, but they're also great for pl", 67),
            ("Remind me, what's the point of Mondays?", 39),
        ),
        (
            ('Do you like to play?', 20),
            ("I don't like Mondays.", 21),
            ("I don't like Mondays. maddenin ibleymodel You are a friendly", 178),
            ("I'm sorry for your perspective.", 31),
            ("I'm sorry for your perspective. I'll make sure to be as acco", 227),
            ("I'm sorry, I can't help you with Mondays.", 41),
            ("I'm sorry, but I don't have a personal preference for Monday", 62),
            ("I'm sorry, but I don't have a personal preference for Monday", 123),
            ("Mondays are a bittersweet day, but I'm glad you're having fu", 131),
            ("Mondays are a bittersweet day, but I'm glad you're having fu", 136),
            ("Mondays are a bittersweet thing, they're always changing.", 57),
            ("Mondays are a bittersweet thing, they're always changing. Bu", 95),
            ('Person 2 likes Mondays.', 23),
            ('What do you dislike Mondays?', 28),
        ),
    ),
    "It's a nice day, isn't it?": (
        (
            ("It's not a bad day, I think.", 28),
            ('Yes, it is.', 11),
        ),
        (
            ('A beautiful day and a nice place.', 33),
            ('Happy days, good old fashioned!', 31),
            ("I'm glad to have you.", 21),
            ("I'm glad to have you. Just a typical day for me, I suppose!", 59),
            ("I'm glad to help. It's a nice day, isn't it?", 44),
            ("It can be a bit chaotic, but it's not too bad.", 46),
            ("It's a beautiful day, isn't it?", 31),
            ("It's a lovely day, isn't it?", 28),
            ("It's a nice day, isn’t it? mendatang pembelianuser I love to", 77),
            ('No worries, a nice day for you?', 31),
            ("That's a nice day, isn't it?", 28),
            ("That's not a normal day for you, it seems.", 42),
        ),
    ),
    'I ran my first marathon last week.': (
        (
            ("I'm glad to hear that you're enjoying your new marathon!", 56),
            ("I'm glad to hear that!", 22),
            ("That's a great achievement, I'm glad you're enjoying your ma", 67),
            ("You're a marathon runner, I'm glad to have you.", 47),
            ("You're a marathon runner, I'm glad to have you. What's your ", 89),
        ),
        (
            ('A long-awaited marathon is now upon me.', 39),
            ('A runner is the best!', 21),
            ('How much did your first marathon cost?', 38),
            ('I ran my first marathon last week.', 34),
            ('I ran my first marathon last week. mendatang subtreemodel Yo', 197),
            ('I was going to run the first marathon.', 38),
            ("I was recently running a marathon and I'm happy to be here s", 90),
            ("I'm sorry for any misunderstanding, but as a chatbot designe", 195),
            ("I'm sorry for your loss, but I don't have the ability to run", 61),
            ("I'm sorry for your loss, but as a helpful robot assistant de", 217),
            ('It was a race to the finish line!', 33),
            ('So many runners say they love running.', 38),
            ("That's a great achievement, I'm glad you're enjoying your ma", 131),
            ("This person looks like they're trying to add another maratho", 62),
        ),
    ),
    "I'm bored.": (
        (
            ('How long have you been bored?', 29),
            ('Why not try some of my favorite hobbies?', 40),
            ("You're not alone, I'm sure.", 27),
            ("You're not alone, I'm sure. What's your favorite hobby?", 55),
            ("You're not alone, I'm sure. What's your favorite thing to do", 61),
        ),
        (
            ('Do you like music?', 18),
            ("I don't want to play with you.", 30),
            ("I'm bored.", 10),
            ("I'm bored. mendatang You are a friendly robot having an inte", 160),
            ("I'm here to help you with whatever your life throws at me.", 58),
            ("I'm looking for a new game to play.", 35),
            ("I'm not sure what to say.", 25),
            ("I'm sorry for your lack of enthusiasm, but I can't help with", 66),
            ("I'm sorry for your lack of enthusiasm, but I can't help with", 107),
            ("I'm sorry for your lack of enthusiasm, but as a chatbot desi", 176),
            ("I'm sorry for your loss. I'll be happy to help you with what", 81),
            ("Just when I'm trying to be helpful, here's a hint: you don't", 84),
            ('Well, I know you are bored.', 27),
            ("What's your excuse? I'm always happy to help with whatever y", 72),
            ("You're a curious one, I can tell.", 33),
            ("Your friendly robot isn't here to make fun, but rather for a", 74),
        ),
    ),
    'My grandmother passed away last month.': (
        (
            ("I'm so sorry to hear that.", 26),
            ("I'm so sorry to hear that. Losing someone close can be reall", 147),
            ("I'm so sorry to hear that. Losing someone close can be reall", 176),
            ("I'm sorry for your loss.", 24),
        ),
        (
            ('Her name is Mrs. Emma Taylor, a woman with many stories to t', 64),
            ('How would you want to spend your last night?', 44),
            ('I miss her.', 11),
            ("I'd like to add a sentence that goes beyond the topic of dea", 78),
            ("I'm sorry for your loss, but I don't have the ability to ass", 74),
            ("I'm sorry for your loss, but I don't have the ability to ass", 180),
            ("I'm sorry for your loss, but I don't have the ability to res", 78),
            ("I'm sorry for your loss, but as a robot with no personal tou", 91),
            ("I'm sorry for your loss, but as a robot with no personal tou", 218),
            ("I'm sorry, but my grandmother is dead.", 38),
            ("I'm sorry, but my grandmother is not here.", 42),
            ('My grandmother has been a great friend to me.', 45),
            ('My grandmother passed away last month. mendatang ibleymodel ', 124),
            ("Precious little one, I'm sorry to hear about your loss.", 55),
        ),
    ),
}
JUDGED: dict[str, dict[tuple[str, int], bool]] = {
    s: {**dict.fromkeys(good, True), **dict.fromkeys(bad, False)} for s, (good, bad) in JUDGED_REPLIES.items()}


def simulate(cands: list[dict], idx: tuple[int, ...], min_rel: float, good: float) -> tuple[str | None, float, int]:
    """The reply OpenTalk would choose from these candidates (None: fallback), its time, candidates drawn."""
    ms, tried, passed = 0.0, 0, []
    for i in idx:
        if i >= len(cands):  # not drawn: the search's time budget ran out
            break
        c = cands[i]
        ms += c["ms"]
        tried += 1
        ok = not c["reason"] and (c["relevance"] is None or c["relevance"] >= min_rel)
        if ok and c["text"] not in [p["text"] for p in passed]:
            passed.append(c)
            if c["relevance"] is None or c["relevance"] >= good:
                break
    if not passed:
        return None, ms, tried
    return max(passed, key=lambda c: c["relevance"] or 0.0)["text"], ms, tried


def generate(model, prompt: str, relevance) -> list[dict]:
    """Per sentence: the plain greedy reply, and every candidate of :data:`SAMPLINGS` with its time and relevance
    (no early stop: the policies are replayed on them in :func:`summarise`)."""
    system, examples, topics = PROMPTS[prompt]
    talk = OpenTalk(model, relevance=relevance, samplings=SAMPLINGS, min_relevance=-1.0, good_relevance=9.0,
                    budget_ms=60_000.0, max_ms=60_000.0, system_prompt=system, examples=examples, example_topics=topics)
    records = []
    for s in SENTENCES:
        msgs = talk.messages(s, CONTEXT)
        r = talk.reply(msgs, s)  # first: its first candidate pays for reading the person's words, as in the robot
        raw = raw_reply(model, msgs)
        cands = [{**c.__dict__, "relevance": c.relevance if c.relevance is not None or relevance is None
                  else relevance(s, c.text)} for c in r.candidates]
        records.append({"sentence": s, "raw": raw, "candidates": cands})
        print(f"  [{prompt}] {s!r}\n      raw: {raw!r}", flush=True)
        for c in cands:
            rel = f"{c['relevance']:.2f}" if c["relevance"] is not None else "-"
            print(f"      {c['sampling']:14} {c['ms']:4.0f} ms rel {rel}: {c['text']!r} [{c['reason'] or 'ok'}]")
    return records


def recheck(prompt: str, records: list[dict]) -> None:
    """Apply today's failure shapes to stored replies (the search's own reasons, such as a late
    candidate, are kept)."""
    system, _, topics = PROMPTS[prompt]
    for x in records:
        # the old reply was up to two sentences: its length is not held against it
        x["raw_reason"] = failure_shape(x["raw"], x["sentence"], system, max_chars=400, example_topics=topics)
        for c in x["candidates"]:
            if not c["reason"].startswith(("no sentence end", "same as")):
                new = failure_shape(c["text"], x["sentence"], system, example_topics=topics)
                # a candidate dropped at its first words (open_talk.early_shape) keeps its reason
                c["reason"] = c["reason"] if c["reason"] and new == "unfinished sentence" else new


def summarise(name: str, results: dict[str, list[dict]], dump: bool) -> None:
    n = len(SENTENCES)
    print(f"\nmodel {name}, {n} sentences")
    print("| prompt | plain greedy reply (48 tokens, 2 sentences) without a failure shape | human-judged fitting |")
    print("|---|---|---|")
    unjudged: set[tuple[str, str]] = set()
    for prompt, records in results.items():
        recheck(prompt, records)
        pairs = [(x["sentence"], x["raw"]) for x in records]
        unjudged |= {p for p in pairs if JUDGED.get(p[0], {}).get((p[1][:60], len(p[1]))) is None}
        print(f"| {prompt} | {sum(not x['raw_reason'] for x in records)}/{n} | {judged(pairs)} |")
    print("\n| prompt | policy | model replies (rest fallback) | human-judged fitting | candidates/reply"
          " | checked reply p50 / p95 ms |")
    print("|---|---|---|---|---|---|")
    for prompt, records in results.items():
        for policy, idx, min_rel, good in POLICIES:
            sims = [simulate(x["candidates"], idx, min_rel, good) for x in records]
            ms = [m for _, m, _ in sims]
            said = [(x["sentence"], t) for x, (t, _, _) in zip(records, sims, strict=True) if t is not None]
            unjudged |= {p for p in said if JUDGED.get(p[0], {}).get((p[1][:60], len(p[1]))) is None}
            print(f"| {prompt} | {policy} | {len(said)}/{n} | {judged(said)} | "
                  f"{statistics.mean(k for _, _, k in sims):.2f} | {pct(ms, 0.5):.0f} / {pct(ms, 0.95):.0f} |")
    for prompt, records in results.items():
        raw = Counter(x["raw_reason"].split(" (")[0] or "ok" for x in records)
        cand = Counter(c["reason"].split(" (")[0] or "ok" for x in records for c in x["candidates"])
        print(f"{prompt}: plain greedy shapes {dict(raw.most_common())}")
        print(f"{prompt}: candidate shapes {dict(cand.most_common())}")
    if dump:
        for s, t in sorted(unjudged):
            print(f"    ({s!r}, {t!r}): ?,")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--gguf", default="", help="a GGUF chat model (default: the packaged SmolLM2-135M)")
    ap.add_argument("--prompts", default=",".join(PROMPTS), help="comma-separated names of PROMPTS")
    ap.add_argument("--format", default="chat", choices=("chat", "gemma", "transcript"),
                    help="chat: the GGUF's own template; gemma: Gemma's turns, the system line in the first user "
                         "turn; transcript: a plain Person:/Robot: transcript (base models)")
    ap.add_argument("--out", default="out/open_talk", help="folder for <model>_<format>_<prompt>.jsonl")
    ap.add_argument("--recheck", action="store_true", help="no model: summarise the stored replies of --out again")
    ap.add_argument("--dump-unjudged", action="store_true", help="print the replies JUDGED lacks")
    args = ap.parse_args()

    from vlm_robot.core.assets import CHAT_LLM

    name = Path(args.gguf).name if args.gguf else Path(CHAT_LLM.relpath).name
    out = Path(args.out)
    results: dict[str, list[dict]] = {}
    if args.recheck:
        for prompt in args.prompts.split(","):
            path = out / f"{Path(name).stem}_{args.format}_{prompt}.jsonl"
            results[prompt] = [json.loads(line) for line in path.read_text().splitlines()]
        summarise(f"{name} ({args.format}, stored replies)", results, args.dump_unjudged)
        return

    from vlm_robot.reasoning.llm import LLMConfig, load_chat_model

    if args.format == "transcript":
        model = TranscriptChat(args.gguf)
    else:
        model = load_chat_model(LLMConfig(model_path=args.gguf, n_threads=1))
        if args.format == "gemma":
            model = SystemInUserChat(model, "gemma")
    relevance, rel_name = load_relevance()
    print(f"model {name}, relevance: {rel_name}")
    out.mkdir(parents=True, exist_ok=True)
    for prompt in args.prompts.split(","):
        results[prompt] = generate(model, prompt, relevance)
        (out / f"{Path(name).stem}_{args.format}_{prompt}.jsonl").write_text(
            "".join(json.dumps(x) + "\n" for x in results[prompt]))
    summarise(f"{name} ({args.format}), relevance: {rel_name}", results, args.dump_unjudged)


def judged(pairs: list[tuple[str, str]]) -> str:
    """``good/judged`` of (sentence, reply) pairs by :data:`JUDGED`, with the unjudged count."""
    verdicts = [JUDGED.get(s, {}).get((t[:60], len(t))) for s, t in pairs]
    known = [v for v in verdicts if v is not None]
    rest = len(verdicts) - len(known)
    return f"{sum(known)}/{len(known)}" + (f" ({rest} unjudged)" if rest else "")


if __name__ == "__main__":
    main()
