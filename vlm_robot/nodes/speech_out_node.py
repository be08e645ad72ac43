"""Speech-out node: streamed replies and utterances -> audio clause by clause, /vlm_robot/speaking, speech_done.

Run:  speech_out_node --ros-args --params-file config/speech_out.yaml
      speech_out_node --ros-args --params-file config/speech_out.yaml -p tts.output:=speaker -p tts.device:=USB

/vlm_robot/reply_chunk pieces are cut into clauses, synthesised and played as they arrive, so the first
words sound before the reply is complete; the finished /vlm_robot/utterance completes it (an utterance
without pieces, a greeting, is spoken on its own). /vlm_robot/speaking (latched Bool) is true while
anything is queued or playing. Barge-in: a ``true`` on /speech/voice_activity or a final transcript on
/speech/transcript while speaking stops playback at once; every utterance still gets one
/vlm_robot/speech_done (``aborted: true`` when cut), with the WAV of what was actually played. A person's
"speak more slowly" or "louder, please" arrives from the reasoning node on /vlm_robot/voice_style (latched).
The logic is in :mod:`vlm_robot.speech.speech_out`.
"""

from __future__ import annotations

from rclpy.node import Node
from std_msgs.msg import Bool

from vlm_robot.core.delivery import SeenIds
from vlm_robot.core.errors import InvalidInputError
from vlm_robot.core.transcript import parse_transcript
from vlm_robot.nodes import common, messages
from vlm_robot.nodes.hold import DiscoveryHold
from vlm_robot.speech.speech_out import BargeInConfig, SpeechOut, SpeechOutConfig


class SpeechOutNode(Node):
    def __init__(self) -> None:
        super().__init__("speech_out", **common.make_node_kwargs())
        cfg = common.config_from_params(self, SpeechOutConfig, "tts.")
        self.barge = common.config_from_params(self, BargeInConfig, "barge_in.")
        common.unknown_parameters(self, [("tts.", SpeechOutConfig), ("barge_in.", BargeInConfig)])
        from vlm_robot.speech.stream_tts import ClauseSynth

        self.synth = synth = ClauseSynth(cfg.synth_config())
        sink = None
        if cfg.output == "speaker":
            from vlm_robot.speech.audio import DeviceSink

            sink = DeviceSink(cfg.device or None)
        self.diag = common.Diagnostics(self)
        self.speaking = self.create_publisher(Bool, common.SPEAKING, common.STATE_QOS)
        self.done = messages.publisher(self, common.SPEECH_DONE)
        self.style_pub = messages.publisher(self, common.VOICE_STYLE)
        # right after a (re)start, reports wait until discovery matched their subscribers (nodes/hold.py): an
        # utterance sent again to a restarted speech_out is spoken at once, and its report was lost before this
        self.hold = DiscoveryHold(self, common.SPEECH_DONE, self.done)
        self.speaking.publish(Bool(data=False))
        self.out = SpeechOut(cfg, synth, sink, on_done=self._on_done,
                             on_speaking=lambda b: self.speaking.publish(Bool(data=b)),
                             on_error=lambda what, msg: self.diag.error(what, msg), on_repeat=self._on_repeat)
        messages.subscribe(self, common.UTTERANCE, self._on_utterance, self.diag)
        messages.subscribe(self, common.REPLY_CHUNK, self._on_chunk, self.diag)
        messages.subscribe(self, common.VOICE_STYLE, self._on_style, self.diag)
        self.create_subscription(Bool, common.VOICE_ACTIVITY, self._on_voice, common.EVENT_QOS)
        # the reasoning node reports bad transcripts; here only a valid final one interrupts
        self._heard = SeenIds(500)  # transcript ids seen: one sent again does not barge in
        messages.subscribe(self, common.TRANSCRIPT, self._on_transcript, common.Diagnostics.quiet())
        self.get_logger().info(f"speech out ready ({cfg.engine} -> {cfg.output}{', real time' * cfg.realtime}; "
                               f"streaming {'on' if cfg.stream_replies else 'off'}; barge-in on voice "
                               f"{self.barge.on_voice_activity}, on transcript {self.barge.on_transcript})")

    def _on_utterance(self, u: dict) -> None:
        self.out.utterance(u)

    def _on_chunk(self, c: dict) -> None:
        self.out.chunk(c["in_reply_to"], c["text"])

    def _on_style(self, s: dict) -> None:
        """A person asked for another voice ("Louder, please."): every clause synthesised from now on. The style
        in use is published back (latched), so that a restarted reasoning node continues from it."""
        style = (s["rate_scale"], s["volume_scale"])
        if style == (self.synth.rate_scale, self.synth.volume_scale):
            return  # our own echo, or the same style again
        self.synth.set_style(*style)
        self.get_logger().info(f"voice style: rate x{style[0]:.2f}, volume x{style[1]:.2f} ({s['reason'][:80]})")
        self.style_pub.publish(messages.to_msg("voice_style", {
            "rate_scale": style[0], "volume_scale": style[1], "reason": f"in use by speech_out: {s['reason'][:200]}",
            "stamp": s.get("stamp")}))

    def _on_voice(self, msg: Bool) -> None:
        if msg.data and self.barge.on_voice_activity and self.out.busy:
            self.out.barge_in("a voice started on " + common.VOICE_ACTIVITY)

    def _on_transcript(self, fields: dict) -> None:
        try:
            t = parse_transcript(fields, 0.0, 0)
        except InvalidInputError:
            return
        # words sent again (the microphone's resend) do not interrupt: the robot may be answering later words by
        # then; words heard the first time stop everything but their own reply, which may have come first (on a
        # loaded machine the reply to "Wait a moment." reached this node before the words did, and the long
        # utterance before it went on: test_speech_graph's barge-in)
        first = t.final and self._heard.first_time(t.id)
        if first and self.barge.on_transcript and self.out.busy:
            self.out.barge_in(f"transcript {t.id}: {t.text[:40]!r}", keep=t.id)

    def _on_repeat(self, report: dict) -> None:
        if self.hold.ready:  # while held, the first report is still on its way
            self.done.publish(messages.to_msg("speech_done", report))

    def _on_done(self, report: dict) -> None:
        msg = messages.to_msg("speech_done", report)
        self.hold.when_ready(lambda: self.done.publish(msg))
        if report["aborted"]:
            self.get_logger().info(f"utterance {report['utterance_id'] or '?'} cut after {report['duration_s']} s")

    def close(self) -> None:
        self.out.close()


def main(args: list[str] | None = None) -> int:
    return common.spin_node(SpeechOutNode, args)


if __name__ == "__main__":
    raise SystemExit(main())
