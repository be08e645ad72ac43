"""`vlm-robot models export | build | list | verify`: compiled vision encoders from the command line (no ROS).

    vlm-robot models export --tiny llava                     # tiny random LLaVA -> out/tiny/llava, then ONNX
    vlm-robot models export /models/llava-1.5-7b-hf --int8   # + ONNX Runtime INT8 (dynamic) model
    vlm-robot models build ENC.onnx --precision int8 --calib tests/artifacts/golden_session
    vlm-robot models list
    vlm-robot models verify ENC.onnx --provider cpu --tol 1e-4
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

from vlm_robot.core.errors import VlmRobotError


def export(a: argparse.Namespace) -> int:
    from vlm_robot.vlm import compiled as C
    from vlm_robot.vlm.families import family

    source = a.model
    if a.tiny:
        source = str(family(a.tiny).tiny(Path(a.model or f"out/tiny/{a.tiny}")))
        print(f"tiny random {a.tiny} model saved in {source}")
    if not source:
        print("models export: give a model folder / hub id, or --tiny FAMILY")
        return 2
    res = C.export_encoder(source, a.out or None, allow_download=a.allow_download, exporter=a.exporter,
                           dynamic=not a.fixed, half=a.fp16, force=a.force)
    m = res.meta
    print(f"{'cached' if res.cached else 'exported'}: {res.onnx_path}")
    print(f"  family {m['family']}, exporter {m['exporter']}, opset {m['opset']}, "
          f"{'dynamic dim 0' if m['dynamic'] else 'FIXED shapes (the family fixes the grid or --fixed)'}")
    print(f"  inputs {m['input_shapes']} -> output {m['output_shape']}; model hash {m['model_hash'][:16]}")
    print(f"  ORT CPU vs torch max abs diff {m['ort_cpu_max_abs_diff']:.2e}; sidecar {C.sidecar_path(res.onnx_path)}")
    if a.int8:
        q = C.quantize_int8(res.onnx_path)
        print(f"  INT8 (dynamic): {q}")
    return 0


def build(a: argparse.Namespace) -> int:
    from vlm_robot.vlm import compiled as C

    calib = None
    if a.precision == "int8":
        frames = C.calibration_frames(a.calib, a.calib_frames)
        calib = C.calibration_inputs(a.onnx, frames)
    engine = C.build_engine(a.onnx, a.precision, calib_inputs=calib, out_path=a.out or None,
                            batch=tuple(a.batch), force=a.force)
    print(f"engine: {engine}")
    return 0


def list_(a: argparse.Namespace) -> int:
    from vlm_robot.vlm import compiled as C
    from vlm_robot.vlm.families import FAMILIES, family

    print("families:")
    for name in FAMILIES:
        try:
            mod = family(name)
            types, ins = ", ".join(mod.MODEL_TYPES), ", ".join(mod.vision_input_names)
            print(f"  {name:<9} model types {types}; encoder inputs {ins}")
        except ImportError as err:
            print(f"  {name:<9} not available ({err})")
    root = C.cache_dir(a.cache or None)
    entries = C.cached_exports(root)
    print(f"cache {root}: {len(entries)} file(s)")
    for e in entries:
        key = e.get("key") or (e.get("model_hash", "")[:16])
        extra = e.get("precision") or e.get("exporter", "")
        print(f"  {e['kind']:<9} {e.get('family', ''):<9} {extra:<11} key {key:<16} {e['size_mb']:7.1f} MB  "
              f"{e['path']}")
    providers = C.ort_providers()
    print(f"ONNX Runtime providers here: {', '.join(providers) or 'onnxruntime not installed'}")
    try:
        import tensorrt

        print(f"TensorRT {tensorrt.__version__}")
    except ImportError:
        print(f"TensorRT: not installed ({C.INSTALL_TRT})")
    return 0


def verify(a: argparse.Namespace) -> int:
    from vlm_robot.vlm import compiled as C

    r = C.verify_export(a.encoder, a.provider, allow_download=a.allow_download)
    ok = r["max_abs_diff"] <= a.tol
    print(json.dumps(r, indent=2))
    print(f"{'PASS' if ok else 'FAIL'}: max abs diff {r['max_abs_diff']:.3e} vs tolerance {a.tol:g} "
          f"({r['family']}, provider {a.provider}, cosine min {r['cosine_min']:.6f})")
    return 0 if ok else 1


def main(a: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    for noisy in ("onnx_ir", "onnxscript", "torch.onnx", "httpx"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    fn = {"export": export, "build": build, "list": list_, "verify": verify}[a.action]
    try:
        return fn(a)
    except VlmRobotError as err:
        print(f"models {a.action}: {type(err).__name__}: {err}")
        return 2
