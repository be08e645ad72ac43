"""`vlm-robot train` (the palme VLM): the tiny configuration on a tiny rendered dataset, for real.

Checks what a user of the training command relies on: the losses fall, the model folder it writes loads and
answers, a killed run resumes where its checkpoint left it, and bad input (no dataset, a corrupt checkpoint,
a checkpoint of another configuration) stops with an error that says what to do.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("vlm_robot.sim.world")  # sets MUJOCO_GL before mujoco loads

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.tools.cli import main


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from vlm_robot.sim.vqa_data import generate

    out = tmp_path_factory.mktemp("sim_vqa") / "data"
    generate(out, rooms={"train": 3, "val": 1, "test": 1}, views=2, seed=5, progress=False)
    return out


def _log(run: Path) -> list[dict]:
    return [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def test_tiny_training_lowers_the_losses_and_writes_a_loadable_model(dataset: Path, tmp_path: Path) -> None:
    from vlm_robot.vlm.palme.model import frame_inputs, load_palme

    out, run = tmp_path / "model", tmp_path / "run"
    assert main(["train", "--data", str(dataset), "--out", str(out), "--run-dir", str(run), "--preset", "tiny"]) == 0
    log = _log(run)
    aux = [r["aux_loss"] for r in log if r["phase"] == "pretrain"]
    e2e = [r["loss"] for r in log if r["phase"] == "e2e"]
    assert len(aux) == 30 and len(e2e) == 30
    assert _mean(aux[-5:]) < _mean(aux[:5]), aux
    assert _mean(e2e[-5:]) < _mean(e2e[:5]), e2e
    assert "val" in log[-1] and log[-1]["val"]["questions"] > 0
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["model_type"] == "vlm_robot_palme" and len(cfg["weights_sha256"]) == 64
    assert cfg["training"]["steps"] == 30 and cfg["training"]["data"]["seed"] == 5
    vlm = load_palme(out)
    import numpy as np

    image = np.zeros((480, 640, 3), np.uint8)
    answer = vlm.answer("What is on the table?", vlm.prefix(**frame_inputs(vlm.cfg, image)), max_new_tokens=4)
    assert isinstance(answer, str)


def test_a_killed_run_resumes_from_its_checkpoint(dataset: Path, tmp_path: Path) -> None:
    from vlm_robot.vlm.palme.train import PRESETS, TrainConfig, Trainer

    preset = dict(PRESETS["tiny"])
    model = preset.pop("model")
    tc = TrainConfig(**{**preset, "pretrain_steps": 6, "steps": 6, "val_every": 100}, model=model, data=str(dataset),
                     out=str(tmp_path / "m"), run_dir=str(tmp_path / "run"), checkpoint_every_s=0.0)
    trainer = Trainer(tc)
    real = trainer._e2e_step
    calls = []

    def dies_on_the_third(*a: object) -> dict:
        calls.append(1)
        if len(calls) == 3:
            raise KeyboardInterrupt  # the run is killed during its 9th step
        return real(*a)

    trainer._e2e_step = dies_on_the_third
    with pytest.raises(KeyboardInterrupt):
        trainer.run()
    assert not (tmp_path / "m").exists()  # nothing written as if finished
    tc.resume = True
    again = Trainer(tc)
    assert again.step == 8  # 6 pre-training + 2 end-to-end steps were checkpointed
    again.run()
    steps = [r["step"] for r in _log(tmp_path / "run")]
    assert steps == list(range(1, 9)) + list(range(9, 13))  # each step logged once, none lost or repeated
    assert (tmp_path / "m" / "palme.safetensors").is_file()

    # a checkpoint of another configuration is refused, and a corrupt one says what to do
    tc.pretrain_steps = 0
    tc.model = {**model, "image_tokens": 2}
    with pytest.raises(InvalidInputError, match="different dataset or model configuration"):
        Trainer(tc)
    (tmp_path / "run" / "checkpoint.pt").write_bytes(b"not a checkpoint")
    tc.model = model
    with pytest.raises(InvalidInputError, match="unreadable") as e:
        Trainer(tc)
    assert "delete it" in str(e.value)


def test_missing_or_foreign_dataset_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(InvalidInputError, match="vlm-robot data sim"):
        main(["train", "--data", str(tmp_path / "nowhere"), "--preset", "tiny", "--out", str(tmp_path / "m")])
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "manifest.json").write_text(json.dumps({"format": "something else", "version": 9}))
    with pytest.raises(InvalidInputError, match="regenerate"):
        main(["train", "--data", str(tmp_path / "other"), "--preset", "tiny", "--out", str(tmp_path / "m")])


def test_blind_baseline_trains_without_a_prefix(dataset: Path, tmp_path: Path) -> None:
    from vlm_robot.vlm.palme.model import load_palme

    out = tmp_path / "blind"
    assert main(["train", "--data", str(dataset), "--out", str(out), "--run-dir", str(tmp_path / "run"),
                 "--preset", "tiny", "--blind", "--steps", "5"]) == 0
    log = _log(tmp_path / "run")
    assert {r["phase"] for r in log} == {"e2e"} and len(log) == 5
    vlm = load_palme(out)
    assert vlm.cfg.blind and vlm.cfg.prefix_tokens == 0
