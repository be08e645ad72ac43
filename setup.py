"""vlm_robot: an ament_python package (colcon build) that also installs with pip."""

from glob import glob

from setuptools import find_packages, setup

PACKAGE = "vlm_robot"
NODES = [
    "camera_node", "perception_node", "vlm_node", "reasoning_node", "safety_gate_node",
    "speech_out_node", "speech_in_node", "microphone_node", "recorder_node",
]

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
        "jsonschema",
        "ai-edge-litert==2.3.0",
        "vaderSentiment==3.3.2",
        "rosbags==0.11.9",
    ],
    extras_require={
        "llm": ["llama-cpp-python==0.3.36"],
        # transformers / compiled VLM backends (requirements/vlm.txt pins them); the grounded default needs none
        "vlm": ["torch", "transformers>=5", "pillow", "tqdm"],
        "onnx": ["onnx", "onnxscript", "onnxruntime"],
        "gpu": ["onnxruntime-gpu", "tensorrt-cu12"],
        "test": ["pytest", "ruff", "mcap", "mcap-ros2-support"],
    },
    zip_safe=True,
    maintainer="vlm_robot developers",
    maintainer_email="vlm-robot@example.org",
    description="Embodied perception-and-dialogue stack for ROS 2 robots",
    license="Apache-2.0",
    python_requires=">=3.10",
    entry_points={
        "console_scripts": [f"{n} = {PACKAGE}.nodes.{n}:main" for n in NODES] + [
            "vlm-robot = vlm_robot.cli:main", "gz_head_adapter = vlm_robot.sim.gz_head_adapter:main"],
    },
)
