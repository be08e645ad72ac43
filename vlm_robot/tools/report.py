"""A one-page HTML report of a scene run: key frames with what perception saw, and the timeline."""

from __future__ import annotations

import base64
import html
from pathlib import Path

import cv2
import numpy as np

from vlm_robot.nodes import common


def _caption(img: np.ndarray, caption: str) -> np.ndarray:
    """A black strip with ``caption`` at the bottom of a BGR image (drawn in place)."""
    cv2.rectangle(img, (0, img.shape[0] - 24), (img.shape[1], img.shape[0]), (0, 0, 0), -1)
    cv2.putText(img, caption[:90], (6, img.shape[0] - 8), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1,
                cv2.LINE_AA)
    return img


def annotate(frame: np.ndarray, faces: list[dict], caption: str) -> np.ndarray:
    """Draw face boxes with expression labels and a caption on an RGB frame."""
    img = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    for f in faces:
        x, y, w, h = (int(v) for v in f["box"])
        colour = (40, 40, 220) if f["expression"] in ("sad", "fear", "angry") else (40, 180, 40)
        cv2.rectangle(img, (x, y), (x + w, y + h), colour, 2)
        label = f"{f['expression']} {max(f['expression_scores'].values()):.2f}"
        cv2.putText(img, label, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, colour, 1, cv2.LINE_AA)
    return _caption(img, caption)


def annotate_entities(frame: np.ndarray, entities: dict, caption: str) -> np.ndarray:
    """Draw each entity that has a pixel box ``[x, y, w, h]`` with its token (``<person1>``)."""
    img = cv2.cvtColor(frame, cv2.COLOR_RGB2BGR)
    for token, e in entities.items():
        box = e.get("box") if isinstance(e, dict) else None
        if not box or len(box) != 4 or max(box) <= 1.0:  # normalised boxes (Kosmos-2) are not drawn here
            continue
        x, y, w, h = (int(v) for v in box)
        cv2.rectangle(img, (x, y), (x + w, y + h), (200, 120, 0), 2)
        cv2.putText(img, token, (x, max(12, y - 6)), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (200, 120, 0), 1, cv2.LINE_AA)
    return _caption(img, caption)


def key_frames(scene, run) -> list[tuple[str, np.ndarray]]:
    """One annotated frame per greeting and per reply, rendered at the time it was decided."""
    people = [e for e in run.observed.events if e.topic == common.PEOPLE]
    out = []
    for e in run.observed.events:
        if e.topic == common.VQA_ANSWER and e.body.get("ok") and e.body.get("frame_stamps"):
            t = e.body["frame_stamps"][-1] - run.t0
            out.append((f"{t:5.1f}s asked: {e.body['question']} -> {e.body['text']}",
                        annotate_entities(scene.render(max(t, 0)), e.body.get("entities", {}), f"t={t:.1f}s VQA")))
            continue
        if e.topic != common.UTTERANCE:
            continue
        t = e.body["stamp"] - run.t0
        seen = min(people, key=lambda p: abs(p.body["stamp"] - e.body["stamp"]), default=None)
        faces = seen.body["faces"] if seen else []
        out.append((f"{t:5.1f}s {e.body['kind']}: {e.body['text']}", annotate(scene.render(max(t, 0)), faces,
                                                                               f"t={t:.1f}s {e.body['kind']}")))
    return out


def write(path: Path, scene, run, stats: dict, summary: dict) -> Path:
    cards = []
    for caption, img in key_frames(scene, run):
        ok, png = cv2.imencode(".png", cv2.resize(img, (img.shape[1] // 2, img.shape[0] // 2)))
        if ok:
            b64 = base64.b64encode(png.tobytes()).decode()
            cards.append(f'<figure><img src="data:image/png;base64,{b64}"><figcaption>{html.escape(caption)}'
                         "</figcaption></figure>")
    rows = "\n".join(f"<tr><td>{html.escape(t)}</td><td>{html.escape(m)}</td><td>{c}</td></tr>"
                     for t, (m, c) in sorted(summary.items()))
    stat_rows = "".join(f"<li>{html.escape(k)}: {v}</li>" for k, v in stats.items())
    doc = f"""<!doctype html><html><head><meta charset="utf-8"><title>vlm_robot: {html.escape(scene.name)}</title>
<style>body{{font-family:sans-serif;margin:1.5em;max-width:1100px}} figure{{display:inline-block;margin:4px;width:330px;
vertical-align:top}} img{{width:320px}} figcaption{{font-size:12px}} pre{{font-size:12px;background:#f4f4f4;padding:8px;
white-space:pre-wrap}} td{{padding:2px 8px;font-size:13px}}</style></head><body>
<h1>vlm_robot session: {html.escape(scene.name)}</h1>
<p>{run.frames_published} frames published; bag <code>{html.escape(str(run.bag))}</code>.</p>
<h2>What the robot said or answered, and what it saw then</h2>{''.join(cards)}
<h2>Perception</h2><ul>{stat_rows}</ul>
<h2>Timeline</h2><pre>{html.escape(chr(10).join(run.timeline))}</pre>
<h2>Recording</h2><table><tr><th>topic</th><th>type</th><th>messages</th></tr>{rows}</table>
</body></html>"""
    path.write_text(doc, encoding="utf-8")
    return path
