"""Benchmark workloads: built-in ones by name, user ones by import path or entry point.

Built in: ``digits-mlp`` (seconds), ``mnist1d`` (a small CNN), ``charlm`` (a small causal transformer
LM on the standard library's source).  A user workload is ``module:function`` where
``function(seed, steps, **options)`` returns a :class:`Task` (see :mod:`.base` for the protocol), or a
name registered in the ``lrkit.workloads`` entry-point group.

:func:`get_workload` imports and runs the code it names: it is for running a workload the user chose
(``lrkit bench -w``), never for reading a database (see docs/security.md).
"""

from __future__ import annotations

import importlib
import math
import re
from importlib.metadata import entry_points
from typing import Any

from .base import Task, Workload


#: The built-in workloads' one-line descriptions (a report of a database from before descriptions were
#: stored with each trial shows these, without importing anything).
DESCRIPTIONS = {
    "digits-mlp": "MLP on scikit-learn's 8x8 digits (seconds)",
    "mnist1d": "1-D CNN on MNIST-1D, generated locally",
    "charlm": "causal transformer LM on bytes of the stdlib's source",
}


def _builtin() -> dict[str, Workload]:
    from . import charlm, digits, mnist1d

    return {
        "digits-mlp": Workload("digits-mlp", digits.make, DESCRIPTIONS["digits-mlp"], 3e-3, ("hidden", "batch_size")),
        "mnist1d": Workload("mnist1d", mnist1d.make, DESCRIPTIONS["mnist1d"], 3e-3, ("channels", "batch_size")),
        "charlm": Workload("charlm", charlm.make, DESCRIPTIONS["charlm"], 3e-3,
                           ("corpus", "d_model", "layers", "heads", "context", "batch_size", "val_windows")),
    }


BUILTIN = ("digits-mlp", "mnist1d", "charlm")


def get_workload(name: str) -> Workload:
    """The workload called ``name``: built in, ``module:function``, or an ``lrkit.workloads`` entry point.

    A ``module:function`` name imports that module (its code runs): only for names the user gave.
    """
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"workload {name!r}: give a name ({', '.join(BUILTIN)}) or module:function")
    name = name.strip()
    builtin = _builtin()
    if name in builtin:
        return builtin[name]
    if re.fullmatch(r"[\w.]+:[\w.]+", name):
        mod_name, attr = name.split(":", 1)
        try:
            obj: Any = importlib.import_module(mod_name)
        except ImportError as e:
            raise ValueError(f"workload {name}: cannot import module {mod_name!r} ({e})") from None
        for part in attr.split("."):
            if not hasattr(obj, part):
                raise ValueError(f"workload {name}: module {mod_name!r} has no {attr!r}")
            obj = getattr(obj, part)
        return _wrap(name, obj)
    for ep in entry_points(group="lrkit.workloads"):
        if ep.name == name:
            return _wrap(name, ep.load())
    raise ValueError(f"unknown workload {name!r}; built in: {', '.join(BUILTIN)}; or give module:function "
                     "(a function(seed, steps, **options) returning lrkit.bench.Task)")


def _wrap(name: str, obj: Any) -> Workload:
    if isinstance(obj, Workload):
        return obj
    if not callable(obj):
        raise ValueError(f"workload {name}: {obj!r} is not callable; expected function(seed, steps, **options) -> Task")
    try:  # a bad default_lr only matters without --lr: refused there (runner.expand)
        lr = float(getattr(obj, "default_lr", 1e-3))
    except (TypeError, ValueError):
        lr = math.nan
    return Workload(name, obj, (obj.__doc__ or "").strip().split("\n")[0], lr)


__all__ = ["Task", "Workload", "get_workload", "BUILTIN"]
