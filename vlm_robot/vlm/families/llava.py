"""LLaVA-1.5 (``model_type`` ``"llava"``): CLIP vision tower -> 2-layer MLP projector -> Llama/Vicuna.

In transformers 5.23 ``LlavaForConditionalGeneration`` keeps its parts in ``model.model`` (a ``LlavaModel``):
``vision_tower`` (``CLIPVisionModel``), ``multi_modal_projector`` and ``language_model``; ``model.lm_head``
is the output head. Image features are the hidden states of ``config.vision_feature_layer`` (``-2``: the
penultimate layer) with the CLS token dropped (``vision_feature_select_strategy == "default"``), projected:
``(num_images, (image_size // patch_size) ** 2, text_hidden)``. The processor expands each ``<image>`` of
the prompt to that many placeholder tokens, so several images in one prompt work.

LLaVA-NeXT (``llava_next``, any-resolution tiles + newline tokens, a different token count per image size)
is not handled here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.vlm.families._tiny import (
    byte_tokenizer,
    check_images,
    greedy_new_tokens,
    load_pretrained,
)

MODEL_TYPES: tuple[str, ...] = ("llava",)
vision_input_names: tuple[str, ...] = ("pixel_values",)

# LLaVA-1.5's conversation format ("USER: <image>\n... ASSISTANT:"), for tiny models; real checkpoints bring theirs.
CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'].upper() + ': ' }}"
    "{% if m['content'] is string %}{{ m['content'] + ' ' }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '<image>\n' }}{% endif %}{% endfor %}"
    "{% for c in m['content'] %}{% if c['type'] == 'text' %}{{ c['text'] + ' ' }}{% endif %}{% endfor %}"
    "{% endif %}{% endfor %}{% if add_generation_prompt %}{{ 'ASSISTANT:' }}{% endif %}"
)


def load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool):
    """Load a LLaVA checkpoint (folder or hub id) with its processor, in eval mode on ``device``.

    Raises:
        ModelNotFoundError: ``source`` missing (offline: not in the cache); the message says how to get it.
        ConfigError: ``source`` holds another architecture.
    """
    from transformers import LlavaForConditionalGeneration

    return load_pretrained("llava", MODEL_TYPES, source, device=device, dtype=dtype, local_files_only=local_files_only,
                           model_class=lambda _c: LlavaForConditionalGeneration)


def build_inputs(processor, question: str, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Processor output for ``question`` about ``images`` (all of them, in order, one ``<image>`` each).

    Uses the processor's chat template; a processor without one gets LLaVA-1.5's
    ``"USER: <image>\\n... ASSISTANT:"``.

    Returns:
        ``input_ids`` / ``attention_mask`` ``(1, seq)`` and ``pixel_values`` ``(num_images, 3, H, W)``.

    Raises:
        InvalidInputError: no image, or one that is not an ``(H, W, 3)`` uint8 array.
    """
    pil = check_images(images, component="llava.build_inputs")
    if processor.chat_template:
        content = [{"type": "image"} for _ in pil] + [{"type": "text", "text": question}]
        messages = [{"role": "user", "content": content}]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        prompt = "USER: " + "<image>\n" * len(pil) + question + " ASSISTANT:"
    return dict(processor(images=pil, text=prompt, return_tensors="pt"))


class VisionEncoder(nn.Module):
    """CLIP vision tower + multimodal projector of a LLaVA model (shares its weights).

    ``forward(pixel_values)`` with ``pixel_values`` ``(N, 3, H, W)`` returns ``(N, tokens, text_hidden)``,
    the features the language model puts at the ``<image>`` placeholders.
    """

    def __init__(self, model) -> None:
        super().__init__()
        base = model.model  # LlavaModel
        self.vision_tower = base.vision_tower
        self.projector = base.multi_modal_projector
        layer = model.config.vision_feature_layer
        self.feature_layers: tuple[int, ...] = (layer,) if isinstance(layer, int) else tuple(layer)
        self.drop_cls = model.config.vision_feature_select_strategy == "default"

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        out = self.vision_tower(pixel_values, output_hidden_states=True, return_dict=True)
        hidden = [out.hidden_states[i] for i in self.feature_layers]  # each (N, 1 + patches, vision_hidden)
        if self.drop_cls:
            hidden = [h[:, 1:] for h in hidden]  # (N, patches, vision_hidden)
        selected = hidden[0] if len(hidden) == 1 else torch.cat(hidden, dim=-1)
        return self.projector(selected)  # (N, patches, text_hidden)


def reference_features(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """``model.get_image_features`` for ``inputs["pixel_values"]``: ``(N, tokens, text_hidden)``."""
    pixel_values = inputs["pixel_values"].to(model.device, model.dtype)
    out = model.get_image_features(pixel_values=pixel_values, return_dict=True)
    return torch.stack(list(out.pooler_output))


def _language_inputs(model, inputs: dict[str, torch.Tensor], features: torch.Tensor | None) -> tuple[nn.Module, dict]:
    """The module and keyword arguments for its ``forward`` / ``generate`` (what :func:`generate` runs).

    Without ``features`` the model runs its own vision tower on ``pixel_values``; with them the features
    are passed as ``mm_encoder_outputs`` (transformers' hook for pre-computed encoder outputs) and no
    pixels are given, so the vision tower does not run.

    Raises:
        InvalidInputError: ``features`` do not fill the ``<image>`` placeholders exactly.
    """
    device = model.device
    kwargs = {k: v.to(device) for k, v in inputs.items()}
    if features is None:
        kwargs["pixel_values"] = kwargs["pixel_values"].to(model.dtype)
        return model, kwargs
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    for name in vision_input_names:
        kwargs.pop(name, None)
    n_slots = int((kwargs["input_ids"] == model.config.image_token_id).sum())
    if features.ndim != 3 or features.shape[0] * features.shape[1] != n_slots:
        raise InvalidInputError(
            f"llava: features of shape {tuple(features.shape)} do not fill the prompt's {n_slots} image tokens; "
            "expected (num_images, tokens, hidden) from VisionEncoder on the same inputs' pixel_values"
        )
    feats = features.to(device, model.dtype)  # (N, tokens, text_hidden)
    kwargs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=list(feats))}
    return model, kwargs


def generate(model, processor, inputs, max_new_tokens: int, features=None, streamer=None) -> str:
    """Greedy answer to ``inputs`` (from :func:`build_inputs`), only the new text.

    Args:
        features: ``(num_images, tokens, text_hidden)`` image features computed elsewhere (the compiled
            encoder); the vision tower is then skipped.
        streamer: a transformers streamer that receives the tokens as they come.
    """
    module, kwargs = _language_inputs(model, inputs, features)
    new = greedy_new_tokens(module, kwargs, max_new_tokens, streamer)
    return processor.batch_decode(new, skip_special_tokens=True)[0].strip()


def tiny(path: Path, seed: int = 0) -> Path:
    """Save a tiny random LLaVA (CLIP 30 px / 6 px patches, 2-layer Llama, hidden 32) + processor in ``path``."""
    from transformers import CLIPImageProcessorPil, LlavaConfig, LlavaForConditionalGeneration, LlavaProcessor

    path = Path(path)
    tok = byte_tokenizer(["<image>"], CHAT_TEMPLATE)
    image_size, patch = 30, 6
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = LlavaProcessor(
        image_processor=image_processor,
        tokenizer=tok,
        patch_size=patch,
        vision_feature_select_strategy="default",
        num_additional_image_tokens=1,  # CLIP's CLS token, dropped by the "default" strategy
        chat_template=CHAT_TEMPLATE,
    )
    config = LlavaConfig(
        vision_config=dict(
            model_type="clip_vision_model",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=image_size,
            patch_size=patch,
            projection_dim=32,
        ),
        text_config=dict(
            model_type="llama",
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=len(tok),
            max_position_embeddings=512,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
        ),
        image_token_index=tok.convert_tokens_to_ids("<image>"),
        image_seq_length=(image_size // patch) ** 2,
    )
    torch.manual_seed(seed)
    model = LlavaForConditionalGeneration(config).eval()
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
