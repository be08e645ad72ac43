"""Bring up the vlm_robot stack on a robot with ROS 2.

    ros2 launch vlm_robot bringup.launch.py camera_source:=/dev/video0 record:=true
    ros2 launch vlm_robot bringup.launch.py camera_source:=/dev/video0 mic:=default   # spoken conversation

Every node gets its parameter file from the package's config/ and is respawned if it crashes.
Without the launch package (pip-installed rclpy), `vlm-robot run` starts the same nodes with the
same parameter files (vlm_robot/graph.py; tests/test_launch_agreement.py checks they agree).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription


def generate_launch_description():
    config = os.path.join(get_package_share_directory("vlm_robot"), "config")
    camera_source = LaunchConfiguration("camera_source")
    transcripts = LaunchConfiguration("transcripts")
    mic = LaunchConfiguration("mic")
    record = LaunchConfiguration("record")
    bag = LaunchConfiguration("bag")
    respawn_delay = 1.0
    return LaunchDescription([
        DeclareLaunchArgument("camera_source", default_value="/dev/video0",
                              description="V4L2 device (/dev/videoN or N), a video file, or a folder of images"),
        DeclareLaunchArgument("transcripts", default_value="",
                              description="speech_in source: 'stdin', a text file of sentences, or '' (idle)"),
        DeclareLaunchArgument("mic", default_value="",
                              description="microphone_node source: '' (idle), 'default', a device index or name "
                                          "(`vlm-robot audio devices`), or a WAV file"),
        DeclareLaunchArgument("record", default_value="true",
                              description="record every topic to a rosbag2 MCAP folder"),
        DeclareLaunchArgument("bag", default_value="",
                              description="bag folder to write (empty: out/session_<date>_<time>)"),
        Node(package="vlm_robot", executable="camera_node", name="camera", output="screen",
             parameters=[os.path.join(config, "camera.yaml"), {"source": camera_source}],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="perception_node", name="perception", output="screen",
             parameters=[os.path.join(config, "perception.yaml")],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="vlm_node", name="vlm", output="screen",
             parameters=[os.path.join(config, "vlm.yaml")],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="reasoning_node", name="reasoning", output="screen",
             parameters=[os.path.join(config, "reasoning.yaml")],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="safety_gate_node", name="safety_gate", output="screen",
             parameters=[os.path.join(config, "safety_gate.yaml")],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="speech_out_node", name="speech_out", output="screen",
             parameters=[os.path.join(config, "speech_out.yaml")],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="speech_in_node", name="speech_in", output="screen",
             parameters=[os.path.join(config, "speech_in.yaml"), {"source": transcripts}],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="microphone_node", name="microphone", output="screen",
             parameters=[os.path.join(config, "microphone.yaml"), {"source": mic}],
             respawn=True, respawn_delay=respawn_delay),
        Node(package="vlm_robot", executable="recorder_node", name="recorder", output="screen",
             parameters=[os.path.join(config, "recorder.yaml"), {"output": bag}],
             respawn=True, respawn_delay=respawn_delay, condition=IfCondition(record)),
    ])
