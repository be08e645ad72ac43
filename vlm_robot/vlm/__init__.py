"""Vision-language models: one interface, backends in a registry, each importing its library lazily.

``base`` holds the interface and the registry; ``grounded`` (the embedded default: packaged perception
rendered as a PaLM-E-style multimodal sentence, answered by the packaged chat model), ``hf`` (any
transformers VLM from a local folder or, when allowed, a hub id), ``compiled`` (the vision encoder +
projector exported to ONNX and run by ONNX Runtime or TensorRT, the language model fed embeddings).
``families/`` knows the per-architecture details (LLaVA, BLIP-2 / InstructBLIP, Idefics3 / SmolVLM,
Qwen2-VL, Kosmos-2): how to build a prompt, how to compute image features alone, tiny random configs.
"""
