"""How well the re-identification descriptor separates the demo faces (it is not face recognition).

    .venv/bin/python -m vlm_robot.benchmarks.reid_separation

Renders the astronaut and each of the 100 LFW faces that ship with scikit-image into the demo room
under five conditions (face 60-140 px, different places, brightness x0.85-x1.1, pixel noise), runs the
real face detector and vlm_robot.perception.reid on each detected face, and prints the cosine distances
of same-face and different-face pairs and the match rates at the tracker's threshold.
"""

from __future__ import annotations

import itertools
import sys

import cv2
import numpy as np

from vlm_robot.perception.faces import FaceDetector
from vlm_robot.perception.reid import descriptor_distance, face_descriptor
from vlm_robot.sim.scene import Scene

# (face px, centre, brightness gain, noise sigma)
CONDITIONS = [(100, (190, 190), 1.0, 0.0), (120, (470, 180), 1.0, 0.0), (80, (320, 220), 0.85, 0.0),
              (140, (250, 200), 1.1, 6.0), (60, (400, 150), 1.0, 3.0)]


def render(face: str, px: int, centre: tuple[int, int], gain: float, noise: float, seed: int) -> np.ndarray:
    doc = {"name": "reid", "duration_s": 1, "fps": 1, "size": [640, 480],
           "people": [{"name": "p", "face": face, "enter_s": 0, "leave_s": 9, "center": list(centre), "face_px": px}]}
    img = Scene.from_dict(doc).render(0.5).astype(np.float32) * gain
    if noise:
        img += np.random.default_rng(seed).normal(0, noise, img.shape)
    return np.clip(img, 0, 255).astype(np.uint8)


def main(threshold: float = 0.08) -> int:
    det = FaceDetector("full", 0.5)
    feats: dict[str, list[np.ndarray]] = {}
    missed = 0
    faces = ["astronaut"] + [f"lfw:{i}" for i in range(100)]
    for face in faces:
        for i, (px, (cx, cy), gain, noise) in enumerate(CONDITIONS):
            img = render(face, px, (cx, cy), gain, noise, i)
            found = [d for d in det.detect(img)
                     if abs(d.box[0] + d.box[2] / 2 - cx) < px / 2 and abs(d.box[1] + d.box[3] / 2 - cy) < px / 2]
            if not found:
                missed += 1
                continue
            d = max(found, key=lambda d: d.score)
            feats.setdefault(face, []).append(face_descriptor(cv2.cvtColor(img, cv2.COLOR_RGB2GRAY), d.box))
    items = [(f, v) for f, vs in feats.items() for v in vs]
    same, diff = [], []
    for (fa, a), (fb, b) in itertools.combinations(items, 2):
        (same if fa == fb else diff).append(descriptor_distance(a, b))
    same_a, diff_a = np.array(same), np.array(diff)
    astro = [descriptor_distance(a, b) for a in feats.get("astronaut", []) for f, vs in feats.items()
             if f != "astronaut" for b in vs]
    print(f"{len(feats)} faces detected in {len(items)} of {len(faces) * len(CONDITIONS)} renders ({missed} missed)")
    print(f"same face   ({len(same_a)} pairs): median {np.median(same_a):.3f}, p95 {np.quantile(same_a, 0.95):.3f}, "
          f"max {same_a.max():.3f}")
    print(f"other faces ({len(diff_a)} pairs): min {diff_a.min():.3f}, p1 {np.quantile(diff_a, 0.01):.3f}, "
          f"median {np.median(diff_a):.3f}")
    print(f"astronaut vs every LFW face: min {min(astro):.3f}, median {np.median(astro):.3f}")
    print(f"at threshold {threshold}: same-face pairs matched {np.mean(same_a <= threshold):.1%}, "
          f"different-face pairs matched (false) {np.mean(diff_a <= threshold):.2%}")
    return 0


if __name__ == "__main__":
    sys.exit(main(*(float(a) for a in sys.argv[1:2])))
