"""Head pose from the face mesh against ground truth in the simulated room: see main() and the text below.

Run: ``python -m vlm_robot.benchmarks.head_pose [--lfw]``.

One person stands in the MuJoCo room (:class:`vlm_robot.sim.world.World`) at 1.0 and 1.5 m, straight ahead and
0.3 m per metre to either side, with each catalogue photo on the face plate; the body is turned by a known yaw
(the plate turns in 3D with it) or the head is nodded by a known pitch (:meth:`World.set_head`). The truth is the
plate's rotation in the camera frame, taken relative to the line of sight exactly as the estimate is
(:func:`vlm_robot.perception.face_mesh.pose_angles`). Printed per angle: detections, valid poses, median
absolute yaw / pitch error, and the old nose-offset facing score next to the new one.

The face plate is a flat photograph: a real head's nose and cheeks shift against each other as it turns, a
plate's do not, so this measures the landmark model and the PnP fit on foreshortening alone (likely harder than a
real head for yaw, which is mostly read from the nose's parallax).

``--lfw``: scikit-image's LFW subset has no pose labels; it reports mirror consistency instead (the yaw of a
face and of its mirror image should sum to 0) and how many faces the mesh accepts.
``--reference``: rebuild :mod:`vlm_robot.perception.face_model3d` from the two frontal photographs.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import numpy as np

from vlm_robot.perception.face_mesh import FaceMesh, pose_angles

FACES = ("astronaut", "grace_hopper", "lfw:31", "lfw:72")
YAWS = (0, 15, -15, 30, -30, 45, -45, 50, -50, 60, -60)
PITCHES = (15, -15, 25, -25)


def _mesh_at(perceiver, mesh: FaceMesh, img: np.ndarray, where) -> tuple:
    """(detection, pose) of the face detected nearest ``where`` (u, v, width px), or (None, None)."""
    from vlm_robot.perception.faces import facing_score

    best = None
    for d in perceiver.faces.detect(img):
        bx, by, bw, bh = d.box
        dist = math.hypot(bx + bw / 2 - where[0], by + bh / 2 - where[1])
        if dist < max(where[2], 8) and (best is None or dist < best[0]):
            best = (dist, d)
    if best is None:
        return None, None, 0.0
    d = best[1]
    return d, mesh.estimate(img, d.box, d.keypoints), facing_score(d.keypoints)


def measure_room(faces=FACES, yaws=YAWS, pitches=PITCHES, distances=(1.0, 1.5), offsets=(-0.3, 0.0, 0.3),
                 width: int = 640, height: int = 480, relief: bool = True) -> list[dict]:
    """One row per render: the truth, the estimate and both facing scores (see the module docstring)."""
    from vlm_robot.perception.face_mesh import facing_from_pose
    from vlm_robot.perception.pipeline import Perceiver
    from vlm_robot.sim.world import World

    perceiver, mesh = Perceiver(), FaceMesh()
    rows = []
    for face in faces:  # one world per face: a relief is built for the face a person starts with
        world = World({"p": face}, width, height, relief=relief)
        try:
            poses = [(float(y), 0.0) for y in yaws] + [(0.0, float(p)) for p in pitches]
            for body_yaw, head_pitch in poses:
                for d in distances:
                    for off in offsets:
                        y = off * d
                        world.set_person("p", d, y, math.atan2(-y, -d) + math.radians(body_yaw))
                        world.set_head("p", 0.0, math.radians(head_pitch))
                        world.step(0.0)
                        r, t = world.face_pose_in_camera("p")
                        true = pose_angles(r, t)
                        where = world.face_pixel("p")
                        img = world.render()
                        row = {"face": face, "body_yaw": body_yaw, "head_pitch": head_pitch, "d": d, "off": off,
                               "true_yaw": true[0], "true_pitch": true[1], "true_roll": true[2], "detected": False,
                               "valid": False}
                        if where is not None:
                            det, pose, old = _mesh_at(perceiver, mesh, img, where)
                            if det is not None:
                                row.update(detected=True, old_facing=old, valid=pose.valid, reason=pose.reason)
                                if pose.valid:
                                    row.update(yaw=pose.yaw, pitch=pose.pitch, roll=pose.roll,
                                               eye_contact=pose.eye_contact, new_facing=facing_from_pose(pose),
                                               iris=pose.iris, **{f"ms_{k}": v for k, v in pose.ms.items()})
                        rows.append(row)
        finally:
            world.close()
    return rows


def _med(xs) -> float:
    return float(np.median(xs)) if len(xs) else float("nan")


def summarise(rows: list[dict]) -> str:
    out = [f"{'body yaw':>8} {'pitch':>5} {'n':>3} {'det':>4} {'valid':>5} {'true yaw':>8} {'yaw err':>7} "
           f"{'true pit':>8} {'pit err':>7} {'old facing':>10} {'new facing':>10} {'eye cont':>8}"]
    keys = sorted({(r["body_yaw"], r["head_pitch"]) for r in rows}, key=lambda k: (k[1] != 0, abs(k[0]), k[0], k[1]))
    for k in keys:
        rs = [r for r in rows if (r["body_yaw"], r["head_pitch"]) == k]
        det = [r for r in rs if r["detected"]]
        val = [r for r in rs if r["valid"]]
        out.append(
            f"{k[0]:>8.0f} {k[1]:>5.0f} {len(rs):>3} {len(det):>4} {len(val):>5} "
            f"{_med([r['true_yaw'] for r in rs]):>8.1f} {_med([abs(r['yaw'] - r['true_yaw']) for r in val]):>7.1f} "
            f"{_med([r['true_pitch'] for r in rs]):>8.1f} "
            f"{_med([abs(r['pitch'] - r['true_pitch']) for r in val]):>7.1f} "
            f"{np.mean([r['old_facing'] for r in det]) if det else float('nan'):>10.2f} "
            f"{np.mean([r['new_facing'] for r in val]) if val else float('nan'):>10.2f} "
            f"{np.mean([r['eye_contact'] for r in val]) if val else float('nan'):>8.2f}")
    within = [r for r in rows if r["valid"] and r["head_pitch"] == 0 and abs(r["body_yaw"]) <= 45]
    yaw_err = [abs(r["yaw"] - r["true_yaw"]) for r in within]
    signed = [r["yaw"] - r["true_yaw"] for r in within]
    pit = [r for r in rows if r["valid"] and r["head_pitch"] != 0]
    pit_err = [abs(r["pitch"] - r["true_pitch"]) for r in pit]
    ms = {k: _med([r[k] for r in rows if k in r]) for k in ("ms_mesh", "ms_pnp", "ms_iris")}
    out += [
        "",
        f"yaw within +-45 deg (pitch 0): {len(within)} valid poses of "
        f"{sum(1 for r in rows if r['head_pitch'] == 0 and abs(r['body_yaw']) <= 45)} renders; |yaw error| median "
        f"{_med(yaw_err):.1f} deg, 90th percentile {np.percentile(yaw_err, 90) if yaw_err else float('nan'):.1f}, "
        f"signed median {_med(signed):+.1f}",
        f"pitch +-15/25 deg: {len(pit)} valid; |pitch error| median {_med(pit_err):.1f} deg",
        "per face (yaw within +-45): " + ", ".join(
            f"{f} {_med([abs(r['yaw'] - r['true_yaw']) for r in within if r['face'] == f]):.1f}"
            for f in dict.fromkeys(r["face"] for r in rows)),
        "median ms per face: " + ", ".join(f"{k[3:]} {v:.2f}" for k, v in ms.items()),
    ]
    return "\n".join(out)


def lfw_mirror() -> str:
    """Mirror consistency on the astronaut and the LFW subset (no pose labels exist for them)."""
    import cv2

    from vlm_robot.perception.pipeline import Perceiver
    from vlm_robot.sim.scene import _face_photo

    perceiver, mesh = Perceiver(), FaceMesh()
    sums, yaws, found, valid = [], [], 0, 0
    for i in range(100):
        photo, _ = _face_photo(f"lfw:{i}")
        img = cv2.resize(photo, None, fx=2, fy=2, interpolation=cv2.INTER_CUBIC)
        got = []
        for im in (img, np.ascontiguousarray(img[:, ::-1])):
            dets = sorted(perceiver.faces.detect(im), key=lambda d: -d.score)
            if not dets:
                break
            got.append(mesh.estimate(im, dets[0].box, dets[0].keypoints))
        if len(got) == 2:
            found += 1
            if got[0].valid and got[1].valid:
                valid += 1
                sums.append(abs(got[0].yaw + got[1].yaw))
                yaws.append(abs(got[0].yaw - got[1].yaw) / 2)
    return (f"LFW subset (100 faces, 25 px upscaled to 240 px): detected in both orientations {found}, valid pose in "
            f"both {valid}; |yaw| median {_med(yaws):.1f} deg (max {max(yaws, default=float('nan')):.1f}); "
            f"mirror inconsistency |yaw + yaw_mirrored| median {_med(sums):.1f} deg, 90th percentile "
            f"{np.percentile(sums, 90) if sums else float('nan'):.1f} (no ground-truth pose exists for these photos)")


def timing(seconds: float = 2.0, rounds: int = 3) -> str:
    """Perception ms per 640x480 frame with two faces (sim/scenes/demo.yaml at 12 s), frames stamped at 30 fps:
    the mesh off, at its own rate (the defaults) and on every face of every frame, interleaved round by round."""
    from vlm_robot.core.types import Frame
    from vlm_robot.perception.pipeline import Perceiver, PerceptionConfig
    from vlm_robot.sim.scene import Scene

    scene = Scene.load(Path(__file__).resolve().parents[2] / "sim" / "scenes" / "demo.yaml")
    frames = [scene.render(12.0 + i / 30) for i in range(int(seconds * 30))]
    configs = {"mesh off": PerceptionConfig(mesh=False),
               "mesh at its rate (0.1 s, 2 a frame)": PerceptionConfig(),
               "mesh every face, every frame": PerceptionConfig(mesh_interval_s=0.0, mesh_max_per_frame=8)}
    perceivers = {k: Perceiver(c) for k, c in configs.items()}
    per_frame: dict[str, list[float]] = {k: [] for k in configs}
    stages: dict[str, list[float]] = {}
    stamp = 100.0
    for _ in range(rounds):
        for name, p in perceivers.items():
            for img in frames:
                stamp += 1 / 30
                t0 = time.perf_counter()
                r = p.process(Frame(img, stamp))
                per_frame[name].append((time.perf_counter() - t0) * 1000)
                if name == "mesh off":
                    stages.setdefault("detector", []).append(p.timings["detect"])
                    stages.setdefault("expression + descriptor (2 faces)", []).append(p.timings["rest"])
                assert len(r.faces) == 2
    mesh = perceivers["mesh every face, every frame"].mesh
    img, dets = frames[0], perceivers["mesh off"].faces.detect(frames[0])
    for _ in range(20 * rounds):
        for d in dets:
            pose = mesh.estimate(img, d.box, d.keypoints)
            for k, v in pose.ms.items():
                stages.setdefault({"mesh": "face mesh (2 passes)", "pnp": "PnP + angles",
                                   "iris": "iris (2 eyes)"}[k], []).append(v)
    lines = [f"{'configuration':<40}{'median ms':>10}{'mean ms':>8}{'p90 ms':>8}{'Hz (1/mean)':>13}"]
    for name, xs in per_frame.items():
        lines.append(f"{name:<40}{_med(xs):>10.1f}{np.mean(xs):>8.1f}{np.percentile(xs, 90):>8.1f}"
                     f"{1000 / np.mean(xs):>13.1f}")
    lines.append("median ms per stage: " + ", ".join(f"{k} {_med(v):.2f}" for k, v in stages.items()))
    lines.append(f"({len(frames)} frames x {rounds} rounds per configuration, interleaved; 1 LiteRT thread)")
    return "\n".join(lines)


def scene_turns(faces=("astronaut", "lfw:3", "lfw:55"), yaws=(0.0, 0.3, -0.3, 0.6, -0.6, 1.0, -1.0)) -> str:
    """How the 2D scenes' head turn (:func:`vlm_robot.sim.scene.turn_head`, 3D, and the former 2D warp) reads:
    the mesh's yaw, the old nose-offset facing and the new facing, face 100 px wide."""
    import cv2

    from vlm_robot.core.types import Frame
    from vlm_robot.perception.faces import facing_score
    from vlm_robot.perception.pipeline import Perceiver
    from vlm_robot.sim.scene import HEAD_TURN_DEG, _face_photo, turn_head, turn_head_2d

    perceiver = Perceiver()
    lines = [f"{'face':<10}{'turn':<5}{'yaw':>5}{'deg':>5}{'found':>6}{'mesh yaw':>9}{'old facing':>11}"
             f"{'new facing':>11}"]
    stamp = 0.0
    for face in faces:
        photo, box = _face_photo(face)
        k = 100.0 / box[2]
        for name, fn in (("3d", turn_head), ("2d", turn_head_2d)):
            for yaw in yaws:
                img = cv2.resize(fn(photo, box, yaw), None, fx=k, fy=k, interpolation=cv2.INTER_AREA)
                stamp += 10.0  # every frame meshes afresh
                r = perceiver.process(Frame(np.ascontiguousarray(img), stamp))
                f = max(r.faces, key=lambda f: f.score) if r.faces else None
                deg = f"{yaw * HEAD_TURN_DEG:.0f}" if name == "3d" else "-"
                if f is None:
                    lines.append(f"{face:<10}{name:<5}{yaw:>5.1f}{deg:>5}{'no':>6}")
                    continue
                mesh_yaw = f"{f.head_yaw:.1f}" if f.pose_valid else "-"
                lines.append(f"{face:<10}{name:<5}{yaw:>5.1f}{deg:>5}{'yes':>6}{mesh_yaw:>9}"
                             f"{facing_score(np.array(f.keypoints)):>11.2f}{f.facing:>11.2f}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--lfw", action="store_true", help="also the LFW mirror-consistency check")
    ap.add_argument("--faces", default=",".join(FACES))
    ap.add_argument("--flat", action="store_true", help="the flat photo plates only (no 3D relief)")
    ap.add_argument("--timing", action="store_true", help="only perception ms per frame, mesh off / on")
    ap.add_argument("--scene", action="store_true", help="only how the 2D scenes' head turns read")
    ap.add_argument("--reference", action="store_true", help="rebuild vlm_robot/perception/face_model3d.py")
    a = ap.parse_args(argv)
    if a.reference:
        from vlm_robot.perception import face_model3d

        path = Path(face_model3d.__file__)
        path.write_text(build_reference_source())
        print(f"wrote {path}")
        return 0
    t0 = time.perf_counter()
    if a.timing or a.scene:
        print(timing() if a.timing else scene_turns())
        return 0
    rows = measure_room(tuple(a.faces.split(",")), relief=not a.flat)
    print("face plates:", "flat photographs" if a.flat else "3D relief (the mesh model's depth of each photo)")
    print(summarise(rows))
    if a.lfw:
        print(lfw_mirror())
    print(f"({time.perf_counter() - t0:.0f} s)")
    return 0


# ---- the reference face -----------------------------------------------------------------------------------------
_PAIRS = ((33, 263), (133, 362), (61, 291), (159, 386), (145, 374), (1, 1), (0, 0), (10, 10), (152, 152), (13, 13),
          (14, 14), (4, 4), (6, 6), (168, 168))  # person's right / left landmark pairs and midline points


def _kabsch(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Rotation ``r`` minimising ``|r a_i - b_i|`` for centred ``(N, 3)`` point sets."""
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(vt.T @ u.T))
    return vt.T @ np.diag([1.0, 1.0, d]) @ u.T


def build_reference() -> tuple[np.ndarray, np.ndarray]:
    """The symmetric 468-point face (mm) and the indices of its rigid upper part; see face_model3d."""
    import cv2

    from vlm_robot.core.assets import DEMO_FACE_IMAGE
    from vlm_robot.perception.face_mesh import MESH_SIZE, ROI_SCALE, _crop_affine
    from vlm_robot.perception.faces import FaceDetector
    from vlm_robot.sim.faces import GRACE_HOPPER_IMAGE

    det, mesh = FaceDetector(), FaceMesh()
    mirror = np.diag([-1.0, 1.0, 1.0])
    ka, kb = np.array([a for a, _ in _PAIRS]), np.array([b for _, b in _PAIRS])
    shapes = []
    for path in (DEMO_FACE_IMAGE.path(), GRACE_HOPPER_IMAGE.path()):
        rgb = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        d = max(det.detect(rgb), key=lambda d: d.score)
        bx, by, bw, bh = d.box
        e = d.keypoints[1] - d.keypoints[0]
        a = _crop_affine((bx + bw / 2, by + bh / 2), max(bw, bh) * ROI_SCALE, math.atan2(e[1], e[0]), MESH_SIZE)
        p, _ = mesh._run_mesh(rgb, a)
        p = p - p.mean(0)
        p = p / np.linalg.norm(p[263] - p[33]) * 93.0
        for _ in range(4):  # rotate until the known pairs mirror each other across x = 0
            m = p @ mirror.T
            r2 = _kabsch(m[kb] - m[kb].mean(0), p[ka] - p[ka].mean(0))  # twice the yaw and roll
            rv, _ = cv2.Rodrigues(r2)
            r0, _ = cv2.Rodrigues(rv / 2)
            p = p @ r0
            p = p - np.array([((p[ka] + p[kb]).mean(0) / 2)[0], 0.0, 0.0])
        shapes.append(p)
    ref = np.mean(shapes, axis=0)
    m = ref @ mirror.T
    partner = np.linalg.norm(ref[:, None] - m[None], axis=2).argmin(1)
    if not np.all(partner[partner] == np.arange(len(ref))):
        raise RuntimeError("mirror partners are not mutual; the reference photos changed?")
    sym = (ref + m[partner]) / 2
    rigid = np.nonzero(sym[:, 1] < sym[0, 1] - 4.0)[0]  # above the upper lip (point 0)
    return sym, rigid


def build_reference_source() -> str:
    import textwrap

    from vlm_robot.perception import face_model3d

    sym, rigid = build_reference()
    doc = face_model3d.__doc__
    idx = textwrap.wrap(", ".join(str(i) for i in rigid), 112)
    pts = textwrap.wrap(", ".join("({:.1f}, {:.1f}, {:.1f})".format(*(v + 0.0 for v in np.round(sym[i], 1)))
                                  for i in rigid), 112)
    return "\n".join([f'"""{doc}"""', "", "import numpy as np", "", "# fmt: off", "RIGID_IDX = np.array([",
                      *("    " + s for s in idx), "])", "RIGID_POINTS = np.array([", *("    " + s for s in pts),
                      "], dtype=np.float64)", "# fmt: on", ""])


if __name__ == "__main__":
    raise SystemExit(main())
