"""Playback that can stop at once (barge-in), and a simple echo suppressor, without ROS.

:class:`Player` is pulled by the output clock: each :meth:`Player.pull` hands the next frame of the
queued clauses (or silence), so the sample at which playback stopped is known exactly.
:meth:`Player.run` drives a sink in real time from a thread (the speaker's blocking writes pace it;
WAV and memory sinks are paced by the wall clock). :meth:`Player.stop` empties the queue: the frame
being written is the last one heard.

:class:`EchoSuppressor` removes the robot's own voice from the microphone signal by subtracting the
played reference at the delay and gain that best explain the microphone (least squares over a frame,
delay found by FFT cross-correlation). It is a linear, single-path model: enough for a close speaker
and for the simulation; a real room with reverberation needs a proper adaptive echo canceller
(WebRTC AEC3, or a microphone array's on-board AEC).
"""

from __future__ import annotations

import threading
import time
from collections import deque

import numpy as np

from vlm_robot.speech.audio import FRAME, SAMPLE_RATE


class Player:
    """A queue of audio to play, pulled frame by frame."""

    def __init__(self, frame: int = FRAME) -> None:
        self.frame = frame
        self._q: deque[np.ndarray] = deque()
        self._cur = np.zeros(0, np.float32)
        self._lock = threading.Lock()
        self.played = 0  # samples of real audio handed out
        self.stopped_at: int | None = None  # output sample position of the last stop()
        self.position = 0  # output samples pulled (audio and silence)
        self._run = False

    @property
    def playing(self) -> bool:
        with self._lock:
            return bool(len(self._cur) or self._q)

    @property
    def queued_samples(self) -> int:
        with self._lock:
            return len(self._cur) + sum(len(a) for a in self._q)

    def enqueue(self, audio: np.ndarray) -> None:
        with self._lock:
            self._q.append(np.asarray(audio, np.float32))

    def stop(self) -> int:
        """Drop everything queued; returns how many samples were dropped."""
        with self._lock:
            dropped = len(self._cur) + sum(len(a) for a in self._q)
            self._q.clear()
            self._cur = np.zeros(0, np.float32)
            self.stopped_at = self.position
        return dropped

    def pull(self, n: int | None = None) -> tuple[np.ndarray, bool]:
        """The next ``n`` samples and whether any of them is robot audio."""
        n = n or self.frame
        out = np.zeros(n, np.float32)
        got = 0
        with self._lock:
            while got < n:
                if not len(self._cur):
                    if not self._q:
                        break
                    self._cur = self._q.popleft()
                k = min(n - got, len(self._cur))
                out[got:got + k] = self._cur[:k]
                self._cur = self._cur[k:]
                got += k
            self.position += n
            self.played += got
        return out, got > 0

    def run(self, sink, realtime: bool = True, on_state=None) -> None:
        """Pull frames into ``sink`` until :meth:`close`; ``on_state(bool)`` on each start / end of speech."""
        self._run = True
        was = False
        t_next = time.monotonic()
        while self._run:
            block, audible = self.pull()
            if audible != was and on_state:
                on_state(audible)
            was = audible
            if audible:
                sink.write(block)
            if realtime and not hasattr(sink, "stream"):
                t_next += self.frame / SAMPLE_RATE
                time.sleep(max(0.0, t_next - time.monotonic()))
            elif not audible:
                time.sleep(self.frame / SAMPLE_RATE)
                t_next = time.monotonic()

    def close(self) -> None:
        self._run = False
        self.stop()


class EchoSuppressor:
    """Microphone frame minus the robot's own voice (see the module docstring).

    Args:
        max_delay_ms: longest speaker-to-microphone delay searched.
    """

    def __init__(self, max_delay_ms: float = 250.0, frame: int = FRAME) -> None:
        self.frame = frame
        self.max_delay = int(max_delay_ms * SAMPLE_RATE / 1000)
        self.ctx = 4 * frame  # the delay is found over the last 4 frames (one frame is ambiguous at onsets)
        self.ref = np.zeros(self.max_delay + self.ctx, np.float32)  # bounded history of what was played
        self.mic = np.zeros(self.ctx, np.float32)
        self.delay: int | None = None

    def played(self, block: np.ndarray) -> None:
        """Tell the suppressor what the speaker just played (same clock as the microphone)."""
        n = len(block)
        self.ref = np.concatenate([self.ref[n:], np.asarray(block, np.float32)])

    def __call__(self, mic: np.ndarray) -> np.ndarray:
        self.mic = np.concatenate([self.mic[len(mic):], mic])
        if not np.any(self.ref):
            return mic
        best = self._cancel(mic, self.delay) if self.delay is not None else None
        if best is None or float(np.dot(best, best)) > 0.25 * float(np.dot(mic, mic)):
            d = self._estimate(self.mic, self.ref)  # double talk or a new path: keep the delay that explains more
            cand = self._cancel(mic, d)
            if best is None or float(np.dot(cand, cand)) < float(np.dot(best, best)):
                best, self.delay = cand, d
        return best

    def _cancel(self, mic: np.ndarray, delay: int) -> np.ndarray:
        seg = self.ref[len(self.ref) - self.frame - delay: len(self.ref) - delay]
        e = float(np.dot(seg, seg))
        if e <= 1e-9:
            return mic
        return mic - max(0.0, float(np.dot(mic, seg)) / e) * seg

    def _estimate(self, mic: np.ndarray, ref: np.ndarray) -> int:
        n = 1 << int(np.ceil(np.log2(len(ref) + len(mic))))
        xc = np.fft.irfft(np.fft.rfft(ref, n) * np.conj(np.fft.rfft(mic, n)), n)[: len(ref) - len(mic) + 1]
        start = int(np.argmax(np.abs(xc)))  # where mic best matches inside ref
        return int(np.clip(len(ref) - len(mic) - start, 0, self.max_delay))
