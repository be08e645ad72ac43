"""Reads a dataset written by ``vlm-robot data sim`` (:mod:`vlm_robot.sim.vqa_data`) for training and evaluation.

Besides the question/answer pairs it derives the encoder pre-training targets (:data:`AUX`) from each
image's ground truth: what is on the table (count per type and colour), what is in view per type, how many
people, what the camera looks at, whether the table is in view and where each type of object sits left to
right on the table.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.sim.vqa_data import read_manifest
from vlm_robot.vlm.palme.model import face_features, state_features

TYPES = ("cup", "bottle", "ball", "box")
COLORS = ("red", "green", "blue", "yellow", "white")
LOOKING = ("table", "shelf", "chair", "plant", "door", "window", "picture", "wall", "floor", "person", "other")
# name -> [groups, classes]; classes 1 means a regression (masked where undefined)
AUX: dict[str, list[int]] = {
    "table": [len(TYPES) * len(COLORS), 4],
    "types": [len(TYPES), 5],
    "colors": [len(COLORS), 5],
    "people": [1, 4],
    "looking": [1, len(LOOKING)],
    "table_visible": [1, 2],
    "u": [len(TYPES), 1],
    # dense: per cell of the encoder's grid, the type / colour of a visible object centred there (0: none)
    "grid_type": [0, len(TYPES) + 1],
    "grid_color": [0, len(COLORS) + 1],
}
COUNTS = ("table", "types", "colors", "grid_type", "grid_color")  # mostly 0: the other classes weigh more


class SimVQA:
    """One split of a dataset: images (memory-mapped), per-image meta and the questions grouped by image."""

    def __init__(self, folder: str | Path, split: str = "train") -> None:
        self.folder = Path(folder).expanduser()
        self.manifest = read_manifest(self.folder)
        d = self.folder / split
        if split not in self.manifest.get("splits", {}) or not (d / "images.npy").is_file():
            raise InvalidInputError(f"{self.folder} has no split {split!r} "
                                    f"(splits: {sorted(self.manifest.get('splits', {}))})")
        self.split = split
        self.images = np.load(d / "images.npy", mmap_mode="r")
        with open(d / "meta.jsonl") as f:
            self.meta = [json.loads(line) for line in f if line.strip()]
        if len(self.meta) != len(self.images):
            raise InvalidInputError(f"{d}: {len(self.images)} images but {len(self.meta)} meta lines; regenerate it")
        self.qa: list[dict[str, Any]] = []
        self.by_image: dict[int, list[int]] = defaultdict(list)
        with open(d / "qa.jsonl") as f:
            for line in f:
                if line.strip():
                    q = json.loads(line)
                    self.by_image[int(q["image"])].append(len(self.qa))
                    self.qa.append(q)
        self.types = sorted({q["type"] for q in self.qa})

    def __len__(self) -> int:
        return len(self.images)

    def inputs(self, idx: list[int] | np.ndarray, known: list[bool] | None = None) -> dict[str, Any]:
        """Prefix inputs for images ``idx``: numpy arrays ``image`` (B, H, W, 3) uint8, ``faces``, ``face_mask``,
        ``state``; ``known[b]`` False gives sample b's pose as unknown (training teaches what to say then)."""
        faces, masks, states = [], [], []
        for b, i in enumerate(idx):
            m = self.meta[int(i)]
            f, k = face_features(m.get("faces", []))
            faces.append(f)
            masks.append(k)
            states.append(state_features(m["state"] if known is None or known[b] else None))
        return {"image": np.stack([self.images[int(i)] for i in idx]), "faces": np.stack(faces),
                "face_mask": np.stack(masks), "state": np.stack(states)}

    def aux_targets(self, idx: list[int] | np.ndarray, grid: tuple[int, int] = (11, 14)) -> dict[str, np.ndarray]:
        """:data:`AUX` targets for images ``idx``: class indices (int64), regressions as float with NaN = none;
        ``grid``: (rows, columns) of the encoder's grid for the dense targets."""
        rows, cols = grid
        out = {k: np.zeros((len(idx), g or rows * cols), np.float32 if c == 1 else np.int64)
               for k, (g, c) in AUX.items()}
        out["u"][:] = np.nan
        for b, i in enumerate(idx):
            t = self.meta[int(i)]["truth"]
            us: dict[int, list[float]] = defaultdict(list)
            for o in t.get("objects", []):
                if not o.get("visible") or o.get("type") not in TYPES:
                    continue
                ti = TYPES.index(o["type"])
                out["types"][b, ti] = min(out["types"][b, ti] + 1, 4)
                cell = min(int(float(o["v"]) * rows), rows - 1) * cols + min(int(float(o["u"]) * cols), cols - 1)
                if 0.0 <= float(o["u"]) <= 1.0 and 0.0 <= float(o["v"]) <= 1.0:
                    out["grid_type"][b, cell] = ti + 1
                    out["grid_color"][b, cell] = COLORS.index(o["color"]) + 1 if o.get("color") in COLORS else 0
                if o.get("color") in COLORS:
                    ci = COLORS.index(o["color"])
                    out["colors"][b, ci] = min(out["colors"][b, ci] + 1, 4)
                    if o.get("on") == "table":
                        j = ti * len(COLORS) + ci
                        out["table"][b, j] = min(out["table"][b, j] + 1, 3)
                if o.get("on") == "table":
                    us[ti].append(float(o["u"]))
            for ti, vals in us.items():
                out["u"][b, ti] = float(np.mean(vals))
            out["people"][b, 0] = min(sum(1 for p in t.get("people", []) if p.get("visible")), 3)
            look = t.get("looking_at", "other")
            out["looking"][b, 0] = LOOKING.index(look) if look in LOOKING else LOOKING.index("other")
            out["table_visible"][b, 0] = int(bool(t.get("table_visible")))
        return out

