"""Keep DDS traffic on this machine: loopback discovery, a random domain, and as root a private netns."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

from vlm_robot.paths import config_dir

_FLAG = "VLM_ROBOT_ISOLATED"
_NETNS_SETUP = "ip link set lo up && ip link set lo multicast on && ip route add 224.0.0.0/4 dev lo"


def reexec_isolated(argv: list[str] | None = None) -> None:
    """As root, re-run this command inside a private network namespace with loopback (and multicast) up.

    Does nothing when not root, when already isolated, or when VLM_ROBOT_NETNS=0 (on a robot
    whose nodes must talk over the network, do not use the demo/test isolation).
    """
    if os.environ.get(_FLAG) == "1" or os.environ.get("VLM_ROBOT_NETNS") == "0":
        return
    if os.geteuid() != 0 or not shutil.which("unshare") or not shutil.which("ip"):
        return
    probe = subprocess.run(["unshare", "-n", "sh", "-c", _NETNS_SETUP], capture_output=True, text=True)
    if probe.returncode != 0:
        print(f"vlm_robot: no private network namespace here ({probe.stderr.strip()}); "
              "DDS stays on localhost discovery only", file=sys.stderr)
        return
    os.environ[_FLAG] = "1"
    args = argv if argv is not None else [sys.executable, *sys.argv]
    quoted = " ".join("'" + a.replace("'", "'\\''") + "'" for a in args)
    os.execvp("unshare", ["unshare", "-n", "sh", "-c", f"{_NETNS_SETUP} && exec {quoted}"])


def loopback_defaults() -> None:
    """Set localhost discovery and a random domain id in this process's environment (if not set)."""
    import random

    os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    os.environ.setdefault("ROS_DOMAIN_ID", str(random.randint(1, 100)))
    dds_defaults()


def dds_defaults() -> None:
    """Use the package's Fast DDS profile (large shared-memory segment for images) unless one is set."""
    if "FASTRTPS_DEFAULT_PROFILES_FILE" not in os.environ:
        profile = config_dir() / "fastdds.xml"
        if profile.is_file():
            os.environ["FASTRTPS_DEFAULT_PROFILES_FILE"] = str(profile)


def main(argv: list[str]) -> None:
    """``python -m vlm_robot.isolate CMD ...``: run CMD with DDS kept on this machine."""
    if not argv:
        raise SystemExit("usage: python -m vlm_robot.isolate COMMAND [ARGS...]")
    loopback_defaults()
    reexec_isolated([sys.executable, "-m", "vlm_robot.isolate", *argv])
    os.execvp(argv[0], argv)


if __name__ == "__main__":
    main(sys.argv[1:])
