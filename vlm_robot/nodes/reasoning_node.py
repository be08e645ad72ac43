"""Reasoning node: people + transcripts -> decisions, utterances (streamed) and action intents.

Run:  reasoning_node --ros-args --params-file config/reasoning.yaml

Every message arrives as raw CDR and is decoded and checked by nodes/messages.py, so invalid UTF-8 or
an out-of-range field becomes a diagnostic rather than a crash. All reasoning (and the language model)
runs on worker threads; every transcript gets a reply, an explicit error utterance, or (too old, pushed out by a
flood: reasoning/backlog.py) a decision saying why, with one short apology per burst.
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
from vlm_robot.nodes.hold import DiscoveryHold
from vlm_robot.nodes.latest import BacklogWorker, LatestSlot, WorkQueue
from vlm_robot.nodes.resend import Resender
from vlm_robot.nodes.vqa_client import VQAClient
from vlm_robot.perception.text_affect import TextAffect
from vlm_robot.reasoning.backlog import Backlog, BacklogConfig, Dropped
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

# re-sending to a restarted speech_out (spoken once it is back: it restarts in 2-4 s) and safety gate: an
# intent without a verdict after INTENT_RESEND_S * INTENT_TRIES (10 s) is given up, said in a decision
# A reply is sent again every 3 s until speech_done names it, for up to 45 s: a speech_out restart on a busy machine
# took longer than 21 s, and a killed node stays in the DDS graph until its lease runs out (about 20 s), so tries
# are counted meanwhile; the last try must come after the new speech_out is discovered (a CI run lost a reply sent
# 1.2 s after the restart, with 7 tries). While nothing publishes speech_done at all it waits without counting tries,
# at most UTTERANCE_WAIT_S from when it was first sent
UTTERANCE_RESEND_S, UTTERANCE_TRIES = 3.0, 15
UTTERANCE_WAIT_S = 45.0
# an intent is sent again every 2 s until its verdict, for at most 30 s (a safety gate restarting on a busy machine
# took over 10 s); while no gate subscribes at all it waits without counting tries, again at most 30 s
INTENT_RESEND_S, INTENT_TRIES = 2.0, 15
INTENT_WAIT_S = 30.0
FRAMES_FLOWING_S = 2.0  # a /vlm_robot/people message this recent: a camera runs, words may wait for the tracker


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
        self.speaker_wait_s = dialogue_cfg.speaker_wait_s
        backlog_cfg = common.config_from_params(self, BacklogConfig, "backlog.")
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
                               max_ms=dialogue_cfg.open_talk_budget_s * 1000, helpers=self._helpers(llm_cfg)),
            # a boot id in every utterance and intent id: after a restart the ids do not start again at u1
            id_prefix=f"{uuid.uuid4().hex[:4]}-",
        )
        common.unknown_parameters(self, [("llm.", LLMConfig), ("tracker.", TrackerConfig),
                                         ("proactive.", ProactiveConfig), ("intents.", IntentConfig),
                                         ("dialogue.", DialogueConfig), ("memory.", MemoryConfig),
                                         ("backlog.", BacklogConfig)],
                                  ("max_transcript_chars", "vlm_questions", "vlm_timeout_s", "places_file"))
        self.diag = common.Diagnostics(self)
        self.pubs = {t: messages.publisher(self, t) for t in (
            common.DECISION, common.UTTERANCE, common.REPLY_CHUNK, common.INTENT, common.PERSON_STATES,
            common.VOICE_STYLE)}
        self.vqa = VQAClient(self)
        # at-least-once to speech_out and the gate (nodes/resend.py): an utterance is sent again until its
        # speech_done names it, an intent until its verdict does; each consumer takes an id once. Tracked only
        # once the consumer has been seen (a graph without speech_out, as in the simulator, is not waited for)
        self.utterances_out = Resender(
            self, self.pubs[common.UTTERANCE], UTTERANCE_RESEND_S, ack_topic=common.SPEECH_DONE,
            ack_id=lambda d: d["utterance_id"], what="utterance", max_tries=UTTERANCE_TRIES,
            hold=lambda: self._speaking, on_give_up=self._unspoken,
            absent=lambda: self.count_publishers(common.SPEECH_DONE) == 0, max_wait_s=UTTERANCE_WAIT_S)
        self.intents_out = Resender(
            self, self.pubs[common.INTENT], INTENT_RESEND_S, ack_topic=common.VERDICT,
            ack_id=lambda v: v["intent"]["id"], what="intent", max_tries=INTENT_TRIES, on_give_up=self._no_verdict,
            absent=lambda: self.pubs[common.INTENT].get_subscription_count() == 0, max_wait_s=INTENT_WAIT_S)
        self._speaking = False
        self._consumers_seen: set[str] = set()
        self.create_subscription(Bool, common.SPEAKING, self._on_speaking, common.STATE_QOS)
        self.seq = 0
        self.seen = SeenIds()
        # right after a (re)start the outputs wait until discovery has matched their subscribers (nodes/hold.py)
        self.hold = DiscoveryHold(self, common.UTTERANCE, self.pubs[common.UTTERANCE])
        self._people_at = -float("inf")  # monotonic time of the last /vlm_robot/people message
        self._said_until = 0.0  # the newest transcript stamp: with the reasoner's, the event clock of the backlog
        # two workers: the scene keeps being followed while the language model talks; the words wait in a backlog
        # bounded by age and count per source, the sources taking turns (reasoning/backlog.py)
        self.scene_work: WorkQueue[PerceptionResult] = WorkQueue(self._follow_scene, "reasoning-scene")
        self.dialogue_work: BacklogWorker[tuple[Transcript, bool]] = BacklogWorker(
            Backlog(backlog_cfg, lambda: max(self.reasoner.now, self._said_until)), self._answer, self._decline,
            "reasoning-dialogue")
        messages.subscribe(self, common.PEOPLE, self._on_people, self.diag)
        messages.subscribe(self, common.TRANSCRIPT, self._on_transcript, self.diag)
        # open talk starts its reply at the turn's first pause, from the microphone's speculative transcript; only
        # the newest waits (a person who goes on makes the older one moot)
        self.speculation_work: LatestSlot[Transcript] | None = None  # subscribed to partials only when set
        if dialogue_cfg.speculate:
            self.speculation_work = LatestSlot(self._speculate, "reasoning-speculation")
            messages.subscribe(self, common.PARTIAL_TRANSCRIPT, self._on_partial, self.diag)
        self.create_subscription(Bool, common.DND, self._on_dnd, common.STATE_QOS)
        # where the camera points: a head turn moves every face in the image, not the people
        self.create_subscription(JointState, common.JOINT_STATES, self._on_joint_states, common.SENSOR_QOS)
        messages.subscribe(self, common.SCENE_DESCRIPTION, self._on_scene_description, self.diag)
        # speech_out keeps the voice a person asked for and publishes it latched: a restarted reasoning node takes it
        # up before it decides a voice itself (else the next "slower" would start again from x1 and come out faster)
        self._voice_decided = False
        messages.subscribe(self, common.VOICE_STYLE, self._on_voice_style, self.diag)
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

    def _helpers(self, llm_cfg: LLMConfig) -> list:
        """More instances of the chat model for open talk's candidates side by side (llm.parallel_candidates)."""
        t0 = time.perf_counter()
        helpers = [load_chat_model(llm_cfg) for _ in range(llm_cfg.parallel_candidates - 1)]
        if helpers:
            self.get_logger().info(f"{len(helpers)} more instance(s) of the language model for open talk's candidates "
                                   f"in {time.perf_counter() - t0:.1f} s")
        return helpers

    def _intent_source(self, llm_cfg: LLMConfig) -> tuple[IntentConfig, GrammarIntents | None]:
        """intents.source: patterns only, or also a grammar-constrained model (its own llama.cpp instance)."""
        cfg = common.config_from_params(self, IntentConfig, "intents.")
        model = None if cfg.source == "patterns" else GrammarIntents(cfg, llm_cfg.model_path, llm_cfg.n_threads,
                                                                     llm_cfg.seed)
        self.get_logger().info(f"intents from speech: {cfg.source}")
        return cfg, model

    def _on_people(self, doc: dict) -> None:
        self._people_at = time.monotonic()
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
        # a stamp from a clock far ahead does not make everyone else's words old
        self._said_until = max(self._said_until, min(t.stamp, time.time() + 5.0))
        # intents (stop!) go out now; only the reply waits for the worker. Right after a (re)start, outputs wait
        # for discovery (self.hold): then the worker hears it too, once the tracker (which follows the camera
        # meanwhile) has seen the moment the words were said, so that the speaker is known by sight
        heard = self.hold.ready
        if heard:
            self._emit(self.reasoner.hear(t))
        self.dialogue_work.put(t.speaker, t.stamp, (t, heard))

    def _on_partial(self, fields: dict) -> None:
        try:
            t = parse_transcript(fields, time.time(), self.seq, self.max_chars)
        except InvalidInputError as e:
            self.diag.error("bad transcript on " + common.PARTIAL_TRANSCRIPT, str(e))
            return
        # not after a (re)start's hold, nor for words already answered (a partial that came late)
        if not t.final and self.hold.ready and not self.seen.seen(t.id):
            self.speculation_work.put(t)

    def _speculate(self, t: Transcript) -> None:
        if self.seen.seen(t.id):  # the final transcript overtook it
            return
        if self.vlm_questions and is_visual_question(t.text) and self.vqa.available():
            return  # the VLM node would answer it, not the chat model
        try:
            if self.reasoner.speculate(t):
                self.get_logger().debug(f"open talk speculates on the partial transcript {t.id}: {t.text!r}")
        except Exception as e:  # noqa: BLE001 - a failed speculation costs only its head start
            self.get_logger().warning(f"speculation on {t.id} failed: {type(e).__name__}: {e}")

    def _follow_scene(self, result: PerceptionResult) -> None:
        try:
            out = self.reasoner.on_perception(result)
            states = self.reasoner.person_states()
        except Exception as e:  # noqa: BLE001 - keep reasoning alive, say what broke
            self.diag.error("reasoning failed", f"{type(e).__name__}: {e}")
            return
        # the ids of what this frame caused, so a lockstep simulator or replay knows what to wait for
        caused = {"utterances": [u.id for u in out.utterances], "intents": [it.id for it in out.intents]}
        msg = messages.to_msg("person_states", {
            "stamp": result.stamp, "frame_id": result.frame_id, "people": states, "caused": caused})

        def publish() -> None:
            self.pubs[common.PERSON_STATES].publish(msg)
            self._publish(out)

        # never waits: the tracker follows every frame while the outputs are held for discovery after a restart
        self.hold.when_ready(publish)

    def _answer(self, item: tuple[Transcript, bool]) -> None:
        t, heard = item
        if not heard:
            self.hold.wait()
            self._await_speaker(t)
            self._emit(self.reasoner.hear(t))
        index = [0]

        def chunk(piece: str) -> None:
            self.pubs[common.REPLY_CHUNK].publish(messages.to_msg(
                "reply_chunk", {"in_reply_to": t.id, "text": piece, "index": index[0], "stamp": t.stamp}))
            index[0] += 1

        try:
            turn = self.reasoner.classify(t)  # "do I look happy?", "how many people?": the tracker answers
            asks_vlm = turn.kind == "open" or (turn.kind == "perception" and (turn.how != "pattern"
                                                                             or turn.detail == "thing"))
            if self.vlm_questions and asks_vlm and is_visual_question(t.text) and self.vqa.available():
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

    def _decline(self, dropped: list[Dropped[tuple[Transcript, bool]]]) -> None:
        """Words the backlog left out: a decision each; the first of a burst, one apology and one warning."""
        for d in dropped:
            t, heard = d.item
            if not heard:  # words held during discovery and then left out: a "stop" in them still goes out
                stops = [it for it in self.reasoner.hear(t).intents if it.type == "stop"]
                if stops:
                    self._emit(Outcome(intents=stops))
            if d.apologize:
                self.diag.warn("words left unanswered", f"from {d.source!r}: {d.reason}; one apology for this burst, a "
                               "decision for each of its sentences", source=d.source, transcript=t.id)
            self.hold.wait()
            self._emit(self.reasoner.decline(t, d.reason, d.apologize, {"source": d.source, "burst": d.burst}),
                       apology=d.apologize)

    def _await_speaker(self, t: Transcript) -> None:
        """Words heard by the worker wait (at most dialogue.speaker_wait_s) for the tracker to reach their moment.

        Measured (tests/test_delivery.py, before the scene worker stopped waiting for discovery): a restarted
        node's tracker stood at its first frame for 3.5 s while words said since were heard, and "What is my
        name?" found nobody in view, so no memory to answer from.
        """
        if time.monotonic() - self._people_at > FRAMES_FLOWING_S:
            return  # no camera (or none yet): nobody will be seen, do not wait
        if not self.reasoner.wait_perceived(t.stamp, self.speaker_wait_s):
            self.get_logger().warning(f"transcript {t.id}: the tracker did not reach the moment it was said within "
                                      f"{self.speaker_wait_s:.1f} s; attributed from the people seen so far")

    def _emit(self, out: Outcome, apology: bool = False) -> None:
        self.hold.when_ready(lambda: self._publish(out, apology))

    def _on_voice_style(self, s: dict) -> None:
        if not self._voice_decided:
            self.reasoner.voice = (s["rate_scale"], s["volume_scale"])

    def _publish(self, out: Outcome, apology: bool = False) -> None:
        if out.voice is not None:  # before the reply, so that "I'll speak more slowly" is said slowly
            self._voice_decided = True
            rate, volume = out.voice
            reason = out.voice_reason or next((u.reason for u in out.utterances), "a person asked")
            self.pubs[common.VOICE_STYLE].publish(messages.to_msg("voice_style", {
                "rate_scale": rate, "volume_scale": volume, "reason": reason,
                "stamp": out.utterances[0].stamp if out.utterances else None}))
        for d in out.decisions:
            self.pubs[common.DECISION].publish(messages.to_msg("decision", d.to_dict()))
        for u in out.utterances:
            msg = messages.to_msg("utterance", u.to_dict())
            if self._consumer(common.SPEECH_DONE) and u.id:
                self.utterances_out.publish(u.id, msg)
            else:
                self.pubs[common.UTTERANCE].publish(msg)
            if u.kind == "error" and not apology:  # the person heard an apology; whoever runs the robot sees the fault
                self.diag.error("no proper reply", u.reason)
            if "turn: emergency" in u.reason:  # the robot cannot call anyone: whoever watches /diagnostics is told
                self.diag.error("a person asks for urgent help", u.reason)
        for it in out.intents:
            msg = messages.to_msg("intent", it.to_dict())
            if self._consumer(common.VERDICT) and it.id:
                self.intents_out.publish(it.id, msg)
            else:
                self.pubs[common.INTENT].publish(msg)

    def _consumer(self, ack_topic: str) -> bool:
        """Whether the node that acknowledges on ``ack_topic`` (speech_out, the gate) runs or ran in this graph."""
        if ack_topic not in self._consumers_seen and self.count_publishers(ack_topic) > 0:
            self._consumers_seen.add(ack_topic)
        return ack_topic in self._consumers_seen

    def _on_speaking(self, msg: Bool) -> None:
        self._speaking = bool(msg.data)

    def _unspoken(self, uid: str, msg) -> None:
        """speech_out never confirmed an utterance: say so in a decision (whoever runs the robot sees it)."""
        u = messages.from_msg("utterance", msg)
        why = (f"utterance {uid} was never confirmed spoken: no speech_done after {UTTERANCE_TRIES} tries "
               f"{UTTERANCE_RESEND_S:.0f} s apart, or {UTTERANCE_WAIT_S:.0f} s without a speech_out (is it "
               f"running? see its log): {u['text'][:80]!r}")
        self.diag.error("utterance not spoken", why)
        self.pubs[common.DECISION].publish(messages.to_msg("decision", {
            "action": "silent", "reason": why, "stamp": u["stamp"], "person_id": u.get("person_id"),
            "detail": {"utterance_id": uid, "unspoken": True}}))

    def _no_verdict(self, iid: str, msg) -> None:
        """The gate never answered an intent: it is not carried out, and a decision says so."""
        it = messages.from_msg("intent", msg)
        why = (f"intent {iid} ({it['type']} {it.get('target', '')}) got no verdict from the safety gate (sent "
               f"{INTENT_TRIES} times over {INTENT_RESEND_S * INTENT_TRIES:.0f} s, or {INTENT_WAIT_S:.0f} s without "
               "a gate listening): not carried out")
        self.diag.error("intent timed out", why)
        self.pubs[common.DECISION].publish(messages.to_msg("decision", {
            "action": "intent", "reason": why, "stamp": it["stamp"], "person_id": None,
            "detail": {"intent_id": iid, "timed_out": True}}))

    def close(self) -> None:
        if self.speculation_work is not None:
            self.speculation_work.close()
        self.scene_work.close()
        self.dialogue_work.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(ReasoningNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
