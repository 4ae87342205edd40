"""Common pieces of the loss-curve laws: the error type, a curve to fit (and the one door from a
logged run to it, :meth:`Curve.from_run`), the law interface."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable, Sequence, Union

import numpy as np

from ..schedules import Schedule
from ..spec import parse
from .areas import warmup_end

if TYPE_CHECKING:
    from ..runs import Run

#: a schedule as the laws take it: spec text, a JSON dict, a Schedule, or a callable from an array of
#: steps ``0..N-1`` to LR multipliers
ScheduleLike = Union[str, dict, Schedule, Callable[[np.ndarray], np.ndarray]]


class LawError(ValueError):
    """A loss-curve law was asked something it cannot do (bad fit input, unknown law, bad JSON)."""


class UndeterminedWarning(UserWarning):
    """A fit has parameters its runs do not determine (``FitResult.flags``; also in its notes)."""


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
        bad = np.nonzero(~(np.isfinite(self.loss) & (self.loss > 0)))[0]
        if bad.size:  # an infinite one reached the solver ("Initial guess is outside of provided bounds")
            i = int(bad[0])
            raise LawError(f"run {self.name!r}: the loss at step {int(self.steps[i])} is {self.loss[i]:g}; losses must be "
                           "positive finite numbers for the log-space fit")

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


def warmup_peak(lr: np.ndarray) -> int:
    """The end of a run's warmup: the first step at the peak of its initial rise (the highest LR
    before the first decrease); 0 for a run without warmup."""
    lr = np.asarray(lr, dtype=float)
    head = lr[:warmup_end(lr)]
    return int(np.argmax(head >= head.max() * (1 - 1e-9)))


#: most logged losses of one run a fit uses: a fit's cost grows with its points, and a few thousand evenly
#: spread ones determine every law's handful of parameters (a 6-million-row log would take hours)
MAX_FIT_POINTS = 5000


def thinned(curves: Sequence[Curve], max_points: int = MAX_FIT_POINTS) -> tuple[list[Curve], list[str]]:
    """The curves with at most ``max_points`` logged losses each (evenly spread over the logged steps, the
    first and last kept), and one note per run that was thinned."""
    out, notes = [], []
    for c in curves:
        if c.steps.size <= max_points:
            out.append(c)
            continue
        keep = np.unique(np.linspace(0, c.steps.size - 1, max_points).round().astype(np.int64))
        notes.append(f"run {c.name!r}: fitted on {keep.size:,} of its {c.steps.size:,} logged losses, evenly spread "
                     f"(a fit uses at most {max_points:,} per run)")
        out.append(Curve(c.name, c.lr, c.steps[keep], c.loss[keep]))
    return out, notes


def usable_points(curves: Sequence[Curve]) -> tuple[list[Curve], list[str]]:
    """The curves with only the losses the laws describe, and one note per run and reason for what was
    left out.  The rule (one place for every fit, prediction and figure):

    * losses logged before the first step with a positive LR, where the forward area ``S1`` is 0 and
      the laws are undefined (e.g. a step-0 loss under a warmup from 0);
    * losses logged before the end of the warmup (:func:`warmup_peak`, the first step at the peak LR)
      and the loss at step 0, logged at initialisation before any update: the laws describe training
      after warmup (the published fits use those points only), and one such point can dominate a fit
      (a step-0 loss of 10.9 beside 3.3 later).

    A run with no positive LR, or with nothing left, is an error.
    """
    out, notes = [], []
    for c in curves:
        pos = np.nonzero(c.lr > 0)[0]
        if pos.size == 0:
            raise LawError(f"run {c.name!r}: the LR is zero at every step; the laws need a positive LR")
        first, peak = int(pos[0]), max(warmup_peak(c.lr), 1)
        keep = c.steps >= max(first, peak)
        if keep.all():
            out.append(c)
            continue
        if not keep.any():
            raise LawError(f"run {c.name!r}: every loss is logged before the first step with a positive LR ({first})"
                           if c.steps.max() < first else
                           f"run {c.name!r}: every loss is logged before step {peak}, the end of the warmup (the first "
                           "step at the peak LR); the laws describe training after warmup")
        n0 = int((c.steps < first).sum())
        if n0:
            notes.append(f"run {c.name!r}: left out {n0} loss{'es' if n0 != 1 else ''} logged before step {first}, "
                         "the first with a positive LR (the laws need some LR area before a loss)")
        n1 = int(((c.steps >= first) & ~keep).sum())
        if n1 and peak == 1:
            notes.append(f"run {c.name!r}: left out the loss logged at step 0, at initialisation (before any update)")
        elif n1:
            notes.append(f"run {c.name!r}: left out {n1} loss{'es' if n1 != 1 else ''} logged before step {peak}, the "
                         "end of the warmup (the first step at the peak LR; the laws describe training after warmup)")
        out.append(Curve(c.name, c.lr, c.steps[keep], c.loss[keep]))
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
    #: prior in log scale on shape parameters (name -> centre) and its default weight (its rows go through
    #: the fit's Huber loss: beyond ``huber_delta`` a constant pull, docs/methods.md "How a fit is made")
    prior: dict[str, float] = {}
    prior_weight: float = 0.0

    def prior_centres(self, preps: Sequence[Any]) -> dict[str, float]:
        """The prior's centre of each parameter in :attr:`prior` for a fit to curves prepared as ``preps``
        (default: :attr:`prior` itself; a law whose parameters have units may scale them by the data)."""
        return dict(self.prior)

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
