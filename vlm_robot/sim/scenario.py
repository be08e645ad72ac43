"""Simulation scenarios: who is in the room, what they do and say, and what the robot must do.

A scenario file (``sim/scenarios/*.yaml``, format in ``sim/scenarios/README.md``) has a timeline per
person (appear, walk to a point, look at the robot or away, change face, leave), timed speech, and
``expect``: assertions with time windows over what the robot said (utterances), decided, asked the
safety gate for (intents and verdicts) and did in the simulation (head and base motion).

Everything here is pure Python: :meth:`Scenario.person_at` gives each person's pose at a sim time,
:func:`evaluate` scores a finished run's :class:`SimLog`. The ROS 2 runner is vlm_robot/sim/runner.py.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from vlm_robot.core.errors import ConfigError

LOOKS = ("robot", "away", "walking")
SAID_KINDS = ("greeting", "reply", "question", "error", "any")
VERDICTS = ("approved", "rejected", "pending")
ASSERTIONS = ("said", "not_said", "heard", "intent", "not_intent", "decision", "looks_at", "near", "reaches",
              "base_still")


@dataclass(frozen=True)
class PersonPose:
    """Where a person is at one moment: map-frame position (m), the yaw their face points to (rad), face id."""

    x: float
    y: float
    yaw: float
    face: str
    present: bool


@dataclass(frozen=True)
class Step:
    """One timeline entry of a person (see the module docstring for the keys)."""

    at: float
    kind: str  # appear | leave | walk_to | place | look | face
    value: Any = None
    speed: float = 0.8


@dataclass(frozen=True)
class Line:
    """Something a person says at ``at`` seconds (injected as a transcript, attributed to ``speaker``)."""

    at: float
    text: str
    speaker: str = ""


@dataclass
class ScenarioPerson:
    name: str
    face: str
    start: tuple[float, float]
    present: bool
    look: str | float
    steps: list[Step]

    def faces(self) -> list[str]:
        return [self.face] + [str(s.value) for s in self.steps if s.kind == "face"]


@dataclass
class Scenario:
    """A parsed scenario file."""

    name: str
    duration_s: float
    fps: float
    seed: int
    people: list[ScenarioPerson]
    lines: list[Line]
    expect: list[dict]
    do_not_disturb: list[tuple[float, float]] = field(default_factory=list)
    robot_start: tuple[float, float, float] = (0.0, 0.0, 0.0)
    size: tuple[int, int] = (640, 480)
    fast: bool = False  # part of the quick subset `make test` runs
    speech: str = "text"  # "text": lines injected as transcripts; "audio": spoken into the microphone path
    path: str = ""
    head_start: tuple[float, float] = (0.0, 0.0)  # head pan, tilt (rad) at the start
    objects: list[dict] = field(default_factory=list)  # {kind, color, pos: [x, y, z]}: replace room.xml's objects
    vlm: dict[str, str] = field(default_factory=dict)  # vlm.* parameters: the VLM node runs with them (else not)

    @classmethod
    def load(cls, path: str | Path) -> Scenario:
        """Parse a scenario YAML file.

        Raises:
            ConfigError: the file is missing or malformed (the message names the entry and the fix).
        """
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as e:
            raise ConfigError(f"scenario {path}: {type(e).__name__}: {e}") from e
        try:
            sc = cls.from_dict(doc)
        except ConfigError as e:
            raise ConfigError(f"scenario {path}: {e}") from e
        sc.path = str(path)
        return sc

    @classmethod
    def from_dict(cls, doc: Any) -> Scenario:
        if not isinstance(doc, dict) or "name" not in doc:
            raise ConfigError("a scenario is a mapping with at least name, duration_s, people and expect; "
                              "see sim/scenarios/README.md")
        try:
            people = [_person(p) for p in doc.get("people", [])]
            names = [p.name for p in people]
            if len(set(names)) != len(names):
                raise ConfigError(f"people names must be unique, got {names}")
            lines = sorted((Line(float(s["at"]), str(s["text"]), str(s.get("speaker", "")))
                            for s in doc.get("say", [])), key=lambda ln: ln.at)
            for ln in lines:
                if ln.speaker and ln.speaker not in names:
                    raise ConfigError(f"say at {ln.at} s: speaker {ln.speaker!r} is not one of the people {names}")
            expect = [dict(e) for e in doc.get("expect", [])]
            for e in expect:
                _check_assertion(e, names)
            sc = cls(str(doc["name"]), float(doc.get("duration_s", 10.0)), float(doc.get("fps", 5.0)),
                     int(doc.get("seed", 0)), people, lines, expect,
                     [(float(a), float(b)) for a, b in doc.get("do_not_disturb", [])],
                     tuple(float(v) for v in doc.get("robot", {}).get("pose", (0.0, 0.0, 0.0))),
                     tuple(int(v) for v in doc.get("size", (640, 480))), bool(doc.get("fast", False)),
                     str(doc.get("speech", "text")))
            robot = doc.get("robot", {})
            sc.head_start = tuple(float(v) for v in robot.get("head", (0.0, 0.0)))
            sc.objects = [_object(o) for o in doc.get("objects", [])]
            sc.vlm = _vlm(doc.get("vlm", {}))
        except (KeyError, TypeError, ValueError) as e:
            raise ConfigError(f"{type(e).__name__}: {e}; see sim/scenarios/README.md for the format") from e
        if sc.speech not in ("text", "audio"):
            raise ConfigError(f"speech must be 'text' (injected transcripts) or 'audio' (synthesised and heard "
                              f"through the microphone path), got {sc.speech!r}")
        if not 0 < sc.duration_s <= 600 or not 1 <= sc.fps <= 30:
            raise ConfigError(f"duration_s must be in (0, 600] and fps in [1, 30], got {sc.duration_s}, {sc.fps}")
        return sc

    def frame_times(self) -> list[float]:
        """Sim times of the camera frames: ``0, 1/fps, ...`` up to ``duration_s``."""
        return [round(i / self.fps, 6) for i in range(round(self.duration_s * self.fps))]

    def faces(self) -> list[str]:
        """Every face id the scenario uses (to preload)."""
        return sorted({f for p in self.people for f in p.faces()})

    def person_at(self, person: ScenarioPerson, t: float, robot_xy: tuple[float, float]) -> PersonPose:
        """``person``'s pose at sim time ``t``; facing "robot" points the face at ``robot_xy`` (map frame)."""
        x, y = person.start
        present, look, face = person.present, person.look, person.face
        heading = 0.0  # walking direction
        for s in person.steps:
            if s.at > t:
                break
            if s.kind == "appear":
                present = True
            elif s.kind == "leave":
                present = False
            elif s.kind == "place":
                x, y = s.value
            elif s.kind == "look":
                look = s.value
            elif s.kind == "face":
                face = str(s.value)
            elif s.kind == "walk_to":
                tx, ty = s.value
                dist = math.hypot(tx - x, ty - y)
                if dist > 1e-9:
                    heading = math.atan2(ty - y, tx - x)
                    # the next walk starts from wherever this one had got to
                    nxt = next((o.at for o in person.steps if o.at > s.at and o.kind in ("walk_to", "place")), t)
                    done = min(1.0, s.speed * (min(t, nxt) - s.at) / dist)
                    x, y = x + done * (tx - x), y + done * (ty - y)
        to_robot = math.atan2(robot_xy[1] - y, robot_xy[0] - x)
        if look == "robot":
            yaw = to_robot
        elif look == "away":
            yaw = to_robot + math.pi
        elif look == "walking":
            yaw = heading
        else:  # degrees turned away from the robot, + counter-clockwise
            yaw = to_robot + math.radians(float(look))
        return PersonPose(x, y, math.atan2(math.sin(yaw), math.cos(yaw)), face, present)


def _person(p: dict) -> ScenarioPerson:
    name = str(p["name"])
    start = p.get("start", {})
    steps = []
    for raw in p.get("timeline", []):
        at = float(raw["at"])
        keys = [k for k in raw if k not in ("at", "speed")]
        if len(keys) != 1:
            raise ConfigError(f"{name} at {at} s: one action per timeline entry (appear, leave, walk_to, place, look, "
                              f"face), got {keys}")
        k = keys[0]
        v = raw[k]
        if k in ("walk_to", "place"):
            v = (float(v[0]), float(v[1]))
        elif k == "look":
            v = _look(v, name)
        elif k not in ("appear", "leave", "face"):
            raise ConfigError(f"{name} at {at} s: unknown action {k!r}; expected appear, leave, walk_to, place, "
                              "look or face")
        steps.append(Step(at, k, v, float(raw.get("speed", 0.8))))
    steps.sort(key=lambda s: s.at)
    return ScenarioPerson(name, str(p["face"]), (float(start.get("x", 2.0)), float(start.get("y", 0.0))),
                          bool(start.get("present", True)), _look(start.get("look", "robot"), name), steps)


def _look(v: Any, name: str) -> str | float:
    if isinstance(v, (int, float)) and not isinstance(v, bool):
        return float(v)
    if v in LOOKS:
        return str(v)
    raise ConfigError(f"{name}: look {v!r} unknown; expected {LOOKS} or degrees turned away from the robot")


def _object(o: Any) -> dict:
    """An ``objects`` entry: ``{kind: cup, color: red, pos: [x, y, z]}`` (map frame, m; z of the surface it
    stands on: the table top is 0.76). Kinds and colours are checked when the world is built
    (:class:`vlm_robot.sim.world.SimObject`; this module does not import MuJoCo)."""
    if not isinstance(o, dict) or set(o) - {"kind", "color", "pos", "yaw"} or not {"kind", "color"} <= set(o) \
            or len(o.get("pos", ())) != 3:
        raise ConfigError(f"object {o!r}: expected {{kind, color, pos: [x, y, z]}} (optional yaw)")
    return {"kind": str(o["kind"]), "color": str(o["color"]), "pos": tuple(float(v) for v in o["pos"]),
            "yaw": float(o.get("yaw", 0.0))}


VLM_KEYS = ("backend", "model", "encoder", "provider", "max_new_tokens")


def _vlm(v: Any) -> dict[str, str]:
    """The ``vlm`` entry: the VLM node's ``vlm.*`` parameters for this scenario (the node runs only with one)."""
    if not isinstance(v, dict) or set(v) - set(VLM_KEYS):
        raise ConfigError(f"vlm {v!r}: expected a mapping with some of {VLM_KEYS}, e.g. "
                          "{backend: transformers, model: models/palme-sim}")
    return {k: str(val) for k, val in v.items()}


def _check_assertion(e: dict, names: list[str]) -> None:
    kinds = [k for k in ASSERTIONS if k in e]
    if len(kinds) != 1:
        raise ConfigError(f"expect entry {e}: exactly one of {ASSERTIONS}")
    k = kinds[0]
    who = e.get("to") or (e[k] if k in ("looks_at", "near", "heard") else None)
    if who is not None and who not in names:
        raise ConfigError(f"expect entry {e}: {who!r} is not one of the people {names}")
    if k in ("said", "not_said") and e[k] not in SAID_KINDS:
        raise ConfigError(f"expect entry {e}: said kind must be one of {SAID_KINDS}")
    if "verdict" in e and e["verdict"] not in VERDICTS:
        raise ConfigError(f"expect entry {e}: verdict must be one of {VERDICTS}")
    w = e.get("within")
    if w is not None and (len(w) != 2 or float(w[0]) > float(w[1])):
        raise ConfigError(f"expect entry {e}: within must be [from_s, to_s]")


# ---------------------------------------------------------------- what happened in a run, and scoring


@dataclass
class FrameRecord:
    """The simulation's state at one camera frame."""

    t: float
    robot: tuple[float, float, float]  # x, y, yaw in map
    head: tuple[float, float]  # pan, tilt
    bearing: dict[str, float]  # person -> angle off the camera axis (rad), people present only
    distance: dict[str, float]  # person -> distance from the base (m)


@dataclass
class SimLog:
    """Everything a run produced, each event stamped with the sim time at which it was observed."""

    events: list[tuple[float, str, dict]] = field(default_factory=list)  # (t, kind, body)
    frames: list[FrameRecord] = field(default_factory=list)
    tracked: dict[int, str] = field(default_factory=dict)  # tracker person id -> scenario person name
    lost_frames: int = 0

    def of(self, kind: str) -> list[tuple[float, dict]]:
        return [(t, b) for t, k, b in self.events if k == kind]

    def decisions(self) -> list[dict]:
        return [b for _, b in self.of("decision")]


@dataclass(frozen=True)
class Check:
    """One assertion's outcome, for the results table."""

    expected: str
    observed: str
    passed: bool


def _window(e: dict, duration: float) -> tuple[float, float]:
    if "within" in e:
        return float(e["within"][0]), float(e["within"][1])
    if "by" in e:
        return 0.0, float(e["by"])
    if "after" in e:
        return float(e["after"]), duration + 1e9
    return 0.0, duration + 1e9


def _win_text(e: dict) -> str:
    if "within" in e:
        return f" in [{float(e['within'][0]):g}, {float(e['within'][1]):g}] s"
    if "by" in e:
        return f" by {float(e['by']):g} s"
    if "after" in e:
        return f" after {float(e['after']):g} s"
    return ""


def _who(log: SimLog, pid: Any) -> str:
    if pid is None:
        return "-"
    if isinstance(pid, str) and pid.startswith("person") and pid[6:].isdigit():
        pid = int(pid[6:])
    return log.tracked.get(pid, f"person{pid}") if isinstance(pid, int) else str(pid)


def evaluate(sc: Scenario, log: SimLog) -> list[Check]:
    """Score every ``expect`` entry of ``sc`` against ``log``."""
    return [_evaluate_one(e, sc, log) for e in sc.expect]


def _evaluate_one(e: dict, sc: Scenario, log: SimLog) -> Check:
    a, b = _window(e, sc.duration_s)
    win = _win_text(e)
    if "said" in e or "not_said" in e:
        neg = "not_said" in e
        kind = e.get("said", e.get("not_said"))
        words = [w.lower() for w in _as_list(e.get("contains"))]
        hits = []
        for t, u in log.of("utterance"):
            if not a <= t <= b or (kind != "any" and u["kind"] != kind):
                continue
            if e.get("to") and _who(log, u.get("person_id")) != e["to"]:
                continue
            if words and not any(w in u["text"].lower() for w in words):
                continue
            hits.append(f'{t:.1f}s "{_short(u["text"])}"')
        what = f"{kind}" + (f" to {e['to']}" if e.get("to") else "") + (f" with {words}" if words else "")
        return _count_check(("no " if neg else "") + what + win, hits, neg, e.get("times"))
    if "heard" in e:  # what the robot recognised from a person's words, attributed to that person
        words = [w.lower() for w in _as_list(e.get("contains"))]
        hits = [f'{t:.1f}s "{_short(h["text"])}"' for t, h in log.of("heard")
                if a <= t <= b and h.get("scenario_speaker") == e["heard"]
                and _who(log, h.get("speaker")) == e["heard"] and all(w in h["text"].lower() for w in words)]
        return _count_check(f"heard {e['heard']}" + (f" say {words}" if words else "") + win, hits, False,
                            e.get("times"))
    if "intent" in e or "not_intent" in e:
        neg = "not_intent" in e
        typ = e.get("intent", e.get("not_intent"))
        want = e.get("verdict", "approved")
        hits = []
        for t, v in log.of("verdict"):
            it = v["intent"]
            state = "approved" if v["approved"] else ("pending" if v.get("pending") else "rejected")
            if a <= t <= b and it["type"] == typ and state == want and \
                    (not e.get("to") or _who(log, it.get("target")) == e["to"]) and \
                    (not e.get("target") or str(it.get("target", "")).lower() == str(e["target"]).lower()):
                hits.append(f"{t:.1f}s {typ} -> {_who(log, it.get('target'))} {state}")
        what = f"{typ} {want}" + (f" for {e['to']}" if e.get("to") else "") + \
            (f" of {e['target']!r}" if e.get("target") else "")
        return _count_check(("no " if neg else "") + what + win, hits, neg, e.get("times"))
    if "decision" in e:
        words = [w.lower() for w in _as_list(e.get("reason_contains"))]
        hits = [f"{t:.1f}s {d['action']}: {_short(d['reason'])}" for t, d in log.of("decision")
                if a <= t <= b and d["action"] == e["decision"]
                and (not e.get("to") or _who(log, d.get("person_id")) == e["to"])
                and all(w in d["reason"].lower() for w in words)]
        what = f"decide {e['decision']}" + (f" ({', '.join(words)})" if words else "") + \
            (f" for {e['to']}" if e.get("to") else "")
        return _count_check(what + win, hits, False, e.get("times"))
    frames = [f for f in log.frames if a <= f.t <= b]
    if "looks_at" in e:
        name, tol = e["looks_at"], float(e.get("tolerance_deg", 10.0))
        offs = [(f.t, math.degrees(abs(f.bearing[name]))) for f in frames if name in f.bearing]
        return _first_within(f"head towards {name} within {tol:g} deg{win}", offs, tol,
                             lambda t, d: f"{d:.1f} deg off at {t:.1f}s, head pan {_pan_at(log, t):+.2f}",
                             lambda t, d: f"closest {d:.1f} deg at {t:.1f}s", "never in the room")
    if "near" in e:
        name, dmax = e["near"], float(e.get("distance_m", 1.2))
        ds = [(f.t, f.distance[name]) for f in frames if name in f.distance]
        return _first_within(f"base within {dmax:g} m of {name}{win}", ds, dmax, lambda t, d: f"{d:.2f} m at {t:.1f}s",
                             lambda t, d: f"closest {d:.2f} m at {t:.1f}s", "never in the room")
    if "reaches" in e:
        gx, gy = (float(v) for v in e["reaches"])
        dmax = float(e.get("distance_m", 0.3))
        ds = [(f.t, math.hypot(f.robot[0] - gx, f.robot[1] - gy)) for f in frames]
        return _first_within(f"base within {dmax:g} m of ({gx:g}, {gy:g}){win}", ds, dmax,
                             lambda t, d: f"{d:.2f} m away at {t:.1f}s", lambda t, d: f"closest {d:.2f} m at {t:.1f}s",
                             "no frames")
    # base_still
    if not frames:
        return Check(f"base still{win}", "no frames in the window", False)
    x0, y0, _ = frames[0].robot
    moved = max(math.hypot(f.robot[0] - x0, f.robot[1] - y0) for f in frames)
    return Check(f"base still{win}", f"moved {moved:.2f} m", moved < float(e.get("tolerance_m", 0.05)))


def _first_within(expected: str, series: list[tuple[float, float]], limit: float, hit, miss, empty: str) -> Check:
    """Passes when some ``(t, value)`` of ``series`` is at most ``limit``; says when, or how close it came."""
    ok = [(t, v) for t, v in series if v <= limit]
    if ok:
        return Check(expected, hit(*ok[0]), True)
    return Check(expected, miss(*min(series, key=lambda x: x[1])) if series else empty, False)


def _count_check(expected: str, hits: list[str], negative: bool, times: Any) -> Check:
    if negative:
        return Check(expected, "; ".join(hits[:3]) if hits else "none", not hits)
    if times is not None:
        ok = len(hits) == int(times)
        expected += f" x{int(times)}"
    else:
        ok = bool(hits)
    observed = "; ".join(hits[:2]) + (f" (+{len(hits) - 2})" if len(hits) > 2 else "") if hits else "none"
    return Check(expected, observed, ok)


def _pan_at(log: SimLog, t: float) -> float:
    return next((f.head[0] for f in log.frames if f.t >= t), 0.0)


def _as_list(v: Any) -> list[str]:
    if v is None:
        return []
    return [str(x) for x in v] if isinstance(v, (list, tuple)) else [str(v)]


def _short(text: str, n: int = 48) -> str:
    return text if len(text) <= n else text[: n - 3] + "..."


def discover(directory: str | Path) -> list[Path]:
    """The scenario files in ``directory``, sorted by name."""
    d = Path(directory)
    if not d.is_dir():
        raise ConfigError(f"no scenario directory {d}; expected sim/scenarios")
    return sorted(p for p in d.glob("*.yaml"))
