"""Small synthetic pilots (the LR-annealing law's exact curves, a little noise) and fits of them, shared by
the issue-13 tests: fast to fit, with a known domain (peak LR 1e-3, 2,000 steps, warmup 100)."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.laws import get_law

N, PEAK, WARMUP = 2000, 1e-3, 100
THETA = np.array([2.5, 0.6, 0.45, 0.2])  # LR-annealing law: L0, A, alpha, C
PILOTS = {"cosine": "cosine(warmup=100, floor=0.1)", "constant": "constant(warmup=100)"}


def law_loss(spec: str, steps: np.ndarray, n: int = N, peak: float = PEAK, noise: float = 0.0, seed: int = 0):
    lr = lrkit.parse(spec).sample(n) * peak
    loss = get_law("lra").predict(lr, steps, THETA)[0]
    return lr, loss * (1 + noise * np.random.default_rng(seed).standard_normal(loss.size))


def write_run(path, spec: str, n: int = N, every: int = 20, start: int = 100, noise: float = 0.0, val: bool = False,
              peak: float = PEAK) -> str:
    """A run file: the LR at every step, the law's loss every ``every`` steps from ``start`` (and the
    same plus 1% as ``val_loss`` when ``val``)."""
    steps = np.arange(start, n, every)
    steps[-1] = n - 1
    lr, loss = law_loss(spec, steps, n, peak, noise)
    at = dict(zip(steps.tolist(), loss.tolist()))
    head = "step,lr,loss" + (",val_loss" if val else "")
    rows = [head]
    for t in range(n):
        if t in at:
            rows.append(f"{t},{float(lr[t])!r},{at[t]!r}" + (f",{at[t] * 1.01 + 0.05!r}" if val else ""))
        else:
            rows.append(f"{t},{float(lr[t])!r}," + ("," if val else ""))
    path.write_text("\n".join(rows) + "\n")
    return str(path)


@pytest.fixture(scope="session")
def pilot_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("pilots")
    return {k: write_run(d / f"{k}.csv", s, noise=1e-4, val=True) for k, s in PILOTS.items()}


@pytest.fixture(scope="session")
def lra_fit(pilot_files):
    from lrkit.laws import fit
    from lrkit.runs import load_run

    return fit([load_run(p) for p in pilot_files.values()], "lra", n_boot=30)


@pytest.fixture(scope="session")
def lra_fit_file(lra_fit, tmp_path_factory):
    path = tmp_path_factory.mktemp("fit") / "fit.json"
    lra_fit.to_json(path)
    return str(path)


@pytest.fixture(scope="session")
def runfile():
    """``runfile(path, spec, n=..., every=..., start=..., noise=..., val=..., peak=...)`` writes a run file."""
    return write_run
