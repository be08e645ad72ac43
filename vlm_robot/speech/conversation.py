"""The spoken conversation loop without ROS: microphone frames in, transcripts and robot audio out.

One :meth:`Conversation.feed` per 32 ms microphone frame, on one thread, keeps everything on the
microphone's sample clock: the frame pulled from the :class:`~vlm_robot.speech.playback.Player` at the
same tick is what the speaker plays meanwhile (and what the echo suppressor subtracts), so barge-in
latency is measured in samples.

Streaming (``streaming=True``): a pause of ``early_silence_ms`` starts transcription and the reply
speculatively; the reply's pieces are cut into clauses and the first clause is synthesised at once and
held until the pause reaches ``end_silence_ms`` (then it plays) or speech resumes (then it is dropped).
Later clauses are synthesised while earlier ones play. Without streaming (the baseline): the whole
turn is transcribed after the end, the whole reply generated, the whole reply synthesised, then played.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np

from vlm_robot.speech.audio import FRAME, SAMPLE_RATE
from vlm_robot.speech.playback import EchoSuppressor, Player
from vlm_robot.speech.stream_tts import ClauseChunker
from vlm_robot.speech.vad import TurnDetector, TurnEvent

log = logging.getLogger("vlm_robot.speech.conversation")


@dataclass
class Heard:
    """A transcript with its timing (seconds on the microphone's sample clock)."""

    text: str
    speech_start: float
    speech_end: float
    final: bool
    asr_s: float = 0.0
    clipped: float = 0.0


@dataclass
class TurnTiming:
    """Per answered turn: when the person stopped and when the robot's first sample played (wall clock)."""

    text: str
    speech_end_wall: float
    first_audio_wall: float | None = None
    speculative: bool = False

    @property
    def latency_s(self) -> float | None:
        return None if self.first_audio_wall is None else self.first_audio_wall - self.speech_end_wall


@dataclass
class _Reply:
    heard: Heard
    pieces: Iterator[str]
    chunker: ClauseChunker
    audio: list[np.ndarray] = field(default_factory=list)  # synthesised, not yet queued
    text: str = ""
    done: bool = False


class Conversation:
    """See the module docstring.

    Args:
        turn: end-of-turn detector (owns the VAD).
        transcribe: audio -> Recognition-like object with ``.text`` (a :class:`WhisperASR`'s ``transcribe``).
        synth: clause text -> 16 kHz float32 audio.
        reply: transcript text -> iterable of text pieces (the language model's stream); None: listen only.
        streaming: speculative, clause-by-clause pipeline (True) or whole-turn baseline (False).
        echo: an :class:`EchoSuppressor`, or None when the microphone path needs none (the simulation
            feeds the person only, or hardware cancels the echo); then the microphone is gated while
            the robot speaks unless ``barge_in`` is on.
        barge_in: speech detected while the robot talks stops playback and becomes the next turn.
        clock: wall clock used for latency figures.
        on_heard: called with each published transcript.
        sink: where the robot's audio goes, frame by frame.
    """

    def __init__(self, turn: TurnDetector, transcribe: Callable[[np.ndarray], object],
                 synth: Callable[[str], np.ndarray], reply: Callable[[str], Iterable[str]] | None = None,
                 streaming: bool = True, echo: EchoSuppressor | None = None, barge_in: bool = True,
                 min_clause_chars: int = 24, clock: Callable[[], float] = time.monotonic,
                 on_heard: Callable[[Heard], None] | None = None, sink=None) -> None:
        self.turn = turn
        self.transcribe = transcribe
        self.synth = synth
        self.reply_fn = reply
        self.streaming = streaming
        turn.expect_hints = streaming  # streaming transcribes every pause: its words go to turn.hint()
        self.echo = echo
        self.barge_in = barge_in
        self.min_clause_chars = min_clause_chars
        self.clock = clock
        self.on_heard = on_heard
        self.sink = sink  # gets every audible frame the player hands out (a MemorySink / WavSink / DeviceSink)
        self.player = Player()
        self.heard: list[Heard] = []  # bounded by the caller (tests); nodes pass on_heard and clear it
        self.timings: list[TurnTiming] = []
        self.barge_ins: list[tuple[float, float]] = []  # (speech onset, playback stop) in mic seconds
        self.samples = 0
        self.t0_wall: float | None = None
        self._spec: tuple[Heard, _Reply | None] | None = None
        self._reply: _Reply | None = None
        self._pending_timing: TurnTiming | None = None
        self.keep_heard = 1000
        self.barge_frames = 3  # 96 ms of voice over the robot's own speech before barge-in

    @property
    def now(self) -> float:
        return self.samples / SAMPLE_RATE

    def wall_of(self, t: float) -> float:
        """Wall-clock time of mic time ``t`` (the frames are fed at the pace they are captured)."""
        return (self.t0_wall or 0.0) + t

    def stop_speaking(self) -> None:
        """Drop the reply being spoken and anything queued (a benchmark between turns, a shutdown)."""
        self.player.stop()
        self._reply = None
        self._pending_timing = None

    def feed(self, mic: np.ndarray) -> list[TurnEvent]:
        """One microphone frame of :data:`FRAME` samples (16 kHz); returns the turn events it caused."""
        if self.t0_wall is None:
            self.t0_wall = self.clock() - self.now
        out, audible = self.player.pull(FRAME)
        if audible and self.sink is not None:
            self.sink.write(out)
        if audible and self._pending_timing is not None:
            self._pending_timing.first_audio_wall = self.clock()
            self.timings.append(self._pending_timing)
            self._pending_timing = None
        if self.echo is not None:
            self.echo.played(out)
            mic = self.echo(mic)
        elif audible and not self.barge_in:
            mic = np.zeros_like(mic)  # gate: the robot's own voice is never transcribed
        self.samples += len(mic)
        # while the robot talks, a start needs more voiced frames: residual echo must not stop it
        self.turn.start_frames_now = self.barge_frames if audible else self.turn.c.start_frames
        events = self.turn.push(mic)
        for ev in events:
            self._on_event(ev)
        self._keep_speaking()
        return events

    # -- turn events --------------------------------------------------------------------------------
    def _on_event(self, ev: TurnEvent) -> None:
        if ev.kind == "start":
            if self.player.playing and self.barge_in:
                self.player.stop()
                self.barge_ins.append((ev.speech_start, self.now))
                log.info("barge-in: person spoke at %.2f s; playback stopped at %.2f s", ev.speech_start, self.now)
                self._reply = None
                self._pending_timing = None
        elif ev.kind == "early_end" and self.streaming:
            heard = self._recognise(ev, final=False)
            reply = self._start_reply(heard) if heard.text and self.reply_fn else None
            if reply is not None:
                self._synth_next(reply)  # the first clause is ready when the turn ends
            self._spec = (heard, reply)
            for follow in self.turn.hint(heard.text):  # the words of the pause: over now, or wait for more
                self._on_event(follow)
        elif ev.kind == "resume":
            self._spec = None
        elif ev.kind == "end":
            end_wall = self.wall_of(ev.info["speech_end"])
            if self._spec is not None:
                heard, reply = self._spec
                self._spec = None
                heard.final = True
                spec = True
            else:
                heard, reply, spec = self._recognise(ev, final=True), None, False
            self._publish(heard)
            if not heard.text or self.reply_fn is None:
                return
            if reply is None:
                reply = self._start_reply(heard)
                if not self.streaming:
                    self._synth_all(reply)
            self._reply = reply
            self._pending_timing = TurnTiming(heard.text, end_wall, speculative=spec)
            self._queue_ready()
        elif ev.kind == "cut":
            self._publish(self._recognise(ev, final=True))
        elif ev.kind == "drop":
            self._spec = None

    def _recognise(self, ev: TurnEvent, final: bool) -> Heard:
        audio = ev.audio if ev.audio is not None else np.zeros(0, np.float32)
        if ev.clipped > 0.01:
            log.warning("%.1f %% of the turn's samples are clipped; lower the microphone gain", 100 * ev.clipped)
        r = self.transcribe(audio)
        return Heard(r.text, ev.speech_start, ev.info.get("speech_end", ev.t), final, getattr(r, "compute_s", 0.0),
                     ev.clipped)

    def _publish(self, heard: Heard) -> None:
        if not heard.text:
            log.info("turn %.2f-%.2f s gave no words (noise or silence); nothing published",
                     heard.speech_start, heard.speech_end)
            return
        self.heard.append(heard)
        del self.heard[:-self.keep_heard]
        if self.on_heard:
            self.on_heard(heard)

    # -- speaking -----------------------------------------------------------------------------------
    def _start_reply(self, heard: Heard) -> _Reply:
        return _Reply(heard, iter(self.reply_fn(heard.text)), ClauseChunker(self.min_clause_chars))

    def _synth_next(self, r: _Reply) -> bool:
        """Read pieces until one clause is complete and synthesise it; False when the reply is finished."""
        while not r.done:
            piece = next(r.pieces, None)
            if piece is None:
                r.done = True
                done = r.chunker.flush()
            else:
                r.text += piece
                done = r.chunker.push(piece)
            for clause in done:
                r.audio.append(self.synth(clause))
            if done:
                return True
        return False

    def _synth_all(self, r: _Reply) -> None:
        for piece in r.pieces:
            r.text += piece
        r.done = True
        if r.text.strip():
            r.audio.append(self.synth(r.text.strip()))

    def _queue_ready(self) -> None:
        r = self._reply
        while r is not None and r.audio:
            self.player.enqueue(r.audio.pop(0))

    def _keep_speaking(self) -> None:
        """Synthesise the next clause when less than a frame's worth of audio is left to play."""
        r = self._reply
        if r is None:
            return
        self._queue_ready()
        if self.player.queued_samples < 2 * FRAME and not r.done:
            self._synth_next(r)
            self._queue_ready()
        if r.done and not r.audio:
            self._reply = None
