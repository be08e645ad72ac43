"""Turn-taking and recognition in noise: the microphone path (Listener + TurnDetector + Whisper) on one stream.

    python -m vlm_robot.benchmarks.voice_noise            # both voices, clean / white / babble, every front end
    python -m vlm_robot.benchmarks.voice_noise --quick    # 8 whole + 5 paused sentences, tiny.en only
    python -m vlm_robot.benchmarks.voice_noise --voices espeak --noise babble --denoise rnnoise --vad noise_snr_db=0

The person (:mod:`vlm_robot.benchmarks.voices`): espeak-ng en-us+f3 at 150 wpm, or the piper voice
en_US-joe-medium (``requirements/bench_voice.txt``). They say the 22 sentences of
:data:`~vlm_robot.speech.sentences.USER_SENTENCES` whole and the 20 ``PAUSED`` sentences of
:mod:`vlm_robot.benchmarks.end_of_turn` with a 300-700 ms pause inside, in a fixed shuffled order, 2-3 s apart,
as one continuous stream. Noise over the whole stream: none (``clean``), white at 10 dB SNR, babble at 10 dB
SNR (5 other talkers: espeak-ng voices that are not the person's, saying other sentences, mixed and
continuous). SNR = the speech's power over its active 10 ms blocks (within 40 dB of the loudest) against the
noise's power over the whole stream.

Each stream is denoised frame by frame with :mod:`vlm_robot.speech.denoise` (the same object the Listener
applies per frame, run once per stream and shared by both end-of-turn rules), then fed frame by frame to the
project's :class:`~vlm_robot.speech.listener.Listener` with a :class:`~vlm_robot.speech.vad.TurnDetector`
(silero VAD; ``vad.*`` of config/microphone.yaml, then ``--vad`` overrides, each ``end_of_turn`` in turn) on
the stream's clock (no real-time waits). Whisper (:mod:`vlm_robot.speech.asr`) runs only when
the Listener reads a transcript's text (partials off), once per distinct audio and model (cached).

Per voice x noise x denoise x end_of_turn (x ASR model for noisy streams):

- eot p50/p95: the first ``end`` event after each sentence's true end (last audible sample; ends up to
  ``EARLY_S`` before it count: the faint tail of the last sound), minus that end; the denoiser's delay is
  included (it is real latency); >1s: sentences whose turn ended later than 1 s after (or never).
- glued: final transcripts whose turn spans two sentences (>= 0.3 s of each); cut: paused sentences whose turn
  ended in the pause; max: turns cut by ``vad.max_turn_s``.
- WER (:mod:`vlm_robot.speech.wer`): each final transcript is given to the sentence its turn overlaps most;
  transcripts of turns that overlap no sentence count as insertions; ``whole``: the sentences said whole only
  (no pause inside, so no cut-off fragments; insertions not counted).
- dn ms/s: denoiser compute per second of audio; asr ms: Whisper compute per final transcript (p50).

Synthesised speech and babble are cached in ``~/.cache/vlm_robot/voice_noise``. Timings depend on the load.
"""

from __future__ import annotations

import argparse
import hashlib
import time
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from vlm_robot.speech.audio import FRAME, SAMPLE_RATE

CACHE = Path("~/.cache/vlm_robot/voice_noise").expanduser()
SNR_DB = 10.0
EARLY_S = 0.3  # a turn ending this much before the last audible sample still ends that sentence (a faint tail)
PAUSES_MS = (300, 400, 500, 600, 700)
BABBLE_VOICES = (("en-gb", 165), ("en-us+m3", 150), ("en-gb-scotland+f2", 170), ("en-029+m1", 160),
                 ("en-us+f4", 175))
BABBLE_TEXT = [
    "The train to the city leaves every twenty minutes from platform two.",
    "We should paint the fence before the summer holidays begin.",
    "My brother bought a new bicycle with bright yellow wheels.",
    "Nobody expected the concert to sell out in a single afternoon.",
    "The soup needs more salt and a little bit of pepper.",
    "Did you read the article about the old lighthouse on the coast?",
    "She practises the violin for an hour every evening after dinner.",
    "The children built a sandcastle near the edge of the water.",
    "I forgot to water the plants while you were away last week.",
    "The museum will close early on the first Monday of the month.",
    "He fixed the broken window with tape and a piece of cardboard.",
    "Our neighbours have three dogs and a very loud parrot.",
    "The printer on the second floor is out of paper again.",
    "They walked along the river until the sun went down.",
    "Let us meet at the bakery on the corner of the square.",
    "The football match was cancelled because of the heavy rain.",
    "A good map makes it much easier to find the hidden trail.",
    "The teacher asked everyone to bring a pencil and a ruler.",
    "Fresh bread smells wonderful early in the morning.",
    "The old clock in the hallway stopped at half past three.",
]


def _cached(key: str, make) -> np.ndarray:
    path = CACHE / (hashlib.sha256(key.encode()).hexdigest()[:20] + ".npy")
    if path.is_file():
        return np.load(path)
    a = np.asarray(make(), np.float32)
    CACHE.mkdir(parents=True, exist_ok=True)
    np.save(path, a)
    return a


@dataclass
class Item:
    text: str
    start: float  # s in the stream: first audible sample
    end: float  # last audible sample
    pause: tuple[float, float] | None = None  # (end of the first part, start of the rest)


def sentences(quick: bool):
    from vlm_robot.benchmarks.end_of_turn import PAUSED
    from vlm_robot.speech.sentences import USER_SENTENCES

    whole = USER_SENTENCES[:8] if quick else USER_SENTENCES
    paused = PAUSED[:5] if quick else PAUSED
    items = [(s, None) for s in whole] + [(p, PAUSES_MS[i % len(PAUSES_MS)] / 1000) for i, p in enumerate(paused)]
    order = np.random.default_rng(17).permutation(len(items))
    return [items[i] for i in order]


def speech_stream(voice: str, quick: bool) -> tuple[np.ndarray, list[Item]]:
    """The person's stream: 1 s of silence, the sentences 2-3 s apart, 3 s of silence."""
    from vlm_robot.benchmarks.voices import say, say_with_pause

    rng = np.random.default_rng(3)
    parts, items, pos = [np.zeros(SAMPLE_RATE, np.float32)], [], SAMPLE_RATE
    for spec, pause in sentences(quick):
        if pause is None:
            a = _cached(f"{voice}|{spec}", lambda s=spec: say(s, voice))
            item = Item(spec, pos / SAMPLE_RATE, (pos + len(a)) / SAMPLE_RATE)
        else:
            p1, p2 = spec
            key = f"{voice}|pause|{p1}|{p2}|{pause}"
            a = _cached(key, lambda p1=p1, p2=p2, pause=pause: say_with_pause(p1, p2, pause, voice)[0])
            e1 = _cached(key + "|times", lambda p1=p1, p2=p2, pause=pause: np.array(
                say_with_pause(p1, p2, pause, voice)[1:], np.float32))
            t0 = pos / SAMPLE_RATE
            item = Item(f"{p1} {p2}", t0, t0 + len(a) / SAMPLE_RATE, (t0 + float(e1[0]), t0 + float(e1[1])))
        items.append(item)
        gap = np.zeros(round(rng.uniform(2.0, 3.0) * SAMPLE_RATE), np.float32)
        parts += [a, gap]
        pos += len(a) + len(gap)
    parts.append(np.zeros(3 * SAMPLE_RATE, np.float32))
    return np.concatenate(parts), items


def active_power(x: np.ndarray) -> float:
    """Mean power over the 10 ms blocks within 40 dB of the loudest block (the speech's active part)."""
    b = x[: len(x) // 160 * 160].reshape(-1, 160)
    p = (b.astype(np.float64) ** 2).mean(axis=1)
    return float(p[p >= p.max() * 1e-4].mean())


def babble(n: int) -> np.ndarray:
    """5 talkers (espeak-ng voices other than the person's), other sentences, continuous, equal power, summed."""
    from vlm_robot.benchmarks.voices import espeak, trim

    rng = np.random.default_rng(5)
    out = np.zeros(n, np.float64)
    for voice, wpm in BABBLE_VOICES:
        talker, length = [], 0
        while length < n + SAMPLE_RATE * 5:
            for t in rng.permutation(len(BABBLE_TEXT)):
                a = _cached(f"babble|{voice}|{wpm}|{t}",
                            lambda v=voice, w=wpm, t=t: trim(espeak(BABBLE_TEXT[t], voice=v, wpm=w)))
                gap = np.zeros(round(rng.uniform(0.1, 0.4) * SAMPLE_RATE), np.float32)
                talker += [a, gap]
                length += len(a) + len(gap)
        t = np.concatenate(talker)
        off = int(rng.integers(0, 4 * SAMPLE_RATE))
        t = t[off:off + n]
        out += t / np.sqrt(active_power(t))
    return out.astype(np.float32)


def add_noise(speech: np.ndarray, kind: str, snr_db: float = SNR_DB) -> np.ndarray:
    if kind == "clean":
        return speech
    n = len(speech)
    noise = (np.random.default_rng(7).standard_normal(n).astype(np.float32) if kind == "white"
             else _cached(f"babble-stream|{n}", lambda: babble(n)))
    scale = np.sqrt(active_power(speech) / 10 ** (snr_db / 10) / np.mean(noise.astype(np.float64) ** 2))
    return np.clip(speech + scale * noise, -1.0, 1.0).astype(np.float32)


def denoised(x: np.ndarray, kind: str):
    """(the stream through the ``kind`` suppressor frame by frame, ms of compute per second of audio)."""
    from vlm_robot.speech.denoise import make_denoiser

    d = make_denoiser(kind)
    if d is None:
        return x, 0.0
    n = len(x) // FRAME * FRAME
    y = np.concatenate([d(x[i:i + FRAME]) for i in range(0, n, FRAME)])
    return y, d.ms_per_s


class Lazy:
    """A Recognition whose text is computed when the Listener first reads it (cached per audio and model)."""

    last: Lazy | None = None

    def __init__(self, bench: Bench, audio: np.ndarray) -> None:
        self.bench, self.audio = bench, audio
        self.key = hashlib.sha1(audio.tobytes()).hexdigest()
        self.model = bench.models[0]
        self._r = None

    def result(self, model: str):
        key = (model, self.key)
        if key not in self.bench.cache:
            self.bench.cache[key] = self.bench.asr[model].transcribe(self.audio)
        return self.bench.cache[key]

    @property
    def text(self) -> str:
        Lazy.last = self
        return self.result(self.model).text

    @property
    def compute_s(self) -> float:
        return self.result(self.model).compute_s


@dataclass
class Bench:
    models: list[str]
    asr: dict = field(default_factory=dict)
    cache: dict = field(default_factory=dict)


@dataclass
class Turn:
    start: float
    end: float
    kind: str  # end | cut
    texts: dict  # model -> text
    asr_s: dict  # model -> compute s
    speech_end: float  # where the trailing silence began


def listen(bench: Bench, x: np.ndarray, turn_cfg, end_model) -> list[Turn]:
    """Feed the stream through the real Listener; the final transcripts (and empty finals) as turns."""
    from vlm_robot.speech.listener import Listener, MicrophoneConfig
    from vlm_robot.speech.vad import TurnDetector

    bench.vad.reset()
    det = TurnDetector(turn_cfg, vad=bench.vad, end_model=end_model)
    turns: list[Turn] = []
    events = []
    push = det.push

    def recording_push(frame):
        evs = push(frame)
        events.extend(e for e in evs if e.kind in ("end", "cut"))
        return evs

    det.push = recording_push
    hint = getattr(det, "hint", None)
    if hint is not None:  # the Listener hands each pause's words to the detector, which may end the turn there
        def recording_hint(text):
            evs = hint(text)
            events.extend(e for e in evs if e.kind in ("end", "cut"))
            return evs

        det.hint = recording_hint
    finals = []

    def on_transcript(body):
        if body["final"]:
            finals.append((body, Lazy.last))

    lis = Listener(MicrophoneConfig(partials=False), det, lambda a: Lazy(bench, a), on_transcript)
    n = len(x) // FRAME * FRAME
    for i in range(0, n, FRAME):
        lis.feed(x[i:i + FRAME], wall=(i + FRAME) / SAMPLE_RATE)
    by_end = {round(b["speech_end"], 3): lz for b, lz in finals}
    for ev in events:
        end = ev.info.get("speech_end", ev.t)
        lz = by_end.get(round(end, 3))
        texts, asr_s = {}, {}
        if lz is not None:
            for m in bench.models:
                r = lz.result(m)
                texts[m], asr_s[m] = r.text, r.compute_s
        turns.append(Turn(ev.speech_start, ev.t, ev.kind, texts, asr_s, end))
    return turns


def score(turns: list[Turn], items: list[Item], model: str) -> dict:
    from vlm_robot.speech.wer import word_errors

    delays, glued, cut, maxcut = [], 0, 0, 0
    hyps: list[list[str]] = [[] for _ in items]
    inserted = 0
    for t in turns:
        maxcut += t.kind == "cut"
        ov = [max(0.0, min(t.speech_end, it.end) - max(t.start, it.start)) for it in items]
        if sum(o >= 0.3 for o in ov) >= 2 and t.texts.get(model):
            glued += 1
        text = t.texts.get(model, "")
        if not text:
            continue
        if max(ov) > 0:
            hyps[int(np.argmax(ov))].append(text)
        else:
            inserted += word_errors("", text)[0]
    for _k, it in enumerate(items):
        ends = [t.end for t in turns if t.kind == "end" and t.end >= it.end - EARLY_S]
        delays.append(1000 * (min(ends) - it.end) if ends else float("inf"))
        if it.pause and any(t.kind == "end" and it.pause[0] - 0.05 <= t.end < it.pause[1] + 0.1 for t in turns):
            cut += 1
    errs = words = w_errs = w_words = 0
    for it, h in zip(items, hyps, strict=True):
        e, n = word_errors(it.text, " ".join(h))
        errs, words = errs + e, words + n
        if it.pause is None:
            w_errs, w_words = w_errs + e, w_words + n
    d = np.array(delays)
    asr = [1000 * t.asr_s[model] for t in turns if model in t.asr_s]
    return {"p50": float(np.percentile(d, 50, method="higher")), "p95": float(np.percentile(d, 95, method="higher")),
            "late": int((d > 1000).sum()),
            "glued": glued, "cut": cut, "paused": sum(it.pause is not None for it in items), "max": maxcut,
            "wer": (errs + inserted) / max(1, words), "wer_whole": w_errs / max(1, w_words),
            "asr_ms": float(np.median(asr)) if asr else float("nan"),
            "n": len(items)}


def yaml_vad(path: str) -> dict:
    """The ``vad.*`` settings of the microphone node's YAML that TurnConfig knows ({} for no file)."""
    import dataclasses

    import yaml

    from vlm_robot.speech.vad import TurnConfig

    if not path or not Path(path).is_file():
        return {}
    doc = yaml.safe_load(Path(path).read_text())
    vad = (doc.get("microphone", {}).get("ros__parameters", {}) or {}).get("vad", {}) or {}
    names = {f.name for f in dataclasses.fields(TurnConfig)}
    return {k: v for k, v in vad.items() if k in names}


def _parse_vad(pairs: list[str]) -> dict:
    out = {}
    for p in pairs:
        k, v = p.split("=", 1)
        for cast in (int, float):
            try:
                v = cast(v)
                break
            except ValueError:
                continue
        out[k] = v
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 whole + 5 paused sentences; tiny.en only")
    ap.add_argument("--voices", nargs="+", default=["espeak", "piper"])
    ap.add_argument("--noise", nargs="+", default=["clean", "white", "babble"])
    ap.add_argument("--denoise", nargs="+", default=["none", "rnnoise", "webrtc"])
    ap.add_argument("--eot", nargs="+", default=["silence", "model"])
    ap.add_argument("--asr", nargs="+", default=None, help="Whisper models (default: tiny.en; + base for noise)")
    ap.add_argument("--vad", nargs="*", default=[], help="TurnConfig overrides, key=value (over --config's vad.*)")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[2] / "config" / "microphone.yaml"),
                    help="the microphone node's YAML: its vad.* settings are the detector's ('' = TurnConfig defaults)")
    args = ap.parse_args(argv)
    from vlm_robot.speech.asr import ASRConfig, WhisperASR, base_installed
    from vlm_robot.speech.end_of_turn import EndOfTurnModel
    from vlm_robot.speech.vad import SileroVad, TurnConfig

    t_start = time.perf_counter()
    models = args.asr or (["tiny.en"] if args.quick or not base_installed() else ["tiny.en", "base"])
    bench = Bench(models)
    for m in models:
        bench.asr[m] = WhisperASR(ASRConfig(model=m))
    bench.vad = SileroVad()
    base_cfg = replace(TurnConfig(), **{**yaml_vad(args.config), **_parse_vad(args.vad)})
    end_model = EndOfTurnModel() if "model" in args.eot else None
    print(f"# vad: {base_cfg}")
    print(f"{'voice':7s} {'noise':7s} {'denoise':8s} {'eot':8s} {'asr':8s} {'p50':>6s} {'p95':>6s} {'>1s':>5s} "
          f"{'glued':>6s} {'cut':>6s} {'max':>4s} {'WER':>6s} {'whole':>6s} {'dn ms/s':>8s} {'asr ms':>7s}")
    for voice in args.voices:
        speech, items = speech_stream(voice, args.quick)
        for noise in args.noise:
            x = add_noise(speech, noise)
            for dn in args.denoise:
                y, dn_ms = denoised(x, dn)
                for eot in args.eot:
                    cfg = replace(base_cfg, end_of_turn=eot)
                    turns = listen(bench, y, cfg, end_model if eot == "model" else None)
                    for m in (models if noise != "clean" else models[:1]):
                        s = score(turns, items, m)
                        print(f"{voice:7s} {noise:7s} {dn:8s} {eot:8s} {m:8s} {s['p50']:6.0f} {s['p95']:6.0f} "
                              f"{s['late']:2d}/{s['n']:<2d} {s['glued']:6d} {s['cut']:2d}/{s['paused']:<3d} "
                              f"{s['max']:4d} {100 * s['wer']:5.1f}% {100 * s['wer_whole']:5.1f}% {dn_ms:8.1f} "
                              f"{s['asr_ms']:7.0f}", flush=True)
    print(f"# total {time.perf_counter() - t_start:.0f} s")


if __name__ == "__main__":
    main()
