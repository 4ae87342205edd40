"""``mnist1d``: a small 1-D CNN on MNIST-1D (Greydanus 2020), built locally.

The data set is generated with the ``mnist1d`` package's ``make_dataset()`` (its default arguments,
data seed 42: 4,000 training and 1,000 validation sequences of length 40), never its downloader, and
cached under ``$LRKIT_CACHE`` (default ``~/.cache/lrkit``) because generating it takes seconds.
"""

from __future__ import annotations

import os
import tempfile
from functools import lru_cache
from pathlib import Path

import numpy as np

from .base import Task, classification_task

BATCH = 128


def cache_dir() -> Path:
    return Path(os.environ.get("LRKIT_CACHE") or Path.home() / ".cache" / "lrkit")


@lru_cache(maxsize=1)
def _data() -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    path = cache_dir() / "mnist1d-v1.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                return z["x"], z["y"], z["x_test"], z["y_test"]
        except (OSError, ValueError, KeyError):
            pass  # a broken cache file is rebuilt below
    try:
        from mnist1d.data import get_dataset_args, make_dataset
    except ImportError as e:  # pragma: no cover - depends on the install
        raise ValueError("the mnist1d workload needs the 'mnist1d' package: pip install mnist1d") from e
    state = np.random.get_state()  # make_dataset seeds numpy's global RNG; leave it as it was
    try:
        d = make_dataset(get_dataset_args())
    finally:
        np.random.set_state(state)
    out = (d["x"].astype(np.float32), d["y"].astype(np.int64), d["x_test"].astype(np.float32), d["y_test"].astype(np.int64))
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".npz")
        with os.fdopen(fd, "wb") as fh:
            np.savez(fh, x=out[0], y=out[1], x_test=out[2], y_test=out[3])
        os.replace(tmp, path)  # atomic: concurrent workers never see half a file
    except OSError:
        pass  # no writable cache: generate again next time
    return out


def make(seed: int, steps: int, channels: int = 32, batch_size: int = BATCH) -> Task:
    """Conv1d(1,C,5) - Conv1d(C,C,3,s2) - Conv1d(C,C,3,s2) - Linear(10), ReLU, cross-entropy."""
    import torch
    from torch import nn

    xtr, ytr, xva, yva = _data()
    xtr_t, ytr_t = torch.from_numpy(xtr).unsqueeze(1), torch.from_numpy(ytr)
    xva_t, yva_t = torch.from_numpy(xva).unsqueeze(1), torch.from_numpy(yva)
    torch.manual_seed(seed)
    c = channels
    model = nn.Sequential(
        nn.Conv1d(1, c, 5, padding=2), nn.ReLU(),
        nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
        nn.Conv1d(c, c, 3, stride=2, padding=1), nn.ReLU(),
        nn.Flatten(), nn.Linear(c * 10, 10),
    )

    return classification_task(model, xtr_t, ytr_t, xva_t, yva_t, seed, batch_size)
