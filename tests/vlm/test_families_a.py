"""LLaVA, BLIP-2 / InstructBLIP and Kosmos-2 family modules on tiny random models of the real architectures.

Each model is built by the family's ``tiny()``, saved, and loaded back through the family's ``load`` (the path
real checkpoints take), offline. Checks: prompts for real-sized images, end-to-end greedy generation, the
standalone vision encoder against the model's own feature computation, and that generation from
precomputed features is the same as from pixels and really uses the given features.
"""

from __future__ import annotations

import os

os.environ["HF_HUB_OFFLINE"] = "1"  # nothing from the hub, ever

import cv2
import numpy as np
import pytest
import torch

from vlm_robot.core.errors import InvalidInputError, ModelNotFoundError
from vlm_robot.vlm.families import blip2, family, family_for_model_type, kosmos2, llava

# (family module name, model_type): InstructBLIP is a variant in the blip2 module
CASES = [("llava", "llava"), ("blip2", "blip-2"), ("blip2", "instructblip"), ("kosmos2", "kosmos-2")]
IDS = [mt for _, mt in CASES]


def _vision_part(model, model_type: str) -> torch.nn.Module:
    """The model's own vision tower (to count its calls)."""
    return model.model.vision_tower if model_type == "llava" else model.vision_model


def _names(mod, model) -> tuple[str, ...]:
    return mod.vision_input_names_for(model) if mod is blip2 else mod.vision_input_names


def _drawn(h: int = 97, w: int = 141, seed: int = 1) -> np.ndarray:
    """A small synthetic scene: grey floor, a red box, a blue disc, noise."""
    rng = np.random.default_rng(seed)
    img = np.full((h, w, 3), 120, np.uint8)
    cv2.rectangle(img, (10, 20), (60, 80), (220, 30, 30), -1)
    cv2.circle(img, (100, 40), 25, (30, 40, 230), -1)
    return np.clip(img.astype(np.int16) + rng.integers(-20, 20, img.shape), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def build(tmp_path_factory):
    """``build(name, model_type)``: that family's tiny model, saved and loaded back through ``load``; once each."""
    cache = {}

    def _build(name: str, model_type: str):
        if (name, model_type) not in cache:
            mod = family(name)
            path = tmp_path_factory.mktemp(model_type)
            if mod is blip2:
                mod.tiny(path, seed=0, model_type=model_type)
            else:
                mod.tiny(path, seed=0)
            model, processor = mod.load(str(path), device="cpu", dtype=torch.float32, local_files_only=True)
            cache[name, model_type] = (mod, model_type, model, processor)
        return cache[name, model_type]

    return _build


@pytest.fixture(scope="module", params=CASES, ids=IDS)
def loaded(request, build):
    return build(*request.param)


@pytest.fixture(scope="module")
def scene(astronaut) -> list[np.ndarray]:
    return [astronaut, _drawn()]


def test_tiny_loads_as_its_architecture(loaded):
    mod, model_type, model, processor = loaded
    assert model.config.model_type == model_type
    assert family_for_model_type(model_type) is mod
    assert not model.training
    assert processor.tokenizer is not None and processor.image_processor is not None


def test_build_inputs_and_generate_end_to_end(loaded, astronaut):
    mod, _, model, processor = loaded
    inputs = mod.build_inputs(processor, "What is in front of you?", [astronaut])  # (512, 512, 3) photo
    for key in (*_names(mod, model), "input_ids", "attention_mask"):
        assert isinstance(inputs[key], torch.Tensor), key
    assert inputs["pixel_values"].shape[0] == 1
    answer = mod.generate(model, processor, inputs, max_new_tokens=6)
    assert isinstance(answer, str)


def test_vision_encoder_equals_reference(loaded, scene):
    mod, _, model, processor = loaded
    inputs = mod.build_inputs(processor, "Describe.", scene)
    encoder = mod.VisionEncoder(model).eval()
    with torch.no_grad():
        got = encoder(*[inputs[k] for k in _names(mod, model)])
        ref = mod.reference_features(model, inputs)
    assert got.ndim == 3 and got.shape == ref.shape  # (num_images, tokens, hidden)
    torch.testing.assert_close(got, ref, atol=1e-5, rtol=0)


def test_vision_encoder_dynamic_batch(loaded, scene):
    """Images in dim 0: a batch of two gives each image's features (what the ONNX export relies on)."""
    mod, _, model, processor = loaded
    names = _names(mod, model)
    singles = [mod.build_inputs(processor, "Describe.", [im]) for im in scene]
    batch = [torch.cat([s[k] for s in singles]) for k in names]
    encoder = mod.VisionEncoder(model).eval()
    with torch.no_grad():
        both = encoder(*batch)
        first = encoder(*[singles[0][k] for k in names])
    assert both.shape[0] == 2
    torch.testing.assert_close(both[:1], first, atol=1e-5, rtol=0)


def test_generate_from_features_is_generate_from_pixels(loaded, astronaut):
    mod, model_type, model, processor = loaded
    inputs = mod.build_inputs(processor, "What colour is it?", [astronaut])
    with torch.no_grad():
        features = mod.reference_features(model, inputs)
    expected = mod.generate(model, processor, inputs, max_new_tokens=8)

    calls = []
    hook = _vision_part(model, model_type).register_forward_hook(lambda *_: calls.append(1))
    try:
        got = mod.generate(model, processor, inputs, max_new_tokens=8, features=features)
    finally:
        hook.remove()
    assert got == expected
    assert calls == []  # the vision tower did not run: the given features were used


def test_given_features_drive_the_logits(loaded, astronaut):
    """The features path feeds the language model the features given: the model's own pixels path gives the
    same logits with this image's features, and another image's features change them."""
    mod, _, model, processor = loaded
    inputs = mod.build_inputs(processor, "What is it?", [astronaut])
    other = mod.build_inputs(processor, "What is it?", [np.zeros((80, 80, 3), np.uint8)])
    with torch.no_grad():
        own = model(**inputs).logits[:, -1]  # (1, vocab)
        feats, other_feats = mod.reference_features(model, inputs), mod.reference_features(model, other)
        lm, kwargs = mod._language_inputs(model, inputs, feats)
        same = lm(**kwargs).logits[:, -1]
        lm, kwargs = mod._language_inputs(model, inputs, other_feats)
        changed = lm(**kwargs).logits[:, -1]
    assert torch.equal(same, own)  # the same operations: bit for bit
    assert (changed - own).abs().max() > 1e-4


def test_features_of_wrong_shape_are_refused(loaded, astronaut):
    mod, _, model, processor = loaded
    inputs = mod.build_inputs(processor, "What is it?", [astronaut])
    with torch.no_grad():
        feats = mod.reference_features(model, inputs)
    with pytest.raises(InvalidInputError, match=r"image (tokens|slots)"):
        mod.generate(model, processor, inputs, max_new_tokens=2, features=feats[:, :-1])


def test_bad_images_are_refused(loaded):
    mod, _, _, processor = loaded
    with pytest.raises(InvalidInputError, match="at least one"):
        mod.build_inputs(processor, "Hi?", [])
    with pytest.raises(InvalidInputError, match=r"\(H, W, 3\)"):
        mod.build_inputs(processor, "Hi?", [np.zeros((32, 32), np.uint8)])
    with pytest.raises(InvalidInputError, match="uint8"):
        mod.build_inputs(processor, "Hi?", [np.zeros((32, 32, 3), np.float32)])


@pytest.mark.parametrize("mod", [llava, blip2, kosmos2], ids=["llava", "blip2", "kosmos2"])
def test_missing_model_says_how_to_get_it(mod, tmp_path):
    missing = tmp_path / "no_model_here"
    with pytest.raises(ModelNotFoundError) as err:
        mod.load(str(missing), device="cpu", dtype=torch.float32, local_files_only=True)
    msg = str(err.value)
    assert str(missing) in msg and "huggingface-cli download" in msg and "vlm.allow_download" in msg

    hub_id = "vlm-robot-tests/not-a-cached-model"
    with pytest.raises(ModelNotFoundError, match=f"{hub_id}.*not in the Hugging Face cache.*--local-dir"):
        mod.load(hub_id, device="cpu", dtype=torch.float32, local_files_only=True)

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        mod.load(str(empty), device="cpu", dtype=torch.float32, local_files_only=True)


def test_llava_several_images_in_one_prompt(tmp_path_factory, scene):
    path = llava.tiny(tmp_path_factory.mktemp("llava2"), seed=3)
    model, processor = llava.load(str(path), device="cpu", dtype=torch.float32, local_files_only=True)
    inputs = llava.build_inputs(processor, "Which one changed?", scene)
    tokens = int((inputs["input_ids"] == model.config.image_token_id).sum())
    assert inputs["pixel_values"].shape[0] == 2 and tokens == 2 * 25  # (30 / 6) ** 2 patches per image
    assert "USER:" in processor.decode(inputs["input_ids"][0])  # the chat template was used
    with torch.no_grad():
        feats = llava.reference_features(model, inputs)
    assert feats.shape == (2, 25, 32)
    assert llava.generate(model, processor, inputs, 5, features=feats) == llava.generate(model, processor, inputs, 5)


def test_blip2_keeps_the_newest_image(scene):
    from transformers import Blip2Processor, BlipImageProcessorPil

    from vlm_robot.vlm.families._tiny import byte_tokenizer

    processor = Blip2Processor(BlipImageProcessorPil(size={"height": 30, "width": 30}), byte_tokenizer(), 4)
    both = blip2.build_inputs(processor, "What is it?", scene)
    newest = blip2.build_inputs(processor, "What is it?", scene[-1:])
    assert both["pixel_values"].shape[0] == 1
    torch.testing.assert_close(both["pixel_values"], newest["pixel_values"])
    assert processor.decode(both["input_ids"][0]).endswith("Question: What is it? Answer:")


def test_kosmos2_several_images_and_grounding(build, scene):
    _, _, model, processor = build("kosmos2", "kosmos-2")
    inputs = kosmos2.build_inputs(processor, "Where is the cup?", scene)
    assert inputs["pixel_values"].shape[0] == 2 and int(inputs["image_embeds_position_mask"].sum()) == 2 * 64
    assert processor.decode(inputs["input_ids"][0]).count("</image>") == 2
    with torch.no_grad():
        feats = kosmos2.VisionEncoder(model).eval()(inputs["pixel_values"])
    raw = kosmos2.generate(model, processor, inputs, 6, raw=True)
    assert raw == kosmos2.generate(model, processor, inputs, 6, features=feats, raw=True)

    # grounded output, as the tokenizer decodes it after generation
    markup = (
        "<phrase> a red cup</phrase><object><patch_index_0044><patch_index_0863></object> next to"
        "<phrase> two chairs</phrase><object><patch_index_0000><patch_index_0101>"
        "</delimiter_of_multi_objects/><patch_index_0990><patch_index_1023></object>."
    )
    text = processor.decode(processor.tokenizer(markup, add_special_tokens=False)["input_ids"])
    entities = kosmos2.grounded_entities(processor, text)
    assert [e["phrase"] for e in entities] == ["a red cup", "two chairs", "two chairs"]
    cup = entities[0]["box"]  # cells 44 = (row 1, col 12) and 863 = (row 26, col 31) of 32 x 32
    assert cup == pytest.approx([12 / 32 + 1 / 64, 1 / 32 + 1 / 64, 31 / 32 + 1 / 64, 26 / 32 + 1 / 64])
    for e in entities:
        x0, y0, x1, y1 = e["box"]
        assert 0 <= x0 <= x1 <= 1 and 0 <= y0 <= y1 <= 1
    clean = kosmos2.clean_text(processor, text)
    assert clean == "a red cup next to two chairs."
    start, end = entities[0]["span"]
    assert clean[start:end] == "a red cup"
    assert "<" not in kosmos2.generate(model, processor, inputs, 6)  # plain text by default
