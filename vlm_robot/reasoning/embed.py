"""Sentence embeddings (all-MiniLM-L6-v2) with a numpy forward pass: no torch at run time.

The 6-layer BERT encoder runs in float32 numpy from the packaged ``model.safetensors``; tokens come
from ``tokenizer.json`` through the ``tokenizers`` library. Output: mean-pooled, L2-normalised
384-d vectors, the same as sentence-transformers' all-MiniLM-L6-v2 (cosine >= 0.9999 against
transformers, tests/test_embed.py), except that text is cut at ``max_tokens`` (64 by default,
sentence-transformers uses 256).
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np
from safetensors.numpy import load_file
from tokenizers import Tokenizer

from vlm_robot.core.assets import MINILM
from vlm_robot.core.errors import ConfigError, ModelNotFoundError

_BATCH = 32  # sentences per forward pass; sorted by length so a long one pads few short ones


def _erf(x: np.ndarray) -> np.ndarray:
    """erf by Abramowitz & Stegun 7.1.26 (|error| < 1.5e-7, i.e. float32 precision); numpy has none."""
    a = np.abs(x)
    t = 1.0 / (1.0 + 0.3275911 * a)
    poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))))
    return np.copysign(1.0 - poly * np.exp(-a * a), x)


def _gelu(x: np.ndarray) -> np.ndarray:
    """BERT's exact GELU, x * Phi(x), not the tanh approximation."""
    return 0.5 * x * (1.0 + _erf(x * np.float32(0.7071067811865476)))


def _layer_norm(x: np.ndarray, w: np.ndarray, b: np.ndarray, eps: float) -> np.ndarray:
    mu = x.mean(-1, keepdims=True)
    var = np.square(x - mu).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + np.float32(eps)) * w + b


def similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray | float:
    """Cosine similarity: a float for two vectors, else the (n, m) matrix of rows of ``a`` x rows of ``b``."""
    a2, b2 = np.atleast_2d(a).astype(np.float32), np.atleast_2d(b).astype(np.float32)
    a2 = a2 / np.maximum(np.linalg.norm(a2, axis=1, keepdims=True), 1e-12)
    b2 = b2 / np.maximum(np.linalg.norm(b2, axis=1, keepdims=True), 1e-12)
    sims = a2 @ b2.T
    return float(sims[0, 0]) if np.ndim(a) == 1 and np.ndim(b) == 1 else sims


class SentenceEmbedder:
    """all-MiniLM-L6-v2 sentence embeddings in numpy, with an LRU cache of per-text results.

    Attributes:
        dim: embedding size (384).
        max_tokens: longest token sequence encoded, [CLS] and [SEP] included; longer text is cut.
    """

    def __init__(self, model_dir: str | Path | None = None, max_tokens: int = 64, cache_size: int = 1024) -> None:
        """Load the weights and tokenizer (about 0.2 s, 90 MB).

        Args:
            model_dir: a sentence-transformers folder (model.safetensors, tokenizer.json, config.json) of
                a BERT model with mean pooling; None means the packaged all-MiniLM-L6-v2, sha256-checked.
            max_tokens: truncation length in tokens, 2..512.
            cache_size: texts whose embeddings are kept (least recently used dropped); 0 disables.

        Raises:
            ModelNotFoundError: the package is not installed, or ``model_dir`` lacks a file.
            ModelIntegrityError: the packaged weights' sha256 is not the pinned one.
            ConfigError: ``max_tokens`` out of range, or the folder's pooling is not mean pooling.
        """
        folder = MINILM.path().parent if model_dir is None else Path(model_dir).expanduser()
        for name in ("model.safetensors", "tokenizer.json", "config.json"):
            if not (folder / name).is_file():
                raise ModelNotFoundError(f"sentence embedder: {folder / name} missing (packaged: {MINILM.pip})")
        config = json.loads((folder / "config.json").read_text())
        if not 2 <= max_tokens <= config["max_position_embeddings"]:
            raise ConfigError(f"max_tokens must be in [2, {config['max_position_embeddings']}], got {max_tokens}")
        pooling = folder / "1_Pooling" / "config.json"
        if pooling.is_file() and not json.loads(pooling.read_text()).get("pooling_mode_mean_tokens", False):
            raise ConfigError(f"sentence embedder: {pooling} is not mean pooling, the only pooling implemented")
        self.max_tokens = max_tokens
        self.dim: int = config["hidden_size"]
        self._heads: int = config["num_attention_heads"]
        self._eps: float = config["layer_norm_eps"]
        self._tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self._tok.enable_truncation(max_length=max_tokens)
        self._tok.enable_padding(pad_id=config.get("pad_token_id", 0))  # to the longest in the batch
        w = load_file(str(folder / "model.safetensors"))
        self._word = w["embeddings.word_embeddings.weight"]  # (vocab, D)
        # (max_tokens, D): absolute position + token type 0 (a single segment), added once here
        self._pos = (w["embeddings.position_embeddings.weight"][:max_tokens]
                     + w["embeddings.token_type_embeddings.weight"][0])
        self._emb_ln = (w["embeddings.LayerNorm.weight"], w["embeddings.LayerNorm.bias"])
        self._layers: list[dict[str, np.ndarray]] = []
        for i in range(config["num_hidden_layers"]):
            p = f"encoder.layer.{i}."
            qkv = [p + f"attention.self.{n}" for n in ("query", "key", "value")]
            self._layers.append({  # weights stored (in, out) for x @ W; Q, K and V fused into one matmul
                "qkv_w": np.ascontiguousarray(np.concatenate([w[n + ".weight"] for n in qkv]).T),  # (D, 3D)
                "qkv_b": np.concatenate([w[n + ".bias"] for n in qkv]),  # (3D,)
                "o_w": np.ascontiguousarray(w[p + "attention.output.dense.weight"].T),  # (D, D)
                "o_b": w[p + "attention.output.dense.bias"],
                "ln1_w": w[p + "attention.output.LayerNorm.weight"], "ln1_b": w[p + "attention.output.LayerNorm.bias"],
                "i_w": np.ascontiguousarray(w[p + "intermediate.dense.weight"].T),  # (D, 4D)
                "i_b": w[p + "intermediate.dense.bias"],
                "f_w": np.ascontiguousarray(w[p + "output.dense.weight"].T),  # (4D, D)
                "f_b": w[p + "output.dense.bias"],
                "ln2_w": w[p + "output.LayerNorm.weight"], "ln2_b": w[p + "output.LayerNorm.bias"],
            })
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._cache_size = cache_size
        # the dialogue worker classifies while open talk's speculation (reasoning/open_talk.py) scores a reply
        self._lock = threading.Lock()

    def embed(self, texts: list[str]) -> np.ndarray:
        """Embed sentences.

        Args:
            texts: sentences (any length; an empty string is fine).

        Returns:
            float32 (len(texts), dim), each row of unit length.
        """
        with self._lock:
            return self._embed(texts)

    def _embed(self, texts: list[str]) -> np.ndarray:
        todo = list(dict.fromkeys(t for t in texts if t not in self._cache))  # unique, in order
        fresh: dict[str, np.ndarray] = {}
        todo.sort(key=len)
        for start in range(0, len(todo), _BATCH):
            chunk = todo[start : start + _BATCH]
            fresh.update(zip(chunk, self._forward(chunk), strict=True))
        out = np.empty((len(texts), self.dim), np.float32)
        for i, text in enumerate(texts):
            if text in fresh:
                out[i] = fresh[text]
            else:
                out[i] = self._cache[text]
                self._cache.move_to_end(text)
        if self._cache_size > 0:
            for text, vec in fresh.items():
                self._cache[text] = vec
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return out

    def _forward(self, texts: list[str]) -> np.ndarray:
        """Encoder + mean pooling + L2 normalisation of one padded batch: (B, D) float32."""
        enc = self._tok.encode_batch(texts)
        ids = np.array([e.ids for e in enc], np.int64)  # (B, L)
        mask = np.array([e.attention_mask for e in enc], np.float32)  # (B, L), 1 = real token
        n, length = ids.shape
        heads, hd = self._heads, self.dim // self._heads
        x = _layer_norm(self._word[ids] + self._pos[:length], *self._emb_ln, self._eps)  # (B, L, D)
        bias = ((1.0 - mask) * np.finfo(np.float32).min)[:, None, None, :]  # (B, 1, 1, L): no attending to padding
        scale = np.float32(1.0 / np.sqrt(hd))
        for lw in self._layers:
            qkv = (x @ lw["qkv_w"] + lw["qkv_b"]).reshape(n, length, 3, heads, hd)  # (B, L, 3, H, hd)
            q, k, v = (qkv[:, :, j].transpose(0, 2, 1, 3) for j in range(3))  # each (B, H, L, hd)
            scores = q @ k.transpose(0, 1, 3, 2) * scale + bias  # (B, H, L, L)
            scores = np.exp(scores - scores.max(-1, keepdims=True))
            ctx = (scores / scores.sum(-1, keepdims=True)) @ v  # (B, H, L, hd)
            ctx = ctx.transpose(0, 2, 1, 3).reshape(n, length, self.dim)  # (B, L, D)
            x = _layer_norm(ctx @ lw["o_w"] + lw["o_b"] + x, lw["ln1_w"], lw["ln1_b"], self._eps)
            h = _gelu(x @ lw["i_w"] + lw["i_b"])  # (B, L, 4D)
            x = _layer_norm(h @ lw["f_w"] + lw["f_b"] + x, lw["ln2_w"], lw["ln2_b"], self._eps)
        pooled = (x * mask[:, :, None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1e-9)  # (B, D)
        return (pooled / np.maximum(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12)).astype(np.float32)
