"""The embedded default VLM: packaged perception rendered as a PaLM-E-style multimodal sentence.

No vision-language weights ship in any registry package, so this backend *grounds* a language model
in what the packaged detectors see instead of feeding it image embeddings:

1. perception (BlazeFace faces + FER expression, :class:`~vlm_robot.perception.pipeline.Perceiver`)
   runs on each frame of the clip (oldest first, at most ``vlm.extra.max_frames`` of them, results
   cached per frame), and the faces are tracked across the clip
   (:class:`~vlm_robot.reasoning.tracker.PeopleTracker`);
2. every person becomes an *entity token* (``<person1>``, numbered by arrival, then left to right)
   with its box in the newest frame, side, distance, facing and smoothed expression, and the scene is
   rendered as one multimodal sentence, e.g. ``"<person1> on the left, about 0.9 m away, facing the
   robot, looks happy (1.00), there for at least 2.0 s. <person2> on the right, ..., appeared 1.0 s
   ago."`` (PaLM-E's per-object tokens that the text refers to);
3. questions of the kinds below are answered **deterministically** from that entity table by a small
   question parser (:func:`parse_question`), citing the entity tokens; anything else (an *open*
   question) goes to the packaged chat model (SmolLM2-135M via llama.cpp) with the multimodal
   sentence as its context, and its tokens are streamed.

Deterministic question kinds: how many people / is anyone there (``count``), who is there
(``who``), how people look (``mood``), whether anyone looks sad / upset / happy / angry / afraid /
surprised (``mood_query``), who is looking at the robot (``looking``), where people are and who is on
the left / right (``where``), how far / who is closest (``distance``), what someone is holding
(``holding``), which objects are visible (``objects``), whether a named thing is visible
(``thing``), what changed over the clip / who arrived / how long someone has been there
(``changes``), a summary of one referenced person (``person``) and "describe what you see"
(``describe``), and "why does she look sad?" (``why``: "I can't tell why; I can only see that ...").
These answers say nothing perception did not report.

What this backend cannot see, and says so: objects and hands. The packaged detectors were tried on
the demo scene: mediapipe 0.10.14 ships no object detector (Objectron's SSD is gone from that wheel),
its palm detector fired on the astronaut's suit (no hand is visible) and its pose detector found only
the astronaut's face region, not the grey LFW visitor; none of them is used. So "what is she holding?"
is answered "I can't tell what <person1> is holding ...", and "is there a cup?" with "I don't see a
cup ...". Open questions answered by the 135M chat model are only as grounded as that model is: it is
told only the multimodal sentence, but it may still invent details.

Cost per call: perception about 8-15 ms per new frame on a 2-core CPU (cached frames are free), the
question parser well under a millisecond; the chat model runs only for open questions (about
80-150 tokens/s), at most ``vlm.max_new_tokens`` tokens.

    from vlm_robot.vlm.base import VLMConfig, make_backend
    vlm = make_backend(VLMConfig(backend="grounded"))
    vlm.load()
    print(vlm.answer("Does anyone look sad?", frames).text)
    # Yes: <person2> on the right looks sad (0.61).
"""

from vlm_robot.vlm.grounded.answers import EXTRA_DEFAULTS, SYSTEM_PROMPT, GroundedVLM, NotLoadedError, answer_query
from vlm_robot.vlm.grounded.entities import (
    MOOD_WORDS,
    Observation,
    PersonEntity,
    build_observation,
    person_clause,
    render_sentence,
)
from vlm_robot.vlm.grounded.questions import MOOD_QUERY, PERSON_WORDS, Query, parse_question

__all__ = [
    "EXTRA_DEFAULTS",
    "MOOD_QUERY",
    "MOOD_WORDS",
    "PERSON_WORDS",
    "SYSTEM_PROMPT",
    "GroundedVLM",
    "NotLoadedError",
    "Observation",
    "PersonEntity",
    "Query",
    "answer_query",
    "build_observation",
    "parse_question",
    "person_clause",
    "render_sentence",
]
