"""Bring up the vlm_robot stack on a robot with ROS 2.

    ros2 launch vlm_robot bringup.launch.py camera_source:=/dev/video0 record:=true
    ros2 launch vlm_robot bringup.launch.py camera_source:=/dev/video0 mic:=default   # spoken conversation

Every node gets its parameter file from the package's config/ and is respawned if it crashes.
The nodes, their parameter files, the launch arguments and which node each argument sets or switches
on are the one list in vlm_robot/nodes/registry.py: setup.py installs the same executables, and
without the launch package (pip-installed rclpy) `vlm-robot run` starts the same nodes with the same
parameter files (vlm_robot/graph.py; tests/test_launch_agreement.py checks they agree).
"""

import os

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument
from launch.conditions import IfCondition
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node

from launch import LaunchDescription
from vlm_robot.nodes.registry import LAUNCH_ARGS, NODES, PACKAGE, RESPAWN_DELAY_S


def generate_launch_description():
    config = os.path.join(get_package_share_directory(PACKAGE), "config")
    actions = [DeclareLaunchArgument(arg.name, default_value=arg.default, description=arg.description)
               for arg in LAUNCH_ARGS]
    for spec in NODES:
        parameters = [os.path.join(config, spec.params_file)]
        if spec.launch_params:  # e.g. camera's source:=<camera_source>
            parameters.append({param: LaunchConfiguration(arg) for param, arg in spec.launch_params})
        only_if = {"condition": IfCondition(LaunchConfiguration(spec.condition))} if spec.condition else {}
        actions.append(Node(package=PACKAGE, executable=spec.executable, name=spec.name, output="screen",
                            parameters=parameters, respawn=True, respawn_delay=RESPAWN_DELAY_S, **only_if))
    return LaunchDescription(actions)
