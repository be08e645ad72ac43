"""TensorRT: build (or take from the cache) an engine of an exported encoder with the tensorrt Python API,
INT8 calibration, and run engines on CUDA torch tensors; :func:`open_encoder` opens either kind of encoder."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError, ModelNotFoundError
from vlm_robot.vlm.compiled.cache import PRECISIONS, engine_cache_key, read_sidecar, sidecar_path
from vlm_robot.vlm.compiled.ort import INSTALL_TRT, EncoderSession

log = logging.getLogger(__name__)



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
