"""`vlm-robot view`: a Rerun web viewer on 127.0.0.1, for the live robot or a recorded session.

    vlm-robot view                             # live: waits for viz_node (vlm-robot run --viz, viz:=true)
    vlm-robot view out/demo/session            # a recording: converted to out/demo/session.rrd, then shown
    vlm-robot view out/demo/session.rrd        # an .rrd as it is
    vlm-robot view BAG --convert-only          # only write the .rrd (and say what it holds)
    vlm-robot view BAG --perceive              # a bag without faces: boxes computed from the frames

Prints the URL to open; opens a browser itself only where there is a display. Both servers bind 127.0.0.1
unless ``--host`` says otherwise; Ctrl-C stops the viewer (by its pid).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError


def main(path: str = "", host: str = "127.0.0.1", grpc_port: int = 9876, web_port: int = 9090,
         memory_limit: str = "1GB", perceive: bool = False, out: str = "", convert_only: bool = False,
         browser: bool = True, duration: float = 0.0) -> int:
    from vlm_robot.viz.viewer import PortInUseError, Viewer

    rrd: Path | None = None
    try:
        if path:
            rrd = _rrd_of(Path(path), perceive, out)
        if convert_only:
            return 0 if rrd is not None else 2
        viewer = Viewer(rrd, host=host, grpc_port=grpc_port, web_port=web_port, memory_limit=memory_limit)
        viewer.start()
    except (PortInUseError, BackendUnavailableError, ConfigError, InvalidInputError, RuntimeError, OSError) as e:
        print(f"view: {e}", file=sys.stderr)
        return 2
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"view: WARNING: listening on {host}: anyone who can reach it can watch the robot's camera and "
              "conversation")
    what = f"{rrd}" if rrd else f"the live robot: viz_node sends to {viewer.grpc_url} (vlm-robot run --viz)"
    print(f"Rerun viewer (pid {viewer.pid}) showing {what}\n  open {viewer.url}\n"
          "  (a fresh page takes ~10 s with a software renderer; Ctrl-C stops the viewer)", flush=True)
    try:
        if browser and (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
            import webbrowser

            webbrowser.open(viewer.url)
        end = time.monotonic() + duration if duration > 0 else float("inf")
        while time.monotonic() < end and viewer.proc.poll() is None:
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        code = viewer.proc.poll()
        viewer.stop()
    if code is not None:
        print(f"view: the viewer exited with {code}", file=sys.stderr)
        return 1
    return 0


def _rrd_of(path: Path, perceive: bool, out: str) -> Path:
    """An .rrd as given, or a bag converted to one (what it lacks is printed)."""
    if path.suffix == ".rrd":
        if not path.is_file():
            raise ConfigError(f"{path} does not exist; `vlm-robot view BAG` writes BAG.rrd next to a recording")
        return path
    from vlm_robot.viz.convert import bag_to_rrd

    print(f"converting {path} ...", flush=True)
    conv = bag_to_rrd(path, out or None, perceive=perceive,
                      progress=lambda n: print(f"  {n} messages", end="\r", flush=True))
    print("\n".join(conv.lines()))
    return conv.rrd


def viewer_for_run(url: str):
    """`vlm-robot run --viz`: the viewer that viz_node sends to, started here unless one already listens at ``url``.

    Returns the started :class:`~vlm_robot.viz.viewer.Viewer` (stop it after the nodes) or None: a viewer was
    already there, ``url`` is on another machine, or it could not start (said; the robot runs without it).
    """
    from vlm_robot.viz.config import DEFAULT_WEB_PORT, viewer_address
    from vlm_robot.viz.live import reachable
    from vlm_robot.viz.viewer import PortInUseError, Viewer, check_port_free

    try:
        host, port = viewer_address(url)
    except ConfigError as e:
        print(f"viz: {e}", file=sys.stderr)
        return None
    if reachable(host, port):
        print(f"viz: a viewer already listens at {url}; viz_node sends to it (open the page it printed)")
        return None
    if host not in ("127.0.0.1", "localhost", "::1"):
        print(f"viz: {url} is not on this machine; start the viewer there (`vlm-robot view`)")
        return None
    try:
        check_port_free(host, DEFAULT_WEB_PORT, "web viewer", "--web-port")
        web = DEFAULT_WEB_PORT
    except PortInUseError:
        web = 0
    try:
        viewer = Viewer(None, host=host, grpc_port=port, web_port=web).start()
    except (PortInUseError, BackendUnavailableError, RuntimeError) as e:
        print(f"viz: no viewer ({e}); the robot runs without it", file=sys.stderr)
        return None
    print(f"viz: Rerun viewer (pid {viewer.pid}) for the live robot: open {viewer.url}")
    return viewer
