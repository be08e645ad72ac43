import numpy as np
import pytest

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.image import image_to_rgb


def test_rgb_bgr_mono_and_padded_rows_convert_to_rgb():
    rgb = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    assert np.array_equal(image_to_rgb(2, 3, "rgb8", 9, rgb.tobytes()), rgb)
    assert np.array_equal(image_to_rgb(2, 3, "bgr8", 9, rgb[:, :, ::-1].tobytes()), rgb)
    padded = np.zeros((2, 12), np.uint8)
    padded[:, :9] = rgb.reshape(2, 9)
    assert np.array_equal(image_to_rgb(2, 3, "rgb8", 12, padded.tobytes()), rgb)
    mono = image_to_rgb(2, 3, "mono8", 3, bytes(range(6)))
    assert mono.shape == (2, 3, 3) and (mono[..., 0] == mono[..., 2]).all()
    rgba = np.dstack([rgb, np.full((2, 3), 255, np.uint8)])
    assert np.array_equal(image_to_rgb(2, 3, "rgba8", 12, rgba.tobytes()), rgb)


@pytest.mark.parametrize(
    ("args", "expected_words"),
    [
        ((480, 640, "rgb8", 1920, bytes(100)), ["100 bytes", "921600"]),  # data length mismatch
        ((480, 640, "rgb8", 100, bytes(48000)), ["step is 100", "at least"]),  # step too small
        ((2, 2, "yuv422", 4, bytes(8)), ["yuv422", "rgb8"]),  # unknown encoding
        ((0, 0, "rgb8", 0, b""), ["0x0", "non-empty"]),
        ((8000, 8000, "mono8", 8000, b""), ["8000x8000", "at most"]),
    ],
)
def test_bad_images_say_what_was_expected(args, expected_words):
    with pytest.raises(InvalidInputError) as e:
        image_to_rgb(*args)
    for word in expected_words:
        assert word in str(e.value)
