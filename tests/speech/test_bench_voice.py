"""`vlm-robot bench voice` on two sentences: the real voice nodes answer each spoken sentence once, aloud.

microphone_node plays a WAV of the person (espeak-ng en-us+f3) in real time; reasoning_node, safety_gate_node
and speech_out_node run with config/*.yaml. About 30 s on 2 idle cores.
"""

from __future__ import annotations

import shutil

import pytest

pytestmark = [pytest.mark.graph, pytest.mark.skipif(not shutil.which("espeak-ng"), reason="espeak-ng not installed")]


def test_each_sentence_is_answered_once_after_its_end(tmp_path):
    from vlm_robot.benchmarks import voice as bench_voice

    said = ["Please bring me a glass of water.", "Tell me a short story about a cat."]
    turns, facts = bench_voice.run(said, gap_s=4.0, out=tmp_path / "bench")
    assert [t.said.text for t in turns] == said
    assert all(c == 0 for c in facts["exit_codes"].values()), facts["exit_codes"]
    # both transcripts put the file's first sample at the same wall-clock time (reader stamps within 20 ms)
    assert len(facts["residuals"]) == 2 and max(abs(r) for r in facts["residuals"]) < 0.02, facts["residuals"]
    for t in turns:
        end = facts["t0"] + t.said.end
        assert t.transcripts == 1 and len(t.replies) == 1, (t.said.text, t.heard, t.replies)
        assert t.first_audio is not None and not t.cut, (t.said.text, t.replies)
        # first_audio is speech_out's stamp, t_reply when this process received the reply: speech_out may get the
        # reply first (a loaded run had first_audio 0.3 ms before t_reply), so the two are not ordered here. Nor are
        # t_transcript and t_reply: this process takes messages of different topics in its executor's order, and a
        # loaded run received the reply 5 ms before the transcript it answers (in_reply_to ties them, above)
        assert end < t.t_transcript < end + 10.0 and end < t.t_reply < end + 10.0, t
        assert end < t.first_audio < end + 10.0, t
    assert facts["gated"] == 0 and not facts["stray_audio"], (facts["gated"], facts["stray_audio"])
