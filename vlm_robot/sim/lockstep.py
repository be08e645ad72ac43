"""Lockstep with the node graph: after each input, wait until the graph has answered it.

The simulator (and the lockstep replay) publish one camera frame, then wait for the reasoning node's
/vlm_robot/person_states with that frame's stamp, then for every utterance and intent it says that
frame caused (``caused`` in the payload), for the safety gate's verdict on each intent and for the
actuator commands of each approval. Only then does sim time move on. So the graph sees every frame
(none dropped by latest-frame-wins), each event is stamped with the sim time that caused it, and
the same inputs give the same decisions however slow the machine is.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field

from vlm_robot.nodes import common
from vlm_robot.observe import Event

# observed topic -> the short kind SimLog uses
KINDS = {
    common.PERSON_STATES: "person_states", common.DECISION: "decision", common.UTTERANCE: "utterance",
    common.INTENT: "intent", common.VERDICT: "verdict", common.HEAD_COMMAND: "head", common.GOAL_POSE: "goal",
    common.CMD_VEL: "cmd_vel", common.CANCEL: "cancel", common.DIAGNOSTICS: "diagnostic",
}
COMMAND_OF = {"look_at": "head", "approach": "goal", "navigate": "goal", "stop": "cancel"}


@dataclass
class Inbox:
    """Events from the observer's callbacks, handed to the sim loop in arrival order."""

    cond: threading.Condition = field(default_factory=threading.Condition)
    pending: list[tuple[str, dict]] = field(default_factory=list)
    # everything seen so far, for the waits
    utterances: set[str] = field(default_factory=set)
    intents: dict[str, dict] = field(default_factory=dict)  # intent id -> intent
    verdicts: dict[str, dict] = field(default_factory=dict)  # intent id -> latest verdict
    commands: dict[str, int] = field(default_factory=dict)  # head / goal / cancel -> count
    states: dict[float, dict] = field(default_factory=dict)  # rounded stamp -> person_states
    replies: set[str] = field(default_factory=set)  # transcript ids answered by an utterance
    transcripts: dict[str, str] = field(default_factory=dict)  # transcript id -> decision action

    def __call__(self, ev: Event) -> None:
        kind = KINDS.get(ev.topic)
        if kind is None:
            return
        b = ev.body
        with self.cond:
            if kind == "diagnostic" and b.get("level", 0) < 2:
                return
            self.pending.append((kind, b))
            if kind == "person_states":
                self.states[round(float(b["stamp"]), 4)] = b
            elif kind == "utterance":
                self.utterances.add(b.get("id", ""))
                if b.get("in_reply_to"):
                    self.replies.add(b["in_reply_to"])
            elif kind == "intent":
                self.intents[b.get("id", "")] = b
            elif kind == "verdict":
                self.verdicts[b["intent"].get("id", "")] = b
            elif kind in ("head", "goal", "cancel"):
                self.commands[kind] = self.commands.get(kind, 0) + 1
            elif kind == "decision":
                tid = (b.get("detail") or {}).get("transcript")
                if tid:
                    self.transcripts.setdefault(tid, b["action"])
            self.cond.notify_all()

    def wait(self, pred, timeout: float) -> bool:
        """Wait until ``pred()`` (called under the lock) is true; False on timeout."""
        with self.cond:
            return self.cond.wait_for(pred, timeout)

    def drain(self) -> list[tuple[str, dict]]:
        with self.cond:
            out, self.pending = self.pending, []
            return out

    def expected_commands(self) -> dict[str, int]:
        """Commands the approvals seen so far must have produced (one per approved look_at, goal, stop)."""
        want: dict[str, int] = {}
        for v in self.verdicts.values():
            kind = COMMAND_OF.get(v["intent"]["type"])
            if v["approved"] and kind:
                want[kind] = want.get(kind, 0) + 1
        return want

    def settled(self) -> bool:
        """Every intent has a verdict, every approval its command (call under the lock)."""
        if any(i not in self.verdicts for i in self.intents):
            return False
        return all(self.commands.get(k, 0) >= n for k, n in self.expected_commands().items())


class Lockstep:
    """The waits of one lockstep run; ``timeout_s`` bounds each so a dead node cannot hang the run."""

    def __init__(self, inbox: Inbox, timeout_s: float = 20.0, reply_timeout_s: float = 60.0) -> None:
        self.inbox = inbox
        self.timeout_s = timeout_s
        self.reply_timeout_s = reply_timeout_s
        self.lost_frames = 0
        self.late: list[str] = []

    def after_frame(self, stamp: float) -> dict | None:
        """Wait for the person states of the frame stamped ``stamp`` and what it caused; return them."""
        key = round(stamp, 4)
        ib = self.inbox
        if not ib.wait(lambda: key in ib.states, self.timeout_s):
            self.lost_frames += 1
            self.late.append(f"no person states for the frame at {stamp:.2f} s")
            return None
        with ib.cond:
            states = ib.states.pop(key)
        caused = states.get("caused") or {}
        self._wait_for(set(caused.get("utterances", [])), set(caused.get("intents", [])), f"frame {stamp:.2f} s")
        return states

    def prime(self, publish, stamp: float, tries: int = 15, every_s: float = 2.0) -> bool:
        """Publish a first frame again and again until its person states come back.

        Discovery is per endpoint pair: right after start-up a frame can reach perception before
        perception's results reach reasoning (or reasoning's reach us), and it is then lost. The priming
        frame (an empty room, stamped before the scenario's first frame) changes nothing that is decided.
        """
        key = round(stamp, 4)
        for _ in range(tries):
            publish()
            if self.inbox.wait(lambda: key in self.inbox.states, every_s):
                with self.inbox.cond:
                    self.inbox.states.pop(key)
                return True
        self.late.append(f"the graph never answered the priming frame ({tries * every_s:.0f} s)")
        return False

    def after_transcript(self, tid: str) -> str | None:
        """Wait for the reasoning node's decision on transcript ``tid`` and, for a reply, the reply itself."""
        ib = self.inbox
        if not ib.wait(lambda: tid in ib.transcripts, self.timeout_s):
            self.late.append(f"no decision on transcript {tid}")
            return None
        action = ib.transcripts[tid]
        if action == "reply":
            if not ib.wait(lambda: tid in ib.replies, self.reply_timeout_s):
                self.late.append(f"no reply to transcript {tid} within {self.reply_timeout_s:.0f} s")
        self._wait_for(set(), set(), f"transcript {tid}")
        # a yes or no may resolve an intent waiting for confirmation: give the gate a moment
        with ib.cond:
            waiting = [i for i, v in ib.verdicts.items() if v.get("pending")]
        if waiting:
            ib.wait(lambda: not any(ib.verdicts[i].get("pending") for i in waiting), 0.5)
            self._wait_for(set(), set(), f"transcript {tid}")
        return action

    def _wait_for(self, utterances: set[str], intents: set[str], what: str) -> None:
        ib = self.inbox
        ok = ib.wait(lambda: utterances <= ib.utterances and intents <= set(ib.intents) and ib.settled(),
                     self.timeout_s)
        if not ok:
            self.late.append(f"{what}: outputs or verdicts missing after {self.timeout_s:.0f} s")


def wait_quiet(inbox: Inbox, quiet_s: float = 0.1, timeout: float = 2.0) -> None:
    """Wait until no event has arrived for ``quiet_s`` (at most ``timeout``)."""
    end = time.monotonic() + timeout
    last = -1
    while time.monotonic() < end:
        with inbox.cond:
            n = len(inbox.pending)
        if n == last:
            return
        last = n
        time.sleep(quiet_s)
