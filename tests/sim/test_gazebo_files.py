"""The Gazebo files (sim/world/gazebo/, launch/sim_gazebo.launch.py) agree with the MuJoCo world, the URDF and
the stack's topics; and vlm_robot.sim.gz_head_adapter, run for real, steps head commands at the commanded speed.

No Gazebo here: the SDF, the plugin blocks and the launch file are checked by parsing them.
"""

from __future__ import annotations

import ast
import math
import re
import subprocess
import sys
import threading
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from vlm_robot.nodes import common
from vlm_robot.sim import gz_head_adapter

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "sim" / "world"
SDF = WORLD / "gazebo" / "room.sdf"
PLUGINS = WORLD / "gazebo" / "robot_plugins.xml"
LAUNCH = ROOT / "launch" / "sim_gazebo.launch.py"
TOL = 0.01  # m


def _vec(text: str | None, n: int = 3) -> list[float]:
    return [float(x) for x in (text or " ".join(["0"] * n)).split()]


def _mj_pose(el: ET.Element) -> list[float]:
    euler = _vec(el.get("euler"))
    assert euler[:2] == [0, 0], f"{el.get('name')}: only yaw rotations are mirrored"
    return _vec(el.get("pos")) + euler


def _sdf_pose(el: ET.Element) -> list[float]:
    return _vec(el.findtext("pose"), 6)


def _mj_full_size(g: ET.Element) -> list[float]:
    """MJCF half-sizes as SDF sizes, in the order the SDF geometry element lists them."""
    s, kind = _vec(g.get("size"), 1), g.get("type", "sphere")
    if kind == "cylinder":
        return [s[0], 2 * s[1]]
    return s if kind in ("sphere", "ellipsoid") else [2 * x for x in s[: 2 if kind == "plane" else 3]]


def _sdf_size(geometry: ET.Element) -> list[float]:
    (shape,) = list(geometry)
    if shape.tag == "cylinder":
        return [float(shape.findtext("radius")), float(shape.findtext("length"))]
    field = {"box": "size", "sphere": "radius", "ellipsoid": "radii", "plane": "size"}[shape.tag]
    return _vec(shape.findtext(field), 1)


def _close(a: list[float], b: list[float], tol: float = TOL) -> bool:
    return len(a) == len(b) and all(abs(x - y) <= tol for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def sdf_world() -> ET.Element:
    root = ET.parse(SDF).getroot()
    assert root.tag == "sdf" and tuple(map(int, root.get("version").split("."))) >= (1, 9)
    return root.find("world")


@pytest.fixture(scope="module")
def plugins() -> ET.Element:
    return ET.parse(PLUGINS).getroot()


@pytest.fixture(scope="module")
def urdf() -> ET.Element:
    return ET.parse(WORLD / "robot.urdf").getroot()


# ---- room.sdf ---------------------------------------------------------------------------------------------------
def test_every_mujoco_geom_and_body_has_a_counterpart_at_the_same_place(sdf_world):
    mj = ET.parse(WORLD / "room.xml").getroot().find("worldbody")
    models = {m.get("name"): m for m in sdf_world.findall("model")}

    def check_geoms(mj_parent: ET.Element, model: ET.Element) -> None:
        visuals = {v.get("name"): v for v in model.iter("visual")}
        for g in mj_parent.findall("geom"):
            v = visuals.get(g.get("name"))
            assert v is not None, f"{g.get('name')} missing from model {model.get('name')} in room.sdf"
            assert _close(_sdf_pose(v), _mj_pose(g)), g.get("name")
            assert _close(_sdf_size(v.find("geometry")), _mj_full_size(g), 0.001), g.get("name")

    check_geoms(mj, models["room"])  # the walls, floor, window ... (top-level geoms): one static model
    bodies = mj.findall("body")
    assert {b.get("name") for b in bodies} >= {"table", "chair_1", "chair_2", "shelf", "plant"}
    for b in bodies:
        model = models.get(b.get("name"))
        assert model is not None, f"body {b.get('name')} missing from room.sdf"
        assert model.findtext("static") == "true"
        assert _close(_sdf_pose(model), _mj_pose(b)), b.get("name")
        check_geoms(b, model)


def test_lights_and_world_systems(sdf_world):
    mj = ET.parse(WORLD / "room.xml").getroot().find("worldbody")
    lights = {lt.get("name"): _sdf_pose(lt)[:3] for lt in sdf_world.findall("light")}
    assert {lt.get("name"): _vec(lt.get("pos")) for lt in mj.findall("light")} == lights
    systems = {p.get("name"): p for p in sdf_world.findall("plugin")}
    for name, filename in (("Physics", "physics"), ("UserCommands", "user-commands"),
                           ("SceneBroadcaster", "scene-broadcaster"), ("Sensors", "sensors")):
        assert systems[f"gz::sim::systems::{name}"].get("filename") == f"gz-sim-{filename}-system"
    assert systems["gz::sim::systems::Sensors"].findtext("render_engine") == "ogre2"


def test_people_stand_in_the_free_area_with_a_textured_face(sdf_world):
    people = [m for m in sdf_world.findall("model") if m.get("name").startswith("person")]
    assert 1 <= len(people) <= 2
    for p in people:
        x, y, z, *_ = _sdf_pose(p)
        assert p.findtext("static") == "true" and 0.5 <= x <= 3.0 and abs(y) < 1.2 and z == 0
        face = next(v for v in p.iter("visual") if v.get("name") == "face")
        texture = face.findtext("material/pbr/metal/albedo_map")
        assert texture.startswith("textures/") and texture.endswith(".png")  # produced, not shipped
    assert not list((WORLD / "gazebo").rglob("*.png"))  # no binary images in the repository


# ---- robot_plugins.xml ------------------------------------------------------------------------------------------
def _systems(plugins: ET.Element, name: str) -> list[ET.Element]:
    found = [p for p in plugins.iter("plugin") if p.get("name") == f"gz::sim::systems::{name}"]
    kebab = re.sub(r"(?<!^)(?=[A-Z])", "-", name).lower()
    assert found and all(p.get("filename") == f"gz-sim-{kebab}-system" for p in found), name
    return found


def test_plugin_blocks_name_links_and_joints_of_the_urdf(plugins, urdf):
    links = {lk.get("name") for lk in urdf.findall("link")}
    joints = {j.get("name"): j for j in urdf.findall("joint")}
    blocks = plugins.findall("gazebo")
    assert blocks and all(g.get("reference", "base_link") in links for g in blocks)
    controlled = {}
    for p in _systems(plugins, "JointPositionController"):
        (name,) = [e.text for e in p.findall("joint_name")]
        assert joints[name].get("type") == "revolute"
        controlled[name] = p.findtext("topic")
        assert float(p.findtext("cmd_max")) == float(joints[name].find("limit").get("velocity"))
    assert controlled == {j: gz_head_adapter.TOPIC_FORMAT.format(joint=j) for j in gz_head_adapter.JOINTS}
    (jsp,) = _systems(plugins, "JointStatePublisher")
    assert {e.text for e in jsp.findall("joint_name")} == set(controlled)
    assert jsp.findtext("topic") == common.JOINT_STATES
    (vel,) = _systems(plugins, "VelocityControl")
    assert vel.findtext("topic") == common.CMD_VEL
    (odom,) = _systems(plugins, "OdometryPublisher")
    assert odom.findtext("robot_base_frame") == "base_link" and odom.findtext("odom_topic") == "/odom"


def test_camera_matches_the_mujoco_camera(plugins):
    (block,) = [g for g in plugins.findall("gazebo") if g.find("sensor[@type='camera']") is not None]
    assert block.get("reference") == "camera_link"
    sensor = block.find("sensor")
    src = (ROOT / "vlm_robot" / "sim" / "world.py").read_text()
    hfov_deg = float(re.search(r"^HFOV_DEG = ([\d.]+)", src, re.M).group(1))
    width, height = map(int, re.search(r"width: int = (\d+), height: int = (\d+)", src).groups())
    assert float(sensor.findtext("camera/horizontal_fov")) == pytest.approx(math.radians(hfov_deg), abs=1e-4)
    assert (int(sensor.findtext("camera/image/width")), int(sensor.findtext("camera/image/height"))) == (width, height)
    assert float(sensor.findtext("update_rate")) == 10
    assert "/" + sensor.findtext("topic").lstrip("/") == common.IMAGE
    assert sensor.findtext("gz_frame_id") == "camera_optical_frame"


# ---- launch/sim_gazebo.launch.py --------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def launch_tree() -> ast.Module:
    return ast.parse(LAUNCH.read_text())


def _calls(tree: ast.AST, name: str) -> list[ast.Call]:
    return [c for c in ast.walk(tree) if isinstance(c, ast.Call) and getattr(c.func, "id", "") == name]


def _kw(call: ast.Call) -> dict[str, ast.expr]:
    return {k.arg: k.value for k in call.keywords}


def test_launch_file_declares_its_arguments_and_starts_the_simulation(launch_tree):
    assert {c.args[0].value for c in _calls(launch_tree, "DeclareLaunchArgument")} == {"world", "headless", "record"}
    nodes = {(_kw(c)["package"].value, _kw(c)["executable"].value) for c in _calls(launch_tree, "Node")}
    assert nodes == {("ros_gz_sim", "create"), ("robot_state_publisher", "robot_state_publisher"),
                     ("ros_gz_bridge", "parameter_bridge")}
    (proc,) = _calls(launch_tree, "ExecuteProcess")
    cmd = [e.value for e in _kw(proc)["cmd"].elts]
    assert cmd[:3] == ["python3", "-m", "vlm_robot.sim.gz_head_adapter"] and "use_sim_time:=true" in cmd
    src = LAUNCH.read_text()
    for needle in ('"gz_sim.launch.py"', '"bringup.launch.py"', '"camera_node"', 'name="use_sim_time", value=True',
                   '"robot.urdf"', '"robot_plugins.xml"', '"room.sdf"', "-s --headless-rendering"):
        assert needle in src, needle
    assert (LAUNCH.resolve().parent.parent / "sim" / "world" / "gazebo" / "room.sdf").is_file()  # WORLD_DIR default


def test_launch_file_bridges_the_stack_topics(launch_tree):
    (assign,) = [n for n in launch_tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "BRIDGE"]
    bridged = {}
    for spec in ast.literal_eval(assign.value):
        topic, ros_type, direction, _gz = re.fullmatch(r"(/[\w/]+)@([\w/]+)([\[\]@])(gz\.msgs\.\w+)", spec).groups()
        bridged[topic] = (ros_type, direction)
    head = {gz_head_adapter.TOPIC_FORMAT.format(joint=j): ("std_msgs/msg/Float64", "]") for j in gz_head_adapter.JOINTS}
    assert bridged == {
        common.IMAGE: ("sensor_msgs/msg/Image", "["), "/camera/camera_info": ("sensor_msgs/msg/CameraInfo", "["),
        common.CMD_VEL: ("geometry_msgs/msg/Twist", "]"), common.JOINT_STATES: ("sensor_msgs/msg/JointState", "["),
        "/odom": ("nav_msgs/msg/Odometry", "["), "/tf": ("tf2_msgs/msg/TFMessage", "["),
        "/clock": ("rosgraph_msgs/msg/Clock", "["), **head,
    }


def test_robot_description_inserts_the_plugin_blocks_into_the_urdf(launch_tree, urdf, plugins):
    (fn,) = [n for n in launch_tree.body if isinstance(n, ast.FunctionDef) and n.name == "robot_description"]
    ns = {"ET": ET, "Path": Path}
    exec(compile(ast.Module(body=[fn], type_ignores=[]), str(LAUNCH), "exec"), ns)  # the launch file's own code
    merged = ET.fromstring(ns["robot_description"](WORLD / "robot.urdf", PLUGINS))
    assert merged.tag == "robot" and merged.get("name") == urdf.get("name")
    assert [e.get("name") for e in merged.findall("link")] == [e.get("name") for e in urdf.findall("link")]
    assert len(merged.findall("gazebo")) == len(plugins.findall("gazebo")) + len(urdf.findall("gazebo"))
    assert merged.find("gazebo/sensor/camera/horizontal_fov") is not None


# ---- gz_head_adapter, for real ----------------------------------------------------------------------------------
def test_step_toward():
    assert gz_head_adapter.step_toward(0.0, 0.3, 0.5, 0.05) == pytest.approx(0.025)
    assert gz_head_adapter.step_toward(0.29, 0.3, 0.5, 0.05) == 0.3
    assert gz_head_adapter.step_toward(0.0, -1.0, 1.0, 0.05) == pytest.approx(-0.05)


@pytest.mark.graph
def test_head_adapter_steps_commands_at_the_commanded_speed(tmp_path):
    import rclpy
    from rclpy.executors import SingleThreadedExecutor
    from sensor_msgs.msg import JointState
    from std_msgs.msg import Float64

    log = (tmp_path / "adapter.log").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "vlm_robot.sim.gz_head_adapter"], stdout=log,
                            stderr=subprocess.STDOUT)
    ctx = rclpy.Context()
    rclpy.init(context=ctx)
    node = rclpy.create_node("gz_head_adapter_test", context=ctx)
    ex = SingleThreadedExecutor(context=ctx)
    ex.add_node(node)
    spin = threading.Thread(target=ex.spin, daemon=True)
    spin.start()
    got: dict[str, list[tuple[float, float]]] = {j: [] for j in gz_head_adapter.JOINTS}
    try:
        for j in gz_head_adapter.JOINTS:
            node.create_subscription(Float64, gz_head_adapter.TOPIC_FORMAT.format(joint=j),
                                     lambda m, j=j: got[j].append((time.monotonic(), m.data)), common.EVENT_QOS)
        cmd = node.create_publisher(JointState, common.HEAD_COMMAND, common.EVENT_QOS)
        states = node.create_publisher(JointState, common.JOINT_STATES, common.SENSOR_QOS)

        def until(cond, timeout: float) -> bool:
            end = time.monotonic() + timeout
            while time.monotonic() < end and not cond():
                time.sleep(0.02)
            return cond()

        matched = lambda: (cmd.get_subscription_count() and states.get_subscription_count()  # noqa: E731
                           and all(node.count_publishers(gz_head_adapter.TOPIC_FORMAT.format(joint=j))
                                   for j in gz_head_adapter.JOINTS))
        assert until(matched, 20), f"adapter not discovered; its log:\n{(tmp_path / 'adapter.log').read_text()}"
        time.sleep(0.5)
        for _ in range(5):  # the tilt joint is at 0.2 rad: it starts from there, the pan joint from 0
            states.publish(JointState(name=["head_tilt"], position=[0.2]))
            time.sleep(0.05)
        time.sleep(0.3)
        cmd.publish(JointState(name=["head_pan", "head_tilt"], position=[0.3, 0.1], velocity=[0.5, 1.0]))
        assert until(lambda: got["head_pan"] and got["head_pan"][-1][1] == pytest.approx(0.3)
                     and got["head_tilt"] and got["head_tilt"][-1][1] == pytest.approx(0.1), 5), got
        pan = [v for _, v in got["head_pan"]]
        assert pan == pytest.approx([0.025 * (i + 1) for i in range(12)])  # 0.5 rad/s at 20 Hz
        assert [v for _, v in got["head_tilt"]] == pytest.approx([0.15, 0.1])  # 1.0 rad/s from 0.2
        span = got["head_pan"][-1][0] - got["head_pan"][0][0]
        assert 0.3 < span < 1.2, span  # 11 ticks of 50 ms
        time.sleep(0.3)
        assert len(got["head_pan"]) == 12  # nothing more once the target is reached

        n = len(got["head_pan"])
        cmd.publish(JointState(name=["head_pan"], position=[0.0], velocity=[10.0]))  # capped at max_speed
        assert until(lambda: got["head_pan"][-1][1] == pytest.approx(0.0), 5)
        step = gz_head_adapter.MAX_SPEED / gz_head_adapter.RATE_HZ
        assert [v for _, v in got["head_pan"][n:]] == pytest.approx([0.3 - step * (i + 1) for i in range(3)] + [0.0])
    finally:
        ex.shutdown(timeout_sec=1.0)
        spin.join(timeout=2.0)
        node.destroy_node()
        rclpy.try_shutdown(context=ctx)
        proc.terminate()
        rc = proc.wait(timeout=10)
        log.close()
    assert rc == 0, (tmp_path / "adapter.log").read_text()
