"""The transformers backend through the same path the VLM node uses (make_backend -> load -> stream),
on tiny random models of every supported family saved with save_pretrained."""

from __future__ import annotations

import os

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError, ModelNotFoundError
from vlm_robot.core.types import Frame
from vlm_robot.vlm.base import VLMConfig, make_backend
from vlm_robot.vlm.families import family

os.environ["HF_HUB_OFFLINE"] = "1"

# (family module, tiny() keyword args): every model type the families handle
MODELS = [("llava", {}), ("blip2", {}), ("blip2", {"model_type": "instructblip"}), ("kosmos2", {}),
          ("idefics3", {"model_type": "idefics3"}), ("idefics3", {"model_type": "smolvlm"}), ("qwen2_vl", {})]


@pytest.fixture(scope="module")
def frames(demo_scene) -> list[Frame]:
    return [Frame(demo_scene.render(t), t) for t in (11.0, 12.0)]


@pytest.mark.parametrize(("fam", "kw"), MODELS, ids=[f"{f}-{k.get('model_type', f)}" for f, k in MODELS])
def test_tiny_model_answers_through_the_node_loading_path(tmp_path, frames, fam, kw):
    path = family(fam).tiny(tmp_path / "model", seed=0, **kw)
    vlm = make_backend(VLMConfig(backend="transformers", model=str(path), max_new_tokens=6))
    vlm.load()
    try:
        pieces = list(vlm.stream("What do you see?", frames))
        assert all(isinstance(p, str) for p in pieces)
        a = vlm.answer("What do you see?", frames[-1:])
        assert isinstance(a.text, str) and a.backend == "transformers" and a.model == str(path)
        again = vlm.answer("What do you see?", frames[-1:])
        assert again.text == a.text  # greedy: the same question about the same frame, the same answer
        if fam == "kosmos2":
            assert all(k.startswith("<obj") and len(v["box"]) == 4 for k, v in a.entities.items())
    finally:
        vlm.close()


def test_missing_model_names_it_and_says_how_to_get_it(tmp_path):
    vlm = make_backend(VLMConfig(backend="transformers", model=str(tmp_path / "nowhere")))
    with pytest.raises(ModelNotFoundError, match="huggingface-cli download"):
        vlm.load()
    vlm = make_backend(VLMConfig(backend="transformers", model="llava-hf/llava-1.5-7b-hf"))
    with pytest.raises(ModelNotFoundError, match=r"llava-hf/llava-1\.5-7b-hf.*allow_download"):
        vlm.load()
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelNotFoundError, match=r"no config\.json"):
        make_backend(VLMConfig(backend="transformers", model=str(tmp_path / "empty"))).load()


def test_unsupported_architecture_and_bad_settings_are_refused(tmp_path):
    from transformers import BertConfig, BertModel

    BertModel(BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                         vocab_size=100)).save_pretrained(tmp_path / "bert")
    with pytest.raises(ConfigError, match="'bert' is not a supported VLM family"):
        make_backend(VLMConfig(backend="transformers", model=str(tmp_path / "bert"))).load()
    with pytest.raises(ConfigError, match=r"needs vlm\.model"):
        make_backend(VLMConfig(backend="transformers"))
    with pytest.raises(ConfigError, match="needs a CUDA device"):
        make_backend(VLMConfig(backend="transformers", model=str(tmp_path / "bert"), dtype="float16")).load()


def test_bad_frames_are_refused_with_what_was_expected(tmp_path):
    from vlm_robot.core.errors import InvalidInputError

    path = family("llava").tiny(tmp_path / "m")
    vlm = make_backend(VLMConfig(backend="transformers", model=str(path), max_new_tokens=2))
    vlm.load()
    with pytest.raises(InvalidInputError):
        list(vlm.stream("What?", [Frame(np.zeros((8, 8), np.uint8), 0.0)]))
