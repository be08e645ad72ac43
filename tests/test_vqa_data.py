"""`vlm-robot data sim` (vlm_robot.sim.vqa_data) and its questions and scoring rule (vlm_robot.sim.vqa_questions)."""

from __future__ import annotations

import importlib.util
import json
import math

import cv2
import numpy as np
import pytest

if importlib.util.find_spec("mujoco") is None:
    pytest.skip("mujoco is not installed (pip install -r requirements/sim.txt)", allow_module_level=True)

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.sim import vqa_data, vqa_questions
from vlm_robot.sim.vqa_questions import CANT_SEE_TABLE, QUESTION_TYPES, questions_for, score

ROOMS = {"train": 3, "val": 1, "test": 1}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("vqa") / "data"
    man = vqa_data.generate(out, ROOMS, views=2, seed=3, workers=1, progress=False)
    return out, man


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_tiny_dataset_layout_and_manifest(tiny):
    out, _ = tiny
    doc = vqa_data.read_manifest(out, verify=True)
    assert doc["format"] == "vlm_robot.sim_vqa" and doc["version"] == 1 and doc["seed"] == 3
    assert doc["image_size"] == [224, 168] and doc["views_per_room"] == 2
    assert doc["question_types"] == list(QUESTION_TYPES)
    assert set(doc["files"]) == {f"{s}/{f}" for s in ("train", "val", "test") for f in ("images.npy", "meta.jsonl",
                                                                                        "qa.jsonl")}
    for split, n in ROOMS.items():
        imgs = np.load(out / split / "images.npy", mmap_mode="r")
        assert imgs.shape == (2 * n, 168, 224, 3) and imgs.dtype == np.uint8
        assert (imgs.reshape(len(imgs), -1).std(axis=1) > 1).all()  # rendered rooms, not blank frames
        metas = _lines(out / split / "meta.jsonl")
        assert [m["i"] for m in metas] == list(range(2 * n))
        qa = _lines(out / split / "qa.jsonl")
        s = doc["splits"][split]
        assert (s["rooms"], s["images"], s["questions"]) == (n, 2 * n, len(qa))
        for q in qa:  # every sampled question is one the image's ground truth asks, with its answer
            asked = {(c["type"], c["question"], c["answer"]) for c in questions_for(metas[q["image"]])}
            assert (q["type"], q["question"], q["answer"]) in asked
        for m in metas:
            assert len(m["state"]) == 5 and len(m["faces"]) <= 3
            assert m["truth"]["nearest_place"] in ("kitchen", "charging_station", "entrance")
            for f in m["faces"]:
                assert len(f["scores"]) == 7 and all(0 <= v <= 1 for v in f["box"])
            xs = [f["box"][0] + f["box"][2] / 2 for f in m["faces"]]
            assert xs == sorted(xs)


def test_splits_never_share_rooms(tiny):
    out, man = tiny
    rooms = {s: {m["room"] for m in _lines(out / s / "meta.jsonl")} for s in ROOMS}
    assert not rooms["train"] & rooms["val"] and not rooms["train"] & rooms["test"] and not rooms["val"] & rooms["test"]
    for s, n in ROOMS.items():
        assert len(rooms[s]) == n
        assert man["splits"][s]["room_seeds"] == [min(rooms[s]), max(rooms[s])]
    # the held-out rooms do not depend on how many training rooms there are
    assert vqa_data.room_seeds("test", 2, 3) == vqa_data.room_seeds("test", 5, 3)[:2]
    assert not set(vqa_data.room_seeds("train", 99_999, 0)) & set(vqa_data.room_seeds("val", 10, 0))


def test_same_seed_same_bytes_any_workers_other_seed_other_rooms(tiny, tmp_path):
    _, man = tiny
    again = vqa_data.generate(tmp_path / "again", ROOMS, views=2, seed=3, workers=2, progress=False)
    assert again["files"] == man["files"]  # sha256 of images.npy, meta.jsonl and qa.jsonl of every split
    other = vqa_data.plan_room(vqa_data.room_seeds("train", 1, 4)[0], 2)
    assert other.views != vqa_data.plan_room(vqa_data.room_seeds("train", 1, 3)[0], 2).views


def test_rendered_hand_checked_view():
    """A red cup left of a blue bottle on the table, one sad person right of the table, the robot 1.9 m from
    the table looking at it: the ground truth and the answers say exactly that."""
    from vlm_robot.sim.world import SimObject

    tx, ty, tz = vqa_data.TABLE[:3]
    x, y = tx - 1.9, ty
    tilt = math.atan2(vqa_data.CAMERA_Z - tz, 1.9)
    plan = vqa_data.RoomPlan(room=0, objects=[SimObject("cup", "red", (tx, ty + 0.2, tz)),
                                              SimObject("bottle", "blue", (tx, ty - 0.2, tz))],
                             places=["table", "table"], faces=["lfw:3"], lighting=1.0,
                             views=[(x, y, 0.0, 0.0, tilt), (x, y, math.pi, 0.0, 0.0)], modes=["table", "anywhere"],
                             crowd=[[(tx - 0.3, ty - 1.2, math.atan2(0.9, -1.6))], [(tx - 0.3, ty - 1.2, 0.0)]])
    images, metas = vqa_data.RoomRenderer().room(plan)
    assert images.shape == (2, 168, 224, 3)
    t = metas[0]["truth"]
    cup, bottle = t["objects"]
    assert cup["visible"] and bottle["visible"] and cup["u"] < 0.5 < bottle["u"]
    assert t["table_visible"] and t["table_complete"] and t["looking_at"] == "table"
    assert t["people"][0]["visible"] and t["people"][0]["u"] > bottle["u"]
    assert t["nearest_place"] == "charging_station" and metas[0]["state"][:3] == [round(x, 4), round(y, 4), 0.0]
    ans = {(q["type"], q["question"]): q["answer"] for q in questions_for(metas[0])}
    assert ans[("table", "What is on the table?")] == "a red cup and a blue bottle"
    assert ans[("color", "What colour is the bottle?")] == "blue"
    assert ans[("relation", "Where is the cup relative to the bottle?")] == "left of the bottle"
    assert ans[("relation", "Where is the bottle relative to the cup?")] == "right of the cup"
    assert ans[("count", "How many cups are there?")] == "one"
    assert ans[("presence", "Is anyone there?")] == "yes, one person"
    assert ans[("looking", "What are you looking at?")] == "at the table"
    # turned around: the table is behind the robot
    back = {q["type"]: q["answer"] for q in questions_for(metas[1])}
    assert back["table"] == CANT_SEE_TABLE and back["looking"] == "at the wall"
    assert not metas[1]["truth"]["objects"][0]["visible"]


def _meta(**truth):
    base = {"looking_at": "shelf", "table_visible": True, "table_complete": True, "objects": [], "people": [],
            "nearest_place": "kitchen", "lighting": 1.0}
    return {"i": 0, "room": 1, "view": 0, "truth": {**base, **truth}}


def _obj(kind, color, u, on="table", visible=True):
    return {"type": kind, "color": color, "on": on, "visible": visible, "pixels": 50 if visible else 0, "u": u,
            "v": 0.5, "pos": [3.0, -1.5, 0.76]}


def _person(u, distance, expression="sad", read="sad", visible=True):
    return {"face": "lfw:3", "expression": expression, "visible": visible, "u": u, "v": 0.3, "distance": distance,
            "read": read}


def test_questions_only_ask_what_the_view_answers():
    m = _meta(objects=[_obj("cup", "red", 0.6), _obj("cup", "blue", 0.3), _obj("ball", "white", 0.45, on="floor"),
                       _obj("box", "green", 0.5, visible=False)],
              people=[_person(0.2, 2.5, "happy", "happy"), _person(0.8, 1.4, "sad", "angry")])
    qs = questions_for(m)
    first = {}
    for q in qs:
        first.setdefault((q["type"], q["key"]), q["answer"])
    assert first[("table", "table")] == "a red cup and a blue cup"  # sorted by type, then colour
    assert first[("count", "cup")] == "two" and first[("count", "box")] == "zero"
    assert first[("count", "people")] == "two"
    assert ("color", "cup") not in first and first[("color", "ball")] == "white"  # two cups: which one?
    # relation: only table objects of different types, named unambiguously: here none (both are cups)
    assert not [k for k in first if k[0] == "relation"]
    assert first[("closest", "closest")] == "the person on the right"
    # expression only where perception read the catalogue label
    assert first[("expression", "the person on the left")] == "happy"
    assert ("expression", "the person on the right") not in first
    assert first[("looking", "looking")] == "at the shelf" and first[("place", "place")] == "the kitchen"
    assert first[("presence", "people")] == "yes, two people"
    # every paraphrase of a question has the same answer
    for key in {(q["type"], q["key"]) for q in qs}:
        assert len({q["answer"] for q in qs if (q["type"], q["key"]) == key}) == 1
    unseen = {(q["type"], q["key"]): q["answer"] for q in questions_for(_meta(table_visible=False))}
    assert unseen[("table", "table")] == CANT_SEE_TABLE and unseen[("closest", "closest")] == "nobody"
    assert [a for (t, _), a in unseen.items() if t == "presence"] == ["no", "no"]  # nobody; an absent object
    hidden = {q["type"] for q in questions_for(_meta(table_complete=False))}
    assert "table" not in hidden  # a table object hidden behind something: no answer is safe


def test_relation_uses_colour_when_the_type_repeats():
    m = _meta(objects=[_obj("cup", "red", 0.2), _obj("cup", "blue", 0.8), _obj("bottle", "yellow", 0.5)])
    rel = {q["key"]: q["answer"] for q in questions_for(m) if q["type"] == "relation"}
    assert rel["red cup|bottle"] == "left of the bottle" and rel["bottle|blue cup"] == "left of the blue cup"
    assert rel["blue cup|bottle"] == "right of the bottle"


def test_sampling_balances_answers():
    metas = [_meta(objects=[_obj("cup", "red", 0.5)] if i % 10 == 0 else []) for i in range(60)]
    for i, m in enumerate(metas):
        m["i"], m["room"] = i, i
    qa = vqa_questions.sample_questions(metas, seed=1)
    count = [q["answer"] for q in qa if q["type"] == "count"]
    # 5 count questions per image: 294 "zero", 6 "one"; "zero" is capped at 1.5 x the median bucket (150)
    assert count.count("one") == 6 and count.count("zero") == 225
    assert qa == vqa_questions.sample_questions(metas, seed=1)


@pytest.mark.parametrize("qtype,predicted,answer,ok", [
    ("table", "There is a blue bottle and a red cup.", "a red cup and a blue bottle", True),
    ("table", "A red cup, a blue bottle.", "a red cup and a blue bottle", True),
    ("table", "a red cup", "a red cup and a blue bottle", False),
    ("table", "a red cup and a green bottle", "a red cup and a blue bottle", False),
    ("table", "2 red cups", "two red cups", True),
    ("table", "a red cup", "two red cups", False),
    ("table", "Nothing.", "nothing", True),
    ("table", "The table is empty", "nothing", True),
    ("table", "I cannot see the table.", CANT_SEE_TABLE, True),
    ("table", "I can't see the table", "nothing", False),
    ("table", "nothing", CANT_SEE_TABLE, False),
    ("count", "2", "two", True), ("count", "There are two.", "two", True), ("count", "three", "two", False),
    ("count", "None.", "zero", True), ("count", "no idea", "two", False),
    ("color", "It is Blue.", "blue", True), ("color", "blue or red", "blue", False), ("color", "red", "blue", False),
    ("relation", "Left of the bottle.", "left of the bottle", True),
    ("relation", "right of the bottle", "left of the bottle", False),
    ("presence", "Yes, 1 person.", "yes, one person", True), ("presence", "yes", "yes, one person", False),
    ("presence", "yes, two people", "yes, one person", False), ("presence", "No.", "no", True),
    ("presence", "No one.", "no", True), ("presence", "yes", "no", False), ("presence", "Yes!", "yes", True),
    ("closest", "The person on the left.", "the person on the left", True),
    ("closest", "the person on the right", "the person on the left", False),
    ("closest", "The person in the centre", "the person in the middle", True),
    ("closest", "No one", "nobody", True),
    ("expression", "They look surprised.", "surprise", True), ("expression", "Sad", "sad", True),
    ("expression", "happy", "sad", False), ("expression", "happy or sad", "sad", False),
    ("looking", "At the table.", "at the table", True), ("looking", "at someone", "at a person", True),
    ("looking", "at the wall", "at the table", False),
    ("place", "The charging station.", "the charging station", True), ("place", "kitchen", "the kitchen", True),
    ("place", "the entrance", "the kitchen", False), ("place", "", "the kitchen", False),
])
def test_score_accepts_paraphrases_and_rejects_wrong_answers(qtype, predicted, answer, ok):
    assert score(qtype, predicted, answer) is ok


def test_score_rejects_unknown_type():
    with pytest.raises(InvalidInputError, match="question type 'weather' unknown"):
        score("weather", "sunny", "sunny")


def test_bad_folders_and_arguments(tiny, tmp_path):
    out, _ = tiny
    with pytest.raises(InvalidInputError, match="does not exist; generate it with `vlm-robot data sim"):
        vqa_data.read_manifest(tmp_path / "missing")
    half = tmp_path / "half"
    (half / "train").mkdir(parents=True)
    with pytest.raises(InvalidInputError, match=r"no manifest.json.*interrupted"):
        vqa_data.read_manifest(half)
    old = tmp_path / "old"
    old.mkdir()
    (old / "manifest.json").write_text(json.dumps({"format": "vlm_robot.sim_vqa", "version": 0}))
    with pytest.raises(InvalidInputError, match=r"expected a vlm_robot.sim_vqa version 1 dataset.*--force"):
        vqa_data.read_manifest(old)
    with pytest.raises(ConfigError, match=r"already holds a vlm_robot.sim_vqa version 0 dataset.*--force"):
        vqa_data.generate(old, {"train": 1, "val": 0, "test": 0}, views=1, progress=False)
    with pytest.raises(ConfigError, match=r"half-written dataset.*--force"):
        vqa_data.generate(half, {"train": 1, "val": 0, "test": 0}, views=1, progress=False)
    (half / "notes.txt").write_text("mine")
    with pytest.raises(ConfigError, match=r"not a sim_vqa dataset.*notes.txt"):
        vqa_data.generate(half, {"train": 1, "val": 0, "test": 0}, views=1, force=True, progress=False)
    with pytest.raises(ConfigError, match="rooms must give a count >= 0"):
        vqa_data.generate(tmp_path / "x", {"train": -1, "val": 0, "test": 0}, progress=False)
    with pytest.raises(ConfigError, match=r"--views must be 1..64"):
        vqa_data.generate(tmp_path / "x", ROOMS, views=0, progress=False)
    changed = tmp_path / "changed"
    changed.mkdir()
    for f in ("manifest.json",):
        (changed / f).write_text((out / f).read_text())
    with pytest.raises(InvalidInputError, match=r"train/images.npy listed in manifest.json is missing"):
        vqa_data.read_manifest(changed)
    with pytest.raises(InvalidInputError, match=r"expected the ground truth|expected a meta line"):
        questions_for({"i": 0})


def test_force_replaces_a_dataset(tmp_path):
    out = tmp_path / "d"
    vqa_data.generate(out, {"train": 1, "val": 0, "test": 0}, views=1, progress=False)
    man = vqa_data.generate(out, {"train": 0, "val": 1, "test": 0}, views=1, force=True, progress=False)
    assert man["splits"]["train"]["images"] == 0 and man["splits"]["val"]["images"] == 1
    assert vqa_data.read_manifest(out, verify=True)["splits"]["val"]["rooms"] == 1


def test_model_image_is_the_area_resize():
    rgb = np.random.default_rng(0).integers(0, 256, (480, 640, 3), dtype=np.uint8)
    small = vqa_data.model_image(rgb)
    assert small.shape == (168, 224, 3) and small.dtype == np.uint8
    assert np.array_equal(small, cv2.resize(rgb, (224, 168), interpolation=cv2.INTER_AREA))
    assert np.array_equal(vqa_data.model_image(small), small)
    with pytest.raises(InvalidInputError, match=r"expected an \(H, W, 3\) uint8 RGB image"):
        vqa_data.model_image(rgb.astype(np.float32))


def test_world_keeps_its_objects_unless_replaced():
    from vlm_robot.sim.world import SimObject, World

    w = World({}, 64, 48)
    try:
        assert w.model.geom("cup").id >= 0 and w.objects is None
    finally:
        w.close()
    w = World({}, 64, 48, objects=[SimObject("ball", "green", (1.0, 0.0, 0.0))])
    try:
        names = {w.model.geom(g).name for g in range(w.model.ngeom)}
        assert "cup" not in names and "shelf_books_3" not in names and len(w.object_geoms(0)) == 1
    finally:
        w.close()
    with pytest.raises(ConfigError, match="object 'purple' 'ball' unknown"):
        SimObject("ball", "purple", (0, 0, 0))
