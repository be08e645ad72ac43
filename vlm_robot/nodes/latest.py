"""Work off the callback thread: a latest-value slot (frames), a lossless queue (perception results) and a
bounded, fair backlog (a person's words)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

from vlm_robot.reasoning.backlog import Backlog, Dropped

T = TypeVar("T")


class LatestSlot(Generic[T]):
    """Holds only the newest item; a worker thread handles it when free, older ones are dropped."""

    def __init__(self, handle: Callable[[T], None], name: str) -> None:
        self._handle = handle
        self._item: T | None = None
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> None:
        with self._cv:
            self._item = item
            self._cv.notify()

    def _run(self) -> None:
        while True:
            with self._cv:
                while self._item is None and not self._stop:
                    self._cv.wait()
                if self._stop:
                    return
                item, self._item = self._item, None
            self._handle(item)

    def close(self) -> None:
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=5.0)


class WorkQueue(Generic[T]):
    """Handles every item in order on one worker thread; nothing is dropped unless ``maxsize`` is hit."""

    def __init__(self, handle: Callable[[T], None], name: str, maxsize: int = 1000) -> None:
        self._handle = handle
        self._q: queue.Queue[T | None] = queue.Queue(maxsize=maxsize)
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, item: T) -> bool:
        """Queue ``item``; False when the queue is full (the caller reports it, nothing is silent)."""
        try:
            self._q.put_nowait(item)
            return True
        except queue.Full:
            return False

    def _run(self) -> None:
        while True:
            item = self._q.get()
            if item is None:
                return
            self._handle(item)

    def close(self, drain_timeout: float = 30.0) -> None:
        self._q.put(None)
        self._thread.join(timeout=drain_timeout)


class BacklogWorker(Generic[T]):
    """Answers the items of a :class:`~vlm_robot.reasoning.backlog.Backlog` on one worker thread.

    Before each item, ``on_dropped`` gets the items the backlog left out since (too old, pushed out), so the
    worker reports them in order with the answers; ``handle`` then answers the next item.
    """

    def __init__(self, backlog: Backlog[T], handle: Callable[[T], None],
                 on_dropped: Callable[[list[Dropped[T]]], None], name: str) -> None:
        self._backlog = backlog
        self._handle = handle
        self._on_dropped = on_dropped
        self._cv = threading.Condition()
        self._stop = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def put(self, source: str, stamp: float, item: T) -> None:
        with self._cv:
            self._backlog.put(source, stamp, item)
            self._cv.notify()

    def __len__(self) -> int:
        with self._cv:
            return len(self._backlog)

    def _run(self) -> None:
        while True:
            with self._cv:
                while not len(self._backlog) and not self._stop:
                    self._cv.wait()
                if self._stop and not len(self._backlog):
                    return
                dropped, item = self._backlog.pop()
            if dropped:
                self._on_dropped(dropped)
            if item is not None:
                self._handle(item)

    def close(self, drain_timeout: float = 30.0) -> None:
        """Answer what waits (or report it dropped), then stop; at most ``drain_timeout`` seconds."""
        with self._cv:
            self._stop = True
            self._cv.notify()
        self._thread.join(timeout=drain_timeout)
