"""A training run's logged history (step, LR, loss, ...) and its loaders.

Formats: CSV (a header row; W&B CSV exports included), JSON lines, TensorBoard event files (needs the
optional ``tensorboard`` package).  An empty cell (or a key missing from a JSON line) means "not
logged at that step": the LR may be logged at every step and the loss only at some.

What a file may hold: UTF-8 text (a UTF-8 byte-order mark is fine; UTF-16 is refused with a hint),
comma- or tab-separated (semicolons are refused with a hint), every row with as many fields as the
header, numbers in ASCII digits with ``.`` as the decimal mark (no ``1_005``, no other scripts'
digits), steps that are exact integers in ``0 .. 2**63 - 1``, one column per role (``loss`` and
``train/loss`` in one file is ambiguous: map the one to use), one run per file.  At most
:data:`MAX_ROWS` lines are read.

Bad input raises :class:`RunError` (a ``ValueError``) with one line naming the file, the row or
column and the problem.  ``load_run(..., clean=True)`` (or :meth:`Run.cleaned`) instead repairs what
can be repaired -- drops rows with a bad step, NaN, infinite and non-positive losses, negative LRs,
duplicate steps, cuts a diverged tail, sorts the steps -- and reports each repair in ``Run.notes``;
nothing is dropped silently.
"""

from __future__ import annotations

import csv
import gc
import json
import math
import mmap
import re
import struct
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from decimal import Decimal
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Sequence

import numpy as np

from .schedules.validate import clip, did_you_mean

COLUMNS = ("step", "lr", "loss", "val_loss", "grad_norm", "tokens")

#: Column names recognised without a mapping (case-insensitive).  Two of one role in a file are an error.
ALIASES: dict[str, tuple[str, ...]] = {
    "step": ("step", "_step", "global_step", "trainer/global_step", "iteration", "iter", "steps"),
    "loss": ("loss", "train/loss", "train_loss", "training_loss", "loss/train", "train/loss_step", "trainer/loss"),
    "lr": ("lr", "learning_rate", "train/lr", "train/learning_rate", "lr/train", "learning-rate"),
    "val_loss": ("val_loss", "val/loss", "eval/loss", "eval_loss", "validation/loss", "valid/loss", "loss/val"),
    "grad_norm": ("grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "train/gradient_norm"),
    "tokens": ("tokens", "train/tokens", "num_tokens", "tokens_seen", "train/num_tokens"),
}

#: A loss more than this many times the best loss so far marks a diverged run.
DIVERGENCE_FACTOR = 2.0
#: The most lines (rows) a run file may have; the numbers of ~50 bytes a row are held in memory.
MAX_ROWS = 20_000_000
#: The most steps :meth:`Run.lr_per_step` builds (one LR per step, dense).
MAX_STEPS = 10_000_000
INT64_MAX = 2**63 - 1
_CHUNK = 1 << 18  # rows converted at a time


class RunError(ValueError):
    """A run file or run data that cannot be used as it is (one line: file, row/column, problem)."""


# ---------------------------------------------------------------------- steps and divergence
def _exact_steps(step: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
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


def _step_reason(value: int | float) -> str:
    """Why a step value is not usable (the message's end)."""
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
    if min(i_down, i_dup) == steps.size:
        return None
    if i_down <= i_dup:
        return i_down, 0, int(steps[i_down - 1])
    return i_dup, 1, int(np.nonzero(steps == steps[i_dup])[0][0])


def _required(require: Iterable[str]) -> tuple[str, ...]:
    req = tuple(dict.fromkeys(("step", *require)))
    unknown = [r for r in req if r not in COLUMNS]
    if unknown:
        raise RunError(f"unknown required column {unknown[0]!r}; valid: {', '.join(COLUMNS)}"
                       f"{did_you_mean(unknown[0], COLUMNS)}")
    return req


@dataclass(frozen=True)
class Run:
    """The logged history of one training run.

    ``step`` holds every logged step (sorted, unique, int64); the other arrays are aligned with it
    and hold ``nan`` where that quantity was not logged at that step.  ``rows`` are the file rows
    (1-based, header = row 1) the steps came from, used in messages; ``notes`` lists repairs made
    by :meth:`cleaned` and what a loader wants said (e.g. a truncated event file).
    """

    step: np.ndarray
    loss: np.ndarray
    lr: np.ndarray | None = None
    val_loss: np.ndarray | None = None
    grad_norm: np.ndarray | None = None
    tokens: np.ndarray | None = None
    name: str = "run"
    source: str = ""
    rows: np.ndarray | None = None
    notes: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        step: Sequence[float] | np.ndarray,
        loss: Sequence[float] | np.ndarray | None = None,
        lr: Sequence[float] | np.ndarray | None = None,
        *,
        val_loss: Sequence[float] | np.ndarray | None = None,
        grad_norm: Sequence[float] | np.ndarray | None = None,
        tokens: Sequence[float] | np.ndarray | None = None,
        name: str = "run",
        source: str = "",
        rows: Sequence[int] | np.ndarray | None = None,
        notes: Sequence[str] = (),
        clean: bool = False,
        require: Sequence[str] = ("step", "loss"),
    ) -> "Run":
        """Build a run from arrays (``nan`` = not logged) and check it (or repair it if ``clean``).

        ``require``: the columns that must hold values; the checks of loss values (non-finite,
        non-positive, divergence) apply when ``loss`` is required.
        """
        src = source or name
        try:
            step_a = np.asarray(step)
            if step_a.dtype.kind not in "iuf":
                step_a = step_a.astype(float)
        except (TypeError, ValueError, OverflowError) as exc:
            raise RunError(f"{src}: steps are not numbers ({clip(str(exc), 80)})") from None
        n = step_a.size
        given = {"loss": loss, "lr": lr, "val_loss": val_loss, "grad_norm": grad_norm, "tokens": tokens}
        cols: dict[str, np.ndarray] = {}
        for col, a in given.items():
            if a is None:
                continue
            try:
                arr = np.array(a, dtype=float)
            except (TypeError, ValueError, OverflowError) as exc:
                raise RunError(f"{src}: column '{col}' is not numbers ({clip(str(exc), 80)})") from None
            if arr.size != n:
                raise RunError(f"{src}: column '{col}' has {arr.size} values for {n} steps")
            cols[col] = arr.reshape(n)
        loss_a = cols.pop("loss", None)
        loss_a = np.full(n, np.nan) if loss_a is None else loss_a
        run = cls(step=step_a.reshape(n), loss=loss_a, name=name, source=src, notes=tuple(notes),
                  rows=np.asarray(rows, dtype=np.int64) if rows is not None else np.arange(n) + 2, **cols)
        return run.cleaned(require)[0] if clean else run.checked(require)

    # ------------------------------------------------------------------ validation
    def _where(self, i: int, col: str | None = None) -> str:
        row = int(self.rows[i]) if self.rows is not None else i + 2
        return f"{self.source or self.name}: row {row}" + (f", column '{col}'" if col else "")

    def _row(self, i: int) -> int:
        return int(self.rows[i]) if self.rows is not None else i + 2

    def _problems(self, require: Sequence[str] = ("step", "loss")) -> Iterator[tuple[str, int, str]]:
        """Yield ``(kind, index, message)`` for problems, the first of each kind (file order within it)."""
        src = self.source or self.name
        req = _required(require)
        if self.step.size == 0:
            yield "empty", -1, f"{src}: no data rows"
            return
        steps, bad = _exact_steps(self.step)
        if bad.any():
            i = int(np.argmax(bad))
            yield "step", i, f"{self._where(i, 'step')}: {_step_reason(self.step[i].item())}"
            return
        found = _order_problem(steps)
        if found is not None:
            i, kind, other = found
            if kind == 0:
                yield "order", i, f"{self._where(i, 'step')}: step {steps[i]} comes after step {other} (steps must increase)"
            else:
                yield "duplicate", i, f"{self._where(i, 'step')}: step {steps[i]} appears again (first at row {self._row(other)})"
        if "loss" in req:
            yield from self._loss_problems()
        for col in req[1:]:
            if col != "loss" and (getattr(self, col) is None or not np.any(np.isfinite(getattr(self, col)))):
                yield "missing", -1, f"{src}: no '{col}' values logged"
        if self.lr is not None:
            for i in np.nonzero(np.isinf(self.lr) | (self.lr < 0))[0][:1]:
                yield "lr", int(i), f"{self._where(int(i), 'lr')}: learning rate {self.lr[i]} is negative or infinite"
        if "loss" in req:
            div = _first_divergence(self.loss)
            if div is not None:
                i, best = div
                yield "diverged", i, (
                    f"{self._where(i, 'loss')}: loss {self.loss[i]:g} at step {int(steps[i])} is more than "
                    f"{DIVERGENCE_FACTOR:g}x the best loss so far ({best:g}): the run diverged "
                    "(cut it, or load with clean=True / --clean to drop the tail)"
                )

    def _loss_problems(self) -> Iterator[tuple[str, int, str]]:
        src = self.source or self.name
        for i in np.nonzero(np.isinf(self.loss))[0][:1]:
            yield "loss", int(i), f"{self._where(int(i), 'loss')}: loss is {self.loss[i]}"
        low = np.nonzero(np.isfinite(self.loss) & (self.loss <= 0))[0]
        if low.size:
            i = int(low[0])
            yield "nonpositive", i, (
                f"{self._where(i, 'loss')}: loss {self.loss[i]:g} is not positive ({low.size} non-positive "
                "losses; a loss curve is positive): fix the file, or load with clean=True / --clean to leave them out")
        # NaN written explicitly is indistinguishable from 'not logged' once parsed; loaders report it.
        if not np.any(np.isfinite(self.loss)):
            yield "noloss", -1, f"{src}: no loss values logged"

    def checked(self, require: Sequence[str] = ("step", "loss")) -> "Run":
        """Return the run (steps as int64) if it is usable, else raise :class:`RunError` for the first problem."""
        for _, _, msg in self._problems(require):
            raise RunError(msg)
        return replace(self, step=_exact_steps(self.step)[0])

    def cleaned(self, require: Sequence[str] = ("step", "loss")) -> tuple["Run", list[str]]:
        """Repair what can be repaired; return the repaired run and one line per repair.

        Repairs: rows with a bad step are dropped; steps are sorted; for a duplicated step the
        last row wins; infinite and non-positive losses and negative or infinite LRs become "not
        logged"; a diverged run is cut before the first diverged loss.  An empty run still raises.
        """
        req = _required(require)
        src = self.source or self.name
        rows = self.rows if self.rows is not None else np.arange(self.step.size) + 2
        if self.step.size == 0:
            raise RunError(f"{src}: no data rows")
        notes: list[str] = []
        steps, bad = _exact_steps(self.step)
        if bad.any():
            notes.append(f"dropped {int(bad.sum())} rows with a bad step (first at row {int(rows[bad][0])})")
        keep = np.nonzero(~bad)[0]
        if keep.size == 0:
            raise RunError(f"{src}: no row has a valid step (a non-negative integer)")
        order = keep[np.argsort(steps[keep], kind="stable")]
        if np.any(np.diff(steps[keep]) < 0):
            notes.append("sorted rows by step")
        st = steps[order]
        last = np.r_[st[1:] != st[:-1], True]
        if not last.all():
            notes.append(f"dropped {int((~last).sum())} rows with a duplicated step (kept the last one of each)")
        order = order[last]
        new = {c: (None if getattr(self, c) is None else getattr(self, c)[order].astype(float))
               for c in ("loss", "lr", "val_loss", "grad_norm", "tokens")}
        rows, st = rows[order], steps[order]
        if "loss" in req:
            notes += _blank_out(new["loss"], np.isinf(new["loss"]), rows, "ignored {n} infinite losses")
            with np.errstate(invalid="ignore"):
                low = new["loss"] <= 0
            notes += _blank_out(new["loss"], low, rows, "left out {n} non-positive losses")
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
        run = Run(step=st, name=self.name, source=self.source, rows=rows, notes=self.notes + tuple(notes), **new)
        return run.checked(req), notes

    # ------------------------------------------------------------------ access
    def logged(self, column: str = "loss") -> tuple[np.ndarray, np.ndarray]:
        """Steps where ``column`` was logged, and its values there."""
        if column not in COLUMNS or column == "step":
            raise RunError(f"unknown column {column!r}; valid: {', '.join(COLUMNS[1:])}")
        vals = getattr(self, column)
        if vals is None:
            raise RunError(f"{self.source or self.name}: no '{column}' column")
        ok = ~np.isnan(vals)
        return self.step[ok].astype(np.int64), vals[ok]

    @property
    def last_step(self) -> int:
        return int(self.step[-1])

    def _total(self, total: object) -> int:
        """``total`` checked: an integer above the last logged step, at most :data:`MAX_STEPS`."""
        src = self.source or self.name
        last, row = self.last_step, self._row(int(np.argmax(self.step)))
        if total is None:
            n = last + 1
        elif isinstance(total, bool) or not isinstance(total, (int, np.integer, float, np.floating)) \
                or not math.isfinite(total) or not float(total).is_integer():
            raise RunError(f"{src}: total steps must be a positive integer, got {total!r}")
        else:
            n = int(total)
        if n <= 0:
            raise RunError(f"{src}: total steps must be positive, got {n}")
        if n <= last:
            raise RunError(f"{src}: total {n} steps (0..{n - 1}) ends before the run's last logged step {last} "
                           f"(row {row}): give a total above {last}, or cut the run")
        if last + 1 > MAX_STEPS:
            raise RunError(f"{src}: row {row}: the run reaches step {last:,}; the LR of every step up to it would be "
                           f"built, and lrkit builds at most {MAX_STEPS:,} (a typo in the step column?)")
        if n > MAX_STEPS:
            raise RunError(f"{src}: total {n:,} steps is more than lrkit builds the LR of ({MAX_STEPS:,} steps)")
        return n

    def lr_per_step(
        self,
        total: int | None = None,
        schedule: Callable[[np.ndarray], np.ndarray] | None = None,
        base_lr: float | None = None,
    ) -> np.ndarray:
        """The absolute LR of every step ``0..total-1`` (``total`` defaults to the last step + 1).

        ``total`` must be a positive integer above the last logged step (a shorter total would drop
        logged losses) and at most :data:`MAX_STEPS`.  With ``schedule`` (a callable from an array
        of steps to LR multipliers) and ``base_lr``, the LR is taken exactly from the schedule.
        Otherwise the logged LRs are interpolated linearly between logged steps; steps before the
        first or after the last logged LR are an error (there is no honest way to guess them --
        pass a schedule).
        """
        src = self.source or self.name
        total = self._total(total)
        if schedule is not None:
            if base_lr is None or not (base_lr > 0 and math.isfinite(base_lr)):
                raise RunError(f"{src}: a schedule needs a positive base LR (got {base_lr})")
            steps = np.arange(total)
            mult = np.asarray(schedule(steps), dtype=float)
            if mult.shape != steps.shape:
                raise RunError(f"{src}: schedule returned shape {mult.shape} for {total} steps")
            if not np.all(np.isfinite(mult)) or np.any(mult < 0):
                i = int(np.nonzero(~np.isfinite(mult) | (mult < 0))[0][0])
                raise RunError(f"{src}: schedule gives multiplier {mult[i]} at step {i}")
            return mult * float(base_lr)
        if self.lr is None:
            raise RunError(f"{src}: no 'lr' column; give the schedule and base LR (--schedule SPEC --lr BASE)")
        s, v = self.logged("lr")
        if s.size == 0:
            raise RunError(f"{src}: the 'lr' column is empty; give the schedule and base LR")
        if s[0] > 0:
            raise RunError(f"{src}: LR logged only from step {int(s[0])}; the LR before is unknown: give the schedule and base LR (--schedule SPEC --lr BASE)")
        if s[-1] < total - 1:
            raise RunError(f"{src}: LR logged only up to step {int(s[-1])}, {total} steps needed: give the schedule and base LR")
        return np.interp(np.arange(total), s, v)


def _blank_out(values: np.ndarray, mask: np.ndarray, rows: np.ndarray, what: str) -> list[str]:
    """Set ``values[mask]`` to NaN ("not logged"); the note saying so, if any were."""
    if not mask.any():
        return []
    values[mask] = np.nan
    return [what.format(n=int(mask.sum())) + f" (first at row {int(rows[mask][0])})"]


# ---------------------------------------------------------------------- cells
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.ASCII | re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_SPACE = " \t\r\n"
_DIGITS = b"0123456789"
_PLAIN = b"0123456789.eE+-"


def _unreadable(value: object) -> str:
    """The message's end for a value that is not a number."""
    if not isinstance(value, str):
        return f"{clip(repr(value), 60)} is not a number"
    hint = ""
    if "," in value:
        hint = " (a decimal comma? lrkit reads '.' as the decimal mark)"
    elif not value.isascii() or "_" in value:
        hint = " (numbers are read in ASCII digits, without '_' separators)"
    return f"cannot read {clip(repr(value), 60)} as a number{hint}"


def _text_number(text: str) -> float | None:
    """A cell's number (``None`` if empty); ``ValueError`` unless an ASCII decimal number, inf or nan."""
    t = text.strip(_SPACE)
    if not t:
        return None
    if not _NUMBER.fullmatch(t):
        raise ValueError(t)
    return float(t)  # beyond the float range: +-inf, refused (or dropped) like an infinite value


def _one_step(value: object) -> int | str | None:
    """A step cell or JSON value: an ``int`` (exact, maybe out of range), ``None`` (empty), or, for a
    number that is not an exact integer, why not (text); ``ValueError`` if it is not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        t = value.strip(_SPACE)
        if not t:
            return None
        if _INTEGER.fullmatch(t):
            return int(t) if len(t) < 400 else _step_reason(int(t[:400]) * 10)
        if not _NUMBER.fullmatch(t):
            raise ValueError(t)
        d = Decimal(t)  # exact: '1.0000000000000001' is not an integer, '1e3' is
        if d.is_finite() and d == d.to_integral_value():
            return int(d) if d.adjusted() <= 19 else _step_reason(float(d))
        return f"step {clip(t, 40)} is not a non-negative integer"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    # a JSON float: exact below 2**53 (JSON numbers are doubles)
    if math.isfinite(value) and value == math.floor(value) and abs(value) < 2.0**53:
        return int(value)
    return _step_reason(value)


@dataclass
class _Found:
    """One column's numbers in one chunk of rows and what could not be used (indices into the chunk)."""

    values: np.ndarray
    error: tuple[int, str] | None = None  # the first unreadable value
    odd: np.ndarray | None = None  # float column: explicit NaN; step column: a bad step
    blank: np.ndarray | None = None  # step column: no step
    why: str = ""  # step column: why the first bad step is bad


def _floats(vals: Sequence[Any], text: bool) -> _Found:
    """Numbers of a column chunk (CSV cells if ``text``, else JSON values); empty or missing = NaN."""
    n = len(vals)
    if text:
        try:
            plain = not "".join(vals).encode("ascii").translate(None, _PLAIN)
        except UnicodeEncodeError:
            plain = False
        if plain:
            try:
                if "" in vals:
                    return _Found(np.fromiter((float(c) if c else math.nan for c in vals), float, n))
                return _Found(np.fromiter(map(float, vals), float, n))
            except ValueError:
                pass
    elif set(map(type, vals)) <= {int, float, type(None)}:
        try:
            a = np.array(vals, dtype=float)
        except OverflowError:
            a = None
        if a is not None:
            nan = np.isnan(a)
            if int(nan.sum()) == vals.count(None):
                return _Found(a)
            return _Found(a, odd=np.nonzero(nan & ~np.fromiter((v is None for v in vals), bool, n))[0])
    out, odd = np.full(n, np.nan), []
    for i, v in enumerate(vals):
        try:
            if isinstance(v, str):
                x = _text_number(v)
            elif isinstance(v, bool) or not isinstance(v, (int, float, type(None))):
                raise ValueError(v)
            else:
                x = v if not isinstance(v, int) else (float(v) if abs(v) < 1e308 else (math.inf if v > 0 else -math.inf))
        except ValueError:
            return _Found(out, error=(i, _unreadable(v)), odd=np.asarray(odd, dtype=np.int64))
        if x is None:
            continue
        if x != x:
            odd.append(i)
        else:
            out[i] = x
    return _Found(out, odd=np.asarray(odd, dtype=np.int64))


def _steps(vals: Sequence[Any], text: bool) -> _Found:
    """Exact int64 steps of a column chunk; bad steps and empty cells marked, the first unreadable noted."""
    n = len(vals)
    fast = False
    if text:
        try:
            fast = "" not in vals and not "".join(vals).encode("ascii").translate(None, _DIGITS)
        except UnicodeEncodeError:
            pass
    else:
        fast = set(map(type, vals)) == {int}
    if fast:
        try:
            a = np.fromiter(map(int, vals), np.int64, n) if text else np.array(vals, dtype=np.int64)
            neg = np.nonzero(a < 0)[0]
            return _Found(a, odd=neg, why=_step_reason(int(a[neg[0]])) if neg.size else "")
        except (OverflowError, ValueError):
            pass
    out, odd, blank, why = np.zeros(n, np.int64), [], [], ""
    for i, v in enumerate(vals):
        try:
            s = _one_step(v)
        except ValueError:
            return _Found(out, error=(i, _unreadable(v)), odd=np.asarray(odd, dtype=np.int64),
                          blank=np.asarray(blank, dtype=np.int64), why=why)
        if s is None:
            blank.append(i)
        elif isinstance(s, int) and 0 <= s <= INT64_MAX:
            out[i] = s
        else:
            why = why or (s if isinstance(s, str) else _step_reason(s))
            odd.append(i)
    return _Found(out, odd=np.asarray(odd, dtype=np.int64), blank=np.asarray(blank, dtype=np.int64), why=why)


def _first(idx: np.ndarray | None) -> int | None:
    return int(idx[0]) if idx is not None and idx.size else None


class _Columns:
    """A file's columns as they are read, chunk by chunk: numbers, and the first problem of each."""

    def __init__(self, src: str, clean: bool) -> None:
        self.src, self.clean = src, clean
        self.rows: list[np.ndarray] = []
        self.found: dict[tuple[str, bool], dict[int, _Found]] = {}  # (key, is step) -> chunk -> numbers

    def add(self, rows: np.ndarray, found: Mapping[tuple[str, bool], _Found]) -> None:
        if not rows.size:
            return
        chunk = len(self.rows)
        self.rows.append(rows)
        for key, f in found.items():
            self.found.setdefault(key, {})[chunk] = f

    def _problem(self, role: str, key: str) -> tuple[int, int, str] | None:
        """``(row, role order, message)`` of the first problem of a role's column that the loader must refuse."""
        where = lambda row: f"{self.src}: row {row}, column '{role}'"  # noqa: E731
        is_step = role == "step"
        parts = self.found.get((key, is_step), {})
        for c, rows in enumerate(self.rows):
            f = parts.get(c)
            if f is None:
                if is_step and rows.size:
                    return int(rows[0]), 0, f"{where(int(rows[0]))}: no step"
                continue
            cands = []
            if f.error is not None:
                cands.append((f.error[0], f.error[1]))
            if is_step and _first(f.blank) is not None:
                cands.append((_first(f.blank), "no step"))
            if not self.clean and _first(f.odd) is not None:
                cands.append((_first(f.odd), f.why if is_step else
                              "value is NaN (leave the cell empty if not logged, or repair with clean/--clean)"))
            if cands:
                i, msg = min(cands, key=lambda t: t[0])
                return int(rows[i]), COLUMNS.index(role), f"{where(int(rows[i]))}: {msg}"
        return None

    def check(self, roles: Mapping[str, str]) -> None:
        """Raise the first problem (in row order) of the columns of ``roles`` (role -> key)."""
        found = [p for p in (self._problem(r, k) for r, k in roles.items()) if p is not None]
        if found:
            raise RunError(min(found)[2])

    def table(self, roles: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[str]]:
        """``(rows, steps, values per role, notes)``; rows with a bad step dropped if ``clean`` (noted)."""
        self.check(roles)
        sizes = [r.size for r in self.rows]
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        values: dict[str, np.ndarray] = {}
        firsts: list[tuple[int, int, str]] = []
        bad = np.zeros(rows.size, bool)
        for role, key in roles.items():
            parts = self.found.get((key, role == "step"), {})
            if role == "step":
                values[role] = np.concatenate([parts[c].values for c in range(len(sizes))]) if sizes else rows
                odd = [parts[c].odd + sum(sizes[:c]) for c in range(len(sizes))]
            else:
                values[role] = np.concatenate([parts[c].values if c in parts else np.full(s, np.nan)
                                               for c, s in enumerate(sizes)]) if sizes else np.zeros(0)
                odd = [parts[c].odd + sum(sizes[:c]) for c in parts if parts[c].odd is not None]
            odd_i = np.concatenate(odd) if odd else np.zeros(0, np.int64)
            if odd_i.size and role == "step":
                bad[odd_i] = True
            elif odd_i.size:
                firsts.append((int(rows[odd_i].min()), COLUMNS.index(role),
                               f"ignored {odd_i.size} NaN values in column '{role}' (first at row {int(rows[odd_i].min())})"))
        notes = [n for *_, n in sorted(firsts)]
        if bad.size and bad.all():
            raise RunError(f"{self.src}: no row has a valid step (an integer in 0 .. 2**63 - 1)")
        if bad.any():
            notes.append(f"dropped {int(bad.sum())} rows with a bad step (first at row {int(rows[bad][0])})")
            rows = rows[~bad]
            values = {r: v[~bad] for r, v in values.items()}
        return rows, values.pop("step"), values, notes


# ---------------------------------------------------------------------- header
def _twice(src: str, word: str, names: Sequence[str], role: str) -> RunError:
    if len(set(names)) == 1:
        return RunError(f"{src}: {word} '{names[0]}' appears {len(names)} times: lrkit reads one {word} per "
                        f"quantity; rename or drop the others")
    shown = " and ".join(f"'{clip(n, 40)}'" for n in names[:3])
    return RunError(f"{src}: {word}s {shown} both give the {role}: lrkit reads one; choose it with "
                    f"columns={{'{role}': NAME}} or --column {role}=NAME")


def _resolve(header: Sequence[str], columns: Mapping[str, str] | None, src: str,
             require: Sequence[str] = ("step", "loss"), word: str = "column",
             given: Mapping[str, int] | None = None) -> dict[str, int]:
    """Map roles to header positions: the explicit mapping first, then the aliases (case-insensitive).
    Two header names for one role (``loss`` and ``train/loss``, or one name twice) are an error."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise RunError(f"{src}: unknown column role(s) {unknown}; valid roles: {', '.join(COLUMNS)}"
                       f"{did_you_mean(unknown[0], COLUMNS)}")
    names = [h.strip() for h in header]
    low = [n.lower() for n in names]
    out: dict[str, int] = dict(given or {})
    for role in COLUMNS:
        if role in out:
            continue
        if role in columns:
            want = columns[role].strip()
            hits = [i for i, n in enumerate(names) if n == want] or [i for i, n in enumerate(low) if n == want.lower()]
            if not hits:
                raise RunError(f"{src}: {word} '{columns[role]}' (mapped to {role}) not in header: "
                               f"{clip(', '.join(header), 200)}")
        else:
            hits = [i for i, n in enumerate(low) if n in ALIASES[role]]
            if not hits and role == "lr":  # Lightning's LearningRateMonitor writes 'lr-AdamW' and the like
                hits = [i for i, n in enumerate(low) if n.startswith(("lr-", "lr/"))]
        if len(hits) > 1:
            raise _twice(src, word, [names[i] for i in hits], role)
        if hits:
            out[role] = hits[0]
    for role in _required(require):
        if role not in out:
            raise RunError(f"{src}: no '{role}' {word} (header: {clip(', '.join(header), 200)}); map one, "
                           f"e.g. columns={{'{role}': NAME}} or --column {role}=NAME")
    return out


def _wanted(columns: Mapping[str, str] | None) -> Callable[[str], tuple[bool, ...]]:
    """For a header name: ``(is_step,)`` kinds it may be read as (empty if no role can use it)."""
    mapped = {v.strip().lower(): r for r, v in (columns or {}).items()}
    steps = set(ALIASES["step"]) | {k for k, r in mapped.items() if r == "step"}
    others = {a for r, al in ALIASES.items() if r != "step" for a in al} | {k for k, r in mapped.items() if r != "step"}

    def kinds(key: str) -> tuple[bool, ...]:
        k = key.strip().lower()
        return tuple(kind for kind, ok in ((True, k in steps), (False, k in others or k.startswith(("lr-", "lr/"))))
                     if ok)
    return kinds


def _wandb_header(header: list[str]) -> tuple[list[str], list[str]]:
    """W&B CSV exports name columns '<run> - train/loss' (plus '__MIN'/'__MAX'): the names without the
    run (the '__MIN'/'__MAX' columns blanked, i.e. ignored) and the runs named."""
    out, runs = [], []
    for h in header:
        if h.endswith("__MIN") or h.endswith("__MAX"):
            out.append("")
        elif " - " in h:
            run, metric = h.split(" - ", 1)
            runs.append(run.strip())
            out.append(metric)
        else:
            out.append(h)
    return out, list(dict.fromkeys(runs))


# ---------------------------------------------------------------------- files
@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of small objects pass through a reader: the cyclic collector's passes would cost more than the read."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def _text_file(p: Path, src: str) -> Iterator[Any]:
    """``p`` opened as UTF-8 text (a byte-order mark skipped) after the checks that need no parsing:
    readable, not UTF-16, at most :data:`MAX_ROWS` lines."""
    try:
        with p.open("rb") as fb:
            head = fb.read(1 << 16)
            lines = head.count(b"\n")
            while lines <= MAX_ROWS and (block := fb.read(1 << 24)):
                lines += block.count(b"\n")
    except OSError as exc:
        raise RunError(f"{src}: cannot read ({exc.strerror})") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise RunError(f"{src}: UTF-16 (or binary) data: lrkit reads UTF-8 text; convert it, e.g. "
                       f"iconv -f UTF-16 -t UTF-8 '{p.name}' > '{p.stem}-utf8{p.suffix}'")
    if lines > MAX_ROWS:
        raise RunError(f"{src}: more than {MAX_ROWS:,} lines: lrkit reads at most {MAX_ROWS:,} rows of a run; "
                       "thin the log first (e.g. keep every 10th row)")
    with p.open(encoding="utf-8-sig", newline="") as fh, _no_gc():
        try:
            yield fh
        except UnicodeDecodeError as exc:
            raise RunError(f"{src}: not UTF-8 text ({exc.reason}, byte {exc.object[exc.start:exc.start + 1]!r}): "
                           "save it as UTF-8") from None


def _delimiter(sample: str, src: str) -> str:
    first = sample.split("\n", 1)[0]
    if ";" in first and "," not in first and "\t" not in first:
        raise RunError(f"{src}: columns separated by ';' (a spreadsheet's export with decimal commas?): lrkit reads "
                       "',' or tab separated values with '.' as the decimal mark; export it so")
    return "\t" if sample.count("\t") > sample.count(",") else ","


def _fields(src: str, row: int, got: int, want: int) -> RunError:
    hint = (" (a decimal comma, as in 2,53? lrkit reads '.' as the decimal mark)" if got > want
            else " (leave a cell empty, as in 5,,0.1, where a value was not logged)")
    return RunError(f"{src}: row {row} has {got} fields, the header {want}{hint}")


def _csv_rows(reader: Any, width: int, roles: Mapping[str, int], src: str, clean: bool) -> _Columns:
    """The role columns of the CSV rows, read chunk by chunk; rows of only empty cells skipped."""
    cols = _Columns(src, clean)
    get = {(role, role == "step"): itemgetter(i) for role, i in roles.items()}
    keys = {role: role for role in roles}
    row = 2
    while chunk := list(islice(reader, _CHUNK)):
        rows = np.arange(row, row + len(chunk))
        row += len(chunk)
        wrong = None
        if set(map(len, chunk)) != {width}:
            keep = []
            for i, r in enumerate(chunk):
                if len(r) == width:
                    keep.append(i)
                elif any(c.strip() for c in r):
                    wrong = (int(rows[i]), len(r))
                    break
            chunk, rows = [chunk[i] for i in keep], rows[keep]
        steps = _steps(list(map(get["step", True], chunk)), True)
        if steps.blank is not None and steps.blank.size:  # rows of empty cells only are skipped
            empty = {i for i in steps.blank.tolist() if not any(c.strip() for c in chunk[i])}
            if empty:
                keep = [i for i in range(len(chunk)) if i not in empty]
                chunk, rows = [chunk[i] for i in keep], rows[keep]
                steps = _steps(list(map(get["step", True], chunk)), True)
        cols.add(rows, {k: steps if k[1] else _floats(list(map(g, chunk)), True) for k, g in get.items()})
        cols.check(keys)
        if wrong is not None:
            raise _fields(src, wrong[0], wrong[1], width)
    return cols


def read_csv(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
             clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read a CSV run file (header row; W&B CSV exports are recognised)."""
    p = Path(path)
    src = str(path)
    with _text_file(p, src) as fh:
        try:
            sample = fh.read(4096)
            fh.seek(0)
            reader = csv.reader(fh, delimiter=_delimiter(sample, src))
            header = next(reader, None)
            if header is None:
                raise RunError(f"{src}: empty file (expected a header row such as 'step,loss,lr')")
            names, runs = _wandb_header(header) if any(" - " in h for h in header) else (header, [])
            if len(runs) > 1 and not columns:
                raise RunError(f"{src}: a W&B export of {len(runs)} runs ({clip(', '.join(runs), 80)}): lrkit reads "
                               f"one run per file; export one run, or choose columns, e.g. --column "
                               f"loss='{runs[0]} - train/loss'")
            roles = _resolve(header if len(runs) > 1 else names, columns, src, require)
            cols = _csv_rows(reader, len(header), roles, src, clean)
        except csv.Error as exc:
            raise RunError(f"{src}: row {reader.line_num}: not a readable CSV file ({exc})") from None
        rows, step, values, notes = cols.table({role: role for role in roles})
    return _build(rows, step, values, notes, name or p.stem, src, clean, require)


class _KeyTwice(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _KeyTwice(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return out


def _json_chunk(lines: list[str], first: int, src: str) -> tuple[list[dict], list[int]]:
    decode = json.JSONDecoder(object_pairs_hook=_pairs).decode
    objs, rows = [], []
    for i, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        try:
            obj = decode(line)
        except _KeyTwice as e:
            raise RunError(f"{src}: line {i}: key {clip(str(e.args[0]), 40)!r} given twice") from None
        except json.JSONDecodeError as exc:
            raise RunError(f"{src}: line {i}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise RunError(f"{src}: line {i}: nested too deeply") from None
        if not isinstance(obj, dict):
            raise RunError(f"{src}: line {i}: expected a JSON object, got {type(obj).__name__}")
        objs.append(obj)
        rows.append(i)
    return objs, rows


def read_jsonl(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
               clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read a JSON-lines run file: one object per line; a missing key means "not logged"."""
    p = Path(path)
    src = str(path)
    cols = _Columns(src, clean)
    keys: dict[str, None] = {}
    kinds = _wanted(columns)
    line = 1
    with _text_file(p, src) as fh:
        while lines := list(islice(fh, _CHUNK)):
            objs, rows = _json_chunk(lines, line, src)
            line += len(lines)
            new = set().union(*objs) - keys.keys()
            if new:  # in the order they first appear
                keys.update(dict.fromkeys(k for o in objs for k in o if k in new))
            here = set().union(*objs)
            cols.add(np.asarray(rows, dtype=np.int64),
                     {(k, s): (_steps if s else _floats)([o.get(k) for o in objs], False) for k in here for s in kinds(k)})
    if not keys:
        raise RunError(f"{src}: no data rows")
    header = list(keys)
    roles = {role: header[i] for role, i in _resolve(header, columns, src, require, word="key").items()}
    rows, step, values, notes = cols.table(roles)
    return _build(rows, step, values, notes, name or p.stem, src, clean, require)


def _event_files(p: Path) -> list[Path]:
    if p.is_dir():
        return sorted(f for f in p.iterdir() if "tfevents" in f.name and f.is_file())
    return [p] if p.is_file() else []


def _scan_events(f: Path) -> tuple[int, str | None]:
    """``(complete records, note)`` of the event file ``f`` (TFRecord framing: length, CRC, data, CRC);
    the note says where the file ends inside a record, as a run stopped while writing leaves it."""
    try:
        with f.open("rb") as fh:
            size = f.stat().st_size
            if size == 0:
                return 0, None
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                off = records = 0
                while off + 12 <= size:
                    end = off + 16 + struct.unpack_from("<Q", data, off)[0]
                    if end > size:
                        break
                    off, records = end, records + 1
    except (OSError, ValueError):
        return 0, None  # the reader says what is wrong
    if off == size:
        return records, None
    return records, (f"{f.name} is truncated at byte {off:,} of {size:,} (after {records:,} complete records; "
                     "a run stopped while writing?): read the events before it, the rest is lost")


def _scalars(acc: Any, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, occurrence, values)`` of a tag's events; occurrence counts repeats of a step (a resumed run)."""
    ev = acc.Scalars(tag)
    steps = np.fromiter((e.step for e in ev), np.int64, len(ev))
    vals = np.fromiter((e.value for e in ev), float, len(ev))
    order = np.argsort(steps, kind="stable")
    s = steps[order]
    start = np.r_[0, np.nonzero(s[1:] != s[:-1])[0] + 1] if s.size else np.zeros(0, np.int64)
    occ = np.empty_like(steps)
    occ[order] = np.arange(s.size) - np.repeat(start, np.diff(np.r_[start, s.size]))
    return steps, occ, vals


def read_tensorboard(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
                     clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read scalars from a TensorBoard event file or log directory (needs ``pip install tensorboard``).
    A file that ends inside a record (a run stopped while writing) is read up to there, with a note."""
    src = str(path)
    try:
        import tensorboard  # noqa: F401 - the package itself, even when a submodule is already imported
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise RunError(f"{src}: reading TensorBoard event files needs the 'tensorboard' package: pip install tensorboard") from None
    p = Path(path)
    scans = [_scan_events(f) for f in _event_files(p)]
    if sum(n for n, _ in scans) > MAX_ROWS:
        raise RunError(f"{src}: more than {MAX_ROWS:,} events: lrkit reads at most {MAX_ROWS:,} rows of a run")
    notes = [note for _, note in scans if note]
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    try:
        acc.Reload()
    except Exception as exc:  # noqa: BLE001 - the reader raises several unrelated types
        raise RunError(f"{src}: cannot read TensorBoard events ({clip(str(exc), 120)})") from None
    tags = list(acc.Tags().get("scalars", []))
    roles = _resolve(["step"] + tags, {k: v for k, v in (columns or {}).items() if k != "step"}, src,
                     require, word="tag", given={"step": 0})
    # One row per (step, occurrence): a step logged twice for a tag (a resumed run writing into the
    # same directory) becomes two rows with the same step, reported (or repaired) like a CSV's.
    got = {role: _scalars(acc, tags[i - 1]) for role, i in roles.items() if role != "step"}
    if not got or not any(s.size for s, _, _ in got.values()):
        raise RunError(f"{src}: no scalar events")
    keys, inverse = np.unique(np.concatenate([np.c_[s, o] for s, o, _ in got.values()]), axis=0, return_inverse=True)
    cols = _Columns(src, clean)
    cols.rows.append(np.arange(1, keys.shape[0] + 1))
    cols.found[("step", True)] = {0: _Found(keys[:, 0], odd=np.nonzero(keys[:, 0] < 0)[0],
                                            why=_step_reason(int(keys[:, 0].min())))}
    at = 0
    for role, (s, _, v) in got.items():
        vals = np.full(keys.shape[0], np.nan)
        idx = inverse.reshape(-1)[at:at + s.size]
        at += s.size
        vals[idx] = v
        cols.found[(role, False)] = {0: _Found(vals, odd=np.sort(idx[np.isnan(v)]))}
    rows, step, values, more = cols.table({role: role for role in roles})
    default = p.parent.name if "tfevents" in p.name else p.name  # the run's directory names it
    return _build(rows, step, values, notes + more, name or default, src, clean, require)


def _build(rows: np.ndarray, step: np.ndarray, values: Mapping[str, np.ndarray], notes: Sequence[str], name: str,
           src: str, clean: bool, require: Sequence[str]) -> Run:
    def some(role: str) -> np.ndarray | None:
        return values[role] if role in values and not np.all(np.isnan(values[role])) else None

    loss = values.get("loss")
    run = Run(step=step, loss=np.full(step.size, np.nan) if loss is None else loss, lr=some("lr"),
              val_loss=some("val_loss"), grad_norm=some("grad_norm"), tokens=some("tokens"), name=name,
              source=src, rows=rows, notes=tuple(notes))  # fresh arrays: no copies (Run.from_arrays copies)
    return run.cleaned(require)[0] if clean else run.checked(require)


def load_run(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    name: str | None = None,
    format: str | None = None,
    clean: bool = False,
    require: Sequence[str] = ("step", "loss"),
) -> Run:
    """Load a run from CSV, JSON lines or TensorBoard events, chosen by ``format`` or the file name.

    ``columns`` maps roles (``step``, ``loss``, ``lr``, ``val_loss``, ``grad_norm``, ``tokens``)
    to the file's column names, e.g. ``{"loss": "train/loss_epoch"}``.  ``require``: the roles the
    file must have (default step and loss; e.g. ``("step", "grad_norm")`` for a gradient-norm log).
    """
    p = Path(path)
    _required(require)
    fmt = format
    if fmt is None:
        if p.is_dir() or "tfevents" in p.name:
            fmt = "tensorboard"
        elif p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            fmt = "jsonl"
        else:
            fmt = "csv"
    if fmt != "tensorboard" and not p.is_file():
        raise RunError(f"{path}: no such file")
    readers = {"csv": read_csv, "jsonl": read_jsonl, "tensorboard": read_tensorboard}
    if fmt not in readers:
        raise RunError(f"{path}: unknown format {fmt!r}; valid: {', '.join(readers)}")
    return readers[fmt](p, columns=columns, name=name, clean=clean, require=require)


def parse_column_map(items: Iterable[str]) -> dict[str, str]:
    """``["loss=train/loss", "step=_step"]`` -> ``{"loss": "train/loss", "step": "_step"}``."""
    out = {}
    for it in items:
        m = re.fullmatch(r"\s*(\w+)\s*=\s*(.+?)\s*", it)
        if not m:
            raise RunError(f"column mapping {it!r} should look like ROLE=NAME, e.g. loss=train/loss")
        if m.group(1) not in COLUMNS:
            raise RunError(f"column mapping {it!r}: {m.group(1)!r} is not a role; roles: {', '.join(COLUMNS)}"
                           f"{did_you_mean(m.group(1), COLUMNS)}")
        out[m.group(1)] = m.group(2)
    return out
