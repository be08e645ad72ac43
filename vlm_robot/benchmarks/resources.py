"""`vlm-robot bench resources`: the whole stack's memory, one process per node against single-process mode.

Starts the bringup as `vlm-robot run --local` does (every node of the registry, the recorder writing a bag into a
temporary folder), with the camera reading a folder of rendered demo-scene frames (no device needed), once per
mode, one after the other. Once every node has subscribed to its inputs, the stack runs for ``seconds`` with the
camera's frames flowing and one transcript to answer, and every ``SAMPLE_S`` the memory of each node process is
read from ``/proc/<pid>/smaps_rollup``, summed over the process and its children. RSS counts a shared page (the
Python interpreter, rclpy, the model libraries) in every process that maps it; PSS divides it among them, so the
PSS of the processes adds up to what the stack really takes. The table shows the last sample; "PSS shm" is the part
of PSS in shared memory, mostly each process's Fast DDS shared-memory segment (config/fastdds.xml: 128 MB, which
Fast DDS writes in full when a participant starts, so it is resident in every process that has a participant).

Also checks that both modes behave alike: perception results per second, person states, the reply to the
transcript, scene descriptions, no restarts, clean exit codes.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

SAMPLE_S = 2.0
SETTLE_S = 2.0
QUESTION = "What is your name?"


def parse_smaps_rollup(text: str) -> dict[str, int]:
    """``/proc/<pid>/smaps_rollup`` -> ``{"Rss": kB, "Pss": kB, ...}`` (the header line is skipped)."""
    out: dict[str, int] = {}
    for line in text.splitlines():
        key, sep, rest = line.partition(":")
        parts = rest.split()
        if sep and len(parts) == 2 and parts[1] == "kB" and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def parent_pid(stat: str) -> int:
    """The parent pid from a ``/proc/<pid>/stat`` line (the command name may hold spaces and parentheses)."""
    return int(stat[stat.rindex(")") + 2:].split()[1])


def process_tree(pid: int, proc: Path = Path("/proc")) -> list[int]:
    """``pid`` and every live descendant of it."""
    children: dict[int, list[int]] = {}
    for d in proc.iterdir():
        if d.name.isdigit():
            try:
                children.setdefault(parent_pid((d / "stat").read_text()), []).append(int(d.name))
            except (OSError, ValueError):  # gone meanwhile, or not readable
                continue
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


@dataclass
class Memory:
    rss_kb: int = 0
    pss_kb: int = 0
    pss_shmem_kb: int = 0  # of pss_kb: shared memory (/dev/shm: the DDS segments)
    processes: int = 0


def tree_memory(pid: int, proc: Path = Path("/proc")) -> Memory:
    """RSS and PSS of ``pid`` and its descendants, from smaps_rollup (processes that ended meanwhile count 0)."""
    m = Memory()
    for p in process_tree(pid, proc):
        try:
            r = parse_smaps_rollup((proc / str(p) / "smaps_rollup").read_text())
        except OSError:
            continue
        m.rss_kb += r.get("Rss", 0)
        m.pss_kb += r.get("Pss", 0)
        m.pss_shmem_kb += r.get("Pss_Shmem", 0)
        m.processes += 1
    return m


@dataclass
class ModeResult:
    name: str
    ready_s: float = 0.0
    memory: dict[str, Memory] = field(default_factory=dict)  # process name -> last sample
    peak_pss_kb: int = 0
    nodes_of: dict[str, list[str]] = field(default_factory=dict)
    people_per_s: float = 0.0
    person_states: int = 0
    scene_descriptions: int = 0
    reply: str = ""
    reply_s: float = float("nan")
    restarts: dict[str, int] = field(default_factory=dict)
    exit_codes: dict[str, int] = field(default_factory=dict)

    @property
    def rss_kb(self) -> int:
        return sum(m.rss_kb for m in self.memory.values())

    @property
    def pss_kb(self) -> int:
        return sum(m.pss_kb for m in self.memory.values())

    @property
    def pss_shmem_kb(self) -> int:
        return sum(m.pss_shmem_kb for m in self.memory.values())


def _frames(folder: Path) -> str:
    import cv2

    from vlm_robot import graph
    from vlm_robot.sim.scene import Scene

    scene = Scene.load(graph.config_dir().parent / "sim" / "scenes" / "demo.yaml")
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(5):  # two people, one happy, one sad (as `vlm-robot bench pipeline` feeds)
        cv2.imwrite(str(folder / f"{i}.png"), cv2.cvtColor(scene.render(12.0 + 0.1 * i), cv2.COLOR_RGB2BGR))
    return str(folder)


def measure(name: str, single_process: bool, seconds: float, work: Path, logs: Path,
            executor: str = "per-node") -> ModeResult:
    """Start the whole bringup in one mode, run it ``seconds`` with frames and a transcript, sample its memory.

    ``work``: the frames, the bag, speech and memory (temporary); ``logs``: the node logs (kept).
    """
    from vlm_robot import graph
    from vlm_robot.nodes import common
    from vlm_robot.observe import observed_graph

    work.mkdir(parents=True, exist_ok=True)
    shutil.rmtree(logs, ignore_errors=True)  # node logs are appended to: keep only this run's
    nodes, overrides = graph.bringup({"camera_source": _frames(work.parent / "frames"), "record": True,
                                      "bag": str(work / "bag")})
    overrides.setdefault("reasoning", {})["memory.path"] = str(work / "memory.json")
    overrides.setdefault("speech_out", {})["tts.output_dir"] = str(work / "speech")
    g = graph.Graph(nodes, overrides, log_dir=logs, single_process=single_process, executor=executor)
    res = ModeResult(name, nodes_of={u: [s.name for s in specs] for u, specs in g.units.items()})
    t0 = time.monotonic()
    # settle as the graph tests do: every publisher matched every subscriber before the question
    with observed_graph(g, "bench_resources", settle_s=SETTLE_S) as obs:
        res.ready_s = time.monotonic() - t0 - SETTLE_S
        n_people = len(obs.seen.of(common.PEOPLE))
        start = time.monotonic()
        said = time.time()
        obs.say(QUESTION, tid="resources-1")
        while time.monotonic() - start < seconds:
            time.sleep(SAMPLE_S)
            g.poll()
            res.memory = {u: tree_memory(p.pid) for u, p in g.procs.items()}
            res.peak_pss_kb = max(res.peak_pss_kb, res.pss_kb)
        res.people_per_s = (len(obs.seen.of(common.PEOPLE)) - n_people) / (time.monotonic() - start)
        res.person_states = len(obs.seen.of(common.PERSON_STATES))
        res.scene_descriptions = len(obs.seen.of(common.SCENE_DESCRIPTION))
        with obs.lock:
            reply = next((e for e in obs.seen.events if e.topic == common.UTTERANCE
                          and e.body.get("in_reply_to") == "resources-1"), None)
        if reply is not None:
            res.reply, res.reply_s = reply.body["text"], reply.received - said
    res.restarts, res.exit_codes = dict(g.restarts), obs.exit_codes
    return res


def _mb(kb: int) -> str:
    return f"{kb / 1024:.0f}"


def print_mode(r: ModeResult) -> None:
    print(f"\n{r.name}: {len(r.memory)} processes, ready after {r.ready_s:.1f} s")
    print(f"  {'process':<12}{'nodes':<86}{'procs':>6}{'RSS MB':>9}{'PSS MB':>9}{'PSS shm':>9}")
    for unit, m in r.memory.items():
        print(f"  {unit:<12}{','.join(r.nodes_of[unit]):<86}{m.processes:>6}{_mb(m.rss_kb):>9}{_mb(m.pss_kb):>9}"
              f"{_mb(m.pss_shmem_kb):>9}")
    print(f"  {'total':<12}{'':<86}{sum(m.processes for m in r.memory.values()):>6}{_mb(r.rss_kb):>9}"
          f"{_mb(r.pss_kb):>9}{_mb(r.pss_shmem_kb):>9}   (peak PSS {_mb(r.peak_pss_kb)} MB)")
    print(f"  behaviour: {r.people_per_s:.1f} perception results/s, {r.person_states} person states, "
          f"{r.scene_descriptions} scene descriptions, reply after {r.reply_s:.2f} s: {r.reply!r}; "
          f"restarts {r.restarts or 'none'}, exit codes {r.exit_codes}")


def main(seconds: float = 20.0, executor: str = "per-node", target_pss_mb: float = 1536.0,
         out: Path = Path("out/bench_resources")) -> int:
    print(f"bench resources: the bringup (`vlm-robot run`, camera reading rendered frames at its 15 fps, recorder on), "
          f"{seconds:.0f} s per mode after start-up, memory sampled every {SAMPLE_S:.0f} s from smaps_rollup")
    with tempfile.TemporaryDirectory(prefix="vlm_robot_bench_resources_") as tmp:
        multi = measure("one process per node", False, seconds, Path(tmp) / "processes", out / "processes" / "logs")
        print_mode(multi)
        single = measure(f"single process ({executor} executors; recorder apart)", True, seconds,
                         Path(tmp) / "single", out / "single" / "logs", executor)
        print_mode(single)
    print(f"node logs: {out}/processes/logs, {out}/single/logs")
    print(f"\nsingle / per node: RSS {_mb(single.rss_kb)} / {_mb(multi.rss_kb)} MB = "
          f"{single.rss_kb / max(multi.rss_kb, 1):.2f}, PSS {_mb(single.pss_kb)} / {_mb(multi.pss_kb)} MB = "
          f"{single.pss_kb / max(multi.pss_kb, 1):.2f}; perception results/s {single.people_per_s:.1f} / "
          f"{multi.people_per_s:.1f}")
    ok_pss = single.pss_kb / 1024 <= target_pss_mb
    print(f"target: single-process PSS <= {target_pss_mb:.0f} MB: {'met' if ok_pss else 'NOT met'} "
          f"({_mb(single.pss_kb)} MB)")
    same = (multi.reply == single.reply != "" and min(multi.person_states, single.person_states) > 0
            and min(multi.people_per_s, single.people_per_s) > 0)
    clean = all(not r.restarts and all(c == 0 for c in r.exit_codes.values()) for r in (multi, single))
    print(f"same behaviour (same reply, person states and perception results in both): {'yes' if same else 'NO'}; "
          f"clean runs (no restarts, exit codes 0): {'yes' if clean else 'NO'}")
    return 0 if same and clean else 1
