"""The trained palme VLM shipped in models/palme-sim, through the serving path (`vlm.backend: transformers`).

Rooms the model never saw (another generator seed) are asked the trained kinds of question: its answers must
owe much more to the image than the same language model's answers without it (the blind baseline shipped
beside it). Through the serving path (a 640 x 480 frame as the camera node publishes it, faces read by the
packaged perception), a question outside the trained kinds, or one that needs the robot's pose when the node
does not know it, gets an honest answer.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("vlm_robot.sim.world")  # sets MUJOCO_GL before mujoco loads

from vlm_robot.core.assets import sha256_file
from vlm_robot.core.types import Frame
from vlm_robot.sim.world import SimObject, World
from vlm_robot.vlm.base import VLMConfig, make_backend

MODEL = Path(__file__).resolve().parents[1] / "models" / "palme-sim"
BLIND = MODEL.parent / "palme-sim-blind"


def test_the_shipped_weights_match_their_pin():
    cfg = json.loads((MODEL / "config.json").read_text())
    assert sha256_file(MODEL / "palme.safetensors") == cfg["weights_sha256"]
    assert cfg["training"]["validation"]["val_overall"] > 0.5  # what the card reports came from this file's run


@pytest.fixture(scope="module")
def vlm():
    backend = make_backend(VLMConfig(backend="transformers", model=str(MODEL), max_new_tokens=24))
    backend.load()
    yield backend
    backend.close()


def _frame(objects: list[SimObject], robot: tuple[float, ...]) -> Frame:
    world = World({}, width=640, height=480, objects=objects)
    try:
        world.set_robot(*robot)
        return Frame(world.render(), 1.0)
    finally:
        world.close()


@pytest.fixture(scope="module")
def unseen_rooms(tmp_path_factory) -> Path:
    """Rooms of another generator seed than the shipped model's data (seed 0): never seen in training."""
    from vlm_robot.sim.vqa_data import generate

    out = tmp_path_factory.mktemp("unseen") / "data"
    generate(out, rooms={"train": 1, "val": 1, "test": 5}, views=4, seed=11, progress=False)
    return out


def test_answers_come_from_what_it_sees_in_rooms_it_never_saw(unseen_rooms):
    from vlm_robot.vlm.palme.eval import evaluate

    rep = evaluate(unseen_rooms, "test", str(MODEL), str(BLIND), limit=90, systems=("palme", "blind"),
                   progress=lambda it, desc="": it)
    seen, blind = rep["systems"]["palme"]["overall"], rep["systems"]["blind"]["overall"]
    # the held-out figures in the model card: 68 % against 28 % for the same language model without the image
    assert seen >= 0.5 and seen >= blind + 0.2, (seen, blind)


def test_honest_answers_outside_what_it_can_tell(vlm):
    frame = _frame([SimObject("cup", "white", (3.0, -1.5, 0.76))], (1.2, -0.45, -0.505, 0.0, 0.15))
    assert "can't tell" in vlm.answer("What is the man holding?", [frame]).text
    # the VLM node does not know the base pose: the model was trained to say so rather than guess
    place = vlm.answer("Which place is nearest?", [frame]).text
    assert "don't know" in place.lower(), place
