"""vlm_robot: an ament_python package (colcon build) that also installs with pip."""

import importlib.util
import sys
from glob import glob
from pathlib import Path

from setuptools import find_packages, setup


def _load_registry():
    """vlm_robot/nodes/registry.py by path (the package need not be installed, nor its dependencies)."""
    path = Path(__file__).resolve().parent / "vlm_robot" / "nodes" / "registry.py"
    spec = importlib.util.spec_from_file_location("_vlm_robot_node_registry", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # dataclasses look their module up while the file runs
    spec.loader.exec_module(mod)
    return mod


registry = _load_registry()
PACKAGE = registry.PACKAGE

setup(
    name=PACKAGE,
    version="0.1.0",
    packages=find_packages(exclude=["tests", "tests.*"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{PACKAGE}"]),
        (f"share/{PACKAGE}", ["package.xml"]),
        (f"share/{PACKAGE}/launch", glob("launch/*.launch.py")),
        (f"share/{PACKAGE}/config", glob("config/*.yaml")),
        (f"share/{PACKAGE}/sim/scenes", glob("sim/scenes/*.yaml")),
        (f"share/{PACKAGE}/sim/suites", glob("sim/suites/*.yaml")),
        (f"share/{PACKAGE}/sim/scenarios", glob("sim/scenarios/*.*")),
        (f"share/{PACKAGE}/sim/world", glob("sim/world/*.*")),
        (f"share/{PACKAGE}/sim/world/gazebo", glob("sim/world/gazebo/*.*")),
        (f"share/{PACKAGE}/sim/world/gazebo/textures", glob("sim/world/gazebo/textures/*.png")),
        (f"share/{PACKAGE}/models", glob("models/*.yaml") + glob("models/*.md")),
    ],
    # The robot runtime (rclpy and the message packages) comes from ROS 2 (apt) or from the
    # ros-jazzy-* wheels that `make setup` installs; see requirements/*.txt for pinned versions.
    install_requires=[
        "numpy",
        "opencv-python-headless<5",
        "pyyaml",
        "ai-edge-litert==2.3.0",
        "vaderSentiment==3.3.2",
        "rosbags==0.11.9",
        "mcap==1.6.0",  # the recorder's crash-safe writer (vlm_robot/bag.py); brings lz4 and zstandard
    ],
    extras_require={
        "llm": ["llama-cpp-python==0.3.36"],
        # transformers / compiled VLM backends (requirements/vlm.txt pins them); the grounded default needs none
        "vlm": ["torch", "transformers>=5", "pillow", "tqdm", "gguf", "accelerate"],  # gguf: SmolLM2 for the palme VLM
        "onnx": ["onnx", "onnxscript", "onnxruntime"],
        "gpu": ["onnxruntime-gpu", "tensorrt-cu12"],
        "test": ["pytest", "ruff", "mcap-ros2-support"],
        # the live view and session viewer (viz_node, `vlm-robot view`; requirements/viz.txt); ~690 MB installed
        "viz": ["rerun-sdk==0.41.0"],
    },
    zip_safe=True,
    maintainer="vlm_robot developers",
    maintainer_email="vlm-robot@example.org",
    description="Embodied perception-and-dialogue stack for ROS 2 robots",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        # the bringup nodes and the other commands, from the one node list (vlm_robot/nodes/registry.py)
        "console_scripts": registry.console_scripts(),
    },
)
