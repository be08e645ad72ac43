"""viz_node's settings (config/viz.yaml), readable without Rerun installed."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlparse

from vlm_robot.core.errors import ConfigError

DEFAULT_GRPC_PORT = 9876  # Rerun's own defaults, so `vlm-robot view` and a plain `rerun` viewer both match
DEFAULT_WEB_PORT = 9090
DEFAULT_URL = f"rerun+http://127.0.0.1:{DEFAULT_GRPC_PORT}/proxy"


@dataclass(frozen=True)
class VizConfig:
    """How viz_node shows the robot in a Rerun viewer.

    Attributes:
        url: the viewer's gRPC proxy, rerun+http://HOST:PORT/proxy (`vlm-robot view` prints it and listens on
            127.0.0.1:9876 by default).
        rrd_path: write to this .rrd file instead of a viewer ('' : send to url). The file is complete when
            the node stops.
        image_format: jpeg (default; a 640x480 frame at q80 measured 2.2 ms CPU and 25-50 kB) or raw (1.8 ms,
            0.9 MB a frame that the viewer and the browser keep in memory).
        jpeg_quality: JPEG quality 1-100.
        max_rate_hz: camera frames, faces, tracked people and joint states: each shown at most this often
            (0: as often as the worker keeps up); the newest always wins, older ones are dropped, never queued.
            Measured: the web viewer decodes a 640x480 JPEG in about 0.2 s in headless Chromium with software
            rendering on 2 cores, and beside the whole robot on the same 2 cores it kept showing frames at 5/s but
            not at 15/s; raise it where the browser has a GPU or another machine.
        max_pending: people, words, decisions ... waiting for the worker; past this the oldest are dropped
            (and counted), so a stalled viewer never grows the node's memory.
        check_s: seconds between checks that the viewer is still there; a lost viewer is said once, and the
            node reconnects when it is back.
    """

    url: str = DEFAULT_URL
    rrd_path: str = ""
    image_format: str = "jpeg"
    jpeg_quality: int = 80
    max_rate_hz: float = 5.0
    max_pending: int = 500
    check_s: float = 1.0

    def __post_init__(self) -> None:
        if self.image_format not in ("jpeg", "raw"):
            raise ConfigError(f"viz image_format must be jpeg or raw, got {self.image_format!r}")
        if not 1 <= self.jpeg_quality <= 100:
            raise ConfigError(f"viz jpeg_quality must be 1-100, got {self.jpeg_quality}")
        if self.max_rate_hz < 0 or self.max_pending < 1 or self.check_s <= 0:
            raise ConfigError(f"viz max_rate_hz must be >= 0, max_pending >= 1 and check_s > 0; got "
                              f"{self.max_rate_hz}, {self.max_pending}, {self.check_s}")
        if not self.rrd_path:
            viewer_address(self.url)

    @property
    def address(self) -> tuple[str, int]:
        return viewer_address(self.url)


def viewer_address(url: str) -> tuple[str, int]:
    """``(host, port)`` of a Rerun gRPC url (``rerun+http://127.0.0.1:9876/proxy``).

    Raises:
        ConfigError: not a rerun://, rerun+http:// or rerun+https:// url with a host, or no /proxy path.
    """
    u = urlparse(url)
    if u.scheme not in ("rerun", "rerun+http", "rerun+https") or not u.hostname or u.path != "/proxy":
        raise ConfigError(f"viz url must look like rerun+http://127.0.0.1:{DEFAULT_GRPC_PORT}/proxy (what "
                          f"`vlm-robot view` prints), got {url!r}")
    return u.hostname, u.port or (443 if u.scheme == "rerun+https" else DEFAULT_GRPC_PORT)


def grpc_url(host: str, port: int) -> str:
    return f"rerun+http://{host}:{port}/proxy"
