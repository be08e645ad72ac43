"""At-least-once delivery of transcripts: what was said is sent again until the robot answers it.

A transcript published while the reasoning node is down (crashed, restarting) would otherwise be
lost: topics keep no history for late subscribers. The publisher keeps each transcript until an
utterance names it in ``in_reply_to`` and sends it again when it is overdue; the reasoning node
ignores ids it has already taken, so a slow answer is never given twice.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass


@dataclass
class _Pending:
    body: object
    sent_at: float
    tries: int = 1
    first_at: float = 0.0


class PendingTranscripts:
    """Messages sent and not yet acknowledged: transcripts (until answered), and the reasoning node's
    utterances and intents (until spoken / given a verdict), see vlm_robot/nodes/resend.py.

    Args:
        resend_after_s: send again when no answer came for this long.
        max_tries: give up after this many sends (the caller logs it: nothing is dropped silently).
    """

    def __init__(self, resend_after_s: float = 8.0, max_tries: int = 5) -> None:
        self.resend_after_s = resend_after_s
        self.max_tries = max_tries
        self._pending: OrderedDict[str, _Pending] = OrderedDict()

    def __len__(self) -> int:
        return len(self._pending)

    def sent(self, tid: str, body: object, now: float) -> None:
        self._pending[tid] = _Pending(body, now, first_at=now)

    def older_than(self, age_s: float, now: float) -> list[tuple[str, object]]:
        """Remove and return the (id, body) pairs first sent more than ``age_s`` ago."""
        old = [(tid, p.body) for tid, p in self._pending.items() if now - p.first_at > age_s]
        for tid, _ in old:
            del self._pending[tid]
        return old

    def answered(self, tid: str) -> bool:
        return self._pending.pop(tid, None) is not None

    def due(self, now: float) -> tuple[list[tuple[str, object]], list[tuple[str, object]]]:
        """``(to_resend, given_up)``: (id, body) pairs to send again now, and those dropped after max_tries."""
        resend, gave_up = [], []
        for tid, p in list(self._pending.items()):
            if now - p.sent_at < self.resend_after_s:
                continue
            if p.tries >= self.max_tries:
                del self._pending[tid]
                gave_up.append((tid, p.body))
            else:
                p.tries += 1
                p.sent_at = now
                resend.append((tid, p.body))
        return resend, gave_up

    def restart(self, now: float, after_s: float) -> int:
        """A new consumer appeared: every pending message is due ``after_s`` from ``now``, its tries counted afresh
        (those counted while the old consumer was gone but still listed in the graph are not held against it).
        Returns how many are pending."""
        for p in self._pending.values():
            p.tries, p.sent_at = 0, now - self.resend_after_s + after_s
        return len(self._pending)

    def postpone(self, now: float) -> None:
        """The consumer is alive and busy: nothing is overdue yet (every wait starts again from ``now``)."""
        for p in self._pending.values():
            p.sent_at = max(p.sent_at, now - self.resend_after_s / 2)


def declined(decision: dict) -> str:
    """The transcript id a reasoning decision (/vlm_robot/decision body) declines to answer, else "".

    A ``silent`` decision naming a transcript (``detail["transcript"]``) is final: the words were not said to
    the robot, or were too old or pushed out by a flood (reasoning/backlog.py). Their sender stops sending them
    again, as for an utterance in reply to them.
    """
    detail = decision.get("detail") or {}
    return str(detail.get("transcript", "")) if decision.get("action") == "silent" else ""


class SeenIds:
    """The last ``size`` transcript ids a consumer has taken, to ignore ones sent again."""

    def __init__(self, size: int = 1000) -> None:
        self.size = size
        self._ids: OrderedDict[str, None] = OrderedDict()

    def first_time(self, tid: str) -> bool:
        """True the first time ``tid`` is seen (and remember it), False for a repeat."""
        if tid in self._ids:
            return False
        self._ids[tid] = None
        if len(self._ids) > self.size:
            self._ids.popitem(last=False)
        return True

    def seen(self, tid: str) -> bool:
        """Whether ``tid`` was taken already (does not remember it)."""
        return tid in self._ids
