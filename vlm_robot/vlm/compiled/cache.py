"""The export / engine cache: its folder, the model hash that keys it, file names, sidecars, listing.

Cache layout (``$VLM_ROBOT_CACHE`` or ``~/.cache/vlm_robot``)::

    encoders/<family>-<model hash[:16]>/
        encoder-<input shapes>.onnx             fp32 export (dynamic dim 0 where the family allows it)
        encoder-<input shapes>.json             sidecar: family, source, model hash, shapes, opset, exporter, ...
        encoder-<input shapes>.int8.onnx        ONNX Runtime dynamic INT8 quantisation (CPU)
        encoder-<...>.<trt ver>.<gpu>.<precision>.b<min>-<opt>-<max>.engine   TensorRT engines

The model hash is the sha256 of the exported module's state dict (names, dtypes, shapes and bytes of
every tensor, fp32 on CPU): the ONNX graph depends on exactly these weights, whatever files they came from.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vlm_robot.core.errors import ConfigError, ModelNotFoundError

PRECISIONS = ("fp32", "fp16", "int8")



def cache_dir(root: str | Path | None = None) -> Path:
    """Root of the export / engine cache: ``root``, else ``$VLM_ROBOT_CACHE``, else ``~/.cache/vlm_robot``."""
    if root:
        return Path(root)
    return Path(os.environ.get("VLM_ROBOT_CACHE") or Path.home() / ".cache" / "vlm_robot")


def state_dict_sha256(module) -> str:
    """sha256 over every tensor of ``module.state_dict()`` (sorted names, dtype, shape, raw bytes)."""
    import torch

    h = hashlib.sha256()
    for name, t in sorted(module.state_dict().items()):
        t = t.detach().to("cpu").contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        if t.numel():
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def files_sha256(folder: str | Path, patterns: Sequence[str] = ("*.safetensors", "*.bin", "*.pt", "*.pth")) -> str:
    """sha256 over the weight files of a model folder (sorted names and contents).

    Raises:
        ModelNotFoundError: the folder holds no weight file.
    """
    folder = Path(folder)
    files = sorted({p for pat in patterns for p in folder.glob(pat)})
    if not files:
        raise ModelNotFoundError(
            f"no weight files ({', '.join(patterns)}) in {folder}; expected a folder written by save_pretrained"
        )
    h = hashlib.sha256()
    for p in files:
        h.update(p.name.encode() + b"|")
        with p.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 22), b""):
                h.update(chunk)
    return h.hexdigest()


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-").lower()


def shape_signature(shapes: Mapping[str, Sequence[int | str]]) -> str:
    """``{"pixel_values": ["batch", 3, 30, 30]}`` -> ``"pixel_values-Bx3x30x30"`` (file-name safe)."""
    parts = []
    for name, shape in shapes.items():
        dims = "x".join("B" if isinstance(d, str) else str(int(d)) for d in shape)
        parts.append(f"{_slug(name)}-{dims}")
    return "_".join(parts)


def engine_cache_key(
    model_hash: str, trt_version: str, gpu_name: str, precision: str, profile: Mapping[str, Sequence[Sequence[int]]]
) -> str:
    """File-name key of a TensorRT engine: a plan is valid only for this model, TensorRT, GPU, precision, shapes.

    Args:
        profile: input name -> ``(min_shape, opt_shape, max_shape)``.

    Returns:
        ``"<model hash[:12]>.trt<version>.<gpu>.<precision>.<batch min-opt-max>.<sha256 of all of it>[:10]"``.
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"TensorRT precision {precision!r} unknown; expected one of {PRECISIONS}")
    canon = json.dumps(
        {"model": model_hash, "trt": trt_version, "gpu": gpu_name, "precision": precision,
         "profile": {k: [list(map(int, s)) for s in v] for k, v in sorted(profile.items())}},
        sort_keys=True,
    )
    first = next(iter(profile.values()), ((1,), (1,), (1,)))
    batch = "-".join(str(int(s[0])) for s in first)
    digest = hashlib.sha256(canon.encode()).hexdigest()[:10]
    return f"{model_hash[:12]}.trt{_slug(trt_version)}.{_slug(gpu_name)}.{precision}.b{batch}.{digest}"


def sidecar_path(onnx_path: str | Path) -> Path:
    """``encoder.onnx`` -> ``encoder.json``."""
    return Path(onnx_path).with_suffix(".json")


def read_sidecar(onnx_path: str | Path) -> dict[str, Any]:
    """The JSON sidecar written next to an export (``{}`` when there is none: a foreign ONNX file)."""
    p = sidecar_path(onnx_path)
    return json.loads(p.read_text()) if p.is_file() else {}


def cached_exports(root: str | Path | None = None) -> list[dict[str, Any]]:
    """Every export and engine under the cache: ``{"path", "kind", "size_mb", **sidecar}``."""
    root = cache_dir(root)
    out = []
    for p in sorted((root / "encoders").glob("*/*")):
        if p.suffix == ".onnx":
            meta = read_sidecar(p) if not p.name.endswith(".int8.onnx") else {}
            kind = "onnx-int8" if p.name.endswith(".int8.onnx") else "onnx"
        elif p.suffix == ".engine":
            meta, kind = (json.loads(p.with_suffix(".engine.json").read_text())
                          if p.with_suffix(".engine.json").is_file() else {}), "engine"
        else:
            continue
        out.append({"path": str(p), "kind": kind, "size_mb": p.stat().st_size / 2**20, **meta})
    return out
