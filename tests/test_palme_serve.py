"""Serving the robot's own VLM (the ``palme`` family): the transformers and compiled backends on a tiny random
model, the ONNX export's parity with PyTorch, ``vlm-robot eval vqa`` on a tiny dataset, and clear errors for a
missing model folder, corrupt weights and a wrong sha256 pin. No ROS; a few seconds each."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from vlm_robot.core.errors import ModelIntegrityError, ModelNotFoundError  # noqa: E402
from vlm_robot.core.types import Frame  # noqa: E402
from vlm_robot.vlm import compiled as C  # noqa: E402
from vlm_robot.vlm.base import VLMConfig, make_backend  # noqa: E402
from vlm_robot.vlm.compiled.inputs import simulated_frames  # noqa: E402
from vlm_robot.vlm.families import family_for_model_type, palme  # noqa: E402

QUESTION = "What is on the table?"


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A tiny random palme model folder (built once for the module)."""
    return palme.tiny(tmp_path_factory.mktemp("tiny-palme"), seed=0)


@pytest.fixture(scope="module")
def frames():
    """Two 640x480 frames of the simulated demo room (a person's face is in view)."""
    return simulated_frames(2)


@pytest.fixture(scope="module")
def torch_vlm(tiny):
    vlm = make_backend(VLMConfig(backend="transformers", model=str(tiny), max_new_tokens=6))
    vlm.load()
    yield vlm
    vlm.close()


def test_family_is_found_from_the_folders_config(tiny):
    assert family_for_model_type("vlm_robot_palme") is palme
    assert json.loads((tiny / "config.json").read_text())["model_type"] == "vlm_robot_palme"


def test_transformers_backend_streams_the_models_answer(torch_vlm, frames):
    pieces = list(torch_vlm.stream(QUESTION, [Frame(frames[0], 1.0)]))
    text = "".join(pieces).strip()
    assert len([p for p in pieces if p]) >= 2, f"expected the answer in several pieces, got {pieces}"
    # the same answer as the family's generate on the same inputs (no streamer): the stream is the answer
    inputs = palme.build_inputs(torch_vlm.processor, QUESTION, [frames[0]])
    assert text == palme.generate(torch_vlm.model, torch_vlm.processor, inputs, 6) and text
    ans = torch_vlm.answer(QUESTION, [Frame(frames[0], 2.0)])
    assert ans.text == text and ans.backend == "transformers"


def test_build_inputs_reads_the_face_and_leaves_the_state_unknown(torch_vlm, frames):
    inputs = palme.build_inputs(torch_vlm.processor, QUESTION, [frames[1], frames[0]])
    cfg = torch_vlm.model.config
    assert tuple(inputs["image"].shape) == (1, 3, cfg.image_height, cfg.image_width)
    assert inputs["face_mask"].tolist() == [[1.0, 0.0, 0.0]]  # the demo room's one visitor, read by perception
    box = inputs["faces"][0, 0, :4]
    assert 0 < float(box[0]) < 1 and 0 < float(box[2]) < 0.5  # normalised to the frame, as in the dataset
    assert inputs["state"].abs().sum() == 0  # the "known" flag is 0: the node does not know the pose
    assert inputs["question"] == QUESTION


def test_onnx_prefix_matches_pytorch(torch_vlm, frames, tmp_path):
    fam, model, proc = palme, torch_vlm.model, torch_vlm.processor
    enc = fam.VisionEncoder(model)
    ex = fam.build_inputs(proc, QUESTION, [frames[0]])
    res = C.export_module(enc, {k: ex[k] for k in fam.vision_input_names}, tmp_path / "prefix.onnx", family="palme",
                          model_source=str(torch_vlm.config.model))
    assert res.meta["input_names"] == list(fam.vision_input_names) and res.meta["family"] == "palme"
    sess = C.EncoderSession(res.onnx_path, "cpu", threads=1)
    rng = np.random.default_rng(3)
    other = rng.integers(0, 256, (240, 320, 3), dtype=np.uint8)  # another frame than the traced one, no face
    for img in (frames[1], other):
        ins = fam.build_inputs(proc, QUESTION, [img])
        with torch.inference_mode():
            ref = fam.reference_features(model, ins)
        stats = C.compare_features(ref, sess.run({k: ins[k] for k in fam.vision_input_names}))
        assert stats["max_abs_diff"] < 1e-4, stats
    r = C.verify_export(res.onnx_path, "cpu", frames=[frames[0]])  # `vlm-robot models verify` on it
    assert r["family"] == "palme" and r["max_abs_diff"] < 1e-4


def test_compiled_backend_answers_as_pytorch_does(torch_vlm, frames, tmp_path):
    vlm = make_backend(VLMConfig(backend="compiled", model=str(torch_vlm.config.model), max_new_tokens=6,
                                 extra={"cache_dir": str(tmp_path), "threads": 1}))
    vlm.load()
    try:
        assert vlm.encoder_path is not None and vlm.encoder_path.suffix == ".onnx"
        for i, img in enumerate(frames):
            got = vlm.answer(QUESTION, [Frame(img, 10.0 + i)])
            want = torch_vlm.answer(QUESTION, [Frame(img, 20.0 + i)])
            assert got.text == want.text and got.text and got.backend == "compiled"
            assert vlm.last_encoder_ms > 0
    finally:
        vlm.close()


def _tiny_dataset(folder, n_images=2):
    """A dataset folder in the format `vlm-robot data sim` writes: random images, three question types."""
    d = folder / "test"
    d.mkdir(parents=True)
    np.save(d / "images.npy", np.random.default_rng(0).integers(0, 256, (n_images, 168, 224, 3), dtype=np.uint8))
    metas, qa = [], []
    for i in range(n_images):
        face = {"box": [0.4, 0.2, 0.08, 0.1], "expression": "sad", "scores": [0, 0, 0, 0, 1, 0, 0], "facing": 0.9,
                "score": 0.95}
        metas.append({"i": i, "room": 100 + i, "view": 0, "state": [0.5, -0.2, -0.4, 0.1, 0.2],
                      "faces": [face] if i % 2 else [],
                      "truth": {"looking_at": "table", "table_visible": True, "objects": [], "people": []}})
        qa += [{"image": i, "type": "table", "question": QUESTION, "answer": "a red cup"},
               {"image": i, "type": "count", "question": "How many cups are there?", "answer": "one"},
               {"image": i, "type": "presence", "question": "Is anyone there?", "answer": "no"}]
    (d / "meta.jsonl").write_text("".join(json.dumps(m) + "\n" for m in metas))
    (d / "qa.jsonl").write_text("".join(json.dumps(q) + "\n" for q in qa))
    (folder / "manifest.json").write_text(json.dumps({
        "format": "vlm_robot.sim_vqa", "version": 1, "seed": 0, "command": "test", "image_size": [224, 168],
        "views_per_room": 1, "splits": {"test": {"rooms": n_images, "images": n_images, "questions": len(qa)}}}))
    return folder


def test_eval_vqa_prints_the_table_and_writes_json(tiny, tmp_path, capsys, monkeypatch):
    from vlm_robot.tools.cli import main

    data = _tiny_dataset(tmp_path / "ds")
    monkeypatch.setenv("VLM_ROBOT_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "eval.json"
    rc = main(["eval", "vqa", "--data", str(data), "--model", str(tiny), "--blind-model", str(tmp_path / "none"),
               "--systems", "palme", "compiled", "blind", "--threads", "1", "--max-new-tokens", "4",
               "--out", str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    lines = text.splitlines()
    header = next(ln for ln in lines if ln.startswith("type"))
    assert header.split() == ["type", "n", "palme", "compiled"]
    rows = {ln.split()[0]: ln.split() for ln in lines if ln.split() and ln.split()[0] in
            ("count", "presence", "table", "overall")}
    assert rows["table"][1] == "2" and rows["overall"][1] == "6"
    assert "blind baseline skipped: no model folder" in text
    rep = json.loads(out.read_text())
    assert rep["questions"] == 6 and rep["counts"] == {"count": 2, "presence": 2, "table": 2}
    # a random model answers "a red cup" or "no" only by accident; the ONNX path answers what torch answers
    assert rep["systems"]["compiled"]["same_answer_as_palme"] == 1.0
    assert rep["systems"]["palme"]["overall"] == rep["systems"]["compiled"]["overall"]
    assert rep["systems"]["compiled"]["prefix_hz"] > 0 and rep["systems"]["palme"]["first_token_ms_p50"] > 0
    assert [a["palme"]["said"] for a in rep["answers"]] == [a["compiled"]["said"] for a in rep["answers"]]


def test_eval_vqa_limit_spreads_over_types():
    from vlm_robot.vlm.palme.eval import select_questions

    qa = [{"type": t} for t in ["table"] * 5 + ["count"] * 5 + ["color"]]
    picks = select_questions(qa, 4)
    assert sorted(qa[k]["type"] for k in picks) == ["color", "count", "count", "table"]
    assert select_questions(qa, 0) == list(range(11))


def test_eval_vqa_missing_dataset_says_how_to_make_one(tiny, tmp_path, capsys):
    from vlm_robot.tools.cli import main

    rc = main(["eval", "vqa", "--data", str(tmp_path / "nothing"), "--model", str(tiny), "--systems", "palme",
               "--out", str(tmp_path / "e.json")])
    assert rc == 2
    assert "vlm-robot data sim" in capsys.readouterr().out


def test_missing_model_folder_is_a_clear_error(tmp_path):
    with pytest.raises(ModelNotFoundError, match=r"does not exist; train one with `vlm-robot train`"):
        palme.load(str(tmp_path / "palme-nowhere"), device="cpu", dtype=torch.float32)
    vlm = make_backend(VLMConfig(backend="transformers", model=str(tmp_path / "palme-nowhere")))
    with pytest.raises(ModelNotFoundError):
        vlm.load()


def _copy(tiny, dst):
    dst.mkdir()
    for p in tiny.iterdir():
        (dst / p.name).write_bytes(p.read_bytes())
    return dst


def test_corrupt_weights_are_refused(tiny, tmp_path):
    bad = _copy(tiny, tmp_path / "corrupt")
    w = bad / "palme.safetensors"
    w.write_bytes(w.read_bytes()[:-100])  # truncated
    with pytest.raises(ModelIntegrityError, match="sha256 differs from the pin"):
        palme.load(str(bad), device="cpu", dtype=torch.float32)
    cfg = json.loads((bad / "config.json").read_text())
    cfg["weights_sha256"] = ""  # no pin: the file itself is unreadable
    (bad / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ModelIntegrityError, match="not a readable safetensors file"):
        palme.load(str(bad), device="cpu", dtype=torch.float32)


def test_wrong_sha256_pin_is_refused_through_the_backend(tiny, tmp_path):
    bad = _copy(tiny, tmp_path / "wrong-pin")
    cfg = json.loads((bad / "config.json").read_text())
    cfg["weights_sha256"] = "0" * 64
    (bad / "config.json").write_text(json.dumps(cfg))
    vlm = make_backend(VLMConfig(backend="compiled", model=str(bad), extra={"cache_dir": str(tmp_path)}))
    with pytest.raises(ModelIntegrityError, match=r"sha256 differs from the pin in config.json \(000000000000"):
        vlm.load()


def test_config_json_that_is_not_json_is_a_clear_error(tmp_path):
    d = tmp_path / "broken"
    d.mkdir()
    (d / "config.json").write_text("{not json")
    with pytest.raises(ModelNotFoundError, match="not a readable JSON model config"):
        make_backend(VLMConfig(backend="transformers", model=str(d))).load()


def test_scenario_reads_objects_robot_pose_vlm_and_intent_targets():
    from vlm_robot.core.errors import ConfigError
    from vlm_robot.sim.scenario import Scenario

    sc = Scenario.load("sim/scenarios/table_question_fetch.yaml")
    assert sc.vlm == {"backend": "transformers", "model": "models/palme-sim", "max_new_tokens": "24"}
    assert [(o["kind"], o["color"]) for o in sc.objects] == [("cup", "red"), ("bottle", "blue")]
    assert sc.robot_start == (1.2, -0.45, -0.505) and sc.head_start == (0.0, 0.15)
    assert {"intent": "fetch", "target": "red cup", "verdict": "approved", "within": [5.0, 9.0]} in sc.expect
    base = {"name": "x", "people": [], "expect": []}
    with pytest.raises(ConfigError, match=r"expected a mapping with some of .*backend"):
        Scenario.from_dict({**base, "vlm": {"backend": "transformers", "modle": "m"}})
    with pytest.raises(ConfigError, match=r"expected \{kind, color, pos: \[x, y, z\]\}"):
        Scenario.from_dict({**base, "objects": [{"kind": "cup", "pos": [1, 2]}]})


@pytest.mark.graph
def test_table_scenario_wiring_with_a_tiny_model(tiny, tmp_path):
    """The scenario's VLM node (tiny random palme: the answer is noise) answers "what is on the table?" through
    the reasoning node, and "bring me the red cup" is an approved fetch of the red cup."""
    # the renderer is chosen when mujoco is first imported: as vlm_robot/sim/world.py sets it (run alone, this
    # test imported mujoco first and got GLFW, which needs a display)
    os.environ.setdefault("MUJOCO_GL", "egl")
    pytest.importorskip("mujoco")
    from vlm_robot.sim.runner import run_scenario
    from vlm_robot.sim.scenario import Scenario

    sc = Scenario.load("sim/scenarios/table_question_fetch.yaml")
    sc.vlm = {**sc.vlm, "model": str(tiny), "max_new_tokens": "6"}
    res = run_scenario(sc, tmp_path / "run", record=False)
    said = {u["in_reply_to"]: u for _, u in res.log.of("utterance") if u.get("in_reply_to")}
    table = next(u for tid, u in said.items() if tid.startswith("sim-2"))
    assert "what the camera sees (vlm transformers)" in table["reason"]
    fetch = [c for c in res.checks if c.expected.startswith("fetch approved of 'red cup'")]
    assert fetch and fetch[0].passed, [c.observed for c in res.checks]
    assert not res.problems and res.log.tracked  # lockstep kept up; alice was seen (the question was hers)


def test_every_trained_question_form_is_recognised_and_others_are_not():
    from vlm_robot.sim.vqa_questions import COLORS, PLURAL, TEMPLATES
    from vlm_robot.vlm.palme.scope import question_type

    fills = {"plural": [*PLURAL.values(), "people"], "thing": [*PLURAL, *(f"{c} {k}" for c in COLORS for k in PLURAL)],
             "a": list(PLURAL), "b": list(PLURAL),
             "who": ["the person", "the person on the left", "the person in the middle"]}
    for key, templates in TEMPLATES.items():
        qtype = key.split("_")[0]
        for tpl in templates:
            names = [n for n in fills if "{" + n + "}" in tpl]
            for i in range(len(fills[names[0]]) if names else 1):
                q = tpl.format(**{n: fills[n][i % len(fills[n])] for n in names})
                assert question_type(q) == qtype, q
    for q in ("What is the man holding?", "What's the weather like?", "Who are you?", "Is the door open?",
              "What is on the shelf?", "Tell me a joke"):
        assert question_type(q) is None, q


def test_a_question_outside_the_trained_types_gets_an_honest_answer(torch_vlm, frames):
    from vlm_robot.vlm.palme.scope import OUT_OF_SCOPE

    ans = torch_vlm.answer("What is the man holding?", [Frame(frames[0], 3.0)])
    assert ans.text == OUT_OF_SCOPE  # not one of the trained answer forms (which could name objects not there)


def test_grounded_hands_object_questions_to_a_palme_objects_model(tiny, frames, perceiver, chat_model):
    from vlm_robot.vlm.grounded import GroundedVLM

    vlm = GroundedVLM(VLMConfig(backend="grounded", max_new_tokens=6, extra={"objects_model": str(tiny)}),
                      perceiver=perceiver, chat=chat_model)
    vlm.load()
    assert "palme" in vlm.model_name
    frame = [Frame(frames[0], 4.0)]
    table = vlm.answer("What is on the table?", frame)
    assert table.entities == {} and vlm.last_observation is None  # answered by the palme model, not the parser
    expected = palme.generate(vlm._objects.model, vlm._objects.processor,
                              palme.build_inputs(vlm._objects.processor, "What is on the table?", [frames[0]]), 6)
    assert table.text == expected
    people = vlm.answer("Is anyone there?", frame)  # about people: the grounded parser answers, citing entities
    assert vlm.last_observation is not None and people.text.startswith(("Yes", "No", "I see"))
    # a clip handed out of order: palme gets the newest frame by stamp, not the last one in the list
    seen = []
    real_stream = vlm._objects.stream

    def spy(question, clip):
        seen.extend(clip)
        yield from real_stream(question, clip)

    vlm._objects.stream = spy
    black = np.zeros_like(frames[0])
    vlm.answer("What is on the table?", [Frame(frames[0], 9.0), Frame(black, 4.0)])
    assert len(seen) == 1 and seen[0].stamp == 9.0
    vlm.close()
