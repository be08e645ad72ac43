"""The robot's own PaLM-E-style vision-language model, trained on the simulated room.

* :mod:`.model`: vision encoder + projector + entity/state tokens injected into SmolLM2's embedding space,
  LoRA adapters on the frozen language model, the multimodal sentence, streaming generation.
* :mod:`.dataset`: reads a dataset written by ``vlm-robot data sim`` (:mod:`vlm_robot.sim.vqa_data`).
* :mod:`.train`: ``vlm-robot train`` (encoder pre-training on the scene's ground truth, then end to end
  through the frozen language model).
* :mod:`.eval`: ``vlm-robot eval vqa``.

Needs torch and transformers (requirements/vlm.txt) and the ``gguf`` package to read the packaged SmolLM2.
"""
