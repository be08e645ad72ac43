"""`vlm-robot bench voice`: end of a person's speech -> the robot's first audio sample, through the real nodes.

    vlm-robot bench voice               # 32 sentences: learned end of turn, the same with open talk as before
                                        # (no speculation, no parallel candidates), the silence rule; ~12 min
    vlm-robot bench voice --turns 8     # a quick look
    vlm-robot bench voice --gap 6       # more silence after each sentence (a slow model must finish first)
    vlm-robot bench voice --end-of-turn model   # the settings of one end of turn only (model or silence)

Each setting (:data:`SETTINGS`) gets a fresh start of the same nodes on the same WAV, one after the other in the
same run (config/microphone.yaml's ``vad`` with ``end_of_turn`` set, config/reasoning.yaml's
``dialogue.speculate`` and ``llm.parallel_candidates``), and a side-by-side table closes the run.

What runs is the robot's own voice path, as `vlm-robot run` starts it (:mod:`vlm_robot.graph`, the same
config/*.yaml parameter files): microphone_node -> /speech/transcript -> reasoning_node (with
safety_gate_node, whose verdicts the reasoning node waits for on requests) -> /vlm_robot/reply_chunk and
/vlm_robot/utterance -> speech_out_node. Only these are changed: the microphone's source is a WAV file,
the reasoning node's memory and the speech WAVs go to ``out/bench_voice`` (a fresh memory each run).
Camera, perception and VLM nodes do not run (questions about the scene fall back to the chat model).

The person: the sentences are synthesised with espeak-ng's ``en-us+f3`` voice (the simulation's voice,
:data:`vlm_robot.sim.voice.USER_VOICE`; the robot speaks ``en-us``) into one WAV, each followed by
``--gap`` seconds of silence so that its reply is over before the next sentence starts. microphone_node
plays the file at a microphone's pace (``realtime: true``): frame n (32 ms) is handed to its worker when
the wall clock reaches ``t0 + n * 32 ms``, stamped with that time. ``t0`` is the wall-clock time of the
file's first sample.

Timing, all on this machine's wall clock (``time.time()`` in every process):

- end of speech: ``t0 +`` the sentence's last sample above -40 dB of its peak in the WAV. ``t0`` comes from
  the transcripts: each carries ``speech_end``, the node's voice-activity end mapped to the wall clock
  through the frame stamps. The same turn detector (config/microphone.yaml ``vad``) is run over the same
  WAV here, which gives each turn's ``speech_end`` on the file's clock; the difference is ``t0`` (median
  over the turns). The spread of the per-turn differences, printed, is the mapping's error: a late-waking
  reader thread stamps a frame late (±0.04 ms on an idle 2-core machine). A file has no capture latency: a
  sound card adds its input buffer to every figure.
- transcript: when /speech/transcript reached this process (end-of-turn wait, ``vad.end_silence_ms``,
  plus Whisper; DDS on loopback adds about a millisecond to this and the next stage).
- first reply piece: the first /vlm_robot/reply_chunk (or the utterance, when none) in reply to it.
- first audio: the ``first_audio`` stamp of /vlm_robot/speech_done, taken by speech_out_node when it hands
  the first synthesised samples of the reply to the output (a sound card's own buffer is not included;
  with ``tts.output: wav``, the default, the samples go to a file instead).

Turns are split by who answered, from the reply's ``reason`` (:func:`answered_by_model`). No pass/fail:
absolute times depend on the machine and on what else runs on it.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlm_robot.speech.audio import SAMPLE_RATE

SENTENCES = [
    "Hello!",
    "Could you tell me what time the library opens tomorrow?",
    "Please bring me a glass of water.",
    "What can you do?",
    "What is the weather like outside today?",
    "Where did I leave my keys this morning?",
    "Where is the kitchen?",
    "How many people are waiting in the hall?",
    "Can you help me find the kitchen?",
    "I am looking for the red chair.",
    "What time is it?",
    "Is there anyone else in the room?",
    "My name is Anna and I work here.",
    "Tell me a short story about a cat.",
    "Stop.",
    "Do you know where the station is?",
    "I would like a cup of coffee.",
    "Please open the door for me.",
    "What can you see on the table?",
    "Thank you for your help today.",
    "Can you speak a little slower?",
    "The garden looks beautiful in the spring.",
    "Thank you.",
    "Where is the nearest bus stop?",
    "Please remind me to call my sister.",
    "How long will the battery last?",
    # open talk: since the conversation work, only 3 of the 26 above go to the language model
    "I like painting.",
    "Do you like music?",
    "I just got back from a holiday in Spain.",
    "My cat is sick.",
    "I've been learning to play the guitar.",
    "What do you think about music?",
]
# silence before the first sentence: longer than the reasoning node's discovery hold after a start
# (nodes/hold.py: 2 s grace, then 3.5 s of a stable set of subscribers), which the first sentence of a run
# otherwise met now and then (measured: "Hello!" answered 1.9 s after the end of speech in one run, 0.2 s in
# the next); the hold is a start-up cost, not the conversation's
LEAD_S = 4.0
VOICE_NODES = ("reasoning", "safety_gate", "speech_out")  # started first; then the microphone


def answered_by_model(reason: str) -> bool:
    """Was this reply written by the language model? Decided from the utterance's ``reason``.

    The reasoning node says "answered by the language model" for open talk and "answered from ..."
    (knowledge, memory, what the camera sees) otherwise; a safety-gate question counts as knowledge.
    """
    return "language model" in reason


@dataclass
class Spoken:
    """One sentence in the WAV: its text and where its sound starts and ends (seconds on the file's clock)."""

    text: str
    start: float
    end: float


@dataclass
class Turn:
    """What the nodes made of one sentence; wall-clock times, None where it did not happen."""

    said: Spoken
    heard: str = ""
    transcripts: int = 0  # final transcripts whose speech ended inside this sentence (1 expected)
    asr_ms: float | None = None
    t_transcript: float | None = None
    t_reply: float | None = None
    first_audio: float | None = None
    cut: int = 0  # replies whose speech_done says aborted (barge-in)
    replies: list[dict] = field(default_factory=list)  # utterances in reply to its transcript(s)

    @property
    def by_model(self) -> bool | None:
        return answered_by_model(self.replies[0]["reason"]) if self.replies else None


def build_wav(sentences: list[str], gap_s: float, path: Path) -> list[Spoken]:
    """The person's speech as one 16 kHz WAV at ``path``; the sentences' positions in it."""
    from vlm_robot.sim.voice import USER_VOICE
    from vlm_robot.speech.audio import write_wav
    from vlm_robot.speech.stream_tts import ClauseSynth, StreamTTSConfig

    synth = ClauseSynth(StreamTTSConfig(voice=USER_VOICE, rate_wpm=160))  # as sim/voice.py speaks
    parts = [np.zeros(int(LEAD_S * SAMPLE_RATE), np.float32)]
    n = len(parts[0])
    spoken = []
    for text in sentences:
        clip = np.asarray(synth(text), np.float32)
        loud = np.flatnonzero(np.abs(clip) > 0.01 * np.max(np.abs(clip)))  # -40 dB of the peak
        spoken.append(Spoken(text, (n + loud[0]) / SAMPLE_RATE, (n + loud[-1] + 1) / SAMPLE_RATE))
        parts += [clip, np.zeros(int(gap_s * SAMPLE_RATE), np.float32)]
        n += len(clip) + len(parts[-1])
    write_wav(path, np.concatenate(parts))
    return spoken


@dataclass(frozen=True)
class Setting:
    """One fresh start of the nodes in a run: the microphone's ``vad.end_of_turn``; the reasoning node's
    ``dialogue.speculate`` (open talk drawing its reply from the speculative transcript of the first pause) and
    ``llm.parallel_candidates`` (open talk's candidates drawn side by side); None: as configured."""

    label: str
    end_of_turn: str
    speculate: bool | None = None
    parallel_candidates: int | None = None

    def reasoning_params(self) -> dict:
        return {**({} if self.speculate is None else {"dialogue.speculate": self.speculate}),
                **({} if self.parallel_candidates is None else {"llm.parallel_candidates": self.parallel_candidates})}


# the default run: the shipped configuration; then open talk as it was before (no speculation, one model drawing
# the candidates one after another: the baseline of the language model's answers); then the silence rule (the
# baseline of the end of turn)
SETTINGS = {
    "model": Setting("learned (model + words)", "model"),
    "model_open_talk_before": Setting("learned, open talk before", "model", speculate=False, parallel_candidates=1),
    "silence": Setting("silence rule", "silence"),
}


def vad_speech_ends(wav: Path, vad: dict) -> list[float]:
    """Each turn's ``speech_end`` as microphone_node's turn detector finds it in ``wav`` (file clock)."""
    from vlm_robot.speech.audio import WavSource
    from vlm_robot.speech.vad import TurnConfig, TurnDetector

    det = TurnDetector(TurnConfig(**vad))
    ends = []
    for frame in WavSource(wav).frames():
        ends += [ev.info["speech_end"] for ev in det.push(frame) if ev.kind == "end"]
    return ends


def clock_offset(walls: list[float], file_ends: list[float], tol: float = 0.05) -> tuple[float, list[float]]:
    """``t0`` (wall clock of the file's first sample) from transcripts' ``speech_end`` and the same ends on the
    file's clock, paired by agreement: the offset most pairs share (within ``tol``), then its median.

    Returns ``t0`` and each agreeing pair's difference from it (seconds).
    """
    cands = np.array([w - f for w in walls for f in file_ends])
    if not len(cands):
        raise ValueError("no transcript with a speech_end: the microphone node heard nothing")
    best = cands[np.argmax([np.sum(np.abs(cands - c) < tol) for c in cands])]
    near = cands[np.abs(cands - best) < tol]
    t0 = float(np.median(near))
    return t0, [float(c - t0) for c in near]


def _pct(xs: list[float], q: float) -> float:
    return float(np.percentile(xs, q)) if xs else float("nan")


def _cell(xs: list[float]) -> str:
    if not xs:
        return "-"
    return f"{1000 * _pct(xs, 50):.0f} / {1000 * _pct(xs, 95):.0f}"


class _Ear:
    """What the bench hears besides the observer's topics: transcripts, voice activity, speaking."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.transcripts: list[tuple[float, dict]] = []
        self.voice: list[tuple[float, bool]] = []
        self.speaking: list[tuple[float, bool]] = []

    def setup(self, obs) -> None:
        from std_msgs.msg import Bool

        from vlm_robot.nodes import common, messages

        def keep(store, decode):
            def cb(msg) -> None:
                with self.lock:
                    store.append((time.time(), decode(msg)))
            return cb

        obs.create_subscription(messages.CLASSES["transcript"], common.TRANSCRIPT, keep(
            self.transcripts, lambda m: messages.from_msg("transcript", m)), common.EVENT_QOS)
        obs.create_subscription(Bool, common.VOICE_ACTIVITY, keep(self.voice, lambda m: m.data), common.EVENT_QOS)
        obs.create_subscription(Bool, common.SPEAKING, keep(self.speaking, lambda m: m.data), common.STATE_QOS)


def _mic_params() -> dict:
    import yaml

    from vlm_robot import graph

    return yaml.safe_load((graph.config_dir() / "microphone.yaml").read_text())["microphone"]["ros__parameters"]


def _all_answered(seen, ear: _Ear) -> bool:
    """Every final transcript has a reply and every reply its speech_done (``seen``: Observer.wait_for's, locked)."""
    from vlm_robot.nodes import common

    with ear.lock:
        ids = {b["id"] for _, b in ear.transcripts if b.get("final", True)}
    utts = [u for u in seen.of(common.UTTERANCE) if u.get("in_reply_to") in ids]
    done = {d["utterance_id"] for d in seen.of(common.SPEECH_DONE)}
    return {u["in_reply_to"] for u in utts} == ids and all(u.get("id") in done for u in utts)


def run(sentences: list[str], gap_s: float, out: Path, end_of_turn: str | None = None,
        reasoning: dict | None = None) -> tuple[list[Turn], dict]:
    """Play ``sentences`` into the voice nodes; per sentence, what happened when. Also returns run facts.
    ``end_of_turn``: the microphone's ``vad.end_of_turn`` (None: as configured); ``reasoning``: more parameters
    of the reasoning node (:meth:`Setting.reasoning_params`)."""
    from vlm_robot import graph
    from vlm_robot.observe import observed_graph

    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    wav = out / "person.wav"
    spoken = build_wav(sentences, gap_s, wav)
    wav_s = len(np.fromfile(wav, np.int16)) / SAMPLE_RATE  # header bytes: negligible
    mic = _mic_params()
    vad = {**mic["vad"], **({"end_of_turn": end_of_turn} if end_of_turn else {})}
    file_ends = vad_speech_ends(wav, vad)
    print(f"person: {len(sentences)} sentences, {wav_s:.0f} s of audio ({gap_s:.1f} s after each) -> {wav}; "
          f"the turn detector finds {len(file_ends)} turns in it", flush=True)
    specs = {s.name: s for s in graph.NODES}
    env = graph.current_env()
    logs = out / "logs"
    voice = graph.Graph([specs[n] for n in VOICE_NODES],
                        {"reasoning": {"memory.path": str(out / "memory.json"), **(reasoning or {})},
                         "speech_out": {"tts.output_dir": str(out / "speech")}}, env=env, log_dir=logs)
    mic_params = {"source": str(wav), **({"vad.end_of_turn": end_of_turn} if end_of_turn else {})}
    microphone = graph.Graph([specs["microphone"]], {"microphone": mic_params}, env=env, log_dir=logs)
    ear = _Ear()
    t_start = time.monotonic()
    with observed_graph(voice, "bench_voice", settle_s=1.0, setup=ear.setup) as obs:
        print(f"nodes {', '.join(VOICE_NODES)} ready in {time.monotonic() - t_start:.0f} s; starting microphone_node "
              f"(logs in {logs})", flush=True)
        microphone.start()
        try:
            deadline = time.monotonic() + 180.0  # Whisper loads, then the file starts
            while not ear.voice and time.monotonic() < deadline:
                if microphone.poll():
                    raise RuntimeError(f"microphone_node exited; see {logs / 'microphone.log'}")
                time.sleep(0.1)
            if not ear.voice:
                raise TimeoutError(f"microphone_node gave no voice activity in 180 s; see {logs / 'microphone.log'}")
            # the first voice comes ~64 ms into the first sentence: the file ends about this much later
            t_end = ear.voice[0][0] + wav_s - spoken[0].start + 2.0
            while time.time() < t_end:
                time.sleep(0.2)
            obs.wait_for(lambda s: _all_answered(s, ear), 30.0)
        finally:
            mic_code = microphone.stop()
    with (out / "events.json").open("w") as f:  # everything heard, for a closer look
        json.dump({"events": [{"topic": e.topic, "received": e.received, "body": e.body} for e in obs.seen.events],
                   "transcripts": ear.transcripts, "voice_activity": ear.voice, "speaking": ear.speaking,
                   "sentences": [vars(x) for x in spoken], "vad_speech_ends": file_ends}, f, indent=1)
    facts = {"exit_codes": {**obs.exit_codes, **mic_code}, "wav_s": wav_s, "logs": logs,
             "restarts": {**voice.restarts, **microphone.restarts}}
    return _turns(spoken, file_ends, obs, ear, facts), facts


def _turns(spoken: list[Spoken], file_ends: list[float], obs, ear: _Ear, facts: dict) -> list[Turn]:
    from vlm_robot.nodes import common

    finals = [(t, b) for t, b in ear.transcripts if b.get("final", True) and "speech_end" in b]
    turns = [Turn(s) for s in spoken]
    if not finals:
        facts["t0"], facts["residuals"] = None, []
        return turns
    t0, facts["residuals"] = clock_offset([b["speech_end"] for _, b in finals], file_ends)
    facts["t0"] = t0
    utts = [(e.received, e.body) for e in obs.seen.events if e.topic == common.UTTERANCE]
    chunks = [(e.received, e.body) for e in obs.seen.events if e.topic == common.REPLY_CHUNK]
    done = {d["utterance_id"]: d for d in obs.seen.of(common.SPEECH_DONE)}
    for received, b in finals:
        end = b["speech_end"] - t0
        i = int(np.argmin([abs(end - s.end) for s in spoken]))  # the sentence whose end it is nearest
        if not spoken[i].start - 0.5 <= end <= spoken[i].end + 1.0:
            continue  # not a sentence (noise between them): counted below as unmatched
        tu = turns[i]
        tu.transcripts += 1
        tu.heard = (tu.heard + " " + b["text"]).strip()
        tu.asr_ms, tu.t_transcript = b.get("asr_ms"), received  # the last turn of a split sentence counts
        mine = [(t, u) for t, u in utts if u.get("in_reply_to") == b["id"]]
        tu.replies += [u for _, u in mine]
        first = [t for t, c in chunks if c["in_reply_to"] == b["id"]] + [t for t, _ in mine]
        tu.t_reply = min(first) if first else None
        audio = [done[u["id"]]["first_audio"] for _, u in mine if "first_audio" in done.get(u.get("id"), {})]
        tu.first_audio = min(audio) if audio else None
        tu.cut += sum(done.get(u.get("id"), {}).get("aborted", False) for _, u in mine)
    facts["unmatched"] = len(finals) - sum(t.transcripts for t in turns)
    # where the turn detector puts the end of speech, against the last loud sample (file clock, both)
    facts["vad_lag"] = [min(file_ends, key=lambda f, s=s: abs(f - s.end)) - s.end for s in spoken if file_ends]
    speaking = ear.speaking
    on = [t for i, (t, v) in enumerate(speaking) if v]
    off = [next((t2 for t2, v2 in speaking[i + 1:] if not v2), float("inf")) for i, (t, v) in enumerate(speaking) if v]
    facts["gated"] = sum(any(a < t0 + s.end and b > t0 + s.start for a, b in zip(on, off, strict=True))
                         for s in spoken)
    facts["longest_speaking"] = max([b - a for a, b in zip(on, off, strict=True) if b < float("inf")], default=0.0)
    ids = {u.get("id") for _, u in utts}
    facts["stray_audio"] = [d for d in done.values() if d["utterance_id"] not in ids]
    return turns


def report(turns: list[Turn], facts: dict, gap_s: float) -> None:
    from vlm_robot.speech.wer import wer

    t0 = facts["t0"]
    print(f"\n{'#':>3} {'said':38s} {'heard':32s} {'by':5s} {'text':>6s} {'reply':>6s} {'audio':>6s}  (ms after the "
          "end of speech)")
    for i, tu in enumerate(turns):
        end = t0 + tu.said.end if t0 is not None else float("nan")

        def ms(t: float | None, end: float = end) -> str:
            return "-" if t is None or end != end else f"{1000 * (t - end):.0f}"

        by = {None: "-", True: "model", False: "know"}[tu.by_model]
        flag = "" if tu.transcripts == 1 and len(tu.replies) == 1 else f"  [{tu.transcripts} transcripts, " \
            f"{len(tu.replies)} replies]"
        flag += f"  [reply cut: {tu.cut}]" if tu.cut else ""
        print(f"{i + 1:3d} {tu.said.text[:38]:38s} {tu.heard[:32]:32s} {by:5s} {ms(tu.t_transcript):>6s} "
              f"{ms(tu.t_reply):>6s} {ms(tu.first_audio):>6s}{flag}")
    if t0 is None:
        print("\nno transcript came from microphone_node; see the logs in", facts["logs"])
        return
    groups = _groups(turns)

    def lat(ts: list[Turn], attr: str) -> list[float]:
        return [getattr(t, attr) - (t0 + t.said.end) for t in ts if getattr(t, attr) is not None]

    print("\nend of the person's speech -> (p50 / p95 ms; answered from knowledge / by the language model / all):")
    print(f"{'':28s}" + "".join(f"{f'{k} (n={len(v)})':>20s}" for k, v in groups.items()))
    for name, attr in (("transcript received", "t_transcript"), ("first reply piece", "t_reply"),
                       ("first robot audio sample", "first_audio")):
        print(f"{name:28s}" + "".join(f"{_cell(lat(v, attr)):>20s}" for v in groups.values()))
    asr = [t.asr_ms / 1000 for t in groups["all"] if t.asr_ms is not None]
    print(f"{'  of it Whisper (asr_ms)':28s}{'':40s}{_cell(asr):>20s}")
    res = np.abs(facts["residuals"]) if facts["residuals"] else np.array([np.nan])
    answered = sum(t.first_audio is not None for t in turns)
    said = [t.said.text for t in turns if t.heard]
    print(f"\nturns: {len(turns)} sentences, {sum(t.transcripts > 0 for t in turns)} heard, {answered} answered aloud; "
          f"{sum(t.transcripts > 1 for t in turns)} heard as more than one turn, "
          f"{sum(len(t.replies) > 1 for t in turns)} with more than one reply, {facts['unmatched']} transcripts "
          f"outside any sentence; WER of what was heard {wer(said, [t.heard for t in turns if t.heard]):.2f}")
    print(f"clock mapping: {len(facts['residuals'])} transcripts agree on t0 within {1000 * np.max(res):.1f} ms "
          f"(median {1000 * np.median(res):.1f} ms): the error of every figure above from the mapping; the turn "
          f"detector's speech_end lies {1000 * _pct(facts['vad_lag'], 50):+.0f} ms (median) from the last sample "
          "above -40 dB")
    if facts["gated"]:
        print(f"WARNING: the robot was speaking (/vlm_robot/speaking true) during {facts['gated']} sentence(s); "
              "microphone_node ignores the microphone then (while_speaking: gate), so words were lost. Longest "
              f"speaking stretch {facts['longest_speaking']:.1f} s: if a reply took that long, use a longer --gap "
              f"than {gap_s}")
    for d in facts["stray_audio"]:
        print(f"WARNING: speech_out spoke {d['duration_s']:.1f} s ({d['text'][:50]!r}) for no utterance published "
              f"(utterance_id {d['utterance_id']!r}): a reply spoken twice?")
    bad = {k: v for k, v in facts["exit_codes"].items() if v != 0}
    if bad or any(facts["restarts"].values()):
        print(f"nodes: exit codes {bad}, restarts {facts['restarts']}; logs in {facts['logs']}")


def _groups(turns: list[Turn]) -> dict[str, list[Turn]]:
    return {"knowledge": [t for t in turns if t.by_model is False], "model": [t for t in turns if t.by_model],
            "all": [t for t in turns if t.by_model is not None]}


def compare(results: dict[str, tuple[list[Turn], dict]]) -> None:
    """End of speech -> first robot audio, one row per setting of this run."""
    print("\nend of speech -> first robot audio sample, p50 / p95 ms (same WAV, same nodes, one after the other):")
    print(f"{'end of turn':28s}{'knowledge':>20s}{'language model':>20s}{'all':>20s}{'transcript (all)':>20s}")
    for name, (turns, facts) in results.items():
        t0 = facts["t0"]
        if t0 is None:
            print(f"{SETTINGS[name].label:28s} no transcripts")
            continue

        def lat(ts: list[Turn], attr: str, t0: float = t0) -> list[float]:
            return [getattr(t, attr) - (t0 + t.said.end) for t in ts if getattr(t, attr) is not None]

        g = _groups(turns)
        print(f"{SETTINGS[name].label:28s}" + "".join(
            f"{f'{_cell(lat(v, attr))} (n={len(v)})':>20s}" for v, attr in
            ((g["knowledge"], "first_audio"), (g["model"], "first_audio"), (g["all"], "first_audio"),
             (g["all"], "t_transcript"))))


def main(turns: int = len(SENTENCES), gap_s: float = 5.0, out: str = "out/bench_voice",
         end_of_turn: str | None = None) -> int:
    from vlm_robot.isolate import loopback_defaults

    loopback_defaults()
    sentences = [SENTENCES[i % len(SENTENCES)] for i in range(turns)]
    load = os.getloadavg()[0]
    t_run = time.monotonic()
    results = {}
    for name, setting in SETTINGS.items():
        if end_of_turn and setting.end_of_turn != end_of_turn:
            continue
        params = ", ".join(f"{k}: {v}" for k, v in setting.reasoning_params().items())
        print(f"\n=== {setting.label} (vad.end_of_turn: {setting.end_of_turn}{', ' + params if params else ''}) ===",
              flush=True)
        results[name] = run(sentences, gap_s, Path(out) / name, setting.end_of_turn, setting.reasoning_params())
        report(*results[name], gap_s)
    if len(results) > 1:
        compare(results)
    print(f"\n{time.monotonic() - t_run:.0f} s; {os.cpu_count()} CPUs, load average {load:.2f} before the run and "
          f"{os.getloadavg()[0]:.2f} after (other work on the machine slows every stage)")
    return 0
