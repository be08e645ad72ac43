"""BLIP-2 (``"blip-2"``) and InstructBLIP (``"instructblip"``): ViT -> Q-Former -> linear projection -> OPT / T5.

In transformers 5.23 the parts are attributes of the ``*ForConditionalGeneration`` model itself:
``vision_model``, ``query_tokens`` (a ``(1, num_query_tokens, qformer_hidden)`` parameter), ``qformer``,
``language_projection`` and ``language_model`` (``OPTForCausalLM``, or a T5 seq2seq model). The learned
queries cross-attend to the ViT's patch embeddings; their outputs, projected, are the image features:
``(num_images, num_query_tokens, text_hidden)``. The processor puts ``num_query_tokens`` ``<image>``
placeholders in front of the prompt and ``generate`` scatters the features there.

InstructBLIP's Q-Former also reads the instruction: its vision encoder takes
``("pixel_values", "qformer_input_ids", "qformer_attention_mask")``, not only ``pixel_values``
(:data:`vision_input_names` is BLIP-2's; :func:`vision_input_names_for` gives a model's own).

One image per prompt: the architecture has a single block of query tokens in front of the text. Given
several images (e.g. a clip of frames), :func:`build_inputs` keeps the newest one (the last in the list).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import nn

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.vlm.families._tiny import (
    byte_tokenizer,
    check_images,
    load_pretrained,
)

MODEL_TYPES: tuple[str, ...] = ("blip-2", "instructblip")
vision_input_names: tuple[str, ...] = ("pixel_values",)
"""BLIP-2's encoder inputs; InstructBLIP's are :data:`INSTRUCTBLIP_VISION_INPUT_NAMES`."""
INSTRUCTBLIP_VISION_INPUT_NAMES: tuple[str, ...] = ("pixel_values", "qformer_input_ids", "qformer_attention_mask")


def vision_input_names_for(model) -> tuple[str, ...]:
    """The keys of :func:`build_inputs`'s output that ``VisionEncoder(model)`` takes, in order."""
    if model.config.model_type == "instructblip":
        return INSTRUCTBLIP_VISION_INPUT_NAMES
    return vision_input_names


def load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool):
    """Load a BLIP-2 or InstructBLIP checkpoint (folder or hub id) with its processor, in eval mode.

    The Q-Former and query tokens stay in float32 whatever ``dtype`` (transformers keeps them so).

    Raises:
        ModelNotFoundError: ``source`` missing (offline: not in the cache); the message says how to get it.
        ConfigError: ``source`` holds another architecture.
    """
    from transformers import Blip2ForConditionalGeneration, InstructBlipForConditionalGeneration

    return load_pretrained(
        "blip2", MODEL_TYPES, source, device=device, dtype=dtype, local_files_only=local_files_only,
        model_class=lambda c: Blip2ForConditionalGeneration if c.model_type == "blip-2"
        else InstructBlipForConditionalGeneration)


def build_inputs(processor, question: str, images: list[np.ndarray]) -> dict[str, torch.Tensor]:
    """Processor output for ``question`` about the newest of ``images`` (BLIP-2 takes one image).

    The prompt is the processor's chat template when it has one, else BLIP-2's
    ``"Question: ... Answer:"`` (InstructBLIP: the question itself, the format it was tuned on).

    Returns:
        ``input_ids`` / ``attention_mask`` ``(1, num_query_tokens + seq)``, ``pixel_values`` ``(1, 3, H, W)``;
        InstructBLIP adds ``qformer_input_ids`` / ``qformer_attention_mask`` ``(1, qseq)``.

    Raises:
        InvalidInputError: no image, or one that is not an ``(H, W, 3)`` uint8 array.
    """
    pil = check_images(images, component="blip2.build_inputs")[-1:]  # the newest frame only
    instruct = getattr(processor, "qformer_tokenizer", None) is not None
    if getattr(processor, "chat_template", None):
        # text only: the processor itself puts the image placeholders in front of the prompt
        messages = [{"role": "user", "content": [{"type": "text", "text": question}]}]
        prompt = processor.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        prompt = question if instruct else f"Question: {question} Answer:"
    return dict(processor(images=pil, text=prompt, return_tensors="pt"))


class VisionEncoder(nn.Module):
    """ViT + Q-Former (with its fixed learned queries) + language projection of a BLIP-2 / InstructBLIP model.

    ``forward(pixel_values)`` (InstructBLIP: ``forward(pixel_values, qformer_input_ids,
    qformer_attention_mask)``) with ``pixel_values`` ``(N, 3, H, W)`` returns
    ``(N, num_query_tokens, text_hidden)``. Shares the model's weights.
    """

    def __init__(self, model) -> None:
        super().__init__()
        self.vision_model = model.vision_model
        self.query_tokens = model.query_tokens  # (1, Q, qformer_hidden), a parameter
        self.qformer = model.qformer
        self.language_projection = model.language_projection
        self.instruct = model.config.model_type == "instructblip"
        self.input_names = vision_input_names_for(model)

    def forward(
        self,
        pixel_values: torch.Tensor,
        qformer_input_ids: torch.Tensor | None = None,
        qformer_attention_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        image_embeds = self.vision_model(pixel_values=pixel_values, return_dict=True).last_hidden_state  # (N, P+1, V)
        image_mask = torch.ones(image_embeds.shape[:-1], dtype=torch.long, device=image_embeds.device)  # (N, P+1)
        queries = self.query_tokens.expand(image_embeds.shape[0], -1, -1)  # (N, Q, qformer_hidden)
        if self.instruct:
            if qformer_input_ids is None or qformer_attention_mask is None:
                raise InvalidInputError(
                    "blip2.VisionEncoder: InstructBLIP needs pixel_values, qformer_input_ids and "
                    "qformer_attention_mask (the keys vision_input_names_for(model) names)"
                )
            query_mask = torch.ones(queries.shape[:-1], dtype=torch.long, device=image_embeds.device)  # (N, Q)
            text_mask = qformer_attention_mask.to(query_mask.device)  # (N, T)
            out = self.qformer(
                input_ids=qformer_input_ids,
                attention_mask=torch.cat([query_mask, text_mask], dim=1),  # (N, Q + T)
                query_embeds=queries,
                encoder_hidden_states=image_embeds,
                encoder_attention_mask=image_mask,
                return_dict=True,
            ).last_hidden_state[:, : queries.shape[1]]  # (N, Q, qformer_hidden): the query positions
        else:
            out = self.qformer(
                query_embeds=queries,
                encoder_hidden_states=image_embeds,
                encoder_attention_mask=image_mask,
                return_dict=True,
            ).last_hidden_state  # (N, Q, qformer_hidden)
        out = out.to(image_embeds.dtype)  # the Q-Former is kept in float32
        return self.language_projection(out)  # (N, Q, text_hidden)


def reference_features(model, inputs: dict[str, torch.Tensor]) -> torch.Tensor:
    """``model.get_image_features`` on ``inputs``: ``(N, num_query_tokens, text_hidden)``."""
    kwargs = {k: inputs[k].to(model.device) for k in vision_input_names_for(model)}
    kwargs["pixel_values"] = kwargs["pixel_values"].to(model.dtype)
    return model.get_image_features(**kwargs, return_dict=True).pooler_output


def _language_inputs(model, inputs: dict[str, torch.Tensor], features: torch.Tensor) -> tuple[nn.Module, dict]:
    """The language model and the ``forward`` keyword arguments that feed it ``features``.

    The prompt's embeddings get ``features`` at the ``<image>`` placeholders, exactly as the model's own
    ``generate`` does with the features it computes; the vision model and Q-Former do not run.

    Raises:
        InvalidInputError: ``features`` do not fill the placeholders exactly.
    """
    device = model.device
    input_ids = inputs["input_ids"].to(device)  # (1, Q + seq)
    slots = input_ids == model.config.image_token_id  # (1, Q + seq)
    n_slots = int(slots.sum())
    if features.ndim != 3 or features.shape[0] * features.shape[1] != n_slots:
        raise InvalidInputError(
            f"blip2: features of shape {tuple(features.shape)} do not fill the prompt's {n_slots} image tokens; "
            "expected (1, num_query_tokens, hidden) from VisionEncoder on the same inputs"
        )
    embeds = model.get_input_embeddings()(input_ids)  # (1, Q + seq, text_hidden)
    embeds = embeds.masked_scatter(slots.unsqueeze(-1), features.to(device, embeds.dtype))
    attention_mask = inputs.get("attention_mask", torch.ones_like(input_ids)).to(device)
    return model.language_model, {"inputs_embeds": embeds, "attention_mask": attention_mask}


def generate(model, processor, inputs, max_new_tokens: int, features=None, streamer=None) -> str:
    """Greedy answer to ``inputs`` (from :func:`build_inputs`), only the new text.

    Args:
        features: ``(1, num_query_tokens, text_hidden)`` image features computed elsewhere (the compiled
            encoder); the vision model and Q-Former are then skipped.
        streamer: a transformers streamer that receives the tokens as they come.
    """
    opts = {"max_new_tokens": max_new_tokens, "do_sample": False, "num_beams": 1, "streamer": streamer}
    decoder_only = model.config.use_decoder_only_language_model
    with torch.inference_mode():
        if features is None:
            kwargs = {k: v.to(model.device) for k, v in inputs.items()}
            kwargs["pixel_values"] = kwargs["pixel_values"].to(model.dtype)
            out = model.generate(**kwargs, **opts)
        else:
            lm, kwargs = _language_inputs(model, inputs, features)
            if decoder_only:  # as the model's own generate: the output then starts with the prompt
                kwargs["input_ids"] = inputs["input_ids"].to(model.device)
            out = lm.generate(**kwargs, **opts)
    new = out[:, inputs["input_ids"].shape[1] :] if decoder_only else out  # T5: the decoder's tokens only
    return processor.batch_decode(new, skip_special_tokens=True)[0].strip()


def tiny(path: Path, seed: int = 0, *, model_type: str = "blip-2") -> Path:
    """Save a tiny random BLIP-2 (or, ``model_type="instructblip"``, InstructBLIP) + processor in ``path``.

    ViT 30 px / 6 px patches, 2-layer Q-Former with 8 queries, 2-layer OPT, hidden 32; byte tokenizers
    (InstructBLIP's Q-Former gets its own).

    Raises:
        ConfigError: ``model_type`` not in :data:`MODEL_TYPES`.
    """
    import transformers as tf

    if model_type not in MODEL_TYPES:
        raise ConfigError(f"blip2.tiny: model_type must be one of {MODEL_TYPES}, got {model_type!r}")
    path = Path(path)
    instruct = model_type == "instructblip"
    tok = byte_tokenizer(["<image>"])
    image_size, patch, n_query = 30, 6, 8
    image_processor = tf.BlipImageProcessorPil(size={"height": image_size, "width": image_size})
    vision = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        image_size=image_size,
        patch_size=patch,
        initializer_range=0.02,
    )
    qformer = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4)
    text = dict(
        model_type="opt",
        hidden_size=32,
        word_embed_proj_dim=32,
        ffn_dim=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        vocab_size=len(tok),
        max_position_embeddings=512,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    common = dict(num_query_tokens=n_query, image_token_index=tok.convert_tokens_to_ids("<image>"))
    if instruct:
        qtok = byte_tokenizer()
        qformer.update(vocab_size=len(qtok), pad_token_id=qtok.pad_token_id)
        config = tf.InstructBlipConfig(vision_config=vision, qformer_config=qformer, text_config=text, **common)
        processor = tf.InstructBlipProcessor(image_processor, tok, qtok, num_query_tokens=n_query)
        model_cls = tf.InstructBlipForConditionalGeneration
    else:
        config = tf.Blip2Config(vision_config=vision, qformer_config=qformer, text_config=text, **common)
        processor = tf.Blip2Processor(image_processor, tok, num_query_tokens=n_query)
        model_cls = tf.Blip2ForConditionalGeneration
    torch.manual_seed(seed)
    model = model_cls(config).eval()
    with torch.no_grad():
        model.query_tokens.normal_(0.0, 1.0)  # zeros at init: distinct queries make a more telling test model
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return path
