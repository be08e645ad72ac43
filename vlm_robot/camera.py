"""Camera sources: a V4L2 device, a video file or a folder of images, as RGB frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from vlm_robot.core.errors import InvalidInputError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".ppm", ".pgm", ".tif", ".tiff"}


class CameraSource:
    """Frames from ``source``: ``/dev/videoN`` or an integer index (V4L2), a video file, or an image folder.

    Args:
        source: where frames come from.
        width, height: requested size for devices; files are resized when both are > 0.
        loop: restart files and folders at the end instead of stopping.
    """

    def __init__(self, source: str, width: int = 0, height: int = 0, loop: bool = True) -> None:
        self.source, self.width, self.height, self.loop = source, width, height, loop
        self._files: list[Path] = []
        self._index = 0
        self._cap = None
        p = Path(source)
        if source.isdigit() or source.startswith("/dev/video"):
            if not source.isdigit() and not p.exists():  # before OpenCV, which logs a warning on every try
                raise InvalidInputError(f"cannot open camera source {source!r}: no such device, not plugged in?")
            dev = int(source) if source.isdigit() else source
            self._cap = cv2.VideoCapture(dev, cv2.CAP_V4L2)
            if width and height:
                self._cap.set(cv2.CAP_PROP_FRAME_WIDTH, width)
                self._cap.set(cv2.CAP_PROP_FRAME_HEIGHT, height)
        elif p.is_dir():
            self._files = sorted(f for f in p.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
            if not self._files:
                raise InvalidInputError(f"camera source folder {p} has no images ({sorted(IMAGE_SUFFIXES)})")
        elif p.is_file():
            self._cap = cv2.VideoCapture(str(p))
        else:
            raise InvalidInputError(
                f"camera source {source!r} is neither a device (/dev/video0 or 0), a video file nor an image folder"
            )
        if self._cap is not None and not self._cap.isOpened():
            raise InvalidInputError(f"cannot open camera source {source!r} (check the device exists and is free)")

    def read(self) -> np.ndarray | None:
        """The next RGB frame, or None at the end of a file or folder that does not loop."""
        if self._files:
            bgr = None
            for _ in range(len(self._files)):  # skip unreadable files (deleted, not images), each folder pass once
                if self._index >= len(self._files):
                    if not self.loop:
                        return None
                    self._index = 0
                bgr = cv2.imread(str(self._files[self._index]), cv2.IMREAD_COLOR)
                self._index += 1
                if bgr is not None:
                    break
            if bgr is None:
                raise InvalidInputError(f"camera source {self.source}: none of its {len(self._files)} image files "
                                        "can be read any more (deleted, or not images); point it at a folder of "
                                        "JPEG/PNG files")
        else:
            ok, bgr = self._cap.read()
            if not ok and self.loop and not self.source.isdigit() and not self.source.startswith("/dev/"):
                self._cap.set(cv2.CAP_PROP_POS_FRAMES, 0)
                ok, bgr = self._cap.read()
            if not ok:
                return None
        if self.width > 0 and self.height > 0 and bgr.shape[:2] != (self.height, self.width):
            bgr = cv2.resize(bgr, (self.width, self.height), interpolation=cv2.INTER_AREA)
        return cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def close(self) -> None:
        if self._cap is not None:
            self._cap.release()
