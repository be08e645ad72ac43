"""The VLM node's core without ROS: frame buffer, clip sampling, question queue, errors, descriptions."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.core.types import Frame
from vlm_robot.vlm.base import VLMAnswer, VLMConfig, make_backend, sample_clip
from vlm_robot.vlm.service import FrameBuffer, Question, VLMNodeConfig, VLMService, parse_question


def frame(t: float) -> Frame:
    return Frame(np.zeros((4, 4, 3), np.uint8), t)


def test_sample_clip_spreads_frames_by_time_not_index():
    frames = [frame(t / 30) for t in range(90)]  # 3 s at 30 fps
    clip = sample_clip(frames, 3, 2.0)
    stamps = [f.stamp for f in clip]
    assert clip[-1] is frames[-1] and len(clip) == 3
    assert stamps[2] - stamps[0] == pytest.approx(2.0, abs=1 / 30 + 1e-9)  # the whole span
    assert stamps[1] - stamps[0] == pytest.approx(stamps[2] - stamps[1], abs=1 / 30 + 1e-9)  # evenly spread
    slow = [frame(t / 5) for t in range(15)]  # the same span at 5 fps gives the same times
    assert [round(f.stamp, 1) for f in sample_clip(slow, 3, 2.0)] == [0.8, 1.8, 2.8]
    assert sample_clip(frames, 1, 2.0) == [frames[-1]]
    assert sample_clip([], 4, 2.0) == []


def test_frame_buffer_is_bounded_and_keeps_the_newest_frame():
    buf = FrameBuffer(seconds=2.0, max_frames=8)
    for i in range(600):  # 20 s at 30 fps
        buf.add(frame(i / 30))
    assert len(buf._kept) <= 8
    clip = buf.clip(4, 2.0)
    assert clip[-1].stamp == pytest.approx(599 / 30)
    assert clip[0].stamp >= 599 / 30 - 2.0 - 1e-9
    assert len(clip) == 4
    buf.add(frame(0.0))  # a replay restarted: time went backwards, old frames are dropped
    assert [f.stamp for f in buf.clip(4, 2.0)] == [0.0]


def test_config_errors_name_the_parameter():
    with pytest.raises(ConfigError, match=r"vlm\.backend 'nope' unknown"):
        VLMConfig(backend="nope")
    with pytest.raises(ConfigError, match="clip_frames"):
        VLMConfig(clip_frames=0)
    with pytest.raises(ConfigError, match="describe_rate_hz"):
        VLMNodeConfig(describe_rate_hz=-1)


def test_parse_question_refuses_empty_and_long_questions():
    assert parse_question({"id": "a", "question": "  Who is here? "}, 50).text == "Who is here?"
    with pytest.raises(InvalidInputError, match="empty"):
        parse_question({"id": "a", "question": "   "}, 50)
    with pytest.raises(InvalidInputError, match="60 characters, at most 50"):
        parse_question({"id": "a", "question": "x" * 60}, 50)


class ScriptedVLM:
    """A stand-in model whose timing the test controls (the real backends are tested on their own)."""

    name = "scripted"
    model_name = "scripted"

    def __init__(self, delay: float = 0.0, fail: bool = False) -> None:
        self.delay = delay
        self.fail = fail
        self.seen: list[tuple[str, list[float]]] = []
        self.last_entities = {"<person1>": {"box": [0, 0, 1, 1]}}
        self.release = threading.Event()
        self.release.set()

    def load(self) -> None: ...

    def stream(self, question, frames):
        self.release.wait(5)
        self.seen.append((question, [f.stamp for f in frames]))
        if self.fail:
            raise RuntimeError("CUDA out of memory")
        time.sleep(self.delay)
        yield "I see "
        yield f"{len(frames)} frame(s)."

    def answer(self, question, frames):
        return VLMAnswer("".join(self.stream(question, frames)), dict(self.last_entities), self.name)

    def close(self) -> None: ...


def make_service(vlm, **node_kw):
    out = {"partial": [], "answer": [], "description": []}
    svc = VLMService(vlm, VLMConfig(clip_frames=3, clip_seconds=1.0), VLMNodeConfig(**node_kw),
                     lambda *a: out["partial"].append(a), out["answer"].append, out["description"].append)
    return svc, out


def wait(pred, timeout=5.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if pred():
            return True
        time.sleep(0.01)
    return False


def test_every_question_gets_one_answer_streamed_about_the_newest_frames():
    vlm = ScriptedVLM()
    svc, out = make_service(vlm)
    try:
        svc.ask(Question("early", "Who is here?"))  # before any frame: an explicit error, not silence
        assert wait(lambda: len(out["answer"]) == 1)
        assert out["answer"][0]["ok"] is False and "no camera frame" in out["answer"][0]["error"]
        for i in range(50):
            svc.add_frame(frame(i / 10))
        svc.ask(Question("q1", "Who is here?"))
        assert wait(lambda: len(out["answer"]) == 2)
        a = out["answer"][1]
        assert a["ok"] and a["text"] == "I see 3 frame(s)." and a["entities"] == {"<person1>": {"box": [0, 0, 1, 1]}}
        assert a["frame_stamps"][-1] == pytest.approx(4.9) and a["frame_stamps"][0] >= 3.9 - 1e-9
        assert [p[1] for p in out["partial"] if p[0] == "q1"] == ["I see ", "I see 3 frame(s)."]
    finally:
        svc.close()


def test_a_failing_model_answers_with_the_error_and_keeps_serving():
    vlm = ScriptedVLM(fail=True)
    svc, out = make_service(vlm)
    try:
        svc.add_frame(frame(1.0))
        svc.ask(Question("q1", "What is that?"))
        assert wait(lambda: len(out["answer"]) == 1)
        assert not out["answer"][0]["ok"] and "CUDA out of memory" in out["answer"][0]["error"]
        vlm.fail = False
        svc.ask(Question("q2", "And now?"))
        assert wait(lambda: len(out["answer"]) == 2) and out["answer"][1]["ok"]
    finally:
        svc.close()


def test_busy_model_skips_descriptions_and_refuses_questions_beyond_the_limit():
    vlm = ScriptedVLM()
    svc, out = make_service(vlm, max_pending=2)
    try:
        svc.add_frame(frame(1.0))
        vlm.release.clear()  # the model is stuck on a question
        svc.ask(Question("busy", "first"))
        time.sleep(0.1)
        for _ in range(5):
            svc.request_description()
        svc.ask(Question("q2", "second"))
        svc.ask(Question("q3", "third"))
        svc.ask(Question("q4", "fourth"))  # over max_pending: refused at once
        assert [a["id"] for a in out["answer"]] == ["q4"] and "too many questions" in out["answer"][0]["error"]
        vlm.release.set()
        assert wait(lambda: len(out["answer"]) == 4 and len(out["description"]) == 1)
        assert [a["id"] for a in out["answer"]][1:] == ["busy", "q2", "q3"]  # questions first, in order
        assert svc.busy_skips == 4  # five requests while busy -> one description
        assert svc.latest_description["text"] == "I see 1 frame(s)."
    finally:
        svc.close()


def test_backends_are_imported_only_when_built():
    import sys

    for mod in ("vlm_robot.vlm.hf", "vlm_robot.vlm.compiled"):
        sys.modules.pop(mod, None)
    make_backend(VLMConfig(backend="grounded"))
    assert "vlm_robot.vlm.hf" not in sys.modules and "vlm_robot.vlm.compiled" not in sys.modules


def test_every_model_card_config_is_a_valid_vlm_config():
    from pathlib import Path

    import yaml

    cards = sorted((Path(__file__).resolve().parents[2] / "models").glob("*.yaml"))
    assert len(cards) >= 5
    for card in cards:
        params = yaml.safe_load(card.read_text())["vlm"]["ros__parameters"]
        cfg = VLMConfig(**params["vlm"])  # unknown keys or bad values raise here
        assert cfg.backend in ("transformers", "compiled"), card.name
