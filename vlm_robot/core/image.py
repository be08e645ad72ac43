"""Validation and conversion of raw camera images (the fields of sensor_msgs/Image) to RGB arrays."""

from __future__ import annotations

import numpy as np

from vlm_robot.core.errors import InvalidInputError

# encoding -> (channels, bytes per channel)
ENCODINGS: dict[str, int] = {"rgb8": 3, "bgr8": 3, "rgba8": 4, "bgra8": 4, "mono8": 1}

DEFAULT_MAX_PIXELS = 4096 * 4096


def image_to_rgb(
    height: int,
    width: int,
    encoding: str,
    step: int,
    data: bytes | bytearray | memoryview | np.ndarray,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
) -> np.ndarray:
    """Check the fields of a raw image and return it as an ``(H, W, 3)`` uint8 RGB array.

    Args:
        height: rows.
        width: columns.
        encoding: one of :data:`ENCODINGS`.
        step: bytes per row, at least ``width * channels`` (rows may be padded).
        data: ``height * step`` bytes.
        max_pixels: refuse larger images (a camera driver gone wrong, or a hostile publisher).

    Raises:
        InvalidInputError: with what was expected and what arrived.
    """
    if encoding not in ENCODINGS:
        raise InvalidInputError(
            f"image encoding {encoding!r} is not supported; expected one of "
            f"{sorted(ENCODINGS)} (convert on the camera driver or with image_proc)"
        )
    if height <= 0 or width <= 0:
        raise InvalidInputError(
            f"image is {width}x{height}; expected a non-empty image (width and height > 0)"
        )
    if height * width > max_pixels:
        raise InvalidInputError(
            f"image is {width}x{height} = {height * width} pixels; expected at most {max_pixels} "
            "(lower the camera resolution or raise the max_pixels parameter)"
        )
    channels = ENCODINGS[encoding]
    row = width * channels
    if step < row:
        raise InvalidInputError(
            f"image step is {step} bytes; expected at least width*channels = {width}*{channels} = {row} "
            f"for encoding {encoding}"
        )
    buf = np.frombuffer(data, dtype=np.uint8) if not isinstance(data, np.ndarray) else data.reshape(-1)
    if buf.size != step * height:
        raise InvalidInputError(
            f"image data has {buf.size} bytes; expected step*height = {step}*{height} = {step * height} "
            f"for a {width}x{height} {encoding} image"
        )
    img = buf.reshape(height, step)[:, :row].reshape(height, width, channels)
    if encoding == "rgb8":
        return np.ascontiguousarray(img)
    if encoding == "bgr8":
        return np.ascontiguousarray(img[:, :, ::-1])
    if encoding == "rgba8":
        return np.ascontiguousarray(img[:, :, :3])
    if encoding == "bgra8":
        return np.ascontiguousarray(img[:, :, 2::-1])
    return np.repeat(img, 3, axis=2)  # mono8


def resize_area(rgb: np.ndarray, width: int, height: int) -> np.ndarray:
    """``rgb`` ((H, W, 3) uint8) resized to ``width`` x ``height`` with area averaging (``cv2.INTER_AREA``): the
    one resize the palme VLM's dataset and its serving path share, so the model sees frames as it was trained.

    Raises:
        InvalidInputError: ``rgb`` is not an ``(H, W, 3)`` uint8 array.
    """
    import cv2

    a = np.asarray(rgb)
    if a.ndim != 3 or a.shape[2] != 3 or a.dtype != np.uint8:
        raise InvalidInputError(f"expected an (H, W, 3) uint8 RGB image, got shape {a.shape} dtype {a.dtype}; "
                                "convert the frame to RGB uint8 first (vlm_robot.core.image.image_to_rgb)")
    if a.shape[:2] == (height, width):
        return np.ascontiguousarray(a)
    return cv2.resize(a, (width, height), interpolation=cv2.INTER_AREA)
