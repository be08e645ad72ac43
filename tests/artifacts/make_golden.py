"""Re-record tests/artifacts/golden_session from tests/artifacts/golden_scene.yaml.

    .venv/bin/python -m vlm_robot.isolate .venv/bin/python tests/artifacts/make_golden.py

Run it when a change to perception, the policy or the gate changes decisions on purpose; then
check the printed timeline, and commit the new bag. The bag holds the inputs (frames, transcripts)
and the decisions and verdicts the live stack made from them; tests/test_golden_replay.py replays
the inputs and expects the same decisions.
"""

import shutil
from pathlib import Path

from vlm_robot.sim.scene import Scene
from vlm_robot.tools.demo import play_scene

HERE = Path(__file__).resolve().parent
TOPICS = "[/camera/image_raw,/speech/transcript,/vlm_robot/decision,/vlm_robot/intent_verdict]"

if __name__ == "__main__":
    out = Path("out/golden")
    run = play_scene(Scene.load(HERE / "golden_scene.yaml"), out, node_overrides={"recorder": {"topics": TOPICS}})
    dst = HERE / "golden_session"
    if dst.exists():
        shutil.rmtree(dst)
    shutil.copytree(run.bag, dst)
    print(f"wrote {dst} ({sum(f.stat().st_size for f in dst.iterdir()) / 1e6:.1f} MB)")
