"""The safety gate (gate.py) and actuation (actuation.py): intents -> verdicts -> bounded commands.

Nothing here imports a language model, vlm_robot.vlm, llama_cpp, transformers or torch, directly or
through another module (tests/test_layout.py checks it): the gate stays small enough to audit.
"""
