"""vlm_robot: an embodied perception-and-dialogue stack for ROS 2 robots."""

__version__ = "0.1.0"
