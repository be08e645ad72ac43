"""Real packaged models on real photographs."""

import re
import shutil

import numpy as np
import pytest

from vlm_robot.core.assets import FACE_DETECTOR_FULL, Asset
from vlm_robot.core.errors import ModelIntegrityError, ModelNotFoundError
from vlm_robot.core.types import Frame


def test_astronaut_face_found_where_it_is_and_read_as_happy(perceiver, astronaut):
    r = perceiver.process(Frame(astronaut, 1.0))
    assert len(r.faces) == 1
    x, y, w, h = r.faces[0].box
    # the face in skimage's astronaut.png spans roughly x 170-280, y 60-180
    assert 150 < x + w / 2 < 260 and 90 < y + h / 2 < 160 and 80 < w < 140
    assert r.faces[0].expression == "happy"
    assert r.faces[0].facing > 0.7


def test_scene_faces_read_as_intended(perceiver, demo_scene):
    r = perceiver.process(Frame(demo_scene.render(12.0), 12.0))
    moods = sorted((f.box[0], f.expression) for f in r.faces)
    assert [m for _, m in moods] == ["happy", "sad"]  # astronaut left, LFW face 6 right


def test_empty_room_has_no_faces(perceiver, demo_scene):
    assert perceiver.process(Frame(demo_scene.render(0.2), 0.2)).faces == ()


def test_faces_survive_resizing_and_mirroring(perceiver, astronaut):
    import cv2

    for img in (cv2.resize(astronaut, (640, 480)), astronaut[:, ::-1].copy(), cv2.resize(astronaut, (256, 256))):
        r = perceiver.process(Frame(np.ascontiguousarray(img), 0.0))
        assert len(r.faces) == 1 and r.faces[0].expression == "happy"


def test_corrupted_model_file_is_refused_with_the_fix(tmp_path, monkeypatch):
    src = FACE_DETECTOR_FULL.path()
    pkg = tmp_path / "fakepkg"
    (pkg / "modules" / "face_detection").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    dst = pkg / "modules" / "face_detection" / src.name
    shutil.copy(src, dst)
    with dst.open("r+b") as f:
        f.seek(1000)
        f.write(b"\x00\x01\x02")
    monkeypatch.syspath_prepend(str(tmp_path))
    asset = Asset("test detector", "fakepkg", f"modules/face_detection/{src.name}", FACE_DETECTOR_FULL.sha256,
                  "mediapipe==0.10.14")
    fix = re.escape("pip install --no-deps --force-reinstall mediapipe==0.10.14")
    with pytest.raises(ModelIntegrityError, match=fix):
        asset.path()


def test_missing_model_package_names_what_to_install():
    asset = Asset("x", "no_such_package_here", "m.tflite", "0" * 64, "some-wheel==1.0")
    with pytest.raises(ModelNotFoundError, match=re.escape("pip install --no-deps some-wheel==1.0")):
        asset.path()
