"""Idefics3 / SmolVLM and Qwen2-VL / Qwen2.5-VL family modules on tiny random models of the real architectures.

Each case builds a tiny model with the family's ``tiny()`` into a temporary folder and loads it back
through the family's ``load()`` (the real offline loading path), then checks prompts with one image and
with a clip of three frames, end-to-end generation, the vision encoder against the model's own image
features, and that precomputed features really replace the vision tower.
"""

from __future__ import annotations

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing may come from the hub in tests

import importlib

import numpy as np
import pytest
import torch

from vlm_robot.core.errors import ConfigError, InvalidInputError, ModelNotFoundError

CASES = {  # model_type -> family module
    "smolvlm": "idefics3",
    "idefics3": "idefics3",
    "qwen2_vl": "qwen2_vl",
    "qwen2_5_vl": "qwen2_vl",
}


def _frames(seed: int = 0) -> list[np.ndarray]:
    """Three RGB frames of different sizes and aspect ratios (a short clip, or several views)."""
    rng = np.random.default_rng(seed)
    return [rng.integers(0, 256, size, dtype=np.uint8) for size in ((48, 80, 3), (100, 30, 3), (20, 20, 3))]


class Case:
    """One loaded tiny model and the inputs every test uses."""

    def __init__(self, model_type: str, folder) -> None:
        self.model_type = model_type
        self.fam = importlib.import_module(f"vlm_robot.vlm.families.{CASES[model_type]}")
        self.folder = self.fam.tiny(folder, seed=0, model_type=model_type)
        self.model, self.processor = self.fam.load(
            str(self.folder), device="cpu", dtype=torch.float32, local_files_only=True
        )
        frames = _frames()
        self.one = self.fam.build_inputs(self.processor, "What is on the table?", frames[:1])
        self.clip = self.fam.build_inputs(self.processor, "What happens?", frames)
        # same size as frames[0], other content: same token layout, other features
        self.other = self.fam.build_inputs(self.processor, "What is on the table?", _frames(seed=1)[:1])

    def vision_args(self, inputs) -> list[torch.Tensor]:
        return [inputs[k] for k in self.fam.vision_input_names]

    def image_tokens(self, inputs) -> int:
        return int((inputs["input_ids"] == self.model.config.image_token_id).sum())


@pytest.fixture(scope="module", params=list(CASES))
def case(request, tmp_path_factory) -> Case:
    return Case(request.param, tmp_path_factory.mktemp(request.param) / "model")


def test_tiny_loads_through_load_as_the_real_architecture(case: Case) -> None:
    assert case.model.config.model_type == case.model_type
    assert case.model_type in case.fam.MODEL_TYPES
    assert not case.model.training
    assert (case.folder / "config.json").is_file() and (case.folder / "model.safetensors").is_file()
    assert case.processor.chat_template  # the saved template came back


@pytest.mark.parametrize("which", ["one", "clip"])
def test_build_inputs_one_image_and_a_clip_of_three(case: Case, which: str) -> None:
    inputs = getattr(case, which)
    assert set(case.fam.vision_input_names) <= set(inputs)
    assert inputs["input_ids"].shape[0] == 1
    features = case.fam.reference_features(case.model, inputs)
    assert features.shape[-1] == case.model.config.text_config.hidden_size
    assert features.numel() // features.shape[-1] == case.image_tokens(inputs)  # one feature per image token
    if which == "clip":
        assert case.image_tokens(case.clip) > case.image_tokens(case.one)
        if case.fam.__name__.endswith("qwen2_vl"):
            assert case.clip["image_grid_thw"].shape == (3, 3)


def test_build_inputs_rejects_what_is_not_an_rgb_uint8_image(case: Case) -> None:
    with pytest.raises(InvalidInputError, match=r"\(H, W, 3\)"):
        case.fam.build_inputs(case.processor, "hi", [np.zeros((8, 8), np.uint8)])
    with pytest.raises(InvalidInputError, match="uint8"):
        case.fam.build_inputs(case.processor, "hi", [np.zeros((8, 8, 3), np.float32)])
    with pytest.raises(InvalidInputError, match="at least one"):
        case.fam.build_inputs(case.processor, "hi", [])


@pytest.mark.parametrize("which", ["one", "clip"])
def test_vision_encoder_equals_the_models_own_image_features(case: Case, which: str) -> None:
    inputs = getattr(case, which)
    encoder = case.fam.VisionEncoder(case.model).eval()
    assert isinstance(encoder.fixed_grid, bool)
    with torch.no_grad():
        ours = encoder(*case.vision_args(inputs))
        ref = case.fam.reference_features(case.model, inputs)
    assert ours.shape == ref.shape
    torch.testing.assert_close(ours, ref, atol=1e-5, rtol=0)


class _Collect:
    """A minimal transformers streamer: records what generate pushes."""

    def __init__(self) -> None:
        self.chunks: list[torch.Tensor] = []
        self.ended = False

    def put(self, value: torch.Tensor) -> None:
        self.chunks.append(value)

    def end(self) -> None:
        self.ended = True


def test_generate_end_to_end_with_one_image_and_a_clip(case: Case) -> None:
    for inputs in (case.one, case.clip):
        streamer = _Collect()
        text = case.fam.generate(case.model, case.processor, inputs, max_new_tokens=6, streamer=streamer)
        assert isinstance(text, str)
        assert streamer.ended and len(streamer.chunks) >= 2  # the prompt, then new tokens as they come


def test_precomputed_features_replace_the_vision_tower(case: Case) -> None:
    fam, model = case.fam, case.model
    with torch.no_grad():
        own = fam.reference_features(model, case.one)
        other = fam.reference_features(model, case.other)
    assert own.shape == other.shape and not torch.allclose(own, other)

    # same answer as the model's own vision path
    plain = fam.generate(model, case.processor, case.one, max_new_tokens=6)
    assert fam.generate(model, case.processor, case.one, max_new_tokens=6, features=own) == plain

    # the logits generate starts from: same with own features, different with another image's
    with torch.no_grad():
        ref_logits = model(**fam._language_inputs(model, case.one, None)).logits
        own_logits = model(**fam._language_inputs(model, case.one, own)).logits
        other_logits = model(**fam._language_inputs(model, case.one, other)).logits
    torch.testing.assert_close(own_logits, ref_logits, atol=1e-5, rtol=0)
    assert (other_logits - ref_logits).abs().max() > 1e-3  # the override is really used

    # and no pixels reach the model when features are given (Qwen keeps the grid: it places the image tokens)
    given = set(fam._language_inputs(model, case.one, own))
    assert "pixel_values" not in given and "pixel_attention_mask" not in given


def test_features_of_the_wrong_size_are_refused(case: Case) -> None:
    own = case.fam.reference_features(case.model, case.one)
    with pytest.raises(InvalidInputError, match="image tokens"):
        case.fam.generate(case.model, case.processor, case.clip, max_new_tokens=2, features=own)


def test_load_refuses_another_architecture(case: Case) -> None:
    other_family = "qwen2_vl" if CASES[case.model_type] == "idefics3" else "idefics3"
    fam = importlib.import_module(f"vlm_robot.vlm.families.{other_family}")
    with pytest.raises(ConfigError, match=case.model_type):
        fam.load(str(case.folder), device="cpu", dtype=torch.float32, local_files_only=True)


@pytest.mark.parametrize("family", ["idefics3", "qwen2_vl"])
def test_missing_model_says_how_to_obtain_it(family: str, tmp_path) -> None:
    fam = importlib.import_module(f"vlm_robot.vlm.families.{family}")
    missing = tmp_path / "no-such-model"
    with pytest.raises(ModelNotFoundError) as err:
        fam.load(str(missing), device="cpu", dtype=torch.float32, local_files_only=True)
    assert str(missing) in str(err.value) and "huggingface-cli download" in str(err.value)

    hub_id = "vlm-robot-tests/not-a-cached-model"
    with pytest.raises(ModelNotFoundError) as err:
        fam.load(hub_id, device="cpu", dtype=torch.float32, local_files_only=True)
    message = str(err.value)
    assert hub_id in message and "huggingface-cli download" in message and "allow_download" in message


@pytest.mark.parametrize("grid", [[[1, 4, 6]], [[1, 4, 6], [1, 2, 2], [2, 6, 4]]])
def test_qwen2_vl_patch_layout_matches_transformers(grid) -> None:
    from transformers.vision_utils import get_vision_cu_seqlens, get_vision_position_ids

    from vlm_robot.vlm.families.qwen2_vl import _patch_layout

    grid_thw = torch.tensor(grid)
    n = int(grid_thw.prod(-1).sum())
    position_ids, segment = _patch_layout(grid_thw, n, merge=2)
    torch.testing.assert_close(position_ids, get_vision_position_ids(grid_thw, 2), rtol=0, atol=0)
    cu = get_vision_cu_seqlens(grid_thw).long()  # (frames + 1,) segment boundaries
    expected = torch.repeat_interleave(torch.arange(len(cu) - 1), cu[1:] - cu[:-1])
    torch.testing.assert_close(segment, expected, rtol=0, atol=0)
