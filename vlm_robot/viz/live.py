"""viz_node's worker: the robot's messages to a Rerun viewer without ever holding the robot up.

The node's callbacks only hand raw bytes to :meth:`LiveViz.put` (a slot swap or a deque append under a lock);
decoding, JPEG encoding and the Rerun calls run on one worker thread. Streams (:data:`STREAMS`: camera frames,
faces, tracked people, joint states): per topic the newest wins, at most ``max_rate_hz`` a second, and one that
arrives while the worker is busy replaces the one waiting (counted as dropped). Events (words, decisions, intents,
verdicts, ...) wait in a queue of ``max_pending``; past it the oldest go (counted). The viewer's port
is checked every ``check_s``: a viewer that is not there or goes away is said once (``say``), nothing is sent
meanwhile, and the node connects again when it is back, with the blueprint.
"""

from __future__ import annotations

import socket
import statistics
import threading
import time
from collections import deque
from collections.abc import Callable

from vlm_robot.core.errors import BackendUnavailableError
from vlm_robot.nodes.topics import IMAGE, JOINT_STATES, PEOPLE, PERSON_STATES
from vlm_robot.viz.config import VizConfig

STREAMS = (IMAGE, PEOPLE, PERSON_STATES, JOINT_STATES)
"""Topics that come with every frame (or faster): only the newest of each is shown, at most max_rate_hz."""


def import_rerun():
    """The rerun module, or an error that says how to install it."""
    try:
        import rerun as rr
    except ImportError as e:
        raise BackendUnavailableError(
            "viz: the Rerun SDK is not installed; install the [viz] extra: .venv/bin/pip install -r "
            "requirements/viz.txt (or pip install 'vlm_robot[viz]')") from e
    return rr


def reachable(host: str, port: int, timeout: float = 0.3) -> bool:
    """Whether something accepts TCP connections on ``host:port`` (the viewer's gRPC port)."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


class LiveViz:
    """Shows the messages handed to :meth:`put` in a Rerun viewer (or writes them to ``config.rrd_path``).

    Args:
        config: where to send, image format and limits.
        say: one line for the node's log (info), e.g. ``node.get_logger().info``.
        warn: one line for the node's log when the viewer is missing or lost.
    """

    def __init__(self, config: VizConfig, say: Callable[[str], None], warn: Callable[[str], None]) -> None:
        rr = import_rerun()
        from vlm_robot.viz.layout import VizSession, blueprint

        self.config = config
        self._say, self._warn = say, warn
        self._rr = rr
        self._blueprint = blueprint()
        self.rec = rr.RecordingStream("vlm_robot")
        self.session = VizSession(self.rec, config)
        self.connected = False
        self._announced_absent = False
        self._latest: dict[str, tuple[bytes, float]] = {}  # stream topic -> its newest message, waiting
        self._last_at: dict[str, float] = {}
        self._events: deque[tuple[str, bytes, float]] = deque()
        self._cv = threading.Condition()
        self._stop = False
        self._next_check = 0.0
        self.frames_shown = self.frames_dropped = self.frames_skipped = 0
        self.streams_shown = self.streams_dropped = self.streams_skipped = 0
        self.events_shown = self.events_dropped = self.unsent = self.failures = 0
        self.frame_ms: deque[float] = deque(maxlen=2000)
        self.started = time.monotonic()
        if config.rrd_path:
            self.rec.save(config.rrd_path, default_blueprint=self._blueprint)
            self.connected = True
            say(f"viz: writing to {config.rrd_path}")
        else:
            self._check_viewer()
        self._thread = threading.Thread(target=self._run, name="viz-worker", daemon=True)
        self._thread.start()

    # --- the callback side: O(1), never blocks on Rerun ----------------------------------------------------

    def put(self, topic: str, raw: bytes, received: float) -> None:
        with self._cv:
            if topic in STREAMS:
                hz = self.config.max_rate_hz
                image = topic == IMAGE
                if hz and received - self._last_at.get(topic, 0.0) < 0.8 / hz:  # 0.8: 15/s of 30 fps despite jitter
                    if image:
                        self.frames_skipped += 1
                    else:
                        self.streams_skipped += 1
                    return
                if topic in self._latest:
                    if image:
                        self.frames_dropped += 1
                    else:
                        self.streams_dropped += 1
                self._latest[topic] = (raw, received)
                self._last_at[topic] = received
            else:
                if len(self._events) >= self.config.max_pending:
                    self._events.popleft()
                    self.events_dropped += 1
                self._events.append((topic, raw, received))
            self._cv.notify()

    # --- the worker ----------------------------------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._stop and not self._latest and not self._events:
                    self._cv.wait(timeout=max(0.05, self._next_check - time.monotonic()))
                    if time.monotonic() >= self._next_check:
                        break
                if self._stop:
                    return
                events, self._events = list(self._events), deque()
                latest, self._latest = self._latest, {}
            if not self.config.rrd_path and time.monotonic() >= self._next_check:
                self._check_viewer()
            if not self.connected:
                self.unsent += len(events) + len(latest)
                continue
            for topic, raw, received in events:
                self.events_shown += self._handle(topic, raw, received)
            for topic in STREAMS:  # the frame first, then the boxes drawn on it
                if topic not in latest:
                    continue
                t0 = time.perf_counter()
                shown = self._handle(topic, *latest[topic])
                if topic == IMAGE and shown:
                    self.frames_shown += 1
                    self.frame_ms.append((time.perf_counter() - t0) * 1000)
                else:
                    self.streams_shown += shown

    def _handle(self, topic: str, raw: bytes, received: float) -> bool:
        """One message to the viewer; a failure of Rerun itself is said once and the worker goes on (bad messages
        are the session's to report: it never raises for them)."""
        try:
            return self.session.handle(topic, raw, received)
        except Exception as e:  # noqa: BLE001 - the worker must outlive any one message; said, then counted
            self.failures += 1
            if self.failures == 1:
                self._warn(f"viz: showing a message on {topic} failed ({type(e).__name__}: {str(e)[:200]}); "
                           "further failures are counted in the summary")
            return False

    def _check_viewer(self) -> None:
        """Connect when the viewer appears; say once when it is missing or goes away."""
        self._next_check = time.monotonic() + self.config.check_s
        up = reachable(*self.config.address)
        if up and not self.connected:
            self.rec.connect_grpc(self.config.url, default_blueprint=self._blueprint)
            self.session.restyle()
            self.connected, self._announced_absent = True, False
            self._say(f"viz: connected to the Rerun viewer at {self.config.url}")
        elif not up and self.connected:
            self.connected = False
            self._warn(f"viz: lost the Rerun viewer at {self.config.url}; the robot keeps running, nothing is "
                       "shown until the viewer is back (checked every "
                       f"{self.config.check_s:g} s; start one with `vlm-robot view`)")
            self._announced_absent = True
        elif not up and not self._announced_absent:
            self._announced_absent = True
            self._warn(f"viz: no Rerun viewer at {self.config.url} yet; the robot runs without it and viz_node "
                       "connects when one is there (`vlm-robot view` starts one)")

    def summary(self) -> str:
        secs = max(time.monotonic() - self.started, 1e-9)
        ms = sorted(self.frame_ms)
        cost = (f"; logging a frame p50 {statistics.median(ms):.1f} ms, p95 {ms[int(0.95 * (len(ms) - 1))]:.1f} ms"
                if ms else "")
        return (f"viz: {self.frames_shown} frames shown ({self.frames_shown / secs:.1f}/s), "
                f"{self.frames_dropped} dropped while the worker was busy, {self.frames_skipped} skipped by "
                f"max_rate_hz; faces, people, joints: {self.streams_shown} shown, {self.streams_dropped} dropped, "
                f"{self.streams_skipped} skipped; {self.events_shown} events shown, {self.events_dropped} dropped; "
                f"{self.unsent} not sent (no viewer){f', {self.failures} failed' if self.failures else ''}{cost}")

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5.0)
        if self.connected:
            try:
                self.rec.flush(timeout_sec=2.0)
            except RuntimeError as e:  # the viewer went away between the last check and now
                self._warn(f"viz: could not flush to the viewer: {e}")
        self.rec.disconnect()
