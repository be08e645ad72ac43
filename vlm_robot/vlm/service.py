"""The VLM node's logic without ROS: recent frames, questions, periodic descriptions, one worker.

The camera callback only calls :meth:`VLMService.add_frame` (cheap: it keeps a reference); a single
worker thread runs the model, so a slow VLM never blocks the camera or builds a backlog of frames:
every question is answered about the newest frames at the time it is taken up (latest frame wins),
and a periodic description is skipped, not queued, while the model is busy.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.core.types import Frame
from vlm_robot.vlm.base import DESCRIBE_PROMPT, VLM, VLMConfig, sample_clip

MAX_QUESTION_CHARS = 500


@dataclass(frozen=True)
class VLMNodeConfig:
    """config/vlm.yaml top-level parameters of the VLM node.

    Attributes:
        describe_rate_hz: periodic scene descriptions per second (0: only on request).
        max_question_chars: longer questions are refused with an explanation.
        max_pending: questions waiting beyond this are refused (the asker gets an error answer).
        buffer_seconds: how much recent video is kept for clips (at least ``vlm.clip_seconds``).
    """

    describe_rate_hz: float = 0.5
    max_question_chars: int = MAX_QUESTION_CHARS
    max_pending: int = 16
    buffer_seconds: float = 4.0

    def __post_init__(self) -> None:
        if not 0 <= self.describe_rate_hz <= 30:
            raise ConfigError(f"describe_rate_hz must be in [0, 30], got {self.describe_rate_hz}")
        if not 1 <= self.max_question_chars <= 10000:
            raise ConfigError(f"max_question_chars must be in [1, 10000], got {self.max_question_chars}")
        if not 1 <= self.max_pending <= 1000:
            raise ConfigError(f"max_pending must be in [1, 1000], got {self.max_pending}")
        if self.buffer_seconds <= 0:
            raise ConfigError(f"buffer_seconds must be > 0, got {self.buffer_seconds}")


class FrameBuffer:
    """The last ``seconds`` of frames, at most ``max_frames`` of them, spread in time.

    A frame is kept only if it is at least ``seconds / max_frames`` newer than the last kept one,
    so memory stays bounded at any camera rate; the newest frame is always available.
    """

    def __init__(self, seconds: float, max_frames: int = 32) -> None:
        self.seconds = seconds
        self.min_gap = seconds / max_frames
        self._kept: deque[Frame] = deque(maxlen=max_frames)
        self._newest: Frame | None = None
        self._lock = threading.Lock()

    def add(self, frame: Frame) -> None:
        with self._lock:
            self._newest = frame
            if self._kept and frame.stamp < self._kept[-1].stamp:  # time went backwards (a replay restarted)
                self._kept.clear()
            if not self._kept or frame.stamp - self._kept[-1].stamp >= self.min_gap:
                self._kept.append(frame)
            while self._kept and self._kept[0].stamp < frame.stamp - self.seconds:
                self._kept.popleft()

    def clip(self, n: int, seconds: float) -> list[Frame]:
        """Up to ``n`` frames over the last ``seconds``, oldest first, ending with the newest frame."""
        with self._lock:
            if self._newest is None:
                return []
            frames = list(self._kept)
            if not frames or frames[-1] is not self._newest:
                frames.append(self._newest)
        return sample_clip(frames, n, seconds)

    def newest_stamp(self) -> float | None:
        with self._lock:
            return None if self._newest is None else self._newest.stamp


@dataclass
class Question:
    id: str
    text: str
    clip_frames: int = 0  # 0: the configured vlm.clip_frames
    received: float = field(default_factory=time.monotonic)


def parse_question(body: dict[str, Any], max_chars: int) -> Question:
    """A question from a decoded ``vlm_robot/vqa_request`` payload.

    Raises:
        InvalidInputError: empty or too long, with what was expected.
    """
    text = str(body.get("question", "")).strip()
    if not text:
        raise InvalidInputError("vqa_request: the question is empty; send a non-empty 'question' string")
    if len(text) > max_chars:
        raise InvalidInputError(
            f"vqa_request: the question has {len(text)} characters, at most {max_chars} are accepted "
            "(max_question_chars in config/vlm.yaml)")
    return Question(str(body["id"]), text, int(body.get("clip_frames", 0)))


class VLMService:
    """Runs a :class:`~vlm_robot.vlm.base.VLM` on one worker thread for questions and descriptions.

    Args:
        vlm: a loaded backend.
        config: the backend's config (clip length).
        node_config: rates and limits.
        on_partial: ``(question_id, text_so_far, index)`` as the answer streams.
        on_answer: ``(body)`` of a ``vlm_robot/vqa_answer`` payload, one per question, always
            (an error answer when the model fails or no frame has arrived).
        on_description: ``(body)`` of a ``vlm_robot/scene_description`` payload.
    """

    def __init__(self, vlm: VLM, config: VLMConfig, node_config: VLMNodeConfig,
                 on_partial: Callable[[str, str, int], None], on_answer: Callable[[dict[str, Any]], None],
                 on_description: Callable[[dict[str, Any]], None]) -> None:
        self.vlm = vlm
        self.config = config
        self.node_config = node_config
        self.frames = FrameBuffer(max(node_config.buffer_seconds, config.clip_seconds))
        self.on_partial = on_partial
        self.on_answer = on_answer
        self.on_description = on_description
        self.latest_description: dict[str, Any] | None = None
        self._questions: deque[Question] = deque()
        self._describe_due = False
        self._cv = threading.Condition()
        self._stop = False
        self.busy_skips = 0  # periodic descriptions skipped because the model was busy
        self._thread = threading.Thread(target=self._run, name="vlm-worker", daemon=True)
        self._thread.start()

    def add_frame(self, frame: Frame) -> None:
        self.frames.add(frame)

    def ask(self, q: Question) -> bool:
        """Queue a question; False (and an error answer) when too many are waiting."""
        with self._cv:
            if len(self._questions) >= self.node_config.max_pending:
                full = True
            else:
                full = False
                self._questions.append(q)
                self._cv.notify()
        if full:
            self.on_answer(self._error(q, f"too many questions waiting ({self.node_config.max_pending}); "
                                          "ask again in a moment"))
        return not full

    def request_description(self) -> None:
        """Ask for a description unless one is already waiting (then this one is skipped, not queued)."""
        with self._cv:
            if self._describe_due:
                self.busy_skips += 1
            self._describe_due = True
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._questions and not self._describe_due and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                if self._questions:
                    job: Question | None = self._questions.popleft()
                else:
                    job, self._describe_due = None, False
            try:
                if job is None:
                    self._describe()
                else:
                    self._answer(job)
            except Exception as e:  # noqa: BLE001 - a model failure becomes an explicit error answer
                if job is not None:
                    self.on_answer(self._error(job, f"the vision-language model failed: {type(e).__name__}: {e}"))

    def _clip(self, n: int) -> list[Frame]:
        return self.frames.clip(n or self.config.clip_frames, self.config.clip_seconds)

    def _answer(self, q: Question) -> None:
        frames = self._clip(q.clip_frames)
        if not frames:
            self.on_answer(self._error(q, "no camera frame has arrived on /camera/image_raw yet; "
                                          "check that the camera node runs"))
            return
        t0 = time.perf_counter()
        text, index = "", 0
        for piece in self.vlm.stream(q.text, frames):
            text += piece
            self.on_partial(q.id, text, index)
            index += 1
        self.on_answer({
            "id": q.id, "question": q.text, "text": text.strip(), "ok": True,
            "entities": dict(getattr(self.vlm, "last_entities", None) or {}), "backend": self.vlm.name,
            "model": getattr(self.vlm, "model_name", ""), "latency_ms": (time.perf_counter() - t0) * 1000,
            "frame_stamps": [f.stamp for f in frames],
        })

    def _describe(self) -> None:
        frames = self._clip(0)
        if not frames:
            return
        t0 = time.perf_counter()
        a = self.vlm.answer(DESCRIBE_PROMPT, frames)
        body = {"stamp": frames[-1].stamp, "text": a.text.strip(), "entities": a.entities, "backend": a.backend,
                "model": a.model, "latency_ms": (time.perf_counter() - t0) * 1000,
                "frame_stamps": [f.stamp for f in frames]}
        self.latest_description = body
        self.on_description(body)

    @staticmethod
    def _error(q: Question, message: str) -> dict[str, Any]:
        return {"id": q.id, "question": q.text, "text": "", "ok": False, "error": message}

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=10.0)
