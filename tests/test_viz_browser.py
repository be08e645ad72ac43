"""The Rerun view in a real browser: the golden session converted, served on 127.0.0.1, rendered by headless Chromium.

The screenshot must show the camera frame where the blueprint puts it (not a blank or loading canvas) with the
people's boxes in their mood colours. What the view holds (frames, boxes, text rows) is read from the served .rrd
itself (tests/test_viz.py checks more). The screenshot is kept in out/test_viz/; with VLM_ROBOT_UPDATE_SCREENSHOT=1
it also replaces the README's docs/images/rerun_view.png (scaled down).

Skipped, saying why, when Chromium or rerun-sdk is missing (`make setup` installs Debian's chromium as root).
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("rerun", reason="rerun-sdk (the [viz] extra) is not installed: pip install -r requirements/viz.txt")

from vlm_robot.viz.browser import Chromium, find_chromium, save_png

ROOT = Path(__file__).resolve().parent.parent
GOLDEN = ROOT / "tests" / "artifacts" / "golden_session"
README_PNG = ROOT / "docs" / "images" / "rerun_view.png"
# where the blueprint (vlm_robot/viz/layout.py) puts the camera view, as fractions of the 1280x800 window:
# the left 3/5, the top 3/4 under the viewer's menu bar and the view's title; the frame is letterboxed inside
CAMERA = (0.02, 0.10, 0.58, 0.62)  # x0, y0, x1, y1


def camera_region(png: bytes) -> np.ndarray:
    import cv2

    img = cv2.imdecode(np.frombuffer(png, np.uint8), cv2.IMREAD_COLOR)[:, :, ::-1]  # RGB
    h, w = img.shape[:2]
    x0, y0, x1, y1 = CAMERA
    return img[int(y0 * h):int(y1 * h), int(x0 * w):int(x1 * w)]


def rendered(png: bytes) -> bool:
    """The camera view shows a frame: no single colour (a blank or loading view's background) covers most of it,
    and it has the contrast of a picture."""
    region = camera_region(png)
    coarse = (region // 32).reshape(-1, 3).astype(np.int32)
    codes = coarse[:, 0] * 64 + coarse[:, 1] * 8 + coarse[:, 2]
    top_share = np.bincount(codes).max() / codes.size
    return top_share < 0.6 and region.std() > 20


def mood_pixels(png: bytes, colour: tuple[int, int, int], tol: int = 40) -> int:
    """Pixels of the camera view within ``tol`` of a box colour (a person's mood)."""
    region = camera_region(png).astype(np.int16)
    return int((np.abs(region - np.array(colour)).max(axis=2) < tol).sum())


@pytest.mark.skipif(find_chromium() is None, reason="Chromium is not installed (Debian: apt-get install chromium; "
                    "`make setup` installs it when run as root), so the view cannot be rendered here")
def test_the_golden_session_renders_in_headless_chromium(tmp_path):
    from vlm_robot.viz.convert import bag_to_rrd
    from vlm_robot.viz.layout import MOOD_COLOURS
    from vlm_robot.viz.rrd import read_rrd
    from vlm_robot.viz.viewer import Viewer

    conv = bag_to_rrd(GOLDEN, tmp_path / "golden.rrd", perceive=True)
    served = read_rrd(conv.rrd)  # what the page shows, from the file itself (tests/test_viz.py checks more)
    assert served.rows["camera/image"] == 68 and served.blueprint
    assert served.boxes["camera/image/people"] > 68  # two people in view most of the session
    assert {k: len(served.texts[k]) for k in ("speech/person", "decisions", "intents/verdicts")} == {
        "speech/person": 2, "decisions": 11, "intents/verdicts": 6}
    out = ROOT / "out" / "test_viz"
    t0 = time.monotonic()
    with Viewer(conv.rrd, grpc_port=0, web_port=0, log=tmp_path / "viewer.log") as viewer, Chromium() as browser:
        browser.open(viewer.url)
        png = browser.screenshot_when(rendered, timeout_s=75.0)
        shown_after = time.monotonic() - t0
        save_png(png, out / "golden_session.png")
        assert rendered(png), f"the camera view stayed blank for {shown_after:.0f} s: {out / 'golden_session.png'}"
        # the last frame: the smiling astronaut (happy, green box) and the sad person (blue box) both tracked
        assert mood_pixels(png, MOOD_COLOURS["happy"]) > 100 and mood_pixels(png, MOOD_COLOURS["sad"]) > 100
    if os.environ.get("VLM_ROBOT_UPDATE_SCREENSHOT") == "1":
        save_png(png, README_PNG, width=960)
