"""The robot's own PaLM-E-style VLM (``model_type`` ``"vlm_robot_palme"``, :mod:`vlm_robot.vlm.palme.model`).

A multimodal sentence for SmolLM2: pooled image tokens of a small vision encoder, one robot-state token and
up to three face entity tokens (the packaged face perception's reading of the frame), projected into the
language model's embedding space, then the question. The prefix module (encoder + projector + entity and
state tokens) is the export unit: ``vlm-robot models export models/palme-sim`` writes it to ONNX and the
``compiled`` backend runs it with ONNX Runtime while the language model (+ LoRA) stays in PyTorch.

    vlm_node --ros-args --params-file config/vlm.yaml -p vlm.backend:=transformers -p vlm.model:=models/palme-sim
    vlm_node --ros-args --params-file config/vlm.yaml -p vlm.backend:=compiled -p vlm.model:=models/palme-sim

Serving inputs: the newest frame of a clip (the model was trained on single frames) is read by the packaged
face perception at its full resolution (the same reader, configuration and normalisation as the training
data, :class:`vlm_robot.sim.vqa_data.RoomRenderer`), then resized to the model's image size
(:func:`vlm_robot.vlm.palme.model.frame_inputs`, area averaging as the dataset's images). The robot's state
is not known to the VLM node (no base pose is published on the graph), so the model gets its "unknown
state" flag (``state=None``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import torch
from torch import nn

from vlm_robot.core.errors import ConfigError, InvalidInputError, ModelNotFoundError
from vlm_robot.vlm.palme.scope import OUT_OF_SCOPE, question_type

MODEL_TYPES: tuple[str, ...] = ("vlm_robot_palme",)
vision_input_names: tuple[str, ...] = ("image", "faces", "face_mask", "state")
QUESTION_KEY = "question"  # build_inputs also carries the question text (a str, not a tensor) under this key


class PalmeModel:
    """A loaded :class:`~vlm_robot.vlm.palme.model.PalmeVLM` as the backends see a model: ``device``, ``dtype``,
    ``config`` and the VLM itself (``vlm``). The weights are the VLM's; nothing is copied."""

    def __init__(self, vlm, config) -> None:
        self.vlm = vlm
        self.config = config

    @property
    def device(self) -> torch.device:
        return next(self.vlm.parameters()).device

    @property
    def dtype(self) -> torch.dtype:
        return torch.float32

    def to(self, device: str | torch.device) -> PalmeModel:
        self.vlm.to(device)
        return self

    def eval(self) -> PalmeModel:
        self.vlm.eval()
        return self


class PalmeProcessor:
    """What turns a camera frame and a question into the model's inputs: the model config, the packaged face
    perception (loaded on first use) and the language model's tokenizer (``tokenizer``)."""

    def __init__(self, config, tokenizer, perceiver=None) -> None:
        self.config = config
        self.tokenizer = tokenizer
        self._perceiver = perceiver
        self._stamp = 0.0

    @property
    def perceiver(self):
        """The packaged face perception, configured as the dataset generator configures it
        (:class:`vlm_robot.sim.vqa_data.RoomRenderer`: every face meshed on every frame)."""
        if self._perceiver is None:
            from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig
            from vlm_robot.sim.vqa_data import MAX_FACES

            self._perceiver = Perceiver(PerceptionConfig(mesh_max_per_frame=MAX_FACES + 5, num_threads=1))
        return self._perceiver

    def faces(self, image: np.ndarray) -> list[dict[str, Any]]:
        """The face entities of ``image`` (full resolution) as the dataset stores them (``meta.jsonl`` ``faces``:
        the best three by detector score, left to right, boxes normalised to the image)."""
        from vlm_robot.sim import vqa_data

        self._stamp += 10.0  # frames 10 s apart, as in the dataset: no head pose cached from an earlier frame
        read = getattr(vqa_data, "read_faces", None)
        if read is not None:
            return read(self.perceiver, image, self._stamp)
        # the dataset's own reader (a method that only uses .perceiver): the same code, not a copy of it
        return vqa_data.RoomRenderer._faces(SimpleNamespace(perceiver=self.perceiver), image, self._stamp)


def _check_folder(source: str) -> Path:
    folder = Path(source).expanduser()
    if not folder.is_dir():
        raise ModelNotFoundError(
            f"palme model folder {str(folder)!r} does not exist; train one with `vlm-robot train` (writes "
            "models/palme-sim) or point vlm.model at a folder holding config.json and palme.safetensors"
        )
    if not (folder / "config.json").is_file():
        raise ModelNotFoundError(f"palme model folder {str(folder)!r} holds no config.json; expected the folder "
                                 "`vlm-robot train` writes (config.json, palme.safetensors, MODEL_CARD.md)")
    return folder


def load(source: str, *, device: str, dtype: torch.dtype, local_files_only: bool = True):
    """Load a trained palme model folder (weights sha256-checked by the loader) with its processor.

    Returns:
        ``(PalmeModel, PalmeProcessor)``, in eval mode on ``device``.

    Raises:
        ModelNotFoundError: no such folder, no config.json, or the packaged language model is missing.
        ModelIntegrityError: the weights file is corrupt or does not match its sha256 pin.
        ConfigError: the folder holds another architecture, or a dtype other than float32 was asked for.
    """
    from vlm_robot.vlm.palme.model import PalmeConfig, load_palme

    folder = _check_folder(source)
    if dtype != torch.float32:
        raise ConfigError(f"palme runs in float32 (it is small); got vlm.dtype {dtype}. Set vlm.dtype: float32")
    cfg = PalmeConfig.load(folder)
    if getattr(cfg, "model_type", MODEL_TYPES[0]) not in MODEL_TYPES:
        raise ConfigError(f"palme.load: {str(folder)!r} is a {cfg.model_type!r} model, expected {MODEL_TYPES}")
    vlm = load_palme(folder, device=device)
    vlm.eval()
    return PalmeModel(vlm, cfg), PalmeProcessor(cfg, getattr(vlm, "tokenizer", None))


def load_processor(source: str) -> PalmeProcessor:
    """The processor alone (config + face perception), for calibration inputs: no weights are loaded."""
    from vlm_robot.vlm.palme.model import PalmeConfig

    return PalmeProcessor(PalmeConfig.load(_check_folder(source)), None)


def model_inputs(config, image: np.ndarray, faces: Sequence[dict] | None, state: Sequence[float] | None,
                 question: str = "") -> dict[str, Any]:
    """The model's tensors for one ``image`` (any size; resized to the model's) with its face entities and state.

    Used by :func:`build_inputs` (faces from perception, state unknown) and by the evaluation (faces and
    state from the dataset's meta, as in training).
    """
    from vlm_robot.vlm.palme.model import frame_inputs

    inputs = dict(frame_inputs(config, image, faces=list(faces or []), state=state))
    inputs[QUESTION_KEY] = question
    return inputs


def build_inputs(processor: PalmeProcessor, question: str, images: list[np.ndarray]) -> dict[str, Any]:
    """The model's inputs for ``question`` about the newest of ``images`` (RGB ``(H, W, 3)`` uint8).

    The face perception reads the frame at its own resolution; the frame is then resized to the model's
    image size. The robot state is unknown here (``state=None``).

    Returns:
        ``image`` ``(1, 3, H, W)``, ``faces`` ``(1, 3, F)``, ``face_mask`` ``(1, 3)``, ``state`` ``(1, S)``
        tensors and ``question`` (the text).

    Raises:
        InvalidInputError: no image, or one that is not an RGB uint8 ``(H, W, 3)`` array.
    """
    if len(images) == 0:
        raise InvalidInputError("palme.build_inputs: expected at least one RGB image, got none; pass the camera frame")
    im = images[-1]
    if not isinstance(im, np.ndarray) or im.dtype != np.uint8 or im.ndim != 3 or im.shape[2] != 3:
        got = f"{type(im).__name__} {getattr(im, 'shape', '')} {getattr(im, 'dtype', '')}".strip()
        raise InvalidInputError(f"palme.build_inputs: the image must be an RGB uint8 numpy array (H, W, 3), got "
                                f"{got}; convert camera messages with vlm_robot.core.image.image_to_rgb")
    faces = processor.faces(im)
    return model_inputs(processor.config, im, faces, None, question)


class VisionEncoder(nn.Module):
    """The prefix module of a palme model (vision encoder, projector, face entity and state tokens; shares its
    weights): ``forward(image, faces, face_mask, state)`` returns the prefix ``(1, P, hidden)`` that goes
    before the question in the multimodal sentence. This is what is exported to ONNX."""

    def __init__(self, model: PalmeModel) -> None:
        super().__init__()
        self.prefix = model.vlm.prefix_module()

    def forward(self, image: torch.Tensor, faces: torch.Tensor, face_mask: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        return self.prefix(image, faces, face_mask, state)  # (B, P, hidden)


def reference_features(model: PalmeModel, inputs: dict[str, Any]) -> torch.Tensor:
    """The prefix computed by the model's own ``prefix`` method, for parity tests: ``(1, P, hidden)``."""
    dev = model.device
    return model.vlm.prefix(**{k: inputs[k].to(dev) for k in vision_input_names})


def generate(model: PalmeModel, processor: PalmeProcessor, inputs: dict[str, Any], max_new_tokens: int,
             features: torch.Tensor | None = None, streamer=None) -> str:
    """Greedy answer to ``inputs`` (from :func:`build_inputs`), streamed piece by piece.

    Args:
        features: the prefix computed elsewhere (the compiled encoder), ``(1, P, hidden)``; the PyTorch
            prefix module is then skipped.
        streamer: a transformers ``TextIteratorStreamer`` (or anything with ``on_finalized_text(text,
            stream_end)``): it gets each text piece as it is decoded, then the end of the stream.

    Raises:
        InvalidInputError: ``features`` of another shape than this model's prefix, or no question.
    """
    question = inputs.get(QUESTION_KEY, "")
    if not isinstance(question, str) or not question.strip():
        raise InvalidInputError("palme.generate: inputs carry no question text; build them with build_inputs")
    if question_type(question) is None:  # not a trained kind of question: say so rather than invent an answer
        if streamer is not None:
            streamer.on_finalized_text(OUT_OF_SCOPE, stream_end=False)
            streamer.on_finalized_text("", stream_end=True)
        return OUT_OF_SCOPE
    with torch.inference_mode():
        if features is None:
            prefix = reference_features(model, inputs)
        else:
            prefix = features.to(model.device, torch.float32)
            if prefix.ndim == 2:
                prefix = prefix[None]
        pieces = []
        try:
            for piece in model.vlm.stream(question, prefix=prefix, max_new_tokens=max_new_tokens):
                pieces.append(piece)
                if streamer is not None:
                    streamer.on_finalized_text(piece, stream_end=False)
        finally:
            if streamer is not None:
                streamer.on_finalized_text("", stream_end=True)
    return "".join(pieces).strip()


def tiny(path: Path, seed: int = 0) -> Path:
    """Save a tiny randomly initialised palme model in ``path`` (64 x 48 images, a 32-wide encoder, 4 image
    tokens, a 2-layer random Llama with SmolLM2's tokenizer, LoRA rank 2); seconds on a CPU, loadable by
    :func:`load` offline."""
    from vlm_robot.vlm.palme.model import LM_TINY, PalmeConfig, build_palme, save_palme

    cfg = PalmeConfig(image_width=64, image_height=48, enc_dim=32, enc_layers=1, enc_heads=4, image_tokens=4,
                      lm=LM_TINY, lora_rank=2, lora_alpha=4.0, training={"note": f"tiny random, seed {seed}"})
    vlm = build_palme(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # random weights everywhere we save, so the answer depends on the image and says something
        for name, p in sorted(vlm.named_parameters()):
            if name.startswith("prefix_net.") or ".lora_" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * (1.0 if ".lora_b" in name else p.std().clamp(min=0.02)))
    return save_palme(vlm, Path(path))
