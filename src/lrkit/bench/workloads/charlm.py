"""``charlm``: a small causal transformer language model on bytes of real text.

Corpus (no download): by default the Python standard library's own top-level source files
(``Lib/*.py`` of the running interpreter, about 4.7 MB on CPython 3.11), sorted by name; every tenth
file is held out as the validation split, so validation text is text the model never trained on.
``corpus=PATH`` (``--corpus``) takes any text file (its last 10% of bytes are held out) or a folder
(all its files, every tenth held out).  Byte-level tokens (vocabulary 256), so no tokenizer is needed.

Model: GPT-style, pre-LayerNorm blocks, causal ``scaled_dot_product_attention``, GELU MLP, tied input
and output embeddings, learned positions.
"""

from __future__ import annotations

import hashlib
import math
import sysconfig
from functools import lru_cache
from pathlib import Path

import numpy as np

from .base import Task

HELD_OUT_EVERY = 10


def default_corpus() -> Path:
    """The standard library's source folder of the running interpreter."""
    return Path(sysconfig.get_paths()["stdlib"])


def _files(folder: Path) -> list[Path]:
    if folder == default_corpus():
        return sorted(p for p in folder.glob("*.py") if p.is_file())
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.parts))


@lru_cache(maxsize=4)
def load_corpus(corpus: str | None = None) -> tuple[np.ndarray, np.ndarray, str]:
    """``(train_bytes, val_bytes, description)`` as uint8 arrays."""
    path = Path(corpus).expanduser() if corpus else default_corpus()
    if path.is_dir():
        files = _files(path)
        if len(files) < 2:
            raise ValueError(f"charlm: corpus folder {path} has fewer than 2 files; give a text file or a folder of files")
        train, val = [], []
        for i, f in enumerate(files):
            data = f.read_bytes() + b"\n\n"
            (val if i % HELD_OUT_EVERY == HELD_OUT_EVERY - 1 else train).append(data)
        tr, va = b"".join(train), b"".join(val)
        desc = f"{path} ({len(files)} files, every {HELD_OUT_EVERY}th held out)"
    elif path.is_file():
        data = path.read_bytes()
        cut = int(len(data) * (1 - 1 / HELD_OUT_EVERY))
        tr, va = data[:cut], data[cut:]
        desc = f"{path} (last {100 // HELD_OUT_EVERY}% held out)"
    else:
        raise ValueError(f"charlm: corpus {path} does not exist; give a text file or a folder")
    if len(va) < 4096 or len(tr) < 16384:
        raise ValueError(f"charlm: corpus {path} is too small ({len(tr) + len(va)} bytes); need at least 20 kB of text")
    return np.frombuffer(tr, dtype=np.uint8), np.frombuffer(va, dtype=np.uint8), desc


def corpus_fingerprint(corpus: str | None = None) -> str:
    tr, va, _ = load_corpus(corpus)
    return hashlib.sha1(tr.tobytes() + va.tobytes()).hexdigest()[:12]


def _model(vocab: int, d: int, layers: int, heads: int, ctx: int):
    import torch
    from torch import nn
    import torch.nn.functional as F

    class Block(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.ln1 = nn.LayerNorm(d)
            self.qkv = nn.Linear(d, 3 * d)
            self.proj = nn.Linear(d, d)
            self.ln2 = nn.LayerNorm(d)
            self.fc = nn.Linear(d, 4 * d)
            self.out = nn.Linear(4 * d, d)

        def forward(self, x):
            b, t, _ = x.shape
            q, k, v = self.qkv(self.ln1(x)).view(b, t, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
            x = x + self.proj(y.transpose(1, 2).reshape(b, t, d))
            return x + self.out(F.gelu(self.fc(self.ln2(x))))

    class GPT(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.tok = nn.Embedding(vocab, d)
            self.pos = nn.Parameter(torch.zeros(ctx, d))
            self.blocks = nn.ModuleList(Block() for _ in range(layers))
            self.ln = nn.LayerNorm(d)
            for name, p in self.named_parameters():
                if name.endswith("weight") and p.dim() == 2:
                    std = 0.02 / math.sqrt(2 * layers) if name.endswith(("proj.weight", "out.weight")) else 0.02
                    nn.init.normal_(p, 0.0, std)
                elif name.endswith("bias"):
                    nn.init.zeros_(p)
            nn.init.normal_(self.pos, 0.0, 0.01)

        def forward(self, idx):
            x = self.tok(idx) + self.pos[: idx.shape[1]]
            for blk in self.blocks:
                x = blk(x)
            return self.ln(x) @ self.tok.weight.T

    return GPT()


def make(seed: int, steps: int, corpus: str | None = None, d_model: int = 64, layers: int = 2, heads: int = 4,
         context: int = 64, batch_size: int = 32, val_windows: int = 64) -> Task:
    """The task: next-byte cross-entropy (nats per byte); batches of random windows drawn from (seed, step)."""
    import torch
    import torch.nn.functional as F

    if d_model % heads:
        raise ValueError(f"charlm: d_model={d_model} must be a multiple of heads={heads}")
    tr, va, desc = load_corpus(corpus)
    train = torch.from_numpy(tr.astype(np.int64))
    val = torch.from_numpy(va.astype(np.int64))
    torch.manual_seed(seed)
    model = _model(256, d_model, layers, heads, context)
    span = torch.arange(context + 1)
    starts = torch.from_numpy(np.linspace(0, len(va) - context - 2, val_windows).astype(np.int64))
    val_x = val[starts[:, None] + span[None, :]]

    def batch(step: int):
        off = np.random.default_rng([seed, step]).integers(0, len(tr) - context - 1, size=batch_size)
        w = train[torch.from_numpy(off)[:, None] + span[None, :]]
        return w[:, :-1], w[:, 1:]

    def loss(m, b):
        logits = m(b[0])
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), b[1].reshape(-1))

    def val_loss(m) -> float:
        total = 0.0
        for chunk in val_x.split(32):
            logits = m(chunk[:, :-1])
            total += float(F.cross_entropy(logits.reshape(-1, 256), chunk[:, 1:].reshape(-1), reduction="sum"))
        return total / (val_x.shape[0] * context)

    return Task(model, batch, loss, val_loss, weight_decay=0.01, betas=(0.9, 0.95), clip=1.0,
                info={"corpus": desc, "train bytes": len(tr), "validation bytes": len(va), "context": context,
                      "batch": batch_size, "parameters": sum(p.numel() for p in model.parameters()),
                      "tokens per step": batch_size * context})


make.default_lr = 3e-3  # type: ignore[attr-defined]
__all__ = ["make", "load_corpus", "default_corpus", "corpus_fingerprint"]
