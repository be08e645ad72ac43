"""Versioned JSON payloads carried in std_msgs/String, validated against a schema at both ends.

Every payload is an object ``{"schema": "vlm_robot/<kind>", "version": N, ...}``. A consumer rejects
a payload of another kind or of a version it does not know, with a message saying which it expected.
"""

from __future__ import annotations

import json
from typing import Any

import jsonschema

from vlm_robot.core.errors import InvalidInputError

VERSION = 1

_num = {"type": "number"}
_str = {"type": "string"}
_int_or_null = {"type": ["integer", "null"]}
_INTENT = {
    "type": "object",
    "required": ["type", "target", "params"],
    "properties": {
        "type": {"type": "string", "minLength": 1, "maxLength": 64},
        "target": {"type": "string", "maxLength": 256},
        "params": {"type": "object", "additionalProperties": {"type": ["number", "string", "boolean"]}},
        "source": _str,
        "reason": _str,
        "id": _str,
        "stamp": _num,
        "in_reply_to": _str,
    },
}

SCHEMAS: dict[str, dict[str, Any]] = {
    "people": {
        "type": "object",
        "required": ["stamp", "width", "height", "faces"],
        "properties": {
            "stamp": _num, "width": {"type": "integer"}, "height": {"type": "integer"},
            "faces": {"type": "array", "items": {
                "type": "object", "required": ["box", "score"],
                # optional since the re-identification descriptor was added; older publishers omit it
                "properties": {"descriptor": {"type": "array", "items": _num, "maxItems": 1024}}}},
        },
    },
    "person_states": {
        "type": "object",
        "required": ["stamp", "people"],
        # caused: ids of the utterances and intents this frame led to (published just after), optional
        "properties": {"stamp": _num, "caused": {"type": "object"}, "people": {"type": "array", "items": {
            "type": "object", "required": ["id"],
            # name and remembered_turns come from the dialogue memory; optional (older reasoning nodes omit them)
            "properties": {"name": {"type": ["string", "null"]}, "remembered_turns": {"type": "integer"}}}}},
    },
    "transcript": {
        "type": "object",
        "required": ["text"],
        # speech_start, speech_end (wall clock), audio_s, asr_ms, model: optional, from microphone_node
        "properties": {"text": _str, "stamp": _num, "speaker": _str, "final": {"type": "boolean"}, "id": _str,
                       "speech_start": _num, "speech_end": _num, "audio_s": _num, "asr_ms": _num, "model": _str},
    },
    "utterance": {
        "type": "object",
        "required": ["text", "kind", "reason", "stamp"],
        "properties": {"text": _str, "kind": {"enum": ["greeting", "reply", "error", "question"]}, "reason": _str,
                       "stamp": _num, "person_id": _int_or_null, "in_reply_to": _str, "id": _str},
    },
    "reply_chunk": {
        "type": "object",
        "required": ["in_reply_to", "text", "index"],
        "properties": {"in_reply_to": _str, "text": _str, "index": {"type": "integer"}},
    },
    "decision": {
        "type": "object",
        "required": ["action", "reason", "stamp"],
        "properties": {"action": {"enum": ["greet", "reply", "silent", "intent"]}, "reason": _str, "stamp": _num,
                       "person_id": _int_or_null, "detail": {"type": "object"}},
    },
    "intent": _INTENT,
    "verdict": {
        "type": "object",
        "required": ["intent", "approved", "reasons"],
        "properties": {"intent": _INTENT, "approved": {"type": "boolean"}, "pending": {"type": "boolean"},
                       "reasons": {"type": "array", "items": _str}},
    },
    "vqa_request": {
        "type": "object",
        "required": ["id", "question"],
        "properties": {"id": {"type": "string", "minLength": 1, "maxLength": 128}, "question": _str,
                       "stamp": _num, "clip_frames": {"type": "integer", "minimum": 1, "maximum": 32}},
    },
    "vqa_partial": {
        "type": "object",
        "required": ["id", "text", "index"],
        "properties": {"id": _str, "text": _str, "index": {"type": "integer"}},
    },
    "vqa_answer": {
        "type": "object",
        "required": ["id", "question", "text", "ok"],
        "properties": {"id": _str, "question": _str, "text": _str, "ok": {"type": "boolean"}, "error": _str,
                       "entities": {"type": "object"}, "backend": _str, "model": _str, "latency_ms": _num,
                       "frame_stamps": {"type": "array", "items": _num}},
    },
    "scene_description": {
        "type": "object",
        "required": ["stamp", "text"],
        "properties": {"stamp": _num, "text": _str, "entities": {"type": "object"}, "backend": _str,
                       "model": _str, "latency_ms": _num, "frame_stamps": {"type": "array", "items": _num}},
    },
    "speech_done": {
        "type": "object",
        "required": ["utterance_id", "text"],
        # aborted (barge-in), streamed, started / first_audio (wall clock): optional, added with streaming speech
        "properties": {"utterance_id": _str, "text": _str, "wav": _str, "duration_s": _num, "engine": _str,
                       "aborted": {"type": "boolean"}, "streamed": {"type": "boolean"}, "started": _num,
                       "first_audio": _num},
    },
}

_VALIDATORS = {k: jsonschema.Draft202012Validator(v) for k, v in SCHEMAS.items()}


def encode(kind: str, body: dict[str, Any]) -> str:
    """JSON text of ``body`` tagged with its schema and version (validated before it leaves)."""
    doc = {"schema": f"vlm_robot/{kind}", "version": VERSION, **body}
    _check(kind, doc)
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def decode(kind: str, text: str) -> dict[str, Any]:
    """Parse and validate a payload of ``kind``.

    Raises:
        InvalidInputError: not JSON, another kind, an unknown version or a schema violation.
    """
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as e:
        raise InvalidInputError(
            f"expected a JSON vlm_robot/{kind} payload, got invalid JSON ({e.msg} at {e.pos})") from e
    if not isinstance(doc, dict):
        raise InvalidInputError(f"expected a JSON object vlm_robot/{kind}, got {type(doc).__name__}")
    if doc.get("schema") != f"vlm_robot/{kind}":
        raise InvalidInputError(f"expected schema 'vlm_robot/{kind}', got {doc.get('schema')!r}")
    if doc.get("version") != VERSION:
        raise InvalidInputError(
            f"vlm_robot/{kind} version {doc.get('version')!r} is not supported; this build reads version {VERSION} "
            "(update the publisher or this node so both speak the same version)"
        )
    _check(kind, doc)
    return doc


def _check(kind: str, doc: dict[str, Any]) -> None:
    err = jsonschema.exceptions.best_match(_VALIDATORS[kind].iter_errors(doc))
    if err is not None:
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise InvalidInputError(f"vlm_robot/{kind} payload invalid at {where}: {err.message}")
