"""The ``transformers`` backend: any supported VLM folder (or hub id, when allowed), run by PyTorch.

    vlm_node --ros-args --params-file config/vlm.yaml -p vlm.backend:=transformers -p vlm.model:=/models/llava-1.5-7b-hf

The architecture is read from the model's ``config.json`` and handled by its family module
(:mod:`vlm_robot.vlm.families`): LLaVA-1.5, BLIP-2 / InstructBLIP, Idefics3 / SmolVLM, Qwen2-VL,
Kosmos-2. Nothing is downloaded unless ``vlm.allow_download`` is true.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, ModelNotFoundError
from vlm_robot.core.types import Frame
from vlm_robot.vlm.base import VLMAnswer, VLMConfig, answer_from_stream

DTYPES = ("float32", "float16", "bfloat16")


def import_torch() -> Any:
    """``torch``, or a BackendUnavailableError saying what to install."""
    try:
        import torch
        import transformers  # noqa: F401
    except ImportError as e:
        raise BackendUnavailableError(
            f"the transformers VLM backend needs torch and transformers ({e.name} is missing): "
            "`pip install -r requirements/vlm.txt` or `pip install vlm_robot[vlm]`") from e
    return torch


def model_type_of(source: str, allow_download: bool) -> str:
    """``config.model_type`` of a model folder or hub id, without loading weights.

    Raises:
        ModelNotFoundError: the folder has no config.json, or the hub id is not in the local cache
            and downloading is not allowed; the message says how to obtain it.
    """
    from transformers import AutoConfig

    from vlm_robot.vlm.families import local_model_type

    path = Path(source).expanduser()
    if path.exists() and not (path / "config.json").is_file():
        raise ModelNotFoundError(f"vlm.model {str(path)!r} has no config.json; point it at a folder written by "
                                 "save_pretrained (or `huggingface-cli download ID --local-dir DIR`)")
    own = local_model_type(source)  # the project's own models (palme): AutoConfig does not know their type
    if own:
        return own
    try:
        return AutoConfig.from_pretrained(str(path) if path.exists() else source,
                                          local_files_only=not allow_download).model_type
    except OSError as e:
        raise ModelNotFoundError(
            f"vlm.model {source!r} is neither a local folder nor a model in the local Hugging Face cache "
            f"({'download failed' if allow_download else 'downloads are off'}). Obtain it on a machine with network: "
            f"`huggingface-cli download {source} --local-dir /models/NAME`, then set vlm.model to /models/NAME; "
            "or set vlm.allow_download: true where the hub can be reached") from e


def torch_dtype(torch: Any, config: VLMConfig) -> Any:
    if config.dtype != "float32" and not config.device.startswith("cuda"):
        raise ConfigError(f"vlm.dtype {config.dtype} needs a CUDA device; on the CPU use float32")
    if config.device.startswith("cuda") and not torch.cuda.is_available():
        raise BackendUnavailableError(f"vlm.device {config.device} asked for, but torch sees no CUDA device "
                                      f"(torch {torch.__version__}); install a CUDA build of torch or use cpu")
    return getattr(torch, config.dtype)


def stream_generation(vlm: Any, inputs: dict[str, Any], features: Any = None) -> Iterator[str]:
    """Generate on a worker thread and yield the text as it streams (shared by the transformers and
    compiled backends). ``vlm`` has ``family``, ``model``, ``processor``, ``config``, ``_lock`` and
    ``last_entities``; ``features`` replace the vision tower when given.

    Kosmos-2 answers carry grounding markup, so its answer comes in one piece, cleaned, with its
    grounded phrases in ``vlm.last_entities``.
    """
    from transformers import TextIteratorStreamer

    fam = vlm.family
    grounded = getattr(fam, "grounded_entities", None)
    tokenizer = getattr(vlm.processor, "tokenizer", vlm.processor)
    streamer = None if grounded else TextIteratorStreamer(tokenizer, skip_prompt=True, skip_special_tokens=True,
                                                            timeout=600)
    kwargs = {"raw": True} if grounded else {}
    result: dict[str, Any] = {}

    def run() -> None:
        try:
            result["text"] = fam.generate(vlm.model, vlm.processor, inputs, vlm.config.max_new_tokens,
                                          features=features, streamer=streamer, **kwargs)
        except Exception as e:  # noqa: BLE001 - re-raised in the caller's thread below
            result["error"] = e
            if streamer is not None:
                streamer.end()

    with vlm._lock:  # one generation at a time per model
        worker = threading.Thread(target=run, name="vlm-generate", daemon=True)
        worker.start()
        if streamer is not None:
            yield from streamer
        worker.join()
        if "error" in result:
            raise result["error"]
        vlm.last_entities = {}
        if grounded is not None:
            raw = result.get("text", "")
            vlm.last_entities = {f"<obj{i + 1}>": {"kind": "object", **e}
                                 for i, e in enumerate(grounded(vlm.processor, raw))}
            yield fam.clean_text(vlm.processor, raw)


class TransformersVLM:
    """A transformers VLM behind the :class:`~vlm_robot.vlm.base.VLM` interface (streams tokens)."""

    name = "transformers"

    def __init__(self, config: VLMConfig) -> None:
        if not config.model:
            raise ConfigError("vlm.backend transformers needs vlm.model: a folder saved with save_pretrained or "
                              "a hub id (with vlm.allow_download: true)")
        self.config = config
        self.model_name = config.model
        self.family: ModuleType | None = None
        self.model: Any = None
        self.processor: Any = None
        self.last_entities: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()

    def load(self) -> None:
        from vlm_robot.vlm.families import family_for_model_type

        torch = import_torch()
        dtype = torch_dtype(torch, self.config)
        self.family = family_for_model_type(model_type_of(self.config.model, self.config.allow_download))
        self.model, self.processor = self.family.load(
            self.config.model, device=self.config.device, dtype=dtype,
            local_files_only=not self.config.allow_download)

    def inputs(self, question: str, frames: Sequence[Frame]) -> dict[str, Any]:
        """The processor's tensors for ``question`` about ``frames``, on the model's device."""
        if self.family is None:
            raise RuntimeError("TransformersVLM.load() must be called before asking questions")
        inputs = self.family.build_inputs(self.processor, question, [f.image for f in frames])
        return {k: v.to(self.model.device) if hasattr(v, "to") else v for k, v in inputs.items()}

    def stream(self, question: str, frames: Sequence[Frame], features: Any = None) -> Iterator[str]:
        """Yield the answer as it is generated; ``features`` (from a compiled encoder) replace the vision tower.

        Kosmos-2 answers carry grounding markup, so its answer comes in one piece, cleaned, with its
        grounded phrases in :attr:`last_entities`.
        """
        yield from stream_generation(self, self.inputs(question, frames), features)

    def answer(self, question: str, frames: Sequence[Frame]) -> VLMAnswer:
        return answer_from_stream(self, question, frames)

    def close(self) -> None:
        self.model = None
        self.processor = None
