"""The VLM node as a process with the transformers backend: a model folder from its parameters.

Its own module: observed_graph owns rclpy's context, and tests/test_vlm_node.py holds one for its module.
"""

from __future__ import annotations

import pytest

from vlm_robot import graph

pytestmark = pytest.mark.graph


def test_vlm_node_runs_a_transformers_model_from_a_folder(tmp_path, demo_scene):
    """A tiny random LLaVA saved with save_pretrained, loaded by the node from its parameters, answers."""
    from vlm_robot.observe import observed_graph
    from vlm_robot.vlm.families import family

    path = family("llava").tiny(tmp_path / "llava")
    g = graph.Graph([s for s in graph.NODES if s.name == "vlm"],
                    {"vlm": {"vlm.backend": "transformers", "vlm.model": str(path), "vlm.max_new_tokens": "4",
                             "describe_rate_hz": "0.0"}}, log_dir=tmp_path / "logs")
    with observed_graph(g, "vlm_hf_test", settle_s=1.0) as obs:
        obs.publish_frames(demo_scene.render(12.0), 1.0)
        obs.ask("What do you see?", "hf1")
        a = obs.answer("hf1", 60)
        assert a["ok"] and a["backend"] == "transformers" and a["model"] == str(path), a
    assert all(c == 0 for c in obs.exit_codes.values()), obs.exit_codes
    assert "loaded in" in (tmp_path / "logs" / "vlm.log").read_text()
