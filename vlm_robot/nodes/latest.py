"""Work off the callback thread: a latest-value slot (frames) and a lossless queue (speech)."""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

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
