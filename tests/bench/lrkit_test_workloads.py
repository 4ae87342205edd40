"""A tiny user workload for the tests (imported as ``lrkit_test_workloads:make``): noisy linear regression.

``delay`` seconds of sleep per step make a trial last long enough to be killed in the middle.
"""

from __future__ import annotations

import time

import numpy as np


def make(seed: int, steps: int, dim: int = 8, delay: float = 0.0):
    """Noisy linear regression, the tests' tiny workload."""
    import torch
    import torch.nn.functional as F

    from lrkit.bench import Task

    rng = np.random.default_rng(1234)
    w_true = rng.normal(size=(dim, 1)).astype(np.float32)
    xv = torch.from_numpy(rng.normal(size=(256, dim)).astype(np.float32))
    yv = xv @ torch.from_numpy(w_true)
    torch.manual_seed(seed)
    model = torch.nn.Linear(dim, 1)

    def batch(step: int):
        if delay:
            time.sleep(delay)
        r = np.random.default_rng([seed, step])
        x = r.normal(size=(32, dim)).astype(np.float32)
        y = x @ w_true + 0.1 * r.normal(size=(32, 1)).astype(np.float32)
        return torch.from_numpy(x), torch.from_numpy(y)

    def loss(m, b):
        return F.mse_loss(m(b[0]), b[1])

    def val_loss(m) -> float:
        return float(F.mse_loss(m(xv), yv))

    return Task(model, batch, loss, val_loss, clip=None, info={"dim": dim})


make.default_lr = 0.05


def not_a_task(seed: int, steps: int):
    return 42


# ---------------------------------------------------------------- misbehaving workloads (tests/bench/test_bad_input.py)
def bad_model(seed: int, steps: int):
    return {"model": 1, "batch": lambda s: s, "loss": lambda m, b: b, "val_loss": lambda m: 0.0}


def float_loss(seed: int, steps: int):
    task = make(seed, steps)
    task.loss = lambda m, b: 1.0
    return task


def nan_loss(seed: int, steps: int):
    """Every training loss is NaN: each trial diverges at its first step."""
    task = make(seed, steps)
    task.loss = lambda m, b: m(b[0]).sum() * float("nan")
    return task


def exits(seed: int, steps: int):
    raise SystemExit(3)


def bad_default_lr(seed: int, steps: int):
    return make(seed, steps)


bad_default_lr.default_lr = "fast"
