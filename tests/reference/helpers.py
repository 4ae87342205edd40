"""Helpers for the reference suite: drive a real optimizer, compare every step."""

from __future__ import annotations

import importlib
import importlib.util
import sys
import types

import numpy as np
import pytest

import lrkit


def assert_steps(actual, expected, *, rtol: float = 1e-9, atol: float = 1e-12, what: str = "") -> None:
    """Every step equal within ``rtol`` (``atol`` is relative to the largest reference value)."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, f"{what}: {actual.shape} steps vs reference {expected.shape}"
    scale = float(np.max(np.abs(expected))) if expected.size else 1.0
    bad = ~np.isclose(actual, expected, rtol=rtol, atol=atol * max(scale, 1e-300))
    if bad.any():
        i = int(np.argmax(bad))
        pytest.fail(f"{what}: {int(bad.sum())} of {bad.size} steps differ; first at step {i}: "
                    f"lrkit {actual[i]!r} vs reference {expected[i]!r}")


def lrkit_lrs(spec: str, n: int, base_lr: float, convention: str | lrkit.Convention, total: int | None = None):
    """``base_lr`` times the multipliers of ``spec`` at steps ``0 .. n-1`` of a ``total``-step run."""
    s = lrkit.parse(spec)
    if total is None:
        return s.sample(n, convention=convention) * base_lr
    return s(np.arange(n), total=total, convention=convention) * base_lr


def torch_lrs(make_scheduler, n: int, base_lr: float = 0.1, *, betas=None, warmup=None):
    """The LR a torch optimizer uses at each of ``n`` steps under ``make_scheduler(optimizer)``.

    SGD, or AdamW with ``betas`` (pytorch-warmup reads beta2 from it). Reads
    ``param_groups[0]["lr"]`` before each ``optimizer.step()``, then steps the scheduler
    (inside ``warmup(optimizer).dampening()`` when a pytorch-warmup factory is given).
    """
    torch = pytest.importorskip("torch")
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.AdamW([p], lr=base_lr, betas=betas) if betas else torch.optim.SGD([p], lr=base_lr)
    sched = make_scheduler(opt) if make_scheduler is not None else None
    w = warmup(opt) if warmup is not None else None
    out = []
    for _ in range(n):
        out.append(opt.param_groups[0]["lr"])
        opt.step()
        if w is not None:
            with w.dampening():
                if sched is not None:
                    sched.step()
        else:
            sched.step()
    return np.asarray(out, dtype=float)


def load_timm_scheduler():
    """``timm.scheduler`` without running ``timm/__init__.py`` (which needs torchvision).

    Installed with ``pip install --no-deps timm``; the scheduler modules need only torch. A stub
    ``timm`` package is put in ``sys.modules`` just for the import and removed afterwards.
    """
    pytest.importorskip("torch")
    if "timm.scheduler" in sys.modules:
        return sys.modules["timm.scheduler"]
    spec = importlib.util.find_spec("timm")
    if spec is None or not spec.submodule_search_locations:
        pytest.skip("timm is not installed (pip install --no-deps timm)")
    had = {k: v for k, v in sys.modules.items() if k == "timm" or k.startswith("timm.")}
    stub = types.ModuleType("timm")
    stub.__path__ = list(spec.submodule_search_locations)
    sys.modules["timm"] = stub
    try:
        module = importlib.import_module("timm.scheduler")
    except Exception as e:  # pragma: no cover - depends on the installed timm
        pytest.skip(f"timm.scheduler does not import without timm/__init__.py: {e!r}")
    finally:
        for k in [k for k in sys.modules if (k == "timm" or k.startswith("timm.")) and k not in had]:
            del sys.modules[k]
        sys.modules.update(had)
    return module
