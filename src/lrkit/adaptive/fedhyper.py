"""FedHyper's server-side global learning rate (Wang, Wang, Li, ICLR 2024, "FedHyper: A Universal and Robust
Learning Rate Scheduler for Federated Learning with Hypergradient Descent"; reference ATP-1010/FedHyper
``src/federated_main.py``).

In federated averaging the server moves the global model by the clients' mean update
``Δ_t = mean(client models) - x_t``. FedHyper learns a global LR ``1 + agg`` by hypergradient descent on
it: ``agg += Δ_{t-1} · Δ_t`` (clipped), ``x_{t+1} = x_t + (1 + agg) Δ_t``. The recommended ``GM`` variant
clips ``agg`` to [-0.2, 4] and adds momentum 0.9 on the update; ``G`` clips to [-0.8, 4] without
momentum. Everything here is a pure function on numpy vectors (flattened parameters).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from ..errors import SpecError
from ..schedules import validate as v

VARIANTS = {"g": (-0.8, 4.0, 0.0), "gm": (-0.2, 4.0, 0.9)}


@dataclass(frozen=True)
class FedHyperState:
    """The server's state between rounds: ``agg`` (the global LR is ``1 + agg``), the previous (momentum)
    update ``last``, and the number of rounds done."""

    agg: float = 0.0
    last: np.ndarray | None = None
    rounds: int = 0

    @property
    def global_lr(self) -> float:
        return 1.0 + self.agg


def fedhyper_round(x: np.ndarray, clients: Sequence[np.ndarray] | np.ndarray, state: FedHyperState | None = None,
                   variant: str = "gm", weights: Sequence[float] | None = None
                   ) -> tuple[np.ndarray, FedHyperState]:
    """One server round of FedHyper: the new global model and the new state.

    Args:
        x: the global model at the start of the round (a flat vector).
        clients: the client models after their local training (vectors like ``x``, or a 2-D array).
        state: the state returned by the previous round (``None`` for the first).
        variant: ``"gm"`` (recommended: clip [-0.2, 4], momentum 0.9) or ``"g"`` (clip [-0.8, 4]).
        weights: optional client weights (e.g. their sample counts) for the average.

    The first round is plain FedAvg (global LR 1), as in the reference.
    """
    v.choice("fedhyper", "variant", variant, tuple(VARIANTS))
    lo, hi, mom = VARIANTS[variant]
    x = np.asarray(x, dtype=float)
    cl = np.asarray(clients, dtype=float)
    if cl.ndim == 1:
        cl = cl[None, :]
    if cl.ndim != 2 or cl.shape[1] != x.size or cl.shape[0] == 0:
        raise SpecError(f"fedhyper: clients have shape {cl.shape}; expected (clients, {x.size}) like the global "
                        f"model")
    if weights is None:
        avg = cl.mean(axis=0)
    else:
        w = np.asarray(weights, dtype=float)
        if w.shape != (cl.shape[0],) or np.any(w < 0) or not w.sum() > 0:
            raise SpecError(f"fedhyper: weights={list(weights)!r} are not one non-negative weight per client")
        avg = (w[:, None] * cl).sum(axis=0) / w.sum()
    delta = avg - x
    state = state or FedHyperState()
    if state.last is None:  # first round: FedAvg
        return avg, FedHyperState(agg=state.agg, last=delta, rounds=state.rounds + 1)
    agg = float(np.clip(state.agg + float(np.dot(state.last, delta)), lo, hi))
    if mom:
        new_x = avg + agg * delta + mom * agg * state.last
        last = delta + mom * state.last
    else:
        new_x = avg + agg * delta
        last = delta
    return new_x, FedHyperState(agg=agg, last=last, rounds=state.rounds + 1)


def fedhyper_client_lr(lr: float, state: FedHyperState, lo: float = 0.001, hi: float = 0.1) -> float:
    """FedHyper-SL: the clients' local LR scaled by the global hypergradient, ``clip(lr (1 + agg), lo, hi)``."""
    return float(min(hi, max(lo, lr * (1.0 + state.agg))))
