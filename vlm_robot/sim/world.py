"""The simulated room: MuJoCo room + the URDF robot + people with real face photographs, rendered headless.

Frames: the world frame is the ``map`` frame (x forward from the robot's start pose, y left, z up, metres,
radians, yaw counter-clockwise from +x). The robot is kinematic: the base follows goals and velocity
commands at its speed limits, the head joints move toward their targets at the commanded speed; nothing
is simulated physically, so the same calls always give the same poses and the same pixels.

Rendering uses MuJoCo's offscreen renderer on EGL (Mesa's llvmpipe on a CPU): ``MUJOCO_GL=egl`` is set
here unless the user chose a backend before importing mujoco.
"""

from __future__ import annotations

import math
import os
import sys
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

os.environ.setdefault("MUJOCO_GL", "egl")
import mujoco
import numpy as np

from vlm_robot.core.errors import BackendUnavailableError, ConfigError
from vlm_robot.sim.faces import FACE_WIDTH_M, PLATE_H, PLATE_W, check_face, known_faces, plate_texture

GL_HELP = ("headless rendering needs EGL with Mesa's software renderer: on Debian/Ubuntu "
           "`sudo apt-get install libegl1 libegl-mesa0 libgl1-mesa-dri libopengl0` (or run `make setup`); "
           "with MUJOCO_GL=osmesa install libosmesa6 instead. Set MUJOCO_GL before mujoco is first imported.")
HFOV_DEG = 60.0
BASE_V, BASE_W = 0.5, 1.0  # base speed limits, m/s and rad/s
WATCHDOG_S = 0.5  # a velocity command is held this long
POS_TOL, YAW_TOL = 0.02, 0.01  # goal reached within 2 cm and 0.6 degrees
ROBOT_R, PERSON_R, CLEARANCE = 0.25, 0.2, 0.4  # footprints (m) and the gap kept to people in the way
FACE_Z = 1.55  # height of a standing person's face centre, m
NECK_TOP_Z = 1.44  # set_head turns the head about this point on the body's axis, m
_SUBSTEP = 0.02  # s
ROBOT = "robot/"  # prefix of the robot's names inside the MuJoCo model (robot/head_pan is the URDF's head_pan)
_HIDDEN = (0.0, 0.0, -20.0)  # absent people wait below the floor
_SHIRTS = ((0.75, 0.25, 0.2), (0.2, 0.45, 0.7), (0.3, 0.6, 0.35), (0.85, 0.7, 0.2), (0.5, 0.3, 0.6), (0.9, 0.9, 0.9))
# room.xml's own small objects: replaced when World(objects=[...]) is given (the table top and the shelf's books)
_FIXED_OBJECTS = ("cup", "cup_handle", "book_1", "book_2", "bottle", "bottle_neck",
                  "shelf_books_1", "shelf_books_2", "shelf_books_3")
OBJECT_TYPES = ("cup", "bottle", "ball", "box")
OBJECT_COLORS: dict[str, tuple[float, float, float]] = {
    "red": (0.85, 0.12, 0.10), "green": (0.12, 0.62, 0.20), "blue": (0.12, 0.28, 0.88),
    "yellow": (0.95, 0.80, 0.08), "white": (0.96, 0.96, 0.96)}
# (half-width, height) of each object type, m: sized to stay several pixels wide at 224x168 from 1-3 m
OBJECT_SIZE = {"cup": (0.05, 0.11), "bottle": (0.04, 0.26), "ball": (0.06, 0.12), "box": (0.07, 0.14)}


def world_dir() -> Path:
    """``sim/world`` of the source tree, else the installed share directory."""
    for d in (Path(__file__).resolve().parents[2] / "sim" / "world",
              Path(sys.prefix) / "share" / "vlm_robot" / "sim" / "world"):
        if (d / "room.xml").is_file():
            return d
    raise ConfigError("sim/world/room.xml not found in the source tree or the installed share directory; "
                      "reinstall vlm_robot")


def _wrap(a: float) -> float:
    return (a + math.pi) % (2 * math.pi) - math.pi


def _head_limits(urdf: Path) -> dict[str, tuple[float, float, float]]:
    """``{joint: (lower, upper, velocity)}`` from the URDF, the single source of the head's limits."""
    out = {}
    for j in ET.parse(urdf).getroot().iter("joint"):
        lim = j.find("limit")
        if j.get("name") in ("head_pan", "head_tilt") and lim is not None:
            out[j.get("name")] = (float(lim.get("lower")), float(lim.get("upper")), float(lim.get("velocity")))
    if set(out) != {"head_pan", "head_tilt"}:
        raise ConfigError(f"{urdf}: expected revolute joints head_pan and head_tilt with <limit>, found {sorted(out)}")
    return out


@dataclass(frozen=True)
class SimObject:
    """A small object placed in the room: ``kind`` of :data:`OBJECT_TYPES`, ``color`` of :data:`OBJECT_COLORS`,
    standing with its bottom centre at ``pos`` (map, m), turned ``yaw`` rad about z."""

    kind: str
    color: str
    pos: tuple[float, float, float]
    yaw: float = 0.0

    def __post_init__(self) -> None:
        if self.kind not in OBJECT_TYPES or self.color not in OBJECT_COLORS:
            raise ConfigError(f"object {self.color!r} {self.kind!r} unknown; expected a type of {OBJECT_TYPES} "
                              f"and a colour of {tuple(OBJECT_COLORS)}")


@dataclass
class _Person:
    mocap: int
    plate: int
    face: str
    present: bool = False


class World:
    """The room, the robot and the people; see the module docstring for frames and units."""

    def __init__(self, people: dict[str, str], width: int = 640, height: int = 480, seed: int = 0,
                 faces_needed: list[str] | None = None, relief: bool = False,
                 objects: list[SimObject] | None = None) -> None:
        """``people``: name -> initial face id (all start absent until :meth:`set_person`);
        ``objects``: when given, these replace room.xml's table-top objects and shelf books (geoms named
        ``obj:<index>:<part>``, see :meth:`object_geoms`); None keeps the room as drawn;
        ``relief``: give each person's initial face 3D relief (the face mesh model's own depth estimate of the
        photo, textured with it; for measuring head pose), instead of only the flat plate;
        ``faces_needed``: every face id the run may switch to (their textures are loaded now);
        ``seed``: picks the people's clothes colours. Frames are ``width`` x ``height`` pixels."""
        d = world_dir()
        self.width, self.height, self.time = int(width), int(height), 0.0
        self.limits = _head_limits(d / "robot.urdf")
        faces = list(dict.fromkeys([*people.values(), *(faces_needed or [])]))
        for f in faces:
            check_face(f)
        spec = mujoco.MjSpec.from_file(str(d / "room.xml"))
        spec.visual.global_.offwidth = max(self.width, spec.visual.global_.offwidth)
        spec.visual.global_.offheight = max(self.height, spec.visual.global_.offheight)
        self._attach_robot(spec, mujoco.MjSpec.from_file(str(d / "robot.urdf")))
        self.objects = list(objects) if objects is not None else None
        if self.objects is not None:
            for name in _FIXED_OBJECTS:
                spec.delete(spec.geom(name))
            for i, o in enumerate(self.objects):
                self._add_object(spec, i, o)
        for f in faces:
            tex = plate_texture(f)
            t = spec.add_texture(name=f"face:{f}", type=mujoco.mjtTexture.mjTEXTURE_2D,
                                 width=tex.shape[1], height=tex.shape[0], nchannel=3)
            t.data = tex.tobytes()
            m = spec.add_material(name=f"face:{f}", specular=0.0, emission=0.25)
            m.textures[mujoco.mjtTextureRole.mjTEXROLE_RGB] = f"face:{f}"
        self._add_plate_mesh(spec)
        rng = np.random.default_rng(seed)
        shirts = [_SHIRTS[i] for i in rng.permutation(len(_SHIRTS))]
        for i, (name, face) in enumerate(people.items()):
            self._add_person(spec, name, face, shirts[i % len(shirts)])
            if relief:
                self._add_relief(spec, name, face)
        with warnings.catch_warnings():  # an empty attach prefix keeps the URDF's joint names (head_pan, ...)
            warnings.filterwarnings("ignore", "Attaching a spec with an empty prefix")
            self.model = spec.compile()
        self.data = mujoco.MjData(self.model)
        m = self.model
        self._q = {n: int(m.jnt_qposadr[m.joint(ROBOT + n).id])
                   for n in ("base_x", "base_y", "base_yaw", "head_pan", "head_tilt")}
        self._cam = m.camera(ROBOT + "head_camera").id
        self._mat = {f: m.material(f"face:{f}").id for f in faces}
        self._people = {n: _Person(int(m.body_mocapid[m.body(f"person:{n}").id]), m.geom(f"person:{n}:face").id, f)
                        for n, f in people.items()}
        # the head's geoms and their rest poses in the person's body frame (set_head turns them)
        parts = ("face", "plate_back", "skull", *(("relief",) if relief else ()))
        self._head_geoms = {n: [(g, m.geom_pos[g].copy(), m.geom_quat[g].copy())
                                for g in (m.geom(f"person:{n}:{part}").id for part in parts)]
                            for n in people}
        for geoms in self._head_geoms.values():
            for g, _, _ in geoms:
                m.geom_sameframe[g] = 0  # the compiler marked them as sharing the body's rotation; set_head changes it
        for p in self._people.values():
            self.data.mocap_pos[p.mocap] = _HIDDEN
        self._target = {"head_pan": 0.0, "head_tilt": 0.0}
        self._speed = {k: v[2] for k, v in self.limits.items()}
        self._goal: tuple[float, float, float] | None = None
        self._vel, self._vel_until = (0.0, 0.0), -1.0
        self.goal_status = "idle"  # idle | active | blocked | reached | canceled
        self._forward()
        try:
            self._renderer = mujoco.Renderer(m, self.height, self.width)
        except Exception as e:  # the GL backend raises ImportError, AttributeError or mujoco.FatalError
            raise BackendUnavailableError(f"MuJoCo renderer (MUJOCO_GL={os.environ.get('MUJOCO_GL')}) "
                                          f"failed: {type(e).__name__}: {e}; {GL_HELP}") from e

    # ---- assembly -------------------------------------------------------------------------------------------------
    def _attach_robot(self, spec: mujoco.MjSpec, robot: mujoco.MjSpec) -> None:
        """The URDF robot on a planar base (slide x, slide y, hinge yaw) at the map origin, camera on camera_link."""
        base = robot.body("base_link")
        for name, kind, axis in (("base_x", mujoco.mjtJoint.mjJNT_SLIDE, (1, 0, 0)),
                                 ("base_y", mujoco.mjtJoint.mjJNT_SLIDE, (0, 1, 0)),
                                 ("base_yaw", mujoco.mjtJoint.mjJNT_HINGE, (0, 0, 1))):
            base.add_joint(name=name, type=kind, axis=axis)
        for g in robot.geoms:  # URDF <collision> copies of the visuals: keep them out of the picture
            if g.contype:
                g.group, g.contype, g.conaffinity = 3, 0, 0
        fovy = math.degrees(2 * math.atan(math.tan(math.radians(HFOV_DEG / 2)) * self.height / self.width))
        # MuJoCo cameras look along their -z with +y up: -z = link +x, +y = link +z, +x = link -y
        robot.body("camera_link").add_camera(name="head_camera", fovy=fovy, quat=[0.5, 0.5, -0.5, -0.5])
        spec.worldbody.add_frame().attach_body(base, ROBOT, "")

    @staticmethod
    def _add_object(spec: mujoco.MjSpec, i: int, o: SimObject) -> None:
        """Object ``i`` as a body of plain geoms named ``obj:<i>:<part>`` (sizes :data:`OBJECT_SIZE`)."""
        r, h = OBJECT_SIZE[o.kind]
        b = spec.worldbody.add_body(name=f"obj:{i}", pos=list(o.pos), quat=[math.cos(o.yaw / 2), 0, 0,
                                                                           math.sin(o.yaw / 2)])
        rgba = [*OBJECT_COLORS[o.color], 1.0]
        cyl, box, sph = mujoco.mjtGeom.mjGEOM_CYLINDER, mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_SPHERE
        parts = {  # (type, size, pos)
            "cup": [(cyl, [r, h / 2, 0], [0, 0, h / 2]), (box, [0.015, 0.006, 0.03], [r + 0.012, 0, h / 2])],
            "bottle": [(cyl, [r, 0.35 * h, 0], [0, 0, 0.35 * h]), (cyl, [0.45 * r, 0.15 * h, 0], [0, 0, 0.85 * h])],
            "ball": [(sph, [r, 0, 0], [0, 0, r])],
            "box": [(box, [r, r, h / 2], [0, 0, h / 2])],
        }[o.kind]
        for j, (kind, size, pos) in enumerate(parts):
            b.add_geom(name=f"obj:{i}:{j}", type=kind, size=size, pos=pos, rgba=rgba, contype=0, conaffinity=0)

    def object_geoms(self, i: int) -> list[int]:
        """Geom ids of object ``i`` of ``World(objects=...)``."""
        return [g for g in range(self.model.ngeom) if (self.model.geom(g).name or "").startswith(f"obj:{i}:")]

    @staticmethod
    def _add_plate_mesh(spec: mujoco.MjSpec) -> None:
        """The face plate: a quad in the y-z plane facing +x, the photo upright and unmirrored seen from +x."""
        w, h = PLATE_W * FACE_WIDTH_M / 2, PLATE_H * FACE_WIDTH_M / 2
        mesh = spec.add_mesh(name="face_plate")  # seen from +x, the viewer's right is +y
        mesh.uservert = [0, -w, -h, 0, w, -h, 0, w, h, 0, -w, h]
        mesh.usertexcoord = [0, 1, 1, 1, 1, 0, 0, 0]
        mesh.userface = [0, 1, 2, 0, 2, 3]
        mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL

    def _add_person(self, spec: mujoco.MjSpec, name: str, face: str, shirt: tuple[float, float, float]) -> None:
        """A standing figure facing its body +x: legs, torso, arms, a head and the textured face plate."""
        b = spec.worldbody.add_body(name=f"person:{name}", mocap=True, pos=list(_HIDDEN))
        shirt_rgba, skin, hair = [*shirt, 1.0], [0.85, 0.68, 0.55, 1.0], [0.18, 0.13, 0.10, 1.0]
        box, cap, ell = mujoco.mjtGeom.mjGEOM_BOX, mujoco.mjtGeom.mjGEOM_CAPSULE, mujoco.mjtGeom.mjGEOM_ELLIPSOID
        pw, ph = PLATE_W * FACE_WIDTH_M, PLATE_H * FACE_WIDTH_M
        parts = [  # (type, size, pos, rgba)
            (box, [0.09, 0.16, 0.43], [0, 0, 0.43], [0.2, 0.22, 0.3, 1.0]),   # legs
            (box, [0.11, 0.2, 0.27], [0, 0, 1.1], shirt_rgba),               # torso
            (cap, [0.045, 0.28], [0, 0.25, 1.06], shirt_rgba),              # arms
            (cap, [0.045, 0.28], [0, -0.25, 1.06], shirt_rgba),
            (cap, [0.05, 0.04], [0, 0, 1.4], skin),                          # neck
        ]
        for kind, size, pos, rgba in parts:
            b.add_geom(type=kind, size=size, pos=pos, rgba=rgba, contype=0, conaffinity=0)
        b.add_geom(name=f"person:{name}:skull", type=ell, size=[0.1, 0.12, 0.15], pos=[-0.02, 0, FACE_Z + 0.02],
                   rgba=hair, contype=0, conaffinity=0)  # back of the head
        b.add_geom(name=f"person:{name}:plate_back", type=box, size=[0.004, pw / 2, ph / 2], pos=[0.075, 0, FACE_Z],
                   rgba=hair, contype=0, conaffinity=0)  # behind the plate: opaque
        b.add_geom(name=f"person:{name}:face", type=mujoco.mjtGeom.mjGEOM_MESH, meshname="face_plate",
                   material=f"face:{face}", pos=[0.08, 0, FACE_Z], contype=0, conaffinity=0)

    @staticmethod
    def _add_relief(spec: mujoco.MjSpec, name: str, face: str) -> None:
        """A textured 3D face in front of ``name``'s plate: the 468 face mesh points the mesh model finds on the
        plate texture, at the depth it estimates, triangulated (Delaunay) and textured with the photo."""
        import cv2

        from vlm_robot.perception.face_mesh import FaceMesh
        from vlm_robot.perception.faces import FaceDetector

        tex = plate_texture(face)
        big = cv2.resize(tex, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        dets = FaceDetector(min_score=0.3).detect(big)
        pose = FaceMesh().estimate(big, dets[0].box, dets[0].keypoints) if dets else None
        if pose is None or pose.landmarks is None:
            raise ConfigError(f"relief for face {face!r}: the face mesh found no face on its plate texture")
        lm = pose.landmarks / 2.0  # texture pixels (and depth in the same units)
        th, tw = tex.shape[:2]
        k = PLATE_W * FACE_WIDTH_M / tw  # metres per texture pixel
        # plate frame: x towards the viewer, y = viewer's right, z up; the relief's rim sits on the plate
        verts = np.column_stack([(lm[:, 2].max() - lm[:, 2]) * k + 0.001, (lm[:, 0] - tw / 2) * k,
                                 (th / 2 - lm[:, 1]) * k])
        sub = cv2.Subdiv2D((-1, -1, tw + 2, th + 2))
        for u, v in lm[:, :2]:
            sub.insert((float(np.clip(u, 0, tw)), float(np.clip(v, 0, th))))
        uv = np.clip(lm[:, :2], 0, [tw, th])
        tris = []
        for t in sub.getTriangleList().reshape(-1, 3, 2):
            idx = [int(np.argmin(np.sum((uv - p) ** 2, axis=1))) for p in t]
            if len(set(idx)) < 3:
                continue
            a, b, c = verts[idx]
            if np.cross(b - a, c - a)[0] < 0:  # face the viewer (+x)
                idx = [idx[0], idx[2], idx[1]]
            tris.extend(idx)
        mesh = spec.add_mesh(name=f"face_relief:{name}")
        mesh.uservert = verts.ravel().tolist()
        mesh.usertexcoord = np.column_stack([uv[:, 0] / tw, uv[:, 1] / th]).ravel().tolist()
        mesh.userface = tris
        mesh.inertia = mujoco.mjtMeshInertia.mjMESH_INERTIA_SHELL
        spec.body(f"person:{name}").add_geom(name=f"person:{name}:relief", type=mujoco.mjtGeom.mjGEOM_MESH,
                                             meshname=f"face_relief:{name}", material=f"face:{face}",
                                             pos=[0.08, 0, FACE_Z], contype=0, conaffinity=0)

    def _forward(self) -> None:
        mujoco.mj_kinematics(self.model, self.data)
        mujoco.mj_camlight(self.model, self.data)

    # ---- people ---------------------------------------------------------------------------------------------------
    def _person(self, name: str) -> _Person:
        if name not in self._people:
            raise ConfigError(f"person {name!r} unknown; this world has {sorted(self._people)} "
                              "(pass every person to World(people=...))")
        return self._people[name]

    def set_person(self, name: str, x: float, y: float, yaw: float, face: str | None = None,
                   present: bool = True) -> None:
        """Place ``name`` standing at ``(x, y)`` (map, m), face pointing along ``yaw`` (map, rad).

        ``face`` switches the face photo (an expression change; it must be preloaded via ``faces_needed``);
        ``present=False`` moves the person out of sight.
        """
        p = self._person(name)
        if face is not None and face != p.face:
            check_face(face)
            if face not in self._mat:
                raise ConfigError(f"face {face!r} was not preloaded; pass it in World(faces_needed=[...]) "
                                  f"(loaded: {sorted(self._mat)}; known: {known_faces()})")
            self.model.geom_matid[p.plate] = self._mat[face]
            p.face = face
        p.present = bool(present)
        self.data.mocap_pos[p.mocap] = (x, y, 0.0) if present else _HIDDEN
        self.data.mocap_quat[p.mocap] = (math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2))
        self._forward()

    def set_head(self, name: str, yaw: float = 0.0, pitch: float = 0.0) -> None:
        """Turn ``name``'s head (face plate, skull) relative to the body: ``yaw`` rad counter-clockwise seen from
        above (towards the person's left), ``pitch`` rad nodding down; about a pivot at the top of the neck.

        A real 3D rotation of the flat face plate, for measuring head pose (the photo itself stays flat)."""
        self._person(name)
        pivot = np.array([0.0, 0.0, NECK_TOP_Z])
        q = np.zeros(4)
        qy = np.array([math.cos(yaw / 2), 0.0, 0.0, math.sin(yaw / 2)])
        qp = np.array([math.cos(pitch / 2), 0.0, math.sin(pitch / 2), 0.0])  # about +y: the face (+x) tips down
        mujoco.mju_mulQuat(q, qy, qp)
        rot = np.zeros(9)
        mujoco.mju_quat2Mat(rot, q)
        rot = rot.reshape(3, 3)
        for g, pos0, quat0 in self._head_geoms[name]:
            self.model.geom_pos[g] = pivot + rot @ (pos0 - pivot)
            out = np.zeros(4)
            mujoco.mju_mulQuat(out, q, quat0)
            self.model.geom_quat[g] = out
        self._forward()

    def face_pose_in_camera(self, name: str) -> tuple[np.ndarray, np.ndarray] | None:
        """The face plate's rotation and centre in OpenCV camera axes (x right, y down, z forward; m), the face's
        own axes as :mod:`vlm_robot.perception.face_model3d` (x to the viewer's right, y down, z into the head);
        None when absent. Ground truth for head pose."""
        p = self._person(name)
        if not p.present:
            return None
        cam = self.data.cam_xmat[self._cam].reshape(3, 3)
        cv = np.column_stack([cam[:, 0], -cam[:, 1], -cam[:, 2]])  # OpenCV camera axes in the world
        g = self.data.geom_xmat[p.plate].reshape(3, 3)
        face = np.column_stack([g[:, 1], -g[:, 2], -g[:, 0]])  # seen from +x: right = +y, down = -z, into = -x
        return cv.T @ face, cv.T @ (self.data.geom_xpos[p.plate] - self.data.cam_xpos[self._cam])

    def face_of(self, name: str) -> str:
        """The face id ``name`` currently shows."""
        return self._person(name).face

    def set_robot(self, x: float, y: float, yaw: float, pan: float = 0.0, tilt: float = 0.0) -> None:
        """Put the base at ``(x, y, yaw)`` (map, m, rad) and the head at ``pan``, ``tilt`` (rad, clipped to the
        URDF limits) at once, without driving there; any goal or velocity command is dropped."""
        self._goal, self._vel_until, self.goal_status = None, -1.0, "idle"
        q = self.data.qpos
        q[self._q["base_x"]], q[self._q["base_y"]], q[self._q["base_yaw"]] = x, y, _wrap(yaw)
        for j, v in (("head_pan", pan), ("head_tilt", tilt)):
            lo, hi, _ = self.limits[j]
            q[self._q[j]] = self._target[j] = float(np.clip(v, lo, hi))
        self._forward()

    def set_lighting(self, k: float) -> None:
        """Scale the room's lights and the camera's headlight to ``k`` times room.xml's brightness (> 0)."""
        if not k > 0:
            raise ConfigError(f"lighting factor must be > 0, got {k}")
        if not hasattr(self, "_light0"):
            self._light0 = (self.model.light_diffuse.copy(), self.model.vis.headlight.ambient.copy(),
                            self.model.vis.headlight.diffuse.copy())
        dif, amb, hdif = self._light0
        self.model.light_diffuse[:] = dif * k
        self.model.vis.headlight.ambient[:] = amb * k
        self.model.vis.headlight.diffuse[:] = hdif * k

    # ---- commands -------------------------------------------------------------------------------------------------
    def command_head(self, pan: float, tilt: float, speed: float | None = None) -> None:
        """Move the head toward ``pan``, ``tilt`` (rad; + pan looks left, + tilt looks down), clipped to the
        URDF limits, at ``speed`` rad/s per joint (default and maximum: the URDF velocity limit)."""
        for j, v in (("head_pan", pan), ("head_tilt", tilt)):
            lo, hi, vmax = self.limits[j]
            self._target[j] = float(np.clip(v, lo, hi))
            self._speed[j] = vmax if speed is None else float(np.clip(speed, 0.0, vmax))

    def command_goal(self, x: float, y: float, yaw: float, frame: str) -> None:
        """Drive the base to ``(x, y, yaw)``: in ``frame`` "map" (absolute) or "base_link" (relative to the
        base pose now); m and rad. Turns toward the goal, drives, then turns to ``yaw``. Cancels a velocity command."""
        if frame == "map":
            self._goal = (float(x), float(y), _wrap(yaw))
        elif frame == "base_link":
            bx, by, byaw = self.robot_pose()
            c, s = math.cos(byaw), math.sin(byaw)
            self._goal = (bx + c * x - s * y, by + s * x + c * y, _wrap(byaw + yaw))
        else:
            raise ConfigError(f"goal frame {frame!r} unknown; expected 'map' or 'base_link'")
        self._vel_until, self.goal_status = -1.0, "active"

    def command_velocity(self, vx: float, wz: float) -> None:
        """Drive at ``vx`` m/s forward and ``wz`` rad/s (clipped to the limits) for 0.5 s unless repeated.

        Cancels a goal. Forward motion still stops 0.4 m short of a person in the way."""
        self._vel = (float(np.clip(vx, -BASE_V, BASE_V)), float(np.clip(wz, -BASE_W, BASE_W)))
        self._vel_until = self.time + WATCHDOG_S
        if self._goal is not None:
            self._goal, self.goal_status = None, "canceled"

    def cancel(self) -> None:
        """Drop the goal and stop the base."""
        if self._goal is not None:
            self.goal_status = "canceled"
        self._goal, self._vel_until = None, -1.0

    # ---- time -----------------------------------------------------------------------------------------------------
    def step(self, dt: float) -> None:
        """Advance ``dt`` seconds: head joints toward their targets, base toward its goal or along its velocity."""
        if dt < 0:
            raise ConfigError(f"step dt must be >= 0 s, got {dt}")
        n = max(1, math.ceil(dt / _SUBSTEP - 1e-9))
        for _ in range(n if dt > 0 else 0):
            h = dt / n
            for j, tgt in self._target.items():
                q = self._q[j]
                self.data.qpos[q] += np.clip(tgt - self.data.qpos[q], -self._speed[j] * h, self._speed[j] * h)
            self._base_step(h)
            self.time += h
        self.data.time = self.time
        self._forward()

    def _free_ahead(self, x: float, y: float, yaw: float) -> float:
        """How far the base may drive straight ahead before coming within CLEARANCE of a present person (m)."""
        free = math.inf
        for p in self._people.values():
            if not p.present:
                continue
            px, py = self.data.mocap_pos[p.mocap][:2]
            a = (px - x) * math.cos(yaw) + (py - y) * math.sin(yaw)
            lat = -(px - x) * math.sin(yaw) + (py - y) * math.cos(yaw)
            r = ROBOT_R + PERSON_R + CLEARANCE
            if a > 0 and abs(lat) < r:
                free = min(free, max(0.0, a - math.sqrt(r * r - lat * lat)))
        return free

    def _base_step(self, h: float) -> None:
        qx, qy, qa = self._q["base_x"], self._q["base_y"], self._q["base_yaw"]
        x, y, yaw = self.robot_pose()
        v = w = 0.0
        if self._goal is not None:
            gx, gy, gyaw = self._goal
            dist = math.hypot(gx - x, gy - y)
            if dist > POS_TOL:
                err = _wrap(math.atan2(gy - y, gx - x) - yaw)
                w = float(np.clip(err / h, -BASE_W, BASE_W))
                if abs(err) < 0.05:  # facing the goal: drive (and keep correcting the heading)
                    v = min(BASE_V, dist / h, self._free_ahead(x, y, yaw) / h)
                    self.goal_status = "active" if v > 0 else "blocked"
            else:
                err = _wrap(gyaw - yaw)
                if abs(err) > YAW_TOL:
                    w = float(np.clip(err / h, -BASE_W, BASE_W))
                else:
                    self._goal, self.goal_status = None, "reached"
        elif self.time < self._vel_until - 1e-9:
            v, w = self._vel
            if v > 0:
                v = min(v, self._free_ahead(x, y, yaw) / h)
        self.data.qpos[qx] = x + v * h * math.cos(yaw)
        self.data.qpos[qy] = y + v * h * math.sin(yaw)
        self.data.qpos[qa] = _wrap(yaw + w * h)

    # ---- sensing --------------------------------------------------------------------------------------------------
    def render(self) -> np.ndarray:
        """The head camera's view: ``(height, width, 3)`` uint8 RGB (row 0 at the top)."""
        self._renderer.update_scene(self.data, camera=self._cam)
        return self._renderer.render()

    def robot_pose(self) -> tuple[float, float, float]:
        """Base pose in map: x, y (m), yaw (rad, in (-pi, pi])."""
        q = self.data.qpos
        return float(q[self._q["base_x"]]), float(q[self._q["base_y"]]), float(q[self._q["base_yaw"]])

    def head(self) -> tuple[float, float]:
        """Actual head joint angles: pan (+ left), tilt (+ down), rad."""
        return float(self.data.qpos[self._q["head_pan"]]), float(self.data.qpos[self._q["head_tilt"]])

    def focal_px(self) -> float:
        """The head camera's focal length in pixels (square pixels; principal point at the image centre)."""
        return (self.width / 2) / math.tan(math.radians(HFOV_DEG / 2))

    def _in_camera(self, name: str) -> np.ndarray | None:
        """``name``'s face centre in the camera frame (x right, y up, z backward: MuJoCo's), or None if absent."""
        p = self._person(name)
        if not p.present:
            return None
        c, r = self.data.cam_xpos[self._cam], self.data.cam_xmat[self._cam].reshape(3, 3)
        return r.T @ (self.data.geom_xpos[p.plate] - c)

    def face_pixel(self, name: str) -> tuple[float, float, float] | None:
        """Where ``name``'s face centre is in the image: ``(u, v, face width)`` in pixels, u right, v down.

        None when the person is absent, behind the camera or the centre is outside the image. Given
        whichever way the person looks (a face turned away is still at this pixel but not visible).
        """
        pc = self._in_camera(name)
        if pc is None or -pc[2] < 0.05:
            return None
        f, depth = self.focal_px(), -pc[2]
        u, v = self.width / 2 + f * pc[0] / depth, self.height / 2 - f * pc[1] / depth
        if not (0 <= u < self.width and 0 <= v < self.height):
            return None
        return float(u), float(v), float(f * FACE_WIDTH_M / depth)

    def bearing_to(self, name: str) -> float | None:
        """Horizontal angle of ``name``'s head from the camera's optical axis, rad, + left; None when absent."""
        pc = self._in_camera(name)
        return None if pc is None else float(math.atan2(-pc[0], -pc[2]))

    def close(self) -> None:
        """Free the renderer's GL context."""
        if getattr(self, "_renderer", None) is not None:
            self._renderer.close()
            self._renderer = None
