"""The few exception types of vlm_robot.

Each subclasses a builtin so callers can catch it either way, and each message names the
component, what was expected, what arrived and how to fix it.
"""


class VlmRobotError(Exception):
    """Base class of every vlm_robot error."""


class InvalidInputError(VlmRobotError, ValueError):
    """A message or file that arrived does not have the shape, encoding or size expected."""


class ModelNotFoundError(VlmRobotError, FileNotFoundError):
    """A model file is missing; the message names the path and the package that provides it."""


class ModelIntegrityError(VlmRobotError, RuntimeError):
    """A model file exists but its sha256 is not the pinned one."""


class ConfigError(VlmRobotError, ValueError):
    """A configuration value is out of range or of the wrong type."""


class BackendUnavailableError(VlmRobotError, ImportError):
    """An optional backend's library is not installed; the message says which extra to install."""
