"""The Rerun web viewer as a child process, bound to 127.0.0.1 unless asked otherwise.

Rerun's own defaults listen on every interface (the CLI's ``--bind`` defaults to all addresses, and the Python
``serve_grpc()`` / ``serve_web_viewer()`` take no host at all), so vlm_robot starts the ``rerun`` binary of the
rerun-sdk wheel itself, with ``--bind 127.0.0.1``, explicit ports and a memory limit, and stops it by its pid.
The binary is run directly, not through the ``rerun`` console script: that script is a Python wrapper whose
child would survive a signal to the wrapper. The viewer gets a private config folder with Rerun's usage
analytics switched off (the robot sends nothing anywhere).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from urllib.parse import quote

from vlm_robot.core.errors import BackendUnavailableError, ConfigError
from vlm_robot.viz.config import DEFAULT_GRPC_PORT, DEFAULT_WEB_PORT, grpc_url
from vlm_robot.viz.live import reachable

LOOPBACK = "127.0.0.1"


class PortInUseError(OSError):
    """A port the viewer should listen on is taken; the message names it and what to do."""


def rerun_binary() -> Path:
    """The ``rerun`` executable inside the rerun-sdk wheel (``rerun_cli/rerun``).

    Raises:
        BackendUnavailableError: rerun-sdk is not installed (the [viz] extra).
    """
    import importlib.util

    spec = importlib.util.find_spec("rerun_cli")
    if spec is None or not spec.submodule_search_locations:
        raise BackendUnavailableError("viz: the Rerun viewer is not installed; install the [viz] extra: "
                                      ".venv/bin/pip install -r requirements/viz.txt")
    exe = Path(next(iter(spec.submodule_search_locations))) / "rerun"
    if not exe.is_file():
        raise BackendUnavailableError(f"viz: rerun-sdk is installed but its viewer binary {exe} is missing; "
                                      "reinstall it: .venv/bin/pip install --force-reinstall -r requirements/viz.txt")
    return exe


def free_port(host: str = LOOPBACK) -> int:
    """A TCP port nobody listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def check_port_free(host: str, port: int, what: str, option: str) -> None:
    """Raises PortInUseError naming ``host:port`` when it cannot be bound."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError as e:
            raise PortInUseError(
                f"viz: the {what} port {host}:{port} is in use ({e.strerror}); is another viewer running? Open that "
                f"one, stop it, or choose another port with {option} N ({option} 0: a free one)") from e


def _analytics_off_config() -> Path:
    """A config folder (XDG_CONFIG_HOME for the viewer) whose rerun/analytics.json has analytics disabled."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "vlm_robot" / "rerun-config"
    marker = base / "rerun" / "analytics.json"
    if not marker.is_file():
        base.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, XDG_CONFIG_HOME=str(base))
        subprocess.run([str(rerun_binary()), "analytics", "disable"], env=env, capture_output=True, timeout=30)
    return base


class Viewer:
    """``rerun --serve-web``: a web viewer (HTTP) and the gRPC proxy that viz_node and files feed.

    Args:
        rrd: an .rrd file to show (None: wait for viz_node to connect).
        host: the address both servers bind (127.0.0.1 unless the user asks otherwise).
        grpc_port: where viz_node connects (0: a free port).
        web_port: where the browser connects (0: a free port).
        memory_limit: how much the server keeps for late-joining browsers ("1GB", "25%"); the oldest data goes.
        log: the viewer's output (None: discarded).

    Raises (on :meth:`start`):
        PortInUseError: a port is taken (the message names it).
        BackendUnavailableError: rerun-sdk is missing.
        RuntimeError: the viewer exited or did not listen within ``timeout_s`` (with its last output).
    """

    def __init__(self, rrd: str | Path | None = None, host: str = LOOPBACK, grpc_port: int = DEFAULT_GRPC_PORT,
                 web_port: int = DEFAULT_WEB_PORT, memory_limit: str = "1GB", log: Path | None = None) -> None:
        if rrd is not None and not Path(rrd).is_file():
            raise ConfigError(f"viz: {rrd} is not a file; pass an .rrd that `vlm-robot view BAG` or make demo wrote")
        self.rrd = Path(rrd) if rrd is not None else None
        self.host = host
        self.grpc_port = grpc_port or free_port(host)
        self.web_port = web_port or free_port(host)
        self.memory_limit = memory_limit
        self.log = log
        self.proc: subprocess.Popen | None = None

    @property
    def grpc_url(self) -> str:
        return grpc_url(self.host, self.grpc_port)

    @property
    def url(self) -> str:
        """The page to open: the web viewer, pointed at this viewer's gRPC proxy."""
        return f"http://{self.host}:{self.web_port}/?url={quote(self.grpc_url, safe='')}"

    def command(self) -> list[str]:
        cmd = [str(rerun_binary()), "--serve-web", "--bind", self.host, "--port", str(self.grpc_port),
               "--web-viewer-port", str(self.web_port), "--server-memory-limit", self.memory_limit]
        return cmd + ([str(self.rrd)] if self.rrd else [])

    def start(self, timeout_s: float = 30.0) -> Viewer:
        check_port_free(self.host, self.grpc_port, "gRPC (viz_node connects here)", "--grpc-port")
        check_port_free(self.host, self.web_port, "web viewer", "--web-port")
        env = dict(os.environ, XDG_CONFIG_HOME=str(_analytics_off_config()))
        out = self.log.open("ab") if self.log else subprocess.DEVNULL
        try:
            self.proc = subprocess.Popen(self.command(), env=env, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            if self.log:
                out.close()
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-1500:] if self.log else "(output discarded)"
                raise RuntimeError(f"viz: the Rerun viewer exited with {self.proc.returncode} while starting: {tail}")
            if all(reachable(self.host, p) for p in (self.grpc_port, self.web_port)):
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"viz: the Rerun viewer did not listen on {self.host}:{self.grpc_port} and "
                           f"{self.host}:{self.web_port} within {timeout_s:.0f} s")

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def stop(self, timeout_s: float = 5.0) -> int | None:
        """SIGTERM the viewer by its pid (SIGKILL after ``timeout_s``); its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return None if self.proc is None else self.proc.returncode
        os.kill(self.proc.pid, signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            os.kill(self.proc.pid, signal.SIGKILL)
            return self.proc.wait()

    def __enter__(self) -> Viewer:
        return self.start() if self.proc is None else self

    def __exit__(self, *exc) -> None:
        self.stop()
