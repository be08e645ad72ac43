"""The robot's voice without ROS: streamed reply pieces and whole utterances in, audio clause by clause out.

:class:`SpeechOut` keeps an ordered list of jobs, one per utterance. A reply streamed by the language model
(``/vlm_robot/reply_chunk``) becomes a job as soon as its first piece arrives: pieces are cut into clauses
(:class:`~vlm_robot.speech.stream_tts.ClauseChunker`), a synthesis thread turns each clause into audio and an
output thread plays it, so the first words sound while the model still writes the rest. When the finished
utterance arrives (``/vlm_robot/utterance``, same ``in_reply_to``) the job learns its id and its final text;
what was not yet spoken of the final text is spoken. An utterance without pieces (a greeting) is one job.

:meth:`SpeechOut.barge_in` stops everything at once: the frame being written is the last one heard, every
queued job is dropped, and each is reported with ``aborted``. Each job ends with one report (the WAV of what
was actually played, its duration, whether it was streamed or aborted, when its first sample played).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from vlm_robot.core.errors import ConfigError
from vlm_robot.core.wording import unspeakable
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE, write_wav
from vlm_robot.speech.stream_tts import ClauseChunker
from vlm_robot.speech.wer import normalise

log = logging.getLogger("vlm_robot.speech.speech_out")


@dataclass(frozen=True)
class SpeechOutConfig:
    """``tts.*`` in config/speech_out.yaml.

    Attributes:
        engine: ``espeak-ng`` or ``piper`` (optional extra, GPL-3.0).
        voice: espeak-ng voice (``en-us``) or the path of a piper ``.onnx`` voice.
        rate_wpm: espeak-ng speaking rate.
        word_gap_ms: espeak-ng's pause between words (``-g``; 10 ms steps at its default rate). espeak-ng
            otherwise runs words together ("opens at nine" heard as "open that night"); with 50 ms the
            robot's reply read back by Whisper went from WER 0.30 to 0.05 (tiny.en) and 0.15 to 0.00 (base),
            see the README's Speech section. 0 = espeak-ng's own spacing.
        output: ``wav`` (a WAV file per utterance) or ``speaker`` (a PortAudio device, and the WAV files).
        output_dir: where the WAV files go.
        device: ``speaker`` output device, by index or (part of its) name; empty: the default device.
        realtime: ``wav`` output paced like a speaker (the speaking state then lasts as long as the speech,
            and barge-in can cut it); off: files are written as fast as they are synthesised.
        stream_replies: speak streamed replies clause by clause as the pieces arrive (off: wait for the
            whole utterance).
        min_clause_chars: a comma ends a clause only after this many characters.
        max_clause_chars: a clause without punctuation is cut after this many characters.
        stream_timeout_s: a streamed reply whose utterance never arrives is closed after this long.
    """

    engine: str = "espeak-ng"
    voice: str = "en-us"
    rate_wpm: int = 165
    word_gap_ms: int = 50
    output: str = "wav"
    output_dir: str = "out/speech"
    device: str = ""
    realtime: bool = False
    stream_replies: bool = True
    min_clause_chars: int = 24
    max_clause_chars: int = 160
    stream_timeout_s: float = 30.0

    def __post_init__(self) -> None:
        if self.output not in ("wav", "speaker"):
            raise ConfigError(f"tts.output {self.output!r} unknown; expected 'wav' or 'speaker'")
        if not 1.0 <= self.stream_timeout_s <= 600.0:
            raise ConfigError(f"tts.stream_timeout_s must be in [1, 600], got {self.stream_timeout_s}")
        self.synth_config()  # checks the synthesis fields

    def synth_config(self):
        from vlm_robot.speech.stream_tts import StreamTTSConfig

        return StreamTTSConfig(self.engine, self.voice, self.rate_wpm, self.min_clause_chars,
                               self.max_clause_chars, self.word_gap_ms)


@dataclass(frozen=True)
class BargeInConfig:
    """``barge_in.*`` in config/speech_out.yaml: what stops the robot mid-sentence.

    Attributes:
        on_voice_activity: a ``true`` on /speech/voice_activity (the microphone node heard a voice start).
        on_transcript: a final transcript on /speech/transcript (someone said or typed something).
    """

    on_voice_activity: bool = True
    on_transcript: bool = True


_ENTITY = re.compile(r"<(person|obj)(\d+)>")
_CONFIDENCE = re.compile(r"\s*\(\d+(\.\d+)?\)")
# a number with a unit symbol, which espeak-ng reads letter by letter ("0.9 m" -> "zero point nine em")
_UNIT = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?) (km|cm|mm|m/s|m)\b(?!['’])")
_UNIT_WORDS = {"km": "kilometre", "cm": "centimetre", "mm": "millimetre", "m/s": "metre a second", "m": "metre"}


def _unit(m: re.Match) -> str:
    word = _UNIT_WORDS[m[2]]
    if float(m[1]) != 1:
        word = "metres a second" if m[2] == "m/s" else word + "s"
    return f"{m[1]} {word}"


def spoken_form(text: str) -> str:
    """Text as it should be read aloud: entity tokens as words, no confidences, unit symbols as words, no
    markup."""
    text = _ENTITY.sub(lambda m: f"{'object' if m[1] == 'obj' else 'person'} {m[2]}", text)
    text = _CONFIDENCE.sub("", text)
    text = _UNIT.sub(_unit, text)
    return re.sub(r"\s+", " ", re.sub(r"[*_#`<>]", "", text)).strip()


def remainder(spoken: str, final: str) -> str | None:
    """The part of ``final`` after the words already ``spoken``; None when ``final`` does not start with them."""
    said = normalise(spoken)
    toks = final.split()
    got: list[str] = []
    for i, tok in enumerate(toks):
        if got == said:
            return " ".join(toks[i:])
        got += normalise(tok)
        if got != said[:len(got)]:
            return None
    return "" if got == said else None


@dataclass
class _Job:
    key: str
    streamed: bool
    chunker: ClauseChunker
    started: float
    utterance: dict | None = None
    clauses: deque = field(default_factory=deque)  # cut, waiting for synthesis
    spoken_text: str = ""  # every clause cut so far
    audio: deque = field(default_factory=deque)  # synthesised, waiting to play
    complete: bool = False  # no more text will come
    synthesising: int = 0
    played: list = field(default_factory=list)
    aborted: bool = False
    reason: str = ""  # why it was cut or not spoken
    first_audio: float | None = None
    last_input: float = 0.0


class SpeechOut:
    """See the module docstring.

    Args:
        config: voice, output and streaming settings.
        synth: clause text -> 16 kHz float32 audio (a :class:`ClauseSynth`).
        sink: where frames go as they play (a DeviceSink), or None (WAV files only).
        on_done: called with each job's report (a ``vlm_robot/speech_done`` body).
        on_speaking: called with True when the first job starts and False when the last one ends.
        on_error: called with (what, message) when a clause cannot be synthesised.
        clock: wall clock for the reports' stamps.
        on_repeat: called with the report of an utterance sent again after it was said (``on_done`` when None).
    """

    def __init__(self, config: SpeechOutConfig, synth: Callable[[str], np.ndarray], sink=None,
                 on_done: Callable[[dict], None] | None = None, on_speaking: Callable[[bool], None] | None = None,
                 on_error: Callable[[str, str], None] | None = None, clock: Callable[[], float] = time.time,
                 on_repeat: Callable[[dict], None] | None = None) -> None:
        self.config = config
        self.synth = synth
        self.sink = sink
        self.on_done = on_done or (lambda r: None)
        self.on_repeat = on_repeat or self.on_done
        self.on_speaking = on_speaking or (lambda b: None)
        self.on_error = on_error or (lambda what, msg: log.error("%s: %s", what, msg))
        self.clock = clock
        self.out_dir = Path(config.output_dir)
        self.out_dir.mkdir(parents=True, exist_ok=True)
        self._cv = threading.Condition()
        self._jobs: list[_Job] = []
        self._orphans: dict[str, _Job] = {}  # aborted streamed replies whose utterance has not arrived
        # replies whose utterance came (in_reply_to): a chunk of one that arrives later (another topic, no order
        # between them) is already spoken, and the transcript it answers does not interrupt it
        self._answered: dict[str, None] = {}
        # utterance ids taken (queued, spoken or refused) -> their report once done: one sent again (at-least-once
        # delivery) is said once, and once done its report is sent again (the first may not have reached the sender)
        self._taken: dict[str, dict | None] = {}
        self._busy = False
        self._run = True
        self._seq = 0
        self._threads = [threading.Thread(target=self._synth_loop, name="speech-synth", daemon=True),
                         threading.Thread(target=self._output_loop, name="speech-output", daemon=True)]
        for t in self._threads:
            t.start()

    # -- input (any thread) -------------------------------------------------------------------------
    def chunk(self, key: str, text: str) -> None:
        """One streamed piece of the reply to transcript ``key``."""
        if not self.config.stream_replies:
            return
        with self._cv:
            if key in self._orphans or key in self._answered:
                return  # barged in (the rest of this reply is not spoken), or the whole reply came already
            job = next((j for j in self._jobs if j.key == key and j.streamed), None)
            if job is None:
                job = self._new_job(key, streamed=True)
            if job.complete:
                return
            job.last_input = time.monotonic()
            self._add_clauses(job, job.chunker.push(text))
            self._update_busy()
            self._cv.notify_all()

    def utterance(self, u: dict) -> None:
        """A finished utterance (``vlm_robot/utterance`` body); completes its streamed job or starts one.

        One sent again (the reasoning node had no speech_done yet) is said once; once said, its report is sent
        again instead (the first may not have reached the reasoning node: a just-started publisher)."""
        uid = u.get("id") or ""
        with self._cv:
            if uid in self._taken:
                repeat, orphan = self._taken[uid], None
            else:
                repeat, orphan = None, self._take(u, uid)
        if repeat is not None:
            self.on_repeat(repeat)
        if orphan is not None:
            self._report([self._finish(orphan)])

    def _take(self, u: dict, uid: str) -> _Job | None:
        """Queue utterance ``u`` (under the lock); returns the barged-in streamed job it completes, if any."""
        key = u.get("in_reply_to") or ""
        if uid:
            self._taken[uid] = None
            while len(self._taken) > 500:
                self._taken.pop(next(iter(self._taken)))
        if key:
            self._answered[key] = None
            while len(self._answered) > 200:
                self._answered.pop(next(iter(self._answered)))
        orphan = self._orphans.pop(key, None) if key else None
        if orphan is not None:
            orphan.utterance = u
            return orphan
        job = next((j for j in self._jobs if key and j.key == key and j.streamed and not j.complete), None)
        if job is None:
            self._seq += 1
            job = self._new_job(u.get("id") or f"utt{self._seq}", streamed=False)
            self._add_clauses(job, job.chunker.push(u["text"]) + job.chunker.flush())
        else:
            self._finish_text(job, u)
        job.utterance = u
        job.complete = True
        self._update_busy()
        self._cv.notify_all()
        return None

    def barge_in(self, why: str, keep: str = "") -> int:
        """Stop speaking now and drop everything queued but the reply to transcript ``keep`` (the words that barged
        in: their reply may have arrived before them); returns how many utterances were cut."""
        with self._cv:
            kept = [j for j in self._jobs if keep and (j.key == keep or (j.utterance or {}).get("in_reply_to") == keep)]
            jobs, self._jobs = [j for j in self._jobs if j not in kept], kept
            done = []
            for j in jobs:
                j.aborted = True
                j.reason = f"barge-in: {why}"
                j.clauses.clear()
                j.audio.clear()
                if j.utterance is None:
                    self._orphans[j.key] = j
                else:
                    done.append(j)
            while len(self._orphans) > 100:
                self._orphans.pop(next(iter(self._orphans)))
            self._update_busy()
            self._cv.notify_all()
        if jobs:
            log.info("barge-in (%s): stopped %d utterance(s)", why, len(jobs))
        self._report([self._finish(j) for j in done])
        return len(jobs)

    @property
    def busy(self) -> bool:
        with self._cv:
            return self._busy

    def close(self) -> None:
        """Stop the threads (what is queued is dropped) and close the sink."""
        with self._cv:
            self._run = False
            self._cv.notify_all()
        for t in self._threads:
            t.join(timeout=5.0)
        if self.sink is not None:
            self.sink.close()

    # -- internals (hold self._cv) ------------------------------------------------------------------
    def _new_job(self, key: str, streamed: bool) -> _Job:
        c = self.config
        job = _Job(key, streamed, ClauseChunker(c.min_clause_chars, c.max_clause_chars), self.clock(),
                   last_input=time.monotonic())
        self._jobs.append(job)
        return job

    def _add_clauses(self, job: _Job, clauses: list[str]) -> None:
        for c in clauses:
            if unspeakable(c):  # a blocked word (vlm_robot/core/wording.py): this clause is not said
                continue
            job.spoken_text += " " + c
            text = spoken_form(c)
            if normalise(text):
                job.clauses.append(text)

    def _finish_text(self, job: _Job, u: dict) -> None:
        """The final text arrived: speak what of it the streamed clauses have not said."""
        rest = remainder(job.spoken_text, u["text"])
        if rest is None:
            if u.get("kind") == "error":
                rest = u["text"]
            else:
                log.warning("utterance %s differs from its streamed pieces; speaking the pieces", u.get("id"))
                self._add_clauses(job, job.chunker.flush())
                return
        ch = ClauseChunker(self.config.min_clause_chars, self.config.max_clause_chars)
        self._add_clauses(job, ch.push(rest) + ch.flush())

    def _update_busy(self) -> None:
        busy = bool(self._jobs)
        if busy != self._busy:
            self._busy = busy
            self.on_speaking(busy)

    # -- threads ------------------------------------------------------------------------------------
    def _synth_loop(self) -> None:
        while True:
            with self._cv:
                job = None
                while self._run and job is None:
                    job = next((j for j in self._jobs if j.clauses), None)
                    if job is None:
                        self._cv.wait(0.5)
                if not self._run:
                    return
                text = job.clauses.popleft()
                job.synthesising += 1
            try:
                audio = np.asarray(self.synth(text), np.float32)
            except Exception as e:  # noqa: BLE001 - one failed clause must not silence the robot for good
                self.on_error("speech synthesis failed", f"{type(e).__name__}: {e} (clause {text[:60]!r})")
                audio = np.zeros(0, np.float32)
            with self._cv:
                job.synthesising -= 1
                if not job.aborted and len(audio):
                    job.audio.append(audio)
                self._cv.notify_all()

    def _output_loop(self) -> None:
        c = self.config
        paced = self.sink is not None or c.realtime
        t_next = time.monotonic()
        while True:
            finished = None
            with self._cv:
                if not self._run:
                    return
                head = self._jobs[0] if self._jobs else None
                block = None
                if head is not None and head.audio:
                    cur = head.audio[0]
                    n = FRAME if paced else len(cur)
                    block, rest = cur[:n], cur[n:]
                    if len(rest):
                        head.audio[0] = rest
                    else:
                        head.audio.popleft()
                    head.played.append(block)
                    if head.first_audio is None:
                        head.first_audio = self.clock()
                elif head is not None and head.complete and not head.clauses and not head.synthesising:
                    finished = self._jobs.pop(0)
                    self._update_busy()
                elif head is not None and not head.complete and \
                        time.monotonic() - head.last_input > c.stream_timeout_s:
                    log.warning("reply %s: no utterance after %.0f s of silence from the model; closing it",
                                head.key, c.stream_timeout_s)
                    self._add_clauses(head, head.chunker.flush())
                    head.complete = True
                    continue
                else:
                    self._cv.wait(0.05)
                    t_next = time.monotonic()
                    continue
            if finished is not None:
                self._report([self._finish(finished)])
                continue
            if self.sink is not None:
                self.sink.write(block)  # a device's blocking write paces the loop
            elif c.realtime:
                t_next += len(block) / SAMPLE_RATE
                time.sleep(max(0.0, t_next - time.monotonic()))

    def _finish(self, job: _Job) -> dict:
        audio = np.concatenate(job.played) if job.played else np.zeros(0, np.float32)
        u = job.utterance or {}
        name = re.sub(r"[^A-Za-z0-9_-]", "_", u.get("id") or job.key or "utt")
        wav = write_wav(self.out_dir / f"{name}.wav", audio)
        report = {"utterance_id": u.get("id", ""), "text": u.get("text", job.spoken_text.strip()), "wav": str(wav),
                  "duration_s": round(len(audio) / SAMPLE_RATE, 3), "engine": self.config.engine,
                  "aborted": job.aborted, "streamed": job.streamed, "started": job.started, "reason": job.reason}
        if job.first_audio is not None:
            report["first_audio"] = job.first_audio
        return report

    def _report(self, reports: list[dict]) -> None:
        for r in reports:
            with self._cv:
                if r["utterance_id"] in self._taken:
                    self._taken[r["utterance_id"]] = r
            self.on_done(r)
