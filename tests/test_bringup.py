"""The bringup as `vlm-robot run` starts it, with files standing in for the camera and the microphone.

camera_node reads a folder of photographs, speech_in_node a text file of timed sentences; perception,
reasoning and the safety gate are the same processes and parameter files as on the robot; and the same nodes in
one process, as `vlm-robot run --single-process` starts them.
"""

import cv2
import pytest

from vlm_robot import graph
from vlm_robot.nodes import common

pytestmark = pytest.mark.graph


@pytest.mark.parametrize("single_process", [False, True], ids=["processes", "single_process"])
def test_camera_and_speech_in_nodes_drive_the_stack(tmp_path, demo_scene, single_process):
    frames = tmp_path / "frames"
    frames.mkdir()
    for i in range(5):
        cv2.imwrite(str(frames / f"{i}.png"), cv2.cvtColor(demo_scene.render(12.0), cv2.COLOR_RGB2BGR))
    lines = tmp_path / "said.txt"
    lines.write_text("4.0\tHello robot, please wave.\n\n5.0\tstop\n")
    nodes = ("camera", "speech_in", "perception", "reasoning", "safety_gate")
    overrides = {"camera": {"source": str(frames), "fps": "10.0"}, "speech_in": {"source": str(lines)},
                 "reasoning": {"memory.path": str(tmp_path / "memory.json")}}
    g = graph.Graph([s for s in graph.NODES if s.name in nodes], overrides, log_dir=tmp_path / "logs",
                    single_process=single_process)
    from vlm_robot.observe import observed_graph

    with observed_graph(g, "bringup_test", settle_s=0.0) as obs:
        assert obs.wait_for(lambda s: len(s.of(common.PEOPLE)) >= 10, 20)
        assert obs.wait_for(lambda s: any(len(p["people"]) == 2 for p in s.of(common.PERSON_STATES)), 10)
        assert obs.wait_for(lambda s: len([u for u in s.of(common.UTTERANCE) if u["kind"] == "reply"]) >= 2, 40)
        assert obs.wait_for(lambda s: {"wave", "stop"} <= {v["intent"]["type"] for v in s.of(common.VERDICT)
                                                              if v["approved"]}, 10)
    people = obs.seen.of(common.PEOPLE)[-1]
    assert sorted(f["expression"] for f in people["faces"]) == ["happy", "sad"]
    assert people["width"] == 640 and people["height"] == 480
    assert not g.restarts and all(c == 0 for c in obs.exit_codes.values()), obs.exit_codes
