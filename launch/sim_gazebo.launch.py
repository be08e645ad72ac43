"""The vlm_robot stack on a simulated robot in Gazebo (gz sim Harmonic, ROS 2 Jazzy).

    ros2 launch vlm_robot sim_gazebo.launch.py                 # Gazebo GUI
    ros2 launch vlm_robot sim_gazebo.launch.py headless:=true record:=false

Starts gz sim with sim/world/gazebo/room.sdf, spawns sim/world/robot.urdf with the <gazebo> blocks of
sim/world/gazebo/robot_plugins.xml inserted (one robot description for MuJoCo, Gazebo and
robot_state_publisher), bridges the topics below, converts /head/command into per-joint position
commands (vlm_robot.sim.gz_head_adapter) and runs launch/bringup.launch.py with use_sim_time and without
its camera node (Gazebo's camera publishes /camera/image_raw). Needs ros-jazzy-ros-gz (gz Harmonic).
tests/sim/test_gazebo_files.py checks this file's structure; it has not been run here (no Gazebo).
"""

import xml.etree.ElementTree as ET
from pathlib import Path

from ament_index_python.packages import get_package_share_directory
from launch.actions import DeclareLaunchArgument, ExecuteProcess, GroupAction, IncludeLaunchDescription, OpaqueFunction
from launch.conditions import IfCondition, UnlessCondition
from launch.launch_description_sources import (
    PythonLaunchDescriptionSource,
    get_launch_description_from_python_launch_file,
)
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node, SetParameter

from launch import LaunchDescription

ROBOT = "vlm_robot"
# sim/world of the source tree (symlink install) or of the package's share directory
WORLD_DIR = Path(__file__).resolve().parent.parent / "sim" / "world"
# ROS <-> Gazebo, same topic names on both sides: "[" Gazebo to ROS, "]" ROS to Gazebo
BRIDGE = [
    "/clock@rosgraph_msgs/msg/Clock[gz.msgs.Clock",
    "/camera/image_raw@sensor_msgs/msg/Image[gz.msgs.Image",
    "/camera/camera_info@sensor_msgs/msg/CameraInfo[gz.msgs.CameraInfo",
    "/cmd_vel@geometry_msgs/msg/Twist]gz.msgs.Twist",
    "/odom@nav_msgs/msg/Odometry[gz.msgs.Odometry",
    "/tf@tf2_msgs/msg/TFMessage[gz.msgs.Pose_V",
    "/joint_states@sensor_msgs/msg/JointState[gz.msgs.Model",
    "/head_pan/cmd_pos@std_msgs/msg/Float64]gz.msgs.Double",
    "/head_tilt/cmd_pos@std_msgs/msg/Float64]gz.msgs.Double",
]


def robot_description(urdf: Path, plugins: Path) -> str:
    """The URDF text with every <gazebo> element of ``plugins`` inserted before its closing </robot>."""
    text = urdf.read_text()
    blocks = [ET.tostring(e, encoding="unicode").strip() for e in ET.parse(plugins).getroot().findall("gazebo")]
    head, sep, tail = text.rpartition("</robot>")
    if not sep:
        raise ValueError(f"{urdf}: no </robot>")
    return head + "\n".join(blocks) + "\n" + sep + tail


def _bringup_without_camera(context, *args, **kwargs):
    """bringup.launch.py's actions minus its camera node; its launch arguments (record, mic, ...) are shared with
    ours, so ``record:=false`` reaches its recorder. (bringup.launch.py has no argument to turn the camera off.)"""
    ld = get_launch_description_from_python_launch_file(str(Path(__file__).resolve().parent / "bringup.launch.py"))
    return [e for e in ld.entities if not (isinstance(e, Node) and e.node_executable == "camera_node")]


def generate_launch_description():
    world, headless = LaunchConfiguration("world"), LaunchConfiguration("headless")
    description = robot_description(WORLD_DIR / "robot.urdf", WORLD_DIR / "gazebo" / "robot_plugins.xml")
    gz_sim = str(Path(get_package_share_directory("ros_gz_sim")) / "launch" / "gz_sim.launch.py")
    return LaunchDescription([
        DeclareLaunchArgument("world", default_value=str(WORLD_DIR / "gazebo" / "room.sdf"),
                              description="SDF world file for gz sim"),
        DeclareLaunchArgument("headless", default_value="false",
                              description="run the Gazebo server only (gz sim -s, headless rendering), no GUI"),
        DeclareLaunchArgument("record", default_value="true",
                              description="record every topic to a rosbag2 MCAP folder (bringup's recorder)"),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(gz_sim), condition=UnlessCondition(headless),
                                 launch_arguments={"gz_args": ["-r ", world], "on_exit_shutdown": "true"}.items()),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(gz_sim), condition=IfCondition(headless),
                                 launch_arguments={"gz_args": ["-r -s --headless-rendering ", world],
                                                   "on_exit_shutdown": "true"}.items()),
        Node(package="ros_gz_sim", executable="create", name="spawn_robot", output="screen",
             arguments=["-name", ROBOT, "-string", description, "-x", "0", "-y", "0", "-z", "0.01"]),
        Node(package="robot_state_publisher", executable="robot_state_publisher", name="robot_state_publisher",
             output="screen", parameters=[{"robot_description": description, "use_sim_time": True}]),
        Node(package="ros_gz_bridge", executable="parameter_bridge", name="gz_bridge", output="screen",
             arguments=BRIDGE, parameters=[{"use_sim_time": True}]),
        ExecuteProcess(cmd=["python3", "-m", "vlm_robot.sim.gz_head_adapter",
                            "--ros-args", "-p", "use_sim_time:=true"], name="gz_head_adapter", output="screen"),
        GroupAction([SetParameter(name="use_sim_time", value=True), OpaqueFunction(function=_bringup_without_camera)]),
    ])
