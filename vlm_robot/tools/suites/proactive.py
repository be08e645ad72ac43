"""`vlm-robot suite proactive`: when does the robot speak first? Scenarios with expected greetings.

Each scenario's frames are rendered and run through the real perception models; the reasoning core
(tracker and proactive policy, with the thresholds of config/reasoning.yaml) follows them on the
event clock, so a 20 s scenario takes well under 20 s and gives the same answer every run.
A greeting matches an expectation when it greets that person inside its time window; every
other greeting is an unwanted interruption. A scenario may also name words its greetings' or its
silences' reasons must contain (``expect_reason`` / ``expect_silence``), so that a greeting for the
wrong reason, or silence for the wrong reason, fails.
Transcript lines with a ``speaker`` are attributed to the tracked person nearest that scene person,
as a speaker-localising microphone array would; lines without one go to the reasoner unattributed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import yaml

from vlm_robot.core.types import Frame, Transcript
from vlm_robot.graph import config_dir
from vlm_robot.perception.text_affect import TextAffect
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig
from vlm_robot.sim.scene import Scene


@dataclass
class ScenarioResult:
    name: str
    expected: list[tuple[str, float, float]]
    greetings: list[tuple[str, float, str]] = field(default_factory=list)  # (person, t, reason)
    silences: list[str] = field(default_factory=list)  # reasons given for staying silent
    matched: int = 0
    unwanted: int = 0
    expect_reason: str = ""
    expect_silence: str = ""

    @property
    def reasons_ok(self) -> bool:
        """Every greeting's reason names ``expect_reason``; some silence names ``expect_silence``."""
        greet_ok = all(self.expect_reason in why for _, _, why in self.greetings)
        return greet_ok and (not self.expect_silence or any(self.expect_silence in s for s in self.silences))

    @property
    def passed(self) -> bool:
        return self.matched == len(self.expected) and self.unwanted == 0 and self.reasons_ok


def reasoning_configs(path: Path | None = None) -> tuple[TrackerConfig, ProactiveConfig]:
    """The tracker and policy configs of a reasoning parameter file (default: config/reasoning.yaml)."""
    params = yaml.safe_load((path or config_dir() / "reasoning.yaml").read_text())["reasoning"]["ros__parameters"]
    proactive = dict(params.get("proactive", {}))
    for key in ("concern_moods", "confusion_phrases", "robot_names"):
        if key in proactive:
            proactive[key] = tuple(proactive[key])
    return TrackerConfig(**params.get("tracker", {})), ProactiveConfig(**proactive)


def run_scenario(doc: dict, perceiver, tracker_cfg: TrackerConfig, policy_cfg: ProactiveConfig,
                 text_affect: TextAffect | None = None) -> ScenarioResult:
    """Play one scenario document through ``perceiver`` and a fresh reasoner; score its greetings."""
    scene = Scene.from_dict(doc)
    reasoner = Reasoner(PeopleTracker(tracker_cfg), ProactivePolicy(policy_cfg), None, text_affect)
    dnd = [(float(a), float(b)) for a, b in doc.get("do_not_disturb", [])]
    lines = list(scene.transcripts)
    result = ScenarioResult(doc["name"], [(str(n), float(a), float(b)) for n, a, b in doc.get("expect", [])],
                            expect_reason=str(doc.get("expect_reason", "")),
                            expect_silence=str(doc.get("expect_silence", "")))
    for t in scene.frame_times():
        reasoner.policy.do_not_disturb = any(a <= t < b for a, b in dnd)
        while lines and lines[0].at_s <= t:
            ln = lines.pop(0)
            speaker = _tracked(scene, reasoner, ln.speaker, t) if ln.speaker else "unknown"
            for d in reasoner.hear(Transcript(ln.text, ln.at_s, speaker, id=f"t{ln.at_s}")).decisions:
                if d.action == "silent":
                    result.silences.append(d.reason)
        out = reasoner.on_perception(perceiver.process(Frame(scene.render(t), t)))
        for d in out.decisions:
            if d.action == "greet":
                result.greetings.append((_who(scene, reasoner, d.person_id, t), t, d.reason))
            elif d.action == "silent":
                result.silences.append(d.reason)
    pending = list(result.expected)
    for who, t, _ in result.greetings:
        hit = next((e for e in pending if e[0] == who and e[1] <= t <= e[2]), None)
        if hit is None:
            result.unwanted += 1
        else:
            pending.remove(hit)
            result.matched += 1
    return result


def _tracked(scene: Scene, reasoner: Reasoner, name: str, t: float) -> str:
    """``"person<id>"`` of the tracked person nearest scene person ``name`` at time ``t``, else "unknown"."""
    here = [s for s in scene.visible(t) if s.name == name]
    people = reasoner.people()
    if not here or not people:
        return "unknown"
    x, y = here[0].position(t)
    p = min(people, key=lambda q: (q.box[0] + q.box[2] / 2 - x) ** 2 + (q.box[1] + q.box[3] / 2 - y) ** 2)
    return f"person{p.id}"


def _who(scene: Scene, reasoner: Reasoner, person_id: int | None, t: float) -> str:
    """The scene person nearest to the tracked person's face at time ``t``."""
    p = reasoner.tracker.people.get(person_id)
    if p is None:
        return "?"
    cx, cy = p.box[0] + p.box[2] / 2, p.box[1] + p.box[3] / 2
    visible = scene.visible(t)
    if not visible:
        return "?"
    best = min(visible, key=lambda s: (s.position(t)[0] - cx) ** 2 + (s.position(t)[1] - cy) ** 2)
    return best.name


def run(path: str | Path) -> list[ScenarioResult]:
    from vlm_robot.perception.pipeline import Perceiver

    doc = yaml.safe_load(Path(path).read_text())
    defaults = doc.get("defaults", {})
    perceiver = Perceiver()
    text_affect = TextAffect()
    tracker_cfg, policy_cfg = reasoning_configs()
    return [run_scenario({**defaults, **s}, perceiver, tracker_cfg, policy_cfg, text_affect) for s in doc["scenarios"]]


def metrics(results: list[ScenarioResult]) -> dict[str, float]:
    greetings = sum(len(r.greetings) for r in results)
    expected = sum(len(r.expected) for r in results)
    matched = sum(r.matched for r in results)
    return {
        "scenarios": len(results),
        "passed": sum(r.passed for r in results),
        "precision": matched / greetings if greetings else 1.0,
        "recall": matched / expected if expected else 1.0,
        "unwanted interruptions": sum(r.unwanted for r in results),
    }


def main(path: str) -> int:
    results = run(path)
    print(f"{'scenario':<50}{'expected':<40}{'observed':<40}result")
    for r in results:
        exp = ", ".join(f"{n} {a:.1f}-{b:.1f}s" for n, a, b in r.expected) or "silent"
        obs = ", ".join(f"{n} at {t:.1f}s" for n, t, _ in r.greetings) or "silent"
        verdict = "pass" if r.passed else ("FAIL (reason)" if r.matched == len(r.expected) and not r.unwanted
                                          else "FAIL")
        print(f"{r.name:<50}{exp:<40}{obs:<40}{verdict}")
        for _, t, why in r.greetings:
            print(f"{'':<6}greet {t:.1f}s: {why}")
        for why in dict.fromkeys(r.silences):
            if (r.expect_silence and r.expect_silence in why) or (not r.greetings and not r.expect_silence):
                print(f"{'':<6}silent: {why}")
    m = metrics(results)
    print(f"\n{m['passed']}/{m['scenarios']} scenarios pass; proactive precision {m['precision']:.2f}, "
          f"recall {m['recall']:.2f}, unwanted interruptions {m['unwanted interruptions']}")
    return 0 if m["precision"] >= 0.9 and m["recall"] >= 0.8 else 1
