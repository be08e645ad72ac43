"""GPU check of the compiled encoder path: PyTorch CUDA fp32 / fp16 vs ONNX Runtime CUDA EP / TensorRT EP /
TensorRT engines built with :func:`vlm_robot.vlm.compiled.trt.build_engine`, parity and latency.

    python models/gpu_check.py --out models/GPU_RESULTS.md        # from the repository root, on a CUDA machine

Encoders with random weights from transformers configs (no download): SigLIP-B/16 at 384 px and
CLIP ViT-B/16 at 224 px, batch 1 and 8. Parity is against PyTorch fp32 on the same GPU (TF32 off):
max abs diff and minimum cosine similarity of the feature vectors. What is not installed (onnxruntime-gpu,
tensorrt) is reported with the error it raised, not skipped silently.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def timed(fn, runs: int, warmup: int, sync) -> float:
    """Median milliseconds of ``fn`` (CUDA synchronised before and after each call)."""
    for _ in range(warmup):
        fn()
    sync()
    ts = []
    for _ in range(runs):
        t0 = time.perf_counter()
        fn()
        sync()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts) * 1000


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--out", default="models/GPU_RESULTS.md")
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--batches", type=int, nargs="*", default=[1, 8])
    ap.add_argument("--encoders", nargs="*", default=["siglip-b16-384", "clip-vit-b16-224"])
    a = ap.parse_args()

    import numpy as np
    import onnx
    import onnxruntime as ort
    import torch
    import transformers

    from vlm_robot.benchmarks import encoder as B
    from vlm_robot.vlm import compiled as C

    if hasattr(ort, "preload_dlls"):
        try:
            ort.preload_dlls()  # CUDA / cuDNN from the nvidia-* pip packages torch also uses
        except (OSError, RuntimeError) as err:
            print("ort.preload_dlls failed:", err)
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    dev = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"
    try:
        import tensorrt as trt

        trt_version = trt.__version__
    except ImportError as err:
        trt_version = f"not installed ({err})"
    lines = [
        "# GPU results: compiled vision encoder",
        "",
        f"Date: {time.strftime('%Y-%m-%d')}. Device: {dev}; driver CUDA {torch.version.cuda}; host "
        f"{platform.machine()} with {__import__('os').cpu_count()} CPUs.",
        f"Versions: torch {torch.__version__}, transformers {transformers.__version__}, onnx {onnx.__version__}, "
        f"onnxruntime {ort.__version__} (providers {ort.get_available_providers()}), TensorRT {trt_version}.",
        f"Method: `python models/gpu_check.py`; random-weight encoders, median of {a.runs} runs after {a.warmup} "
        "warm-up runs, CUDA synchronised around each run, inputs already on the device for torch / engine, "
        "host numpy in and out for ORT (its default `run`). Parity vs torch fp32 on the GPU (TF32 off).",
        "",
        "| encoder | batch | backend | median ms | vs torch fp32 | vs torch fp16 | max abs diff | cosine min |",
        "|---|---|---|---|---|---|---|---|",
    ]
    notes: list[str] = []
    sync = torch.cuda.synchronize if torch.cuda.is_available() else (lambda: None)
    tmp = Path(tempfile.mkdtemp(prefix="gpu-check-"))
    for name in a.encoders:
        module, px1 = B.build_encoder(name)
        fp32 = C.export_module(module, {"pixel_values": px1}, tmp / f"{name}.onnx", family=name)
        try:
            fp16 = C.export_module(module, {"pixel_values": px1}, tmp / f"{name}.fp16.onnx", family=name, half=True)
        except Exception as err:  # noqa: BLE001 - reported in the results, the check goes on
            fp16 = None
            notes.append(f"{name}: fp16 ONNX export failed: {type(err).__name__}: {err}")
        gpu = module.to("cuda") if torch.cuda.is_available() else module
        half = B.build_encoder(name)[0].half().to("cuda") if torch.cuda.is_available() else None
        if half is not None:
            half.load_state_dict(gpu.state_dict())
        sessions: dict[str, object] = {}
        for label, path, provider, kw in [
            ("ORT CUDA EP fp32", fp32.onnx_path, "cuda", {}),
            ("ORT CUDA EP fp16", fp16.onnx_path if fp16 else None, "cuda", {}),
            ("ORT TensorRT EP fp16", fp32.onnx_path, "tensorrt", {"fp16": True}),
        ]:
            if path is None:
                continue
            try:
                sessions[label] = C.EncoderSession(path, provider, **kw)
            except Exception as err:  # noqa: BLE001 - reported
                notes.append(f"{name}: {label} unavailable: {type(err).__name__}: {str(err)[:400]}")
        for prec in ("fp16", "int8"):
            try:
                calib = None
                if prec == "int8":
                    rng = np.random.default_rng(0)
                    calib = [{"pixel_values": rng.standard_normal(px1.shape).astype(np.float32)} for _ in range(16)]
                eng = C.build_engine(fp32.onnx_path, prec, calib_inputs=calib, batch=(1, 1, max(a.batches)))
                sessions[f"TensorRT engine {prec} (build_engine)"] = C.EngineSession(eng)
            except Exception as err:  # noqa: BLE001 - reported
                notes.append(f"{name}: TensorRT engine {prec} not built: {type(err).__name__}: {str(err)[:400]}")
        for b in a.batches:
            px = px1.repeat(b, 1, 1, 1)
            with torch.inference_mode():
                if torch.cuda.is_available():
                    x32 = px.cuda()
                    x16 = x32.half()
                    ref = gpu(x32).float().cpu().numpy()
                    t32 = timed(lambda g=gpu, x=x32: g(x), a.runs, a.warmup, sync)
                    t16 = timed(lambda h=half, x=x16: h(x), a.runs, a.warmup, sync)
                    o16 = half(x16).float().cpu().numpy()
                else:
                    ref = module(px).numpy()
                    t32 = t16 = float("nan")
                    o16 = ref
            rows = [("torch eager fp32 (SDPA)", t32, ref), ("torch eager fp16 (SDPA)", t16, o16)]
            for label, s in sessions.items():
                feed = {"pixel_values": px.numpy()}
                if "engine" in label:
                    xg = px.cuda()
                    rows.append((label, timed(lambda s=s, x=xg: s.run_torch([x]), a.runs, a.warmup, sync), s.run([xg])))
                else:
                    rows.append((label, timed(lambda s=s, f=feed: s.run(f), a.runs, a.warmup, sync), s.run(feed)))
            for label, ms, out in rows:
                acc = C.compare_features(ref, np.asarray(out, np.float32))
                lines.append(f"| {name} | {b} | {label} | {ms:.2f} | {t32 / ms:.2f}x | {t16 / ms:.2f}x | "
                             f"{acc['max_abs_diff']:.2e} | {acc['cosine_min']:.6f} |")
                print(lines[-1], flush=True)
    lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines[-len(notes) - 1:]))
    print(f"written {a.out}")
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except Exception:  # print the whole trace on the device log, then fail
        traceback.print_exc()
        raise
