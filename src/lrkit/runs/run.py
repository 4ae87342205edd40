"""A training run's logged history: :class:`Run`, built from arrays or by a reader, and the LR of every step."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Callable, Iterator, Mapping, Sequence

import numpy as np

from ..schedules.validate import clip
from . import checks
from .checks import merge_same_step
from .base import ALIASES, COLUMNS, MAX_STEPS, RunError


@dataclass(frozen=True)
class Run:
    """The logged history of one training run.

    ``step`` holds every logged step (sorted, unique, int64); the other arrays are aligned with it
    and hold ``nan`` where that quantity was not logged at that step.  ``rows`` are the file rows
    (1-based, header = row 1) the steps came from, used in messages; ``notes`` lists repairs made
    by :meth:`cleaned` and what a reader wants said (e.g. a truncated event file).
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
        """Build a run from arrays (``nan`` or ``None`` = not logged; copied) and check it, or repair it
        if ``clean``.  ``require``: the columns that must hold values; the checks of loss values
        (non-finite, non-positive, divergence) apply when ``loss`` is required.  A trial's history
        becomes a run with ``Run.from_arrays(h["step"], h["loss"], h["lr"], val_loss=h["val_loss"])``.
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
        run = cls(step=step_a.reshape(n), loss=np.full(n, np.nan) if loss_a is None else loss_a, name=name,
                  source=src, notes=tuple(notes),
                  rows=np.asarray(rows, dtype=np.int64) if rows is not None else np.arange(n) + 2, **cols)
        return run.cleaned(require)[0] if clean else run.checked(require)

    # ------------------------------------------------------------------ validation
    def _problems(self, require: Sequence[str] = ("step", "loss")) -> Iterator[tuple[str, int, str]]:
        """``(kind, index, message)`` of each kind of problem (see :func:`lrkit.runs.checks.problems`)."""
        return checks.problems(self, require)

    def checked(self, require: Sequence[str] = ("step", "loss")) -> "Run":
        """Return the run (steps as int64) if it is usable, else raise :class:`RunError` for the first problem."""
        for _, _, msg in self._problems(require):
            raise RunError(msg)
        return replace(self, step=checks.exact_steps(self.step)[0])

    def cleaned(self, require: Sequence[str] = ("step", "loss")) -> tuple["Run", list[str]]:
        """Repair what can be repaired; return the repaired run and one line per repair.

        Repairs: rows with a bad step are dropped; steps are sorted; for a duplicated step the
        last row wins; infinite and non-positive losses and negative or infinite LRs become "not
        logged"; a diverged run is cut before the first diverged loss.  An empty run still raises.
        """
        return checks.cleaned(self, require)

    def on_base(self, base: "Run") -> "Run":
        """This run joined to the ``base`` run it branched from: a cooldown resumed from a checkpoint of
        the constant-LR run logs only from the branch point on (the WSD workflow, Hägele et al. 2024).
        The joined run is ``base``'s rows before this run's first logged step, then this run's rows
        (columns that only one of them logs are "not logged" in the other's rows), with a note."""
        src, bsrc = self.source or self.name, base.source or base.name
        s0 = int(self.step[0])
        if s0 == 0:
            raise RunError(f"{src}: logged from step 0, so it is not a branch of {bsrc}: fit them as two runs")
        before = base.step < s0
        if not before.any():
            raise RunError(f"{bsrc}: no row before step {s0:,}, where the branch {src} starts: it is not its base")
        n_base, later = int(before.sum()), int((~before).sum())
        cols = {}
        for c in ("loss", "lr", "val_loss", "grad_norm", "tokens"):
            a, b = getattr(base, c), getattr(self, c)
            if a is not None or b is not None:
                cols[c] = np.r_[np.full(n_base, np.nan) if a is None else a[before],
                                np.full(self.step.size, np.nan) if b is None else b]
        rows = np.r_[base.rows[before] if base.rows is not None else np.arange(n_base) + 2,
                     self.rows if self.rows is not None else np.arange(self.step.size) + 2]
        note = (f"joined to its base {bsrc}: the base's {n_base:,} rows before step {s0:,} (the branch's first "
                f"logged step; the base logged up to step {int(base.step[before][-1]):,} there)"
                + (f", its {later:,} later rows left out" if later else ""))
        run = replace(self, step=np.r_[base.step[before], self.step], rows=rows,
                      notes=(*self.notes, note), **{"loss": np.full(n_base + self.step.size, np.nan), **cols})
        return run.checked(("step",))

    # ------------------------------------------------------------------ access
    def logged(self, column: str = "loss") -> tuple[np.ndarray, np.ndarray]:
        """Steps where ``column`` was logged, and its values there."""
        if column not in COLUMNS or column == "step":
            raise RunError(f"unknown column {column!r}; valid: {', '.join(COLUMNS[1:])}")
        vals = getattr(self, column)
        if vals is None:
            names = ", ".join(f"'{a}'" for a in ALIASES[column][:4])
            raise RunError(f"{self.source or self.name}: no '{column}' column (read from a column named {names}, ...); "
                           f"map yours with --column {column}=NAME (Python: columns={{'{column}': NAME}})")
        ok = ~np.isnan(vals)
        return self.step[ok].astype(np.int64), vals[ok]

    @property
    def last_step(self) -> int:
        return int(self.step[-1])

    def _total(self, total: object) -> int:
        """``total`` checked: an integer above the last logged step, at most :data:`MAX_STEPS`."""
        src = self.source or self.name
        last, row = self.last_step, checks.row_of(self, int(np.argmax(self.step)))
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


def from_table(rows: np.ndarray, step: np.ndarray, values: Mapping[str, np.ndarray], notes: Sequence[str],
               name: str, src: str, clean: bool, require: Sequence[str]) -> Run:
    """A reader's run from its fresh arrays (not copied): rows at one step whose columns do not collide
    merged (:func:`merge_same_step`), a column with no value logged left out."""
    rows, step, values, merged = merge_same_step(rows, step, values)

    def some(role: str) -> np.ndarray | None:
        return values[role] if role in values and not np.all(np.isnan(values[role])) else None

    loss = values.get("loss")
    run = Run(step=step, loss=np.full(step.size, np.nan) if loss is None else loss, lr=some("lr"),
              val_loss=some("val_loss"), grad_norm=some("grad_norm"), tokens=some("tokens"), name=name,
              source=src, rows=rows, notes=(*notes, *merged))
    return run.cleaned(require)[0] if clean else run.checked(require)
