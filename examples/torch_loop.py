"""A plain PyTorch training loop driven by lrkit: per-group LRs, a weight-decay schedule, save and resume.

Run:  python examples/torch_loop.py [--steps 60]

It trains a small MLP on a synthetic regression task twice: once straight through, once stopped at the
middle, saved, rebuilt in fresh objects from the checkpoint and finished. The two runs use the same LR
at every step (checked, bit for bit), which is what ``lrkit.torch.Scheduler`` promises.
"""

from __future__ import annotations

import argparse
import os
import tempfile

import torch

import lrkit
from lrkit.torch import Scheduler

BODY_LR, HEAD_LR = 3e-3, 1e-3
SCHEDULES = {
    # one schedule per parameter group, by the group's "name"; each is a multiplier of that group's LR
    "body": "cosine(warmup=0.1, floor=0.1)",
    "head": "wsd(warmup=0.1, decay=0.2, form='1-sqrt')",
}
WEIGHT_DECAY = "linear(end=0.3)"  # the weight decay goes down to 0.3 of its initial value, in every group
ACCUMULATE = 2  # micro-batches per optimizer step


def build():
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.GELU(), torch.nn.Linear(32, 1))
    opt = torch.optim.AdamW([
        {"params": model[0].parameters(), "lr": BODY_LR, "weight_decay": 0.1, "name": "body"},
        {"params": model[2].parameters(), "lr": HEAD_LR, "weight_decay": 0.0, "name": "head"},
    ])
    return model, opt


def batch(i: int):
    g = torch.Generator().manual_seed(i)
    x = torch.randn(16, 8, generator=g)
    return x, torch.sin(x.sum(1, keepdim=True))


def train(model, opt, sched, start: int, stop: int, lrs: list):
    """Optimizer steps ``start .. stop-1``; each with ``ACCUMULATE`` micro-batches. Returns the last loss."""
    loss = None
    for step in range(start, stop):
        lrs.append(tuple(g["lr"] for g in opt.param_groups))
        for micro in range(ACCUMULATE):
            x, y = batch(step * ACCUMULATE + micro)
            loss = torch.nn.functional.mse_loss(model(x), y)
            (loss / ACCUMULATE).backward()
            sched.step()  # calling it on every micro-batch is harmless: only optimizer steps count
        opt.step()
        opt.zero_grad()
        sched.step()
    return float(loss.detach())


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=60)
    args = ap.parse_args(argv)
    N, half = args.steps, args.steps // 2

    # 1. uninterrupted
    model, opt = build()
    sched = Scheduler(opt, SCHEDULES, total_steps=N, hyperparams={"weight_decay": WEIGHT_DECAY})
    straight: list = []
    loss_a = train(model, opt, sched, 0, N, straight)

    # 2. interrupted at the middle, saved, resumed in fresh objects (as a new process would)
    model, opt = build()
    sched = Scheduler(opt, SCHEDULES, total_steps=N, hyperparams={"weight_decay": WEIGHT_DECAY})
    resumed: list = []
    train(model, opt, sched, 0, half, resumed)
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "ckpt.pt")
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, path)
        del model, opt, sched
        ckpt = torch.load(path, weights_only=True)
    model, opt = build()
    model.load_state_dict(ckpt["model"])
    opt.load_state_dict(ckpt["opt"])
    sched = Scheduler(opt, SCHEDULES, total_steps=N, hyperparams={"weight_decay": WEIGHT_DECAY})
    sched.load_state_dict(ckpt["sched"])  # after the optimizer: it writes the resumed LRs into it
    loss_b = train(model, opt, sched, half, N, resumed)

    if resumed != straight:
        first = next(i for i, (a, b) in enumerate(zip(straight, resumed)) if a != b)
        print(f"FAIL: resumed LRs differ from step {first}: {resumed[first]} != {straight[first]}")
        return 1
    body = lrkit.parse(SCHEDULES["body"]).sample(N) * BODY_LR
    if max(abs(a[0] - b) for a, b in zip(straight, body)) > 1e-15:
        print("FAIL: the body group's LRs are not its schedule's")
        return 1
    wd = [g["weight_decay"] for g in opt.param_groups]
    print(f"{N} optimizer steps x {ACCUMULATE} micro-batches; resumed at step {half}: identical LRs at every step")
    for k in (0, 1, N // 2, N - 1):
        print(f"  step {k:3d}  lr body {straight[k][0]:.3e}  head {straight[k][1]:.3e}")
    print(f"  final weight decay per group {wd[0]:.4f} {wd[1]:.4f}; final loss {loss_a:.4f} (resumed {loss_b:.4f})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
