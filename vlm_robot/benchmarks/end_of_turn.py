"""End of turn, learned model vs the silence rule, on speech a program can make here.

    python -m vlm_robot.benchmarks.end_of_turn                  # espeak-ng voice, the configurations below
    python -m vlm_robot.benchmarks.end_of_turn --voice piper    # the piper voice (requirements/bench_voice.txt)
    python -m vlm_robot.benchmarks.end_of_turn --sweep          # also every threshold x first-pause x cap
    python -m vlm_robot.benchmarks.end_of_turn --text           # the words' model alone, on held-out sentences

The "person" is a voice of :mod:`vlm_robot.benchmarks.voices` (espeak-ng en-us+f3 at 150 wpm, or the
neural piper voice en_US-joe-medium). Two sets:

- finished: 22 sentences, each alone (0.5 s silence, the sentence, 2.5 s silence). Measured: how long after
  the sentence's last audible sample (|x| > 0.005) the detector's ``end`` event comes.
- paused: 20 sentences with a 300-700 ms pause inside (``"I'm looking for"``, pause, ``"the kitchen."``), in
  two ways: ``concat`` (each part synthesised alone, so the first part ends like a finished sentence, joined
  with digital silence) and ``inside`` (the sentence synthesised whole and the silence inserted at the word
  boundary, so the words before the pause keep the intonation of an unfinished sentence, as a person's
  hesitation does). Measured: the fraction whose turn ends at the pause (cut off).

Each sample runs through a fresh :class:`~vlm_robot.speech.vad.TurnDetector` (silero VAD, 32 ms frames),
exactly as the microphone path does; the model's answers are cached per (sample, audio length), so the
sweep costs one model call per distinct pause point. Speech is synthetic and in one voice: a real person's
pauses and intonation differ, so these numbers choose settings, they do not promise a rate for people.
"""

from __future__ import annotations

import argparse
import re
import time
from dataclasses import dataclass, replace

import numpy as np

from vlm_robot.benchmarks.voices import VOICES, say, say_with_pause
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE
from vlm_robot.speech.sentences import USER_SENTENCES

FINISHED = USER_SENTENCES
PAUSED = [
    ("I'm looking for", "the kitchen."),
    ("Could you bring me", "a glass of water?"),
    ("Where did I leave", "my keys this morning?"),
    ("Please tell me", "what time it is."),
    ("I would like to", "go to the entrance."),
    ("Can you help me", "find the charging station?"),
    ("My name is", "Anna and I work here."),
    ("The meeting starts at", "ten in the morning."),
    ("Do you know where", "the station is?"),
    ("I think that", "the door is open."),
    ("Please go to", "the kitchen and wait there."),
    ("What can you", "see on the table?"),
    ("How many people", "are waiting in the hall?"),
    ("Tell me a short story", "about a cat."),
    ("Is there anyone", "else in the room?"),
    ("Please remind me to", "call my sister."),
    ("I need the", "red chair from the hall."),
    ("Could you please", "speak a little slower?"),
    ("The garden looks", "beautiful in the spring."),
    ("How long will", "the battery last?"),
]
PAUSES_MS = (300, 400, 500, 600, 700)


@dataclass
class Sample:
    name: str
    kind: str  # finished | concat | inside
    audio: np.ndarray
    end: float  # s: the last audible sample (finished) or the end of the first part (paused)
    resume: float = 0.0  # s: the second part's first audible sample (paused)


def _zeros(s: float) -> np.ndarray:
    return np.zeros(round(s * SAMPLE_RATE), np.float32)


def samples(voice: str = "espeak") -> list[Sample]:
    """The finished and paused utterances in ``voice`` (synthesised now; both engines are deterministic)."""
    out = []
    lead = _zeros(0.5)
    for i, s in enumerate(FINISHED):
        a = say(s, voice)
        end = (len(lead) + len(a)) / SAMPLE_RATE
        out.append(Sample(f"f{i}", "finished", np.concatenate([lead, a, _zeros(2.5)]), end))
    for i, (p1, p2) in enumerate(PAUSED):
        gap = PAUSES_MS[i % len(PAUSES_MS)] / 1000
        a, b = say(p1, voice), say(p2, voice)
        end = (len(lead) + len(a)) / SAMPLE_RATE
        out.append(Sample(f"c{i}", "concat", np.concatenate([lead, a, _zeros(gap), b, _zeros(2.5)]), end, end + gap))
        u, e1, r1 = say_with_pause(p1, p2, gap, voice)
        t0 = len(lead) / SAMPLE_RATE
        out.append(Sample(f"s{i}", "inside", np.concatenate([lead, u, _zeros(2.5)]), t0 + e1, t0 + r1))
    return out


class CachedModel:
    """The end-of-turn model with answers cached per (sample, audio length): sweeps reuse every call."""

    def __init__(self) -> None:
        from vlm_robot.speech.end_of_turn import EndOfTurnModel

        self.model = EndOfTurnModel()
        self.cache: dict[tuple[str, int], float] = {}
        self.sample = ""
        self.calls = 0
        self.compute_s: list[float] = []

    def __call__(self, audio: np.ndarray) -> float:
        key = (self.sample, len(audio))
        if key not in self.cache:
            self.cache[key] = self.model(audio)
            self.calls += 1
            self.compute_s.append(self.model.last_s)
        return self.cache[key]


class CachedASR:
    """Whisper tiny.en (the microphone's default) on a pause's audio, cached per (sample, audio length)."""

    def __init__(self) -> None:
        from vlm_robot.speech.asr import ASRConfig, WhisperASR

        self.asr = WhisperASR(ASRConfig())
        self.cache: dict[tuple[str, int], str] = {}
        self.sample = ""
        self.compute_s: list[float] = []

    def __call__(self, audio: np.ndarray) -> str:
        key = (self.sample, len(audio))
        if key not in self.cache:
            r = self.asr.transcribe(audio)
            self.cache[key] = r.text
            self.compute_s.append(r.compute_s)
        return self.cache[key]


class CachedText:
    """The words' end-of-turn model (:class:`~vlm_robot.speech.turn_text.TextEndModel`), cached per text."""

    def __init__(self) -> None:
        from vlm_robot.speech.turn_text import TextEndModel

        self.model = TextEndModel()
        self.cache: dict[str, float] = {}
        self.compute_s: list[float] = []

    def __call__(self, text: str) -> float:
        if text not in self.cache:
            self.cache[text] = self.model(text)
            self.compute_s.append(self.model.last_s)
        return self.cache[text]


@dataclass
class Outcome:
    ends: list[tuple[float, str]]  # (time of each end event, why)


def run(sample: Sample, config, vad, model: CachedModel | None, asr: CachedASR | None = None,
        text: CachedText | None = None) -> Outcome:
    """``sample`` through a fresh detector; with ``asr`` each pause is transcribed and its words handed to
    :meth:`TurnDetector.hint`, as :class:`~vlm_robot.speech.listener.Listener` does."""
    from vlm_robot.speech.vad import TurnDetector

    vad.reset()
    for cached in (model, asr):
        if cached is not None:
            cached.sample = sample.name
    det = TurnDetector(config, vad=vad, end_model=model, text_model=text if config.text_model == "lm" else False)
    det.expect_hints = asr is not None
    ends = []
    a = sample.audio
    for i in range(0, len(a) - FRAME + 1, FRAME):
        events = det.push(a[i:i + FRAME])
        while events:
            ev = events.pop(0)
            if ev.kind == "end":
                ends.append((ev.t, ev.info.get("end_by", "silence")))
            elif ev.kind == "early_end" and asr is not None:
                events.extend(det.hint(asr(ev.audio)))
    return Outcome(ends)


@dataclass
class Row:
    name: str
    latency_ms: list[float]  # finished: end event - last audible sample
    missed: int  # finished sentences with no end event
    cut: dict[str, float]  # paused: fraction ended at the pause, per kind
    by: dict[str, int]


def evaluate(name: str, config, data: list[Sample], vad, model, asr=None, text=None) -> Row:
    lat, missed, by = [], 0, {}
    cuts: dict[str, list[bool]] = {"concat": [], "inside": []}
    learned = config.end_of_turn == "model"
    for s in data:
        out = run(s, config, vad, model if learned else None, asr if learned and config.text_cue else None, text)
        for _, why in out.ends:
            by[why] = by.get(why, 0) + 1
        if s.kind == "finished":
            after = [t for t, _ in out.ends if t >= s.end - 0.05]
            if after:
                lat.append(1000 * (after[0] - s.end))
            else:
                missed += 1
        else:
            cuts[s.kind].append(any(s.end - 0.05 <= t < s.resume + 0.1 for t, _ in out.ends))
    return Row(name, lat, missed, {k: float(np.mean(v)) for k, v in cuts.items()}, by)


def configs(sweep: bool):
    from vlm_robot.speech.vad import TurnConfig

    base = TurnConfig(end_of_turn="silence", early_silence_ms=160)
    rows = [("silence 400 ms (before)", base),
            ("silence 800 ms", replace(base, end_silence_ms=800))]
    model = replace(base, end_of_turn="model", model_interval_ms=160)
    # (words: "" | rules | lm, transcription's pause ms, first verdict's pause ms, threshold, cap ms, interval ms,
    # text_low, text_high)
    chosen = [("", 160, 160, 0.5, 1000, 160), ("rules", 128, 128, 0.5, 900, 96), ("rules", 96, 96, 0.5, 900, 96),
              ("lm", 128, 128, 0.5, 900, 96), ("lm", 96, 96, 0.5, 900, 96), ("lm", 64, 128, 0.5, 900, 96)]
    if sweep:
        chosen = [(w, e, p, t, m, 96, lo, hi) for w in ("", "rules", "lm") for e, p in ((64, 128), (96, 96), (128, 128))
                  for t in (0.5, 0.7) for m in (900, 1200) for lo in ((0.02, 0.05, 0.1) if w == "lm" else (0.05,))
                  for hi in ((0.2, 0.3, 0.5, 1.0) if w == "lm" else (0.3,))]
    for words, e, p, t, m, i, *lohi in chosen:
        lo, hi = lohi or (0.05, 0.3)
        name = f"model{f' + words ({words})' if words else ''} p>={t} at {e}/{p}/{i} ms, cap {m}"
        rows.append((name + (f", words {lo}/{hi}" if words == "lm" else ""),
                     replace(model, model_pause_ms=p, early_silence_ms=e, model_threshold=t, max_pause_ms=m,
                             model_interval_ms=i, text_cue=bool(words), text_model=words or "rules", text_low=lo,
                             text_high=hi)))
    return rows


_QUESTION = re.compile(r"^(what|where|who|how|why|when|which|can|could|would|will|do|does|did|is|are|am|have|has)\b")


def held_out_text() -> None:
    """The words' reading (:func:`~vlm_robot.speech.turn_text.read_words` with the language model) of sentences
    none of this module's audio uses: the turn classifier's example sentences (reasoning/turns.py) and a few
    commands (not the voice benchmark's sentences: most of them are this module's finished ones), each closed
    as Whisper closes a sentence (``?`` after a question word, else ``.``), and every proper prefix of them at
    a word boundary, closed the same way (Whisper puts a question mark after "Do you know where" too). A
    finished sentence read ``goes_on`` waits for ``max_pause_ms``; a prefix read ``finished`` is cut at once
    (``unsure``: the sound decides). Some prefixes are whole sentences themselves ("thank you so much" of
    "thank you so much, that helped"), so the prefix figure is an upper bound of the harm."""
    from vlm_robot.reasoning.turns import PROTOTYPES
    from vlm_robot.speech.turn_text import TextEndModel, normalise, read_words
    from vlm_robot.speech.vad import TurnConfig

    def closed(words: str) -> str:
        return words[:1].upper() + words[1:] + ("?" if _QUESTION.match(words) else ".")

    c = TurnConfig()
    whole = sorted({normalise(x) for v in PROTOTYPES.values() for x in v}
                   | {"stop", "wait", "no", "yes", "help", "come here", "go away", "not now", "stop moving"})
    parts = sorted({" ".join(w.split()[:k]) for w in whole for k in range(1, len(w.split()))} - set(whole))
    model = TextEndModel()
    for name, texts in (("finished sentences", whole), ("their prefixes", parts)):
        verdicts = [read_words(closed(t), model, c.text_low, c.text_high)[0] for t in texts]
        n = len(texts)
        print(f"{name:20s} n={n:4d}: " + ", ".join(f"{v} {100 * verdicts.count(v) / n:.1f} %"
                                                   for v in ("finished", "unsure", "goes_on")))
        wrong = "goes_on" if name.startswith("finished") else "finished"
        print(f"  read {wrong}: " + "; ".join(t for t, v in zip(texts, verdicts, strict=True) if v == wrong))
    print(f"words' model: text_low {c.text_low}, text_high {c.text_high}; the last call took "
          f"{1000 * model.last_s:.0f} ms")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="every first pause x threshold x cap")
    ap.add_argument("--voice", choices=VOICES, default="espeak", help="the person's voice (piper: "
                    "requirements/bench_voice.txt)")
    ap.add_argument("--text", action="store_true", help="only the words' model, on held-out sentences (no audio)")
    args = ap.parse_args(argv)
    if args.text:
        held_out_text()
        return
    from vlm_robot.speech.vad import SileroVad

    t0 = time.perf_counter()
    data = samples(args.voice)
    print(f"{sum(s.kind == 'finished' for s in data)} finished sentences, {sum(s.kind == 'concat' for s in data)} "
          f"paused (concat) + {sum(s.kind == 'inside' for s in data)} paused (inside), pauses {PAUSES_MS} ms; "
          f"synthesised in {time.perf_counter() - t0:.1f} s")
    vad, model, asr, text = SileroVad(), CachedModel(), CachedASR(), CachedText()
    print(f"{'configuration':72s} {'finished: end after last sound (ms)':>36s} {'cut at pause':>20s}")
    print(f"{'':72s} {'p50':>8s} {'p90':>8s} {'max':>8s} {'miss':>6s} {'concat':>10s} {'inside':>9s}   ends by")
    for name, cfg in configs(args.sweep):
        r = evaluate(name, cfg, data, vad, model, asr, text)
        lat = np.array(r.latency_ms) if r.latency_ms else np.array([np.nan])
        print(f"{name:72s} {np.percentile(lat, 50):8.0f} {np.percentile(lat, 90):8.0f} {lat.max():8.0f} "
              f"{r.missed:6d} {100 * r.cut['concat']:9.0f}% {100 * r.cut['inside']:8.0f}%   "
              + ", ".join(f"{k} {v}" for k, v in sorted(r.by.items())))
    if model.compute_s:
        c = 1000 * np.array(model.compute_s)
        print(f"model: {model.calls} calls, features + inference p50 {np.median(c):.0f} ms, p90 "
              f"{np.percentile(c, 90):.0f} ms (1 thread)")
    if asr.compute_s:
        c = 1000 * np.array(asr.compute_s)
        print(f"Whisper tiny.en on the pauses: {len(c)} calls, p50 {np.median(c):.0f} ms, p90 "
              f"{np.percentile(c, 90):.0f} ms")
    if text.compute_s:
        c = 1000 * np.array(text.compute_s)
        print(f"words' model (SmolLM2-135M, llama.cpp) on the pauses' transcripts: {len(c)} calls, p50 "
              f"{np.median(c):.0f} ms, p90 {np.percentile(c, 90):.0f} ms")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
