"""The one place that converts between vlm_robot_interfaces messages and the core's plain values.

``to_msg(kind, body)`` builds the typed message of a payload kind from the dict the core produces
(``Utterance.to_dict()``, ``PerceptionResult.to_dict()``...); ``from_msg(kind, msg)`` checks a received
message field by field and returns the same dict shape, so the core stays ROS-free. Every check that
fails raises :class:`InvalidInputError` naming the field, what was expected and what arrived.
:func:`subscribe` wraps both for a node: it takes the raw bytes, deserializes them, checks them and
reports any failure as one /diagnostics ERROR, so that no message can crash a node.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import KeyValue
from rclpy.serialization import deserialize_message

from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.types import EXPRESSIONS, GESTURES, INTENT_TYPES, MOTIONS
from vlm_robot.nodes import topics
from vlm_robot_interfaces.msg import (
    Body,
    Box,
    Decision,
    Entity,
    Face,
    IntentParam,
    Keypoint,
    People,
    PersonState,
    PersonStates,
    ReplyChunk,
    SceneDescription,
    SpeechDone,
    Transcript,
    Utterance,
    Verdict,
    VisualAnswer,
    VoiceStyle,
)
from vlm_robot_interfaces.msg import Intent as IntentMsg

MAX_FACES = 64
MAX_PEOPLE = 64
MAX_KEYPOINTS = 32
MAX_BODY_KEYPOINTS = 64
MAX_BODIES = 64
MAX_DESCRIPTOR = 1024
MAX_TEXT = 10_000
MAX_LIST = 256

# payload kind -> message class
CLASSES: dict[str, type] = {
    "people": People, "person_states": PersonStates, "decision": Decision, "utterance": Utterance,
    "reply_chunk": ReplyChunk, "transcript": Transcript, "intent": IntentMsg, "verdict": Verdict,
    "speech_done": SpeechDone, "scene_description": SceneDescription, "vqa_answer": VisualAnswer,
    "voice_style": VoiceStyle,
}
KIND_OF_TOPIC: dict[str, str] = {
    topics.TRANSCRIPT: "transcript", topics.PARTIAL_TRANSCRIPT: "transcript", topics.PEOPLE: "people",
    topics.PERSON_STATES: "person_states", topics.DECISION: "decision", topics.UTTERANCE: "utterance",
    topics.REPLY_CHUNK: "reply_chunk", topics.INTENT: "intent", topics.VERDICT: "verdict",
    topics.APPROVED: "intent", topics.SPEECH_DONE: "speech_done", topics.SCENE_DESCRIPTION: "scene_description",
    topics.VQA_ANSWER: "vqa_answer", topics.VOICE_STYLE: "voice_style",
}
UTTERANCE_KINDS = ("greeting", "reply", "error", "question")
DECISION_ACTIONS = ("greet", "reply", "silent", "intent")


# --- time -------------------------------------------------------------------------------------------------

def to_time(t: float | None) -> Time:
    """Seconds (float) -> builtin_interfaces/Time (negative times too: simulations start before 0);
    None or a non-finite value -> zero."""
    if t is None or not math.isfinite(t):
        return Time()
    sec = math.floor(t)
    nanosec = round((t - sec) * 1e9)
    if nanosec >= 1_000_000_000:
        sec, nanosec = sec + 1, nanosec - 1_000_000_000
    return Time(sec=sec, nanosec=nanosec)


def seconds(t: Time) -> float:
    return t.sec + t.nanosec * 1e-9


# --- checks -----------------------------------------------------------------------------------------------

def _bad(kind: str, field: str, expected: str, got: Any) -> InvalidInputError:
    shown = repr(got)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidInputError(f"{kind}: field {field} must be {expected}, got {shown}")


def _finite(kind: str, field: str, v: float, lo: float = -math.inf, hi: float = math.inf) -> float:
    v = float(v)
    if not math.isfinite(v) or v < lo or v > hi:
        rng = "finite" if (lo, hi) == (-math.inf, math.inf) else f"a finite number in [{lo:g}, {hi:g}]"
        raise _bad(kind, field, rng, v)
    return v


def _text(kind: str, field: str, s: str, max_len: int = MAX_TEXT, required: bool = False) -> str:
    if required and not s.strip():
        raise _bad(kind, field, "non-empty text", s)
    if len(s) > max_len:
        raise _bad(kind, field, f"at most {max_len} characters", f"{len(s)} characters")
    return s


def _count(kind: str, field: str, seq, max_len: int) -> None:
    if len(seq) > max_len:
        raise _bad(kind, field, f"at most {max_len} entries", f"{len(seq)} entries")


def _box_to(b) -> Box:
    x, y, w, h = (float(v) for v in b)
    return Box(x=x, y=y, width=w, height=h)


def _box_from(kind: str, field: str, b: Box) -> list[float]:
    x = _finite(kind, f"{field}.x", b.x)
    y = _finite(kind, f"{field}.y", b.y)
    w = _finite(kind, f"{field}.width", b.width, 0.0)
    h = _finite(kind, f"{field}.height", b.height, 0.0)
    return [x, y, w, h]


def _scores_to(scores: dict[str, float] | list[float] | tuple) -> list[float]:
    if isinstance(scores, dict):
        return [float(scores.get(k, 0.0)) for k in EXPRESSIONS] if scores else []
    return [float(v) for v in scores]


def _scores_from(kind: str, field: str, values) -> dict[str, float]:
    if len(values) == 0:
        return {}
    if len(values) != len(EXPRESSIONS):
        raise _bad(kind, field, f"{len(EXPRESSIONS)} probabilities ({', '.join(EXPRESSIONS)}) or none",
                   f"{len(values)} values")
    return {k: _finite(kind, f"{field}[{i}]", v, 0.0, 1.0) for i, (k, v) in enumerate(zip(EXPRESSIONS, values,
                                                                                         strict=True))}


def _person_id_to(pid: int | None) -> int:
    return -1 if pid is None else int(pid)


def _person_id_from(pid: int) -> int | None:
    return None if pid < 0 else int(pid)


# --- kinds --------------------------------------------------------------------------------------------------

_POSE_RANGES = (("head_yaw", -180.0, 180.0), ("head_pitch", -90.0, 90.0), ("head_roll", -180.0, 180.0),
                ("eye_contact", 0.0, 1.0), ("eyes_open", 0.0, math.inf), ("mouth_open", 0.0, math.inf))
_POSE = tuple(n for n, _, _ in _POSE_RANGES)


def _people_to(d: dict) -> People:
    m = People(width=int(d["width"]), height=int(d["height"]), latency_ms=float(d.get("latency_ms", 0.0)))
    m.header.stamp = to_time(d["stamp"])
    m.header.frame_id = str(d.get("frame_id", "camera"))
    for f in d["faces"]:
        m.faces.append(Face(
            box=_box_to(f["box"]), score=float(f["score"]),
            keypoints=[Keypoint(x=float(x), y=float(y)) for x, y in f.get("keypoints", [])],
            expression=str(f.get("expression", "neutral")),
            expression_scores=_scores_to(f.get("expression_scores") or {}),
            facing=float(f.get("facing", 1.0)), descriptor=[float(v) for v in f.get("descriptor") or ()],
            pose_valid=bool(f.get("pose_valid", False)), **{k: float(f.get(k, 0.0)) for k in _POSE}))
    for b in d.get("bodies") or ():
        ox, oy, dx, dy = (float(v) for v in b.get("point") or (0.0, 0.0, 0.0, 0.0))
        m.bodies.append(Body(
            box=_box_to(b["box"]), score=float(b["score"]), pose_valid=bool(b.get("pose_valid", False)),
            keypoints=[Keypoint(x=float(x), y=float(y)) for x, y in b.get("keypoints", [])],
            visibility=[float(v) for v in b.get("visibility", [])],
            shoulders_valid=bool(b.get("shoulders_valid", False)),
            shoulder_yaw_deg=float(b.get("shoulder_yaw_deg", 0.0)), distance_m=float(b.get("distance_m", 0.0)),
            face_index=int(b.get("face_index", -1)), gesture=str(b.get("gesture", "none")),
            hands=int(b.get("hands", 0)), point_origin=Keypoint(x=ox, y=oy), point_dx=dx, point_dy=dy,
            age_s=float(b.get("age_s", 0.0))))
    return m


def _bodies_from(k: str, bodies, n_faces: int) -> list[dict]:
    _count(k, "bodies", bodies, MAX_BODIES)
    out = []
    for i, b in enumerate(bodies):
        p = f"bodies[{i}]"
        _count(k, f"{p}.keypoints", b.keypoints, MAX_BODY_KEYPOINTS)
        if len(b.visibility) != len(b.keypoints):
            raise _bad(k, f"{p}.visibility", f"one value per keypoint ({len(b.keypoints)})",
                       f"{len(b.visibility)} values")
        gesture = b.gesture or "none"
        if gesture not in GESTURES:
            raise _bad(k, f"{p}.gesture", f"one of {', '.join(GESTURES)}", b.gesture)
        if not -1 <= b.face_index < n_faces:
            raise _bad(k, f"{p}.face_index", f"-1 or an index into faces (0..{n_faces - 1})", b.face_index)
        body: dict[str, Any] = {
            "box": _box_from(k, f"{p}.box", b.box), "score": _finite(k, f"{p}.score", b.score, 0.0, 1.0),
            "pose_valid": bool(b.pose_valid),
            "keypoints": [[_finite(k, f"{p}.keypoints[{j}].x", q.x), _finite(k, f"{p}.keypoints[{j}].y", q.y)]
                          for j, q in enumerate(b.keypoints)],
            "visibility": [_finite(k, f"{p}.visibility[{j}]", v, 0.0, 1.0) for j, v in enumerate(b.visibility)],
            "shoulders_valid": bool(b.shoulders_valid),
            "shoulder_yaw_deg": _finite(k, f"{p}.shoulder_yaw_deg", b.shoulder_yaw_deg, -180.0, 180.0),
            "distance_m": _finite(k, f"{p}.distance_m", b.distance_m, 0.0, 1000.0),
            "face_index": int(b.face_index), "gesture": gesture, "hands": int(b.hands),
            "point": [0.0, 0.0, 0.0, 0.0], "age_s": _finite(k, f"{p}.age_s", b.age_s, 0.0, 3600.0),
        }
        if gesture == "point":
            ox = _finite(k, f"{p}.point_origin.x", b.point_origin.x)
            oy = _finite(k, f"{p}.point_origin.y", b.point_origin.y)
            dx = _finite(k, f"{p}.point_dx", b.point_dx, -1.0, 1.0)
            dy = _finite(k, f"{p}.point_dy", b.point_dy, -1.0, 1.0)
            if abs(math.hypot(dx, dy) - 1.0) > 0.01:
                raise _bad(k, f"{p}.point_dx/point_dy", "a unit direction", (dx, dy))
            body["point"] = [ox, oy, dx, dy]
        out.append(body)
    return out


def _people_from(m: People) -> dict:
    k = "people"
    _count(k, "faces", m.faces, MAX_FACES)
    faces = []
    for i, f in enumerate(m.faces):
        p = f"faces[{i}]"
        _count(k, f"{p}.keypoints", f.keypoints, MAX_KEYPOINTS)
        _count(k, f"{p}.descriptor", f.descriptor, MAX_DESCRIPTOR)
        if f.expression and f.expression not in EXPRESSIONS:
            raise _bad(k, f"{p}.expression", f"one of {', '.join(EXPRESSIONS)}", f.expression)
        face = {
            "box": _box_from(k, f"{p}.box", f.box), "score": _finite(k, f"{p}.score", f.score, 0.0, 1.0),
            "keypoints": [[_finite(k, f"{p}.keypoints[{j}].x", q.x), _finite(k, f"{p}.keypoints[{j}].y", q.y)]
                          for j, q in enumerate(f.keypoints)],
            "expression": f.expression or "neutral",
            "expression_scores": _scores_from(k, f"{p}.expression_scores", f.expression_scores),
            "facing": _finite(k, f"{p}.facing", f.facing, 0.0, 1.0),
        }
        if len(f.descriptor):
            face["descriptor"] = [_finite(k, f"{p}.descriptor", v) for v in f.descriptor]
        if f.pose_valid:
            face["pose_valid"] = True
            for name, lo, hi in _POSE_RANGES:
                face[name] = _finite(k, f"{p}.{name}", getattr(f, name), lo, hi)
        faces.append(face)
    if m.width == 0 or m.height == 0:
        raise _bad(k, "width/height", "the image size in pixels (both > 0)", f"{m.width}x{m.height}")
    out = {"stamp": seconds(m.header.stamp), "frame_id": m.header.frame_id or "camera", "width": m.width,
           "height": m.height, "faces": faces, "latency_ms": _finite(k, "latency_ms", m.latency_ms, 0.0)}
    if len(m.bodies):  # without bodies the dict looks as it did before them
        out["bodies"] = _bodies_from(k, m.bodies, len(faces))
    return out


def _person_states_to(d: dict) -> PersonStates:
    m = PersonStates()
    m.header.stamp = to_time(d["stamp"])
    m.header.frame_id = str(d.get("frame_id", "camera"))
    for p in d["people"]:
        at = p.get("addressed_at")
        m.people.append(PersonState(
            id=int(p["id"]), box=_box_to(p["box"]), mood=str(p.get("mood", "neutral")),
            mood_confidence=float(p.get("mood_confidence", 0.0)), facing=float(p.get("facing", 1.0)),
            distance_m=float(p.get("distance_m", 0.0)), dwell_s=float(p.get("dwell_s", 0.0)),
            text_sentiment=float(p.get("text_sentiment", 0.0)), addressed=at is not None, addressed_at=to_time(at),
            observations=int(p.get("observations", 0)), name=str(p.get("name") or ""),
            remembered_turns=int(p.get("remembered_turns", 0)), head_pose_valid=bool(p.get("pose_valid", False)),
            head_yaw=float(p.get("head_yaw", 0.0)), head_pitch=float(p.get("head_pitch", 0.0)),
            eye_contact=float(p.get("eye_contact", 0.0)), motion=str(p.get("motion") or ""),
            intention=float(p.get("intention", 0.0)), intention_reason=str(p.get("intention_reason") or ""),
            waved=p.get("waved_at") is not None, waved_at=to_time(p.get("waved_at"))))
    caused = d.get("caused") or {}
    m.caused_utterances = [str(u) for u in caused.get("utterances", [])]
    m.caused_intents = [str(i) for i in caused.get("intents", [])]
    return m


def _person_states_from(m: PersonStates) -> dict:
    k = "person_states"
    _count(k, "people", m.people, MAX_PEOPLE)
    people = []
    for i, p in enumerate(m.people):
        f = f"people[{i}]"
        people.append({
            "id": p.id, "box": _box_from(k, f"{f}.box", p.box), "mood": p.mood,
            "mood_confidence": _finite(k, f"{f}.mood_confidence", p.mood_confidence, 0.0, 1.0),
            "facing": _finite(k, f"{f}.facing", p.facing, 0.0, 1.0),
            "distance_m": _finite(k, f"{f}.distance_m", p.distance_m, 0.0),
            "dwell_s": _finite(k, f"{f}.dwell_s", p.dwell_s, 0.0),
            "text_sentiment": _finite(k, f"{f}.text_sentiment", p.text_sentiment, -1.0, 1.0),
            "addressed_at": seconds(p.addressed_at) if p.addressed else None,
            "observations": p.observations, "name": p.name or None, "remembered_turns": p.remembered_turns,
            "pose_valid": p.head_pose_valid,
            "head_yaw": _finite(k, f"{f}.head_yaw", p.head_yaw, -180.0, 180.0),
            "head_pitch": _finite(k, f"{f}.head_pitch", p.head_pitch, -90.0, 90.0),
            "eye_contact": _finite(k, f"{f}.eye_contact", p.eye_contact, 0.0, 1.0),
            "motion": _motion_from(k, f"{f}.motion", p.motion),
            "intention": _finite(k, f"{f}.intention", p.intention, 0.0, 1.0),
            "intention_reason": p.intention_reason,
            "waved_at": seconds(p.waved_at) if p.waved else None,
        })
    return {"stamp": seconds(m.header.stamp), "frame_id": m.header.frame_id, "people": people,
            "caused": {"utterances": list(m.caused_utterances), "intents": list(m.caused_intents)}}


def _motion_from(kind: str, field: str, motion: str) -> str:
    if motion and motion not in MOTIONS:
        raise _bad(kind, field, f"empty or one of {', '.join(MOTIONS)}", motion)
    return motion


def _detail_value(v: str) -> Any:
    """A detail value back as a number where it was one (the reasons' evidence: scores, thresholds)."""
    try:
        return int(v)
    except ValueError:
        pass
    try:
        f = float(v)
        return f if math.isfinite(f) else v
    except ValueError:
        return v


def _decision_to(d: dict) -> Decision:
    m = Decision(action=str(d["action"]), reason=str(d["reason"]), person_id=_person_id_to(d.get("person_id")))
    m.header.stamp = to_time(d["stamp"])
    m.detail = [KeyValue(key=str(key), value=str(v)) for key, v in (d.get("detail") or {}).items()]
    return m


def _decision_from(m: Decision) -> dict:
    k = "decision"
    if m.action not in DECISION_ACTIONS:
        raise _bad(k, "action", f"one of {', '.join(DECISION_ACTIONS)}", m.action)
    _count(k, "detail", m.detail, MAX_LIST)
    return {"action": m.action, "reason": _text(k, "reason", m.reason), "stamp": seconds(m.header.stamp),
            "person_id": _person_id_from(m.person_id), "detail": {kv.key: _detail_value(kv.value) for kv in m.detail}}


def _utterance_to(d: dict) -> Utterance:
    m = Utterance(id=str(d.get("id", "")), text=str(d["text"]), kind=str(d["kind"]), reason=str(d.get("reason", "")),
                  person_id=_person_id_to(d.get("person_id")), in_reply_to=str(d.get("in_reply_to", "")))
    m.header.stamp = to_time(d.get("stamp"))
    return m


def _utterance_from(m: Utterance) -> dict:
    k = "utterance"
    if m.kind not in UTTERANCE_KINDS:
        raise _bad(k, "kind", f"one of {', '.join(UTTERANCE_KINDS)}", m.kind)
    return {"text": _text(k, "text", m.text), "kind": m.kind, "reason": _text(k, "reason", m.reason),
            "stamp": seconds(m.header.stamp), "person_id": _person_id_from(m.person_id),
            "in_reply_to": m.in_reply_to, "id": m.id}


def _reply_chunk_to(d: dict) -> ReplyChunk:
    m = ReplyChunk(in_reply_to=str(d["in_reply_to"]), text=str(d["text"]), index=int(d["index"]))
    m.header.stamp = to_time(d.get("stamp"))
    return m


def _reply_chunk_from(m: ReplyChunk) -> dict:
    return {"in_reply_to": _text("reply_chunk", "in_reply_to", m.in_reply_to, 256, required=True),
            "text": _text("reply_chunk", "text", m.text), "index": m.index}


def _transcript_to(d: dict) -> Transcript:
    m = Transcript(id=str(d.get("id", "")), text=str(d["text"]), speaker=str(d.get("speaker", "")),
                   final=bool(d.get("final", True)), speech_start=to_time(d.get("speech_start")),
                   speech_end=to_time(d.get("speech_end")), audio_s=float(d.get("audio_s", 0.0)),
                   asr_ms=float(d.get("asr_ms", 0.0)), model=str(d.get("model", "")))
    stamp = d.get("stamp")
    # a zero stamp means "stamp it on arrival" (ros2 topic pub): a transcript said at exactly t = 0 of a
    # simulation is sent 1 ns later
    m.header.stamp = Time(sec=0, nanosec=1) if stamp == 0 else to_time(stamp)
    return m


def _transcript_from(m: Transcript) -> dict:
    """The transcript's fields; stamp None when the header is zero (the receiver stamps it on arrival)."""
    k = "transcript"
    if "\ufffd" in m.text:  # what rclpy makes of bytes that are not UTF-8
        raise _bad(k, "text", "UTF-8 text (bytes that are not UTF-8 arrived; they read as U+FFFD)", m.text)
    out: dict[str, Any] = {"text": _text(k, "text", m.text), "final": m.final, "id": _text(k, "id", m.id, 256),
                           "speaker": m.speaker or "unknown"}
    out["stamp"] = seconds(m.header.stamp) if (m.header.stamp.sec, m.header.stamp.nanosec) != (0, 0) else None
    for name in ("speech_start", "speech_end"):
        v = getattr(m, name)
        if (v.sec, v.nanosec) != (0, 0):
            out[name] = seconds(v)
    if m.audio_s:
        out["audio_s"] = _finite(k, "audio_s", m.audio_s, 0.0)
    if m.asr_ms:
        out["asr_ms"] = _finite(k, "asr_ms", m.asr_ms, 0.0)
    if m.model:
        out["model"] = m.model
    return out


def _param_to(key: str, v: Any) -> IntentParam:
    if isinstance(v, bool):
        return IntentParam(key=key, type=IntentParam.FLAG, flag=v)
    if isinstance(v, (int, float)):
        return IntentParam(key=key, type=IntentParam.NUMBER, number=float(v))
    return IntentParam(key=key, type=IntentParam.TEXT, text=str(v))


def _intent_to(d: dict) -> IntentMsg:
    m = IntentMsg(id=str(d.get("id", "")), type=str(d["type"]), target=str(d.get("target", "")),
                  object=str(d.get("object", "")), source=str(d.get("source", "")), reason=str(d.get("reason", "")),
                  in_reply_to=str(d.get("in_reply_to", "")))
    m.header.stamp = to_time(d.get("stamp"))
    m.params = [_param_to(str(key), v) for key, v in (d.get("params") or {}).items()]
    return m


def _intent_from(m: IntentMsg, k: str = "intent", known_types_only: bool = False) -> dict:
    """The intent's fields. The gate judges unknown types itself (a rejected verdict names them), so only
    the type's form is checked here unless ``known_types_only``."""
    _text(k, "type", m.type, 64, required=True)
    if known_types_only and m.type not in INTENT_TYPES:
        raise _bad(k, "type", f"one of {', '.join(INTENT_TYPES)}", m.type)
    _count(k, "params", m.params, 32)
    params: dict[str, Any] = {}
    for i, p in enumerate(m.params):
        f = f"params[{i}]"
        _text(k, f"{f}.key", p.key, 64, required=True)
        if p.type == IntentParam.NUMBER:
            params[p.key] = _finite(k, f"{f}.number ({p.key})", p.number)
        elif p.type == IntentParam.TEXT:
            params[p.key] = _text(k, f"{f}.text ({p.key})", p.text, 256)
        elif p.type == IntentParam.FLAG:
            params[p.key] = bool(p.flag)
        else:
            raise _bad(k, f"{f}.type ({p.key})", "NUMBER (1), TEXT (2) or FLAG (3)", p.type)
    return {"type": m.type, "target": _text(k, "target", m.target, 256), "params": params,
            "source": m.source, "reason": _text(k, "reason", m.reason), "id": _text(k, "id", m.id, 128),
            "stamp": seconds(m.header.stamp), "object": _text(k, "object", m.object, 256),
            "in_reply_to": m.in_reply_to}


def _verdict_to(d: dict) -> Verdict:
    m = Verdict(intent=_intent_to(d["intent"]), approved=bool(d["approved"]), pending=bool(d.get("pending", False)),
                reasons=[str(r) for r in d["reasons"]])
    m.header.stamp = to_time(d.get("stamp"))
    return m


def _verdict_from(m: Verdict) -> dict:
    _count("verdict", "reasons", m.reasons, MAX_LIST)
    return {"intent": _intent_from(m.intent, "verdict.intent"), "approved": m.approved, "pending": m.pending,
            "reasons": list(m.reasons)}


def _speech_done_to(d: dict) -> SpeechDone:
    m = SpeechDone(utterance_id=str(d["utterance_id"]), text=str(d["text"]), wav=str(d.get("wav", "")),
                   duration_s=float(d.get("duration_s", 0.0)), engine=str(d.get("engine", "")),
                   aborted=bool(d.get("aborted", False)), streamed=bool(d.get("streamed", False)),
                   started=to_time(d.get("started")), first_audio=to_time(d.get("first_audio")),
                   reason=str(d.get("reason", "")))
    m.header.stamp = to_time(d.get("stamp"))
    return m


def _speech_done_from(m: SpeechDone) -> dict:
    out: dict[str, Any] = {"utterance_id": m.utterance_id, "text": m.text, "wav": m.wav,
                           "duration_s": _finite("speech_done", "duration_s", m.duration_s, 0.0),
                           "engine": m.engine, "aborted": m.aborted, "streamed": m.streamed, "reason": m.reason}
    for name in ("started", "first_audio"):
        v = seconds(getattr(m, name))
        if v > 0:
            out[name] = v
    return out


# how far a person's requests can move the robot's voice (reasoning/knowledge.py takes steps inside these)
RATE_SCALE = (0.5, 1.6)
VOLUME_SCALE = (0.25, 4.0)


def _voice_style_to(d: dict) -> VoiceStyle:
    m = VoiceStyle(rate_scale=float(d["rate_scale"]), volume_scale=float(d["volume_scale"]),
                   reason=str(d.get("reason", "")))
    m.header.stamp = to_time(d.get("stamp"))
    return m


def _voice_style_from(m: VoiceStyle) -> dict:
    return {"rate_scale": _finite("voice_style", "rate_scale", m.rate_scale, *RATE_SCALE),
            "volume_scale": _finite("voice_style", "volume_scale", m.volume_scale, *VOLUME_SCALE),
            "reason": _text("voice_style", "reason", m.reason), "stamp": seconds(m.header.stamp)}


def _entity_to(token: str, e: dict) -> Entity:
    m = Entity(token=token, kind=str(e.get("kind", "")), score=float(e.get("score", 0.0)),
               side=str(e.get("side", "")), distance_m=float(e.get("distance_m", 0.0)),
               facing=float(e.get("facing", 0.0)), looking_at_robot=bool(e.get("looking_at_robot", False)),
               expression=str(e.get("expression", "")),
               expression_confidence=float(e.get("expression_confidence", 0.0)),
               expression_scores=_scores_to(e.get("expression_scores") or {}),
               first_seen=to_time(e.get("first_seen")), last_seen=to_time(e.get("last_seen")),
               appeared=bool(e.get("appeared", False)), present=bool(e.get("present", False)))
    if e.get("box") is not None:
        m.box = _box_to(e["box"])
    m.header.stamp = to_time(e.get("last_seen"))
    return m


def _entities_from(k: str, entities) -> dict[str, dict]:
    _count(k, "entities", entities, MAX_PEOPLE)
    out = {}
    for i, e in enumerate(entities):
        f = f"entities[{i}]"
        out[_text(k, f"{f}.token", e.token, 64, required=True)] = {
            "kind": e.kind, "box": _box_from(k, f"{f}.box", e.box), "score": _finite(k, f"{f}.score", e.score),
            "side": e.side, "distance_m": _finite(k, f"{f}.distance_m", e.distance_m, 0.0),
            "facing": _finite(k, f"{f}.facing", e.facing), "looking_at_robot": e.looking_at_robot,
            "expression": e.expression, "expression_confidence": _finite(k, f"{f}.expression_confidence",
                                                                         e.expression_confidence),
            "expression_scores": _scores_from(k, f"{f}.expression_scores", e.expression_scores),
            "first_seen": seconds(e.first_seen), "last_seen": seconds(e.last_seen), "appeared": e.appeared,
            "present": e.present,
        }
    return out


def _described(m, d: dict) -> None:
    """The fields a scene description and a visual answer share."""
    m.header.stamp = to_time(d.get("stamp") or (d.get("frame_stamps") or [None])[-1])
    m.header.frame_id = str(d.get("frame_id", "camera"))
    m.text = str(d.get("text", ""))
    m.entities = [_entity_to(str(tok), e) for tok, e in (d.get("entities") or {}).items()]
    m.backend = str(d.get("backend", ""))
    m.model = str(d.get("model", ""))
    m.latency_ms = float(d.get("latency_ms", 0.0))
    m.frame_stamps = [to_time(s) for s in d.get("frame_stamps") or ()]


def _described_from(k: str, m) -> dict:
    _count(k, "frame_stamps", m.frame_stamps, MAX_LIST)
    return {"stamp": seconds(m.header.stamp), "text": _text(k, "text", m.text),
            "entities": _entities_from(k, m.entities), "backend": m.backend, "model": m.model,
            "latency_ms": _finite(k, "latency_ms", m.latency_ms, 0.0),
            "frame_stamps": [seconds(s) for s in m.frame_stamps]}


def _scene_description_to(d: dict) -> SceneDescription:
    m = SceneDescription()
    _described(m, d)
    return m


def _scene_description_from(m: SceneDescription) -> dict:
    return _described_from("scene_description", m)


def _vqa_answer_to(d: dict) -> VisualAnswer:
    m = VisualAnswer(id=str(d.get("id", "")), question=str(d.get("question", "")), ok=bool(d.get("ok", False)),
                     error=str(d.get("error", "")))
    _described(m, d)
    return m


def _vqa_answer_from(m: VisualAnswer) -> dict:
    out = _described_from("vqa_answer", m)
    out.update(id=m.id, question=m.question, ok=m.ok)
    if m.error:
        out["error"] = m.error
    return out


_TO: dict[str, Callable[[dict], Any]] = {
    "people": _people_to, "person_states": _person_states_to, "decision": _decision_to,
    "utterance": _utterance_to, "reply_chunk": _reply_chunk_to, "transcript": _transcript_to,
    "intent": _intent_to, "verdict": _verdict_to, "speech_done": _speech_done_to,
    "scene_description": _scene_description_to, "vqa_answer": _vqa_answer_to, "voice_style": _voice_style_to,
}
_FROM: dict[str, Callable[[Any], dict]] = {
    "people": _people_from, "person_states": _person_states_from, "decision": _decision_from,
    "utterance": _utterance_from, "reply_chunk": _reply_chunk_from, "transcript": _transcript_from,
    "intent": _intent_from, "verdict": _verdict_from, "speech_done": _speech_done_from,
    "scene_description": _scene_description_from, "vqa_answer": _vqa_answer_from,
    "voice_style": _voice_style_from,
}


def to_msg(kind: str, body: dict[str, Any]):
    """The vlm_robot_interfaces message of payload ``kind`` built from ``body`` (a core ``to_dict()``)."""
    return _TO[kind](body)


def from_msg(kind: str, msg) -> dict[str, Any]:
    """The checked fields of a received message of payload ``kind``.

    Raises:
        InvalidInputError: a field is out of range (NaN or negative box, unknown kind, empty id...),
            naming the field, what was expected and what arrived.
    """
    if not isinstance(msg, CLASSES[kind]):
        raise InvalidInputError(f"expected a {CLASSES[kind].__name__} message, got {type(msg).__name__}")
    return _FROM[kind](msg)


def from_raw(kind: str, raw: bytes) -> dict[str, Any]:
    """Deserialize CDR bytes of payload ``kind`` and check them (:func:`from_msg`).

    Raises:
        InvalidInputError: not a CDR message of this type (truncated, invalid UTF-8...) or out of range.
    """
    cls = CLASSES[kind]
    try:
        msg = deserialize_message(raw, cls)
    except Exception as e:
        raise InvalidInputError(f"expected a CDR vlm_robot_interfaces/{cls.__name__} ({len(raw)} bytes arrived): "
                                f"{type(e).__name__}: {str(e)[:200]}") from e
    return from_msg(kind, msg)


def subscribe(node, topic: str, callback: Callable[[dict[str, Any]], None], diag, qos=None, kind: str | None = None,
              on_error: Callable[[str], None] | None = None):
    """Subscribe ``node`` to ``topic`` (its type from the topics table) and call ``callback(fields)``.

    Raw bytes are taken and decoded here so that nothing a publisher sends can raise in the executor: a
    message that cannot be read or is out of range becomes one /diagnostics ERROR (``diag``, the node's
    :class:`~vlm_robot.nodes.common.Diagnostics`) naming the topic and the field, and the node keeps running;
    ``on_error(message)`` is called after it (the gate answers a malformed intent with a rejection).
    """
    from vlm_robot.nodes import common

    kind = kind or KIND_OF_TOPIC[topic]
    cls = CLASSES[kind]

    def on_raw(raw: bytes) -> None:
        try:
            fields = from_raw(kind, raw)
        except (InvalidInputError, RecursionError, MemoryError, ValueError, TypeError) as e:  # never a crash
            why = str(e) if isinstance(e, InvalidInputError) else f"{type(e).__name__}: {str(e)[:200]}"
            diag.error(f"bad message on {topic}", why, topic=topic, type=f"vlm_robot_interfaces/msg/{cls.__name__}",
                       received_bytes=len(raw))
            if on_error is not None:
                on_error(why)
            return
        callback(fields)

    return node.create_subscription(cls, topic, on_raw, qos if qos is not None else common.qos_for(topic, False),
                                    raw=True)


def publisher(node, topic: str, qos=None):
    """A publisher of ``topic``'s type (from the topics table) with its QoS."""
    from vlm_robot.nodes import common

    return node.create_publisher(topics.message_class(topics.TOPIC_TYPES[topic]), topic,
                                 qos if qos is not None else common.qos_for(topic, True))
