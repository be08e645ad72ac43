"""The lockstep replay plays inputs in the order they happened, not the order the recorder wrote them."""

from rclpy.serialization import serialize_message
from sensor_msgs.msg import Image, JointState
from std_msgs.msg import Bool

from vlm_robot.bag import BagWriter
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.convert import stamp_msg
from vlm_robot.nodes.topics import TOPIC_TYPES
from vlm_robot.sim.replay_lockstep import ordered_inputs


def _image(t):
    msg = Image(height=1, width=1, encoding="rgb8", step=3, data=b"\x00\x00\x00")
    msg.header.stamp = stamp_msg(t)
    return msg


def _joints(t, pan):
    msg = JointState(name=["head_pan", "head_tilt"], position=[pan, 0.0])
    msg.header.stamp = stamp_msg(t)
    return msg


def test_frames_follow_the_joint_state_of_their_moment_and_speech_follows_the_frame(tmp_path):
    w = BagWriter(tmp_path / "bag")
    for topic in (common.IMAGE, common.JOINT_STATES, common.TRANSCRIPT, common.DND):
        w.add_topic(topic, TOPIC_TYPES[topic])
    said = messages.to_msg("transcript", {"text": "hi", "stamp": 0.2, "id": "a"})
    # as the recorder's callbacks happened to run: frame 0.2 before its joint state, speech before the frame
    written = [(common.DND, Bool(data=True)), (common.JOINT_STATES, _joints(0.0, 0.0)), (common.IMAGE, _image(0.0)),
               (common.TRANSCRIPT, said), (common.IMAGE, _image(0.2)), (common.JOINT_STATES, _joints(0.2, 0.3))]
    for i, (topic, msg) in enumerate(written):
        w.write(topic, 1_000 + i, serialize_message(msg))
    w.close()
    order = [m.topic for m in ordered_inputs(tmp_path / "bag")]
    assert order == [common.DND, common.JOINT_STATES, common.IMAGE, common.JOINT_STATES, common.IMAGE,
                     common.TRANSCRIPT]
