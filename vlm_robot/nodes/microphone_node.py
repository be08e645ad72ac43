"""Microphone node: audio -> voice activity, end of turn, Whisper -> /speech/transcript.

Run:  microphone_node --ros-args --params-file config/microphone.yaml -p source:=default   # default input
      microphone_node --ros-args --params-file config/microphone.yaml -p source:=USB       # a device by name
      microphone_node --ros-args --params-file config/microphone.yaml -p source:=hello.wav # a WAV file

With ``source: ""`` (the default) the node opens no audio and says so, so the bringup runs on machines
without a sound card. A reader thread captures frames into a bounded queue; a worker runs the VAD, the
end-of-turn detector and Whisper (:mod:`vlm_robot.speech.listener`). Publishes final transcripts on
/speech/transcript (vlm_robot_interfaces/Transcript with id, stamp and timing fields), speculative
ones (``final: false``) on /speech/partial, and /speech/voice_activity (Bool) when a voice starts and
ends, which lets speech_out_node stop talking (barge-in). Reads the latched /vlm_robot/speaking.
``denoise`` (none | rnnoise | webrtc, :mod:`vlm_robot.speech.denoise`) suppresses noise before VAD and ASR.
A bad source (unreadable file, unsupported rate, no such device), clipping or long digital silence
gives a log line and a /diagnostics ERROR; the node keeps running.
"""

from __future__ import annotations

import queue
import threading
import time

from rclpy.node import Node
from std_msgs.msg import Bool

from vlm_robot.core.errors import BackendUnavailableError, InvalidInputError
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.resend import TRANSCRIPT_DECLINED, Resender
from vlm_robot.speech.asr import ASRConfig
from vlm_robot.speech.audio import FRAME, SAMPLE_RATE
from vlm_robot.speech.listener import MicrophoneConfig, open_source
from vlm_robot.speech.vad import TurnConfig


class MicrophoneNode(Node):
    def __init__(self) -> None:
        super().__init__("microphone", **common.make_node_kwargs())
        self.cfg = common.config_from_params(self, MicrophoneConfig)
        self.turn_cfg = common.config_from_params(self, TurnConfig, "vad.")
        self.asr_cfg = common.config_from_params(self, ASRConfig, "asr.")
        resend_after_s = float(common.param(
            self, "resend_after_s", 8.0, "a transcript not answered this long is sent again (reasoning restarted?)"))
        common.unknown_parameters(self, [("", MicrophoneConfig), ("vad.", TurnConfig), ("asr.", ASRConfig)],
                                  ("resend_after_s",))
        self.diag = common.Diagnostics(self)
        self.pub = messages.publisher(self, common.TRANSCRIPT)
        self.partial_pub = messages.publisher(self, common.PARTIAL_TRANSCRIPT)
        # like speech_in_node: words heard while the reasoning node restarts are sent again, not lost
        self.resender = Resender(self, self.pub, resend_after_s, also_ack=(TRANSCRIPT_DECLINED,))
        self.voice_pub = self.create_publisher(Bool, common.VOICE_ACTIVITY, common.EVENT_QOS)
        self.create_subscription(Bool, common.SPEAKING, self._on_speaking, common.STATE_QOS)
        self.frames: queue.Queue = queue.Queue(maxsize=int(30 * SAMPLE_RATE / FRAME))  # 30 s of audio
        self.listener = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.source = None
        if not self.cfg.source:
            self.get_logger().info("no microphone source (source:=default, a device name or index, or a WAV "
                                   "file; `vlm-robot audio devices` lists devices); idle")
            return
        self._threads = [threading.Thread(target=self._work, name="microphone-worker", daemon=True)]
        self._threads[0].start()

    def _on_speaking(self, msg: Bool) -> None:
        if self.listener is not None:
            self.listener.speaking = bool(msg.data)

    def _open(self) -> bool:
        try:
            self.source = open_source(self.cfg)
            from vlm_robot.speech.asr import WhisperASR
            from vlm_robot.speech.listener import Listener
            from vlm_robot.speech.vad import TurnDetector

            asr = WhisperASR(self.asr_cfg)
            self.listener = Listener(self.cfg, TurnDetector(self.turn_cfg), asr.transcribe, self._publish,
                                     lambda v: self.voice_pub.publish(Bool(data=v)),
                                     lambda what, m: self.diag.error(what, m, source=self.cfg.source))
        except (InvalidInputError, BackendUnavailableError, OSError) as e:
            self.diag.error("microphone source unusable", f"{e}; the node stays idle", source=self.cfg.source)
            return False
        self.get_logger().info(f"listening to {self.cfg.source!r} ({self.source.rate} Hz -> 16 kHz, ASR {asr.name}, "
                               f"while speaking: {self.cfg.while_speaking}, "
                               f"end of turn: {self.listener.turn.end_of_turn} (words: {self.listener.turn.words}), "
                               f"denoise: {self.listener.denoiser.name if self.listener.denoiser else 'none'}, "
                               f"crowd gate: {self.turn_cfg.noise_snr_db:g} dB)")
        return True

    def _work(self) -> None:
        if not self._open():
            return
        reader = threading.Thread(target=self._read, name="microphone-reader", daemon=True)
        self._threads.append(reader)
        reader.start()
        while not self._stop.is_set():
            try:
                frame, wall = self.frames.get(timeout=0.2)
            except queue.Empty:
                continue
            try:
                self.listener.feed(frame, wall)
            except Exception as e:  # noqa: BLE001 - one bad turn must not end listening
                self.diag.error("speech recognition failed", f"{type(e).__name__}: {e}")

    def _read(self) -> None:
        is_file = not hasattr(self.source, "close")
        if is_file:  # a file is a recording of a person: start it when someone listens
            while self.count_subscribers(common.TRANSCRIPT) == 0 and not self._stop.is_set():
                time.sleep(0.1)
            time.sleep(self.cfg.file_delay_s)
        t0 = time.monotonic()
        n = 0
        for frame in self.source.frames():
            if self._stop.is_set():
                return
            n += 1
            if is_file and self.cfg.realtime:
                time.sleep(max(0.0, t0 + n * FRAME / SAMPLE_RATE - time.monotonic()))
            try:
                self.frames.put_nowait((frame, time.time()))
            except queue.Full:
                self.diag.error("overload", "speech recognition is 30 s behind the microphone; a frame was dropped")
        if is_file:
            import numpy as np

            for _ in range(int(1.5 * SAMPLE_RATE / FRAME)):  # end the last turn
                self.frames.put((np.zeros(FRAME, np.float32), time.time()))
            self.get_logger().info(f"{self.cfg.source}: end of file; idle")

    def _publish(self, body: dict) -> None:
        data = messages.to_msg("transcript", body)
        if body["final"]:
            self.resender.publish(body["id"], data)
        else:
            self.partial_pub.publish(data)
        if body["final"]:
            end = self.listener.last_end if self.listener is not None else {}
            why = (f"; turn ended by {end['by']} after a {end['pause_ms']} ms pause"
                   + (f", P(complete) {end['p_complete']:.2f}" if end.get("p_complete") is not None else "")
                   if end else "")
            self.get_logger().info(f'heard: "{body["text"]}" (ASR {body["asr_ms"]:.0f} ms{why})')

    def close(self) -> None:
        self._stop.set()
        if self.source is not None and hasattr(self.source, "close"):
            self.source.close()
        for t in self._threads:  # a turn being transcribed finishes first (seconds at most)
            t.join(timeout=5.0)


def main(args: list[str] | None = None) -> int:
    return common.spin_node(MicrophoneNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
