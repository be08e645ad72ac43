"""`vlm-robot sim`: run scenarios, print the results table, check determinism and replay."""

from __future__ import annotations

import sys
from pathlib import Path

from vlm_robot.core.errors import ConfigError
from vlm_robot.sim.scenario import Scenario, discover

DEFAULT_DIR = "sim/scenarios"


def scenario_dir(d: str = DEFAULT_DIR) -> Path:
    """``d`` as given, else relative to the source tree (so an installed command finds the scenarios)."""
    p = Path(d)
    if p.is_dir():
        return p
    for base in (Path(__file__).resolve().parents[2], Path(sys.prefix) / "share" / "vlm_robot"):
        if (base / d).is_dir():
            return base / d
    return p


def select(scenario: str, run_all: bool, fast: bool, directory: str = DEFAULT_DIR) -> list[Scenario]:
    """The scenarios to run: one file or name, all of them, or the fast subset."""
    d = scenario_dir(directory)
    if scenario:
        p = Path(scenario)
        if not p.is_file():
            p = d / (scenario if scenario.endswith(".yaml") else f"{scenario}.yaml")
        if not p.is_file():
            names = [f.stem for f in discover(d)]
            raise ConfigError(f"no scenario {scenario!r}; expected a YAML file or one of {names}")
        return [Scenario.load(p)]
    found = [Scenario.load(p) for p in discover(d)]
    return [s for s in found if s.fast] if fast and not run_all else found


def main(scenario: str = "", run_all: bool = False, fast: bool = False, out: str = "out/sim",
         record: bool = True, repeat: bool = False, replay: bool = False, directory: str = DEFAULT_DIR) -> int:
    from vlm_robot.sim.runner import run_scenario, table

    try:
        chosen = select(scenario, run_all, fast, directory)
    except ConfigError as e:
        print(f"sim: {e}")
        return 2
    if not chosen:
        print("sim: no scenario chosen; give a scenario name/file, --all or --fast")
        return 2
    results, extra = [], []
    for sc in chosen:
        slug = Path(sc.path).stem if sc.path else sc.name.replace(" ", "_")
        print(f"scenario {sc.name} ({sc.duration_s:g} s at {sc.fps:g} fps)")
        res = run_scenario(sc, Path(out) / slug, record=record or replay, printer=print)
        print(f"  {'PASS' if res.passed else 'FAIL'} in {res.wall_s:.1f} s ({res.frames} frames, render "
              f"{res.frames / max(res.render_s, 1e-9):.1f} fps); decisions {len(res.log.decisions())}; "
              f"bag {res.bag}")
        results.append(res)
        if repeat:
            again = run_scenario(sc, Path(out) / f"{slug}_again", record=False)
            same = again.decision_keys() == res.decision_keys()
            extra.append(f"{sc.name}: same seed twice -> {'same' if same else 'DIFFERENT'} decisions "
                         f"({len(res.decision_keys())} vs {len(again.decision_keys())})")
        if replay and res.bag is not None:
            from vlm_robot.sim.replay_lockstep import replay_lockstep

            rep = replay_lockstep(res.bag, Path(out) / f"{slug}_replay")
            extra.append(f"{sc.name}: replay of its recording -> "
                         f"{'same' if rep.same else 'DIFFERENT: ' + rep.first_difference()} decisions "
                         f"({len(rep.recorded)} recorded, {len(rep.replayed)} replayed, {rep.frames} frames)")
    print()
    print(table(results))
    for line in extra:
        print(line)
    passed = sum(r.passed for r in results)
    print(f"\n{passed}/{len(results)} scenarios passed")
    ok = passed == len(results) and not any("DIFFERENT" in x for x in extra)
    return 0 if ok else 1
