"""Approved intents -> bounded actuator commands, with no ROS in sight (the safety gate node publishes them).

Only intents the safety gate has approved come here; this is the second line of defence: every value
that leaves for an actuator is finite and clamped to the limits of config/safety_gate.yaml
(``actuation.*``), whatever the gate let through.

Conventions (REP-103): x forward, y left, z up; yaw and pan positive to the left; the head's tilt is a
pitch about +y, so positive tilt looks down. The camera is assumed fixed to the body and looking
along the base's x axis, so a person's bearing in the image is their bearing from the base (a camera
on the head would add the head's current pan).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import yaml

from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.core.types import Intent
from vlm_robot.core.vocabulary import is_finite_number, with_defaults


@dataclass(frozen=True)
class ActuationConfig:
    """Actuator limits (config/safety_gate.yaml ``actuation.*``).

    Attributes:
        head_pan_limits_rad: ``[min, max]`` of the head_pan joint.
        head_tilt_limits_rad: ``[min, max]`` of the head_tilt joint (positive looks down).
        head_speed_rps: the joint speed sent with every head command (rad/s), at most this.
        max_goal_distance_m: an approach goal lies at most this far from the robot.
        base_frame: frame of approach goals (the robot's base).
        map_frame: frame of the places in ``places_file``.
        places_file: YAML of named places; empty means config/places.yaml.
    """

    head_pan_limits_rad: tuple[float, ...] = (-1.4, 1.4)
    head_tilt_limits_rad: tuple[float, ...] = (-0.5, 0.5)
    head_speed_rps: float = 1.0
    max_goal_distance_m: float = 3.0
    base_frame: str = "base_link"
    map_frame: str = "map"
    places_file: str = ""

    def __post_init__(self) -> None:
        for name in ("head_pan_limits_rad", "head_tilt_limits_rad"):
            lim = getattr(self, name)
            if len(lim) != 2 or not all(is_finite_number(v) for v in lim) or lim[0] > lim[1]:
                raise ConfigError(f"actuation.{name} must be [min, max] with finite min <= max, got {list(lim)}")
        for name in ("head_speed_rps", "max_goal_distance_m"):
            v = getattr(self, name)
            if not is_finite_number(v) or v <= 0:
                raise ConfigError(f"actuation.{name} must be a finite number > 0, got {v!r}")
        if not self.base_frame or not self.map_frame:
            raise ConfigError("actuation.base_frame and actuation.map_frame must not be empty")


@dataclass(frozen=True)
class Place:
    """A named pose in the map frame."""

    name: str
    x: float
    y: float
    yaw: float


def load_places(path: str | Path) -> dict[str, Place]:
    """Named places from a YAML file ``{places: {name: {x, y, yaw}}}`` (metres, radians, map frame).

    Raises:
        ConfigError: the file is missing, or a place lacks x, y or yaw, or a value is not a finite number.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"places file {str(p)!r} does not exist; give actuation.places_file or leave it empty "
                          "for config/places.yaml")
    doc = yaml.safe_load(p.read_text()) or {}
    places = doc.get("places")
    if not isinstance(places, dict) or not places:
        raise ConfigError(f"{p}: expected a mapping 'places: {{name: {{x, y, yaw}}}}', got {type(places).__name__}")
    out = {}
    for name, pose in places.items():
        if not isinstance(pose, dict) or not all(is_finite_number(pose.get(k)) for k in ("x", "y", "yaw")):
            raise ConfigError(f"{p}: place {name!r} needs finite numbers x, y (m) and yaw (rad), got {pose!r}")
        out[str(name)] = Place(str(name), float(pose["x"]), float(pose["y"]), float(pose["yaw"]))
    return out


@dataclass(frozen=True)
class HeadCommand:
    """Head joint positions (rad) and the speed to move at (rad/s)."""

    pan: float
    tilt: float
    speed: float


@dataclass(frozen=True)
class GoalCommand:
    """A navigation goal: position (m) and heading (rad) in ``frame``."""

    frame: str
    x: float
    y: float
    yaw: float


@dataclass(frozen=True)
class StopCommand:
    """Zero velocity now, and cancel any navigation goal."""


Command = HeadCommand | GoalCommand | StopCommand


def clamp(value: float, lo: float, hi: float) -> float:
    """``value`` limited to ``[lo, hi]``.

    Raises:
        InvalidInputError: ``value`` is NaN or infinite (clamping would hide it).
    """
    if not is_finite_number(value):
        raise InvalidInputError(f"actuator value {value!r} is not a finite number; nothing is sent")
    return min(max(float(value), lo), hi)


def bearing_from_box(box: tuple[float, float, float, float], width: int, height: int,
                     hfov_deg: float) -> tuple[float, float]:
    """``(bearing_rad, elevation_rad)`` of a box's centre seen by a pinhole camera (square pixels).

    Args:
        box: ``(x, y, w, h)`` in pixels.
        width: image width in pixels.
        height: image height in pixels.
        hfov_deg: the camera's horizontal field of view.

    Returns:
        Bearing positive to the left, elevation positive up, both in radians.
    """
    if width <= 0 or height <= 0 or not 0 < hfov_deg < 180:
        raise InvalidInputError(f"bearing needs a positive image size and 0 < hfov < 180, got {width}x{height}, "
                                f"{hfov_deg} deg")
    focal = (width / 2) / math.tan(math.radians(hfov_deg) / 2)
    cx, cy = box[0] + box[2] / 2, box[1] + box[3] / 2
    return math.atan2(width / 2 - cx, focal), math.atan2(height / 2 - cy, focal)


def wrap(angle: float) -> float:
    """``angle`` in (-pi, pi]."""
    return math.atan2(math.sin(angle), math.cos(angle))


class Actuation:
    """Turns approved intents into commands within the configured limits."""

    def __init__(self, config: ActuationConfig | None = None, places: dict[str, Place] | None = None) -> None:
        self.config = config or ActuationConfig()
        self.places = dict(places or {})

    def commands(self, intent: Intent, head: tuple[float, float] = (0.0, 0.0)) -> list[Command]:
        """The commands for one approved intent; ``wave``, ``fetch`` and ``offer`` are skills, not commands.

        Args:
            intent: the approved intent. Its ``bearing_rad``/``elevation_rad`` were measured in the camera image.
            head: the head's ``(pan, tilt)`` when the image was taken (from /joint_states): a person seen at
                bearing 0.2 while the head is panned 0.5 is at 0.7 from the base. ``(0, 0)`` when unknown.

        Raises:
            InvalidInputError: a value is not finite, or ``navigate`` names a place that is not known.
        """
        c = self.config
        p = with_defaults(intent) if intent.type in ("look_at", "approach") else {}
        if intent.type == "stop":
            return [StopCommand()]
        if intent.type == "look_at":
            pan = clamp(clamp(head[0], -math.pi, math.pi) + p["bearing_rad"], *c.head_pan_limits_rad)
            # looking up is a negative pitch
            tilt = clamp(clamp(head[1], -math.pi, math.pi) - p["elevation_rad"], *c.head_tilt_limits_rad)
            return [HeadCommand(pan, tilt, c.head_speed_rps)]
        if intent.type == "approach":
            bearing = wrap(clamp(p["bearing_rad"], -math.pi, math.pi) + clamp(head[0], -math.pi, math.pi))
            travel = clamp(clamp(p["range_m"], 0.0, 1e3) - clamp(p["distance_m"], 0.0, 1e3), 0.0,
                           c.max_goal_distance_m)  # already close enough: only turn to face the person
            return [GoalCommand(c.base_frame, travel * math.cos(bearing), travel * math.sin(bearing), bearing)]
        if intent.type == "navigate":
            place = self.places.get(intent.target)
            if place is None:
                raise InvalidInputError(f"unknown place {intent.target!r}; known places: {list(self.places)}")
            return [GoalCommand(c.map_frame, clamp(place.x, -1e4, 1e4), clamp(place.y, -1e4, 1e4), wrap(place.yaw))]
        return []
