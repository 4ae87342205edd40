"""Common pieces of the loss-curve laws: the error type, a curve to fit, the law interface."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np


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

    def predict(self, lr: np.ndarray, steps: np.ndarray, theta: np.ndarray, jac: bool = False) -> tuple[np.ndarray, np.ndarray | None]:
        """Predict at ``steps`` for per-step LRs ``lr`` (memory-bounded; see :meth:`prepare`)."""
        return self.evaluate(self.prepare(lr, steps), theta, jac)


def linear_start(features: np.ndarray, loss: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, float]:
    """Least squares for the linear parameters in relative (1/loss-weighted) error, clipped to bounds.

    Returns the coefficients and the resulting sum of squared relative residuals.
    """
    w = 1.0 / loss
    coef, *_ = np.linalg.lstsq(features * w[:, None], loss * w, rcond=None)
    coef = np.clip(coef, lo, hi)
    r = (features @ coef - loss) * w
    return coef, float(r @ r)
