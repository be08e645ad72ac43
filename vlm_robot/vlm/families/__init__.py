"""Per-architecture knowledge of the transformers VLM families, one module per family.

Every family module (``llava``, ``blip2``, ``idefics3``, ``qwen2_vl``, ``kosmos2``, ``palme``) defines:

``MODEL_TYPES: tuple[str, ...]``
    the ``config.model_type`` values it handles (``"llava"``; ``"blip-2"``, ``"instructblip"``; ...).
``load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool) -> (model, processor)``
    the real loading path (auto classes, ``from_pretrained``), used by the ``transformers`` backend.
``build_inputs(processor, question: str, images: list[np.ndarray]) -> dict[str, torch.Tensor]``
    the processor's output for a question about one or several RGB ``(H, W, 3)`` uint8 images.
``vision_input_names: tuple[str, ...]``
    the keys of ``build_inputs``'s output the vision encoder takes (``("pixel_values",)``; Qwen2-VL
    adds ``"image_grid_thw"``; Idefics3 ``"pixel_attention_mask"``).
``VisionEncoder(model) -> torch.nn.Module``
    vision tower + projector alone: ``forward(*[inputs[k] for k in vision_input_names])`` returns the
    image features the language model consumes, ``(num_images, tokens, hidden)`` or ``(tokens, hidden)``.
    This is what is exported to ONNX and compiled with TensorRT.
``reference_features(model, inputs) -> torch.Tensor``
    the same features computed by the model's own method (``get_image_features``), for parity tests.
``generate(model, processor, inputs, max_new_tokens, features=None, streamer=None) -> str``
    the answer text; ``features`` given means the language model gets those precomputed image
    features (from the compiled encoder) instead of running its own vision tower.
``tiny(path: Path, seed: int = 0) -> Path``
    save a tiny randomly initialised model + processor of the real architecture into ``path``
    (``save_pretrained``), loadable offline by ``load``; seconds on a CPU.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from vlm_robot.core.errors import ConfigError

FAMILIES: tuple[str, ...] = ("llava", "blip2", "idefics3", "qwen2_vl", "kosmos2", "palme")

# model types of this project's own models, which transformers' AutoConfig does not know: their folders are
# recognised from config.json alone (:func:`local_model_type`).
OWN_MODEL_TYPES: tuple[str, ...] = ("vlm_robot_palme",)


def family(name: str) -> ModuleType:
    """The family module called ``name`` (see :data:`FAMILIES`)."""
    if name not in FAMILIES:
        raise ConfigError(f"VLM family {name!r} unknown; expected one of {list(FAMILIES)}")
    return importlib.import_module(f"vlm_robot.vlm.families.{name}")


def local_model_type(source: str) -> str | None:
    """``model_type`` of a local model folder whose config.json names one of :data:`OWN_MODEL_TYPES`, else None.

    transformers' ``AutoConfig`` refuses model types it does not know, so the project's own models
    (``vlm_robot_palme``) are recognised here before it is asked.

    Raises:
        ModelNotFoundError: the folder's config.json is not valid JSON (the message says to re-create it).
    """
    import json
    from pathlib import Path

    from vlm_robot.core.errors import ModelNotFoundError

    cfg = Path(source).expanduser() / "config.json"
    if not cfg.is_file():
        return None
    try:
        model_type = json.loads(cfg.read_text()).get("model_type")
    except (OSError, ValueError, AttributeError) as e:
        raise ModelNotFoundError(f"{cfg} is not a readable JSON model config ({e}); re-create the model folder "
                                 "(train or copy it again)") from e
    return model_type if model_type in OWN_MODEL_TYPES else None


def family_for_model_type(model_type: str) -> ModuleType:
    """The family module that handles ``config.model_type`` ``model_type``.

    Raises:
        ConfigError: no family handles it; the message lists the supported model types.
    """
    supported = []
    for name in FAMILIES:
        mod = family(name)
        if model_type in mod.MODEL_TYPES:
            return mod
        supported.extend(mod.MODEL_TYPES)
    raise ConfigError(
        f"model_type {model_type!r} is not a supported VLM family; supported: {sorted(supported)}. "
        "Use a model of one of these architectures, or add a module under vlm_robot/vlm/families/"
    )
