"""Word error rate, with case and punctuation normalised away."""

from __future__ import annotations

import re

_NUM = {"0": "zero", "1": "one", "2": "two", "3": "three", "4": "four", "5": "five", "6": "six", "7": "seven",
        "8": "eight", "9": "nine", "10": "ten"}


def normalise(text: str) -> list[str]:
    """Lower case, no punctuation (apostrophes inside words kept), single digits spelled out."""
    words = re.sub(r"[^a-z0-9' ]+", " ", text.lower().replace("-", " ")).split()
    return [_NUM.get(w, w) for w in (w.strip("'") for w in words) if w]


def word_errors(ref: str, hyp: str) -> tuple[int, int]:
    """(substitutions + deletions + insertions, reference words), by Levenshtein distance over words."""
    r, h = normalise(ref), normalise(hyp)
    prev = list(range(len(h) + 1))
    for i, rw in enumerate(r, 1):
        cur = [i] + [0] * len(h)
        for j, hw in enumerate(h, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (rw != hw))
        prev = cur
    return prev[-1], len(r)


def wer(refs: list[str], hyps: list[str]) -> float:
    """Corpus WER: all errors over all reference words."""
    errs = words = 0
    for ref, hyp in zip(refs, hyps, strict=True):
        e, n = word_errors(ref, hyp)
        errs, words = errs + e, words + n
    return errs / max(1, words)
