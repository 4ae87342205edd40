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

import math
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
    x = _numbers("x", x)
    if x.ndim != 1:
        raise SpecError(f"fedhyper: x has shape {x.shape}; expected the global model as a flat vector")
    cl = _numbers("clients", clients)
    if cl.ndim == 1:
        cl = cl[None, :]
    if cl.ndim != 2 or cl.shape[1] != x.size or cl.shape[0] == 0:
        raise SpecError(f"fedhyper: clients have shape {cl.shape}; expected (clients, {x.size}) like the global "
                        f"model")
    if not np.all(np.isfinite(x)):
        raise SpecError(f"fedhyper: x (the global model) has {int(np.sum(~np.isfinite(x)))} non-finite values")
    bad = np.nonzero(~np.all(np.isfinite(cl), axis=1))[0]
    if bad.size:
        raise SpecError(f"fedhyper: client {int(bad[0])} has NaN or infinite values ({bad.size} of {cl.shape[0]} "
                        f"clients do); leave diverged clients out of the round")
    if weights is None:
        avg = cl.mean(axis=0)
    else:
        w = _numbers("weights", weights)
        if w.shape != (cl.shape[0],) or not np.all(np.isfinite(w)) or np.any(w < 0) or not w.sum() > 0:
            raise SpecError(f"fedhyper: weights={w.tolist()!r} are not one finite non-negative weight per client "
                            f"({cl.shape[0]} clients), not all zero")
        avg = (w[:, None] * cl).sum(axis=0) / w.sum()
    if state is not None:
        if not isinstance(state, FedHyperState):
            raise SpecError(f"fedhyper: state is a {type(state).__name__}; expected the FedHyperState returned by "
                            f"the previous round (or None for the first)")
        if not math.isfinite(state.agg):
            raise SpecError(f"fedhyper: state.agg={state.agg!r} is not finite")
        if state.last is not None and np.shape(state.last) != x.shape:
            raise SpecError(f"fedhyper: state.last has shape {np.shape(state.last)}; expected {x.shape} like the "
                            f"global model")
        if state.last is not None and not np.all(np.isfinite(state.last)):
            raise SpecError("fedhyper: state.last (the previous update) has NaN or infinite values")
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
    lr = v.number("fedhyper_client_lr", "lr", lr, lo=0.0, lo_open=True)
    lo = v.number("fedhyper_client_lr", "lo", lo, lo=0.0)
    hi = v.number("fedhyper_client_lr", "hi", hi, lo=0.0, lo_open=True)
    if lo > hi:
        raise SpecError(f"fedhyper_client_lr: lo={lo!r} is above hi={hi!r}")
    if not isinstance(state, FedHyperState):
        raise SpecError(f"fedhyper_client_lr: state is a {type(state).__name__}; expected a FedHyperState")
    return float(min(hi, max(lo, lr * (1.0 + state.agg))))


def _numbers(name: str, value) -> np.ndarray:
    """``value`` as a float array, or a one-line SpecError naming ``name``."""
    try:
        a = np.asarray(value, dtype=float)
    except (TypeError, ValueError) as e:
        raise SpecError(f"fedhyper: {name} is not an array of numbers ({e})") from None
    return a
