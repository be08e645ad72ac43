"""`vlm-robot bench resources`: reading RSS and PSS from /proc, summed over a process tree (no ROS here)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vlm_robot.benchmarks.resources import parent_pid, parse_smaps_rollup, process_tree, tree_memory

ROLLUP = """\
5641f98fd000-7fff2fa59000 ---p 00000000 00:00 0                          [rollup]
Rss:              184320 kB
Pss:              151552 kB
Pss_Dirty:         96000 kB
Pss_Shmem:        131072 kB
Shared_Clean:      40960 kB
Private_Dirty:     96000 kB
Swap:                  0 kB
"""


def test_smaps_rollup_is_read_in_kb_and_the_header_is_skipped():
    got = parse_smaps_rollup(ROLLUP)
    assert got == {"Rss": 184320, "Pss": 151552, "Pss_Dirty": 96000, "Pss_Shmem": 131072, "Shared_Clean": 40960,
                   "Private_Dirty": 96000, "Swap": 0}


def test_parent_pid_survives_spaces_and_parentheses_in_the_command_name():
    assert parent_pid("4242 (python -m x) S 17 4242 4242 0 -1 4194304") == 17
    assert parent_pid("77 (a) (b)) R 1 77 77 0") == 1


def _fake_proc(root: Path, procs: dict[int, tuple[int, int | None]]) -> Path:
    """pid -> (parent, Rss kB or None for a process that ended before its smaps_rollup was read)."""
    for pid, (ppid, rss) in procs.items():
        d = root / str(pid)
        d.mkdir(parents=True)
        (d / "stat").write_text(f"{pid} (node {pid}) S {ppid} 1 1 0\n")
        if rss is not None:
            (d / "smaps_rollup").write_text(f"00-ff ---p 0 00:00 0 [rollup]\nRss: {rss} kB\nPss: {rss // 2} kB\n"
                                            f"Pss_Shmem: {rss // 10} kB\n")
    (root / "self").mkdir()
    return root


def test_a_process_tree_sums_its_children_and_skips_what_is_gone(tmp_path):
    # 10 -> 11 -> 12, 10 -> 13 (ended), 20 is another tree
    proc = _fake_proc(tmp_path, {10: (1, 1000), 11: (10, 200), 12: (11, 30), 13: (10, None), 20: (1, 5000)})
    assert sorted(process_tree(10, proc)) == [10, 11, 12, 13]
    m = tree_memory(10, proc)
    assert (m.rss_kb, m.pss_kb, m.pss_shmem_kb, m.processes) == (1230, 615, 123, 3)
    assert tree_memory(20, proc).rss_kb == 5000


def test_this_process_tree_reads_from_the_real_proc():
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        alone = tree_memory(child.pid)
        with_child = tree_memory(os.getpid())
    finally:
        child.kill()
        child.wait()
    assert alone.processes == 1 and 0 < alone.pss_kb <= alone.rss_kb
    assert with_child.processes >= 2 and with_child.rss_kb >= alone.rss_kb
