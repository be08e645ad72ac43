"""Simulation: scripted 2D scenes (scene.py) and the MuJoCo room (world.py) with scenarios (scenario.py).

MuJoCo picks its GL backend when it is first imported: headless EGL unless the user chose one.
"""

import os

os.environ.setdefault("MUJOCO_GL", "egl")
