"""torch -> ONNX: export a family's vision encoder (tower + projector) with a JSON sidecar, checked against
PyTorch with ONNX Runtime on the CPU, and cached by the weights' hash (:mod:`vlm_robot.vlm.compiled.cache`)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.vlm.compiled.cache import (
    _slug,
    cache_dir,
    read_sidecar,
    shape_signature,
    sidecar_path,
    state_dict_sha256,
)
from vlm_robot.vlm.compiled.inputs import (
    encoder_input_names,
    family_name,
    load_family_model,
    simulated_frames,
    vision_inputs,
)
from vlm_robot.vlm.compiled.ort import OUTPUT_NAME, EncoderSession

log = logging.getLogger(__name__)



OPSET = 18



@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_encoder` wrote.

    Attributes:
        onnx_path: the ``.onnx`` file; its sidecar is :func:`sidecar_path` of it.
        meta: the sidecar's content.
        cached: true when an identical export was already there and nothing was exported.
    """

    onnx_path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    cached: bool = False


def _dynamic_dims(inputs: Mapping[str, Any], fixed: bool) -> dict[str, tuple[int, ...]]:
    """Which dims of each input are dynamic: dim 0 (images / patches); also dim 1 (tiles) when some input is
    5-D ``(B, T, 3, S, S)`` (Idefics3), for the inputs of rank >= 4. None when the family fixes the grid."""
    if fixed:
        return {k: () for k in inputs}
    tiles = any(getattr(v, "ndim", 0) == 5 for v in inputs.values())
    return {k: ((0, 1) if tiles and v.ndim >= 4 else (0,)) for k, v in inputs.items()}


def _doubled(inputs: Mapping[str, Any], dims: Mapping[str, tuple[int, ...]]) -> dict[str, Any]:
    """Each input repeated twice along its dynamic dims: torch.export specialises dims of size 1, so the
    example that defines a dynamic axis must have it >= 2."""
    import torch

    out = {}
    for k, v in inputs.items():
        for d in dims[k]:
            v = torch.cat([v, v], dim=d)
        out[k] = v
    return out


def export_encoder(
    model_source_or_module: Any,
    out_path: str | Path | None = None,
    *,
    inputs: Mapping[str, Any] | None = None,
    family: str = "",
    model_source: str = "",
    allow_download: bool = False,
    opset: int = OPSET,
    exporter: str = "auto",
    dynamic: bool = True,
    half: bool = False,
    force: bool = False,
    cache_root: str | Path | None = None,
) -> ExportResult:
    """Export a vision encoder (tower + projector) to ONNX with a JSON sidecar, and check it with ORT on CPU.

    Args:
        model_source_or_module: a model folder / hub id (its family is found from ``config.model_type`` and
            ``family.VisionEncoder(model)`` is exported with inputs the processor makes for a simulated
            frame), or a ``torch.nn.Module`` whose ``forward`` takes ``inputs``'s values positionally.
        out_path: the ``.onnx`` to write; default the cache (see the module docstring).
        inputs: name -> example tensor, in forward order; required for a module.
        family: recorded in the sidecar (found automatically for a model source).
        model_source: recorded in the sidecar when a module is given.
        opset: ONNX opset (18).
        exporter: ``"auto"`` (``torch.onnx.export(dynamo=True)``, then the TorchScript exporter if that
            fails), ``"dynamo"`` or ``"torchscript"``.
        dynamic: dynamic image batch (dim 0; Idefics3 also tiles). Ignored (fixed shapes, recorded) when the
            encoder sets ``fixed_grid = True``.
        half: export in float16 (for GPU execution providers; CPU exports stay float32).
        force: export even when the cache already holds it.
        cache_root: cache folder instead of :func:`cache_dir`'s default (when ``out_path`` is not given).

    Returns:
        the ONNX path, the sidecar, and whether it came from the cache.

    Raises:
        ConfigError: a module without ``inputs``, or an unknown exporter.
        BackendUnavailableError: torch / onnx / onnxscript missing.
        InvalidInputError: both exporters failed (the message carries both errors).
    """
    import torch

    if exporter not in ("auto", "dynamo", "torchscript"):
        raise ConfigError(f"exporter {exporter!r} unknown; expected auto, dynamo or torchscript")
    fam = None
    source = model_source
    if isinstance(model_source_or_module, torch.nn.Module):
        if inputs is None:
            raise ConfigError(
                "export_encoder: a module needs example inputs (inputs={'pixel_values': tensor, ...}); "
                "or pass a model folder / hub id to build them with the family's processor"
            )
        encoder = model_source_or_module
        example = dict(inputs)
    else:
        source = str(model_source_or_module)
        fam, model, processor = load_family_model(source, allow_download=allow_download)
        family = family or family_name(fam)
        encoder = fam.VisionEncoder(model)
        names = encoder_input_names(fam, model, encoder)
        example = vision_inputs(fam, processor, names, simulated_frames(1))
    return export_module(
        encoder, example, out_path, family=family, model_source=source, opset=opset, exporter=exporter,
        dynamic=dynamic, half=half, force=force, cache_root=cache_root,
    )


def export_module(
    encoder,
    example: Mapping[str, Any],
    out_path: str | Path | None = None,
    *,
    family: str = "",
    model_source: str = "",
    opset: int = OPSET,
    exporter: str = "auto",
    dynamic: bool = True,
    half: bool = False,
    force: bool = False,
    cache_root: str | Path | None = None,
) -> ExportResult:
    """:func:`export_encoder` for an encoder module and its example inputs (one prompt's worth)."""
    import copy

    import torch

    encoder = encoder.eval()
    params = list(encoder.parameters())
    if params and (params[0].device.type != "cpu" or params[0].dtype != torch.float32):
        encoder = copy.deepcopy(encoder).to("cpu", torch.float32)  # export from fp32 weights on the CPU
    example = {k: v.detach().to("cpu") for k, v in example.items()}
    example = {k: (v.float() if v.is_floating_point() else v) for k, v in example.items()}
    if half:
        encoder = copy.deepcopy(encoder).half()
        example = {k: (v.half() if v.is_floating_point() else v) for k, v in example.items()}
    fixed = bool(getattr(encoder, "fixed_grid", False)) or not dynamic
    dims = _dynamic_dims(example, fixed)
    shapes = {k: [f"{k}_dim{d}" if d in dims[k] else int(s) for d, s in enumerate(v.shape)] for k, v in example.items()}
    model_hash = state_dict_sha256(encoder)
    if out_path is None:
        folder = cache_dir(cache_root) / "encoders" / f"{_slug(family or 'module')}-{model_hash[:16]}"
        out_path = folder / f"encoder-{shape_signature(shapes)}{'.fp16' if half else ''}.onnx"
    out_path = Path(out_path)
    if out_path.is_file() and not force:
        meta = read_sidecar(out_path)
        if meta.get("model_hash") == model_hash and meta.get("opset") == opset:
            log.info("encoder export found in cache: %s", out_path)
            return ExportResult(out_path, meta, cached=True)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    names = list(example)
    trace_inputs = _doubled(example, dims)
    n_params = sum(p.numel() for p in encoder.parameters())
    t0 = time.perf_counter()
    used, errors = _run_exporters(encoder, trace_inputs, out_path, names, dims, opset, exporter, n_params)
    export_s = time.perf_counter() - t0
    with torch.inference_mode():
        expected = encoder(*example.values())  # (N, tokens, hidden) or (tokens, hidden)
    got = EncoderSession(out_path, "cpu").run({k: v.numpy() for k, v in example.items()})
    diff = float(np.abs(got.astype(np.float32) - expected.float().numpy()).max())
    import onnx
    import transformers

    meta = {
        "family": family,
        "model_source": model_source,
        "model_hash": model_hash,
        "model_hash_of": "sha256 of the exported module's fp32 state dict "
                         "(vlm_robot.vlm.compiled.cache.state_dict_sha256)",
        "input_names": names,
        "input_shapes": shapes,
        "input_dtypes": {k: str(v.dtype).replace("torch.", "") for k, v in example.items()},
        "example_shapes": {k: list(v.shape) for k, v in example.items()},
        "output_name": OUTPUT_NAME,
        "output_shape": [f"{OUTPUT_NAME}_dim0" if not fixed else int(expected.shape[0])]
        + [int(s) for s in expected.shape[1:]],
        "dynamic": not fixed,
        "fixed_grid": bool(getattr(encoder, "fixed_grid", False)),
        "dtype": "float16" if half else "float32",
        "opset": opset,
        "exporter": used,
        "exporter_errors": errors,
        "export_seconds": round(export_s, 2),
        "ort_cpu_max_abs_diff": diff,
        "params": n_params,
        "torch_version": torch.__version__,
        "onnx_version": onnx.__version__,
        "transformers_version": transformers.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    sidecar_path(out_path).write_text(json.dumps(meta, indent=2) + "\n")
    log.info("exported %s encoder with the %s exporter to %s (max abs diff vs torch %.2e)",
             family, used, out_path, diff)
    return ExportResult(out_path, meta)


def _run_exporters(encoder, trace_inputs, out_path: Path, names, dims, opset, exporter, n_params) -> tuple[str, list]:
    """Try the dynamo exporter, then TorchScript (per ``exporter``); return the one used and the errors seen."""
    import torch

    axes = {k: {d: f"{k}_dim{d}" for d in dims[k]} for k in names}
    if any(dims.values()):
        axes[OUTPUT_NAME] = {0: f"{OUTPUT_NAME}_dim0"}
    args = tuple(trace_inputs[k] for k in names)
    order = {"auto": ["dynamo", "torchscript"], "dynamo": ["dynamo"], "torchscript": ["torchscript"]}[exporter]
    errors: list[str] = []
    for kind in order:
        try:
            if kind == "dynamo":
                _quiet_dynamo_logs()
                dyn = tuple({d: torch.export.Dim.DYNAMIC for d in dims[k]} or None for k in names)
                torch.onnx.export(
                    encoder, args, str(out_path), dynamo=True, opset_version=opset, input_names=names,
                    output_names=[OUTPUT_NAME], dynamic_shapes=dyn if any(dims.values()) else None,
                    external_data=n_params > 400_000_000, verbose=False,
                )
            else:
                torch.onnx.export(
                    encoder, args, str(out_path), dynamo=False, opset_version=opset, input_names=names,
                    output_names=[OUTPUT_NAME], dynamic_axes=axes or None, do_constant_folding=True,
                )
            return kind, errors
        except (ImportError, ModuleNotFoundError) as err:
            if "onnxscript" in str(err) or "onnx" in str(err):
                errors.append(f"{kind}: {err}")
                continue
            raise
        except _EXPORT_ERRORS as err:  # recorded; the next exporter is tried
            errors.append(f"{kind}: {type(err).__name__}: {str(err)[:500]}")
            log.warning("ONNX %s exporter failed (%s); %s", kind, type(err).__name__,
                        "trying the next one" if kind != order[-1] else "no exporter left")
    raise InvalidInputError(
        f"ONNX export of the vision encoder failed with every exporter tried ({', '.join(order)}): "
        + " | ".join(errors)
        + ". Check that the encoder's forward has no data-dependent shapes, or export with fixed shapes (dynamic=False)"
    )


_EXPORT_ERRORS = (RuntimeError, TypeError, ValueError, AttributeError, KeyError, IndexError, NotImplementedError,
                  AssertionError)  # what torch.export / the exporters raise on graphs they cannot handle


def _quiet_dynamo_logs() -> None:
    for name in ("torch.onnx", "onnx_ir", "onnxscript"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # "torchvision is not installed. Skipping torchvision::nms" x4 per export: expected here, not actionable
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
