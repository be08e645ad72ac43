"""``vlm-robot train``: the palme VLM on a ``vlm-robot data sim`` dataset, resumable, on the CPU or a GPU.

Two phases, one command:

1. **encoder pre-training** (``pretrain_steps``): the vision encoder and small heads learn the scene's ground
   truth (:data:`vlm_robot.vlm.palme.dataset.AUX`) without the language model: cheap, thousands of images a minute;
2. **end to end** (``steps``): the prefix (encoder, projector, state and face tokens) and the LoRA adapters learn
   through the frozen language model from the answers' cross-entropy (PaLM-E's recipe with a frozen LM), with
   the pre-training loss kept at ``aux_weight``. Several questions about one image are packed into one
   sequence as consecutive turns, so the image prefix is read once for all of them.

Every ``checkpoint_every_s`` the run folder gets ``checkpoint.pt`` (atomic replace): ``--resume`` continues a
killed run from it. Validation accuracy per question type goes to the log and the progress bar.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import platform
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.errors import ConfigError, InvalidInputError

UNKNOWN_PLACE = "I don't know where I am"  # the answer to a place question when the robot's pose is unknown
PRESETS: dict[str, dict[str, Any]] = {
    # measured on a 2-core CPU: see models/palme-sim/README.md
    "default": {},
    # seconds on a CPU: the test suite's check that the whole recipe runs and the loss falls
    "tiny": {"pretrain_steps": 30, "pretrain_batch": 8, "steps": 30, "batch": 4, "val_every": 30, "val_questions": 12,
             "lr": 3e-3, "model": {"lm": "tiny-random", "enc_dim": 32, "enc_layers": 1, "image_tokens": 4,
                                   "lora_rank": 4}},
}


@dataclass
class TrainConfig:
    """What ``vlm-robot train`` does; every field is a command-line option."""

    data: str = "out/sim_vqa"
    out: str = "models/palme-sim"
    run_dir: str = ""  # default: out/train/<name of --out>
    preset: str = "default"
    blind: bool = False
    device: str = "cpu"
    seed: int = 0
    pretrain_steps: int = 3000
    pretrain_batch: int = 32
    steps: int = 650
    batch: int = 12
    qa_per_sample: int = 3
    lr: float = 1e-3
    encoder_lr_scale: float = 0.3  # the pre-trained encoder moves slower end to end
    aux_weight: float = 0.5
    drop_state: float = 0.1
    val_every: int = 217
    val_questions: int = 180
    checkpoint_every_s: float = 120.0
    threads: int = 0
    resume: bool = False
    model: dict[str, Any] = dataclasses.field(default_factory=dict)


def _schedule(step: int, total: int, warmup: int) -> float:
    if step < warmup:
        return (step + 1) / warmup
    return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup)))) * 0.95 + 0.05


def _score(qtype: str, predicted: str, answer: str) -> bool:
    from vlm_robot.sim.vqa_questions import score

    return score(qtype, predicted, answer)


def validate(vlm: Any, data: Any, n: int, seed: int = 0) -> dict[str, Any]:
    """Greedy answers to ``n`` questions of ``data`` (balanced over types, fixed by ``seed``) -> accuracy per type."""
    import torch

    rng = random.Random(seed)
    by_type: dict[str, list[int]] = {}
    for i, q in enumerate(data.qa):
        by_type.setdefault(q["type"], []).append(i)
    per = max(1, n // max(1, len(by_type)))
    picked = [j for t in sorted(by_type) for j in rng.sample(by_type[t], min(per, len(by_type[t])))]
    right: dict[str, list[int]] = {}
    vlm.eval()
    with torch.no_grad():
        for j in picked:
            q = data.qa[j]
            inp = _tensors(data.inputs([q["image"]]), vlm.device)
            got = vlm.answer(q["question"], vlm.prefix(**inp), max_new_tokens=20)
            right.setdefault(q["type"], []).append(int(_score(q["type"], got, q["answer"])))
    acc = {t: sum(v) / len(v) for t, v in right.items()}
    return {"overall": sum(map(sum, right.values())) / max(1, sum(map(len, right.values()))), "per_type": acc,
            "questions": len(picked)}


def _tensors(inp: dict[str, np.ndarray], device: Any) -> dict[str, Any]:
    import torch

    from vlm_robot.vlm.palme.model import image_tensor

    return {"image": image_tensor(inp["image"]).to(device), "faces": torch.from_numpy(inp["faces"]).to(device),
            "face_mask": torch.from_numpy(inp["face_mask"]).to(device),
            "state": torch.from_numpy(inp["state"]).to(device)}


def _aux_loss(pred: dict[str, Any], target: dict[str, np.ndarray], device: Any) -> Any:
    import torch
    from torch.nn import functional as F

    from vlm_robot.vlm.palme.dataset import COUNTS

    total = 0.0
    for k, p in pred.items():
        t = torch.from_numpy(target[k]).to(device)
        if p.shape[-1] == 1:  # regression, NaN = undefined
            ok = ~torch.isnan(t)
            if ok.any():
                total = total + F.mse_loss(p[..., 0][ok], t[ok]) * 10
        elif k in COUNTS:  # mostly "none": an empty slot or cell weighs less, so objects are not ignored
            ce = F.cross_entropy(p.reshape(-1, p.shape[-1]), t.reshape(-1), reduction="none")
            w = torch.where(t.reshape(-1) > 0, 1.0, 0.05 if k.startswith("grid_") else 0.25)
            total = total + (ce * w).sum() / w.sum() * (3.0 if k.startswith("grid_") else 1.0)
        else:
            total = total + F.cross_entropy(p.reshape(-1, p.shape[-1]), t.reshape(-1))
    return total


class Trainer:
    """One training run (see the module docstring); :meth:`run` returns the final validation figures."""

    def __init__(self, tc: TrainConfig) -> None:
        import torch

        from vlm_robot.vlm.palme.dataset import AUX, SimVQA
        from vlm_robot.vlm.palme.model import PalmeConfig, build_palme

        if tc.preset not in PRESETS:
            raise ConfigError(f"--preset {tc.preset!r} unknown; expected one of {sorted(PRESETS)}")
        if tc.device.startswith("cuda") and not torch.cuda.is_available():
            raise ConfigError(f"--device {tc.device}: torch {torch.__version__} sees no CUDA device; use --device cpu")
        self.tc = tc
        self.run_dir = Path(tc.run_dir or Path("out/train") / Path(tc.out).name)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        if tc.threads:
            torch.set_num_threads(tc.threads)
        torch.manual_seed(tc.seed)
        self.rng = np.random.default_rng(tc.seed)
        self.train = SimVQA(tc.data, "train")
        self.val = SimVQA(tc.data, "val")
        self.cfg = PalmeConfig(blind=tc.blind, aux={} if tc.blind else dict(AUX), **tc.model)
        self.vlm = build_palme(self.cfg, tc.device)
        self.vlm.train()
        self.vlm.lm.eval()  # frozen; no dropout either way
        enc = [p for n, p in self.vlm.prefix_net.named_parameters() if n.startswith("encoder.")]
        rest = [p for n, p in self.vlm.prefix_net.named_parameters() if not n.startswith("encoder.")]
        aux = list(self.vlm.aux.parameters()) if self.vlm.aux is not None else []
        lora = [p for n, p in self.vlm.lm.named_parameters() if ".lora_" in n]
        self.groups = {"encoder": enc, "aux": aux, "prefix": rest, "lora": lora}
        self.opt = torch.optim.AdamW([{"params": v, "name": k, "lr": tc.lr} for k, v in self.groups.items() if v],
                                     lr=tc.lr, weight_decay=0.01)
        self.step = 0
        self.elapsed = 0.0
        self.history: list[dict[str, Any]] = []
        self.pretrain_steps = 0 if tc.blind else tc.pretrain_steps
        self.by_type: dict[str, list[int]] = {}
        for i, q in enumerate(self.train.qa):
            self.by_type.setdefault(q["type"], []).append(i)
        if tc.resume:
            self._load_checkpoint()

    # ---- checkpoints ---------------------------------------------------------------------------------------------
    @property
    def checkpoint(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    def _identity(self) -> dict[str, Any]:
        man = self.train.manifest
        return {"data_seed": man.get("seed"), "splits": {k: v.get("images") for k, v in man.get("splits", {}).items()},
                "palme": {k: v for k, v in dataclasses.asdict(self.cfg).items() if k not in ("training",)},
                "blind": self.tc.blind}

    def _save_checkpoint(self) -> None:
        import torch

        state = {"step": self.step, "elapsed": self.elapsed, "history": self.history, "identity": self._identity(),
                 "model": self.vlm.trainable_state(),
                 "aux": self.vlm.aux.state_dict() if self.vlm.aux is not None else {},
                 "opt": self.opt.state_dict(), "rng": self.rng.bit_generator.state,
                 "torch_rng": torch.get_rng_state()}
        tmp = self.checkpoint.with_suffix(".tmp")
        torch.save(state, tmp)
        os.replace(tmp, self.checkpoint)

    def _load_checkpoint(self) -> None:
        import torch

        if not self.checkpoint.is_file():
            print(f"no checkpoint in {self.run_dir}: starting from scratch", file=sys.stderr)
            return
        try:
            state = torch.load(self.checkpoint, map_location=self.vlm.device, weights_only=False)
        except Exception as e:
            raise InvalidInputError(f"{self.checkpoint} is unreadable ({type(e).__name__}: {e}); delete it to start "
                                    "again, or run without --resume") from e
        if state.get("identity") != self._identity():
            raise InvalidInputError(f"{self.checkpoint} belongs to a different dataset or model configuration; "
                                    f"use another --run-dir or delete it")
        self.vlm.load_trainable(state["model"])
        if self.vlm.aux is not None:
            self.vlm.aux.load_state_dict(state["aux"])
        self.opt.load_state_dict(state["opt"])
        self.rng.bit_generator.state = state["rng"]
        torch.set_rng_state(state["torch_rng"])
        self.step, self.elapsed, self.history = state["step"], state["elapsed"], state["history"]
        print(f"resumed {self.checkpoint} at step {self.step}", file=sys.stderr)

    # ---- steps ---------------------------------------------------------------------------------------------------
    def _set_lr(self, pretrain: bool) -> None:
        tc = self.tc
        if pretrain:
            f = _schedule(self.step, self.pretrain_steps, max(1, self.pretrain_steps // 20))
        else:
            f = _schedule(self.step - self.pretrain_steps, tc.steps, max(1, tc.steps // 20))
        for g in self.opt.param_groups:
            scale = tc.encoder_lr_scale if (g["name"] == "encoder" and not pretrain and self.pretrain_steps) else 1.0
            g["lr"] = tc.lr * 2 * f if pretrain else tc.lr * f * scale

    def _aux_targets(self, idx: Any) -> dict[str, np.ndarray]:
        return self.train.aux_targets(idx, self.vlm.prefix_net.encoder.grid)

    def _pretrain_step(self) -> dict[str, float]:
        idx = self.rng.integers(0, len(self.train), self.tc.pretrain_batch)
        inp = _tensors(self.train.inputs(idx), self.vlm.device)
        grid, feats = self.vlm.prefix_net.encoder.encode(inp["image"])
        loss = _aux_loss(self.vlm.aux(feats, grid), self._aux_targets(idx), self.vlm.device)
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        return {"aux_loss": loss.item()}

    def _sample_dialogues(self) -> tuple[list[int], list[list[tuple[str, str, str]]]]:
        """Images and their packed questions: the first question's type is drawn uniformly (every type gets
        its share), the others are further questions about the same image."""
        types = sorted(self.by_type)
        images, dialogues = [], []
        for _ in range(self.tc.batch):
            first = self.train.qa[int(self.rng.choice(self.by_type[types[int(self.rng.integers(len(types)))]]))]
            img = int(first["image"])
            others = [j for j in self.train.by_image[img] if self.train.qa[j] is not first]
            k = min(len(others), self.tc.qa_per_sample - 1)
            more = [self.train.qa[int(j)] for j in self.rng.choice(others, k, replace=False)] if k else []
            images.append(img)
            dialogues.append([(q["question"], q["answer"], q["type"]) for q in [first, *more]])
        return images, dialogues

    def _e2e_step(self) -> dict[str, float]:
        images, dialogues = self._sample_dialogues()
        known = [bool(self.rng.random() >= self.tc.drop_state) for _ in images]
        for b, ok in enumerate(known):  # without its pose the robot cannot know the nearest place: it says so
            if not ok:
                dialogues[b] = [(q, UNKNOWN_PLACE if t == "place" else a) for q, a, t in dialogues[b]]
        dialogues = [[(q, a) for q, a, *_ in d] for d in dialogues]
        inp = _tensors(self.train.inputs(images, known), self.vlm.device)
        out: dict[str, float] = {}
        if self.tc.blind:
            loss = self.vlm.batch_loss(self.vlm.prefix(**inp), dialogues)
        else:
            grid, feats = self.vlm.prefix_net.encoder.encode(inp["image"])
            prefix = self.vlm.prefix_net.assemble(feats, inp["faces"], inp["face_mask"], inp["state"])
            loss = self.vlm.batch_loss(prefix, dialogues)
            aux = _aux_loss(self.vlm.aux(feats, grid), self._aux_targets(images), self.vlm.device)
            out["aux_loss"] = aux.item()
            loss = loss + self.tc.aux_weight * aux
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        out["loss"] = loss.item() - self.tc.aux_weight * out.get("aux_loss", 0.0)
        return out

    def run(self) -> dict[str, Any]:
        from tqdm import tqdm

        tc = self.tc
        total = self.pretrain_steps + tc.steps
        log = open(self.run_dir / "log.jsonl", "a")
        last_ckpt = time.monotonic()
        bar = tqdm(total=total, initial=self.step, desc="train", unit="step", dynamic_ncols=True)
        try:
            while self.step < total:
                pretrain = self.step < self.pretrain_steps
                self._set_lr(pretrain)
                t0 = time.monotonic()
                rec = self._pretrain_step() if pretrain else self._e2e_step()
                self.elapsed += time.monotonic() - t0
                self.step += 1
                rec.update(step=self.step, phase="pretrain" if pretrain else "e2e", elapsed_s=round(self.elapsed, 1))
                e2e_step = self.step - self.pretrain_steps
                # every val_every steps and at the end, not twice in a row (1240 steps, every 413: 1239 and 1240)
                near_end = tc.steps - e2e_step < tc.val_every // 2
                if not pretrain and ((e2e_step % tc.val_every == 0 and not near_end) or self.step == total):
                    v = validate(self.vlm, self.val, tc.val_questions, tc.seed)
                    self.vlm.train()
                    self.vlm.lm.eval()
                    rec["val"] = v
                    self.history.append({"step": self.step, "val_overall": v["overall"], "per_type": v["per_type"]})
                    tqdm.write(f"step {self.step}: validation {v['overall']:.1%} " + " ".join(
                        f"{t} {a:.0%}" for t, a in sorted(v["per_type"].items())))
                log.write(json.dumps(rec) + "\n")
                log.flush()
                bar.set_postfix({k: f"{v:.3f}" for k, v in rec.items() if k.endswith("loss")}, refresh=False)
                bar.update(1)
                if time.monotonic() - last_ckpt >= tc.checkpoint_every_s or self.step == total:
                    self._save_checkpoint()
                    last_ckpt = time.monotonic()
        finally:
            bar.close()
            log.close()
        return self.finish()

    def finish(self) -> dict[str, Any]:
        import torch

        from vlm_robot.vlm.palme.model import save_palme

        final = self.history[-1] if self.history else {}
        man = self.train.manifest
        self.vlm.cfg.training = {
            "command": "vlm-robot train " + " ".join(sys.argv[2:]) if len(sys.argv) > 2 else "vlm-robot train",
            "data": {"seed": man.get("seed"), "command": man.get("command"),
                     "splits": {k: {"rooms": v.get("rooms"), "images": v.get("images"), "questions": v.get("questions")}
                                for k, v in man.get("splits", {}).items()}},
            "seed": self.tc.seed, "pretrain_steps": self.pretrain_steps, "steps": self.tc.steps,
            "batch": self.tc.batch, "qa_per_sample": self.tc.qa_per_sample, "pretrain_batch": self.tc.pretrain_batch,
            "lr": self.tc.lr, "train_seconds": round(self.elapsed, 1), "device": self.tc.device,
            "machine": f"{platform.machine()} {os.cpu_count()} CPUs" if self.tc.device == "cpu" else
                       torch.cuda.get_device_name(0),
            "torch": torch.__version__, "validation": final}
        save_palme(self.vlm, self.tc.out)
        print(f"saved {self.tc.out} ({self.elapsed / 60:.1f} min of training)")
        return final


def build_config(a: argparse.Namespace) -> TrainConfig:
    preset = dict(PRESETS.get(a.preset, {}))
    model = preset.pop("model", {})
    tc = TrainConfig(**{**preset, "model": model})
    for f in dataclasses.fields(TrainConfig):
        v = getattr(a, f.name, None)
        if v is not None and f.name != "model":
            setattr(tc, f.name, v)
    if getattr(a, "lora_rank", None) is not None:  # rank 0: the language model frozen entirely (MiniGPT-4 stage 1)
        tc.model = {**tc.model, "lora_rank": a.lora_rank}
    return tc


def add_arguments(p: argparse.ArgumentParser) -> None:
    d = TrainConfig()
    p.add_argument("--data", help=f"dataset folder from `vlm-robot data sim` (default {d.data})")
    p.add_argument("--out", help=f"model folder to write (default {d.out})")
    p.add_argument("--run-dir", dest="run_dir", help="checkpoints and log (default out/train/<name of --out>)")
    p.add_argument("--preset", default="default", choices=sorted(PRESETS),
                   help="default: the shipped model; tiny: seconds, for tests")
    p.add_argument("--blind", action="store_true", default=None, help="text only: the blind baseline")
    p.add_argument("--device", help="cpu (default), cuda or cuda:N")
    p.add_argument("--seed", type=int)
    p.add_argument("--pretrain-steps", dest="pretrain_steps", type=int, help=f"(default {d.pretrain_steps})")
    p.add_argument("--steps", type=int, help=f"end-to-end steps (default {d.steps})")
    p.add_argument("--pretrain-batch", dest="pretrain_batch", type=int,
                   help=f"images per pre-training step (default {d.pretrain_batch})")
    p.add_argument("--batch", type=int, help=f"images per end-to-end step (default {d.batch})")
    p.add_argument("--qa-per-sample", dest="qa_per_sample", type=int,
                   help=f"questions packed per image (default {d.qa_per_sample})")
    p.add_argument("--lr", type=float)
    p.add_argument("--lora-rank", dest="lora_rank", type=int,
                   help="LoRA rank on the language model (default 8; 0: the language model frozen entirely)")
    p.add_argument("--val-every", dest="val_every", type=int)
    p.add_argument("--val-questions", dest="val_questions", type=int)
    p.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--resume", action="store_true", default=None, help="continue from the run folder's checkpoint")


def main(a: argparse.Namespace) -> int:
    tc = build_config(a)
    if tc.preset == "default" and not tc.device.startswith("cuda"):
        print("training on the CPU: about 50 minutes on 2 cores (see models/palme-sim/README.md)", file=sys.stderr)
    final = Trainer(tc).run()
    if final:
        print(f"validation accuracy {final['val_overall']:.1%}")
    return 0
