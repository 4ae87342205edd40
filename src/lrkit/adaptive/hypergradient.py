"""Hypergradient descent on the learning rate (Baydin, Cornish, Martínez Rubio, Schmidt, Wood, ICLR 2018,
"Online Learning Rate Adaptation with Hypergradient Descent"; reference gbaydin/hypergradient-descent).

The LR is itself learned by gradient descent: the loss after an update depends on the LR used for it, and
``∂f(θ_t)/∂α_{t-1} = -g_t · u_{t-1}`` where ``u_{t-1}`` is the previous update direction (``θ_{t-1} - θ_t =
α_{t-1} u_{t-1}``). The additive rule is ``α_t = α_{t-1} + β g_t · u_{t-1}``; the multiplicative rule
(the paper's section 4) is ``α_t = α_{t-1} (1 + β' cos(g_t, u_{t-1}))``.

:class:`HypergradientLR` works with any torch optimizer: it takes ``u`` from the update the optimizer
actually applied (the parameter change divided by the LR), which is the gradient (or momentum buffer) for
SGD and ``m̂/(√v̂ + ε)`` for Adam, exactly the quantities of the reference's ``SGDHD`` and ``AdamHD``; for
AdamW it includes the decoupled weight decay. Each parameter group gets its own LR (the reference has one
group). It can also adapt a base LR under an lrkit schedule: the group LR is ``α_t · m(t)`` and the
hypergradient of ``α`` is scaled by the multiplier ``m(t-1)`` of the update it differentiates.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from typing import Any

from ..errors import SpecError
from ..schedules import validate as v

MODES = ("additive", "multiplicative")
#: The reference's default hypergradient LRs.
DEFAULT_BETA = {"sgd": 1e-3, "adam": 1e-7}


class HypergradientLR:
    """Adapt each parameter group's LR by hypergradient descent, around any torch optimizer.

    Args:
        optimizer: any ``torch.optim.Optimizer``; its groups' ``lr`` are the initial ``α_0``.
        beta: the hypergradient LR ``β`` (additive: an LR of the LR, e.g. 1e-3 for SGD, 1e-7 for Adam as
            in the reference experiments; multiplicative: the relative change per step at full
            alignment, e.g. 0.02).
        mode: ``"additive"`` (Baydin et al.'s main rule) or ``"multiplicative"`` (normalised, scale-free).
        schedule: optional lrkit schedule (spec) of multipliers: the group LR is ``α_t · m(t)``.
        total_steps: the run's length, for a schedule that needs one.
        lr_min, lr_max: bounds on ``α`` (the additive rule can otherwise go negative).

    Call nothing: hooks on ``optimizer.step()`` do the work (the hypergradient is computed from the
    gradients just before each step, so AMP-skipped steps and gradient accumulation are handled like the
    optimizer handles them). :attr:`lrs` are the current ``α``; :meth:`state_dict` resumes exactly.
    """

    def __init__(self, optimizer, beta: float | None = None, *, mode: str = "additive", schedule: Any = None,
                 total_steps: int | None = None, lr_min: float = 0.0, lr_max: float = math.inf) -> None:
        import torch

        if not isinstance(optimizer, torch.optim.Optimizer):
            raise TypeError(f"HypergradientLR: {type(optimizer).__name__} is not a torch.optim.Optimizer")
        v.choice("HypergradientLR", "mode", mode, MODES)
        if beta is None:
            beta = 0.02 if mode == "multiplicative" else (
                DEFAULT_BETA["adam"] if "betas" in optimizer.param_groups[0] else DEFAULT_BETA["sgd"])
        if mode == "multiplicative":  # 1 + beta·cos must stay > 0, or one step can zero the LR for good
            self.beta = v.number("HypergradientLR", "beta", beta, lo=0.0, hi=1.0, hi_open=True)
        else:
            self.beta = v.number("HypergradientLR", "beta", beta, lo=0.0)
        self.mode = mode
        self.lr_min = v.number("HypergradientLR", "lr_min", lr_min, lo=0.0)
        self.lr_max = math.inf if lr_max == math.inf else v.number("HypergradientLR", "lr_max", lr_max, lo=0.0,
                                                                      lo_open=True)
        if self.lr_min > self.lr_max:
            raise SpecError(f"HypergradientLR: lr_min={lr_min!r} is above lr_max={lr_max!r}")
        for i, g in enumerate(optimizer.param_groups):
            lr = float(g["lr"])
            if not (math.isfinite(lr) and lr > 0):
                raise SpecError(f"HypergradientLR: parameter group {i} has lr={lr!r}; expected a positive finite "
                                f"starting LR (the hypergradient needs the update of a step with a positive LR)")
            if not self.lr_min <= lr <= self.lr_max:
                raise SpecError(f"HypergradientLR: parameter group {i} has lr={lr!r}, outside [lr_min, lr_max] = "
                                f"[{self.lr_min:g}, {self.lr_max:g}]")
        if total_steps is not None:
            total_steps = v.total_steps(total_steps, "HypergradientLR: total_steps")
        self.optimizer = optimizer
        self._torch = torch
        self.schedule = None
        self._fn = None
        if schedule is not None:
            from .._math import SCALAR
            from ..spec import parse

            self.schedule = parse(schedule)
            from ..schedules.plateau import has_plateau

            if has_plateau(self.schedule):
                raise SpecError(f"HypergradientLR: schedule={str(self.schedule)!r} has a plateau(...) phase, which "
                                f"needs metrics that HypergradientLR cannot feed; use lrkit.torch.Scheduler for it")
            if self.schedule.needs_total() and total_steps is None:
                raise SpecError(f"{self.schedule} decays over the run and needs total_steps=")
            bound = self.schedule.bind(total_steps)
            self._fn = lambda t: float(bound.fn(float(t), SCALAR))
        self.total_steps = total_steps
        self.lrs = [float(g["lr"]) for g in optimizer.param_groups]
        self.step_count = 0
        #: Updates left out because the hypergradient was not finite (NaN or infinite gradients).
        self.skipped = 0
        self.history: list[list[float]] = []
        self._prev: list[list] | None = None  # parameters before the last step, per group
        self._prev_lr: list[float] | None = None  # the effective LR of the last step
        self._pre = optimizer.register_step_pre_hook(self._before_step)
        self._write(0)

    # ------------------------------------------------------------------------------------------------------
    def multiplier(self, step: int) -> float:
        return 1.0 if self._fn is None else self._fn(step)

    def _write(self, step: int) -> None:
        m = self.multiplier(step)
        for g, a in zip(self.optimizer.param_groups, self.lrs):
            lr = a * m
            if isinstance(g["lr"], self._torch.Tensor):
                g["lr"].fill_(lr)
            else:
                g["lr"] = lr

    def _params(self, g) -> list:
        return [p for p in g["params"] if p.grad is not None]

    def _before_step(self, opt, args, kwargs) -> None:
        torch = self._torch
        groups = opt.param_groups
        if len(groups) != len(self.lrs):
            raise RuntimeError(f"HypergradientLR: the optimizer has {len(groups)} parameter groups, the controller "
                               f"was built for {len(self.lrs)}")
        with torch.no_grad():
            if self._prev is not None:
                m_prev = self.multiplier(self.step_count - 1)
                for i, g in enumerate(groups):
                    params = [p for p in g["params"]]
                    prev = self._prev[i]
                    lr_prev = self._prev_lr[i]
                    if lr_prev <= 0 or not params:
                        continue
                    dot = torch.zeros((), dtype=torch.float64, device=params[0].device)
                    gsq = torch.zeros((), dtype=torch.float64, device=params[0].device)
                    usq = torch.zeros((), dtype=torch.float64, device=params[0].device)
                    for p, q in zip(params, prev):
                        if p.grad is None or q is None:
                            continue
                        u = (q.double() - p.double()) / lr_prev  # the previous update direction
                        gr = p.grad.double()
                        dot += (gr * u).sum()
                        if self.mode == "multiplicative":
                            gsq += (gr * gr).sum()
                            usq += (u * u).sum()
                    h = float(dot)  # = -∂f/∂α_eff of the last update
                    if self.mode == "additive":
                        a = self.lrs[i] + self.beta * m_prev * h
                    else:
                        denom = math.sqrt(float(gsq) * float(usq))
                        a = self.lrs[i] * (1.0 + self.beta * (h / denom if denom > 0 else 0.0))
                        a = a if math.isfinite(denom) else math.nan
                    if not (math.isfinite(h) and math.isfinite(a)):  # NaN/inf gradients: keep the LR, count it
                        self.skipped += 1
                        if self.skipped == 1:
                            warnings.warn(f"HypergradientLR: the hypergradient of step {self.step_count} is not "
                                          f"finite (NaN or infinite gradients or parameters); the LR is kept at "
                                          f"{self.lrs[i]:g} (HypergradientLR.skipped counts such steps)",
                                          RuntimeWarning, stacklevel=2)
                        continue
                    self.lrs[i] = min(max(a, self.lr_min), self.lr_max)
            self._write(self.step_count)
            self._prev = [[p.detach().clone() if p.grad is not None else None for p in g["params"]] for g in groups]
            self._prev_lr = [float(g["lr"]) for g in groups]
        self.history.append(list(self.lrs))
        self.step_count += 1

    def remove(self) -> None:
        """Stop adapting (remove the hook)."""
        self._pre.remove()

    # ------------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The LRs, the step count and the parameters before the last step (tensors), for an exact resume."""
        return {"lrs": list(self.lrs), "step_count": self.step_count, "beta": self.beta, "mode": self.mode,
                "prev": None if self._prev is None else [[None if q is None else q.clone() for q in ps]
                                                         for ps in self._prev],
                "prev_lr": None if self._prev_lr is None else list(self._prev_lr), "skipped": self.skipped}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a saved state; it must come from a controller with the same groups, ``mode`` and ``beta``."""
        missing = [k for k in ("lrs", "step_count", "prev", "prev_lr") if k not in state]
        if missing:
            raise SpecError(f"HypergradientLR: the state has no {', '.join(map(repr, missing))}; expected a dict "
                            f"from HypergradientLR.state_dict()")
        if len(state["lrs"]) != len(self.lrs):
            raise SpecError(f"HypergradientLR: the state has {len(state['lrs'])} groups, the optimizer "
                            f"{len(self.lrs)}")
        for k in ("mode", "beta"):
            if k in state and state[k] != getattr(self, k):
                raise SpecError(f"HypergradientLR: the state was saved with {k}={state[k]!r}, this controller has "
                                f"{k}={getattr(self, k)!r}; build it with the same {k} to resume")
        lrs = [float(x) for x in state["lrs"]]
        if not all(math.isfinite(x) and x >= 0 for x in lrs):
            raise SpecError(f"HypergradientLR: the state's lrs={lrs!r} are not all finite and >= 0")
        self.lrs = lrs
        self.step_count = int(state["step_count"])
        self.skipped = int(state.get("skipped", 0))
        self._prev = None if state["prev"] is None else [[None if q is None else q.clone() for q in ps]
                                                         for ps in state["prev"]]
        self._prev_lr = None if state["prev_lr"] is None else [float(x) for x in state["prev_lr"]]
        self._write(max(self.step_count - 1, 0))
