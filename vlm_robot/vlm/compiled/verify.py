"""Verification: how close compiled features are to PyTorch's (:func:`compare_features`), and the parity of
an export or engine with the family's ``reference_features`` (:func:`verify_export`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.vlm.compiled.cache import read_sidecar
from vlm_robot.vlm.compiled.inputs import EXPORT_QUESTION, load_family_model, simulated_frames
from vlm_robot.vlm.compiled.trt import open_encoder


def compare_features(reference: Any, got: Any) -> dict[str, float]:
    """Accuracy of ``got`` against ``reference`` (same shape): max / mean abs diff and mean cosine similarity
    of the feature vectors (last axis)."""
    ref = np.asarray(reference.detach().float().cpu() if hasattr(reference, "detach") else reference, np.float64)
    out = np.asarray(got.detach().float().cpu() if hasattr(got, "detach") else got, np.float64)
    if ref.shape != out.shape:
        raise InvalidInputError(f"features have shape {out.shape}, the reference {ref.shape}; compare like with like")
    r = ref.reshape(-1, ref.shape[-1])
    o = out.reshape(-1, out.shape[-1])
    cos = (r * o).sum(1) / (np.linalg.norm(r, axis=1) * np.linalg.norm(o, axis=1) + 1e-12)
    return {"max_abs_diff": float(np.abs(ref - out).max()), "mean_abs_diff": float(np.abs(ref - out).mean()),
            "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min())}



def verify_export(onnx_path: str | Path, provider: str = "cpu", *, frames: Sequence[np.ndarray] | None = None,
                  allow_download: bool = False) -> dict[str, Any]:
    """Parity of an export (or engine) with PyTorch: the family's ``reference_features`` vs the session.

    Loads the model the sidecar names, builds inputs for ``frames`` (default two simulated frames, one
    prompt each) and returns :func:`compare_features` of the worst frame plus the shapes.
    """
    import torch

    onnx_path = Path(onnx_path)
    meta_path = onnx_path
    if onnx_path.suffix == ".engine":
        info = json.loads(onnx_path.with_suffix(".engine.json").read_text())
        meta_path = Path(info["onnx"])
    meta = read_sidecar(meta_path)
    if not meta.get("model_source"):
        raise InvalidInputError(f"{onnx_path}: its sidecar names no model source to compare against; "
                                "export with `vlm-robot models export MODEL`")
    fam, model, processor = load_family_model(meta["model_source"], allow_download=allow_download)
    sess = open_encoder(onnx_path, provider)
    names = list(meta["input_names"])
    worst: dict[str, Any] = {}
    for fr in frames if frames is not None else simulated_frames(2):
        inputs = fam.build_inputs(processor, EXPORT_QUESTION, [fr])
        with torch.inference_mode():
            ref = fam.reference_features(model, inputs)
        got = sess.run({k: inputs[k] for k in names})
        stats = compare_features(ref, got.reshape(tuple(ref.shape)) if got.size == ref.numel() else got)
        if not worst or stats["max_abs_diff"] > worst["max_abs_diff"]:
            worst = {**stats, "shape": list(ref.shape)}
    return {"family": meta.get("family"), "provider": provider, **worst}
