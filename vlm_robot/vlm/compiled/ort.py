"""ONNX Runtime: sessions on an exported encoder (CPU / CUDA / TensorRT execution providers), the
providers there are and what to install for the others, INT8 quantisation and transformer fusion."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError, ModelNotFoundError
from vlm_robot.vlm.compiled.cache import read_sidecar

PROVIDERS = {"cpu": "CPUExecutionProvider", "cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}
OUTPUT_NAME = "features"



INSTALL_ORT_GPU = (
    "pip uninstall -y onnxruntime && pip install onnxruntime-gpu (same version as onnxruntime; it needs the CUDA "
    "and cuDNN libraries of its build: see onnxruntime.ai/docs/execution-providers/CUDA-ExecutionProvider.html)"
)
INSTALL_TRT = (
    "pip install tensorrt-cu12 (CUDA 12) or tensorrt-cu13 (CUDA 13) --extra-index-url https://pypi.nvidia.com "
    "(the PyPI packages of those names are small stubs that fetch the real wheels from pypi.nvidia.com), "
    "or use the TensorRT of JetPack"
)



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
