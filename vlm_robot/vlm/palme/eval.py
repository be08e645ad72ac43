"""`vlm-robot eval vqa`: accuracy per question type on held-out simulated rooms, for four systems.

    vlm-robot eval vqa                                   # out/sim_vqa test split, models/palme-sim, every system
    vlm-robot eval vqa --limit 200 --systems palme compiled
    vlm-robot eval vqa --data out/sim_vqa --split test --model models/palme-sim --blind-model models/palme-sim-blind

Systems, all asked the same questions about the same images:

* ``palme``: the trained model in PyTorch (prefix module + language model with LoRA);
* ``grounded``: the existing default backend (``vlm.backend: grounded``: packaged face perception, a question
  parser and the packaged chat model) on the stored image;
* ``blind``: a model folder trained without the image (``config.blind``; ``--blind-model``): how much the
  answers owe to the language prior alone. Skipped, with a note, when the folder is missing;
* ``compiled``: the trained model with its prefix module exported to ONNX and run by ONNX Runtime on the CPU
  (what ``vlm.backend: compiled`` runs), the language model in PyTorch.

The model systems get the image with the face readings and the robot state the dataset stores for it (what
they were trained on: the packaged perception's reading of the full-resolution render and the true pose);
the grounded backend reads the stored 224 x 168 image itself. Answers are scored by
:func:`vlm_robot.sim.vqa_questions.score`. Also measured: first-token latency (question in -> first
streamed piece, prefix included) p50 for ``palme`` and ``compiled``, and the prefix module's rate (encoder
+ projector + entity/state tokens, one frame) in PyTorch and ONNX Runtime.

Prints a table (question types x systems, then overall and counts) and the targets of issue 16, and writes
everything (per-question answers included) to ``--out`` as JSON.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import ConfigError

SYSTEMS = ("palme", "grounded", "blind", "compiled")
TARGETS = {"overall": 0.85, "per_type": 0.70, "over_blind": 0.30, "compiled_gap": 0.01, "encoder_hz": 10.0,
           "first_token_ms": 500.0}


@dataclass
class SystemResult:
    """One system's answers: ``answers[k]`` is the answer to the k-th selected question (None: not run)."""

    name: str
    answers: list[str | None] = field(default_factory=list)
    correct: list[bool] = field(default_factory=list)
    first_token_ms: list[float] = field(default_factory=list)
    prefix_ms: list[float] = field(default_factory=list)
    errors: int = 0
    note: str = ""

    def per_type(self, types: Sequence[str]) -> dict[str, dict[str, float]]:
        tally: dict[str, list[bool]] = defaultdict(list)
        for t, ok in zip(types, self.correct, strict=True):
            tally[t].append(ok)
        return {t: {"n": len(v), "correct": int(sum(v)), "accuracy": sum(v) / len(v)} for t, v in sorted(tally.items())}

    def overall(self) -> float:
        return sum(self.correct) / len(self.correct) if self.correct else float("nan")


def select_questions(qa: Sequence[dict[str, Any]], limit: int) -> list[int]:
    """Indices of up to ``limit`` questions (0: all), taken round-robin over question types in file order, so a
    short run still covers every type evenly; deterministic."""
    if limit <= 0 or limit >= len(qa):
        return list(range(len(qa)))
    by_type: dict[str, list[int]] = defaultdict(list)
    for i, q in enumerate(qa):
        by_type[q["type"]].append(i)
    queues = [list(v) for _, v in sorted(by_type.items())]
    out: list[int] = []
    while len(out) < limit and any(queues):
        for q in queues:
            if q and len(out) < limit:
                out.append(q.pop(0))
    return sorted(out)


class _FirstPiece:
    """A streamer for :func:`vlm_robot.vlm.families.palme.generate` that notes when the first text piece came."""

    def __init__(self, t0: float) -> None:
        self.t0 = t0
        self.first: float | None = None

    def on_finalized_text(self, text: str, stream_end: bool = False) -> None:
        if text and self.first is None:
            self.first = (time.perf_counter() - self.t0) * 1000


def _run_model(name: str, ds, picks: list[int], model, processor, prefix_fn: Callable[[dict], Any],
               max_new_tokens: int, progress) -> SystemResult:
    """Ask a palme model every picked question; ``prefix_fn(inputs)`` computes the prefix (torch or ONNX)."""
    from vlm_robot.sim.vqa_questions import score
    from vlm_robot.vlm.families import palme as fam

    res = SystemResult(name)
    for k in progress(picks, desc=name):
        q = ds.qa[k]
        meta = ds.meta[int(q["image"])]
        inputs = fam.model_inputs(model.config, np.asarray(ds.images[int(q["image"])]), meta.get("faces", []),
                                  meta.get("state"), q["question"])
        t0 = time.perf_counter()
        prefix = prefix_fn(inputs)
        res.prefix_ms.append((time.perf_counter() - t0) * 1000)
        streamer = _FirstPiece(t0)
        text = fam.generate(model, processor, inputs, max_new_tokens, features=prefix, streamer=streamer)
        if streamer.first is not None:
            res.first_token_ms.append(streamer.first)
        res.answers.append(text)
        res.correct.append(bool(score(q["type"], text, q["answer"])))
    return res


def _run_grounded(ds, picks: list[int], progress) -> SystemResult:
    from vlm_robot.core.errors import VlmRobotError
    from vlm_robot.core.types import Frame
    from vlm_robot.sim.vqa_questions import score
    from vlm_robot.vlm.base import VLMConfig, make_backend

    res = SystemResult("grounded")
    vlm = make_backend(VLMConfig(backend="grounded"))
    vlm.load()
    try:
        for k in progress(picks, desc="grounded"):
            q = ds.qa[k]
            i = int(q["image"])
            try:
                text = vlm.answer(q["question"], [Frame(np.ascontiguousarray(ds.images[i]), float(i), seq=i)]).text
            except (VlmRobotError, RuntimeError) as e:  # counted wrong, and said how often
                text, res.errors = f"(error: {e})", res.errors + 1
            res.answers.append(text)
            res.correct.append(bool(score(q["type"], text, q["answer"])))
    finally:
        vlm.close()
    return res


def _median(v: Sequence[float]) -> float | None:
    return float(statistics.median(v)) if v else None


def _load(folder: str):
    import torch

    from vlm_robot.vlm.families import palme as fam

    return fam.load(folder, device="cpu", dtype=torch.float32)


def evaluate(data: str | Path = "out/sim_vqa", split: str = "test", model: str = "models/palme-sim",
             blind_model: str = "models/palme-sim-blind", limit: int = 0, systems: Sequence[str] = SYSTEMS,
             threads: int = 0, max_new_tokens: int = 24, cache_root: str | Path | None = None,
             progress=None) -> dict[str, Any]:
    """Run the evaluation; returns the report (what :func:`format_report` prints and ``--out`` stores).

    Args:
        threads: torch and ONNX Runtime intra-op threads (0: their defaults).
        cache_root: where the ONNX export goes (default the export cache, :func:`vlm_robot.vlm.compiled.cache_dir`).

    Raises:
        InvalidInputError: the dataset folder is missing, unfinished, of another version, or lacks ``split``.
        ModelNotFoundError, ModelIntegrityError: the model folder is missing or its weights are corrupt.
        ConfigError: an unknown system name.
    """
    import torch

    from vlm_robot.vlm.families import palme as fam
    from vlm_robot.vlm.palme.dataset import SimVQA

    bad = sorted(set(systems) - set(SYSTEMS))
    if bad:
        raise ConfigError(f"eval vqa: unknown system(s) {bad}; expected some of {list(SYSTEMS)}")
    if progress is None:
        from tqdm import tqdm

        def progress(it, desc=""):
            return tqdm(it, desc=desc, unit="q", leave=False)
    if threads:
        torch.set_num_threads(threads)
    ds = SimVQA(data, split)
    picks = select_questions(ds.qa, limit)
    types = [ds.qa[k]["type"] for k in picks]
    results: dict[str, SystemResult] = {}
    notes: list[str] = []
    need_model = {"palme", "compiled"} & set(systems)
    m = proc = None
    if need_model:
        m, proc = _load(model)
    if "palme" in systems:
        with torch.inference_mode():
            results["palme"] = _run_model("palme", ds, picks, m, proc, lambda ins: fam.reference_features(m, ins),
                                          max_new_tokens, progress)
    if "grounded" in systems:
        results["grounded"] = _run_grounded(ds, picks, progress)
    if "blind" in systems:
        if (Path(blind_model).expanduser() / "config.json").is_file():
            bm, bproc = _load(blind_model)
            if not bm.config.blind:
                notes.append(f"{blind_model} is not a blind model (config.blind is false); its row is not a "
                             "text-only baseline")
            with torch.inference_mode():
                results["blind"] = _run_model("blind", ds, picks, bm, bproc,
                                              lambda ins: fam.reference_features(bm, ins), max_new_tokens, progress)
            del bm, bproc
        else:
            notes.append(f"blind baseline skipped: no model folder at {blind_model} (train one with "
                         f"`vlm-robot train --blind --out {blind_model}`)")
    export_info: dict[str, Any] = {}
    if "compiled" in systems:
        from vlm_robot.vlm.compiled import EncoderSession, export_module

        enc = fam.VisionEncoder(m)
        first = ds.qa[picks[0]]
        meta = ds.meta[int(first["image"])]
        ex = fam.model_inputs(m.config, np.asarray(ds.images[int(first["image"])]), meta.get("faces", []),
                              meta.get("state"))
        exp = export_module(enc, {k: ex[k] for k in fam.vision_input_names}, family="palme", model_source=str(model),
                            cache_root=cache_root)
        sess = EncoderSession(exp.onnx_path, "cpu", threads=threads)
        names = list(fam.vision_input_names)
        export_info = {"onnx": str(exp.onnx_path), "cached": exp.cached,
                       "export_max_abs_diff": exp.meta.get("ort_cpu_max_abs_diff")}
        with torch.inference_mode():
            results["compiled"] = _run_model("compiled", ds, picks, m, proc,
                                             lambda ins: torch.from_numpy(sess.run({k: ins[k] for k in names})),
                                             max_new_tokens, progress)
    report = _report(ds, split, model, blind_model, picks, types, results, notes, export_info, threads)
    return report


def _report(ds, split, model, blind_model, picks, types, results, notes, export_info, threads) -> dict[str, Any]:
    qtypes = sorted(set(types))
    systems = {}
    for name, r in results.items():
        systems[name] = {
            "overall": r.overall(), "n": len(r.correct), "per_type": r.per_type(types), "errors": r.errors,
            "first_token_ms_p50": _median(r.first_token_ms) if name in ("palme", "compiled", "blind") else None,
            "prefix_ms_p50": _median(r.prefix_ms) if r.prefix_ms else None,
            "prefix_hz": (1000.0 / _median(r.prefix_ms)) if r.prefix_ms and _median(r.prefix_ms) else None,
        }
    if "palme" in results and "compiled" in results:
        a, d = results["palme"].answers, results["compiled"].answers
        systems["compiled"]["same_answer_as_palme"] = sum(x == y for x, y in zip(a, d, strict=True)) / len(a)
    return {
        "data": str(ds.folder), "split": split, "model": model, "blind_model": blind_model,
        "dataset_command": ds.manifest.get("command", ""), "questions": len(picks), "question_types": qtypes,
        "counts": {t: types.count(t) for t in qtypes}, "systems": systems, "notes": notes, "export": export_info,
        "targets": TARGETS, "checks": _checks(systems, qtypes),
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(), "threads": threads,
                    "loadavg_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None},
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "answers": [{"qa": k, "image": ds.qa[k]["image"], "type": ds.qa[k]["type"], "question": ds.qa[k]["question"],
                     "answer": ds.qa[k]["answer"],
                     **{name: {"said": r.answers[j], "correct": r.correct[j]} for name, r in results.items()}}
                    for j, k in enumerate(picks)],
    }


def _checks(systems: dict[str, Any], qtypes: list[str]) -> list[dict[str, Any]]:
    """Issue 16's targets against what was measured (only those whose systems ran)."""
    out = []

    def add(what: str, value: Any, ok: bool) -> None:
        out.append({"target": what, "measured": value, "met": bool(ok)})

    p = systems.get("palme")
    if p:
        add(f"palme overall >= {TARGETS['overall']:.0%}", round(p["overall"], 4), p["overall"] >= TARGETS["overall"])
        worst = min(qtypes, key=lambda t: p["per_type"][t]["accuracy"])
        acc = p["per_type"][worst]["accuracy"]
        add(f"palme every type >= {TARGETS['per_type']:.0%} (worst: {worst})", round(acc, 4),
            acc >= TARGETS["per_type"])
        if "blind" in systems:
            gap = p["overall"] - systems["blind"]["overall"]
            add(f"palme >= blind + {TARGETS['over_blind'] * 100:.0f} points", round(gap, 4),
                gap >= TARGETS["over_blind"])
        if p["first_token_ms_p50"] is not None:
            add(f"first token p50 <= {TARGETS['first_token_ms']:.0f} ms (torch)", round(p["first_token_ms_p50"], 1),
                p["first_token_ms_p50"] <= TARGETS["first_token_ms"])
    c = systems.get("compiled")
    if c:
        if p:
            gap = abs(p["overall"] - c["overall"])
            add(f"compiled within {TARGETS['compiled_gap'] * 100:.0f} point of torch", round(gap, 4),
                gap <= TARGETS["compiled_gap"])
        if c["prefix_hz"]:
            add(f"encoder+projector >= {TARGETS['encoder_hz']:.0f} Hz (ONNX Runtime)", round(c["prefix_hz"], 1),
                c["prefix_hz"] >= TARGETS["encoder_hz"])
        if c["first_token_ms_p50"] is not None:
            add(f"first token p50 <= {TARGETS['first_token_ms']:.0f} ms (compiled)", round(c["first_token_ms_p50"], 1),
                c["first_token_ms_p50"] <= TARGETS["first_token_ms"])
    return out


def format_report(rep: dict[str, Any]) -> str:
    """The report as a plain-text table: a row per question type, a column per system, then overall, counts,
    latency and rate, the targets and the notes."""
    names = list(rep["systems"])
    head = f"{'type':<12}{'n':>6}" + "".join(f"{n:>11}" for n in names)
    lines = [f"eval vqa: {rep['questions']} questions, split {rep['split']} of {rep['data']}, model {rep['model']}",
             head, "-" * len(head)]
    for t in rep["question_types"]:
        cells = "".join(f"{rep['systems'][n]['per_type'].get(t, {}).get('accuracy', float('nan')):>11.1%}"
                        for n in names)
        lines.append(f"{t:<12}{rep['counts'][t]:>6}{cells}")
    lines.append("-" * len(head))
    lines.append(f"{'overall':<12}{rep['questions']:>6}" + "".join(f"{rep['systems'][n]['overall']:>11.1%}"
                                                                   for n in names))

    def row(label: str, key: str, fmt: str) -> None:
        vals = [rep["systems"][n].get(key) for n in names]
        if any(v is not None for v in vals):
            lines.append(f"{label:<18}" + "".join(f"{v:>11{fmt}}" if v is not None else f"{'-':>11}" for v in vals))

    row("first token p50 ms", "first_token_ms_p50", ".0f")
    row("prefix p50 ms", "prefix_ms_p50", ".1f")
    row("prefix Hz", "prefix_hz", ".1f")
    if "same_answer_as_palme" in rep["systems"].get("compiled", {}):
        lines.append(f"compiled gives the same answer as palme for "
                     f"{rep['systems']['compiled']['same_answer_as_palme']:.1%} of the questions")
    for n in names:
        if rep["systems"][n]["errors"]:
            lines.append(f"{n}: {rep['systems'][n]['errors']} question(s) failed with an error (counted wrong)")
    if rep["checks"]:
        lines.append("targets (issue 16):")
        lines += [f"  {'met ' if c['met'] else 'MISS'}  {c['target']}: {c['measured']}" for c in rep["checks"]]
    lines += [f"note: {n}" for n in rep["notes"]]
    m = rep["machine"]
    lines.append(f"machine: {m['cpu']}, {m['cores']} cores, threads {m['threads'] or 'default'}, "
                 f"load {m['loadavg_1min']:.2f}" if m["loadavg_1min"] is not None else "")
    return "\n".join(x for x in lines if x)


def main(a) -> int:
    """`vlm-robot eval vqa` (arguments in vlm_robot/tools/cli.py)."""
    from vlm_robot.core.errors import VlmRobotError

    try:
        rep = evaluate(a.data, a.split, a.model, a.blind_model, a.limit, a.systems or SYSTEMS, a.threads,
                       a.max_new_tokens)
    except VlmRobotError as e:
        print(f"eval vqa: {type(e).__name__}: {e}")
        return 2
    print(format_report(rep))
    out = Path(a.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(rep, indent=1) + "\n")
    print(f"report: {out}")
    return 0
