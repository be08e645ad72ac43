"""Back-pressure with meaning for a conversation: which of the words waiting for an answer are still worth one.

A person's words wait here between being heard and being answered. The wait is bounded three ways:

* by **age**: words said longer ago than ``max_age_s`` (their stamp, on the event clock, when their answer would
  start) are not answered any more; a reply minutes late answers a conversation that has moved on;
* by **count per source**: each source (the transcript's ``speaker``: a microphone, a simulated person, a
  typed console) keeps at most ``max_per_source`` sentences, in the order they were said (a sentence sent
  again after a restart may arrive after newer ones); a newer one pushes out the oldest, since what a person
  says now matters more than what they said before;
* by **count in all**: at most ``max_waiting`` sentences, the longest queue losing its oldest first.

Sources take turns (the one served longest ago goes first), so a flood from one source cannot starve another.
Every sentence left out is reported (:class:`Dropped`) with the reason; the first of a **burst** (drops from one
source with less than ``burst_gap_s`` between them) is marked for the one short apology the person hears, the
rest get a decision only.

Measured on a shared 2-core CPU, 30 s of open talk at 20/s from one source (the language model answers it,
the slowest kind), then one sentence from another speaker: before, all 601 were queued (a queue of 1000) and
answered in order at 2.7/s, 38 s late at the median and 78 s at the most within the 90 s watched (the rest
later still), and the other speaker had no answer within 60 s; with the defaults (3 runs), 60-71 replies,
0.5-0.7 s late at the median and 1.6-2.1 s at the most, one apology, a decision for each of the other 529-540,
and the other speaker answered in 0.1-0.2 s (tests/test_backlog.py runs 8 s of it; ``VLM_ROBOT_FLOOD_S=30``
the full one).
"""

from __future__ import annotations

import itertools
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

from vlm_robot.core.errors import ConfigError

T = TypeVar("T")

APOLOGY = "Sorry, I missed some of that."


@dataclass(frozen=True)
class BacklogConfig:
    """config/reasoning.yaml ``backlog.*``: how old and how many of a person's words may wait for an answer.

    Attributes:
        max_age_s: words said longer ago than this (transcript stamp to the event clock when their answer would
            start) are not answered: one short apology per burst, a decision for each. Longer than a restart of
            the reasoning node plus the speech node's resend delay (words said while it was down are answered).
        max_per_source: sentences kept waiting per source (transcript ``speaker``); a newer one pushes out the
            oldest.
        max_waiting: sentences kept waiting from all sources together; the longest queue loses its oldest first.
        burst_gap_s: drops from one source less than this apart are one burst: one apology, one warning.
    """

    max_age_s: float = 30.0
    max_per_source: int = 3
    max_waiting: int = 12
    burst_gap_s: float = 10.0

    def __post_init__(self) -> None:
        if not 1.0 <= self.max_age_s <= 3600.0:
            raise ConfigError(f"backlog.max_age_s must be in [1, 3600] seconds, got {self.max_age_s}")
        if not 1 <= self.max_per_source <= 1000:
            raise ConfigError(f"backlog.max_per_source must be in [1, 1000], got {self.max_per_source}")
        if not self.max_per_source <= self.max_waiting <= 10_000:
            raise ConfigError(f"backlog.max_waiting must be in [max_per_source ({self.max_per_source}), 10000], "
                              f"got {self.max_waiting}")
        if not 0.0 <= self.burst_gap_s <= 3600.0:
            raise ConfigError(f"backlog.burst_gap_s must be in [0, 3600] seconds, got {self.burst_gap_s}")


@dataclass(frozen=True)
class Dropped(Generic[T]):
    """A sentence that will not be answered.

    Attributes:
        item: what was put (the caller's transcript).
        source: whose queue it was in.
        stamp: when it was said (event clock).
        reason: why, in words, with the numbers.
        apologize: the first drop of a burst: the person hears one short apology (:data:`APOLOGY`) for it.
        burst: how many drops from this source the burst has counted so far, this one included.
    """

    item: T
    source: str
    stamp: float
    reason: str
    apologize: bool
    burst: int


@dataclass
class _Waiting(Generic[T]):
    item: T
    stamp: float
    order: int


class Backlog(Generic[T]):
    """Sentences waiting for an answer, per source, bounded by age and count; not thread-safe (the caller locks).

    Args:
        config: the bounds.
        clock: the event clock (seconds, the stamps' clock): the newest input stamp the caller has seen, so
            that a replay or a simulation with its own time decides the same as the live robot.
    """

    def __init__(self, config: BacklogConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.clock = clock
        self._queues: OrderedDict[str, deque[_Waiting[T]]] = OrderedDict()
        self._served: OrderedDict[str, int] = OrderedDict()  # source -> turn it was last served (fairness)
        self._turns = itertools.count(1)
        self._order = itertools.count()
        self._dropped: list[Dropped[T]] = []
        self._bursts: dict[str, tuple[float, int]] = {}  # source -> (event time of its last drop, drops in burst)

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def put(self, source: str, stamp: float, item: T) -> None:
        """Queue ``item`` (said at ``stamp``) from ``source``; what it pushes out is reported by :meth:`pop`."""
        q = self._queues.setdefault(source, deque())
        # in the order said, not the order heard: words sent again after a restart come after newer ones
        # (tests/test_delivery.py: "What is my name?" was answered before the re-sent "My name is Alice.")
        at = len(q)
        while at and q[at - 1].stamp > stamp:
            at -= 1
        q.insert(at, _Waiting(item, stamp, next(self._order)))
        c = self.config
        if len(q) > c.max_per_source:
            old = q.popleft()
            self._drop(source, old, f"{c.max_per_source} newer sentences from {source!r} were waiting for an answer "
                                    f"(backlog.max_per_source {c.max_per_source})")
        if len(self) > c.max_waiting:
            src = max(self._queues, key=lambda s: (len(self._queues[s]), -self._queues[s][0].order))
            old = self._queues[src].popleft()
            self._drop(src, old, f"{c.max_waiting} sentences were waiting for an answer, the most from {src!r} "
                                 f"(backlog.max_waiting {c.max_waiting})")

    def pop(self) -> tuple[list[Dropped[T]], T | None]:
        """``(dropped, item)``: the sentences left out since the last call (oldest first, too old ones included),
        and the next one to answer (None when none waits): from the source served longest ago."""
        now = self.clock()
        for source, q in self._queues.items():
            while q and now - q[0].stamp > self.config.max_age_s:
                old = q.popleft()
                self._drop(source, old, f"said {now - old.stamp:.1f} s ago, too long to answer sensibly "
                                        f"(backlog.max_age_s {self.config.max_age_s:g})")
        item = None
        ready = [s for s, q in self._queues.items() if q]
        if ready:
            source = min(ready, key=lambda s: (self._served.get(s, 0), self._queues[s][0].order))
            item = self._queues[source].popleft().item
            self._served.pop(source, None)
            self._served[source] = next(self._turns)
            while len(self._served) > 256:
                self._served.popitem(last=False)
        for source in [s for s, q in self._queues.items() if not q]:
            del self._queues[source]
        dropped, self._dropped = self._dropped, []
        return dropped, item

    def _drop(self, source: str, w: _Waiting[T], reason: str) -> None:
        now = self.clock()
        last, count = self._bursts.get(source, (None, 0))
        new_burst = last is None or now - last > self.config.burst_gap_s
        count = 1 if new_burst else count + 1
        self._bursts[source] = (now, count)
        while len(self._bursts) > 256:
            self._bursts.pop(next(iter(self._bursts)))
        self._dropped.append(Dropped(w.item, source, w.stamp, reason, new_burst, count))
