"""The ``compiled`` backend: the vision encoder + projector runs as ONNX (ONNX Runtime) or a TensorRT engine,
the language model stays in PyTorch and gets the precomputed image features.

    vlm:
      backend: compiled
      model: /models/llava-1.5-7b-hf        # the folder the language model (and the processor) load from
      encoder: ""                           # empty: exported to the cache on load (logged); or an .onnx / .engine
      provider: cpu                         # cpu | cuda | tensorrt (ONNX Runtime EPs) | engine (tensorrt API)

The architecture comes from ``config.model_type`` (:func:`vlm_robot.vlm.families.family_for_model_type`);
the family builds the prompt, and its ``generate(..., features=...)`` skips the PyTorch vision tower.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError
from vlm_robot.core.types import Frame
from vlm_robot.vlm.base import VLMAnswer, VLMConfig, answer_from_stream
from vlm_robot.vlm.compiled.cache import cache_dir
from vlm_robot.vlm.compiled.export import export_module
from vlm_robot.vlm.compiled.inputs import (
    encoder_input_names,
    family_name,
    load_family_model,
    simulated_frames,
    vision_inputs,
)
from vlm_robot.vlm.compiled.trt import build_engine, open_encoder

log = logging.getLogger(__name__)


class CompiledVLM:
    """A transformers VLM whose vision encoder runs compiled, behind the :class:`~vlm_robot.vlm.base.VLM` interface.

    ``extra`` options: ``threads`` (ONNX Runtime intra-op threads, default 0: one per core),
    ``fp16`` (TensorRT EP: allow float16 kernels), ``cache_dir`` (where automatic exports go).
    """

    name = "compiled"

    def __init__(self, config: VLMConfig) -> None:
        if not config.model:
            raise ConfigError(
                "vlm.backend compiled needs vlm.model (a save_pretrained folder or a hub id with "
                "vlm.allow_download: true): the language model and processor load from it"
            )
        if config.provider == "engine" and config.encoder and not config.encoder.endswith(".engine"):
            raise ConfigError(f"vlm.provider engine runs a TensorRT .engine file, got vlm.encoder {config.encoder!r}; "
                              "build one with `vlm-robot models build ONNX`")
        self.config = config
        self.model_name = config.model
        self.family: ModuleType | None = None
        self.model: Any = None
        self.processor: Any = None
        self.encoder: Any = None
        self.encoder_path: Path | None = None
        self.input_names: tuple[str, ...] = ()
        self.last_entities: dict[str, dict[str, Any]] = {}
        self.last_encoder_ms = 0.0
        self._lock = threading.Lock()

    def load(self) -> None:
        """Load the model through its family, then open (or first export) the compiled encoder.

        Raises:
            ModelNotFoundError: the model or the configured encoder file is missing.
            BackendUnavailableError: the provider (CUDA / TensorRT) is not available here.
        """
        import torch

        cfg = self.config
        if cfg.dtype != "float32" and not cfg.device.startswith("cuda"):
            raise ConfigError(f"vlm.dtype {cfg.dtype} needs a CUDA device; on the CPU use float32")
        if cfg.device.startswith("cuda") and not torch.cuda.is_available():
            raise BackendUnavailableError(
                f"vlm.device {cfg.device} asked for, but torch {torch.__version__} sees no CUDA device; "
                "install a CUDA build of torch or set vlm.device: cpu"
            )
        self.family, self.model, self.processor = load_family_model(
            cfg.model, allow_download=cfg.allow_download, device=cfg.device, dtype=cfg.dtype
        )
        vision = self.family.VisionEncoder(self.model)
        self.input_names = encoder_input_names(self.family, self.model, vision)
        path = Path(cfg.encoder) if cfg.encoder else None
        if path is None:
            root = cfg.extra.get("cache_dir") or None
            example = vision_inputs(self.family, self.processor, self.input_names, simulated_frames(1))
            res = export_module(vision, example, family=family_name(self.family), model_source=cfg.model,
                                cache_root=root)
            log.warning(
                "vlm.encoder is empty: %s the %s vision encoder at %s (cache %s); set vlm.encoder to it to skip this",
                "reusing" if res.cached else "exported", family_name(self.family), res.onnx_path, cache_dir(root),
            )
            path = res.onnx_path
            if cfg.provider == "engine":
                path = build_engine(path, "fp16" if cfg.extra.get("fp16", True) else "fp32")
        self.encoder_path = path
        self.encoder = open_encoder(path, cfg.provider, int(cfg.extra.get("threads", 0)),
                                    fp16=bool(cfg.extra.get("fp16", False)))
        del vision  # the PyTorch vision tower stays in the model (generate never runs it) but is not used

    def features(self, inputs: dict[str, Any]) -> Any:
        """The compiled encoder's image features for the processor's ``inputs``, as a torch tensor on the
        model's device and dtype: ``(num_images, tokens, hidden)`` or ``(tokens, hidden)``."""
        import torch

        t0 = time.perf_counter()
        if self.config.provider == "engine":
            out = self.encoder.run_torch({k: inputs[k] for k in self.input_names})
        else:
            out = torch.from_numpy(self.encoder.run({k: inputs[k] for k in self.input_names}))
        self.last_encoder_ms = (time.perf_counter() - t0) * 1000
        return out.to(self.model.device, self.model.dtype)

    def stream(self, question: str, frames: Sequence[Frame]) -> Iterator[str]:
        """Yield the answer's text pieces about ``frames`` (oldest first) as they are generated.

        Kosmos-2 answers carry grounding markup, so its answer comes in one piece, cleaned, with the
        grounded phrases in :attr:`last_entities`.

        Raises:
            InvalidInputError: no frame, or an image the export's fixed shapes do not fit.
        """
        from vlm_robot.vlm.hf import stream_generation

        if self.family is None:
            raise ConfigError("CompiledVLM.load() must be called before asking questions (on configure)")
        if not frames:
            raise InvalidInputError("CompiledVLM.stream: expected at least one frame, got none")
        inputs = self.family.build_inputs(self.processor, question, [f.image for f in frames])
        yield from stream_generation(self, inputs, self.features(inputs))

    def answer(self, question: str, frames: Sequence[Frame]) -> VLMAnswer:
        return answer_from_stream(self, question, frames)

    def close(self) -> None:
        self.encoder = None
        self.model = None
        self.processor = None
