"""What the vision encoder is fed: frames (simulated, from a bag, for calibration), the family's model and
processor, and the encoder inputs its processor makes for frames."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import InvalidInputError, ModelNotFoundError
from vlm_robot.vlm.compiled.cache import read_sidecar

EXPORT_QUESTION = "Describe the image."



# --------------------------------------------------------------------------------------------------- frames



def simulated_frames(n: int, size: tuple[int, int] = (480, 640), seed: int = 0) -> list[np.ndarray]:
    """``n`` RGB ``(H, W, 3)`` uint8 frames of the simulated demo room (smooth noise when the scene is absent)."""
    try:
        from vlm_robot.sim.scene import Scene

        scene_file = Path(__file__).resolve().parents[3] / "sim" / "scenes" / "demo.yaml"
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

    from vlm_robot.vlm.families import family_for_model_type, local_model_type

    model_type = local_model_type(source)  # the project's own models (palme): AutoConfig does not know them
    if model_type is None:
        try:
            model_type = AutoConfig.from_pretrained(source, local_files_only=not allow_download).model_type
        except OSError as err:
            raise ModelNotFoundError(
                f"VLM model {source!r} could not be read ({err}); pass a folder written by save_pretrained, "
                "or a hub id with --allow-download (vlm.allow_download: true)"
            ) from err
    fam = family_for_model_type(model_type)
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
    if hasattr(fam, "load_processor"):  # the project's own families (palme) have no AutoProcessor
        processor = fam.load_processor(meta["model_source"])
    else:
        processor = AutoProcessor.from_pretrained(meta["model_source"])
    out = []
    for fr in tqdm(frames, desc="calibration frames", unit="frame"):
        ins = fam.build_inputs(processor, EXPORT_QUESTION, [fr])
        out.append({k: ins[k].numpy() for k in meta["input_names"]})
    return out
