"""What makes a run unusable, and what ``clean`` repairs: steps, their order, losses, LRs, divergence.

Both :func:`problems` (behind :meth:`Run.checked`) and :func:`cleaned` (behind :meth:`Run.cleaned`)
judge a step, a loss and a divergence by the same helpers, so a run that ``clean`` leaves alone is a
run that the check accepts.
"""

from __future__ import annotations

import math
from dataclasses import replace
from typing import TYPE_CHECKING, Iterator, Mapping, Sequence

import numpy as np

from .base import DIVERGENCE_FACTOR, INT64_MAX, RunError, required

if TYPE_CHECKING:
    from .run import Run


def exact_steps(step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(int64 steps, bad)`` of an array of steps; bad = not an exact integer in ``0 .. 2**63 - 1``
    (floats at or above 2**53 included: a float there may already be a rounded integer)."""
    a = np.asarray(step)
    if a.dtype == np.int64:
        bad = a < 0
        return (a if not bad.any() else np.where(bad, 0, a)), bad
    if a.dtype.kind == "i":
        bad = a < 0
    elif a.dtype.kind == "u":
        bad = a > INT64_MAX
    else:
        f = a.astype(float)
        with np.errstate(invalid="ignore"):
            bad = ~np.isfinite(f) | (f < 0) | (f != np.floor(f)) | (f >= 2.0**53)
        return np.where(bad, 0, f).astype(np.int64), bad
    return np.where(bad, 0, a).astype(np.int64), bad


def step_reason(value: int | float) -> str:
    """Why a step value is not usable (the end of the message)."""
    if isinstance(value, int) and not isinstance(value, bool):
        shown = repr(float(value)) if abs(value) < 1e300 else f"{str(value)[:8]}... ({len(str(abs(value)))} digits)"
        if value > INT64_MAX:
            return f"step {shown} is beyond the largest step lrkit holds exactly (2**63 - 1)"
        return f"step {shown} is not a non-negative integer"
    v = float(value)
    if math.isfinite(v) and v == math.floor(v) and v >= 0:
        if v > INT64_MAX:
            return f"step {v!r} is beyond the largest step lrkit holds exactly (2**63 - 1)"
        return f"step {v!r} is a float beyond 2**53, where floats skip integers: give steps as integers"
    return f"step {v!r} is not a non-negative integer"


def _first_divergence(loss: np.ndarray) -> tuple[int, float] | None:
    """``(index, best loss before it)`` of the first loss more than :data:`DIVERGENCE_FACTOR` times the
    best positive finite loss so far, or ``None``.  Only positive finite losses count."""
    ok = np.isfinite(loss) & (loss > 0)
    if not ok.any():
        return None
    best = np.minimum.accumulate(np.where(ok, loss, np.inf))
    bad = np.nonzero(ok & (loss > DIVERGENCE_FACTOR * best) & np.isfinite(best))[0]
    return (int(bad[0]), float(best[bad[0]])) if bad.size else None


def _order_problem(steps: np.ndarray) -> tuple[int, int, int] | None:
    """The first step, in file order, that comes after a larger one or repeats an earlier one:
    ``(index, kind, other)`` with kind 0 = out of order (other: the step before), 1 = repeated
    (other: index of its first occurrence)."""
    if np.all(steps[1:] > steps[:-1]):
        return None
    down = np.nonzero(steps[1:] < steps[:-1])[0]
    i_down = int(down[0]) + 1 if down.size else steps.size
    order = np.argsort(steps, kind="stable")
    same = steps[order][1:] == steps[order][:-1]
    i_dup = int(order[1:][same].min()) if same.any() else steps.size
    if i_down <= i_dup:
        return i_down, 0, int(steps[i_down - 1])
    return i_dup, 1, int(np.nonzero(steps == steps[i_dup])[0][0])


def row_of(run: "Run", i: int) -> int:
    """The file row of the run's ``i``-th step (1-based, header = row 1)."""
    return int(run.rows[i]) if run.rows is not None else i + 2


def where(run: "Run", i: int, col: str | None = None) -> str:
    return f"{run.source or run.name}: row {row_of(run, i)}" + (f", column '{col}'" if col else "")


def problems(run: "Run", require: Sequence[str] = ("step", "loss")) -> Iterator[tuple[str, int, str]]:
    """Yield ``(kind, index, message)`` for problems, the first of each kind (file order within it).
    The checks of loss values (non-finite, non-positive, divergence) apply when ``loss`` is required."""
    src = run.source or run.name
    req = required(require)
    if run.step.size == 0:
        yield "empty", -1, f"{src}: no data rows"
        return
    steps, bad = exact_steps(run.step)
    if bad.any():
        i = int(np.argmax(bad))
        yield "step", i, f"{where(run, i, 'step')}: {step_reason(run.step[i].item())}"
        return
    found = _order_problem(steps)
    if found is not None:
        i, kind, other = found
        if kind == 0:
            yield "order", i, f"{where(run, i, 'step')}: step {steps[i]} comes after step {other} (steps must increase)"
        else:
            yield "duplicate", i, f"{where(run, i, 'step')}: step {steps[i]} appears again (first at row {row_of(run, other)})"
    if "loss" in req:
        yield from _loss_problems(run)
    if "val_loss" in req:
        yield from _loss_problems(run, "val_loss")
    for col in req[1:]:
        if col != "loss" and (getattr(run, col) is None or not np.any(np.isfinite(getattr(run, col)))):
            yield "missing", -1, f"{src}: no '{col}' values logged"
    if run.lr is not None:
        for i in np.nonzero(np.isinf(run.lr) | (run.lr < 0))[0][:1]:
            yield "lr", int(i), f"{where(run, int(i), 'lr')}: learning rate {run.lr[i]} is negative or infinite"
    div = _first_divergence(run.loss) if "loss" in req else None
    if div is not None:
        i, best = div
        yield "diverged", i, (
            f"{where(run, i, 'loss')}: loss {run.loss[i]:g} at step {int(steps[i])} is more than "
            f"{DIVERGENCE_FACTOR:g}x the best loss so far ({best:g}): the run diverged "
            "(cut it, or load with clean=True / --clean to drop the tail)"
        )


def _loss_problems(run: "Run", col: str = "loss") -> Iterator[tuple[str, int, str]]:
    """Infinite and non-positive values of a loss column (``loss``, or ``val_loss`` when a fit targets it)."""
    what = "loss" if col == "loss" else "validation loss"
    vals = getattr(run, col)
    if vals is None:
        return
    for i in np.nonzero(np.isinf(vals))[0][:1]:
        yield col, int(i), f"{where(run, int(i), col)}: {what} is {vals[i]}"
    low = np.nonzero(np.isfinite(vals) & (vals <= 0))[0]
    if low.size:
        i = int(low[0])
        yield "nonpositive", i, (
            f"{where(run, i, col)}: {what} {vals[i]:g} is not positive ({low.size} non-positive "
            f"{what}es; a loss curve is positive): fix the file, or load with clean=True / --clean to leave them out")
    # NaN written explicitly is indistinguishable from 'not logged' once parsed; loaders report it.
    if col == "loss" and not np.any(np.isfinite(vals)):
        yield "noloss", -1, f"{run.source or run.name}: no loss values logged"


def _blank_out(values: np.ndarray, mask: np.ndarray, rows: np.ndarray, what: str) -> list[str]:
    """Set ``values[mask]`` to NaN ("not logged"); the note saying so, if any were."""
    if not mask.any():
        return []
    values[mask] = np.nan
    return [what.format(n=int(mask.sum())) + f" (first at row {int(rows[mask][0])})"]


def merge_same_step(rows: np.ndarray, step: np.ndarray, values: Mapping[str, np.ndarray]
                    ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[str]]:
    """Rows at one step, one after the other in the file, whose logged columns do not collide (e.g. W&B's
    training row and validation row of a step) as one row, with a note; rows that log one column twice
    at a step stay apart (the checks report them, ``clean`` keeps the last)."""
    vals = dict(values)
    if step.size < 2 or not np.any(step[1:] == step[:-1]):
        return rows, step, vals, []
    starts = np.r_[0, np.nonzero(step[1:] != step[:-1])[0] + 1]
    size = np.diff(np.r_[starts, step.size])
    collide = np.zeros(starts.size, bool)
    for v in vals.values():
        collide |= np.add.reduceat((~np.isnan(v)).astype(np.int64), starts) > 1
    merge = (size > 1) & ~collide
    if not merge.any():
        return rows, step, vals, []
    group = np.repeat(np.arange(starts.size), size)
    keep = ~merge[group] | np.isin(np.arange(step.size), starts)
    for role, v in vals.items():
        merged = np.fmax.reduceat(v, starts)  # NaN = not logged: the one logged value of each column
        out = v.copy()
        out[starts[merge]] = merged[merge]
        vals[role] = out[keep]
    n = int(size[merge].sum() - merge.sum())
    first = int(rows[starts[merge][0]])
    note = (f"merged {n} row{'s' * (n != 1)} into the row before at the same step (no column logged twice there, e.g. "
            f"a training and a validation row; first at row {first})")
    return rows[keep], step[keep], vals, [note]


def _unique_sorted(run: "Run", steps: np.ndarray, keep: np.ndarray, rows: np.ndarray, notes: list[str]
                   ) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray | None]]:
    """The rows ``keep`` sorted by step, rows at one step merged where no column collides
    (:func:`merge_same_step`), then the last row of each step still repeated kept:
    ``(rows, steps, columns)``."""
    order = keep[np.argsort(steps[keep], kind="stable")]
    if np.any(np.diff(steps[keep]) < 0):
        notes.append("sorted rows by step")
    cols = {c: getattr(run, c)[order].astype(float) for c in ("loss", "lr", "val_loss", "grad_norm", "tokens")
            if getattr(run, c) is not None}
    rows, st, cols, merged = merge_same_step(rows[order], steps[order], cols)
    notes += merged
    last = np.r_[st[1:] != st[:-1], True]
    if not last.all():
        notes.append(f"dropped {int((~last).sum())} rows with a duplicated step (kept the last one of each)")
    new: dict[str, np.ndarray | None] = {c: None for c in ("loss", "lr", "val_loss", "grad_norm", "tokens")}
    new.update({c: v[last] for c, v in cols.items()})
    return rows[last], st[last], new


def cleaned(run: "Run", require: Sequence[str] = ("step", "loss")) -> tuple["Run", list[str]]:
    """The repaired run and one line per repair (see :meth:`Run.cleaned`)."""
    req = required(require)
    src = run.source or run.name
    rows = run.rows if run.rows is not None else np.arange(run.step.size) + 2
    if run.step.size == 0:
        raise RunError(f"{src}: no data rows")
    notes: list[str] = []
    steps, bad = exact_steps(run.step)
    if bad.any():
        notes.append(f"dropped {int(bad.sum())} rows with a bad step (first at row {int(rows[bad][0])})")
    keep = np.nonzero(~bad)[0]
    if keep.size == 0:
        raise RunError(f"{src}: no row has a valid step (a non-negative integer)")
    rows, st, new = _unique_sorted(run, steps, keep, rows, notes)
    for col, what in (("loss", "losses"), ("val_loss", "validation losses")):
        if col in req and new[col] is not None:
            notes += _blank_out(new[col], np.isinf(new[col]), rows, f"ignored {{n}} infinite {what}")
            with np.errstate(invalid="ignore"):
                low = new[col] <= 0
            notes += _blank_out(new[col], low, rows, f"left out {{n}} non-positive {what}")
    if new["lr"] is not None:
        notes += _blank_out(new["lr"], np.isinf(new["lr"]) | (new["lr"] < 0), rows,
                            "ignored {n} negative or infinite LRs")
    div = _first_divergence(new["loss"]) if "loss" in req else None
    if div is not None:
        cut, best = div
        notes.append(f"cut {st.size - cut} rows from step {int(st[cut])} on: loss {new['loss'][cut]:g} > "
                     f"{DIVERGENCE_FACTOR:g}x the best so far ({best:g}), the run diverged")
        st, rows = st[:cut], rows[:cut]
        new = {c: (None if a is None else a[:cut]) for c, a in new.items()}
    out = replace(run, step=st, rows=rows, notes=run.notes + tuple(notes), **new)
    return out.checked(req), notes
