"""Idefics3 and SmolVLM (``model_type`` ``"idefics3"``, ``"smolvlm"``): SigLIP tiles -> pixel shuffle -> LM.

In transformers 5.23 ``Idefics3ForConditionalGeneration`` / ``SmolVLMForConditionalGeneration`` keep their
parts in ``model.model``: ``vision_model`` (a SigLIP-like ViT over square tiles of
``vision_config.image_size``), ``connector`` (pixel shuffle by ``scale_factor``, then a linear projection)
and ``text_model``. The image processor resizes each image, splits it into up to ``rows x cols`` tiles of
``max_image_size`` plus one global tile, and the processor expands each ``<image>`` of the prompt into
``<fake_token_around_image><row_i_col_j><image>*image_seq_len ... <global-img><image>*image_seq_len``.
One prompt with several images (a short clip as frames) therefore yields ``pixel_values``
``(1, tiles_of_all_images, 3, S, S)`` and ``image_seq_len`` features per tile.

SmolVLM's processor (and Qwen2-VL's) has a video processor, and in transformers 5.23 a processor with a
``video_processor`` attribute cannot even be constructed without torchvision (``BaseVideoProcessor`` /
``VideoProcessorMixin`` are then not importable from ``transformers``; ``AutoProcessor`` raises
``ImportError: SmolVLMVideoProcessor requires the Torchvision library``). torchvision from PyPI does not
work beside the CPU torch build this project uses, and this stack feeds clips as frames (images) anyway,
so SmolVLM loads with :func:`smolvlm_image_processor_class`: the real ``SmolVLMProcessor`` minus its video part.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np
import torch
from torch import nn

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.vlm.families._tiny import (
    SIMPLE_CHAT_TEMPLATE,
    byte_tokenizer,
    check_images,
    greedy_new_tokens,
    load_pretrained,
)

MODEL_TYPES: tuple[str, ...] = ("idefics3", "smolvlm")
vision_input_names: tuple[str, ...] = ("pixel_values", "pixel_attention_mask")

# Idefics3 / SmolVLM conversation format ("User:<image>question<end_of_utterance>\nAssistant:"), for tiny
# models; real checkpoints bring their own.
CHAT_TEMPLATE = (
    "<|im_start|>{% for m in messages %}{{ m['role'] | capitalize }}:"
    "{% if m['content'] is string %}{{ ' ' + m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}{{ '<image>' }}"
    "{% else %}{{ ' ' + c['text'] }}{% endif %}{% endfor %}{% endif %}<end_of_utterance>\n{% endfor %}"
    "{% if add_generation_prompt %}{{ 'Assistant:' }}{% endif %}"
)
SPECIAL_TOKENS: tuple[str, ...] = (
    "<|im_start|>",
    "<fake_token_around_image>",
    "<image>",
    "<end_of_utterance>",
    "<global-img>",
    *(f"<row_{r}_col_{c}>" for r in range(1, 7) for c in range(1, 7)),
)


@functools.cache
def smolvlm_image_processor_class() -> type:
    """``SmolVLMImageProcessor``: SmolVLM's processor for images only (built on first use, like any import)."""
    from transformers import SmolVLMProcessor
    from transformers.processing_utils import ProcessorMixin

    class _SmolVLMImageProcessor(SmolVLMProcessor):
        """``SmolVLMProcessor`` without its video processor (which needs torchvision): images only.

        Loads from a SmolVLM folder or hub id like the real one (``from_pretrained`` reads the image
        processor, tokenizer, ``image_seq_len`` and chat template) and prepares the same inputs for images.
        """

        def __init__(self, image_processor, tokenizer, image_seq_len: int = 169, chat_template=None, **kwargs):
            self.fake_image_token = getattr(tokenizer, "fake_image_token", "<fake_token_around_image>")
            self.image_token = getattr(tokenizer, "image_token", "<image>")
            self.image_token_id = tokenizer.convert_tokens_to_ids(self.image_token)
            self.end_of_utterance_token = getattr(tokenizer, "end_of_utterance_token", "<end_of_utterance>")
            self.global_image_token = getattr(tokenizer, "global_image_token", "<global-img>")
            self.image_seq_len = image_seq_len
            self.video_token = getattr(tokenizer, "video_token", "<video>")
            ProcessorMixin.__init__(self, image_processor, tokenizer, chat_template=chat_template)

        def apply_chat_template(self, conversation, chat_template=None, **kwargs):
            # SmolVLMProcessor's override reads video_processor.num_frames; images need none of it.
            return ProcessorMixin.apply_chat_template(self, conversation, chat_template, **kwargs)

    _SmolVLMImageProcessor.__name__ = _SmolVLMImageProcessor.__qualname__ = "SmolVLMImageProcessor"
    return _SmolVLMImageProcessor


def load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool):
    """Load an Idefics3 or SmolVLM checkpoint (folder or hub id) with its processor, eval mode, on ``device``.

    Raises:
        ModelNotFoundError: ``source`` missing (offline: not in the cache); the message says how to get it.
        ConfigError: ``source`` holds another architecture.
    """
    from transformers import AutoModelForImageTextToText, AutoProcessor

    return load_pretrained(
        "idefics3", MODEL_TYPES, source, device=device, dtype=dtype, local_files_only=local_files_only,
        model_class=lambda _c: AutoModelForImageTextToText,
        processor_class=lambda c: smolvlm_image_processor_class() if c.model_type == "smolvlm" else AutoProcessor)


def build_inputs(processor, question: str, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Processor output for ``question`` about ``images`` (all of them, in order, one ``<image>`` each).

    Uses the processor's chat template; a processor without one gets a plain ``"user: <image>...``
    prompt.

    Returns:
        ``input_ids`` / ``attention_mask`` ``(1, seq)``, ``pixel_values`` ``(1, tiles, 3, S, S)`` and
        ``pixel_attention_mask`` ``(1, tiles, S, S)``, ``tiles`` summed over all images.

    Raises:
        InvalidInputError: no image, or one that is not an ``(H, W, 3)`` uint8 array.
    """
    pil = check_images(images, component="idefics3.build_inputs")
    content = [{"type": "image"} for _ in pil] + [{"type": "text", "text": question}]
    messages = [{"role": "user", "content": content}]
    template = None if processor.chat_template else SIMPLE_CHAT_TEMPLATE
    prompt = processor.apply_chat_template(
        messages, chat_template=template, add_generation_prompt=True, tokenize=False
    )
    return dict(processor(images=[pil], text=[prompt], return_tensors="pt"))


class VisionEncoder(nn.Module):
    """SigLIP vision model + connector (pixel shuffle + projection) of an Idefics3 / SmolVLM model.

    ``forward(pixel_values, pixel_attention_mask)`` with ``pixel_values`` ``(B, T, 3, S, S)`` and
    ``pixel_attention_mask`` ``(B, T, S, S)`` (as :func:`build_inputs` returns them) gives
    ``(B * T, image_seq_len, text_hidden)``: the features of each tile, in prompt order.

    Unlike ``get_image_features`` it does not drop all-zero padding tiles (a boolean index, whose
    output size depends on the data): those exist only when several prompts of different tile counts
    are batched, never in the single-prompt inputs of :func:`build_inputs`. Everything else is tensor
    arithmetic on shapes, so the graph exports with the tile count ``T`` as a dynamic axis
    (``fixed_grid`` is ``False``); ``S`` is fixed by the checkpoint (``max_image_size``).
    """

    fixed_grid: bool = False

    def __init__(self, model) -> None:
        super().__init__()
        base = model.model  # Idefics3Model / SmolVLMModel
        self.vision_model = base.vision_model
        self.connector = base.connector
        self.patch_size = int(model.config.vision_config.patch_size)

    def forward(self, pixel_values: torch.Tensor, pixel_attention_mask: torch.Tensor) -> torch.Tensor:
        b, t, c, h, w = pixel_values.shape
        p = self.patch_size
        hp, wp = h // p, w // p
        pixels = pixel_values.reshape(b * t, c, h, w).to(self.vision_model.dtype)  # (N, 3, S, S)
        mask = pixel_attention_mask.reshape(b * t, h, w)[:, : hp * p, : wp * p]  # (N, S, S)
        # a patch takes part when any of its pixels is real (what get_image_features computes with unfold)
        patch_mask = mask.reshape(b * t, hp, p, wp, p).sum(dim=(2, 4)) > 0  # (N, S/p, S/p)
        hidden = self.vision_model(pixel_values=pixels, patch_attention_mask=patch_mask).last_hidden_state
        return self.connector(hidden)  # (N, (S/p)^2 / scale^2, text_hidden)


def reference_features(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """``model.get_image_features`` for ``inputs``: ``(tiles, image_seq_len, text_hidden)``."""
    out = model.get_image_features(
        pixel_values=inputs["pixel_values"], pixel_attention_mask=inputs["pixel_attention_mask"], return_dict=True
    )
    feats = torch.cat(list(out.pooler_output), dim=0)  # (tiles * image_seq_len, text_hidden)
    return feats.reshape(-1, model.model.image_seq_len, feats.shape[-1])


def _language_inputs(model, inputs: dict[str, torch.Tensor], features: torch.Tensor | None) -> dict:
    """Keyword arguments for ``model.generate`` / ``model.forward`` (what :func:`generate` runs).

    Without ``features`` the model runs its own vision tower on ``pixel_values``; with them the features
    go in as ``mm_encoder_outputs`` (transformers' hook for pre-computed encoder outputs) and no pixels
    are given, so the vision tower does not run.

    Raises:
        InvalidInputError: ``features`` do not fill the ``<image>`` placeholders exactly.
    """
    device = model.device
    kwargs = {k: v.to(device) for k, v in inputs.items()}
    if features is None:
        kwargs["pixel_values"] = kwargs["pixel_values"].to(model.dtype)
        return kwargs
    from transformers.modeling_outputs import BaseModelOutputWithPooling

    for name in vision_input_names:
        kwargs.pop(name, None)
    hidden = model.config.text_config.hidden_size
    n_slots = int((kwargs["input_ids"] == model.config.image_token_id).sum())
    if features.shape[-1] != hidden or features.numel() != n_slots * hidden:
        raise InvalidInputError(
            f"idefics3: features of shape {tuple(features.shape)} do not fill the prompt's {n_slots} image "
            f"tokens of width {hidden}; expected (tiles, image_seq_len, {hidden}) from VisionEncoder on the "
            "same inputs' pixel_values"
        )
    feats = features.reshape(-1, hidden).to(device, model.dtype)  # (tiles * image_seq_len, text_hidden)
    kwargs["mm_encoder_outputs"] = {"image": BaseModelOutputWithPooling(pooler_output=[feats])}
    return kwargs


def generate(model, processor, inputs, max_new_tokens: int, features=None, streamer=None) -> str:
    """Greedy answer to ``inputs`` (from :func:`build_inputs`), only the new text.

    Args:
        features: ``(tiles, image_seq_len, text_hidden)`` image features computed elsewhere (the
            compiled encoder); the vision tower is then skipped.
        streamer: a transformers streamer that receives the tokens as they come.

    Raises:
        InvalidInputError: ``features`` do not match the prompt's image tokens.
    """
    kwargs = _language_inputs(model, inputs, features)
    tokenizer = processor.tokenizer
    new = greedy_new_tokens(model, kwargs, max_new_tokens, streamer, pad_token_id=tokenizer.pad_token_id)
    return tokenizer.decode(new[0], skip_special_tokens=True).strip()


def tiny(path: Path, seed: int = 0, *, model_type: str = "smolvlm") -> Path:
    """Save a tiny random SmolVLM (or Idefics3) + processor in ``path``.

    SigLIP over 32 px tiles with 8 px patches (16 patches, 4 tokens per tile after the 2x pixel shuffle),
    images resized to a longest edge of 64 px and split into at most 2 x 2 tiles + 1 global tile,
    2-layer Llama with hidden 64; a byte-level tokenizer with the family's special tokens.

    Raises:
        ConfigError: ``model_type`` is not ``"smolvlm"`` or ``"idefics3"``.
    """
    import json

    from transformers import (
        Idefics3Config,
        Idefics3ForConditionalGeneration,
        Idefics3ImageProcessorPil,
        Idefics3Processor,
        SmolVLMConfig,
        SmolVLMForConditionalGeneration,
        SmolVLMImageProcessorPil,
    )

    if model_type not in MODEL_TYPES:
        raise ConfigError(f"idefics3.tiny: model_type {model_type!r} unknown; expected one of {MODEL_TYPES}")
    path = Path(path)
    tile, patch, scale = 32, 8, 2
    image_seq_len = (tile // patch) ** 2 // scale**2
    tok = byte_tokenizer(SPECIAL_TOKENS, CHAT_TEMPLATE, eos_token="<end_of_utterance>")
    image_kwargs = dict(
        size={"longest_edge": 2 * tile}, max_image_size={"longest_edge": tile}, do_image_splitting=True
    )
    config_kwargs = dict(
        vision_config=dict(
            hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            image_size=tile, patch_size=patch,
        ),
        text_config=dict(
            model_type="llama", hidden_size=64, intermediate_size=128, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, vocab_size=len(tok), max_position_embeddings=1024,
            bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
        ),
        scale_factor=scale,
        image_token_id=tok.convert_tokens_to_ids("<image>"),
        pad_token_id=tok.pad_token_id,
    )
    torch.manual_seed(seed)
    path.mkdir(parents=True, exist_ok=True)
    if model_type == "idefics3":
        processor = Idefics3Processor(
            image_processor=Idefics3ImageProcessorPil(**image_kwargs), tokenizer=tok,
            image_seq_len=image_seq_len, chat_template=CHAT_TEMPLATE,
        )
        model = Idefics3ForConditionalGeneration(Idefics3Config(**config_kwargs)).eval()
        processor.save_pretrained(path)
    else:
        model = SmolVLMForConditionalGeneration(SmolVLMConfig(**config_kwargs)).eval()
        # The folder a real SmolVLM checkpoint has (minus the video processor config, see the module doc).
        SmolVLMImageProcessorPil(**image_kwargs).save_pretrained(path)
        tok.save_pretrained(path)
        (path / "chat_template.jinja").write_text(CHAT_TEMPLATE, encoding="utf-8")
        processor_config = {"processor_class": "SmolVLMProcessor", "image_seq_len": image_seq_len}
        (path / "processor_config.json").write_text(json.dumps(processor_config, indent=2), encoding="utf-8")
    model.save_pretrained(path)
    return path
