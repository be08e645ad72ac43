"""Fast DDS shared-memory segments of killed processes are removed (vlm_robot/shm.py); live ones are kept."""

from __future__ import annotations

import fcntl
import os
import signal
import time
from pathlib import Path

import pytest

from vlm_robot.shm import SHM_DIR, clean_stale_segments


def _segment_locks_of(pid: int) -> set[str]:
    """The segment lock files process ``pid`` has open (its own segments: other processes may start theirs)."""
    names = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        name = Path(target).name
        if target.startswith(str(SHM_DIR)) and name.startswith("fastrtps_") and len(name) == len("fastrtps_") + 16 + 3:
            names.add(name)
    return names


def _segment(d: Path, name: str, age_s: float) -> Path:
    (d / name).write_bytes(b"\0" * 64)
    lock = d / f"{name}_el"
    lock.touch()
    then = time.time() - age_s
    os.utime(lock, (then, then))
    return lock


def test_only_old_unlocked_segments_are_removed(tmp_path):
    _segment(tmp_path, "fastrtps_0123456789abcdef", 60)  # its process was killed
    held = _segment(tmp_path, "fastrtps_fedcba9876543210", 60)  # alive: it holds the lock
    _segment(tmp_path, "fastrtps_00000000000000aa", 1)  # being created: not locked yet
    (tmp_path / "fastrtps_port7000").write_bytes(b"\0")  # ports are shared by every participant
    (tmp_path / "fastrtps_port7000_el").touch()
    (tmp_path / "other_el").touch()
    with held.open("ab") as f:
        fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        removed = clean_stale_segments(tmp_path)
    assert removed == ["fastrtps_0123456789abcdef"]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "fastrtps_00000000000000aa", "fastrtps_00000000000000aa_el", "fastrtps_fedcba9876543210",
        "fastrtps_fedcba9876543210_el", "fastrtps_port7000", "fastrtps_port7000_el", "other_el"]
    assert clean_stale_segments(tmp_path / "missing") == []


@pytest.mark.graph
def test_a_killed_nodes_segment_is_removed_and_a_live_ones_kept(tmp_path):
    from vlm_robot import graph

    if not SHM_DIR.is_dir():
        pytest.skip("no /dev/shm")
    g = graph.Graph([s for s in graph.NODES if s.name == "safety_gate"], log_dir=tmp_path / "logs", respawn=False)
    g.start()
    try:
        deadline = time.monotonic() + 60
        mine: set[str] = set()
        while not mine and time.monotonic() < deadline:  # the node's participant maps its segment
            time.sleep(0.2)
            mine = _segment_locks_of(g.procs["safety_gate"].pid)
        if not mine:
            pytest.skip("the node mapped no Fast DDS shared-memory segment (shared memory transport off?)")
        assert not set(clean_stale_segments(min_age_s=0.0)) & {m[:-3] for m in mine}  # alive: kept
        g.procs["safety_gate"].send_signal(signal.SIGKILL)
        g.procs["safety_gate"].wait(30)
        assert all((SHM_DIR / m).exists() for m in mine)  # a killed process cannot remove its own
        removed = clean_stale_segments(min_age_s=0.0)
        assert {m[:-3] for m in mine} <= set(removed), (mine, removed)
        assert not any((SHM_DIR / m).exists() or (SHM_DIR / m[:-3]).exists() for m in mine)
    finally:
        g.stop()
