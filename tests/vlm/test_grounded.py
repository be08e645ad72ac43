"""The grounded VLM backend on rendered frames of the demo scene, with the real packaged models.

Frames: the demo room at 5.0 s (only the astronaut, on the left, smiling), at 12.0 s (the astronaut
and the sad LFW visitor on the right), at 0.5 s (nobody), and a clip 9.0-12.0 s in which the visitor
arrives at 11.0 s. Each answer is checked for what a person would judge correct about the picture,
and every entity token it cites must resolve to a box that contains that person's face.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.core.types import Frame
from vlm_robot.sim.scene import Scene
from vlm_robot.vlm.base import VLMConfig, make_backend
from vlm_robot.vlm.grounded import GroundedVLM, NotLoadedError, parse_question

TOKEN = re.compile(r"<person\d+>")
OBJECT_WORDS = ("cup", "table", "door", "window", "chair", "dog", "phone", "bottle", "book")


@pytest.fixture(scope="module")
def vlm(perceiver, chat_model) -> GroundedVLM:
    backend = GroundedVLM(VLMConfig(backend="grounded", max_new_tokens=24), perceiver=perceiver, chat=chat_model)
    backend.load()  # both models are shared: nothing more to load
    return backend


@pytest.fixture(scope="module")
def scene(demo_scene) -> Scene:
    return demo_scene


def frames_at(scene: Scene, *times: float) -> list[Frame]:
    return [Frame(scene.render(t), t, seq=i) for i, t in enumerate(times)]


@pytest.fixture(scope="module")
def alone(scene):
    return frames_at(scene, 5.0)


@pytest.fixture(scope="module")
def both(scene):
    return frames_at(scene, 12.0)


@pytest.fixture(scope="module")
def empty(scene):
    return frames_at(scene, 0.5)


@pytest.fixture(scope="module")
def arrival_clip(scene):
    return frames_at(scene, 9.0, 9.5, 10.0, 10.5, 11.0, 11.5, 12.0)


def face_centre(scene: Scene, name: str, t: float) -> tuple[int, int]:
    return next(p for p in scene.people if p.name == name).position(t)


def ask(vlm: GroundedVLM, question: str, frames: list[Frame], scene: Scene | None = None) -> str:
    """Ask; check that each cited token names an entity whose box holds one of the scene's faces."""
    a = vlm.answer(question, frames)
    assert a.backend == "grounded" and "SmolLM2" in a.model and a.text
    t = frames[-1].stamp
    for token in TOKEN.findall(a.text):
        assert token in a.entities, f"{token} cited in {a.text!r} but not among {sorted(a.entities)}"
        if scene is not None:
            x, y, w, h = a.entities[token]["box"]
            assert any(x <= cx <= x + w and y <= cy <= y + h
                       for cx, cy in (p.position(t) for p in scene.visible(t))), (token, a.entities[token])
    return a.text


# --- questions a person can check against the picture ---------------------------------------------

def test_counts_people(vlm, scene, alone, both, empty):
    assert ask(vlm, "How many people are there?", alone, scene) == "One person: <person1> on the left looks happy."
    text = ask(vlm, "How many people do you see?", both, scene)
    assert text.startswith("Two people:")
    assert "<person1> on the left looks happy" in text and "<person2> on the right looks sad" in text
    assert ask(vlm, "Is anyone there?", empty) == "No, I don't see anyone."
    assert ask(vlm, "Is anybody here?", both, scene).startswith("Yes, two people")


def test_moods(vlm, scene, alone, both):
    text = ask(vlm, "How does everyone look?", both, scene)
    assert re.fullmatch(r"<person1> looks happy \(\d\.\d\d\); <person2> looks sad \(\d\.\d\d\)\.", text), text
    text = ask(vlm, "Does anyone look sad?", both, scene)
    assert text.startswith("Yes: <person2> on the right looks sad"), text
    assert "<person1> on the left looks happy" in text  # and does not call the astronaut sad
    assert ask(vlm, "Is anyone upset?", both, scene).startswith("Yes: <person2>")
    assert ask(vlm, "Does anyone look sad?", alone, scene) == "No, nobody looks sad: <person1> on the left looks happy."
    assert ask(vlm, "Is person 2 happy?", both, scene).startswith("No, <person2> looks sad")
    assert ask(vlm, "Is the person on the left smiling?", both, scene).startswith("Yes, <person1> looks happy")


def test_positions_and_distance(vlm, scene, both):
    assert ask(vlm, "Who is on the right?", both, scene) == "<person2> is on the right."
    assert ask(vlm, "Where is the sad one?", both, scene) == "<person2> is on the right, about 0.9 m away."
    assert ask(vlm, "Who is in the middle?", both, scene).startswith("Nobody is in the centre")
    text = ask(vlm, "Where is everyone?", both, scene)
    assert "<person1> is on the left" in text and "<person2> is on the right" in text
    assert "about equally close" in ask(vlm, "Who is closest to you?", both, scene)  # same face size


def test_who_faces_the_robot(vlm, scene, both):
    assert ask(vlm, "Who is looking at you?", both, scene) == "<person1> and <person2> are facing me."
    assert ask(vlm, "Is the person on the right looking at me?", both, scene).startswith("Yes, <person2> is facing me")


def test_says_what_it_cannot_see(vlm, scene, both, empty):
    assert ask(vlm, "What is she holding?", both, scene).startswith("I can't tell what they are holding")
    assert ask(vlm, "What is person 1 holding?", both, scene).startswith("I can't tell what <person1> is holding")
    assert ask(vlm, "Is there a cup on the table?", both, scene).startswith("I don't see a cup")
    assert ask(vlm, "Do you see a dog?", both, scene).startswith("I don't see a dog")
    assert ask(vlm, "How many cups are there?", both, scene).startswith("I don't see any cups")
    assert ask(vlm, "What objects do you see?", both, scene).startswith("I don't see any objects I can name")
    assert ask(vlm, "Is person 3 sad?", both, scene).startswith("I don't see person3")
    assert ask(vlm, "Who looks happy?", empty) == "I don't see anyone."
    assert re.fullmatch(r"I can.t tell why; I can only see that <person2> looks sad \(0\.\d\d\)\.",
                        ask(vlm, "Why is the person on the right sad?", both, scene))


def test_describe_mentions_only_what_it_saw(vlm, scene, both, empty):
    text = ask(vlm, "Describe what you see.", both, scene)
    assert text.startswith("I see two people.")
    assert "<person1> on the left" in text and "looks happy" in text
    assert "<person2> on the right" in text and "looks sad" in text
    assert not any(w in text.lower() for w in OBJECT_WORDS)
    assert ask(vlm, "What do you see?", empty) == "I don't see anyone."


def test_entities_carry_boxes_for_intents(vlm, scene, both):
    a = vlm.answer("Who is here?", both)
    assert sorted(a.entities) == ["<person1>", "<person2>"]
    p1, p2 = a.entities["<person1>"], a.entities["<person2>"]
    assert (p1["kind"], p1["side"], p1["expression"], p1["looking_at_robot"]) == ("person", "left", "happy", True)
    assert (p2["side"], p2["expression"]) == ("right", "sad")
    for token, name in (("<person1>", "astronaut"), ("<person2>", "visitor")):
        x, y, w, h = a.entities[token]["box"]
        cx, cy = face_centre(scene, name, 12.0)
        assert x <= cx <= x + w and y <= cy <= y + h
    assert vlm.last_entities == a.entities  # a streamed answer carries them too (VLMService reads this)
    sentence = vlm.last_observation.sentence
    assert sentence.startswith("<person1> on the left, about 0.9 m away, facing the robot, looks happy")
    assert "<person2> on the right" in sentence


# --- video: what changed over a clip ---------------------------------------------------------------

def test_clip_mentions_who_arrived(vlm, scene, arrival_clip):
    assert ask(vlm, "Did anyone arrive?", arrival_clip, scene) == "Yes, <person2> on the right appeared 1.0 s ago."
    text = ask(vlm, "Describe what you see.", arrival_clip, scene)
    assert "<person1> on the left" in text and "there for at least 3.0 s" in text
    assert "<person2> on the right" in text and "appeared 1.0 s ago" in text
    assert ask(vlm, "Has anyone left?", arrival_clip, scene) == "No, nobody left in the last 3.0 s."
    assert "I have only one frame" in ask(vlm, "What changed?", arrival_clip[-1:], scene)


def test_clip_mentions_a_change_of_expression_and_a_departure(vlm):
    # the smiling astronaut is replaced in the same place by the sad LFW face; a third person leaves
    doc = {"name": "swap", "duration_s": 4, "fps": 4, "size": [640, 480], "people": [
        {"name": "smiling", "face": "astronaut", "enter_s": 0, "leave_s": 2.0, "center": [200, 200], "face_px": 110},
        {"name": "sad", "face": "lfw:6", "enter_s": 2.0, "center": [200, 200], "face_px": 110},
        {"name": "leaver", "face": "astronaut", "enter_s": 0, "leave_s": 1.5, "center": [480, 200], "face_px": 100},
    ]}
    swap = Scene.from_dict(doc)
    clip = frames_at(swap, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0)
    text = ask(vlm, "What changed?", clip, swap)
    assert "<person1> looked happy and now looks sad" in text, text
    assert "someone who was on the right has left (last seen 2.0 s ago)" in text, text
    assert "looked happy at first" in vlm.last_observation.sentence
    left = ask(vlm, "Has anyone left?", clip, swap)
    assert left == "Yes, someone who was on the right has left (last seen 2.0 s ago)."


# --- open questions go to the chat model -------------------------------------------------------------

def test_open_question_streams_from_the_chat_model(vlm, both):
    pieces = list(vlm.stream("What should I cook for dinner tonight?", both))
    assert vlm.last_query.kind == "open"
    assert len(pieces) >= 2 and "".join(pieces).strip()  # streamed token by token
    assert sorted(vlm.last_entities) == ["<person1>", "<person2>"]


def test_deterministic_answers_stream_in_pieces(vlm, both):
    pieces = list(vlm.stream("How does everyone look?", both))
    assert len(pieces) == 2 and pieces[0].startswith("<person1> looks happy (") and pieces[0].endswith("); ")
    assert "".join(pieces) == vlm.answer("How does everyone look?", both).text


# --- cost, parser, errors ------------------------------------------------------------------------------

def test_perception_is_cached_and_clips_are_bounded(vlm, scene, both):
    vlm.answer("How many people are there?", both)
    assert vlm.observe(both).perception_ms == 0.0  # the same frame again costs nothing
    long_clip = frames_at(scene, *[12.0 + i / 8 for i in range(20)])
    obs = vlm.observe(long_clip)
    assert len(obs.stamps) == vlm.options["max_frames"] == 8
    assert obs.stamps[0] == 12.0 and obs.stamps[-1] == long_clip[-1].stamp


@pytest.mark.parametrize(("question", "kind"), [
    ("How many people are there?", "count"), ("Is anybody there?", "count"), ("Am I alone?", "count"),
    ("Who is here?", "who"), ("How does everyone look?", "mood"), ("How is he feeling?", "mood"),
    ("Does anyone look sad?", "mood_query"), ("Who is smiling?", "mood_query"), ("Is she upset?", "mood_query"),
    ("Who is looking at you?", "looking"), ("Is anyone facing the robot?", "looking"),
    ("Where is person 2?", "where"), ("Who is on the left?", "where"), ("Who is closest?", "distance"),
    ("How far away is she?", "distance"), ("What is he holding?", "holding"), ("What's in her hand?", "holding"),
    ("What objects do you see?", "objects"), ("Is there a cup?", "thing"), ("Can you see my keys?", "thing"),
    ("Describe what you see.", "describe"), ("What's going on?", "describe"), ("Who just arrived?", "changes"),
    ("Has anyone left?", "changes"), ("How long has she been there?", "changes"),
    ("Tell me about the person on the left", "person"), ("What is the capital of France?", "open"),
    ("Why does she look sad?", "why"), ("Why are you here?", "open"),
    ("Can you help me find the charging station?", "open"),
])
def test_question_parser(question, kind):
    assert parse_question(question).kind == kind


def test_parser_references():
    assert parse_question("Is person 2 happy?").target == "<person2>"
    assert parse_question("Is person two happy?").target == "<person2>"
    assert parse_question("Is the man on the right sad?").target == "side:right"
    assert parse_question("Where is the sad one?").target == "mood:sad"
    assert parse_question("Who is on the left?").side == "left"
    assert parse_question("Is anyone upset?").moods == {"sad", "angry", "fear", "disgust"}


def test_errors_say_what_to_do(perceiver, both):
    with pytest.raises(NotLoadedError, match="call load"):
        list(GroundedVLM(VLMConfig()).stream("Who is here?", both))
    loaded = GroundedVLM(VLMConfig(), perceiver=perceiver, chat=object())
    with pytest.raises(InvalidInputError, match="at least one Frame"):
        loaded.answer("Who is here?", [])
    with pytest.raises(InvalidInputError, match=r"\(H, W, 3\) uint8"):
        loaded.answer("Who is here?", [Frame(np.zeros((4, 4), np.float32), 0.0)])
    with pytest.raises(InvalidInputError, match="question is empty"):
        loaded.answer("  ", both)
    with pytest.raises(ConfigError, match="unknown option"):
        GroundedVLM(VLMConfig(extra={"max_frame": 4}))
    with pytest.raises(ConfigError, match="max_frames"):
        GroundedVLM(VLMConfig(extra={"max_frames": 0}))


def test_registry_builds_without_loading():
    backend = make_backend(VLMConfig(backend="grounded"))
    assert isinstance(backend, GroundedVLM) and backend.name == "grounded"
    assert backend.model_name == "grounded (not loaded)"
