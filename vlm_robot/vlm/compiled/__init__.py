"""The ``compiled`` VLM backend and its tools: export a VLM family's vision encoder (tower + projector) to ONNX
and run it with ONNX Runtime or TensorRT.

ROS-free. The heavy libraries (torch, onnx, onnxruntime, tensorrt) are imported inside the functions.

    from vlm_robot.vlm import compiled as C
    res = C.export_encoder("models/tiny-llava")             # ONNX + JSON sidecar in the cache
    sess = C.EncoderSession(res.onnx_path, provider="cpu", threads=2)
    feats = sess.run({"pixel_values": pixels})              # (N, tokens, hidden) float32
    engine = C.build_engine(res.onnx_path, precision="fp16")  # TensorRT, cached by model/TRT/GPU/precision/shapes

Modules (each imports only the ones above it, never this package's ``__init__``):

    cache    cache folder, model hash, file-name keys, JSON sidecars, listing (the cache layout is there)
    inputs   frames (simulated, bag, calibration), the family's model / processor, the encoder inputs
    ort      ONNX Runtime sessions and providers, INT8 quantisation, transformer fusion
    export   torch -> ONNX export with a sidecar, checked with ONNX Runtime, cached by the weights' hash
    trt      TensorRT engine build (INT8 calibration) and run; ``open_encoder`` for either kind
    verify   feature comparison, parity of an export or engine with PyTorch
    backend  :class:`CompiledVLM`, the ``compiled`` backend (``vlm.backend: compiled``)
"""

from vlm_robot.vlm.compiled.backend import CompiledVLM
from vlm_robot.vlm.compiled.cache import (
    PRECISIONS,
    cache_dir,
    cached_exports,
    engine_cache_key,
    files_sha256,
    read_sidecar,
    shape_signature,
    sidecar_path,
    state_dict_sha256,
)
from vlm_robot.vlm.compiled.export import OPSET, ExportResult, export_encoder, export_module
from vlm_robot.vlm.compiled.inputs import (
    EXPORT_QUESTION,
    bag_frames,
    calibration_frames,
    calibration_inputs,
    encoder_input_names,
    family_name,
    load_family_model,
    simulated_frames,
    vision_inputs,
)
from vlm_robot.vlm.compiled.ort import (
    INSTALL_ORT_GPU,
    INSTALL_TRT,
    OUTPUT_NAME,
    PROVIDERS,
    EncoderSession,
    fuse_transformer,
    ort_providers,
    quantize_int8,
)
from vlm_robot.vlm.compiled.trt import (
    EngineSession,
    build_engine,
    engine_profile,
    import_tensorrt,
    open_encoder,
    require_cuda,
)
from vlm_robot.vlm.compiled.verify import compare_features, verify_export

__all__ = [
    "EXPORT_QUESTION",
    "INSTALL_ORT_GPU",
    "INSTALL_TRT",
    "OPSET",
    "OUTPUT_NAME",
    "PRECISIONS",
    "PROVIDERS",
    "CompiledVLM",
    "EncoderSession",
    "EngineSession",
    "ExportResult",
    "bag_frames",
    "build_engine",
    "cache_dir",
    "cached_exports",
    "calibration_frames",
    "calibration_inputs",
    "compare_features",
    "encoder_input_names",
    "engine_cache_key",
    "engine_profile",
    "export_encoder",
    "export_module",
    "family_name",
    "files_sha256",
    "fuse_transformer",
    "import_tensorrt",
    "load_family_model",
    "open_encoder",
    "ort_providers",
    "quantize_int8",
    "read_sidecar",
    "require_cuda",
    "shape_signature",
    "sidecar_path",
    "simulated_frames",
    "state_dict_sha256",
    "verify_export",
    "vision_inputs",
]
