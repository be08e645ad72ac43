"""End of turn, learned model vs the silence rule, on speech from the project's own TTS (espeak-ng).

    python -m vlm_robot.benchmarks.end_of_turn            # table of the configurations below
    python -m vlm_robot.benchmarks.end_of_turn --sweep    # also every threshold x first-pause x cap

The "person" is espeak-ng's en-us+f3 voice at 150 wpm, words run together (as in tests/speech/). Two sets:

- finished: 22 sentences, each alone (0.5 s silence, the sentence, 2.5 s silence). Measured: how long after
  the sentence's last audible sample (|x| > 0.005) the detector's ``end`` event comes.
- paused: 20 sentences said in two parts with 500-800 ms of silence between them (``"I'm looking for"``,
  pause, ``"the kitchen."``), in two ways: ``concat`` (each part synthesised alone, joined with digital
  silence) and ``ssml`` (one utterance with an SSML ``<break>``, so espeak-ng keeps the sentence's
  intonation over the pause). Measured: the fraction whose turn ends at the pause (cut off).

Each sample runs through a fresh :class:`~vlm_robot.speech.vad.TurnDetector` (silero VAD, 32 ms frames),
exactly as the microphone path does; the model's answers are cached per (sample, audio length), so the
sweep costs one model call per distinct pause point. Speech is synthetic and in one voice: a real person's
pauses and intonation differ, so these numbers choose settings, they do not promise a rate for people.
"""

from __future__ import annotations

import argparse
import io
import subprocess
import time
from dataclasses import dataclass, replace

import numpy as np

from vlm_robot.speech.audio import FRAME, SAMPLE_RATE, read_wav, resample
from vlm_robot.speech.sentences import USER_SENTENCES

VOICE = "en-us+f3"
RATE_WPM = 150
AUDIBLE = 0.005

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
PAUSES_MS = (500, 600, 700, 800)


@dataclass
class Sample:
    name: str
    kind: str  # finished | concat | ssml
    audio: np.ndarray
    end: float  # s: the last audible sample (finished) or the end of the first part (paused)
    resume: float = 0.0  # s: the second part's first audible sample (paused)


def _espeak(text: str, ssml: bool = False) -> np.ndarray:
    from vlm_robot.speech.stream_tts import _fix_stream_header

    cmd = ["espeak-ng", "-v", VOICE, "-s", str(RATE_WPM), "-g", "0", "--stdout"] + (["-m"] if ssml else [])
    wav = subprocess.run([*cmd, "--", text], check=True, capture_output=True, timeout=30).stdout
    samples, rate = read_wav(io.BytesIO(_fix_stream_header(wav)))
    return resample(samples, rate, SAMPLE_RATE).astype(np.float32)


def _trim(a: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(np.abs(a) > AUDIBLE)
    return a[idx[0]:idx[-1] + 1]


def _zeros(s: float) -> np.ndarray:
    return np.zeros(round(s * SAMPLE_RATE), np.float32)


def samples() -> list[Sample]:
    """The finished and paused utterances (synthesised now; espeak-ng is deterministic)."""
    out = []
    lead = _zeros(0.5)
    for i, s in enumerate(FINISHED):
        a = _trim(_espeak(s))
        end = (len(lead) + len(a)) / SAMPLE_RATE
        out.append(Sample(f"f{i}", "finished", np.concatenate([lead, a, _zeros(2.5)]), end))
    for i, (p1, p2) in enumerate(PAUSED):
        gap = PAUSES_MS[i % len(PAUSES_MS)] / 1000
        a, b = _trim(_espeak(p1)), _trim(_espeak(p2))
        end = (len(lead) + len(a)) / SAMPLE_RATE
        out.append(Sample(f"c{i}", "concat", np.concatenate([lead, a, _zeros(gap), b, _zeros(2.5)]), end, end + gap))
        u = _trim(_espeak(f'<speak>{p1} <break time="{int(gap * 1000)}ms"/> {p2}</speak>', ssml=True))
        loud = np.flatnonzero(np.abs(u) > AUDIBLE)
        k = int(np.argmax(np.diff(loud)))  # the longest quiet stretch is the break
        out.append(Sample(f"s{i}", "ssml", np.concatenate([lead, u, _zeros(2.5)]),
                          (len(lead) + loud[k] + 1) / SAMPLE_RATE, (len(lead) + loud[k + 1]) / SAMPLE_RATE))
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


@dataclass
class Outcome:
    ends: list[tuple[float, str]]  # (time of each end event, why)


def run(sample: Sample, config, vad, model: CachedModel | None) -> Outcome:
    from vlm_robot.speech.vad import TurnDetector

    vad.reset()
    if model is not None:
        model.sample = sample.name
    det = TurnDetector(config, vad=vad, end_model=model)
    ends = []
    a = sample.audio
    for i in range(0, len(a) - FRAME + 1, FRAME):
        for ev in det.push(a[i:i + FRAME]):
            if ev.kind == "end":
                ends.append((ev.t, ev.info.get("end_by", "silence")))
    return Outcome(ends)


@dataclass
class Row:
    name: str
    latency_ms: list[float]  # finished: end event - last audible sample
    missed: int  # finished sentences with no end event
    cut: dict[str, float]  # paused: fraction ended at the pause, per kind
    by: dict[str, int]


def evaluate(name: str, config, data: list[Sample], vad, model) -> Row:
    lat, missed, by = [], 0, {}
    cuts: dict[str, list[bool]] = {"concat": [], "ssml": []}
    for s in data:
        out = run(s, config, vad, model if config.end_of_turn == "model" else None)
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

    base = TurnConfig()
    rows = [("silence 400 ms (today)", base),
            ("silence 800 ms", replace(base, end_silence_ms=800))]
    model = replace(base, end_of_turn="model", model_interval_ms=160)
    chosen = [(160, 0.5, 400), (160, 0.5, 800), (160, 0.5, 1000), (160, 0.5, 1500), (160, 0.7, 1000),
              (160, 0.9, 1000), (160, 0.9, 1500)]
    if sweep:
        chosen = [(p, t, m) for p in (96, 160, 256) for t in (0.5, 0.7, 0.8, 0.9, 0.95) for m in (400, 800, 1500)]
    for p, t, m in chosen:
        rows.append((f"model p>={t} at {p} ms, cap {m} ms",
                     replace(model, model_pause_ms=p, model_threshold=t, max_pause_ms=m)))
    return rows


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep", action="store_true", help="every first pause x threshold x cap")
    args = ap.parse_args(argv)
    from vlm_robot.speech.vad import SileroVad

    t0 = time.perf_counter()
    data = samples()
    print(f"{sum(s.kind == 'finished' for s in data)} finished sentences, {sum(s.kind == 'concat' for s in data)} "
          f"paused (concat) + {sum(s.kind == 'ssml' for s in data)} paused (ssml), pauses {PAUSES_MS} ms; "
          f"synthesised in {time.perf_counter() - t0:.1f} s")
    vad, model = SileroVad(), CachedModel()
    print(f"{'configuration':38s} {'finished: end after last sound (ms)':>36s} {'cut at pause':>20s}")
    print(f"{'':38s} {'p50':>8s} {'p90':>8s} {'max':>8s} {'miss':>6s} {'concat':>10s} {'ssml':>9s}   ends by")
    for name, cfg in configs(args.sweep):
        r = evaluate(name, cfg, data, vad, model)
        lat = np.array(r.latency_ms) if r.latency_ms else np.array([np.nan])
        print(f"{name:38s} {np.percentile(lat, 50):8.0f} {np.percentile(lat, 90):8.0f} {lat.max():8.0f} "
              f"{r.missed:6d} {100 * r.cut['concat']:9.0f}% {100 * r.cut['ssml']:8.0f}%   "
              + ", ".join(f"{k} {v}" for k, v in sorted(r.by.items())))
    if model.compute_s:
        c = 1000 * np.array(model.compute_s)
        print(f"model: {model.calls} calls, features + inference p50 {np.median(c):.0f} ms, p90 "
              f"{np.percentile(c, 90):.0f} ms (1 thread)")
    print(f"total {time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
