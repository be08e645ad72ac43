"""`vlm-robot bench encoder`: ONNX Runtime against PyTorch eager for full-size vision encoders, same run, same CPU.

Encoders with random weights built from transformers configs (no download): SigLIP-B/16 at 384 px
(``SiglipVisionModel``, 576 patches) and CLIP ViT-B/16 at 224 px (``CLIPVisionModel``, 197 tokens),
batch 1, float32. Each is exported once (``torch.onnx.export(dynamo=True)``, opset 18) and then timed as

- ``torch eager``: ``torch.inference_mode()``, transformers' default attention (SDPA), ``torch.set_num_threads(T)``
- ``ORT``: the export, graph optimisation level ALL, ``intra_op_num_threads=T``, ``inter_op_num_threads=1``
- ``ORT fused``: the export through ``onnxruntime.transformers.optimizer`` (fused LayerNorm / GELU / attention),
  exported with eager attention so the optimizer's attention patterns can match
- ``ORT int8``: dynamic INT8 quantisation (``quantize_dynamic``) of the ``ORT`` export; its accuracy
  cost (max abs diff, cosine similarity vs fp32 torch) is printed beside its speed

Runs are interleaved (one run of every variant per round) so a neighbour loading the CPU slows all
variants alike; the first ``warmup`` rounds are dropped; the table shows the median of ``runs`` rounds and
the speed-up over torch eager. Absolute numbers depend on the machine; the ratios are the result.
"""

from __future__ import annotations

import platform
import statistics
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

ENCODERS = {
    "siglip-b16-384": ("SiglipVisionConfig", "SiglipVisionModel", 384),
    "clip-vit-b16-224": ("CLIPVisionConfig", "CLIPVisionModel", 224),
}
VIT_B = dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12, num_attention_heads=12, patch_size=16)


@dataclass
class Row:
    encoder: str
    variant: str
    median_ms: float
    speedup: float
    max_abs_diff: float
    cosine: float
    note: str = ""


def build_encoder(name: str, attn: str = "sdpa", seed: int = 0):
    """A ``(module, pixel_values)`` pair: the named encoder with random weights returning ``last_hidden_state``."""
    import torch
    import transformers

    cfg_name, model_name, size = ENCODERS[name]
    cfg = getattr(transformers, cfg_name)(image_size=size, **VIT_B)
    cfg._attn_implementation = attn
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(cfg).eval()

    class LastHidden(torch.nn.Module):
        def __init__(self, m) -> None:
            super().__init__()
            self.m = m

        def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
            return self.m(pixel_values=pixel_values).last_hidden_state  # (N, tokens, 768)

    pixels = torch.randn(1, 3, size, size, generator=torch.Generator().manual_seed(seed + 1))  # (1, 3, S, S)
    return LastHidden(model).eval(), pixels


def interleaved(fns: dict[str, Callable[[], object]], runs: int, warmup: int) -> dict[str, float]:
    """Median seconds of each function, timing one call of every function per round."""
    times: dict[str, list[float]] = {k: [] for k in fns}
    for r in range(warmup + runs):
        for k, fn in fns.items():
            t0 = time.perf_counter()
            fn()
            if r >= warmup:
                times[k].append(time.perf_counter() - t0)
    return {k: statistics.median(v) for k, v in times.items()}


def bench_one(name: str, threads: int, runs: int, warmup: int, workdir: Path, int8: bool = True,
              fused: bool = True) -> list[Row]:
    import torch

    from vlm_robot.vlm import compiled as C

    torch.set_num_threads(threads)
    module, pixels = build_encoder(name)
    with torch.inference_mode():
        ref = module(pixels).numpy()  # (1, tokens, 768)
    variants: dict[str, Path] = {}
    notes: dict[str, str] = {}
    t0 = time.perf_counter()
    res = C.export_module(module, {"pixel_values": pixels}, workdir / f"{name}.onnx", family=name, model_source=name)
    variants["ORT"] = res.onnx_path
    notes["ORT"] = f"{res.meta['exporter']} export {time.perf_counter() - t0:.0f} s"
    if fused:
        eager, _ = build_encoder(name, attn="eager")
        eager.load_state_dict(module.state_dict())
        raw = C.export_module(eager, {"pixel_values": pixels}, workdir / f"{name}-eager.onnx", family=name)
        try:
            stats = C.fuse_transformer(raw.onnx_path, workdir / f"{name}-fused.onnx", num_heads=12, hidden_size=768)
            variants["ORT fused"] = workdir / f"{name}-fused.onnx"
            notes["ORT fused"] = ", ".join(f"{k} {v}" for k, v in sorted(stats.items())) or "no fusion matched"
        except (RuntimeError, ValueError, KeyError, AttributeError) as err:
            notes["ORT fused"] = f"optimizer failed: {type(err).__name__}: {err}"
    sessions = {k: C.EncoderSession(p, "cpu", threads) for k, p in variants.items()}
    feed = {"pixel_values": pixels.numpy()}
    if int8:
        q = C.quantize_int8(variants["ORT"], workdir / f"{name}-int8.onnx")
        sessions["ORT int8"] = C.EncoderSession(q, "cpu", threads)
        notes["ORT int8"] = "quantize_dynamic of 'ORT': MatMul/Gemm weights int8 per channel, activations at run time"

    def torch_run() -> object:
        with torch.inference_mode():
            return module(pixels)

    fns: dict[str, Callable[[], object]] = {"torch eager": torch_run}
    for k, s in sessions.items():
        fns[k] = (lambda s=s: s.run(feed))
    med = interleaved(fns, runs, warmup)
    rows = []
    for k in fns:
        out = torch_run().numpy() if k == "torch eager" else sessions[k].run(feed)
        acc = C.compare_features(ref, out)
        rows.append(Row(name, k, med[k] * 1000, med["torch eager"] / med[k], acc["max_abs_diff"], acc["cosine_min"],
                        notes.get(k, "inference_mode, SDPA attention" if k == "torch eager" else "")))
    return rows


def table(rows: list[Row]) -> str:
    head = f"{'encoder':<17} {'variant':<12} {'median ms':>10} {'vs torch':>9} {'max|diff|':>10} {'cos min':>9}  note"
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(f"{r.encoder:<17} {r.variant:<12} {r.median_ms:>10.1f} {r.speedup:>8.2f}x {r.max_abs_diff:>10.2e} "
                     f"{r.cosine:>9.6f}  {r.note}")
    return "\n".join(lines)


def machine() -> str:
    import onnxruntime
    import torch

    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (f"{cpu}, {__import__('os').cpu_count()} logical CPUs; torch {torch.__version__}, "
            f"onnxruntime {onnxruntime.__version__}")


def main(encoders: list[str] | None = None, threads: int = 2, runs: int = 10, warmup: int = 2,
         int8: bool = True, fused: bool = True) -> int:
    """Print the table; return 0 (the numbers are the result, there is no pass/fail)."""
    names = encoders or list(ENCODERS)
    print(f"machine: {machine()}")
    print(f"threads: torch.set_num_threads({threads}) and ORT intra_op_num_threads={threads} (inter_op 1); "
          f"batch 1 fp32; median of {runs} interleaved rounds after {warmup} warm-up rounds", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory(prefix="vlm-bench-encoder-") as tmp:
        for name in names:
            print(f"... {name}: exporting and timing", flush=True)
            rows += bench_one(name, threads, runs, warmup, Path(tmp), int8=int8, fused=fused)
    print(table(rows))
    best = {}
    for r in rows:
        if r.variant != "torch eager" and "int8" not in r.variant:
            best[r.encoder] = max(best.get(r.encoder, 0.0), r.speedup)
    print("best fp32 speed-up over torch eager: " + ", ".join(f"{k} {v:.2f}x" for k, v in best.items()))
    best8 = {}
    for r in rows:
        if "int8" in r.variant and r.speedup > best8.get(r.encoder, (0.0, 0.0))[0]:
            best8[r.encoder] = (r.speedup, r.cosine)
    print("best int8 speed-up over torch eager (cosine min vs fp32): "
          + ", ".join(f"{k} {v:.2f}x ({c:.5f})" for k, (v, c) in best8.items()))
    return 0
