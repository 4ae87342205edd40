"""Common pieces of the loss-curve laws: the error type, a curve to fit (and the one door from a
logged run to it, :meth:`Curve.from_run`), the law interface."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

import numpy as np

from ..schedules import Schedule
from ..spec import parse

if TYPE_CHECKING:
    from ..runs import Run

#: a schedule as the laws take it: spec text, a JSON dict, a Schedule, or a callable from an array of
#: steps ``0..N-1`` to LR multipliers
ScheduleLike = Union[str, dict, Schedule, Callable[[np.ndarray], np.ndarray]]


class LawError(ValueError):
    """A loss-curve law was asked something it cannot do (bad fit input, unknown law, bad JSON)."""


@dataclass(frozen=True)
class Curve:
    """One training run as the laws see it.

    ``lr``: absolute LR of every step ``0..N-1``; ``steps``: steps with a logged loss (``< N``);
    ``loss``: the losses there.
    """

    name: str
    lr: np.ndarray
    steps: np.ndarray
    loss: np.ndarray

    def __post_init__(self) -> None:
        if self.steps.size == 0:
            raise LawError(f"run {self.name!r}: no logged losses to fit")
        if self.steps.max() >= self.lr.size:
            raise LawError(
                f"run {self.name!r}: loss logged at step {int(self.steps.max())} but LR known only "
                f"for steps 0..{self.lr.size - 1}"
            )
        if not np.all(self.loss > 0):
            raise LawError(f"run {self.name!r}: losses must be positive for the log-space fit")

    @classmethod
    def from_run(cls, run: "Run", *, total: int | None = None, schedule: ScheduleLike | None = None,
                 base_lr: float | None = None, loss: str = "loss", convention: str | None = None) -> "Curve":
        """The curve of a :class:`lrkit.runs.Run`: its logged ``loss`` column (e.g. ``"val_loss"``) and
        the LR of every step ``0..total-1`` (``total``: default the run's last step + 1).

        The LR comes from ``schedule`` times ``base_lr`` when a schedule is given, else from the run's
        own logged LRs (:meth:`lrkit.runs.Run.lr_per_step`); ``convention`` is the one the schedule is
        evaluated with (a preset name such as ``"torch"``; default lrkit's).  A ``total`` that leaves
        out logged losses is an error, never a silent cut.
        """
        steps, values = run.logged(loss)
        if total is not None:
            total = int(total)
            if steps.size and total <= int(steps.max()):
                raise LawError(f"run {run.name!r}: total={total:,} steps, but a loss is logged at step "
                               f"{int(steps.max()):,}; the total must be more than every logged step "
                               f"(at least {int(steps.max()) + 1:,})")
        lr = run.lr_per_step(total, None if schedule is None else multipliers(schedule, convention), base_lr)
        return cls(run.name, lr, steps, values)


def multipliers(schedule: ScheduleLike, convention: str | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """A callable from the steps ``0..N-1`` to the schedule's LR multipliers there (under ``convention``)."""
    if isinstance(schedule, (str, dict, Schedule)):
        s = parse(schedule)
        return lambda steps: np.asarray(s.sample(int(np.asarray(steps).size), convention), dtype=float)
    if callable(schedule):
        return schedule
    raise LawError(f"schedule={schedule!r} is not a spec, a Schedule or a callable")


def schedule_lr(schedule: ScheduleLike, total: int, base_lr: float, convention: str | None = None) -> np.ndarray:
    """The absolute LR of every step ``0..total-1`` of ``schedule`` at base (peak) LR ``base_lr``
    (under ``convention``, default lrkit's)."""
    if isinstance(base_lr, bool) or not isinstance(base_lr, (int, float, np.floating, np.integer)) \
            or not (base_lr > 0 and math.isfinite(base_lr)):
        raise LawError(f"the base LR must be a positive finite number, got {base_lr!r}")
    steps = np.arange(int(total))
    return np.asarray(multipliers(schedule, convention)(steps), dtype=float) * float(base_lr)


def usable_points(curves: Sequence[Curve]) -> tuple[list[Curve], list[str]]:
    """The curves without the losses logged before the first step with a positive LR, where the laws'
    forward area ``S1`` is 0 and the loss is undefined (e.g. a step-0 loss under a warmup from 0),
    and one note per run that lost points.  A run with no positive LR, or nothing left, is an error."""
    out, notes = [], []
    for c in curves:
        pos = np.nonzero(c.lr > 0)[0]
        if pos.size == 0:
            raise LawError(f"run {c.name!r}: the LR is zero at every step; the laws need a positive LR")
        keep = c.steps >= pos[0]
        if not keep.all():
            if not keep.any():
                raise LawError(f"run {c.name!r}: every loss is logged before the first step with a positive LR "
                               f"({int(pos[0])})")
            n = int((~keep).sum())
            notes.append(f"run {c.name!r}: left out {n} loss{'es' if n != 1 else ''} logged before step {int(pos[0])}, "
                         "the first with a positive LR (the laws need some LR area before a loss)")
            c = Curve(c.name, c.lr, c.steps[keep], c.loss[keep])
        out.append(c)
    return out, notes


class Law:
    """A loss-curve law ``L(t) = f(lr[0..t]; params)``.

    Subclasses define ``name``, ``param_names``, :meth:`prepare` (everything that does not depend
    on the parameters), :meth:`evaluate` (prediction and optional Jacobian), :meth:`bounds` and
    :meth:`starts` (initial guesses for the multi-start fit).
    """

    name: str = ""
    title: str = ""
    param_names: tuple[str, ...] = ()
    #: weak log-normal prior on shape parameters (name -> centre) and its default weight
    prior: dict[str, float] = {}
    prior_weight: float = 0.0

    def prepare(self, lr: np.ndarray, steps: np.ndarray) -> Any:
        raise NotImplementedError

    def evaluate(self, prep: Any, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        raise NotImplementedError

    def bounds(self, min_loss: float) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def starts(self, preps: Sequence[Any], losses: Sequence[np.ndarray], n: int) -> list[np.ndarray]:
        raise NotImplementedError

    def predict_block(self, n: int) -> int | None:
        """Evaluation steps per block in :meth:`predict` for a run of ``n`` steps (``None``: all at once)."""
        return None

    def predict(self, lr: np.ndarray, steps: np.ndarray, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Predict at ``steps`` for per-step LRs ``lr``, in blocks of :meth:`predict_block` steps: the
        law's preparation (:meth:`prepare`) of one block only is held at a time, so memory does not
        grow with the number of steps predicted beyond the results themselves."""
        steps = np.asarray(steps)
        block = self.predict_block(int(np.asarray(lr).size))
        if not block or steps.size <= block:
            return self.evaluate(self.prepare(lr, steps), theta, jac)
        outs = [self.evaluate(self.prepare(lr, steps[i:i + block]), theta, jac) for i in range(0, steps.size, block)]
        return np.concatenate([o[0] for o in outs]), (np.concatenate([o[1] for o in outs]) if jac else None)


def linear_start(features: np.ndarray, loss: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares for the linear parameters in relative (1/loss-weighted) error, clipped to bounds.

    Returns the coefficients and the resulting sum of squared relative residuals.
    """
    w = 1.0 / loss
    coef, *_ = np.linalg.lstsq(features * w[:, None], loss * w, rcond=None)
    coef = np.clip(coef, lo, hi)
    r = (features @ coef - loss) * w
    return coef, float(r @ r)
