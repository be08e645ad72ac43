"""Face catalogue of the simulated room: the photographs people wear there and their plate textures.

Every face is a real photograph that ships inside a registry package (nothing is downloaded at run time):

* ``astronaut``: scikit-image's astronaut photo (public domain, NASA); reads happy.
* ``grace_hopper``: matplotlib's sample photo of Grace Hopper (public domain, US Navy); reads neutral.
* ``lfw:N``: face N (0..99) of scikit-image's 25x25 grayscale LFW subset; the catalogue lists the ones
  whose expression the FER model reads consistently; any other index is accepted with no intended label.

There are no human expression labels for these photos: the catalogue's label is what the real FER model
reads on the flat photograph, so :func:`vlm_robot.sim.face_reading.measure_faces` measures whether the
simulated room (distance, angle, lighting, texture filtering) keeps that reading. This module is the
catalogue and the plate textures only; :mod:`vlm_robot.sim.world` builds the room with them.
"""

from __future__ import annotations

import cv2
import numpy as np

from vlm_robot.core.assets import Asset
from vlm_robot.core.errors import ConfigError

FACE_WIDTH_M = 0.16  # metric width of the face box the detector draws (about ear to ear)
PLATE_W, PLATE_H = 1.7, 2.0  # plate size in face-box widths / heights (some head and hair around the face)
LFW_ZOOM = 1.6

GRACE_HOPPER_IMAGE = Asset(
    "Grace Hopper photograph (matplotlib sample data, public domain)",
    "matplotlib",
    "mpl-data/sample_data/grace_hopper.jpg",
    "a8ca6d734765703b09728ab47fe59f473d93ae3967fc24c7c0288c3c7adb7130",
    "matplotlib==3.11.2",
)

# face id -> expression the FER model reads on the flat photograph
FACES: dict[str, str] = {
    "astronaut": "happy",
    "grace_hopper": "neutral",
    "lfw:31": "happy",
    "lfw:93": "happy",
    "lfw:75": "happy",
    "lfw:72": "neutral",
    "lfw:3": "sad",
    "lfw:6": "sad",
    "lfw:66": "sad",
    "lfw:5": "angry",
    "lfw:88": "surprise",
}


def known_faces() -> str:
    """Human-readable list of the accepted face ids (for error messages)."""
    return ", ".join(FACES) + " (or any lfw:0..lfw:99)"


def check_face(face: str) -> str:
    """``face`` if it names a catalogue photo; else :class:`ConfigError` listing the known faces."""
    if face in FACES:
        return face
    if face.startswith("lfw:") and face[4:].isdigit() and 0 <= int(face[4:]) < 100:
        return face
    raise ConfigError(f"face {face!r} unknown; expected one of {known_faces()}")


def _photo(face: str) -> tuple[np.ndarray, tuple[float, float, float, float]]:
    """RGB photo and the face box ``(x, y, w, h)`` in it, pixels."""
    check_face(face)
    if face == "grace_hopper":
        bgr = cv2.imread(str(GRACE_HOPPER_IMAGE.path()), cv2.IMREAD_COLOR)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), (167.0, 131.0, 199.0, 199.0)
    from vlm_robot.sim.scene import _face_photo

    return _face_photo(face)


def plate_texture(face: str, width: int = 192) -> np.ndarray:
    """The face plate's texture: ``(H, W, 3)`` uint8 RGB, the face box centred and ``1/PLATE_W`` of its width.

    Row 0 is the top of the face. The plate it covers is ``PLATE_W * FACE_WIDTH_M`` wide and
    ``PLATE_H * FACE_WIDTH_M`` high (metres).
    """
    photo, (fx, fy, fw, fh) = _photo(face)
    # an LFW box is the tight 25 x 25 inner face: shown LFW_ZOOM x larger (the inner face then fills the
    # plate: a large head, but BlazeFace finds these low-resolution faces about twice as often)
    k = LFW_ZOOM if face.startswith("lfw:") else 1.0
    cw, ch = PLATE_W * fw / k, PLATE_H * fh / k
    x0, y0 = round(fx + fw / 2 - cw / 2), round(fy + fh / 2 - ch / 2)
    x1, y1 = x0 + round(cw), y0 + round(ch)
    h, w = photo.shape[:2]
    pad = max(0, -x0, -y0, x1 - w, y1 - h)
    if pad:
        photo = cv2.copyMakeBorder(photo, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    crop = photo[y0 + pad:y1 + pad, x0 + pad:x1 + pad]
    height = round(width * PLATE_H / PLATE_W)
    interp = cv2.INTER_AREA if crop.shape[1] > width else cv2.INTER_CUBIC
    return np.ascontiguousarray(cv2.resize(crop, (width, height), interpolation=interp))
