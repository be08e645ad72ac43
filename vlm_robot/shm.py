"""Fast DDS shared-memory segments left by killed processes (``/dev/shm/fastrtps_<16 hex>``).

Each participant maps a segment (``config/fastdds.xml``: 128 MB, resident in full; 140 MB on disk in
``/dev/shm``, which is RAM) and holds an ``flock`` on its ``<segment>_el`` file while it lives. A participant that
exits normally removes both; one that is killed (SIGKILL, a crash) cannot, and nothing else does: measured here,
7 segments (980 MB) were left after two test runs whose fault tests kill nodes on purpose. On a robot whose node
crashes and is respawned, every crash would cost 140 MB of RAM until reboot.

:func:`clean_stale_segments` removes a segment whose lock file nobody holds (the check of Fast DDS's own
``fastdds shm clean``), and only when the lock file is older than ``min_age_s``: a participant that is just
creating its segment has not locked it yet. Ports (``fastrtps_port<N>``, shared by every participant, 124 KB) are
left alone. :class:`vlm_robot.graph.Graph` calls it when one of its processes died from a signal.
"""

from __future__ import annotations

import fcntl
import os
import re
import time
from pathlib import Path

SHM_DIR = Path("/dev/shm")
_SEGMENT_LOCK = re.compile(r"^fastrtps_[0-9a-z]{16}_el$")


def _held(lock: Path) -> bool:
    """Whether a live process holds ``lock`` (an flock that we cannot take)."""
    try:
        with lock.open("ab") as f:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)  # released when the file is closed
    except OSError:
        return True
    return False


def clean_stale_segments(directory: Path = SHM_DIR, min_age_s: float = 10.0) -> list[str]:
    """Remove the Fast DDS segments no live process holds; return their names. Never raises."""
    removed: list[str] = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    now = time.time()
    for name in names:
        if not _SEGMENT_LOCK.match(name):
            continue
        lock = directory / name
        try:
            if now - lock.stat().st_mtime < min_age_s or _held(lock):
                continue
            segment = directory / name[: -len("_el")]
            segment.unlink(missing_ok=True)
            lock.unlink(missing_ok=True)
        except OSError:
            continue
        removed.append(segment.name)
    return removed
