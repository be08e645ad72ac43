"""The wire contract in one table: every topic, service and action of vlm_robot with its type and QoS.

README.md's "Topics" table is checked against :data:`TOPICS` (tests/test_interfaces.py); the recorder
records what this table names; nodes take names, types and QoS from here. No rclpy import: the table is
plain data, read by setup-time tools and tests as well as by the nodes (``nodes/common.py`` builds the
rclpy QoS profiles from the ``qos`` names).
"""

from __future__ import annotations

from dataclasses import dataclass

IMAGE = "/camera/image_raw"
TRANSCRIPT = "/speech/transcript"
PARTIAL_TRANSCRIPT = "/speech/partial"
VOICE_ACTIVITY = "/speech/voice_activity"
PEOPLE = "/vlm_robot/people"
PERSON_STATES = "/vlm_robot/person_states"
DECISION = "/vlm_robot/decision"
UTTERANCE = "/vlm_robot/utterance"
REPLY_CHUNK = "/vlm_robot/reply_chunk"
INTENT = "/vlm_robot/intent"
VERDICT = "/vlm_robot/intent_verdict"
APPROVED = "/vlm_robot/approved_intent"
ESTOP = "/vlm_robot/emergency_stop"
DND = "/vlm_robot/do_not_disturb"
CMD_VEL = "/cmd_vel"
HEAD_COMMAND = "/head/command"
GOAL_POSE = "/goal_pose"
CANCEL = "/vlm_robot/cancel"
SPEAKING = "/vlm_robot/speaking"
SPEECH_DONE = "/vlm_robot/speech_done"
VOICE_STYLE = "/vlm_robot/voice_style"
DIAGNOSTICS = "/diagnostics"
VQA_ANSWER = "/vlm_robot/vqa/answer"
SCENE_DESCRIPTION = "/vlm_robot/scene_description"
JOINT_STATES = "/joint_states"
# not topics: the question-answering action and the describe service of vlm_node
VQA_ACTION = "/vlm_robot/vqa"
DESCRIBE_SERVICE = "/vlm_robot/describe"

IFACE = "vlm_robot_interfaces"


@dataclass(frozen=True)
class Topic:
    """One topic: its ROS type (``pkg/msg/Name``), its QoS kind, and what it carries (the README's words).

    qos: ``event`` (reliable, depth 100: nothing said or decided is lost), ``state`` (reliable, transient
    local, depth 1: a late joiner gets the current value), ``image`` (latest frame wins) or ``sensor``
    (robot state: best-effort subscribers match any driver).
    """

    name: str
    type: str
    qos: str
    carries: str


TOPICS: tuple[Topic, ...] = (
    Topic(IMAGE, "sensor_msgs/msg/Image", "image", "the camera (rgb8, bgr8, rgba8, bgra8, mono8)"),
    Topic(TRANSCRIPT, f"{IFACE}/msg/Transcript", "event", "what a person said: text, speaker, final, speech start/end"),
    Topic(PARTIAL_TRANSCRIPT, f"{IFACE}/msg/Transcript", "event",
          "the speculative text at a pause (final = false; the final one follows with the same id)"),
    Topic(VOICE_ACTIVITY, "std_msgs/msg/Bool", "event", "true when a person starts speaking, false when the turn ends"),
    Topic(PEOPLE, f"{IFACE}/msg/People", "event",
          "faces: boxes, 6 keypoints, expression probabilities, facing, head pose and eye contact, "
          "re-identification descriptor; bodies: shoulder yaw, distance, gesture"),
    Topic(PERSON_STATES, f"{IFACE}/msg/PersonStates", "event",
          "tracked people: smoothed mood, head pose, motion, intention to interact and why, dwell, addressed, "
          "remembered name; the ids the frame caused"),
    Topic(DECISION, f"{IFACE}/msg/Decision", "event", "greet / reply / intent / silent, with a readable reason"),
    Topic(UTTERANCE, f"{IFACE}/msg/Utterance", "event",
          "what the robot says: text, kind (greeting, reply, error, question), reason, in_reply_to"),
    Topic(REPLY_CHUNK, f"{IFACE}/msg/ReplyChunk", "event", "the reply as the model streams it"),
    Topic(INTENT, f"{IFACE}/msg/Intent", "event", "an action intent: type, target, typed params, source, reason"),
    Topic(VERDICT, f"{IFACE}/msg/Verdict", "event", "the gate's verdict: the intent, approved, pending, reasons"),
    Topic(APPROVED, f"{IFACE}/msg/Intent", "event", "intents the gate approved"),
    Topic(ESTOP, "std_msgs/msg/Bool", "state", "true: only stop passes the gate"),
    Topic(DND, "std_msgs/msg/Bool", "state", "true: the robot speaks only when spoken to"),
    Topic(CMD_VEL, "geometry_msgs/msg/Twist", "event",
          "zero on stop; zero every 0.5 s while the emergency stop is engaged"),
    Topic(HEAD_COMMAND, "sensor_msgs/msg/JointState", "event", "head_pan, head_tilt for an approved look_at"),
    Topic(GOAL_POSE, "geometry_msgs/msg/PoseStamped", "event", "an approved approach or navigate goal"),
    Topic(CANCEL, "std_msgs/msg/Empty", "event", "stop and the emergency stop: cancel the navigation goal"),
    Topic(SPEAKING, "std_msgs/msg/Bool", "state", "true while the robot talks"),
    Topic(SPEECH_DONE, f"{IFACE}/msg/SpeechDone", "event",
          "an utterance was spoken: WAV path, duration, aborted and why (barge-in), streamed, first audio"),
    Topic(VOICE_STYLE, f"{IFACE}/msg/VoiceStyle", "state",
          "how the robot speaks, as a person asked: speaking-rate and loudness scales"),
    Topic(DIAGNOSTICS, "diagnostic_msgs/msg/DiagnosticArray", "event", "ERROR with what was expected and what arrived"),
    Topic(VQA_ANSWER, f"{IFACE}/msg/VisualAnswer", "event",
          "every finished answer of the vqa action: text or error, entities, backend, latency, frame stamps"),
    Topic(SCENE_DESCRIPTION, f"{IFACE}/msg/SceneDescription", "event",
          "text and entities, every describe_rate_hz (skipped, not queued, while the model is busy)"),
    Topic(JOINT_STATES, "sensor_msgs/msg/JointState", "sensor", "where the head points (from the robot or simulator)"),
)

BY_NAME: dict[str, Topic] = {t.name: t for t in TOPICS}
TOPIC_TYPES: dict[str, str] = {t.name: t.type for t in TOPICS}
"""topic -> ROS type of everything the stack publishes or reads (what the recorder records)."""

ACTIONS = {VQA_ACTION: f"{IFACE}/action/AnswerQuestion"}
SERVICES = {DESCRIBE_SERVICE: f"{IFACE}/srv/Describe"}


def message_class(msgtype: str):
    """The Python message class of ``pkg/msg/Name`` (or ``pkg/srv/..``, ``pkg/action/..``)."""
    import importlib

    pkg, kind, name = msgtype.split("/")
    return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
