"""Visual question answering data from randomised MuJoCo rooms (`vlm-robot data sim`).

    vlm-robot data sim                                  # the default dataset in out/sim_vqa
    vlm-robot data sim --rooms-train 3 --rooms-val 1 --rooms-test 1 --views 2 --out /tmp/tiny

Each room is the simulated room of :mod:`vlm_robot.sim.world` with random small objects (types
:data:`~vlm_robot.sim.world.OBJECT_TYPES`, colours :data:`~vlm_robot.sim.world.OBJECT_COLORS`; 0-3 on the
table, 0-2 on the shelf, 0-1 on the floor), 0-3 people wearing catalogue faces with a labelled expression
(:data:`vlm_robot.sim.faces.FACES`), random lighting, and several robot poses (base and head) per room, most of
them looking at the table. Each view is rendered at 448x336, read by the packaged perception (faces,
expressions: what the robot's perception node would publish) and stored at 224x168 (:func:`model_image`, the
same resize the serving code applies to camera frames). Ground truth comes from the simulator: which objects
are visible (MuJoCo segmentation at 224x168), where they are in the image, what the camera's centre ray hits,
the nearest named place (config/places.yaml). Questions and answers are made from it by
:mod:`vlm_robot.sim.vqa_questions`.

Folder layout (format ``vlm_robot.sim_vqa`` version 1)::

    DIR/manifest.json                 written last: format, version, seed, command, splits, sha256 of each file
    DIR/{train,val,test}/images.npy   uint8 (M, 168, 224, 3) RGB (np.load(mmap_mode="r") works)
    DIR/{split}/meta.jsonl            line i describes images[i]: room, view, state, faces, truth
    DIR/{split}/qa.jsonl              {"image": i, "type": ..., "question": ..., "answer": ...}

Everything follows from ``--seed``: the same command writes byte-identical files. Splits never share a
room: room seeds are ``seed * 1_000_000 + k`` for train, ``+ 800_000 + k`` for val and ``+ 900_000 + k``
for test, so the held-out rooms stay the same whatever the train size.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlm_robot.core.assets import sha256_file
from vlm_robot.core.errors import ConfigError, InvalidInputError
from vlm_robot.core.image import resize_area

FORMAT, VERSION = "vlm_robot.sim_vqa", 1
IMAGE_W, IMAGE_H = 224, 168  # stored images
RENDER_W, RENDER_H = 448, 336  # rendered (and read by perception) before the downscale
MIN_PIXELS = 6  # an object is visible with at least this many pixels at 224x168
MIN_PERSON_PIXELS = 20  # a person (body, head) is visible with at least this many pixels at 224x168
MAX_FACES = 3
SPLITS = ("train", "val", "test")
SPLIT_OFFSET = {"train": 0, "val": 800_000, "test": 900_000}
ROOM_STRIDE = 1_000_000
DEFAULT_OUT = "out/sim_vqa"
DEFAULT_ROOMS = {"train": 1500, "val": 100, "test": 150}
DEFAULT_VIEWS = 4

CAMERA_Z = 1.40  # head camera height with the head level (URDF: 0.35 + 0.90 + 0.08 + 0.07 m)
TABLE = (3.1, -1.5, 0.76, 0.6, 0.4)  # centre x, y, top z, half sizes (room.xml)
SHELF = (1.0, 2.3)
SHELF_LEVELS = (0.815, 1.315, 1.815)  # tops of the middle boards and of the shelf
ROOM_X, ROOM_Y = (-1.5, 4.5), (-2.5, 2.5)
# keep-out rectangles (centre x, y, half x, half y) of the furniture, m
FURNITURE = ((3.1, -1.5, 0.6, 0.4), (3.1, -0.85, 0.22, 0.22), (2.3, -1.5, 0.22, 0.22), (1.0, 2.3, 0.52, 0.15),
             (4.1, 2.1, 0.3, 0.3))
# points the robot may look at besides the table and the people: (name, x, y, z)
SIGHTS = (("shelf", 1.0, 2.2, 1.1), ("door", 3.4, 2.5, 1.0), ("window", 4.5, -1.2, 1.5), ("picture", 4.5, 1.0, 1.6),
          ("plant", 4.1, 2.1, 0.7), ("chair", 2.3, -1.5, 0.5))
LOOK_TARGETS = ("table", "shelf", "chair", "plant", "door", "window", "picture", "wall", "floor", "person")


def model_image(rgb: np.ndarray) -> np.ndarray:
    """A camera frame as the model sees it: ``(168, 224, 3)`` uint8 RGB (:func:`vlm_robot.core.image.resize_area`,
    which the serving code uses too; frames of another aspect ratio are stretched).

    Raises:
        InvalidInputError: ``rgb`` is not an ``(H, W, 3)`` uint8 array.
    """
    return resize_area(rgb, IMAGE_W, IMAGE_H)


# ---- room sampling --------------------------------------------------------------------------------------------------
@dataclass
class RoomPlan:
    """One random room: objects, people and the robot's views (all map frame, m, rad)."""

    room: int
    objects: list = field(default_factory=list)  # SimObject
    places: list[str] = field(default_factory=list)  # where each object stands: table | shelf | floor
    faces: list[str] = field(default_factory=list)  # the people's faces (catalogue ids)
    lighting: float = 1.0
    views: list[tuple[float, float, float, float, float]] = field(default_factory=list)  # x, y, yaw, pan, tilt
    crowd: list[list[tuple[float, float, float]]] = field(default_factory=list)  # per view, per person: x, y, yaw
    modes: list[str] = field(default_factory=list)  # what each view was aimed at (for the record only)


def _blocked(x: float, y: float, margin: float) -> bool:
    """(x, y) is outside the room or within ``margin`` of the furniture."""
    if not (ROOM_X[0] + margin <= x <= ROOM_X[1] - margin and ROOM_Y[0] + margin <= y <= ROOM_Y[1] - margin):
        return True
    return any(abs(x - cx) < hx + margin and abs(y - cy) < hy + margin for cx, cy, hx, hy in FURNITURE)


def _spread(rng: np.random.Generator, n: int, sample, min_dist: float, tries: int = 60) -> list:
    """Up to ``n`` points from ``sample()`` at least ``min_dist`` apart (x, y of the first two coordinates)."""
    out: list = []
    for _ in range(tries):
        if len(out) == n:
            break
        p = sample()
        if all(math.hypot(p[0] - q[0], p[1] - q[1]) >= min_dist for q in out):
            out.append(p)
    return out


def plan_room(room: int, views: int) -> RoomPlan:
    """The random room number ``room`` (its own seed) with ``views`` robot poses; pure function of its inputs."""
    from vlm_robot.sim.faces import FACES
    from vlm_robot.sim.world import OBJECT_COLORS, OBJECT_TYPES, SimObject

    rng = np.random.default_rng(room)
    plan = RoomPlan(room=room, lighting=float(rng.uniform(0.55, 1.35)))
    types, colors = list(OBJECT_TYPES), list(OBJECT_COLORS)

    def kind() -> tuple[str, str]:
        return types[int(rng.integers(len(types)))], colors[int(rng.integers(len(colors)))]

    tx, ty, tz, hx, hy = TABLE
    on_table = _spread(rng, int(rng.integers(0, 4)), lambda: (tx + rng.uniform(-hx + 0.1, hx - 0.1),
                                                              ty + rng.uniform(-hy + 0.1, hy - 0.1), tz), 0.2)
    level = SHELF_LEVELS[int(rng.integers(len(SHELF_LEVELS)))]
    on_shelf = _spread(rng, int(rng.integers(0, 3)), lambda: (SHELF[0] + rng.uniform(-0.4, 0.4),
                                                              SHELF[1] + rng.uniform(-0.05, 0.02), level), 0.2)
    floor: list = []
    if rng.random() < 0.5:
        floor = _spread(rng, 1, lambda: (rng.uniform(-1.2, 4.2), rng.uniform(-2.2, 2.2), 0.0), 0.0, tries=1)
        floor = [p for p in floor if not _blocked(p[0], p[1], 0.15)]
    for where, pts in (("table", on_table), ("shelf", on_shelf), ("floor", floor)):
        for p in pts:
            t, c = kind()
            plan.objects.append(SimObject(t, c, (float(p[0]), float(p[1]), float(p[2])),
                                          float(rng.uniform(-math.pi, math.pi))))
            plan.places.append(where)

    # faces: an expression first (uniformly), then one of its faces, so that expressions are balanced
    by_expr: dict[str, list[str]] = {}
    for face, expr in sorted(FACES.items()):
        by_expr.setdefault(expr, []).append(face)
    exprs = sorted(by_expr)
    for _ in range(int(rng.choice([0, 1, 1, 2, 2, 3, 3]))):
        options = [f for f in by_expr[exprs[int(rng.integers(len(exprs)))]] if f not in plan.faces]
        if options:
            plan.faces.append(options[int(rng.integers(len(options)))])

    for _ in range(views):
        mode = str(rng.choice(["table", "people", "shelf", "sight", "entrance", "anywhere"],
                              p=[0.42, 0.15, 0.1, 0.1, 0.15, 0.08]))
        pose = None
        for _ in range(200):
            pose = _sample_view(rng, mode, plan)
            if pose is not None:
                break
        if pose is None:  # every attempt blocked: look at the room from the free area
            pose = (0.5, 0.0, float(rng.uniform(-math.pi, math.pi)), 0.0, 0.0)
            mode = "anywhere"
        plan.views.append(pose)
        plan.modes.append(mode)
        plan.crowd.append(_place_people(rng, plan, pose, 0.9 if mode == "people" else 0.65))
    return plan


def _place_people(rng: np.random.Generator, plan: RoomPlan, pose, p_in_view: float) -> list:
    """Where each person stands for one view: with probability ``p_in_view`` 1-3.5 m in front of the camera
    (within its field of view), else anywhere free; facing the robot roughly (15 %: any direction)."""
    x, y, yaw, pan, _ = pose
    gaze = yaw + pan
    out: list[tuple[float, float, float]] = []
    for _ in plan.faces:
        spot = None
        in_view = rng.random() < p_in_view
        for _ in range(40):
            if in_view:
                d, b = rng.uniform(1.0, 3.5), rng.uniform(-0.45, 0.45)
                px, py = x + d * math.cos(gaze + b), y + d * math.sin(gaze + b)
            else:
                px, py = rng.uniform(-1.1, 4.1), rng.uniform(-2.1, 2.1)
            if (_blocked(px, py, 0.3) or math.hypot(px - x, py - y) < 1.0
                    or any(math.hypot(px - qx, py - qy) < 0.7 for qx, qy, _ in out)
                    or any(math.hypot(px - o.pos[0], py - o.pos[1]) < 0.4 for o in plan.objects if o.pos[2] == 0)):
                continue
            spot = (px, py)
            break
        if spot is None:  # nowhere free: out of the way in the far corner behind the robot's usual places
            spot = (-1.1, -2.1 + 0.8 * len(out))
        toward = math.atan2(y - spot[1], x - spot[0])
        turn = rng.normal(0.0, 0.25) if rng.random() < 0.85 else rng.uniform(-math.pi, math.pi)
        out.append((float(spot[0]), float(spot[1]), float(toward + turn)))
    return out


def _sample_view(rng: np.random.Generator, mode: str, plan: RoomPlan):
    """One robot pose aimed as ``mode`` says, or None when the sampled base position is blocked."""
    if mode in ("anywhere", "people"):  # people: they are placed in view afterwards (_place_people)
        x, y = rng.uniform(*ROOM_X), rng.uniform(*ROOM_Y)
        yaw, tx, ty, tz = rng.uniform(-math.pi, math.pi), None, None, None
        if mode == "people":
            tx, ty, tz = x + math.cos(yaw), y + math.sin(yaw), 1.3
    elif mode == "entrance":  # the corner nearest the entrance, looking anywhere into the room
        x, y = rng.uniform(-1.2, 0.1), rng.uniform(1.2, 2.2)
        yaw, tx, ty, tz = rng.uniform(-math.pi / 2, 0.3), None, None, None
    else:
        if mode == "table":
            tx, ty, tz = TABLE[0] + rng.uniform(-0.3, 0.3), TABLE[1] + rng.uniform(-0.2, 0.2), TABLE[2]
            d = rng.uniform(1.2, 2.8)
        elif mode == "shelf":
            tx, ty, tz = SIGHTS[0][1] + rng.uniform(-0.3, 0.3), SIGHTS[0][2], rng.uniform(0.8, 1.7)
            d = rng.uniform(1.3, 3.0)
        else:
            _, tx, ty, tz = SIGHTS[1 + int(rng.integers(len(SIGHTS) - 1))]
            d = rng.uniform(1.2, 3.5)
        a = rng.uniform(-math.pi, math.pi)
        x, y = tx + d * math.cos(a), ty + d * math.sin(a)
        yaw = math.atan2(ty - y, tx - x) + rng.normal(0.0, 0.12)
    if _blocked(x, y, 0.35):
        return None
    if any(math.hypot(x - o.pos[0], y - o.pos[1]) < 0.35 for o in plan.objects):
        return None
    pan = float(np.clip(rng.normal(0.0, 0.3), -1.2, 1.2))
    if tz is None:
        tilt = float(rng.uniform(-0.4, 0.5))
    else:
        tilt = math.atan2(CAMERA_Z - tz, math.hypot(tx - x, ty - y)) + rng.normal(0.0, 0.06)
    # the base turns so that base yaw + head pan points where yaw says
    return (float(x), float(y), float(math.remainder(yaw - pan, 2 * math.pi)), pan, float(np.clip(tilt, -0.5, 0.5)))


# ---- rendering and ground truth -------------------------------------------------------------------------------------
class RoomRenderer:
    """Renders rooms and reads them: one per process (it holds the perception models and GL contexts)."""

    def __init__(self) -> None:
        """Loads the packaged perception (face detector, expression model, face mesh) and the named places."""
        from vlm_robot.paths import config_dir
        from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig
        from vlm_robot.safety.actuation import load_places

        # every face meshed on every frame; frames are 10 s apart so no pose cached from another view is reused
        self.perceiver = Perceiver(PerceptionConfig(mesh_max_per_frame=MAX_FACES + 5, num_threads=1))
        self.places = load_places(config_dir() / "places.yaml")

    def room(self, plan: RoomPlan) -> tuple[np.ndarray, list[dict]]:
        """Every view of ``plan``: images ``(V, 168, 224, 3)`` uint8 and one meta dict per image."""
        from vlm_robot.sim.world import World

        people = {f"p{i}": face for i, face in enumerate(plan.faces)}
        world = World(people, RENDER_W, RENDER_H, seed=plan.room, objects=plan.objects)
        try:
            world.set_lighting(plan.lighting)
            images, metas = [], []
            for v, (x, y, yaw, pan, tilt) in enumerate(plan.views):
                world.set_robot(x, y, yaw, pan, tilt)
                for i, (px, py, pyaw) in enumerate(plan.crowd[v]):
                    world.set_person(f"p{i}", px, py, pyaw)
                rgb = world.render()
                # segmentation with the same renderer (a second GL context would cost 0.3 s per room)
                world._renderer.enable_segmentation_rendering()
                try:
                    ids = world.render()
                finally:
                    world._renderer.disable_segmentation_rendering()
                faces = self._faces(rgb, stamp=10.0 * (v + 1))
                truth = self._truth(world, plan, v, ids, faces)
                truth["lighting"] = round(plan.lighting, 3)
                _, _, byaw = world.robot_pose()
                hp, ht = world.head()
                metas.append({"room": plan.room, "view": v,
                              "state": [round(x, 4), round(y, 4), round(byaw, 4), round(hp, 4), round(ht, 4)],
                              "faces": faces, "truth": truth, "aim": plan.modes[v]})
                images.append(model_image(rgb))
            return np.stack(images), metas
        finally:
            world.close()

    def _faces(self, rgb: np.ndarray, stamp: float) -> list[dict]:
        """The packaged perception's faces on the full-resolution render: best ``MAX_FACES``, left to right."""
        from vlm_robot.core.types import Frame

        h, w = rgb.shape[:2]
        res = self.perceiver.process(Frame(rgb, stamp))
        best = sorted(res.faces, key=lambda f: -f.score)[:MAX_FACES]
        out = []
        for f in sorted(best, key=lambda f: f.box[0] + f.box[2] / 2):
            bx, by, bw, bh = f.box
            out.append({"box": [round(bx / w, 4), round(by / h, 4), round(bw / w, 4), round(bh / h, 4)],
                        "expression": f.expression, "scores": [round(float(s), 4) for s in f.expression_scores],
                        "facing": round(float(f.facing), 4), "score": round(float(f.score), 4)})
        return out

    def _truth(self, world, plan: RoomPlan, view: int, ids: np.ndarray, faces: list[dict]) -> dict:
        """Ground truth of one view from the full-resolution segmentation ``ids`` ((H, W, 2): object id, object
        type); pixel counts are given at 224x168 (full-resolution counts / 4), u, v as fractions of the image."""
        import mujoco

        from vlm_robot.sim.faces import FACES

        m = world.model
        geom = np.where(ids[..., 1] == int(mujoco.mjtObj.mjOBJ_GEOM), ids[..., 0], -1)
        counts = np.bincount(geom.ravel() + 1, minlength=m.ngeom + 1)[1:]
        body_of = m.geom_bodyid
        h, w = geom.shape
        area = (h * w) / (IMAGE_H * IMAGE_W)  # full-resolution pixels per stored pixel
        vs, us = np.indices(geom.shape)

        def pixels_of_bodies(bodies: set[int]) -> tuple[int, float, float]:
            mask = np.isin(geom, [g for g in range(m.ngeom) if body_of[g] in bodies])
            n = int(mask.sum())
            if not n:
                return 0, 0.0, 0.0
            return round(n / area), float(us[mask].mean() + 0.5) / w, float(vs[mask].mean() + 0.5) / h

        objects = []
        for i, (o, where) in enumerate(zip(plan.objects, plan.places, strict=True)):
            n, u, v = pixels_of_bodies({m.body(f"obj:{i}").id})
            objects.append({"type": o.kind, "color": o.color, "on": where, "visible": n >= MIN_PIXELS, "pixels": n,
                            "u": round(u, 4), "v": round(v, 4), "pos": [round(c, 4) for c in o.pos]})
        rx, ry, _ = world.robot_pose()
        people = []
        for i, (face, (px, py, _)) in enumerate(zip(plan.faces, plan.crowd[view], strict=True)):
            n, u, v = pixels_of_bodies({m.body(f"person:p{i}").id})
            at = world.face_pixel(f"p{i}")
            if at is not None:
                u, v = at[0] / world.width, at[1] / world.height
            read = None
            for f in faces:  # the perception's face whose box centre is within a face width of this face
                bx, by, bw, bh = f["box"]
                if at is not None and math.hypot((bx + bw / 2) * world.width - at[0],
                                                 (by + bh / 2) * world.height - at[1]) < max(at[2], 8.0):
                    read = f["expression"]
            people.append({"face": face, "expression": FACES[face], "visible": n >= MIN_PERSON_PIXELS,
                           "pixels": n, "u": round(u, 4), "v": round(v, 4),
                           "distance": round(math.hypot(px - rx, py - ry), 3), "read": read})
        top = m.geom("table_top").id
        # a table object whose centre is inside the frame but hidden (behind a person, a chair): the table's
        # contents cannot be told from this view
        hidden = any(o["on"] == "table" and not o["visible"] and _in_frame(world, o["pos"], 0.05) for o in objects)
        table_visible = self._table_visible(world, counts[top] / area)
        return {"looking_at": self._looking_at(world, plan), "table_visible": table_visible,
                "table_complete": not hidden, "objects": objects, "people": people,
                "nearest_place": min(self.places.values(), key=lambda p: math.hypot(p.x - rx, p.y - ry)).name}

    @staticmethod
    def _table_visible(world, top_pixels: int) -> bool:
        """Enough of the table top in view to say what is on it: at least 70 % of a 5x5 grid of points on it
        inside the image (in front of the camera) and at least 150 of its pixels at 224x168 unoccluded."""
        tx, ty, tz, hx, hy = TABLE
        inside = sum(_in_frame(world, (tx + gx, ty + gy, tz)) for gx in np.linspace(-hx, hx, 5)
                     for gy in np.linspace(-hy, hy, 5))
        return bool(inside >= 0.7 * 25 and top_pixels >= 150)

    @staticmethod
    def _looking_at(world, plan: RoomPlan) -> str:
        """What the camera's centre ray hits first (starting 0.15 m ahead of the lens, clear of the head)."""
        import mujoco

        m, d = world.model, world.data
        c, r = d.cam_xpos[world._cam], d.cam_xmat[world._cam].reshape(3, 3)
        ahead = -r[:, 2]
        gid = np.array([-1], dtype=np.int32)
        mujoco.mj_ray(m, d, c + 0.15 * ahead, ahead, None, 1, -1, gid)
        g = int(gid[0])
        if g < 0:
            return "wall"
        body = m.body(int(m.geom_bodyid[g])).name or ""
        name = m.geom(g).name or ""
        if body.startswith("obj:"):
            return plan.places[int(body.split(":")[1])]
        if body.startswith("person:"):
            return "person"
        for key in ("table", "chair", "shelf", "plant"):
            if body.startswith(key):
                return key
        for key, what in (("door", "door"), ("window", "window"), ("picture", "picture"), ("floor", "floor"),
                          ("rug", "floor")):
            if name.startswith(key):
                return what
        return "wall"


def _in_frame(world, pos, dz: float = 0.0) -> bool:
    """``pos`` (map, m; raised by ``dz``) projects inside the camera image, in front of the camera."""
    c, r = world.data.cam_xpos[world._cam], world.data.cam_xmat[world._cam].reshape(3, 3)
    p = r.T @ (np.array([pos[0], pos[1], pos[2] + dz]) - c)
    if -p[2] < 0.05:
        return False
    f = world.focal_px()
    u, v = world.width / 2 + f * p[0] / -p[2], world.height / 2 - f * p[1] / -p[2]
    return bool(0 <= u < world.width and 0 <= v < world.height)


def _render_room(args: tuple[int, int]) -> tuple[int, np.ndarray, list[dict]]:
    """Worker entry: plan and render room ``args[0]`` with ``args[1]`` views."""
    global _RENDERER
    room, views = args
    if _RENDERER is None:
        _RENDERER = RoomRenderer()
    images, metas = _RENDERER.room(plan_room(room, views))
    return room, images, metas


_RENDERER: RoomRenderer | None = None  # one per worker process (perception models + GL)


# ---- the folder -----------------------------------------------------------------------------------------------------
def room_seeds(split: str, n: int, seed: int) -> list[int]:
    """The room seeds of ``split``: disjoint between splits for ``n`` < 100000."""
    return [seed * ROOM_STRIDE + SPLIT_OFFSET[split] + k for k in range(n)]


def _prepare(out: Path, force: bool) -> None:
    """Make ``out`` ready to write: it must be missing or empty, or ``force`` removes a previous dataset."""
    if not out.exists():
        out.mkdir(parents=True)
        return
    if not out.is_dir():
        raise ConfigError(f"--out {out} exists and is not a folder; choose another --out")
    entries = sorted(p.name for p in out.iterdir())
    if not entries:
        return
    ours = {"manifest.json", *SPLITS}
    if not force:
        what = "a half-written dataset (no manifest.json)" if "manifest.json" not in entries else "a dataset"
        mf = out / "manifest.json"
        if mf.is_file():
            try:
                doc = json.loads(mf.read_text())
                what = f"a {doc.get('format')} version {doc.get('version')} dataset (seed {doc.get('seed')})"
            except (OSError, ValueError):
                what = "a folder with an unreadable manifest.json"
        raise ConfigError(f"--out {out} already holds {what}; pass --force to replace it, or choose another --out")
    foreign = [e for e in entries if e not in ours]
    if foreign:
        raise ConfigError(f"--out {out} holds files that are not a sim_vqa dataset ({', '.join(foreign[:5])}); "
                          "--force only replaces a dataset: choose an empty or new --out")
    for e in entries:
        p = out / e
        shutil.rmtree(p) if p.is_dir() else p.unlink()


def generate(out: str | Path = DEFAULT_OUT, rooms: dict[str, int] | None = None, views: int = DEFAULT_VIEWS,
             seed: int = 0, workers: int = 1, force: bool = False, progress: bool = True) -> dict:
    """Render the dataset into ``out``; returns the manifest (also written to ``out/manifest.json``, last).

    Args:
        out: the folder; it must be missing or empty unless ``force`` (which replaces a previous dataset).
        rooms: rooms per split, ``{"train": N, "val": N, "test": N}`` (default :data:`DEFAULT_ROOMS`).
        views: robot poses (images) per room.
        seed: everything follows from it; splits use disjoint room seeds (:func:`room_seeds`).
        workers: processes rendering rooms (the output does not depend on it).
        progress: show a tqdm bar on stderr.

    Raises:
        ConfigError: bad counts, or ``out`` is not empty and ``force`` is not given.
    """
    from vlm_robot.sim import vqa_questions

    rooms = dict(DEFAULT_ROOMS if rooms is None else rooms)
    if set(rooms) != set(SPLITS) or any(not isinstance(n, int) or n < 0 for n in rooms.values()):
        raise ConfigError(f"rooms must give a count >= 0 for each of {SPLITS}, got {rooms}")
    if sum(rooms.values()) == 0:
        raise ConfigError("rooms: every split is empty; give --rooms-train / --rooms-val / --rooms-test > 0")
    if max(rooms.values()) >= 100_000:
        raise ConfigError(f"at most 99999 rooms per split (room seeds would overlap), got {rooms}")
    if not 1 <= views <= 64:
        raise ConfigError(f"--views must be 1..64, got {views}")
    if workers < 1:
        raise ConfigError(f"--workers must be >= 1, got {workers}")
    if not 0 <= seed < 2**31 // ROOM_STRIDE:
        raise ConfigError(f"--seed must be 0..{2**31 // ROOM_STRIDE - 1}, got {seed}")
    out = Path(out)
    _prepare(out, force)
    t0 = time.monotonic()
    jobs = [(split, r) for split in SPLITS for r in room_seeds(split, rooms[split], seed)]
    bar = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=len(jobs), desc="sim rooms", unit="room", file=sys.stderr)
    splits: dict[str, dict] = {}
    files: dict[str, str] = {}
    pool = None
    try:
        if workers > 1:
            import multiprocessing as mp

            pool = mp.get_context("spawn").Pool(workers)
            results = pool.imap(_render_room, [(r, views) for _, r in jobs], chunksize=1)
        else:
            results = map(_render_room, [(r, views) for _, r in jobs])
        it = iter(results)
        for split in SPLITS:
            d = out / split
            d.mkdir()
            n_img = rooms[split] * views
            arr = np.lib.format.open_memmap(d / "images.npy", mode="w+", dtype=np.uint8,
                                            shape=(n_img, IMAGE_H, IMAGE_W, 3))
            metas: list[dict] = []
            for _ in range(rooms[split]):
                _, images, room_metas = next(it)
                arr[len(metas):len(metas) + len(images)] = images
                for m in room_metas:
                    metas.append({"i": len(metas), **m})
                if bar is not None:
                    bar.update(1)
            arr.flush()
            del arr
            with open(d / "meta.jsonl", "w") as f:
                for m in metas:
                    f.write(json.dumps(m, separators=(",", ":")) + "\n")
            qa = vqa_questions.sample_questions(metas, seed=seed * 10 + SPLITS.index(split))
            with open(d / "qa.jsonl", "w") as f:
                for q in qa:
                    f.write(json.dumps(q, separators=(",", ":")) + "\n")
            seeds = room_seeds(split, rooms[split], seed)
            splits[split] = {"rooms": rooms[split], "images": n_img, "questions": len(qa),
                             "room_seeds": [seeds[0], seeds[-1]] if seeds else []}
            for name in ("images.npy", "meta.jsonl", "qa.jsonl"):
                files[f"{split}/{name}"] = sha256_file(d / name)
    finally:
        if bar is not None:
            bar.close()
        if pool is not None:
            pool.terminate()
            pool.join()
    manifest = {"format": FORMAT, "version": VERSION, "seed": seed,
                "command": f"vlm-robot data sim --out {out} --rooms-train {rooms['train']} "
                f"--rooms-val {rooms['val']} --rooms-test {rooms['test']} --views {views} --seed {seed}",
                "image_size": [IMAGE_W, IMAGE_H], "views_per_room": views,
                "question_types": list(vqa_questions.QUESTION_TYPES), "splits": splits, "files": files}
    tmp = out / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1) + "\n")
    os.replace(tmp, out / "manifest.json")
    manifest["_seconds"] = time.monotonic() - t0  # not written: timing varies between runs
    return manifest


def read_manifest(folder: str | Path, verify: bool = False) -> dict:
    """The manifest of a dataset folder written by :func:`generate`, checked.

    Args:
        folder: the dataset folder.
        verify: also check every file's sha256 against the manifest (reads all of them).

    Raises:
        InvalidInputError: the folder or its manifest is missing (a half-written folder has none), the manifest
            is of another format or version, or a file is missing or (with ``verify``) changed.
    """
    d = Path(folder)
    if not d.is_dir():
        raise InvalidInputError(f"sim VQA dataset {d} does not exist; generate it with "
                                f"`vlm-robot data sim --out {d}`")
    mf = d / "manifest.json"
    if not mf.is_file():
        raise InvalidInputError(f"{d} has no manifest.json: not a sim VQA dataset, or its generation was "
                                f"interrupted; regenerate it with `vlm-robot data sim --out {d} --force`")
    try:
        doc = json.loads(mf.read_text())
    except ValueError as e:
        raise InvalidInputError(f"{mf} is not valid JSON ({e}); regenerate with `vlm-robot data sim --out {d} "
                                "--force`") from e
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or doc.get("version") != VERSION:
        got = (doc.get("format"), doc.get("version")) if isinstance(doc, dict) else doc
        raise InvalidInputError(f"{d}: expected a {FORMAT} version {VERSION} dataset, found format/version {got}; "
                                f"regenerate it with `vlm-robot data sim --out {d} --force`")
    for rel, digest in doc.get("files", {}).items():
        p = d / rel
        if not p.is_file():
            raise InvalidInputError(f"{d}: {rel} listed in manifest.json is missing; regenerate the dataset")
        if verify and sha256_file(p) != digest:
            raise InvalidInputError(f"{d}: {rel} does not match its sha256 in manifest.json (changed or "
                                    "truncated); regenerate the dataset")
    return doc


def main(out: str = DEFAULT_OUT, rooms: dict[str, int] | None = None, views: int = DEFAULT_VIEWS, seed: int = 0,
         workers: int = 1, force: bool = False) -> int:
    """`vlm-robot data sim`: generate and print a summary; 2 on a configuration error."""
    try:
        man = generate(out, rooms, views, seed, workers, force, progress=True)
    except ConfigError as e:
        print(f"data sim: {e}", file=sys.stderr)
        return 2
    for split, s in man["splits"].items():
        print(f"{split:>5}: {s['rooms']} rooms, {s['images']} images, {s['questions']} questions")
    print(f"wrote {out} in {man['_seconds']:.0f} s")
    return 0
