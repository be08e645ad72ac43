"""Kosmos-2 (``model_type`` ``"kosmos-2"``): CLIP ViT -> latent-query resampler -> grounded causal LM.

In transformers 5.23 ``Kosmos2ForConditionalGeneration`` holds ``vision_model`` (``Kosmos2VisionModel``,
its layers under ``vision_model.model``), ``image_to_text_projection`` (a dense layer, then 64 learned
latent queries cross-attending to the patches) and ``text_model`` (``Kosmos2TextForCausalLM``). Image
features: ``post_layernorm`` of the ViT's last hidden state, L2-normalised, projected:
``(num_images, latent_query_num = 64, text_embed_dim)``. They replace the prompt's placeholder tokens
where ``image_embeds_position_mask`` is 1 (``<image>`` 64 placeholders ``</image>``).

Grounding: with ``<grounding>`` in the prompt the model marks phrases in its answer,
``<phrase>a cup</phrase><object><patch_index_0044><patch_index_0863></object>`` (top-left and bottom-right
cells of a 32 x 32 grid). :func:`generate` returns that markup with ``raw=True``; :func:`grounded_entities`
turns it into phrases with boxes in ``[0, 1]`` image coordinates and :func:`clean_text` into plain text.
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

MODEL_TYPES: tuple[str, ...] = ("kosmos-2",)
vision_input_names: tuple[str, ...] = ("pixel_values",)


def load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool):
    """Load a Kosmos-2 checkpoint (folder or hub id) with its processor, in eval mode on ``device``.

    Raises:
        ModelNotFoundError: ``source`` missing (offline: not in the cache); the message says how to get it.
        ConfigError: ``source`` holds another architecture.
    """
    from transformers import Kosmos2ForConditionalGeneration

    return load_pretrained("kosmos2", MODEL_TYPES, source, device=device, dtype=dtype,
                           local_files_only=local_files_only, model_class=lambda _c: Kosmos2ForConditionalGeneration)


def build_inputs(processor, question: str, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Processor output for ``question`` about ``images``, asked with ``<grounding>`` so answers carry boxes.

    The prompt is ``"<grounding> Question: ... Answer:"`` (the processor has no chat template). Several
    images become consecutive ``<image>...</image>`` blocks in front of the text, in order; the
    language model takes them (it scatters every image's 64 features into its placeholders), though
    Kosmos-2 was trained on one image per prompt, so one image gives its best answers.

    Returns:
        ``input_ids`` / ``attention_mask`` / ``image_embeds_position_mask`` ``(1, seq)`` and
        ``pixel_values`` ``(num_images, 3, H, W)``.

    Raises:
        InvalidInputError: no image, or one that is not an ``(H, W, 3)`` uint8 array.
    """
    pil = check_images(images, component="kosmos2.build_inputs")
    prompt = f"<grounding> Question: {question} Answer:"
    enc = dict(processor(images=pil[0], text=prompt, return_tensors="pt"))
    if len(pil) == 1:
        return enc
    ids, slots = enc["input_ids"][0], enc["image_embeds_position_mask"][0]  # (seq,), (seq,)
    where = torch.nonzero(slots).flatten()
    start, end = int(where[0]) - 1, int(where[-1]) + 2  # the block <image> placeholders </image>
    n = len(pil)
    ids = torch.cat([ids[:start], ids[start:end].repeat(n), ids[end:]])
    slots = torch.cat([slots[:start], slots[start:end].repeat(n), slots[end:]])
    pixels = processor.image_processor(pil, return_tensors="pt")["pixel_values"]  # (n, 3, H, W)
    return {
        "pixel_values": pixels,
        "input_ids": ids[None],
        "attention_mask": torch.ones_like(ids)[None],
        "image_embeds_position_mask": slots[None],
    }


class VisionEncoder(nn.Module):
    """Kosmos-2's ViT (with its post-layernorm) + image-to-text projection (shares the model's weights).

    ``forward(pixel_values)`` with ``pixel_values`` ``(N, 3, H, W)`` returns ``(N, 64, text_embed_dim)``.
    """

    def __init__(self, model) -> None:
        super().__init__()
        self.vision_model = model.vision_model
        self.projection = model.image_to_text_projection

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        hidden = self.vision_model(pixel_values=pixel_values, return_dict=True).last_hidden_state  # (N, P+1, V)
        hidden = self.vision_model.model.post_layernorm(hidden)
        hidden = nn.functional.normalize(hidden, dim=-1)
        features, _ = self.projection(hidden)  # (N, 64, text_embed_dim)
        return features


def reference_features(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """The ``image_embeds`` the model's own ``forward`` computes for ``inputs``: ``(N, 64, text_embed_dim)``."""
    out = model(
        pixel_values=inputs["pixel_values"].to(model.device, model.dtype),
        input_ids=inputs["input_ids"].to(model.device),
        attention_mask=inputs["attention_mask"].to(model.device),
        image_embeds_position_mask=inputs["image_embeds_position_mask"].to(model.device),
        logits_to_keep=1,
    )
    return out.image_embeds


def _language_inputs(model, inputs: dict[str, torch.Tensor], features: torch.Tensor | None) -> tuple[nn.Module, dict]:
    """The model and the keyword arguments of its ``forward`` / ``generate`` (what :func:`generate` runs).

    With ``features`` they go in as ``image_embeds`` and no pixels are given: the vision model does not run.

    Raises:
        InvalidInputError: ``features`` do not fill the image placeholders exactly.
    """
    device = model.device
    kwargs = {k: v.to(device) for k, v in inputs.items()}
    if features is None:
        kwargs["pixel_values"] = kwargs["pixel_values"].to(model.dtype)
        return model, kwargs
    kwargs.pop("pixel_values", None)
    n_slots = int(kwargs["image_embeds_position_mask"].sum())
    if features.ndim != 3 or features.shape[0] * features.shape[1] != n_slots:
        raise InvalidInputError(
            f"kosmos2: features of shape {tuple(features.shape)} do not fill the prompt's {n_slots} image slots; "
            "expected (num_images, 64, hidden) from VisionEncoder on the same inputs' pixel_values"
        )
    kwargs["image_embeds"] = features.to(device, model.dtype)  # (N, 64, text_embed_dim)
    return model, kwargs


def generate(model, processor, inputs, max_new_tokens: int, features=None, streamer=None, *, raw: bool = False) -> str:
    """Greedy answer to ``inputs`` (from :func:`build_inputs`), only the new text.

    Args:
        features: ``(num_images, 64, text_embed_dim)`` image features computed elsewhere (the compiled
            encoder); the vision model is then skipped.
        streamer: a transformers streamer that receives the tokens as they come (with grounding markup).
        raw: keep the grounding markup (``<phrase>...</phrase><object><patch_index_....>...</object>``)
            for :func:`grounded_entities`; by default the plain text of :func:`clean_text` is returned.
    """
    module, kwargs = _language_inputs(model, inputs, features)
    text = processor.batch_decode(greedy_new_tokens(module, kwargs, max_new_tokens, streamer),
                                  skip_special_tokens=True)[0]
    return text if raw else clean_text(processor, text)


def clean_text(processor, text: str) -> str:
    """``text`` generated by Kosmos-2 without its grounding markup (the phrases stay, the boxes go)."""
    cleaned, _ = processor.post_process_generation(text, cleanup_and_extract=True)
    return cleaned.strip()


def grounded_entities(processor, text: str) -> list[dict]:
    """The phrases of Kosmos-2 output ``text`` (``generate(..., raw=True)``) with their boxes.

    Returns:
        One dict per box, in order of appearance: ``{"phrase": str, "box": [x0, y0, x1, y1],
        "span": (start, end)}``; the box is in image coordinates scaled to ``[0, 1]`` (multiply by the
        image's width / height), ``span`` the phrase's character range in :func:`clean_text`'s text. A
        phrase the model marked with several objects gives several dicts; one without a box gives none.
    """
    _, entities = processor.post_process_generation(text, cleanup_and_extract=True)
    out = []
    for phrase, span, boxes in entities:  # boxes: [(x0, y0, x1, y1), ...] in [0, 1]
        for box in boxes:
            x0, y0, x1, y1 = (min(max(float(v), 0.0), 1.0) for v in box)
            out.append({"phrase": phrase, "box": [x0, y0, x1, y1], "span": (int(span[0]), int(span[1]))})
    return out


def tiny(path: Path, seed: int = 0) -> Path:
    """Save a tiny random Kosmos-2 (ViT 32 px / 8 px patches, 2 layers, hidden 32, 64 latent queries) in ``path``.

    The byte tokenizer keeps XLM-R's id order (``<s> <pad> </s> <unk>``) so the image placeholders the
    processor uses (``unk + 1`` onwards) are ordinary tokens as in the real checkpoint.
    """
    from transformers import CLIPImageProcessorPil, Kosmos2Config, Kosmos2ForConditionalGeneration, Kosmos2Processor

    path = Path(path)
    tok = byte_tokenizer(base_tokens=("<s>", "<pad>", "</s>", "<unk>"))
    image_size = 32
    image_processor = CLIPImageProcessorPil(
        size={"shortest_edge": image_size}, crop_size={"height": image_size, "width": image_size}
    )
    processor = Kosmos2Processor(image_processor, tok)  # adds the grounding tags and 1024 patch-index tokens
    config = Kosmos2Config(
        text_config=dict(
            vocab_size=len(processor.tokenizer),
            embed_dim=32,
            layers=2,
            ffn_dim=64,
            attention_heads=4,
            max_position_embeddings=512,
            bos_token_id=tok.bos_token_id,
            eos_token_id=tok.eos_token_id,
            pad_token_id=tok.pad_token_id,
            init_std=0.1,  # at 0.02 the image barely moves a tiny model's logits (1e-5): a weak test model
        ),
        vision_config=dict(
            hidden_size=32,
            intermediate_size=64,
            num_hidden_layers=2,
            num_attention_heads=4,
            image_size=image_size,
            patch_size=8,
        ),
        latent_query_num=64,  # the processor's fixed number of image placeholders
    )
    torch.manual_seed(seed)
    model = Kosmos2ForConditionalGeneration(config).eval()
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
