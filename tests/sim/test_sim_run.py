"""The simulation end to end: rendered frames -> real perception -> reasoning -> gate -> simulated motion.

The fast scenarios (``fast: true`` in sim/scenarios) run through the real node graph in lockstep; one
runs twice with the same seed (same decisions) and its MCAP recording is replayed through a fresh
graph (same decisions as the live run). `vlm-robot sim --all` runs every scenario.
"""

from __future__ import annotations

import importlib.util

import pytest

from vlm_robot.bag import bag_summary, read_bag
from vlm_robot.nodes import common
from vlm_robot.sim.cli import select

pytestmark = [pytest.mark.graph,
              pytest.mark.skipif(importlib.util.find_spec("mujoco") is None, reason="mujoco not installed")]


@pytest.fixture(scope="module")
def fast_runs(tmp_path_factory):
    from vlm_robot.sim.runner import run_scenario

    out = tmp_path_factory.mktemp("sim")
    return {sc.name: (sc, run_scenario(sc, out / sc.name.replace(" ", "_"))) for sc in select("", False, True)}


def test_fast_scenarios_pass_end_to_end(fast_runs):
    from vlm_robot.sim.runner import table

    assert len(fast_runs) >= 2
    results = [r for _, r in fast_runs.values()]
    print(table(results))
    for sc, r in fast_runs.values():
        assert r.passed, f"{sc.name}:\n{table([r])}"
        assert r.log.lost_frames == 0 and r.frames == len(sc.frame_times())
        said = [u for _, u in r.log.of("utterance")]
        assert said, f"{sc.name}: the robot said nothing"


def test_the_loop_closes_head_and_base_move_in_the_simulation(fast_runs):
    by_name = {sc.path.rsplit("/", 1)[-1]: r for sc, r in fast_runs.values()}
    greet = by_name["greet_sad_visitor.yaml"]
    pans = [f.head[0] for f in greet.log.frames]
    assert pans[0] == 0.0 and min(pans) < -0.2  # the approved look_at turned the simulated head right
    come = by_name["come_here.yaml"]
    xs = [f.robot[0] for f in come.log.frames]
    assert xs[0] == 0.0 and max(xs) > 0.4  # the approved approach drove the simulated base (1.6 m -> ~1.1 m)


def test_recording_has_frames_joint_states_and_decisions(fast_runs):
    _, r = next(iter(fast_runs.values()))
    from rclpy.serialization import deserialize_message
    from sensor_msgs.msg import Image

    counts = {topic: n for topic, (_, n) in bag_summary(r.bag).items()}
    stamps = [deserialize_message(m.raw, Image).header.stamp for m in read_bag(r.bag, [common.IMAGE])]
    scenario_frames = [st for st in stamps if st.sec >= 0]
    assert len(scenario_frames) == r.frames  # every frame, once; plus the priming frame(s) at -1 s
    assert len(stamps) - len(scenario_frames) >= 1
    assert counts[common.JOINT_STATES] == r.frames
    assert counts[common.DECISION] == len(r.log.decisions())


def test_same_seed_twice_gives_the_same_decisions(fast_runs, tmp_path):
    from vlm_robot.sim.runner import run_scenario

    sc, first = next((s, r) for s, r in fast_runs.values() if s.path.endswith("greet_sad_visitor.yaml"))
    again = run_scenario(sc, tmp_path / "again", record=False)
    assert first.decision_keys() and again.decision_keys() == first.decision_keys()
    assert [u["text"] for _, u in again.log.of("utterance")] == [u["text"] for _, u in first.log.of("utterance")]


def test_replaying_the_recording_gives_the_same_decisions_as_the_live_run(fast_runs, tmp_path):
    from vlm_robot.sim.replay_lockstep import replay_lockstep

    _, live = next((s, r) for s, r in fast_runs.values() if s.path.endswith("come_here.yaml"))
    rep = replay_lockstep(live.bag, tmp_path / "replay")
    assert rep.frames == live.frames and not rep.problems
    assert rep.same, rep.first_difference()
    assert [d["action"] for d in rep.replayed] == [d["action"] for d in live.log.decisions()]
