"""Reasoning node: people + transcripts -> decisions, utterances (streamed) and action intents.

Run:  reasoning_node --ros-args --params-file config/reasoning.yaml

Every message arrives as raw CDR and is decoded and checked by nodes/messages.py, so invalid UTF-8 or
an out-of-range field becomes a diagnostic rather than a crash. All reasoning (and the language model)
runs on worker threads in arrival order; every transcript gets a reply or an explicit error utterance.
"""

from __future__ import annotations

import math
import time
import uuid

from rclpy.node import Node
from sensor_msgs.msg import JointState
from std_msgs.msg import Bool

from vlm_robot import graph
from vlm_robot.core.delivery import SeenIds
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.transcript import MAX_CHARS, parse_transcript
from vlm_robot.core.types import Intent, PerceptionResult, Transcript, Verdict
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.latest import WorkQueue
from vlm_robot.nodes.vqa_client import VQAClient
from vlm_robot.perception.text_affect import TextAffect
from vlm_robot.reasoning.dialogue import DialogueConfig, DialogueManager
from vlm_robot.reasoning.intents import GrammarIntents, IntentConfig
from vlm_robot.reasoning.llm import LLMConfig, load_chat_model
from vlm_robot.reasoning.memory import Memory, MemoryConfig
from vlm_robot.reasoning.open_talk import OpenTalk, embedding_relevance
from vlm_robot.reasoning.policy import ProactiveConfig, ProactivePolicy
from vlm_robot.reasoning.reasoner import Outcome, Reasoner
from vlm_robot.reasoning.tracker import PeopleTracker, TrackerConfig
from vlm_robot.reasoning.turns import TurnClassifier
from vlm_robot.reasoning.visual import is_visual_question
from vlm_robot.safety.actuation import load_places

DISCOVERY_GRACE_S = 2.0
DISCOVERY_MAX_S = 10.0
# the set of subscribers must not have changed for this long: longer than Fast DDS's participant announcement
# period (3 s), since a participant that missed a new one's first announcements is found at the next one.
# Measured: with 1.0 s, a restarted node answered a sentence 2.1 s after start, before it had discovered the test's
# observer (found 3-4 s after start), and the observer never saw that reply (tests/test_delivery.py, every run once
# replies from knowledge came without the language model's delay)
DISCOVERY_STABLE_S = 3.5


class ReasoningNode(Node):
    def __init__(self) -> None:
        super().__init__("reasoning", **common.make_node_kwargs())
        self.max_chars = int(common.param(self, "max_transcript_chars", MAX_CHARS))
        # questions about the scene go to the VLM node when one runs; the chat model answers otherwise
        self.vlm_questions = bool(common.param(self, "vlm_questions", True))
        self.vlm_timeout_s = float(common.param(self, "vlm_timeout_s", 15.0))
        llm_cfg = common.config_from_params(self, LLMConfig, "llm.")
        t0 = time.perf_counter()
        model = load_chat_model(llm_cfg)
        self.get_logger().info(f"language model {llm_cfg.backend} loaded in {time.perf_counter() - t0:.1f} s")
        dialogue_cfg = common.config_from_params(self, DialogueConfig, "dialogue.")
        turns = self._turn_classifier(dialogue_cfg)
        relevance = embedding_relevance(turns.embedder) if turns.embedder is not None else None
        self.reasoner = Reasoner(
            PeopleTracker(common.config_from_params(self, TrackerConfig, "tracker.")),
            ProactivePolicy(common.config_from_params(self, ProactiveConfig, "proactive.")),
            DialogueManager(model, max_turns=llm_cfg.history_turns, max_tokens=llm_cfg.max_tokens,
                            config=dialogue_cfg),
            TextAffect(),
            *self._intent_source(llm_cfg),
            memory=self._load_memory(),
            turns=turns,
            places=tuple(load_places(str(common.param(self, "places_file", "")) or graph.config_dir() / "places.yaml")),
            recording=self._recording,
            open_talk=OpenTalk(model, relevance, robot_name=dialogue_cfg.robot_name,
                               max_ms=dialogue_cfg.open_talk_budget_s * 1000),
            # a boot id in every utterance and intent id: after a restart the ids do not start again at u1
            id_prefix=f"{uuid.uuid4().hex[:4]}-",
        )
        common.unknown_parameters(self, [("llm.", LLMConfig), ("tracker.", TrackerConfig),
                                         ("proactive.", ProactiveConfig), ("intents.", IntentConfig),
                                         ("dialogue.", DialogueConfig), ("memory.", MemoryConfig)],
                                  ("max_transcript_chars", "vlm_questions", "vlm_timeout_s", "places_file"))
        self.diag = common.Diagnostics(self)
        self.pubs = {t: messages.publisher(self, t) for t in (
            common.DECISION, common.UTTERANCE, common.REPLY_CHUNK, common.INTENT, common.PERSON_STATES)}
        self.vqa = VQAClient(self)
        self.seq = 0
        self.seen = SeenIds()
        self._started = time.monotonic()
        self._discovered = False
        # two workers: the scene keeps being followed while the language model talks
        self.scene_work: WorkQueue[PerceptionResult] = WorkQueue(self._follow_scene, "reasoning-scene")
        self.dialogue_work: WorkQueue[tuple[Transcript, bool]] = WorkQueue(self._answer, "reasoning-dialogue")
        messages.subscribe(self, common.PEOPLE, self._on_people, self.diag)
        messages.subscribe(self, common.TRANSCRIPT, self._on_transcript, self.diag)
        self.create_subscription(Bool, common.DND, self._on_dnd, common.STATE_QOS)
        # where the camera points: a head turn moves every face in the image, not the people
        self.create_subscription(JointState, common.JOINT_STATES, self._on_joint_states, common.SENSOR_QOS)
        messages.subscribe(self, common.SCENE_DESCRIPTION, self._on_scene_description, self.diag)
        # the gate's verdicts: a reply about an action says what the gate decided, never the opposite
        messages.subscribe(self, common.VERDICT, self._on_verdict, self.diag)
        self.get_logger().info("reasoning ready")

    def _turn_classifier(self, cfg: DialogueConfig) -> TurnClassifier:
        """Sentence embeddings for the turn classifier (MiniLM, numpy); without the model, patterns only."""
        try:
            from vlm_robot.reasoning.embed import SentenceEmbedder

            t0 = time.perf_counter()
            classifier = TurnClassifier(SentenceEmbedder(), cfg.min_turn_similarity)
            self.get_logger().info(f"turn classifier: MiniLM embeddings, loaded in {time.perf_counter() - t0:.1f} s "
                                   "(example sentences embedded in the background)")
            return classifier
        except (ImportError, OSError, ValueError, RuntimeError) as e:  # missing or corrupted model package
            self.get_logger().error(f"turn classifier without embeddings (patterns only): {e}; install the model "
                                    "with `make setup`")
            return TurnClassifier(None)

    def _recording(self) -> bool | None:
        """Whether a recorder node runs in this graph (what "are you recording me?" is answered from)."""
        try:
            return "recorder" in self.get_node_names()
        except Exception:  # noqa: BLE001 - a graph query during shut-down: unknown, not a crash
            return None

    def _on_verdict(self, doc: dict) -> None:
        try:
            v = Verdict(Intent.from_dict(doc["intent"]), bool(doc["approved"]), tuple(doc["reasons"]),
                        pending=bool(doc.get("pending", False)))
        except (KeyError, TypeError, ValueError) as e:
            self.diag.error("bad message on " + common.VERDICT, str(e))
            return
        self.reasoner.on_verdict(v)

    def _load_memory(self) -> Memory:
        """memory.*: what is remembered of people, loaded from its file (a bad file is kept as .bad)."""
        memory = Memory(common.config_from_params(self, MemoryConfig, "memory."),
                        on_problem=lambda msg: self.get_logger().error(msg))
        memory.load()
        where = memory.path or "this process only (memory.path is empty)"
        self.get_logger().info(f"memory: {len(memory.people)} people, {len(memory.conversation)} exchanges; {where}")
        return memory

    def _on_scene_description(self, doc: dict) -> None:
        self.reasoner.on_scene_description(doc["text"], float(doc["stamp"]))

    def _intent_source(self, llm_cfg: LLMConfig) -> tuple[IntentConfig, GrammarIntents | None]:
        """intents.source: patterns only, or also a grammar-constrained model (its own llama.cpp instance)."""
        cfg = common.config_from_params(self, IntentConfig, "intents.")
        model = None if cfg.source == "patterns" else GrammarIntents(cfg, llm_cfg.model_path, llm_cfg.n_threads,
                                                                     llm_cfg.seed)
        self.get_logger().info(f"intents from speech: {cfg.source}")
        return cfg, model

    def _on_people(self, doc: dict) -> None:
        try:
            result = PerceptionResult.from_dict(doc)
        except (KeyError, TypeError, ValueError) as e:
            self.diag.error("bad message on " + common.PEOPLE, str(e))
            return
        if not self.scene_work.put(result):
            self.diag.error("overload", "reasoning queue full; a perception result was dropped")

    def _on_joint_states(self, msg: JointState) -> None:
        pos = dict(zip(msg.name, msg.position, strict=False))
        if "head_pan" in pos:
            pan, tilt = float(pos["head_pan"]), float(pos.get("head_tilt", 0.0))
            if math.isfinite(pan) and math.isfinite(tilt):
                self.reasoner.on_head(msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9, pan, tilt)

    def _on_dnd(self, msg: Bool) -> None:
        with self.reasoner.lock:
            self.reasoner.policy.do_not_disturb = bool(msg.data)
        self.get_logger().info(f"do-not-disturb {'on' if msg.data else 'off'}")

    def _on_transcript(self, fields: dict) -> None:
        self.seq += 1
        try:
            t = parse_transcript(fields, time.time(), self.seq, self.max_chars)
        except InvalidInputError as e:
            self.diag.error("bad transcript on " + common.TRANSCRIPT, str(e))
            return
        if not t.final:  # a speculative partial (it belongs on /speech/partial): the final one follows, same id
            self.get_logger().debug(f"partial transcript {t.id} ignored; waiting for the final one")
            return
        if not self.seen.first_time(t.id):
            self.get_logger().info(f"transcript {t.id} sent again; already being answered")
            return
        # intents (stop!) go out now; only the reply waits for the worker. Right after a (re)start, outputs wait
        # for discovery (_await_discovery): then the worker hears it too, so that the people the camera sees
        # keep arriving meanwhile and the speaker is known by sight when the words are heard
        heard = self._discovered
        if heard:
            self._emit(self.reasoner.hear(t))
        if not self.dialogue_work.put((t, heard)):
            self.diag.error("overload", f"dialogue queue full; transcript {t.id} cannot be answered")
            self._emit(self.reasoner.on_transcript_error(t, "the robot is overloaded"))

    def _follow_scene(self, result: PerceptionResult) -> None:
        try:
            out = self.reasoner.on_perception(result)
            states = self.reasoner.person_states()
        except Exception as e:  # noqa: BLE001 - keep reasoning alive, say what broke
            self.diag.error("reasoning failed", f"{type(e).__name__}: {e}")
            return
        # the ids of what this frame caused, so a lockstep simulator or replay knows what to wait for
        caused = {"utterances": [u.id for u in out.utterances], "intents": [it.id for it in out.intents]}
        self.pubs[common.PERSON_STATES].publish(messages.to_msg("person_states", {
            "stamp": result.stamp, "frame_id": result.frame_id, "people": states, "caused": caused}))
        self._emit(out)

    def _answer(self, item: tuple[Transcript, bool]) -> None:
        t, heard = item
        if not heard:
            self._await_discovery()
            self._emit(self.reasoner.hear(t))
        index = [0]

        def chunk(piece: str) -> None:
            self.pubs[common.REPLY_CHUNK].publish(messages.to_msg(
                "reply_chunk", {"in_reply_to": t.id, "text": piece, "index": index[0], "stamp": t.stamp}))
            index[0] += 1

        try:
            turn = self.reasoner.classify(t)  # "do I look happy?", "how many people?": the tracker answers
            if (self.vlm_questions and turn.kind in ("open", "perception") and turn.how != "pattern"
                    and is_visual_question(t.text) and self.vqa.available()):
                a = self.vqa.ask(t.text, f"speech-{t.id}", chunk, self.vlm_timeout_s)
                if a is not None and a["ok"] and a["text"]:
                    self._emit(self.reasoner.answer_from_vision(t, a["text"], f"vlm {a.get('backend', '')}"))
                    return
                self.get_logger().warning(f"VLM gave no answer to {t.id} ({a and a.get('error')}); the chat model "
                                          "answers instead")
            out = self.reasoner.answer(t, chunk)
        except Exception as e:  # noqa: BLE001 - every transcript gets a reply or an explicit error
            self.diag.error("reasoning failed", f"{type(e).__name__}: {e}")
            out = self.reasoner.on_transcript_error(t, type(e).__name__)
        self._emit(out)

    def _await_discovery(self) -> None:
        """Right after a (re)start, hold the first outputs until discovery has matched the subscribers.

        A reply published before speech_out (or the recorder) has matched this new process would be
        lost. At least 2 s, then until the subscribers the graph knows of on /vlm_robot/utterance have not
        changed for 1 s and all have matched this publisher (under load, discovery took longer than 2 s
        and a reply was lost), at most 10 s; once per process.
        """
        if self._discovered:
            return
        pub = self.pubs[common.UTTERANCE]
        last_known, stable_since = -1, time.monotonic()
        while (now := time.monotonic()) < self._started + DISCOVERY_MAX_S:
            known = self.count_subscribers(common.UTTERANCE)
            if known != last_known:
                last_known, stable_since = known, now
            if now >= self._started + DISCOVERY_GRACE_S and now - stable_since >= DISCOVERY_STABLE_S:
                if known and pub.get_subscription_count() >= known:
                    break
                if not known and now >= self._started + 2 * DISCOVERY_GRACE_S:
                    break  # nobody listens (a bare reasoning node): do not hold its outputs any longer
            time.sleep(0.05)
        self._discovered = True

    def _emit(self, out: Outcome) -> None:
        self._await_discovery()
        for d in out.decisions:
            self.pubs[common.DECISION].publish(messages.to_msg("decision", d.to_dict()))
        for u in out.utterances:
            self.pubs[common.UTTERANCE].publish(messages.to_msg("utterance", u.to_dict()))
            if u.kind == "error":  # the person heard an apology; whoever runs the robot sees the fault
                self.diag.error("no proper reply", u.reason)
        for it in out.intents:
            self.pubs[common.INTENT].publish(messages.to_msg("intent", it.to_dict()))

    def close(self) -> None:
        self.scene_work.close()
        self.dialogue_work.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(ReasoningNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
