"""``digits-mlp``: a two-hidden-layer MLP on scikit-learn's bundled 8x8 digits (1,797 images).

Trains in seconds; the workload of the tests.  80/20 split fixed once (not by the trial seed), inputs
standardised with the training statistics.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from .base import Task, classification_task

BATCH = 64


def _load_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's bundled digits file, read directly (importing scikit-learn takes seconds)."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.find_spec("sklearn")
    if spec is None or not spec.submodule_search_locations:
        raise ValueError("the digits-mlp workload needs scikit-learn (its bundled digits data): pip install scikit-learn")
    path = Path(list(spec.submodule_search_locations)[0]) / "datasets" / "data" / "digits.csv.gz"
    if path.is_file():
        data = np.loadtxt(path, delimiter=",")
        return data[:, :-1].astype(np.float32), data[:, -1].astype(np.int64)
    from sklearn.datasets import load_digits  # pragma: no cover - another layout of the package

    d = load_digits()
    return d.data.astype(np.float32), d.target.astype(np.int64)


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    x, y = _load_digits()
    perm = np.random.default_rng(20240601).permutation(len(y))
    n_val = len(y) // 5
    val, train = perm[:n_val], perm[n_val:]
    mu, sd = x[train].mean(0), x[train].std(0) + 1e-6
    x = (x - mu) / sd
    return x[train], y[train], x[val], y[val]


def make(seed: int, steps: int, hidden: int = 128, batch_size: int = BATCH) -> Task:
    """MLP 64-hidden-hidden-10 with cross-entropy; batches drawn from (seed, step)."""
    import torch
    from torch import nn

    xtr, ytr, xva, yva = _data()
    xtr_t, ytr_t = torch.from_numpy(xtr), torch.from_numpy(ytr)
    xva_t, yva_t = torch.from_numpy(xva), torch.from_numpy(yva)
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 10))

    return classification_task(model, xtr_t, ytr_t, xva_t, yva_t, seed, batch_size)
