"""The compiled vision-encoder path: ONNX export of every family's VisionEncoder, ONNX Runtime parity with the
family's ``reference_features``, the ``compiled`` backend end to end, cache keys, and clear errors when
TensorRT / CUDA are missing. GPU tests carry the ``gpu`` marker and skip without CUDA.
"""

from __future__ import annotations

import importlib
import json
import logging

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

from vlm_robot.core.errors import BackendUnavailableError, ConfigError, InvalidInputError  # noqa: E402
from vlm_robot.core.types import Frame  # noqa: E402
from vlm_robot.vlm import compiled as C  # noqa: E402
from vlm_robot.vlm.families import FAMILIES  # noqa: E402

FP32_TOL = 1e-4
HAS_CUDA = torch.cuda.is_available()
NO_CUDA = "no CUDA GPU here (torch.cuda.is_available() is False); run on a machine with an NVIDIA GPU"


def _family(name: str):
    try:
        return importlib.import_module(f"vlm_robot.vlm.families.{name}")
    except ImportError as err:
        pytest.skip(f"family {name!r} not implemented ({err})")


def _frame(seed: int = 0, size: tuple[int, int] = (48, 64)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (*size, 3), dtype=np.uint8)  # (H, W, 3) RGB


@pytest.fixture(scope="module")
def tiny_models(tmp_path_factory):
    """name -> (family module, model, processor), built once per module (tiny random weights)."""
    cache: dict[str, tuple] = {}

    def get(name: str):
        if name not in cache:
            fam = _family(name)
            path = fam.tiny(tmp_path_factory.mktemp(f"tiny-{name}"))
            model, processor = fam.load(str(path), device="cpu", dtype=torch.float32, local_files_only=True)
            cache[name] = (fam, model, processor, path)
        return cache[name]

    return get


@pytest.mark.parametrize("name", FAMILIES)
def test_onnx_export_matches_reference_features(name, tiny_models, tmp_path):
    fam, model, processor, path = tiny_models(name)
    encoder = fam.VisionEncoder(model)
    names = C.encoder_input_names(fam, model, encoder)
    inputs = fam.build_inputs(processor, "What is here?", [_frame(1)])
    res = C.export_module(encoder, {k: inputs[k] for k in names}, tmp_path / "enc.onnx", family=name,
                          model_source=str(path))
    meta = json.loads(C.sidecar_path(res.onnx_path).read_text())
    assert meta["family"] == name and meta["opset"] == 18 and meta["exporter"] in ("dynamo", "torchscript")
    assert meta["input_names"] == list(names) and len(meta["model_hash"]) == 64
    assert meta["dynamic"] == (not getattr(encoder, "fixed_grid", False))

    sess = C.EncoderSession(res.onnx_path, "cpu", threads=1)
    for seed in (2, 3):  # other frames than the one the export was traced with
        ins = fam.build_inputs(processor, "What is here?", [_frame(seed)])
        with torch.inference_mode():
            ref = fam.reference_features(model, ins)
        got = sess.run({k: ins[k] for k in names})
        stats = C.compare_features(ref, got.reshape(tuple(ref.shape)))
        assert stats["max_abs_diff"] < FP32_TOL, f"{name}: ONNX Runtime vs reference_features {stats}"


def test_dynamic_batch_runs_two_images(tiny_models, tmp_path):
    fam, model, processor, _ = tiny_models("llava")
    encoder = fam.VisionEncoder(model)
    one = fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]  # (1, 3, S, S)
    res = C.export_module(encoder, {"pixel_values": one}, tmp_path / "enc.onnx", family="llava")
    batch = torch.cat([one, fam.build_inputs(processor, "Hi", [_frame(5)])["pixel_values"]])  # (2, 3, S, S)
    with torch.inference_mode():
        ref = encoder(batch)
    got = C.EncoderSession(res.onnx_path).run([batch])
    assert got.shape == tuple(ref.shape) and np.abs(got - ref.numpy()).max() < FP32_TOL


def test_fixed_shape_export_rejects_other_shapes(tiny_models, tmp_path):
    fam, model, processor, _ = tiny_models("llava")
    one = fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]
    res = C.export_module(fam.VisionEncoder(model), {"pixel_values": one}, tmp_path / "fixed.onnx", dynamic=False)
    assert res.meta["dynamic"] is False and res.meta["output_shape"][0] == 1
    with pytest.raises(InvalidInputError, match="re-export"):
        C.EncoderSession(res.onnx_path).run([torch.cat([one, one])])


def test_compiled_backend_streams_the_same_answer_as_pytorch(tiny_models, tmp_path, caplog):
    from vlm_robot.vlm.base import VLMConfig, make_backend

    fam, model, processor, path = tiny_models("llava")
    cfg = VLMConfig(backend="compiled", model=str(path), max_new_tokens=6,
                    extra={"cache_dir": str(tmp_path), "threads": 1})
    vlm = make_backend(cfg)
    with caplog.at_level(logging.WARNING, logger="vlm_robot.vlm.compiled"):
        vlm.load()
    assert str(tmp_path) in caplog.text and "exported" in caplog.text  # says where the automatic export went
    assert vlm.encoder_path.is_file() and vlm.encoder_path.suffix == ".onnx"
    frames = [Frame(_frame(7), stamp=1.0)]
    pieces = list(vlm.stream("What do you see?", frames))
    assert pieces and all(isinstance(p, str) for p in pieces)
    inputs = fam.build_inputs(processor, "What do you see?", [frames[0].image])
    expected = fam.generate(model, processor, inputs, 6)  # PyTorch's own vision tower
    assert "".join(pieces).strip() == expected
    ans = vlm.answer("What do you see?", frames)
    assert ans.text == expected and ans.backend == "compiled" and ans.latency_ms > 0
    vlm.close()

    again = make_backend(cfg)  # a second load reuses the cached export
    with caplog.at_level(logging.WARNING, logger="vlm_robot.vlm.compiled"):
        caplog.clear()
        again.load()
    assert "reusing" in caplog.text and again.encoder_path == vlm.encoder_path


def test_export_cache_is_keyed_by_weights(tiny_models, tmp_path):
    fam, model, processor, _ = tiny_models("llava")
    encoder = fam.VisionEncoder(model)
    ex = {"pixel_values": fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]}
    first = C.export_module(encoder, ex, family="llava", cache_root=tmp_path)
    second = C.export_module(encoder, ex, family="llava", cache_root=tmp_path)
    assert not first.cached and second.cached and second.onnx_path == first.onnx_path
    assert first.onnx_path.parent.parent == tmp_path / "encoders"
    changed = C.export_module(torch.nn.Sequential(encoder, torch.nn.Identity()), ex, family="llava",
                              cache_root=tmp_path)
    with torch.no_grad():
        model.model.multi_modal_projector.linear_2.bias.add_(1.0)
    try:
        moved = C.export_module(encoder, ex, family="llava", cache_root=tmp_path)
    finally:
        with torch.no_grad():
            model.model.multi_modal_projector.linear_2.bias.sub_(1.0)
    assert not moved.cached and moved.meta["model_hash"] != first.meta["model_hash"]
    assert moved.onnx_path != first.onnx_path
    assert changed.meta["model_hash"] != first.meta["model_hash"]  # other state-dict names, other key
    listed = {e["path"] for e in C.cached_exports(tmp_path)}
    assert str(first.onnx_path) in listed and str(moved.onnx_path) in listed


def test_engine_cache_key_changes_with_every_part():
    prof = {"pixel_values": [[1, 3, 224, 224], [1, 3, 224, 224], [4, 3, 224, 224]]}
    base = C.engine_cache_key("a" * 64, "10.13.0", "NVIDIA H100 80GB HBM3", "fp16", prof)
    assert base == C.engine_cache_key("a" * 64, "10.13.0", "NVIDIA H100 80GB HBM3", "fp16", prof)
    assert ".fp16." in base and "b1-1-4" in base and "h100" in base
    others = [
        C.engine_cache_key("b" * 64, "10.13.0", "NVIDIA H100 80GB HBM3", "fp16", prof),
        C.engine_cache_key("a" * 64, "10.14.1", "NVIDIA H100 80GB HBM3", "fp16", prof),
        C.engine_cache_key("a" * 64, "10.13.0", "Orin", "fp16", prof),
        C.engine_cache_key("a" * 64, "10.13.0", "NVIDIA H100 80GB HBM3", "int8", prof),
        C.engine_cache_key("a" * 64, "10.13.0", "NVIDIA H100 80GB HBM3", "fp16",
                           {"pixel_values": [[1, 3, 224, 224], [2, 3, 224, 224], [8, 3, 224, 224]]}),
    ]
    assert len({base, *others}) == 6
    with pytest.raises(ConfigError, match="expected one of"):
        C.engine_cache_key("a" * 64, "10", "gpu", "int4", prof)


def test_engine_profile_scales_the_batch_dim():
    meta = {"input_names": ["pixel_values", "mask"],
            "input_shapes": {"pixel_values": ["b", 2, 3, 8, 8], "mask": ["b", 2, 8, 8]},
            "example_shapes": {"pixel_values": [1, 2, 3, 8, 8], "mask": [1, 2, 8, 8]}}
    prof = C.engine_profile(meta, (1, 2, 4))
    assert prof["pixel_values"] == [[1, 2, 3, 8, 8], [2, 2, 3, 8, 8], [4, 2, 3, 8, 8]]
    assert prof["mask"][2] == [4, 2, 8, 8]


@pytest.mark.skipif(HAS_CUDA, reason="this machine has CUDA: the missing-GPU errors cannot be shown here")
def test_missing_cuda_or_tensorrt_says_what_to_install(tiny_models, tmp_path):
    fam, model, processor, _ = tiny_models("llava")
    ex = {"pixel_values": fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]}
    res = C.export_module(fam.VisionEncoder(model), ex, tmp_path / "enc.onnx", family="llava")
    with pytest.raises(BackendUnavailableError, match=r"tensorrt|CUDA") as err:
        C.build_engine(res.onnx_path, "fp16")
    assert "pip install" in str(err.value)
    with pytest.raises(BackendUnavailableError, match="pip install"):
        C.EngineSession(tmp_path / "x.engine")
    if "CUDAExecutionProvider" not in C.ort_providers():
        with pytest.raises(BackendUnavailableError, match="onnxruntime-gpu") as err:
            C.EncoderSession(res.onnx_path, "cuda")
        assert "CPUExecutionProvider" in str(err.value)  # lists what is available
        with pytest.raises(BackendUnavailableError, match="tensorrt"):
            C.EncoderSession(res.onnx_path, "tensorrt")


def test_int8_dynamic_quantisation_accuracy_is_measured(tiny_models, tmp_path):
    fam, model, processor, _ = tiny_models("llava")
    ex = {"pixel_values": fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]}
    res = C.export_module(fam.VisionEncoder(model), ex, tmp_path / "enc.onnx", family="llava")
    q = C.quantize_int8(res.onnx_path)
    assert q.name == "enc.int8.onnx" and q.stat().st_size < res.onnx_path.stat().st_size
    ref = C.EncoderSession(res.onnx_path).run(ex)
    stats = C.compare_features(ref, C.EncoderSession(q).run(ex))
    assert 0 < stats["max_abs_diff"] < 1.0 and stats["cosine_mean"] > 0.9, stats


def test_calibration_frames_from_bag_and_simulator():
    frames = C.calibration_frames("tests/artifacts/golden_session", 3)
    assert len(frames) == 3 and all(f.dtype == np.uint8 and f.ndim == 3 and f.shape[2] == 3 for f in frames)
    sim = C.calibration_frames("sim", 2)
    assert len(sim) == 2 and sim[0].shape == (480, 640, 3)
    with pytest.raises(InvalidInputError, match="rosbag2 folder"):
        C.calibration_frames("no/such/thing", 2)


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_gpu_execution_providers_match_fp32(provider, tiny_models, tmp_path):
    if C.PROVIDERS[provider] not in C.ort_providers():
        pytest.skip(f"onnxruntime here has no {C.PROVIDERS[provider]} (install onnxruntime-gpu)")
    fam, model, processor, _ = tiny_models("llava")
    ex = {"pixel_values": fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]}
    res = C.export_module(fam.VisionEncoder(model), ex, tmp_path / "enc.onnx", family="llava")
    ref = C.EncoderSession(res.onnx_path).run(ex)
    try:
        got = C.EncoderSession(res.onnx_path, provider).run(ex)
    except BackendUnavailableError as err:
        pytest.skip(str(err))
    assert np.abs(got - ref).max() < 1e-2


@pytest.mark.gpu
@pytest.mark.skipif(not HAS_CUDA, reason=NO_CUDA)
def test_tensorrt_engine_fp16_matches_fp32(tiny_models, tmp_path):
    pytest.importorskip("tensorrt", reason="tensorrt not installed (pip install tensorrt-cu12 / tensorrt-cu13)")
    fam, model, processor, _ = tiny_models("llava")
    ex = {"pixel_values": fam.build_inputs(processor, "Hi", [_frame(0)])["pixel_values"]}
    res = C.export_module(fam.VisionEncoder(model), ex, tmp_path / "enc.onnx", family="llava")
    engine = C.build_engine(res.onnx_path, "fp16")
    assert C.build_engine(res.onnx_path, "fp16") == engine  # cached
    got = C.EngineSession(engine).run(ex)
    ref = C.EncoderSession(res.onnx_path).run(ex)
    assert np.abs(got - ref).max() < 5e-2
