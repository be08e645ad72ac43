"""The VLM interface every backend implements, its config, and the registry of backends.

    from vlm_robot.vlm.base import VLMConfig, make_backend
    vlm = make_backend(VLMConfig(backend="grounded"))
    vlm.load()
    for piece in vlm.stream("Who is here?", frames):   # frames: list[Frame], oldest first
        print(piece, end="")
    vlm.close()
"""

from __future__ import annotations

import importlib
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.types import Frame

DESCRIBE_PROMPT = "Describe what you see in one or two short sentences."

# name -> "module:Class"; the module is imported only when that backend is built.
BACKENDS: dict[str, str] = {
    "grounded": "vlm_robot.vlm.grounded:GroundedVLM",
    "transformers": "vlm_robot.vlm.hf:TransformersVLM",
    "compiled": "vlm_robot.vlm.compiled:CompiledVLM",
}


@dataclass(frozen=True)
class VLMConfig:
    """config/vlm.yaml ``vlm.*``.

    Attributes:
        backend: a name in :data:`BACKENDS`.
        model: a local folder saved with ``save_pretrained`` or a hub id (``transformers`` and
            ``compiled``); empty for ``grounded``.
        allow_download: a hub id is fetched only when this is true; otherwise a missing model
            fails with an error that names it and says how to obtain it.
        device: ``cpu``, ``cuda`` or ``cuda:N``.
        dtype: ``float32``, ``float16`` or ``bfloat16`` (fp16 only on CUDA).
        encoder: ``compiled`` only: an ``.onnx`` file or a TensorRT ``.engine`` of the vision tower
            + projector (``vlm-robot models export | build``).
        provider: ``compiled`` only: ``cpu``, ``cuda`` or ``tensorrt`` (ONNX Runtime execution
            provider), or ``engine`` (the tensorrt Python API runs a ``.engine`` file).
        max_new_tokens: answer length cap.
        clip_frames: how many recent frames go into one prompt (video, not only single frames).
        clip_seconds: the time span those frames are sampled from.
        extra: backend-specific options (nested YAML).
    """

    backend: str = "grounded"
    model: str = ""
    allow_download: bool = False
    device: str = "cpu"
    dtype: str = "float32"
    encoder: str = ""
    provider: str = "cpu"
    max_new_tokens: int = 48
    clip_frames: int = 1
    clip_seconds: float = 2.0
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.backend not in BACKENDS:
            raise ConfigError(f"vlm.backend {self.backend!r} unknown; expected one of {sorted(BACKENDS)}")
        if self.dtype not in ("float32", "float16", "bfloat16"):
            raise ConfigError(f"vlm.dtype must be float32, float16 or bfloat16, got {self.dtype!r}")
        if not (self.device == "cpu" or self.device.startswith("cuda")):
            raise ConfigError(f"vlm.device must be cpu, cuda or cuda:N, got {self.device!r}")
        if self.provider not in ("cpu", "cuda", "tensorrt", "engine"):
            raise ConfigError(f"vlm.provider must be cpu, cuda, tensorrt or engine, got {self.provider!r}")
        if not 1 <= self.max_new_tokens <= 1024:
            raise ConfigError(f"vlm.max_new_tokens must be in [1, 1024], got {self.max_new_tokens}")
        if not 1 <= self.clip_frames <= 32:
            raise ConfigError(f"vlm.clip_frames must be in [1, 32], got {self.clip_frames}")
        if self.clip_seconds <= 0:
            raise ConfigError(f"vlm.clip_seconds must be > 0, got {self.clip_seconds}")


@dataclass(frozen=True)
class VLMAnswer:
    """A finished answer.

    Attributes:
        text: the answer.
        entities: entity token -> what it refers to, e.g. ``{"<person1>": {"box": [x, y, w, h], ...}}``;
            intents can target them (``look_at <person1>``).
        backend, model: what produced it.
        latency_ms: from the call to the last token.
    """

    text: str
    entities: dict[str, dict[str, Any]] = field(default_factory=dict)
    backend: str = ""
    model: str = ""
    latency_ms: float = 0.0


def answer_from_stream(vlm: Any, question: str, frames: Sequence[Frame]) -> VLMAnswer:
    """A backend's whole answer: its :meth:`VLM.stream` joined, with ``last_entities`` and the time it took."""
    t0 = time.perf_counter()
    text = "".join(vlm.stream(question, frames)).strip()
    return VLMAnswer(text, dict(vlm.last_entities), backend=vlm.name, model=vlm.model_name,
                     latency_ms=(time.perf_counter() - t0) * 1000)


class VLM(Protocol):
    """What every backend offers. ``load`` may take seconds; the other calls assume it was called."""

    name: str

    def load(self) -> None:
        """Load weights / sessions (on configure, never in a constructor or a callback)."""
        ...

    def stream(self, question: str, frames: Sequence[Frame]) -> Iterator[str]:
        """Yield the answer's text pieces about ``frames`` (oldest first; one frame or a short clip).

        Backends that know entities set ``self.last_entities`` (entity token -> details) by the time
        the stream ends, so a streamed answer carries them too.
        """
        ...

    def answer(self, question: str, frames: Sequence[Frame]) -> VLMAnswer:
        """The whole answer, with the entities it may refer to."""
        ...

    def close(self) -> None: ...


def make_backend(config: VLMConfig) -> VLM:
    """Build (not load) the configured backend; only now is its module, and so its library, imported."""
    module, cls = BACKENDS[config.backend].split(":")
    return getattr(importlib.import_module(module), cls)(config)


def sample_clip(frames: Sequence[Frame], n: int, seconds: float) -> list[Frame]:
    """Pick up to ``n`` frames spread evenly in time over the last ``seconds`` (oldest first).

    Sampling is by stamp, not by index, so a camera at 30 fps and one at 5 fps give the same span.
    """
    if not frames:
        return []
    newest = frames[-1].stamp
    recent = [f for f in frames if f.stamp >= newest - seconds]
    if n == 1 or len(recent) <= 1:
        return [recent[-1]]
    start = recent[0].stamp
    targets = [start + (newest - start) * i / (n - 1) for i in range(n)]
    picked: list[Frame] = []
    for t in targets:
        best = min(recent, key=lambda f: abs(f.stamp - t))
        if not picked or best is not picked[-1]:
            picked.append(best)
    return picked
