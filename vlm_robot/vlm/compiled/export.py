"""Export a VLM family's vision encoder (tower + projector) to ONNX and run it with ONNX Runtime or TensorRT.

ROS-free. The heavy libraries (torch, onnx, onnxruntime, tensorrt) are imported inside the functions.

    from vlm_robot.vlm import compile as C
    res = C.export_encoder("models/tiny-llava")             # ONNX + JSON sidecar in the cache
    sess = C.EncoderSession(res.onnx_path, provider="cpu", threads=2)
    feats = sess.run({"pixel_values": pixels})              # (N, tokens, hidden) float32
    engine = C.build_engine(res.onnx_path, precision="fp16")  # TensorRT, cached by model/TRT/GPU/precision/shapes

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
import logging
import os
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError, ModelNotFoundError

log = logging.getLogger(__name__)

OPSET = 18
PRECISIONS = ("fp32", "fp16", "int8")
PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
OUTPUT_NAME = "features"
EXPORT_QUESTION = "Describe the image."

INSTALL_ORT_GPU = (
    "pip uninstall -y onnxruntime && pip install onnxruntime-gpu (same version as onnxruntime; it needs the CUDA "
    "and cuDNN libraries of its build: see onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html)"
)
INSTALL_TRT = (
    "pip install tensorrt-cu12 (CUDA 12) or tensorrt-cu13 (CUDA 13) --extra-index-url https://pypi.nvidia.com "
    "(the PyPI packages of those names are small stubs that fetch the real wheels from pypi.nvidia.com), "
    "or use the TensorRT of JetPack"
)


# --------------------------------------------------------------------------------------------------- cache, hash


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


# --------------------------------------------------------------------------------------------------- frames


def simulated_frames(n: int, size: tuple[int, int] = (480, 640), seed: int = 0) -> list[np.ndarray]:
    """``n`` RGB ``(H, W, 3)`` uint8 frames of the simulated demo room (smooth noise when the scene is absent)."""
    try:
        from vlm_robot.sim.scene import Scene

        scene_file = Path(__file__).resolve().parents[2] / "sim" / "scenes" / "demo.yaml"
        scene = Scene.load(scene_file, scale=size[1] / 640)
        return [np.ascontiguousarray(scene.render(2.0 + 1.5 * i)[: size[0], : size[1]]) for i in range(n)]
    except (ImportError, OSError):
        rng = np.random.default_rng(seed)
        small = rng.integers(0, 256, (n, size[0] // 16 + 1, size[1] // 16 + 1, 3), dtype=np.uint8)
        return [np.ascontiguousarray(s.repeat(16, 0).repeat(16, 1)[: size[0], : size[1]]) for s in small]


def bag_frames(bag: str | Path, n: int, topic: str = "/camera/image_raw") -> list[np.ndarray]:
    """Up to ``n`` frames of ``topic`` spread evenly over a rosbag2 recording (MCAP or sqlite3), RGB uint8.

    Raises:
        InvalidInputError: not a bag, or no image on ``topic``.
    """
    from vlm_robot.bag import deserialize, read_bag
    from vlm_robot.core.image import image_to_rgb

    msgs = list(read_bag(bag, [topic]))
    if not msgs:
        raise InvalidInputError(f"bag {bag} has no messages on {topic}; record the camera topic or pass a scene")
    idx = np.linspace(0, len(msgs) - 1, min(n, len(msgs))).round().astype(int)
    frames = []
    for i in idx:
        m = deserialize(msgs[i])
        frames.append(image_to_rgb(m.height, m.width, m.encoding, m.step, bytes(m.data)))
    return frames


def calibration_frames(source: str | Path | None, n: int) -> list[np.ndarray]:
    """Frames for INT8 calibration: ``None``/``""``/``"sim"`` simulated, a bag folder, or a scene YAML."""
    if not source or str(source) == "sim":
        return simulated_frames(n)
    p = Path(source)
    if (p / "metadata.yaml").is_file():
        return bag_frames(p, n)
    if p.suffix in (".yaml", ".yml") and p.is_file():
        from vlm_robot.sim.scene import Scene

        scene = Scene.load(p)
        return [scene.render(2.0 + 1.5 * i) for i in range(n)]
    raise InvalidInputError(
        f"calibration source {str(source)!r} is neither a rosbag2 folder (with metadata.yaml) nor a scene YAML; "
        "pass e.g. tests/artifacts/golden_session or sim/scenes/demo.yaml, or 'sim' for simulated frames"
    )


# --------------------------------------------------------------------------------------------------- families


def load_family_model(source: str, *, allow_download: bool = False, device: str = "cpu", dtype: str = "float32"):
    """``(family module, model, processor)`` for a model folder or hub id, via its ``config.model_type``.

    Raises:
        ModelNotFoundError: not there (and downloads are off).
        ConfigError: an architecture no family handles.
    """
    import torch
    from transformers import AutoConfig

    from vlm_robot.vlm.families import family_for_model_type

    try:
        cfg = AutoConfig.from_pretrained(source, local_files_only=not allow_download)
    except OSError as err:
        raise ModelNotFoundError(
            f"VLM model {source!r} could not be read ({err}); pass a folder written by save_pretrained, "
            "or a hub id with --allow-download (vlm.allow_download: true)"
        ) from err
    fam = family_for_model_type(cfg.model_type)
    model, processor = fam.load(
        source, device=device, dtype=getattr(torch, dtype), local_files_only=not allow_download
    )
    return fam, model, processor


def encoder_input_names(fam, model, encoder=None) -> tuple[str, ...]:
    """The vision input names of this model (InstructBLIP takes more than BLIP-2, with the same family)."""
    if encoder is not None and getattr(encoder, "input_names", None):
        return tuple(encoder.input_names)
    if hasattr(fam, "vision_input_names_for"):
        return tuple(fam.vision_input_names_for(model))
    return tuple(fam.vision_input_names)


def family_name(fam) -> str:
    return fam.__name__.rsplit(".", 1)[-1]


def vision_inputs(fam, processor, names: Sequence[str], frames: Sequence[np.ndarray]) -> dict[str, Any]:
    """The encoder inputs (torch tensors) the family's processor makes for ``frames`` (one prompt)."""
    inputs = fam.build_inputs(processor, EXPORT_QUESTION, list(frames))
    missing = [k for k in names if k not in inputs]
    if missing:
        raise InvalidInputError(
            f"{family_name(fam)}.build_inputs gave {sorted(inputs)}, missing encoder inputs {missing}; "
            "the family's vision_input_names and build_inputs disagree"
        )
    return {k: inputs[k] for k in names}


# --------------------------------------------------------------------------------------------------- export


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
        "model_hash_of": "sha256 of the exported module's fp32 state dict (vlm_robot.vlm.compile.state_dict_sha256)",
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


# --------------------------------------------------------------------------------------------------- ONNX Runtime


def ort_providers() -> list[str]:
    """The execution providers this onnxruntime build offers (``[]`` when onnxruntime is not installed)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return []
    return list(ort.get_available_providers())


class EncoderSession:
    """An ONNX Runtime session on an exported encoder.

    Args:
        path: the ``.onnx`` file.
        provider: ``cpu``, ``cuda`` or ``tensorrt`` (TensorRT EP, falls back to CUDA for unsupported nodes).
        threads: intra-op threads (0: ONNX Runtime's default, one per core).
        fp16: TensorRT EP only: let TensorRT use float16 kernels.
        trt_cache: TensorRT EP only: folder for its engine cache (default next to the model).

    Raises:
        BackendUnavailableError: onnxruntime, or the provider, is not available here; the message lists the
            providers there are and what to install.
        ModelNotFoundError: no file at ``path``.
    """

    def __init__(
        self, path: str | Path, provider: str = "cpu", threads: int = 0, *, fp16: bool = False,
        trt_cache: str | Path | None = None,
    ) -> None:
        try:
            import onnxruntime as ort
        except ImportError as err:
            raise BackendUnavailableError(
                "onnxruntime is not installed; pip install -r requirements/vlm.txt (onnxruntime, or "
                "onnxruntime-gpu on a CUDA machine)"
            ) from err
        if provider not in PROVIDERS:
            raise ConfigError(f"ONNX Runtime provider {provider!r} unknown; expected one of {sorted(PROVIDERS)}")
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(
                f"encoder {self.path} not found; export it with `vlm-robot models export MODEL` (or leave "
                "vlm.encoder empty to export automatically)"
            )
        available = ort.get_available_providers()
        wanted = PROVIDERS[provider]
        if wanted not in available:
            raise BackendUnavailableError(_provider_help(provider, available))
        so = ort.SessionOptions()
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.intra_op_num_threads = int(threads)
        so.inter_op_num_threads = 1
        # No busy-waiting between runs: on a robot the encoder shares its few cores with perception,
        # and spinning pool threads of an idle session slowed the next session's run by 40 % in
        # `vlm-robot bench encoder` (int8 CLIP 168 -> 119 ms once the other sessions stopped spinning).
        so.add_session_config_entry("session.intra_op.allow_spinning", "0")
        so.log_severity_level = 3
        providers: list[Any] = []
        if provider == "tensorrt":
            cache = Path(trt_cache) if trt_cache else self.path.parent / "ort_trt_cache"
            cache.mkdir(parents=True, exist_ok=True)
            providers.append((wanted, {"trt_fp16_enable": bool(fp16), "trt_engine_cache_enable": True,
                                       "trt_engine_cache_path": str(cache), "trt_timing_cache_enable": True,
                                       "trt_timing_cache_path": str(cache)}))
        if provider in ("tensorrt", "cuda"):
            providers.append("CUDAExecutionProvider")
        providers.append("CPUExecutionProvider")
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=providers)
        except _ort_errors() as err:
            raise BackendUnavailableError(
                f"ONNX Runtime could not create a {provider} session for {self.path}: {err}. "
                + (_provider_help(provider, available) if provider != "cpu" else "Re-export the encoder.")
            ) from err
        if wanted not in self.session.get_providers():  # ORT falls back silently when a library fails to load
            raise BackendUnavailableError(
                f"ONNX Runtime lists {wanted} but could not start it (its CUDA/cuDNN/TensorRT libraries did not "
                f"load; session runs on {self.session.get_providers()}). " + _provider_help(provider, available)
            )
        self.provider = provider
        self.meta = read_sidecar(self.path)
        self.input_names = [i.name for i in self.session.get_inputs()]
        self._types = {i.name: i.type for i in self.session.get_inputs()}
        self._shapes = {i.name: i.shape for i in self.session.get_inputs()}

    def run(self, inputs: Mapping[str, Any] | Sequence[Any]) -> np.ndarray:
        """The encoder's output for ``inputs`` (name -> array/tensor, or a sequence in input order).

        Raises:
            InvalidInputError: an input missing, or a shape the export does not allow (fixed shapes).
        """
        if not isinstance(inputs, Mapping):
            inputs = dict(zip(self.input_names, inputs, strict=True))
        feed = {}
        for name in self.input_names:
            if name not in inputs:
                raise InvalidInputError(
                    f"encoder input {name!r} missing; expected {self.input_names}, got {list(inputs)}"
                )
            arr = _to_numpy(inputs[name], self._types[name])
            want = self._shapes[name]
            if len(want) != arr.ndim or any(
                isinstance(w, int) and w != s for w, s in zip(want, arr.shape, strict=True)
            ):
                raise InvalidInputError(
                    f"encoder input {name!r} has shape {tuple(arr.shape)}, the export {self.path.name} takes {want}; "
                    "re-export for this image size (`vlm-robot models export`), or clear vlm.encoder to export "
                    "automatically"
                )
            feed[name] = arr
        return self.session.run([OUTPUT_NAME] if OUTPUT_NAME in self._output_names() else None, feed)[0]

    def _output_names(self) -> list[str]:
        return [o.name for o in self.session.get_outputs()]


def _ort_errors() -> tuple[type[BaseException], ...]:
    """ONNX Runtime's exception types (Fail, NoSuchFile, InvalidGraph, ... subclass Exception directly)."""
    from onnxruntime.capi import onnxruntime_pybind11_state as st

    found = tuple(v for v in vars(st).values() if isinstance(v, type) and issubclass(v, Exception))
    return (*found, RuntimeError)


_ORT_TYPES = {"tensor(float)": np.float32, "tensor(float16)": np.float16, "tensor(int64)": np.int64,
              "tensor(int32)": np.int32, "tensor(bool)": np.bool_, "tensor(double)": np.float64}


def _to_numpy(x: Any, ort_type: str) -> np.ndarray:
    if hasattr(x, "detach"):
        x = x.detach().to("cpu")
        x = x.float().numpy() if x.dtype.is_floating_point else x.numpy()
    arr = np.asarray(x)
    want = _ORT_TYPES.get(ort_type)
    return np.ascontiguousarray(arr.astype(want, copy=False) if want is not None else arr)


def _provider_help(provider: str, available: Sequence[str]) -> str:
    install = {"cpu": "pip install onnxruntime", "cuda": INSTALL_ORT_GPU,
               "tensorrt": INSTALL_ORT_GPU + "; and TensorRT: " + INSTALL_TRT}[provider]
    return (
        f"ONNX Runtime provider {provider!r} ({PROVIDERS[provider]}) is not available here; available: "
        f"{list(available)}. To get it: {install}. Or set vlm.provider: cpu"
    )


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


def quantize_int8(onnx_path: str | Path, out_path: str | Path | None = None, *, per_channel: bool = True) -> Path:
    """ONNX Runtime dynamic INT8 quantisation (weights int8, activations quantised at run time; CPU).

    Returns:
        the quantised model (default ``<name>.int8.onnx`` next to ``onnx_path``).
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic

    onnx_path = Path(onnx_path)
    out = Path(out_path) if out_path else onnx_path.with_suffix(".int8.onnx")
    quantize_dynamic(str(onnx_path), str(out), weight_type=QuantType.QInt8, per_channel=per_channel,
                     op_types_to_quantize=["MatMul", "Gemm"])
    return out


def fuse_transformer(onnx_path: str | Path, out_path: str | Path, *, num_heads: int, hidden_size: int,
                     model_type: str = "vit") -> dict[str, int]:
    """Run ONNX Runtime's transformer optimizer (fused LayerNorm / GELU / attention) and save the result.

    Returns:
        the fused operator counts (which fusions matched this export).
    """
    from onnxruntime.transformers.optimizer import optimize_model

    opt = optimize_model(str(onnx_path), model_type=model_type, num_heads=num_heads, hidden_size=hidden_size,
                         opt_level=1 if model_type in ("vit", "clip") else 0)
    opt.save_model_to_file(str(out_path))
    return {k: int(v) for k, v in opt.get_fused_operator_statistics().items() if v}


# --------------------------------------------------------------------------------------------------- TensorRT


def import_tensorrt():
    """The ``tensorrt`` module, or a clear error saying which package to install."""
    try:
        import tensorrt as trt
    except ImportError as err:
        raise BackendUnavailableError(
            f"TensorRT is not installed ({err}); {INSTALL_TRT}. Without it use vlm.provider: cuda or cpu "
            "(ONNX Runtime)"
        ) from err
    return trt


def require_cuda() -> str:
    """The CUDA device name, or a clear error when torch sees no CUDA GPU."""
    import torch

    if not torch.cuda.is_available():
        raise BackendUnavailableError(
            f"TensorRT engines need a CUDA GPU, and torch {torch.__version__} sees none "
            f"(torch.version.cuda={torch.version.cuda}). Install the CUDA build of torch "
            "(pip install torch --index-url https://download.pytorch.org/whl/cu126) on a machine with an NVIDIA "
            "driver, or use vlm.provider: cpu"
        )
    return torch.cuda.get_device_name(0)


def engine_profile(meta: Mapping[str, Any], batch: tuple[int, int, int]) -> dict[str, list[list[int]]]:
    """Optimisation-profile shapes ``name -> [min, opt, max]`` for the dynamic dim 0 (batch), from a sidecar.

    Dim 0 scales with the image count (``example_shapes`` are one prompt's inputs); other dynamic dims
    (Idefics3 tiles) stay at the example's size.
    """
    out = {}
    for name in meta["input_names"]:
        ex = [int(s) for s in meta["example_shapes"][name]]
        dyn = [isinstance(d, str) for d in meta["input_shapes"][name]]
        shapes = []
        for b in batch:
            s = list(ex)
            if dyn and dyn[0]:
                s[0] = ex[0] * b
            shapes.append(s)
        out[name] = shapes
    return out


def build_engine(
    onnx_path: str | Path,
    precision: str = "fp16",
    *,
    calib_inputs: Sequence[Mapping[str, Any]] | None = None,
    out_path: str | Path | None = None,
    batch: tuple[int, int, int] = (1, 1, 4),
    workspace_gb: float = 4.0,
    force: bool = False,
) -> Path:
    """Build (or take from the cache) a TensorRT engine of an exported encoder with the tensorrt Python API.

    Args:
        onnx_path: an export with its sidecar (``export_encoder``).
        precision: ``fp32``, ``fp16`` or ``int8`` (INT8 also enables fp16 for layers that stay in float).
        calib_inputs: INT8 only: encoder inputs (name -> array, one prompt each), e.g. from
            :func:`calibration_inputs` on frames of a recorded bag.
        out_path: the ``.engine`` to write; default the cache, keyed by :func:`engine_cache_key`.
        batch: ``(min, opt, max)`` images of the optimisation profile (dynamic exports only).
        workspace_gb: builder memory pool limit.
        force: rebuild even when the cached engine exists.

    Raises:
        BackendUnavailableError: tensorrt or CUDA missing (the message says what to install).
        ConfigError: an unknown precision, or INT8 without calibration inputs.
        InvalidInputError: the ONNX parser or the builder failed (their messages are included).
    """
    if precision not in PRECISIONS:
        raise ConfigError(f"TensorRT precision {precision!r} unknown; expected one of {PRECISIONS}")
    trt = import_tensorrt()
    gpu = require_cuda()
    onnx_path = Path(onnx_path)
    meta = read_sidecar(onnx_path)
    if not meta:
        raise InvalidInputError(f"{onnx_path} has no sidecar {sidecar_path(onnx_path).name}; export it with "
                                "`vlm-robot models export` so its shapes and model hash are known")
    if not meta.get("dynamic"):
        batch = (1, 1, 1)
    profile = engine_profile(meta, batch)
    key = engine_cache_key(meta["model_hash"], trt.__version__, gpu, precision, profile)
    out = Path(out_path) if out_path else onnx_path.with_name(f"{onnx_path.stem}.{key}.engine")
    if out.is_file() and not force:
        log.info("TensorRT engine found in cache: %s", out)
        return out
    if precision == "int8" and not calib_inputs:
        raise ConfigError("INT8 needs calibration inputs (frames from a bag or the simulator: --calib BAG_OR_SCENE)")

    tlog = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(tlog)
    flags = 0
    if hasattr(trt, "NetworkDefinitionCreationFlag") and hasattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH"):
        flags = 1 << int(trt.NetworkDefinitionCreationFlag.EXPLICIT_BATCH)  # TensorRT < 10; 10 is always explicit
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, tlog)
    if not parser.parse_from_file(str(onnx_path)):
        errs = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise InvalidInputError(f"TensorRT's ONNX parser rejected {onnx_path}: {errs}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gb * 2**30))
    prof = builder.create_optimization_profile()
    for name, (mn, op, mx) in profile.items():
        prof.set_shape(name, mn, op, mx)
    config.add_optimization_profile(prof)
    if precision in ("fp16", "int8"):
        config.set_flag(trt.BuilderFlag.FP16)
    calibrator = None
    if precision == "int8":
        config.set_flag(trt.BuilderFlag.INT8)
        config.set_calibration_profile(prof)
        calibrator = _calibrator(trt, calib_inputs, meta["input_names"], out.with_suffix(".calib"))
        config.int8_calibrator = calibrator
    monitor = _progress_monitor(trt)
    if monitor is not None:
        config.progress_monitor = monitor
    t0 = time.perf_counter()
    plan = builder.build_serialized_network(network, config)
    if monitor is not None:
        monitor.close()
    if plan is None:
        raise InvalidInputError(f"TensorRT could not build a {precision} engine from {onnx_path} (see its log above)")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_bytes(bytes(plan))
    info = {"onnx": str(onnx_path), "model_hash": meta["model_hash"], "family": meta.get("family", ""),
            "precision": precision, "tensorrt_version": trt.__version__, "gpu": gpu, "profile": profile,
            "key": key, "build_seconds": round(time.perf_counter() - t0, 1),
            "calibration_inputs": len(calib_inputs or ())}
    out.with_suffix(".engine.json").write_text(json.dumps(info, indent=2) + "\n")
    log.info("built TensorRT %s engine in %.0f s: %s", precision, info["build_seconds"], out)
    return out


def calibration_inputs(onnx_path: str | Path, frames: Sequence[np.ndarray]) -> list[dict[str, np.ndarray]]:
    """Encoder inputs for each frame, made by the family's processor of the export's model source."""
    from tqdm import tqdm
    from transformers import AutoProcessor

    from vlm_robot.vlm.families import family as family_module

    meta = read_sidecar(onnx_path)
    if not meta.get("family") or not meta.get("model_source"):
        raise InvalidInputError(
            f"{onnx_path}: the sidecar names no family / model source, so its image processor is unknown; "
            "export with `vlm-robot models export MODEL`"
        )
    fam = family_module(meta["family"])
    processor = AutoProcessor.from_pretrained(meta["model_source"])
    out = []
    for fr in tqdm(frames, desc="calibration frames", unit="frame"):
        ins = fam.build_inputs(processor, EXPORT_QUESTION, [fr])
        out.append({k: ins[k].numpy() for k in meta["input_names"]})
    return out


def _calibrator(trt, inputs: Sequence[Mapping[str, Any]], names: Sequence[str], cache_file: Path):
    """An entropy calibrator feeding ``inputs`` one by one from CUDA memory (torch tensors)."""
    import torch
    from tqdm import tqdm

    base = getattr(trt, "IInt8EntropyCalibrator2", None)
    if base is None:
        raise BackendUnavailableError(
            f"TensorRT {trt.__version__} has no implicit INT8 calibrator (IInt8EntropyCalibrator2); quantise the "
            "ONNX explicitly (Q/DQ nodes, e.g. NVIDIA ModelOpt) or build fp16"
        )

    class Calibrator(base):
        def __init__(self) -> None:
            base.__init__(self)
            self.i = 0
            self.held: list[torch.Tensor] = []
            self.bar = tqdm(total=len(inputs), desc="INT8 calibration", unit="batch")

        def get_batch_size(self) -> int:
            return 1

        def get_batch(self, req, *args):
            if self.i >= len(inputs):
                self.bar.close()
                return None
            item = inputs[self.i]
            self.i += 1
            self.bar.update(1)
            self.held = [torch.as_tensor(np.asarray(item[n])).cuda().contiguous() for n in (req or names)]
            return [int(t.data_ptr()) for t in self.held]

        def read_calibration_cache(self):
            return cache_file.read_bytes() if cache_file.is_file() else None

        def write_calibration_cache(self, cache) -> None:
            cache_file.write_bytes(bytes(cache))

    return Calibrator()


def _progress_monitor(trt):
    """A tqdm bar per TensorRT build phase (TensorRT >= 10 has ``IProgressMonitor``), else None."""
    base = getattr(trt, "IProgressMonitor", None)
    if base is None:
        return None
    from tqdm import tqdm

    class Monitor(base):
        def __init__(self) -> None:
            base.__init__(self)
            self.bars: dict[str, Any] = {}

        def phase_start(self, phase_name, parent_phase, num_steps) -> None:
            self.bars[phase_name] = tqdm(total=num_steps, desc=f"TensorRT {phase_name}", leave=False)

        def step_complete(self, phase_name, step) -> bool:
            bar = self.bars.get(phase_name)
            if bar is not None:
                bar.n = step + 1
                bar.refresh()
            return True

        def phase_finish(self, phase_name) -> None:
            bar = self.bars.pop(phase_name, None)
            if bar is not None:
                bar.close()

        def close(self) -> None:
            for bar in self.bars.values():
                bar.close()
            self.bars.clear()

    return Monitor()


class EngineSession:
    """Runs a TensorRT ``.engine`` through the tensorrt Python API on CUDA torch tensors.

    Raises:
        BackendUnavailableError: tensorrt or CUDA missing.
        ModelNotFoundError: no engine file.
        InvalidInputError: the engine does not deserialize (built by another TensorRT version or GPU).
    """

    def __init__(self, path: str | Path) -> None:
        import torch

        trt = import_tensorrt()
        require_cuda()
        self.path = Path(path)
        if not self.path.is_file():
            raise ModelNotFoundError(f"TensorRT engine {self.path} not found; build it with `vlm-robot models build`")
        self._logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self._logger)
        self.engine = self.runtime.deserialize_cuda_engine(self.path.read_bytes())
        if self.engine is None:
            raise InvalidInputError(
                f"TensorRT {trt.__version__} could not load {self.path}: engines are tied to the TensorRT version "
                "and GPU that built them; rebuild with `vlm-robot models build`"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
        self.output_names = [n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
        self._dtypes = {n: _torch_dtype(self.engine.get_tensor_dtype(n)) for n in names}
        self.stream = torch.cuda.Stream()
        self.provider = "engine"

    def run_torch(self, inputs: Mapping[str, Any] | Sequence[Any]):
        """Outputs as a CUDA torch tensor (no copy to the host)."""
        import torch

        if not isinstance(inputs, Mapping):
            inputs = dict(zip(self.input_names, inputs, strict=True))
        held = []
        for n in self.input_names:
            t = torch.as_tensor(inputs[n]).to("cuda", self._dtypes[n]).contiguous()
            held.append(t)
            self.context.set_input_shape(n, tuple(t.shape))
            self.context.set_tensor_address(n, int(t.data_ptr()))
        outs = []
        for n in self.output_names:
            o = torch.empty(tuple(self.context.get_tensor_shape(n)), dtype=self._dtypes[n], device="cuda")
            outs.append(o)
            self.context.set_tensor_address(n, int(o.data_ptr()))
        self.stream.wait_stream(torch.cuda.current_stream())
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise InvalidInputError(f"TensorRT engine {self.path.name} failed on input shapes "
                                    f"{[tuple(t.shape) for t in held]}; rebuild with a profile that covers them")
        torch.cuda.current_stream().wait_stream(self.stream)
        return outs[0]

    def run(self, inputs: Mapping[str, Any] | Sequence[Any]) -> np.ndarray:
        """Outputs copied to a float32 numpy array."""
        return self.run_torch(inputs).float().cpu().numpy()


def _torch_dtype(trt_dtype):
    import tensorrt as trt
    import torch

    return {trt.float32: torch.float32, trt.float16: torch.float16, trt.int32: torch.int32,
            trt.int64: torch.int64, trt.bool: torch.bool, trt.int8: torch.int8}.get(trt_dtype, torch.float32)


def open_encoder(path: str | Path, provider: str = "cpu", threads: int = 0, *, fp16: bool = False):
    """An :class:`EncoderSession` (``.onnx``) or an :class:`EngineSession` (``provider="engine"``)."""
    if provider == "engine" or str(path).endswith(".engine"):
        return EngineSession(path)
    return EncoderSession(path, provider, threads, fp16=fp16)


# --------------------------------------------------------------------------------------------------- verification


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
