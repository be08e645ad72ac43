"""Face catalogue of the simulated room, and how well the real perception reads each face there.

Every face is a real photograph that ships inside a registry package (nothing is downloaded at run time):

* ``astronaut``: scikit-image's astronaut photo (public domain, NASA); reads happy.
* ``grace_hopper``: matplotlib's sample photo of Grace Hopper (public domain, US Navy); reads neutral.
* ``lfw:N``: face N (0..99) of scikit-image's 25x25 grayscale LFW subset; the catalogue lists the ones
  whose expression the FER model reads consistently; any other index is accepted with no intended label.

There are no human expression labels for these photos: ``intended`` is what the real FER model reads on
the flat photograph, so :func:`measure_faces` measures whether the simulated room (distance, angle,
lighting, texture filtering) keeps that reading.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass

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


@dataclass(frozen=True)
class FaceRow:
    """How one face reads in the room at one head angle, over several distances and lateral offsets."""

    face: str
    angle_deg: float  # 0: facing the camera; 90: looking sideways
    renders: int
    detected: float  # fraction of renders with a face found near the person's head
    expression: str  # most common read expression ("-" when never detected)
    confidence: float  # mean top-class probability over detected renders
    intended: str
    matches: float  # fraction of *all* renders whose read expression equals the intended one


def measure_faces(faces: list[str] | None = None, distances: tuple[float, ...] = (1.0, 1.5, 2.0, 2.5),
                  angles_deg: tuple[float, ...] = (0.0, 30.0, 90.0), offsets: tuple[float, ...] = (-0.35, 0.0, 0.35),
                  width: int = 640, height: int = 480, perceiver=None) -> list[FaceRow]:
    """Render each face in the room and run the real perception on it.

    One person stands ``d`` metres in front of the robot (``distances``, m) at lateral offset
    ``offset * d`` (``offsets``, so the face lands left/centre/right in the image), turned ``angle``
    degrees away from the robot (``angles_deg``). A detection counts when its box centre lies within
    one face width of where the face should be (:meth:`World.face_pixel`).
    """
    from vlm_robot.core.types import Frame
    from vlm_robot.sim.world import World

    if perceiver is None:
        from vlm_robot.perception.pipeline import Perceiver

        perceiver = Perceiver()
    faces = list(faces or FACES)
    world = World({"p": faces[0]}, width, height, faces_needed=faces)
    rows = []
    try:
        for face in faces:
            for ang in angles_deg:
                reads: list[tuple[str, float]] = []
                n = 0
                for d in distances:
                    for off in offsets:
                        y = off * d
                        facing = math.atan2(-y, -d)  # yaw that looks straight at the robot
                        world.set_person("p", d, y, facing + math.radians(ang), face=face)
                        world.step(0.0)
                        n += 1
                        where = world.face_pixel("p")
                        result = perceiver.process(Frame(world.render(), world.time))
                        for f in result.faces:
                            bx, by, bw, bh = f.box
                            if where and math.hypot(bx + bw / 2 - where[0], by + bh / 2 - where[1]) < max(where[2], 8):
                                reads.append((f.expression, max(f.expression_scores)))
                                break
                intended = FACES.get(face, "-")
                top = Counter(e for e, _ in reads).most_common(1)
                rows.append(FaceRow(face, ang, n, len(reads) / n, top[0][0] if top else "-",
                                    float(np.mean([c for _, c in reads])) if reads else 0.0, intended,
                                    sum(e == intended for e, _ in reads) / n))
    finally:
        world.close()
    return rows


def format_rows(rows: list[FaceRow]) -> str:
    """A plain-text table of :func:`measure_faces` rows."""
    lines = [f"{'face':<14}{'angle':>6}{'n':>4}{'detected':>10}  {'reads':<10}{'conf':>6}  "
             f"{'intended':<10}{'match':>6}"]
    for r in rows:
        lines.append(f"{r.face:<14}{r.angle_deg:>6.0f}{r.renders:>4}{r.detected:>10.0%}  {r.expression:<10}"
                     f"{r.confidence:>6.2f}  {r.intended:<10}{r.matches:>6.0%}")
    return "\n".join(lines)


def main() -> int:
    """`vlm-robot sim --faces`: how perception reads each catalogue face rendered in the room."""
    rows = measure_faces()
    print(format_rows(rows))
    print("detected: a face found within one face width of where the person's face is; match: share of all "
          "renders read as the intended expression (distances 1.0-2.5 m, three lateral offsets)")
    return 0
