"""Pieces shared by the families' ``tiny()`` builders: a byte-level tokenizer made offline.

No tokenizer can be downloaded here, so tiny models get a byte-level BPE tokenizer without merges:
256 byte tokens (any text round-trips) plus the special tokens a family's processor needs.
"""

from __future__ import annotations

from collections.abc import Sequence


def byte_tokenizer(special_tokens: Sequence[str] = (), chat_template: str | None = None, **kwargs):
    """A ``PreTrainedTokenizerFast`` over bytes with ``special_tokens`` appended to the vocabulary.

    ``<unk>``, ``<s>``, ``</s>`` and ``<pad>`` always exist (ids 0-3); ``kwargs`` are passed on
    (``bos_token=...``, ``extra_special_tokens=...``). ``len(tokenizer)`` is the vocab size a tiny
    text config needs.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    base = ["<unk>", "<s>", "</s>", "<pad>"]
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
