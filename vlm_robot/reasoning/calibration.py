"""Confidence calibration of the facial-expression model: temperature scaling and reliability.

What ``PersonState.mood_confidence`` means, and how it was measured
-------------------------------------------------------------------
No labelled facial-expression data set ships in any package the registries here offer (looked for:
FER2013, AffectNet, JAFFE, CK+, "facial expression", "emotion dataset"; the candidates found hold
models or Haar cascades, not labelled images). So the model is calibrated against the only ground
truth we can produce honestly offline: **its own consensus over nuisance-perturbed views of the same
face** (size, position, brightness, noise, a slight head turn; see ``vlm_robot/tools/calibrate_expression.py``).
A per-frame confidence of 0.7 then means: in 70 % of such views the top class is the class most other
views of that face agree on. It does **not** mean "70 % chance that a human annotator would say sad":
the model's own errors that are stable across views are invisible to this measure.

The tracker can apply one temperature ``T`` (``tracker.expression_temperature``) to each frame's
probabilities, ``p_T ∝ p ** (1 / T)``, before its exponential moving average; the smoothed class's
averaged probability is ``mood_confidence``. ``T`` is fitted by minimising a negative log-likelihood
(one scalar, golden-section search on ``log T``), on half of the faces and checked on the other half.

Measured (``vlm-robot calibrate expression``: 44 faces found in >= 8 of 20 frames, 722 frames, 483
tracker states), the packaged model is **under**-confident for this target:

* per frame, against the view consensus: ECE 0.193 with the raw softmax; T = 0.48 brings it to 0.038;
* smoothed ``mood_confidence`` against "the reading still holds over the next second" (the majority
  per-frame label of the next second): ECE 0.292 raw; T = 0.23 brings it to 0.047 (held out: 0.296 ->
  0.046, 0.287 -> 0.045). Raw smoothed readings of 0.3-0.4 held 66 % of the time, 0.4-0.5 77 %,
  0.5-0.6 94 %, above 0.6 every time.

The shipped configuration keeps ``T = 1.0`` on purpose: stability is only an upper bound on
correctness, and sharpening by 0.23 turned a face the model reads as 30-35 % sad into a "95 % sad"
person who was greeted as sad within 0.4 s. ``mood_confidence`` is therefore the model's smoothed
probability, and ``proactive.min_mood_confidence`` (0.45) is read through the table above: a concern
reading at that level held over the next second about 80-95 % of the time. Set the temperature to the
fitted value only with a labelled set that shows stability and correctness agree.
Everything here is numpy on a handful of numbers: cheap enough for every frame.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from vlm_robot.core.errors import ConfigError


def apply_temperature(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Temperature-scaled probabilities ``p ** (1/T)`` renormalised, along the last axis.

    Equivalent to dividing the logits by ``T`` (the model's outputs are a softmax, so ``log p`` are the
    logits up to a constant). ``T > 1`` softens an over-confident model, ``T < 1`` sharpens.

    Args:
        probs: ``(..., C)`` probabilities (rows summing to 1; zeros allowed).
        temperature: ``T > 0``.

    Raises:
        ConfigError: ``temperature`` is not positive.
    """
    if not temperature > 0:
        raise ConfigError(f"expression temperature must be > 0, got {temperature}; 1.0 leaves the model as is")
    p = np.asarray(probs, dtype=np.float64)
    if temperature == 1.0:
        return p
    logp = np.log(np.clip(p, 1e-12, 1.0)) / temperature
    logp -= logp.max(axis=-1, keepdims=True)
    e = np.exp(logp)
    return e / e.sum(axis=-1, keepdims=True)


def nll(probs: np.ndarray, labels: np.ndarray, temperature: float = 1.0) -> float:
    """Mean negative log-likelihood of integer ``labels`` ``(N,)`` under ``probs`` ``(N, C)`` scaled by ``T``."""
    p = apply_temperature(probs, temperature)
    return float(-np.mean(np.log(np.clip(p[np.arange(len(labels)), labels], 1e-12, 1.0))))


def fit_temperature(probs: np.ndarray, labels: np.ndarray, lo: float = 0.05, hi: float = 20.0) -> float:
    """The temperature minimising :func:`nll` of integer ``labels`` under ``probs`` ``(N, C)``, in ``[lo, hi]``.

    Raises:
        ConfigError: no samples, or ``probs`` and ``labels`` differ in length.
    """
    probs, labels = np.asarray(probs), np.asarray(labels, dtype=int)
    if len(probs) == 0 or len(probs) != len(labels):
        raise ConfigError(f"fit_temperature needs as many labels as probability rows, got {len(probs)} rows "
                          f"and {len(labels)} labels")
    return minimise_log_scalar(lambda t: nll(probs, labels, t), lo, hi)


def binary_nll(confidence: np.ndarray, correct: np.ndarray) -> float:
    """Mean negative log-likelihood of the outcomes ``correct`` ``(N,)`` under the probabilities ``confidence``."""
    c = np.clip(np.asarray(confidence, dtype=np.float64), 1e-6, 1 - 1e-6)
    ok = np.asarray(correct, dtype=np.float64)
    return float(-np.mean(ok * np.log(c) + (1 - ok) * np.log(1 - c)))


def minimise_log_scalar(loss: Callable[[float], float], lo: float, hi: float, steps: int = 40) -> float:
    """The ``x`` in ``[lo, hi]`` (both > 0) minimising a unimodal ``loss(x)``: golden-section search on ``log x``."""
    a, b = math.log(lo), math.log(hi)
    g = (math.sqrt(5) - 1) / 2
    c, d = b - g * (b - a), a + g * (b - a)
    fc, fd = loss(math.exp(c)), loss(math.exp(d))
    for _ in range(steps):
        if fc < fd:
            b, d, fd = d, c, fc
            c = b - g * (b - a)
            fc = loss(math.exp(c))
        else:
            a, c, fc = c, d, fd
            d = a + g * (b - a)
            fd = loss(math.exp(d))
    return float(math.exp((a + b) / 2))


@dataclass(frozen=True)
class Reliability:
    """Reliability of confidences: ECE and the per-bin table ``(low, high, count, mean confidence, accuracy)``."""

    ece: float
    bins: tuple[tuple[float, float, int, float, float], ...]
    count: int

    def table(self) -> str:
        rows = [f"  {lo:.1f}-{hi:.1f}  n={n:<5d} confidence {c:.2f}  accuracy {a:.2f}"
                for lo, hi, n, c, a in self.bins if n]
        return "\n".join(rows)


def reliability(confidence: np.ndarray, correct: np.ndarray, n_bins: int = 10) -> Reliability:
    """Expected calibration error of ``confidence`` ``(N,)`` against ``correct`` ``(N,)`` booleans.

    ECE = sum over equal-width bins of (share of samples) x |accuracy - mean confidence|.

    Raises:
        ConfigError: the arrays differ in length or are empty.
    """
    conf, ok = np.asarray(confidence, dtype=np.float64), np.asarray(correct, dtype=np.float64)
    if len(conf) == 0 or len(conf) != len(ok):
        raise ConfigError(f"reliability needs equal, non-empty arrays, got {len(conf)} and {len(ok)}")
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.digitize(conf, edges[1:-1]), 0, n_bins - 1)
    bins, ece = [], 0.0
    for i in range(n_bins):
        m = idx == i
        n = int(m.sum())
        c = float(conf[m].mean()) if n else 0.0
        a = float(ok[m].mean()) if n else 0.0
        ece += n / len(conf) * abs(a - c)
        bins.append((float(edges[i]), float(edges[i + 1]), n, c, a))
    return Reliability(float(ece), tuple(bins), len(conf))
