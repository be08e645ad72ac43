"""Qwen2-VL (``model_type`` ``"qwen2_vl"``; ``"qwen2_5_vl"`` too): native-resolution ViT -> 2x2 merger -> Qwen2.

In transformers 5.23 ``Qwen2VLForConditionalGeneration`` keeps its parts in ``model.model``: ``visual``
(a ViT over flattened ``temporal_patch_size x patch_size x patch_size`` patches with 2-D rotary positions,
attention only within each image / frame, and a ``merger`` that joins 2 x 2 neighbouring patches into
one token of the LM's width) and ``language_model``. The image processor resizes each image to multiples
of ``patch_size * merge_size`` between ``min_pixels`` and ``max_pixels`` and returns all patches of all
images flattened, ``pixel_values`` ``(patches, 3 * t * p * p)``, with ``image_grid_thw`` ``(images, 3)``;
the processor expands each ``<|image_pad|>`` into ``t * h * w / merge_size**2`` tokens. The LM places
image tokens with 3-D multimodal rotary positions (``mm_token_type_ids`` + ``image_grid_thw``).

The processor has a video processor, and in transformers 5.23 a processor with a ``video_processor``
attribute cannot be constructed without torchvision (``AutoProcessor`` raises ``ImportError:
Qwen2VLVideoProcessor requires the Torchvision library``); torchvision from PyPI does not work beside the
CPU torch build this project uses, and this stack feeds clips as frames (images), so checkpoints load
with :func:`image_processor_class`: the real ``Qwen2VLProcessor`` minus its video part.
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.vlm.families._tiny import (
    byte_tokenizer,
    check_images,
    greedy_new_tokens,
    load_pretrained,
)

MODEL_TYPES: tuple[str, ...] = ("qwen2_vl", "qwen2_5_vl")
vision_input_names: tuple[str, ...] = ("pixel_values", "image_grid_thw")

# Qwen's ChatML conversation format with one <|vision_start|><|image_pad|><|vision_end|> per image, for
# tiny models; real checkpoints bring their own.
CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n"
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<|vision_start|><|image_pad|><|vision_end|>"
    "{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}{% endfor %}{% endif %}<|im_end|>\n{% endfor %}"
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|im_start|>", "<|im_end|>", "<|vision_start|>", "<|vision_end|>", "<|image_pad|>", "<|video_pad|>",
)
_PROCESSOR_CLASS = {"qwen2_vl": "Qwen2VLProcessor", "qwen2_5_vl": "Qwen2_5_VLProcessor"}


@functools.cache
def image_processor_class(model_type: str = "qwen2_vl") -> type:
    """``Qwen2VLProcessor`` / ``Qwen2_5_VLProcessor`` for images only (no video processor, no torchvision).

    It loads from a checkpoint like the real one (``from_pretrained`` reads the image processor,
    tokenizer and chat template) and prepares the same inputs for images.
    """
    import transformers
    from transformers.processing_utils import ProcessorMixin

    base = getattr(transformers, _PROCESSOR_CLASS[model_type])

    class _ImageOnlyProcessor(base):
        def __init__(self, image_processor=None, tokenizer=None, chat_template=None, **kwargs):
            self.image_token = getattr(tokenizer, "image_token", "<|image_pad|>")
            self.video_token = getattr(tokenizer, "video_token", "<|video_pad|>")
            self.image_token_id = getattr(tokenizer, "image_token_id", None) or tokenizer.convert_tokens_to_ids(
                self.image_token
            )
            self.video_token_id = getattr(tokenizer, "video_token_id", None) or tokenizer.convert_tokens_to_ids(
                self.video_token
            )
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

    name = _PROCESSOR_CLASS[model_type].replace("Processor", "ImageProcessor")
    _ImageOnlyProcessor.__name__ = _ImageOnlyProcessor.__qualname__ = name
    return _ImageOnlyProcessor


def load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool):
    """Load a Qwen2-VL / Qwen2.5-VL checkpoint (folder or hub id) with its processor, eval mode, on ``device``.

    Raises:
        ModelNotFoundError: ``source`` missing (offline: not in the cache); the message says how to get it.
        ConfigError: ``source`` holds another architecture.
    """
    from transformers import AutoModelForImageTextToText

    return load_pretrained("qwen2_vl", MODEL_TYPES, source, device=device, dtype=dtype,
                           local_files_only=local_files_only, model_class=lambda _c: AutoModelForImageTextToText,
                           processor_class=lambda c: image_processor_class(c.model_type))


def build_inputs(processor, question: str, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Processor output for ``question`` about ``images`` (all of them, in order, one image slot each).

    Uses the processor's chat template; a processor without one gets Qwen's ChatML format.

    Returns:
        ``input_ids`` / ``attention_mask`` / ``mm_token_type_ids`` ``(1, seq)``, ``pixel_values``
        ``(patches, 3 * t * p * p)`` for all images, ``image_grid_thw`` ``(images, 3)``.

    Raises:
        InvalidInputError: no image, or one that is not an ``(H, W, 3)`` uint8 array.
    """
    pil = check_images(images, component="qwen2_vl.build_inputs")
    content = [{"type": "image"} for _ in pil] + [{"type": "text", "text": question}]
    messages = [{"role": "user", "content": content}]
    template = None if processor.chat_template else CHAT_TEMPLATE
    prompt = processor.apply_chat_template(
        messages, chat_template=template, add_generation_prompt=True, tokenize=False
    )
    return dict(processor(images=pil, text=[prompt], return_tensors="pt"))


def _patch_layout(grid_thw: torch.Tensor, n_patches: int, merge: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Row/column of every patch and the attention segment (image frame) it belongs to.

    Pure tensor arithmetic on ``grid_thw`` (no ``.tolist()``, no Python loop over images), so an exported
    graph keeps ``grid_thw`` as a real input. Patches come image by image, frame by frame, and within a
    frame in ``merge x merge`` blocks (row-major blocks, row-major inside a block), as the processor
    flattens them.

    Args:
        grid_thw: ``(images, 3)`` temporal, height and width in patches.
        n_patches: ``pixel_values.shape[0]`` (= ``sum(t * h * w)``).
        merge: ``spatial_merge_size``.

    Returns:
        ``position_ids`` ``(patches, 2)`` (row, column) and ``segment`` ``(patches,)``.
    """
    t, h, w = grid_thw[:, 0], grid_thw[:, 1], grid_thw[:, 2]  # each (images,)
    per_frame = h * w
    ends = (t * per_frame).cumsum(0)  # (images,) end of each image's patches
    idx = torch.arange(n_patches, device=grid_thw.device)  # (patches,)
    image = (idx[:, None] >= ends[None, :]).sum(-1)  # (patches,) image of each patch
    local = idx - (ends - t * per_frame)[image]  # index inside its image
    frame = local // per_frame[image]
    j = local % per_frame[image]  # index inside its frame
    block, inside = j // (merge * merge), j % (merge * merge)
    blocks_per_row = w[image] // merge
    row = (block // blocks_per_row) * merge + inside // merge
    col = (block % blocks_per_row) * merge + inside % merge
    segment = (t.cumsum(0) - t)[image] + frame  # frames before this image + frame inside it
    return torch.stack([row, col], dim=-1), segment


class VisionEncoder(nn.Module):
    """Qwen2-VL's vision transformer incl. its patch merger (shares the model's weights).

    ``forward(pixel_values, image_grid_thw)`` with ``pixel_values`` ``(patches, 3 * t * p * p)`` and
    ``image_grid_thw`` ``(images, 3)`` (as :func:`build_inputs` returns them) gives
    ``(patches / merge**2, text_hidden)``: the features for the ``<|image_pad|>`` tokens of all images.

    Qwen2-VL: the rotary positions and the per-frame attention segments are computed from
    ``image_grid_thw`` with tensor arithmetic (:func:`_patch_layout`), and attention runs over all
    patches at once with a block-diagonal mask instead of the model's split per ``cu_seqlens`` (same
    result, no data-dependent shapes). The graph therefore exports with ``patches`` and ``images`` as
    dynamic axes and any resolution works (``fixed_grid`` is ``False``); its cost grows with
    ``patches**2``, like the model's.

    Qwen2.5-VL (window attention, whose indices the model computes in Python from the grid) runs the
    model's own vision transformer: exact in PyTorch, ``fixed_grid`` is ``True``, and ONNX export of it
    is not verified.
    """

    fixed_grid: bool = False

    def __init__(self, model) -> None:
        super().__init__()
        self.visual = model.model.visual
        self.merge = int(model.config.vision_config.spatial_merge_size)
        self.own_forward = model.config.model_type != "qwen2_vl"
        self.fixed_grid = self.own_forward

    def forward(self, pixel_values: torch.Tensor, image_grid_thw: torch.Tensor) -> torch.Tensor:
        if self.own_forward:
            return self.visual(pixel_values, grid_thw=image_grid_thw).pooler_output  # (tokens, text_hidden)
        from transformers.models.qwen2_vl.modeling_qwen2_vl import apply_rotary_pos_emb_vision

        n = pixel_values.shape[0]
        position_ids, segment = _patch_layout(image_grid_thw, n, self.merge)  # (n, 2), (n,)
        mask = (segment[:, None] == segment[None, :])[None, None]  # (1, 1, n, n) same frame only
        hidden = self.visual.patch_embed(pixel_values)  # (n, embed)
        cos, sin = self.visual.rotary_pos_emb(hidden, position_ids)  # each (n, head_dim)
        for blk in self.visual.blocks:
            attn = blk.attn
            x = blk.norm1(hidden)
            q, k, v = attn.qkv(x).reshape(n, 3, attn.num_heads, -1).permute(1, 0, 2, 3).unbind(0)  # (n, H, d)
            q, k = apply_rotary_pos_emb_vision(q, k, cos, sin)
            q, k, v = (s.transpose(0, 1)[None] for s in (q, k, v))  # (1, H, n, d)
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, scale=attn.scaling)  # (1, H, n, d)
            hidden = hidden + attn.proj(out[0].transpose(0, 1).reshape(n, -1))
            hidden = hidden + blk.mlp(blk.norm2(hidden))
        return self.visual.merger(hidden)  # (n / merge**2, text_hidden)


def reference_features(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """``model.get_image_features`` for ``inputs``: ``(tokens of all images, text_hidden)``."""
    out = model.get_image_features(
        pixel_values=inputs["pixel_values"], image_grid_thw=inputs["image_grid_thw"], return_dict=True
    )
    return torch.cat(list(out.pooler_output), dim=0)


def _language_inputs(model, inputs: dict[str, torch.Tensor], features: torch.Tensor | None) -> dict:
    """Keyword arguments for ``model.generate`` / ``model.forward`` (what :func:`generate` runs).

    Without ``features`` the model runs its own vision tower on ``pixel_values``; with them the features
    go in as ``mm_encoder_outputs`` (transformers' hook for pre-computed encoder outputs) and no pixels
    are given, so the vision tower does not run. ``image_grid_thw`` and ``mm_token_type_ids`` stay: the
    LM's 3-D rotary positions of the image tokens come from them, not from the pixels.

    Raises:
        InvalidInputError: ``features`` do not fill the ``<|image_pad|>`` placeholders exactly.
    """
    device = model.device
    kwargs = {k: v.to(device) for k, v in inputs.items()}
    if features is None:
        kwargs["pixel_values"] = kwargs["pixel_values"].to(model.dtype)
        return kwargs
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    kwargs.pop("pixel_values", None)
    hidden = model.config.text_config.hidden_size
    n_slots = int((kwargs["input_ids"] == model.config.image_token_id).sum())
    if features.shape[-1] != hidden or features.numel() != n_slots * hidden:
        raise InvalidInputError(
            f"qwen2_vl: features of shape {tuple(features.shape)} do not fill the prompt's {n_slots} image "
            f"tokens of width {hidden}; expected ({n_slots}, {hidden}) from VisionEncoder on the same inputs"
        )
    feats = features.reshape(-1, hidden).to(device, model.dtype)  # (tokens, text_hidden)
    kwargs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=(feats,))}
    return kwargs


def generate(model, processor, inputs, max_new_tokens: int, features=None, streamer=None) -> str:
    """Greedy answer to ``inputs`` (from :func:`build_inputs`), only the new text.

    Args:
        features: ``(tokens, text_hidden)`` image features computed elsewhere (the compiled encoder);
            the vision tower is then skipped.
        streamer: a transformers streamer that receives the tokens as they come.

    Raises:
        InvalidInputError: ``features`` do not match the prompt's image tokens.
    """
    kwargs = _language_inputs(model, inputs, features)
    tokenizer = processor.tokenizer
    new = greedy_new_tokens(model, kwargs, max_new_tokens, streamer, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(new[0], skip_special_tokens=True).strip()


def tiny(path: Path, seed: int = 0, *, model_type: str = "qwen2_vl") -> Path:
    """Save a tiny random Qwen2-VL (or Qwen2.5-VL) + processor in ``path``.

    14 px patches, 2 x 2 merge, images resized to 784-7056 pixels (1-9 image tokens each), a 2-layer
    vision transformer of width 32 and a 2-layer Qwen2 LM of width 64; a byte-level tokenizer with the
    family's special tokens. The folder has the files of a real checkpoint, minus the video processor's.

    Raises:
        ConfigError: ``model_type`` is not ``"qwen2_vl"`` or ``"qwen2_5_vl"``.
    """
    from transformers import (
        Qwen2_5_VLConfig,
        Qwen2_5_VLForConditionalGeneration,
        Qwen2VLConfig,
        Qwen2VLForConditionalGeneration,
        Qwen2VLImageProcessorPil,
    )

    if model_type not in MODEL_TYPES:
        raise ConfigError(f"qwen2_vl.tiny: model_type {model_type!r} unknown; expected one of {MODEL_TYPES}")
    path = Path(path)
    tok = byte_tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE, eos_token="<|im_end|>")
    patch, merge, temporal = 14, 2, 2
    image_processor = Qwen2VLImageProcessorPil(
        min_pixels=(patch * merge) ** 2, max_pixels=(3 * patch * merge) ** 2,
        patch_size=patch, merge_size=merge, temporal_patch_size=temporal,
    )
    text_config = dict(
        vocab_size=len(tok), hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=2048,
        rope_parameters={"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [2, 3, 3]},
        bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )
    vision_common = dict(
        depth=2, num_heads=2, patch_size=patch, spatial_merge_size=merge, temporal_patch_size=temporal,
    )
    token_ids = dict(
        image_token_id=tok.convert_tokens_to_ids("<|image_pad|>"),
        video_token_id=tok.convert_tokens_to_ids("<|video_pad|>"),
        vision_start_token_id=tok.convert_tokens_to_ids("<|vision_start|>"),
        vision_end_token_id=tok.convert_tokens_to_ids("<|vision_end|>"),
    )
    torch.manual_seed(seed)
    if model_type == "qwen2_vl":
        vision = dict(vision_common, embed_dim=32, mlp_ratio=2, hidden_size=64)
        model = Qwen2VLForConditionalGeneration(
            Qwen2VLConfig(text_config=text_config, vision_config=vision, **token_ids)
        )
    else:
        vision = dict(
            vision_common, hidden_size=32, intermediate_size=64, out_hidden_size=64, window_size=2 * patch * merge,
            fullatt_block_indexes=[1],
        )
        model = Qwen2_5_VLForConditionalGeneration(
            Qwen2_5_VLConfig(text_config=text_config, vision_config=vision, **token_ids)
        )
    path.mkdir(parents=True, exist_ok=True)
    model.eval().save_pretrained(path)
    image_processor.save_pretrained(path)
    tok.save_pretrained(path)
    (path / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
    processor_config = {"processor_class": _PROCESSOR_CLASS[model_type]}
    (path / "processor_config.json").write_text(json.dumps(processor_config, indent=2), encoding="utf-8")
    return path
