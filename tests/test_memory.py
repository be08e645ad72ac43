"""Re-identification, per-person memory (bounds, persistence, a corrupt file) and the prompt built from them."""

import json

import cv2
import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import EXPRESSIONS, Face, PerceptionResult, PersonState, Transcript
from vlm_robot.nodes import messages
from vlm_robot.perception.reid import DESCRIPTOR_LEN, descriptor_distance, face_descriptor
from vlm_robot.reasoning.dialogue import DialogueManager, describe_scene, recall_answer
from vlm_robot.reasoning.memory import Memory, MemoryConfig, PersonMemory, extract_facts
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig


class Clock:
    def __init__(self, t: float = 1000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def unit(seed: int) -> tuple[float, ...]:
    v = np.random.default_rng(seed).random(DESCRIPTOR_LEN)
    return tuple(float(x) for x in v / np.linalg.norm(v))


def face(x: float, desc: tuple[float, ...], mood: str = "neutral") -> Face:
    probs = [0.1 / 6] * 7
    probs[EXPRESSIONS.index(mood)] = 0.9
    return Face((x, 100, 80, 80), 0.9, (), mood, tuple(probs), 1.0, desc)


def see(tracker_or_reasoner, t: float, *faces: Face):
    r = PerceptionResult(t, "cam", 640, 480, tuple(faces))
    if isinstance(tracker_or_reasoner, PeopleTracker):
        return tracker_or_reasoner.update(r)
    return tracker_or_reasoner.on_perception(r)


# -- re-identification ------------------------------------------------------------------------------


def test_descriptor_tells_the_demo_faces_apart_and_knows_one_again(perceiver):
    from vlm_robot.core.types import Frame
    from vlm_robot.sim.scene import Scene

    def desc(face_name: str, px: int, centre: tuple[int, int]) -> tuple[float, ...]:
        doc = {"name": "r", "duration_s": 1, "fps": 1, "size": [640, 480], "people": [
            {"name": "p", "face": face_name, "enter_s": 0, "leave_s": 9, "center": list(centre), "face_px": px}]}
        faces = perceiver.process(Frame(Scene.from_dict(doc).render(0.5), 0.5)).faces
        assert len(faces) == 1 and len(faces[0].descriptor) == DESCRIPTOR_LEN
        return faces[0].descriptor

    astro_a, astro_b = desc("astronaut", 100, (190, 190)), desc("astronaut", 130, (420, 220))
    sad_a, sad_b = desc("lfw:6", 120, (470, 180)), desc("lfw:6", 140, (250, 200))
    same = max(descriptor_distance(astro_a, astro_b), descriptor_distance(sad_a, sad_b))
    other = min(descriptor_distance(a, b) for a in (astro_a, astro_b) for b in (sad_a, sad_b))
    assert same < 0.08 < other, (same, other)  # tracker.reid_max_distance sits between


def test_descriptor_is_unit_length_and_handles_flat_patches():
    gray = np.full((100, 100), 128, np.uint8)
    assert not face_descriptor(gray, (10, 10, 50, 50)).any()  # flat: no gradients, no direction
    cv2.circle(gray, (40, 40), 15, 255, -1)
    d = face_descriptor(gray, (10, 10, 60, 60))
    assert d.shape == (DESCRIPTOR_LEN,) and abs(float(np.linalg.norm(d)) - 1) < 1e-5
    assert descriptor_distance(d, []) == float("inf") and descriptor_distance(d, d) < 1e-6


def test_a_person_who_returns_after_leaving_gets_their_id_back():
    tr = PeopleTracker()
    alice, bob = unit(1), unit(2)
    see(tr, 0.0, face(100, alice))
    see(tr, 0.1, face(100, alice))
    [p] = see(tr, 10.0, face(400, bob))  # long after alice left, elsewhere: bob is new
    assert p.id == 2
    [p] = see(tr, 20.0, face(250, alice))  # alice comes back at another place
    assert p.id == 1 and tr.returned == [1]
    tr2 = PeopleTracker()
    see(tr2, 0.0, face(100, alice))
    [p] = see(tr2, 10.0, face(100, ()))  # no descriptor (an older perception node): a new person, as before
    assert p.id == 2


def test_returning_person_keeps_being_addressed_so_is_not_greeted_again():
    r = Reasoner(PeopleTracker(), ProactivePolicy(ProactiveConfig(linger_s=1.0, cooldown_s=0.0)), None)
    greets = []
    for i in range(30):
        greets += [d for d in see(r, i * 0.1, face(100, unit(1))).decisions if d.action == "greet"]
    assert len(greets) == 1
    for i in range(30):  # gone 7 s (> forget_after_s), back: known again, already addressed
        greets += [d for d in see(r, 10.0 + i * 0.1, face(300, unit(1))).decisions if d.action == "greet"]
    assert len(greets) == 1


def test_known_descriptors_are_bounded():
    tr = PeopleTracker(TrackerConfig(max_known=3))
    for i in range(6):
        see(tr, i * 10.0, face(100, unit(i)))
    assert len(tr.known) <= 4 and 6 in tr.known  # 3 out of view + the one in view


def test_people_payload_stays_compatible():
    f = face(100, unit(3))
    doc = messages.from_msg("people", messages.to_msg("people", PerceptionResult(1.0, "c", 640, 480, (f,)).to_dict()))
    assert len(doc["faces"][0]["descriptor"]) == DESCRIPTOR_LEN
    assert Face.from_dict(doc["faces"][0]).descriptor == pytest.approx(tuple(round(v, 3) for v in f.descriptor),
                                                                       abs=1e-6)  # float32 on the wire
    old = {"stamp": 1.0, "width": 640, "height": 480, "faces": [{"box": [1, 2, 3, 4], "score": 0.9}]}
    assert Face.from_dict(messages.from_msg("people", messages.to_msg("people", old))["faces"][0]).descriptor == ()
    assert "descriptor" not in face(1, ()).to_dict()


# -- memory -----------------------------------------------------------------------------------------


def test_facts_come_from_fixed_patterns():
    assert extract_facts("Hello, my name is alice.") == {"name": "Alice"}
    assert extract_facts("Call me Bob Smith please") == {"name": "Bob Smith"}
    assert extract_facts("I really like green tea.") == {"likes": "green tea"}
    assert extract_facts("My name is not important") == {}
    assert extract_facts("I am tired") == {}


def test_memory_is_bounded(tmp_path):
    clock = Clock()
    m = Memory(MemoryConfig(path=str(tmp_path / "m.json"), max_people=3, max_turns_per_person=2,
                            max_conversation_turns=4, max_facts_per_person=2), clock)
    for pid in range(1, 6):
        clock.t += 1
        m.saw(pid, "happy")
    assert list(m.people) == [3, 4, 5]  # the least recently seen went first
    for i in range(5):
        m.exchange(5, f"q{i}", f"a{i}")
    assert [t["user"] for t in m.people[5].turns] == ["q3", "q4"] and len(m.conversation) == 4
    m.heard(5, "my name is Eve")
    m.heard(5, "I like chess")
    m.heard(5, "call me Evie")
    assert m.people[5].facts == {"likes": "chess", "name": "Evie"}
    assert m.next_id() == 6


def test_memory_survives_a_round_trip_through_its_file(tmp_path):
    path = tmp_path / "state" / "memory.json"
    clock = Clock()
    m = Memory(MemoryConfig(path=str(path)), clock)
    m.saw(4, "sad", list(unit(4)))
    m.heard(4, "My name is Alice.")
    m.exchange(4, "My name is Alice.", "Nice to meet you.")
    m.addressed(4)
    assert m.save() and not m.save()  # written once; nothing new since
    assert json.loads(path.read_text())["schema"] == "vlm_robot/memory"
    assert not list(path.parent.glob("*.tmp*"))  # written through a temporary file, renamed
    m2 = Memory(MemoryConfig(path=str(path)), clock)
    assert m2.load()
    p = m2.people[4]
    assert p.name == "Alice" and p.turns[0]["robot"] == "Nice to meet you." and p.moods == {"sad": 1}
    assert descriptor_distance(p.descriptor, unit(4)) < 1e-6 and m2.next_id() == 5
    clock.t += 30
    assert m2.addressed_age(4) == pytest.approx(30.0)


@pytest.mark.parametrize("content", ["{not json", '{"schema": "vlm_robot/memory", "version": 99, "people": []}',
                                     '{"schema": "vlm_robot/memory", "version": 1, "people": [{"id": "x"}]}', "[]"])
def test_a_corrupt_memory_file_is_kept_aside_and_the_robot_starts_empty(tmp_path, content):
    path = tmp_path / "memory.json"
    path.write_text(content)
    problems = []
    m = Memory(MemoryConfig(path=str(path)), on_problem=problems.append)
    assert not m.load() and not m.people
    assert len(problems) == 1 and "could not be read" in problems[0] and "memory.json.bad" in problems[0]
    assert (tmp_path / "memory.json.bad").read_text() == content and not path.exists()
    m.saw(1, "happy")
    assert m.save() and json.loads(path.read_text())["people"][0]["id"] == 1


def test_unwritable_memory_is_reported_not_raised(tmp_path):
    (tmp_path / "file").write_text("")
    problems = []
    m = Memory(MemoryConfig(path=str(tmp_path / "file" / "memory.json")), on_problem=problems.append)
    m.saw(1, "happy")
    assert not m.save() and "could not write" in problems[0]


def test_memory_config_errors():
    with pytest.raises(ConfigError, match="max_people"):
        MemoryConfig(max_people=0)


# -- the reasoner with memory, across a restart --------------------------------------------------------


class Echo:
    """A chat model that repeats its system prompt, so tests can read what the model was told."""

    def __init__(self) -> None:
        self.seen: list[list[dict]] = []

    def stream(self, messages, max_tokens):
        self.seen.append(messages)
        yield "Fine."


def test_a_restarted_reasoner_knows_the_person_their_name_and_that_they_were_greeted(tmp_path):
    path = str(tmp_path / "memory.json")
    clock = Clock()
    alice = unit(7)

    def reasoner(model):
        memory = Memory(MemoryConfig(path=path), clock)
        memory.load()
        return Reasoner(PeopleTracker(), ProactivePolicy(ProactiveConfig(linger_s=1.0, cooldown_s=0.0)),
                        DialogueManager(model), memory=memory)

    r1 = reasoner(Echo())
    greets = []
    for i in range(20):
        greets += [d for d in see(r1, i * 0.1, face(100, alice)).decisions if d.action == "greet"]
    assert len(greets) == 1
    r1.on_transcript(Transcript("My name is Alice.", 2.5, id="t1"))
    # killed here; a new process, a new event clock, the same person still in front of it
    clock.t += 5
    model = Echo()
    r2 = reasoner(model)
    greets = []
    for i in range(30):
        greets += [d for d in see(r2, 500 + i * 0.1, face(110, alice)).decisions if d.action == "greet"]
    assert not greets  # greeted 5 s ago (wall clock) by the process before
    [state] = r2.person_states()
    assert state["id"] == 1 and state["name"] == "Alice" and state["remembered_turns"] == 1
    out = r2.on_transcript(Transcript("What is my name?", 503.5, id="t2"))
    assert out.utterances[-1].text == "Your name is Alice." and "answered from memory" in out.utterances[-1].reason
    r2.on_transcript(Transcript("I like painting.", 504.0, id="t3"))
    assert "You are talking to Alice" in model.seen[-1][0]["content"]
    assert "person 1 (Alice) looks neutral" in model.seen[-1][0]["content"]
    states = messages.from_msg("person_states", messages.to_msg("person_states", {"stamp": 1.0,
                                                                                    "people": r2.person_states()}))
    assert states["people"][0]["name"] == "Alice"  # the message carries it
    see(r2, 505.0, face(110, alice))
    r2.on_transcript(Transcript("Please forget me.", 505.0, id="t4"))
    after = Memory(MemoryConfig(path=path), clock)
    after.load()
    assert 1 not in after.people and not any(t["person"] == 1 for t in after.conversation)


def test_a_name_said_with_nobody_in_view_is_known_while_that_voice_keeps_talking():
    """No camera, or the speaker out of sight: "My name is Sam." then "What's my name?" got "I don't know your name
    yet" (heard in a spoken session through --mic). The voice-only speaker's facts last voice_only_s after their last
    words, and are not saved."""
    clock = Clock()
    memory = Memory(MemoryConfig(path="", voice_only_s=300.0), clock)
    r = Reasoner(PeopleTracker(), ProactivePolicy(), DialogueManager(Echo()), memory=memory)
    r.on_transcript(Transcript("My name is Sam.", 1.0, id="v1"))
    clock.t += 200
    out = r.on_transcript(Transcript("What's my name?", 2.0, id="v2"))
    assert out.utterances[-1].text == "Your name is Sam."
    clock.t += 250  # 250 s after their last words: still the same conversation
    assert "Sam" in r.on_transcript(Transcript("Do you know my name?", 3.0, id="v3")).utterances[-1].text
    clock.t += 301  # silent for longer than voice_only_s: another voice may be speaking now
    out = r.on_transcript(Transcript("What's my name?", 4.0, id="v4"))
    assert "don't know your name" in out.utterances[-1].text
    r.on_transcript(Transcript("Call me Kim.", 5.0, id="v5"))
    r.on_transcript(Transcript("Please forget me.", 6.0, id="v6"))
    assert "don't know your name" in r.on_transcript(Transcript("What's my name?", 7.0, id="v7")).utterances[-1].text
    assert not memory.people  # nothing of the voice-only speaker joins the people remembered by sight


def test_recent_scene_description_goes_into_the_prompt_and_old_ones_do_not():
    model = Echo()
    r = Reasoner(PeopleTracker(), ProactivePolicy(), DialogueManager(model))
    r.on_scene_description("<person1> on the left, looks happy (0.98). A red cup is on the table.", 10.0)
    r.on_transcript(Transcript("What is on the table?", 12.0, id="t1"))
    system = model.seen[-1][0]["content"]
    assert "The camera shows: someone on the left, looks happy. A red cup is on the table." in system
    r.on_transcript(Transcript("And now?", 40.0, id="t2"))
    assert "camera" not in model.seen[-1][0]["content"]


def test_prompt_pieces_stay_short():
    long = "A desk. " * 100
    assert len(describe_scene(long, 160)) <= 180
    pm = PersonMemory(1, 0.0, 0.0, facts={"name": "Alice"}, moods={"sad": 9, "happy": 1})
    system = DialogueManager(None).messages("hi", [PersonState(1, (0, 0, 80, 80), 0.0, 1.0, mood="sad")], pm,
                                            names={1: "Alice"})[0]["content"]
    assert system.endswith("You see 1 person: person 1 (Alice) looks sad. "
                           "You are talking to Alice, who has looked mostly sad.")
    assert recall_answer("Do you remember me?", pm) == "Yes, you are Alice."
    assert recall_answer("What is the time?", pm) is None and recall_answer("What is my name?", None) is None
