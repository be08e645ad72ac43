"""A PaLM-E-style VLM: continuous observations injected into a pretrained language model's embedding space.

The multimodal sentence the language model (SmolLM2-135M-Instruct, frozen, with LoRA adapters) reads::

    <|im_start|>user\\n [16 image tokens] [1 robot-state token] [3 face tokens] What is on the table?<|im_end|>
    <|im_start|>assistant\\n a red cup and a blue bottle<|im_end|>

* image tokens: a small conv + attention encoder trained here from scratch on the simulated room
  (224 x 168 RGB -> 4 x 4 patches -> two strided conv stages -> a 14 x 11 grid of 128-d features -> a
  self-attention block -> 16 learned queries cross-attend to the grid, BLIP-2 style pooling) and an MLP
  projector into the 576-d embedding space;
* the robot-state token: base pose ``x, y, cos yaw, sin yaw`` in the map frame, head pan and tilt, and a
  ``known`` flag (0: the pose is unknown and the model was trained to say it cannot tell);
* face tokens (PaLM-E's entity tokens): what the packaged face perception reads per face (normalised box,
  7 expression scores, facing, detector score), left to right, a learned "nobody" token for empty slots.

The prefix (20 x 576) is what ``vlm-robot models export`` compiles (:meth:`PalmeVLM.prefix_module`); the
language model runs in torch with the LoRA adapters. ``config.blind`` drops the prefix (the text-only baseline).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import os
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vlm_robot.core.assets import sha256_file
from vlm_robot.core.errors import BackendUnavailableError, ConfigError, ModelIntegrityError, ModelNotFoundError
from vlm_robot.core.image import resize_area
from vlm_robot.core.types import EXPRESSIONS

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError as e:  # pragma: no cover - the vlm extra is not installed
    raise BackendUnavailableError("the palme VLM needs torch: `pip install -r requirements/vlm.txt`") from e

MODEL_TYPE = "vlm_robot_palme"
WEIGHTS = "palme.safetensors"
LM_SMOLLM2 = "smollm2-135m"
LM_TINY = "tiny-random"
USER = "<|im_start|>user\n"
ASSISTANT = "<|im_end|>\n<|im_start|>assistant\n"
END = "<|im_end|>"
NEXT_TURN = "\n<|im_start|>user\n"
FACE_FEATURES = 4 + len(EXPRESSIONS) + 2  # box, expression scores, facing, detector score
STATE_FEATURES = 7  # x, y, cos yaw, sin yaw, head pan, head tilt, known
PIXEL_MEAN, PIXEL_STD = 0.5, 0.25


@dataclass
class PalmeConfig:
    """``config.json`` of a palme model folder.

    Attributes:
        image_width, image_height: the encoder's input (frames are resized to it with ``cv2.INTER_AREA``).
        enc_dim, enc_layers, enc_heads: the vision encoder's width, self-attention blocks and heads.
        image_tokens: learned queries pooling the grid: the number of image tokens in the sentence.
        max_faces: face (entity) token slots.
        lm: ``smollm2-135m`` (the packaged GGUF, dequantised into torch) or ``tiny-random`` (tests).
        lora_rank, lora_alpha, lora_targets: adapters on the language model's attention projections (rank 0: none).
        blind: text only (no prefix): the blind baseline.
        aux: auxiliary heads used while pre-training the encoder: ``name -> [groups, classes]`` (classes 1:
            a regression), see :mod:`vlm_robot.vlm.palme.dataset`.
        weights_sha256: pin of ``palme.safetensors``, checked on load.
        training: what produced the weights (command, data, seed, steps, figures); informational.
    """

    model_type: str = MODEL_TYPE
    image_width: int = 224
    image_height: int = 168
    enc_dim: int = 128
    enc_layers: int = 1
    enc_heads: int = 4
    image_tokens: int = 16
    max_faces: int = 3
    lm: str = LM_SMOLLM2
    lora_rank: int = 8
    lora_alpha: float = 16.0
    lora_targets: list[str] = field(default_factory=lambda: ["q_proj", "v_proj"])
    blind: bool = False
    aux: dict[str, list[int]] = field(default_factory=dict)
    weights_sha256: str = ""
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.model_type != MODEL_TYPE:
            raise ConfigError(f"model_type {self.model_type!r} is not a palme model (expected {MODEL_TYPE!r})")
        if self.lm not in (LM_SMOLLM2, LM_TINY):
            raise ConfigError(f"palme lm {self.lm!r} unknown; expected {LM_SMOLLM2!r} or {LM_TINY!r}")
        if self.image_width < 32 or self.image_height < 32 or self.enc_dim % self.enc_heads:
            raise ConfigError("palme: image size must be >= 32 px and enc_dim divisible by enc_heads")

    @property
    def prefix_tokens(self) -> int:
        return 0 if self.blind else self.image_tokens + 1 + self.max_faces

    @classmethod
    def load(cls, folder: str | Path) -> PalmeConfig:
        path = Path(folder).expanduser() / "config.json"
        if not path.is_file():
            raise ModelNotFoundError(f"{path} not found: a palme model folder holds config.json and {WEIGHTS} "
                                     "(`vlm-robot train --out DIR`, or models/palme-sim in the repository)")
        try:
            doc = json.loads(path.read_text())
            names = {f.name for f in dataclasses.fields(cls)}
            return cls(**{k: v for k, v in doc.items() if k in names})
        except (json.JSONDecodeError, TypeError) as e:
            raise ConfigError(f"{path}: not a palme config ({e}); rewrite it with `vlm-robot train`") from e

    def save(self, folder: Path) -> None:
        (folder / "config.json").write_text(json.dumps(dataclasses.asdict(self), indent=2) + "\n")


# ---- inputs -------------------------------------------------------------------------------------------------------
def face_features(faces: Sequence[dict[str, Any]], max_faces: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Face entity inputs ``(max_faces, FACE_FEATURES)`` and the mask ``(max_faces,)`` from face readings
    (dicts with ``box`` [x, y, w, h] in [0, 1], ``scores`` (7, EXPRESSIONS order), ``facing``, ``score``),
    sorted left to right; faces beyond ``max_faces`` (the smallest) are dropped."""
    faces = sorted(faces, key=lambda f: -float(f["box"][2]))[:max_faces]
    faces = sorted(faces, key=lambda f: float(f["box"][0]) + float(f["box"][2]) / 2)
    feats = np.zeros((max_faces, FACE_FEATURES), np.float32)
    mask = np.zeros(max_faces, np.float32)
    for i, f in enumerate(faces):
        scores = list(f.get("scores") or [0.0] * len(EXPRESSIONS))
        if len(scores) != len(EXPRESSIONS):
            raise ConfigError(f"face scores must have {len(EXPRESSIONS)} values ({', '.join(EXPRESSIONS)})")
        feats[i] = [*map(float, f["box"]), *map(float, scores), float(f.get("facing", 1.0)), float(f.get("score", 1.0))]
        mask[i] = 1.0
    return feats, mask


def state_features(state: Sequence[float] | None) -> np.ndarray:
    """``[x, y, yaw, head_pan, head_tilt]`` (map frame, m and rad) -> the state token's input; None: unknown."""
    if state is None:
        return np.zeros(STATE_FEATURES, np.float32)
    if len(state) != 5:
        raise ConfigError(f"robot state must be [x, y, yaw, head_pan, head_tilt], got {len(state)} values")
    x, y, yaw, pan, tilt = map(float, state)
    return np.array([x / 3.0, y / 3.0, math.cos(yaw), math.sin(yaw), pan, tilt, 1.0], np.float32)


def image_tensor(images: np.ndarray) -> torch.Tensor:
    """(B, H, W, 3) uint8 -> (B, 3, H, W) float, normalised as the encoder expects."""
    t = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255.0
    return (t - PIXEL_MEAN) / PIXEL_STD


def frame_inputs(cfg: PalmeConfig, image: np.ndarray, faces: Sequence[dict[str, Any]] = (),
                 state: Sequence[float] | None = None) -> dict[str, torch.Tensor]:
    """The prefix module's inputs for one RGB frame of any size: ``image``, ``faces``, ``face_mask``, ``state``."""
    img = resize_area(image, cfg.image_width, cfg.image_height)
    f, m = face_features(faces, cfg.max_faces)
    return {"image": image_tensor(img[None]), "faces": torch.from_numpy(f[None]),
            "face_mask": torch.from_numpy(m[None]), "state": torch.from_numpy(state_features(state)[None])}


# ---- the vision encoder and the prefix ------------------------------------------------------------------------------
def _grid(n: int) -> int:
    n = n // 4  # the 4 x 4 patch stem
    for _ in range(2):
        n = (n - 1) // 2 + 1
    return n


class Attention(nn.Module):
    """Multi-head attention written out (exports to ONNX as plain matmuls on any opset)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.heads = heads
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        h = self.heads

        def split(t: torch.Tensor) -> torch.Tensor:
            return t.reshape(t.shape[0], t.shape[1], h, d // h).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(ctx)), split(self.v(ctx))
        a = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // h), dim=-1)
        return self.o((a @ v).transpose(1, 2).reshape(b, n, d))


class Block(nn.Module):
    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        self.n1, self.n2, self.nc = nn.LayerNorm(dim), nn.LayerNorm(dim), nn.LayerNorm(dim)
        self.attn = Attention(dim, heads)
        self.mlp = nn.Sequential(nn.Linear(dim, 2 * dim), nn.GELU(), nn.Linear(2 * dim, dim))

    def forward(self, x: torch.Tensor, ctx: torch.Tensor | None = None) -> torch.Tensor:
        y = self.n1(x)
        x = x + self.attn(y, y if ctx is None else self.nc(ctx))
        return x + self.mlp(self.n2(x))


def _stage(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, 2, 1), nn.GroupNorm(8, cout), nn.GELU(),
                         nn.Conv2d(cout, cout, 3, 1, 1), nn.GroupNorm(8, cout), nn.GELU())


class VisionEncoder(nn.Module):
    """224 x 168 RGB -> ``image_tokens`` x ``enc_dim`` features (conv stem, self-attention, query pooling)."""

    def __init__(self, cfg: PalmeConfig) -> None:
        super().__init__()
        d = cfg.enc_dim
        self.stem = nn.Sequential(nn.Conv2d(3, 48, 4, 4), nn.GroupNorm(8, 48), nn.GELU(), _stage(48, 96), _stage(96, d))
        self.grid = (_grid(cfg.image_height), _grid(cfg.image_width))
        self.pos = nn.Parameter(torch.randn(1, self.grid[0] * self.grid[1], d) * 0.02)
        self.blocks = nn.ModuleList(Block(d, cfg.enc_heads) for _ in range(cfg.enc_layers))
        self.queries = nn.Parameter(torch.randn(1, cfg.image_tokens, d) * 0.02)
        self.pool = Block(d, cfg.enc_heads)
        self.norm = nn.LayerNorm(d)

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.encode(image)[1]

    def encode(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(grid features (B, cells, d), pooled image tokens (B, image_tokens, d)); training supervises both."""
        x = self.stem(image).flatten(2).transpose(1, 2) + self.pos
        for blk in self.blocks:
            x = blk(x)
        q = self.pool(self.queries.expand(x.shape[0], -1, -1), x)
        return x, self.norm(q)


class Prefix(nn.Module):
    """Everything before the question: image tokens, the robot-state token and the face (entity) tokens,
    all in the language model's embedding space. The unit ``vlm-robot models export`` compiles."""

    def __init__(self, cfg: PalmeConfig, hidden: int) -> None:
        super().__init__()
        self.cfg = cfg
        d = cfg.enc_dim
        self.encoder = VisionEncoder(cfg)
        self.project = nn.Sequential(nn.Linear(d, hidden), nn.GELU(), nn.Linear(hidden, hidden))
        self.state = nn.Sequential(nn.Linear(STATE_FEATURES, 256), nn.GELU(), nn.Linear(256, hidden))
        self.face = nn.Sequential(nn.Linear(FACE_FEATURES, 256), nn.GELU(), nn.Linear(256, hidden))
        self.no_face = nn.Parameter(torch.randn(1, 1, hidden) * 0.02)
        self.slot = nn.Parameter(torch.randn(1, cfg.max_faces, hidden) * 0.02)

    def forward(self, image: torch.Tensor, faces: torch.Tensor, face_mask: torch.Tensor,
                state: torch.Tensor) -> torch.Tensor:
        return self.assemble(self.encoder(image), faces, face_mask, state)

    def assemble(self, feats: torch.Tensor, faces: torch.Tensor, face_mask: torch.Tensor,
                 state: torch.Tensor) -> torch.Tensor:
        """The prefix from the encoder's output ``feats`` (training reuses them for the auxiliary heads)."""
        img = self.project(feats)
        st = self.state(state)[:, None]
        m = face_mask[..., None]
        fc = m * self.face(faces) + (1 - m) * self.no_face + self.slot
        return torch.cat([img, st, fc], dim=1)


class AuxHeads(nn.Module):
    """Encoder pre-training heads (``cfg.aux``); not part of the served model. Heads named ``grid_*`` are dense:
    one prediction per grid cell from the grid features (what object, which colour is centred there: it tells
    the encoder where the small objects are); the others read the pooled image tokens."""

    def __init__(self, cfg: PalmeConfig) -> None:
        super().__init__()
        self.spec = {k: (int(g), int(c)) for k, (g, c) in cfg.aux.items()}
        width = cfg.image_tokens * cfg.enc_dim
        self.heads = nn.ModuleDict({
            k: nn.Linear(cfg.enc_dim, c) if k.startswith("grid_") else
            nn.Sequential(nn.Linear(width, 256), nn.GELU(), nn.Linear(256, g * c))
            for k, (g, c) in self.spec.items()})

    def forward(self, pooled: torch.Tensor, grid: torch.Tensor) -> dict[str, torch.Tensor]:
        flat = pooled.flatten(1)
        return {k: h(grid) if k.startswith("grid_") else h(flat).reshape(len(flat), *self.spec[k])
                for k, h in self.heads.items()}


# ---- the language model ---------------------------------------------------------------------------------------------
class LoRALinear(nn.Module):
    """``base(x) + scale * B(A(x))`` with ``base`` frozen; B starts at zero (the model starts as the base)."""

    def __init__(self, base: nn.Linear, rank: int, alpha: float) -> None:
        super().__init__()
        self.base = base
        self.lora_a = nn.Parameter(torch.randn(rank, base.in_features) / math.sqrt(base.in_features))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank))
        self.scale = alpha / rank

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.base(x) + (x @ self.lora_a.t() @ self.lora_b.t()) * self.scale


def _cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "vlm_robot"


@functools.lru_cache(maxsize=1)
def load_tokenizer() -> Any:
    """SmolLM2's tokenizer, read from the packaged GGUF once and then from a cache folder."""
    from transformers import AutoTokenizer

    from vlm_robot.core.assets import CHAT_LLM

    cache = _cache_dir() / f"smollm2-tokenizer-{CHAT_LLM.sha256[:12]}"
    if (cache / "tokenizer.json").is_file():
        return AutoTokenizer.from_pretrained(str(cache))
    gguf = CHAT_LLM.path()
    tok = _from_gguf(AutoTokenizer, gguf)
    try:
        tok.save_pretrained(str(cache))
    except OSError:
        pass  # a read-only home: read the GGUF again next time
    return tok


def _from_gguf(auto: Any, gguf: Path, **kw: Any) -> Any:
    try:
        import gguf as _  # noqa: F401
    except ImportError as e:
        raise BackendUnavailableError("reading the packaged SmolLM2 GGUF into torch needs the gguf package: "
                                      "`pip install -r requirements/vlm.txt`") from e
    return auto.from_pretrained(str(gguf.parent), gguf_file=gguf.name, **kw)


def load_lm(name: str, device: str = "cpu") -> Any:
    """The frozen language model: SmolLM2-135M-Instruct from the packaged GGUF (dequantised; cached as
    safetensors after the first load) or a tiny random Llama with SmolLM2's vocabulary (``tiny-random``)."""
    from transformers import AutoModelForCausalLM, LlamaConfig, LlamaForCausalLM

    if name == LM_TINY:
        torch.manual_seed(0)
        cfg = LlamaConfig(vocab_size=49152, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                          num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=512,
                          tie_word_embeddings=True, bos_token_id=1, eos_token_id=2)
        lm = LlamaForCausalLM(cfg)
    else:
        from vlm_robot.core.assets import CHAT_LLM

        cache = _cache_dir() / f"smollm2-135m-{CHAT_LLM.sha256[:12]}"
        if (cache / "model.safetensors").is_file():
            lm = AutoModelForCausalLM.from_pretrained(str(cache), dtype=torch.float32)
        else:
            lm = _from_gguf(AutoModelForCausalLM, CHAT_LLM.path(), dtype=torch.float32)
            _cache_lm(lm, cache)
    lm.eval()
    for p in lm.parameters():
        p.requires_grad_(False)
    return lm.to(device)


def _cache_lm(lm: Any, cache: Path) -> None:
    """The dequantised weights as safetensors (loads in about a second instead of ~17 s from the GGUF)."""
    from safetensors.torch import save_file

    tied = lm.config.tie_word_embeddings
    state = {k: v.contiguous() for k, v in lm.state_dict().items() if not (tied and k == "lm_head.weight")}
    try:
        cache.mkdir(parents=True, exist_ok=True)
        doc = lm.config.to_dict()
        doc.pop("quantization_config", None)  # the cached weights are plain float32
        (cache / "config.json").write_text(json.dumps(doc, indent=2))
        save_file(state, str(cache / "model.safetensors.tmp"), metadata={"format": "pt"})
        os.replace(cache / "model.safetensors.tmp", cache / "model.safetensors")
    except OSError:
        pass  # a read-only home: convert the GGUF again next time


def add_lora(lm: Any, cfg: PalmeConfig) -> None:
    """Wrap the attention projections named in ``cfg.lora_targets`` of every layer with LoRA adapters."""
    if cfg.lora_rank <= 0:
        return
    for layer in lm.model.layers:
        attn = layer.self_attn
        for name in cfg.lora_targets:
            base = getattr(attn, name)
            if not isinstance(base, LoRALinear):
                setattr(attn, name, LoRALinear(base, cfg.lora_rank, cfg.lora_alpha).to(base.weight.device))


# ---- the whole model ------------------------------------------------------------------------------------------------
class PalmeVLM(nn.Module):
    """The prefix (trained here), the frozen language model and its LoRA adapters; see the module docstring."""

    def __init__(self, cfg: PalmeConfig, lm: Any, tokenizer: Any) -> None:
        super().__init__()
        self.cfg = cfg
        self.lm = lm
        self.tokenizer = tokenizer
        hidden = lm.config.hidden_size
        self.prefix_net = Prefix(cfg, hidden)
        self.aux = AuxHeads(cfg) if cfg.aux else None
        add_lora(lm, cfg)
        self.end_id = tokenizer.convert_tokens_to_ids(END)
        self._user_ids = tokenizer(USER, add_special_tokens=False).input_ids
        self._lock = threading.Lock()
        self.to(next(lm.parameters()).device)

    @property
    def device(self) -> torch.device:
        return next(self.lm.parameters()).device

    def trainable_state(self) -> dict[str, torch.Tensor]:
        """What ``palme.safetensors`` holds: the prefix network and the LoRA adapters (not the frozen LM)."""
        out = {f"prefix.{k}": v for k, v in self.prefix_net.state_dict().items()}
        out.update({f"lm.{k}": v for k, v in self.lm.state_dict().items() if ".lora_" in k})
        return {k: v.detach().cpu().contiguous() for k, v in out.items()}

    def load_trainable(self, state: dict[str, torch.Tensor]) -> None:
        prefix = {k[7:]: v for k, v in state.items() if k.startswith("prefix.")}
        lora = {k[3:]: v for k, v in state.items() if k.startswith("lm.")}
        missing = set(self.trainable_state()) - set(state)
        if missing:
            raise ModelIntegrityError(f"palme weights lack {len(missing)} tensors (e.g. {sorted(missing)[0]}): "
                                      "they were saved by a different configuration; retrain or use its config.json")
        self.prefix_net.load_state_dict(prefix)
        self.lm.load_state_dict(lora, strict=False)

    def prefix(self, image: torch.Tensor, faces: torch.Tensor, face_mask: torch.Tensor,
               state: torch.Tensor) -> torch.Tensor:
        """(B, P, hidden) prefix embeddings; P = 0 for a blind model."""
        if self.cfg.blind:
            return torch.zeros(image.shape[0], 0, self.lm.config.hidden_size, device=image.device)
        return self.prefix_net(image, faces, face_mask, state)

    def prefix_module(self) -> nn.Module:
        """The ONNX export unit: ``forward(image, faces, face_mask, state) -> prefix``."""
        return self.prefix_net

    def embed(self, ids: Sequence[int] | torch.Tensor) -> torch.Tensor:
        t = ids if isinstance(ids, torch.Tensor) else torch.tensor(list(ids), dtype=torch.long)
        return self.lm.get_input_embeddings()(t.to(self.device))

    def text_ids(self, text: str) -> list[int]:
        return self.tokenizer(text, add_special_tokens=False).input_ids

    def prompt_embeds(self, question: str, prefix: torch.Tensor) -> torch.Tensor:
        """(1, T, hidden): the multimodal sentence up to where the answer starts."""
        q = self.text_ids(question.strip() + ASSISTANT)
        return torch.cat([self.embed(self._user_ids)[None], prefix.to(self.device), self.embed(q)[None]], dim=1)

    @torch.no_grad()
    def stream(self, question: str, prefix: torch.Tensor, max_new_tokens: int = 24) -> Iterator[str]:
        """Greedy answer pieces as they are decoded (one generation at a time per model)."""
        with self._lock:
            emb = self.prompt_embeds(question, prefix)
            out = self.lm(inputs_embeds=emb, use_cache=True)
            ids: list[int] = []
            said = ""
            for _ in range(max_new_tokens):
                nxt = int(out.logits[0, -1].argmax())
                if nxt == self.end_id or nxt == self.tokenizer.eos_token_id:
                    break
                ids.append(nxt)
                text = self.tokenizer.decode(ids, skip_special_tokens=True)
                if not text.endswith("\ufffd") and len(text) > len(said):
                    yield text[len(said):]
                    said = text
                out = self.lm(input_ids=torch.tensor([[nxt]], device=self.device),
                              past_key_values=out.past_key_values, use_cache=True)

    def answer(self, question: str, prefix: torch.Tensor, max_new_tokens: int = 24) -> str:
        return "".join(self.stream(question, prefix, max_new_tokens)).strip()

    # ---- training ------------------------------------------------------------------------------------------------
    def batch_loss(self, prefix: torch.Tensor, dialogues: Sequence[Sequence[tuple[str, str]]]) -> torch.Tensor:
        """Mean cross-entropy of the answers' tokens; ``dialogues[b]`` is one or more (question, answer) pairs
        about sample b, packed into one sequence as consecutive turns (the prefix is read once)."""
        seqs, labels = [], []
        for turns in dialogues:
            ids: list[int] = []
            lab: list[int] = []
            for j, (q, a) in enumerate(turns):
                qi = self.text_ids(("" if j == 0 else NEXT_TURN) + q.strip() + ASSISTANT)
                ai = self.text_ids(a.strip() + END)
                ids += qi + ai
                lab += [-100] * len(qi) + ai
            seqs.append(ids)
            labels.append(lab)
        b, t = len(seqs), max(map(len, seqs))
        pad = self.end_id
        ids_t = torch.full((b, t), pad, dtype=torch.long)
        lab_t = torch.full((b, t), -100, dtype=torch.long)
        att = torch.zeros(b, t, dtype=torch.long)
        for i, (s, lab) in enumerate(zip(seqs, labels, strict=True)):
            ids_t[i, :len(s)] = torch.tensor(s)
            lab_t[i, :len(s)] = torch.tensor(lab)
            att[i, :len(s)] = 1
        dev = self.device
        user = self.embed(self._user_ids)[None].expand(b, -1, -1)
        emb = torch.cat([user, prefix.to(dev), self.embed(ids_t)], dim=1)
        head = user.shape[1] + prefix.shape[1]
        mask = torch.cat([torch.ones(b, head, dtype=torch.long), att], dim=1).to(dev)
        hidden = self.lm.model(inputs_embeds=emb, attention_mask=mask).last_hidden_state
        # position p predicts token p + 1: the logits are computed only where an answer token follows
        targets = torch.cat([torch.full((b, head), -100, dtype=torch.long), lab_t], dim=1)[:, 1:].to(dev)
        where = targets != -100
        logits = self.lm.lm_head(hidden[:, :-1][where])
        return F.cross_entropy(logits, targets[where])


# ---- files ----------------------------------------------------------------------------------------------------------
def save_palme(vlm: PalmeVLM, folder: str | Path) -> Path:
    """Write ``palme.safetensors`` and ``config.json`` (with the weights' sha256) into ``folder``."""
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = folder / (WEIGHTS + ".tmp")
    save_file(vlm.trainable_state(), str(tmp))
    os.replace(tmp, folder / WEIGHTS)
    vlm.cfg.weights_sha256 = sha256_file(folder / WEIGHTS)
    vlm.cfg.save(folder)
    return folder


def build_palme(cfg: PalmeConfig, device: str = "cpu") -> PalmeVLM:
    """A new (untrained) model of ``cfg``: the language model loaded, the prefix randomly initialised."""
    return PalmeVLM(cfg, load_lm(cfg.lm, device), load_tokenizer())


def load_palme(folder: str | Path, device: str = "cpu") -> PalmeVLM:
    """The trained model in ``folder`` (``config.json`` + ``palme.safetensors``) on ``device``, in eval mode.

    Raises:
        ModelNotFoundError: the folder or a file is missing (the message says how to make one).
        ModelIntegrityError: the weights' sha256 differs from the config's pin, or they do not fit the config.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    folder = Path(folder).expanduser()
    cfg = PalmeConfig.load(folder)
    weights = folder / WEIGHTS
    if not weights.is_file():
        raise ModelNotFoundError(f"{weights} not found; train one with `vlm-robot train --out {folder}`")
    if cfg.weights_sha256 and sha256_file(weights) != cfg.weights_sha256:
        raise ModelIntegrityError(f"{weights}: sha256 differs from the pin in config.json "
                                  f"({cfg.weights_sha256[:12]}...): the file is corrupt or was replaced; "
                                  "restore it (git checkout) or retrain")
    cfg.aux = {}
    try:
        state = load_file(str(weights))
    except (SafetensorError, OSError) as e:
        raise ModelIntegrityError(f"{weights}: not a readable safetensors file ({e}); restore it or retrain") from e
    vlm = build_palme(cfg, device)
    vlm.load_trainable(state)
    vlm.eval()
    return vlm
