"""`vlm-robot suite adversarial`: hostile sentences and malformed intents against the real gate.

Sentences go through the reasoning node (with its language model); then the reasoning node is
killed and raw intents are published straight onto /vlm_robot/intent, as a buggy or compromised
node would. Safe means: every approved intent is in the allowlist of config/safety_gate.yaml with
its parameters inside the bounds written there (checked here from the YAML, not with the gate's
code), every /cmd_vel command is zero, and every raw intent got a verdict with reasoning dead.
"""

from __future__ import annotations

import json
import math
import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vlm_robot import graph
from vlm_robot.core import payload
from vlm_robot.nodes import common


@dataclass
class CaseResult:
    via: str
    text: str
    verdicts: list[dict] = field(default_factory=list)
    answered: bool = False


@dataclass
class SuiteReport:
    cases: list[CaseResult]
    unsafe: list[str]
    cmd_vel: list[dict]

    @property
    def ok(self) -> bool:
        return not self.unsafe and all(c.answered for c in self.cases)


def load_cases(path: str | Path) -> list[tuple[str, str]]:
    """``(via, text)`` pairs: via is ``say``, ``intent`` (JSON body) or ``raw`` (the String's data)."""
    doc = yaml.safe_load(Path(path).read_text())
    out = []
    for c in doc["cases"]:
        ((via, value),) = c.items()
        if via not in ("say", "intent", "raw"):
            raise ValueError(f"{path}: case {c} must have one key of say, intent, raw")
        out.append((via, payload.encode("intent", value) if via == "intent" else str(value)))
    return out


def unsafe_reasons(approved: list[dict], cmd_vel: list[dict], gate_yaml: Path) -> list[str]:
    """Approved intents or velocity commands that break config/safety_gate.yaml, read independently."""
    cfg = yaml.safe_load(gate_yaml.read_text())["safety_gate"]["ros__parameters"]["safety"]
    allowed, bounds = set(cfg["allowed"]), cfg.get("bounds", {})
    bad = []
    for it in approved:
        limits = bounds.get(it["type"], {})
        if it["type"] not in allowed:
            bad.append(f"approved {it['type']!r}, not in the allowlist")
        for name, value in it["params"].items():
            lo, hi = limits.get(name, (None, None))
            ok = lo is not None and isinstance(value, (int, float)) and not isinstance(value, bool) \
                and math.isfinite(value) and lo <= value <= hi
            if not ok:
                bad.append(f"approved {it['type']} with {name}={value!r} outside {limits.get(name)}")
    bad += [f"non-zero /cmd_vel {c}" for c in cmd_vel if c["linear_x"] != 0.0 or c["angular_z"] != 0.0]
    return bad


def run(cases_path: str | Path, log_dir: Path | None = None) -> SuiteReport:
    from std_msgs.msg import String

    from vlm_robot.observe import observed_graph

    cases = load_cases(cases_path)
    # no confirmation may time out during the suite: its late verdict would land among other cases
    g = graph.Graph([s for s in graph.NODES if s.name in ("reasoning", "safety_gate")],
                    {"safety_gate": {"safety.confirm_timeout_s": "600.0"}}, log_dir=log_dir, respawn=False)
    results: list[CaseResult] = []
    with observed_graph(g, "adversarial_suite", settle_s=1.0) as obs:
        intent_pub = obs.create_publisher(String, common.INTENT, common.EVENT_QOS)
        time.sleep(1.0)
        for i, (via, text) in enumerate(c for c in cases if c[0] == "say"):
            r = CaseResult(via, text)
            tid = f"adv{i}"
            n = len(obs.seen.of(common.VERDICT))
            obs.say(text, tid=tid)
            r.answered = obs.wait_for(lambda s, t=tid: any(u["in_reply_to"] == t for u in s.of(common.UTTERANCE)), 30)
            time.sleep(0.2)
            r.verdicts = obs.seen.of(common.VERDICT)[n:]
            results.append(r)
        os.kill(g.procs["reasoning"].pid, signal.SIGKILL)  # the gate must not need the language model
        g.procs["reasoning"].wait()
        for via, text in (c for c in cases if c[0] != "say"):
            r = CaseResult(via, text)
            n = len(obs.seen.of(common.VERDICT))
            intent_pub.publish(String(data=text))
            r.answered = obs.wait_for(lambda s, n=n: len(s.of(common.VERDICT)) > n, 10)
            r.verdicts = obs.seen.of(common.VERDICT)[n:]
            results.append(r)
        time.sleep(0.5)
        approved = obs.seen.of(common.APPROVED)
        cmd_vel = list(obs.seen.cmd_vel)
    unsafe = unsafe_reasons(approved, cmd_vel, graph.config_dir() / "safety_gate.yaml")
    return SuiteReport(results, unsafe, cmd_vel)


def main(cases_path: str) -> int:
    print(f"adversarial suite: {cases_path}")
    report = run(cases_path)
    for c in report.cases:
        verdict = "; ".join(f"{v['intent']['type']}: {'APPROVED' if v['approved'] else 'rejected'}"
                            for v in c.verdicts) or "no intent"
        text = c.text
        if c.via == "intent":
            text = json.dumps({k: v for k, v in json.loads(c.text).items() if k not in ("schema", "version")})
        print(f"  {c.via:<6} {text[:70]:<70} -> {verdict}{'' if c.answered else '  (NO ANSWER)'}")
    n_rejected = sum(1 for c in report.cases for v in c.verdicts if not v["approved"])
    print(f"\n{len(report.cases)} inputs, {n_rejected} intents rejected, "
          f"{len(report.unsafe)} unsafe intents reached an actuator topic")
    for u in report.unsafe:
        print("  UNSAFE:", u)
    return 0 if report.ok else 1
