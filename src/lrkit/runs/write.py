"""The one run-CSV writer: columns of numbers to a file that :func:`lrkit.runs.load_run` reads back."""

from __future__ import annotations

import csv
import math
from contextlib import nullcontext
from pathlib import Path
from typing import IO, Any, Iterable, Mapping, Sequence

import numpy as np

from .base import RunError
from .checks import exact_steps, step_reason
from .run import Run


def _columns(columns: Mapping[str, Any] | Iterable[tuple[str, Any]] | Run) -> list[tuple[str, list]]:
    if isinstance(columns, Run):
        cols = [("step", columns.step), ("lr", columns.lr), ("loss", columns.loss), ("val_loss", columns.val_loss),
                ("grad_norm", columns.grad_norm), ("tokens", columns.tokens)]
        return [(n, list(v)) for n, v in cols if v is not None]
    items = list(columns.items()) if isinstance(columns, Mapping) else list(columns)
    out = []
    for item in items:
        if not (isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str) and item[0].strip()):
            raise RunError(f"write_csv: columns must be (name, values) pairs with a name, got {item!r:.60}")
        out.append((item[0], list(item[1])))
    names = [n for n, _ in out]
    if len(set(names)) != len(names):
        raise RunError(f"write_csv: column {next(n for n in names if names.count(n) > 1)!r} given twice")
    sizes = {len(v) for _, v in out}
    if len(sizes) > 1:
        raise RunError("write_csv: columns of different lengths: "
                       + ", ".join(f"{n} {len(v)}" for n, v in out))
    return out


def _cell(x: Any) -> str:
    """A value as a cell: empty for a missing or non-finite one ("not logged"; the readers refuse 'nan'),
    an integer as digits, anything else as the shortest float that reads back exactly."""
    if x is None:
        return ""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return str(int(x))
    v = float(x)
    return repr(v) if math.isfinite(v) else ""


def write_csv(dest: str | Path | IO[str], columns: Mapping[str, Sequence[Any]] | Iterable[tuple[str, Sequence[Any]]] | Run) -> int:
    """Write a run CSV: a header of the column names, then one row per index; returns the rows written.

    ``dest``: a path or an open text stream (left open).  ``columns``: a mapping (or sequence of pairs)
    of column name -> values, all of one length, e.g. a trial's history ``{"step": ..., "lr": ...,
    "loss": ..., "val_loss": ..., "grad_norm": ...}``; or a :class:`Run`.  ``None`` and non-finite
    values become empty cells ("not logged").  A ``step`` column must hold exact non-negative integers.
    """
    cols = _columns(columns)
    if not cols:
        raise RunError("write_csv: no columns to write")
    for name, vals in cols:
        if name == "step" and vals:
            try:
                arr = np.asarray(vals)
                bad = exact_steps(arr if arr.dtype.kind in "iuf" else arr.astype(float))[1]
            except (TypeError, ValueError, OverflowError):
                raise RunError("write_csv: the 'step' column is not numbers") from None
            if bad.any():
                i = int(np.argmax(bad))
                raise RunError(f"write_csv: value {i} of the 'step' column: {step_reason(vals[i])}")
    steps = next((vals for name, vals in cols if name == "step"), None)
    rows = zip(*[([str(int(s)) for s in vals] if vals is steps else map(_cell, vals)) for _, vals in cols])
    opened = open(dest, "w", newline="") if isinstance(dest, (str, Path)) else nullcontext(dest)
    with opened as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow([n for n, _ in cols])
        n = 0
        for row in rows:
            w.writerow(row)
            n += 1
    return n
