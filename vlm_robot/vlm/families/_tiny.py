"""Pieces shared by the families: loading checks, greedy generation, and for the ``tiny()`` builders a
byte-level tokenizer made offline.

No tokenizer can be downloaded here, so tiny models get a byte-level BPE tokenizer without merges:
256 byte tokens (any text round-trips) plus the special tokens a family's processor needs.
"""

from __future__ import annotations

from collections.abc import Sequence


def byte_tokenizer(
    special_tokens: Sequence[str] = (),
    chat_template: str | None = None,
    *,
    base_tokens: Sequence[str] = ("<unk>", "<s>", "</s>", "<pad>"),
    **kwargs,
):
    """A ``PreTrainedTokenizerFast`` over bytes with ``special_tokens`` appended to the vocabulary.

    ``<unk>``, ``<s>``, ``</s>`` and ``<pad>`` always exist (ids 0-3, in the order of ``base_tokens``:
    Kosmos-2 wants XLM-R's ``("<s>", "<pad>", "</s>", "<unk>")``); ``kwargs`` are passed on
    (``bos_token=...``, ``extra_special_tokens=...``). ``len(tokenizer)`` is the vocab size a tiny
    text config needs.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    base = list(base_tokens)
    alphabet = pre_tokenizers.ByteLevel.alphabet()
    vocab = {tok: i for i, tok in enumerate(base + sorted(alphabet))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        unk_token=kwargs.pop("unk_token", "<unk>"),
        bos_token=kwargs.pop("bos_token", "<s>"),
        eos_token=kwargs.pop("eos_token", "</s>"),
        pad_token=kwargs.pop("pad_token", "<pad>"),
        **kwargs,
    )
    extra = [t for t in special_tokens if t not in vocab]
    if extra:
        fast.add_special_tokens({"additional_special_tokens": list(extra)})
    if chat_template is not None:
        fast.chat_template = chat_template
    return fast


SIMPLE_CHAT_TEMPLATE = (
    "{% for m in messages %}{{ m['role'] }}: "
    "{% if m['content'] is string %}{{ m['content'] }}{% else %}"
    "{% for c in m['content'] %}{% if c['type'] == 'image' %}<image>{% else %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}\n{% endfor %}{% if add_generation_prompt %}assistant:{% endif %}"
)
"""A plain chat template for tiny models (real checkpoints bring their own)."""


def check_model_source(source: str, *, local_files_only: bool) -> None:
    """Fail early, with the fix, when ``source`` cannot be loaded without the network.

    ``source`` is a folder saved with ``save_pretrained`` or a hub id. With ``local_files_only`` a
    hub id must already be in the Hugging Face cache; without it, the id is left to ``from_pretrained``.

    Raises:
        ModelNotFoundError: the folder does not exist or holds no ``config.json``, or (offline) the
            hub id is not in the cache; the message names it and says how to obtain it.
    """
    from pathlib import Path

    from huggingface_hub import constants, try_to_load_from_cache
    from huggingface_hub.errors import HFValidationError

    from vlm_robot.core.errors import ModelNotFoundError

    folder = Path(source).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise ModelNotFoundError(
                f"VLM model folder {str(folder)!r} holds no config.json; expected a folder written by "
                "save_pretrained (config.json, weights, processor files). Point vlm.model at such a folder"
            )
        return
    if not local_files_only:
        return
    try:
        cached = try_to_load_from_cache(source, "config.json")
    except HFValidationError:  # not a hub id: a path that does not exist
        cached = None
    if not isinstance(cached, str):
        raise ModelNotFoundError(
            f"VLM model {source!r} not found: no folder at that path and not in the Hugging Face cache "
            f"({constants.HF_HUB_CACHE}), and downloads are off. On a machine with network run "
            f"`huggingface-cli download {source} --local-dir DIR`, copy DIR here and set vlm.model: DIR; "
            "or set vlm.allow_download: true to let it be downloaded"
        )


def model_not_found(source: str, err: Exception):
    """A ``ModelNotFoundError`` for a ``from_pretrained`` failure ``err`` on ``source`` (raise it ``from err``)."""
    from vlm_robot.core.errors import ModelNotFoundError

    return ModelNotFoundError(
        f"VLM model {source!r} could not be loaded ({type(err).__name__}: {err}). Check the id or folder; "
        f"to fetch it elsewhere run `huggingface-cli download {source} --local-dir DIR` and set vlm.model: DIR"
    )


def check_images(images, *, component: str) -> list:
    """``images`` (RGB ``(H, W, 3)`` uint8 numpy arrays, at least one) as a list of PIL images.

    PIL images leave no doubt about the channel axis (a ``(3, 5, 3)`` array would be ambiguous to the
    image processors' guess).

    Raises:
        InvalidInputError: no image, or an image that is not an ``(H, W, 3)`` uint8 array;
            ``component`` names the caller in the message.
    """
    import numpy as np
    from PIL import Image

    from vlm_robot.core.errors import InvalidInputError

    if len(images) == 0:
        raise InvalidInputError(f"{component}: expected at least one RGB image, got none; pass the camera frame(s)")
    out = []
    for i, im in enumerate(images):
        if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
            got = f"{type(im).__name__} {getattr(im, 'shape', '')} {getattr(im, 'dtype', '')}".strip()
            raise InvalidInputError(
                f"{component}: image {i} must be an RGB uint8 numpy array of shape (H, W, 3), got {got}; "
                "convert camera messages with vlm_robot.core.image.image_to_rgb"
            )
        out.append(Image.fromarray(np.ascontiguousarray(im)))  # (H, W, 3) uint8 -> RGB
    return out


def load_pretrained(family: str, model_types: tuple[str, ...], source: str, *, device: str, dtype,
                    local_files_only: bool, model_class, processor_class=None):
    """The loading path every family shares: check the source, the architecture, then processor + model.

    Args:
        family: the family module's name, for messages.
        model_types: the ``config.model_type`` values the family handles.
        model_class: ``config -> class`` with ``from_pretrained`` for the model.
        processor_class: ``config -> class`` for the processor (default ``AutoProcessor``).

    Returns:
        ``(model in eval mode on device, processor)``.

    Raises:
        ModelNotFoundError: ``source`` missing (offline: not in the cache); the message says how to get it.
        ConfigError: ``source`` holds another architecture.
    """
    from transformers import AutoConfig, AutoProcessor

    from vlm_robot.core.errors import ConfigError

    check_model_source(source, local_files_only=local_files_only)
    try:
        config = AutoConfig.from_pretrained(source, local_files_only=local_files_only)
        if config.model_type not in model_types:
            raise ConfigError(
                f"{family}.load: {source!r} is a {config.model_type!r} model, expected one of {model_types}; "
                "pick the family with vlm_robot.vlm.families.family_for_model_type"
            )
        proc_cls = processor_class(config) if processor_class is not None else AutoProcessor
        processor = proc_cls.from_pretrained(source, local_files_only=local_files_only)
        model = model_class(config).from_pretrained(source, dtype=dtype, local_files_only=local_files_only)
    except OSError as err:
        raise model_not_found(source, err) from err
    return model.to(device).eval(), processor


def greedy_new_tokens(module, kwargs: dict, max_new_tokens: int, streamer=None, **extra):
    """Greedy generation from ``kwargs`` (with ``input_ids``): only the new tokens, ``(1, new)``."""
    import torch

    prompt_len = kwargs["input_ids"].shape[1]
    with torch.inference_mode():
        out = module.generate(**kwargs, max_new_tokens=max_new_tokens, do_sample=False, num_beams=1,
                              streamer=streamer, **extra)  # (1, prompt + new)
    return out[:, prompt_len:]
