"""DeepSpeed's warmup schedules (``deepspeed/runtime/lr_schedules.py``, commit 22779f2), counted as its engine
drives them.

* ``deepspeed_warmup(...)``: ``WarmupLR``, a ``log`` (default) or ``linear`` warmup, then the peak.
* ``deepspeed_warmup_decay(...)``: ``WarmupDecayLR``, then a linear decay to ``warmup_init`` at the total.
* ``deepspeed_warmup_cosine(...)``: ``WarmupCosineLR``, from ``warmup_init`` (``warmup_min_ratio``) up,
  then a cosine to ``floor`` (``cos_min_ratio``).

The engine steps the scheduler after each optimizer step, so the update at step ``t`` runs at DeepSpeed's
value for ``last_batch_iteration = t - 1``; step 0 at the constructor's value (``warmup_min_lr``, and 0 for
``WarmupCosineLR``, which lrkit reproduces and ``lint`` reports). DeepSpeed warms up over
``max(2, warmup_num_steps)`` steps: the log warmup ``log(t) / log(W)`` reaches the peak at step ``W``, the
linear one ``(t - 1) / W`` at step ``W + 1``. ``warmup_init`` is ``warmup_min_lr / warmup_max_lr``
(``warmup_min_ratio`` for the cosine); multipliers are relative to ``warmup_max_lr`` (the optimizer's LR
for the cosine). These families are DeepSpeed's own arithmetic: the convention does not change them.
"""

from __future__ import annotations

import math

from ..errors import SpecError
from . import validate as v
from .base import Fn, Phase, family
from .frameworks import FrameworkSchedule

WARMUP_TYPES = ("log", "linear")


class _DeepSpeed(FrameworkSchedule):
    """The warmup all three share (``WarmupLR._get_gamma``, ``WarmupCosineLR.get_lr_ratio``)."""

    decays_over_total = True

    def _check(self) -> None:
        name = self.family
        self._check_common()
        if self.warmup == 0:
            raise SpecError(f"{name}: warmup=0; DeepSpeed needs warmup_num_steps to be a positive integer "
                            f"(it warms up over at least 2 steps)")
        v.choice(name, "warmup_type", self.warmup_type, WARMUP_TYPES)
        self._set("warmup_init", v.number(name, "warmup_init", self.warmup_init, lo=0.0))
        self._check_own()

    def _check_own(self) -> None:
        """Family-specific checks."""

    def needs_total(self) -> bool:
        return self.steps is None and (self.decays_over_total or isinstance(self.warmup, float))

    def _sizes(self, total):
        T = self._require_total(total) if self.needs_total() else self._own_total(total)
        W = v.resolve(self.family, "warmup", self.warmup, T)
        if W < 1:
            raise SpecError(f"{self.family}: warmup={self.warmup!r} is less than one step for a total of {T}; "
                            f"DeepSpeed needs warmup_num_steps >= 1")
        return max(2, W), T

    def _ramp(self, W: int):
        """``gamma(t, m)`` in [0, 1] at update ``t`` (``last_batch_iteration = t - 1``) for ``1 <= t <= W``;
        ``t = 0`` (the constructor's value) is the caller's."""
        if self.warmup_type == "log":
            inv = 1.0 / math.log(W)
            return lambda t, m: inv * m.log(m.maximum(t, 1.0))
        Wf = float(W)
        return lambda t, m: m.maximum(t - 1.0, 0.0) / Wf

    def _phases(self, total, conv):
        W, T = self._sizes(total)  # the warmup branch runs to update W (last_batch_iteration W - 1), included
        if T is None:
            return [Phase(0, W + 1, "warmup"), Phase(W + 1, None, "constant")]
        label = "constant" if self.family == "deepspeed_warmup" else self.family.rsplit("_", 1)[1]
        return [Phase(0, min(W + 1, T), "warmup"), Phase(min(W + 1, T), T, label)]


@family("deepspeed_warmup")
class DeepSpeedWarmup(_DeepSpeed):
    """DeepSpeed's ``WarmupLR``: from ``warmup_init`` up to the peak over ``warmup`` steps, then the peak."""

    warmup: int | float = 1000
    warmup_type: str = "log"
    warmup_init: float = 0.0
    steps: int | None = None
    decays_over_total = False

    def _compile(self, total, conv) -> Fn:
        W, _ = self._sizes(total)
        init, gamma, Wf = self.warmup_init, self._ramp(W), float(W)
        return lambda t, m: init + (1.0 - init) * m.where(t <= Wf, gamma(t, m), 1.0)


@family("deepspeed_warmup_decay")
class DeepSpeedWarmupDecay(_DeepSpeed):
    """DeepSpeed's ``WarmupDecayLR``: ``WarmupLR``'s warmup, then ``(T - t + 1) / (T - W)`` down to
    ``warmup_init`` (its ``warmup_min_lr``) at update ``T + 1``, the total ``T`` being ``total_num_steps``."""

    warmup: int | float = 1000
    warmup_type: str = "log"
    warmup_init: float = 0.0
    steps: int | None = None

    def _compile(self, total, conv) -> Fn:
        W, T = self._sizes(total)
        init, gamma, Wf, Tf = self.warmup_init, self._ramp(W), float(W), float(T)
        span = float(max(1.0, T - W))

        def fn(t, m):
            down = m.maximum(0.0, (Tf - (t - 1.0)) / span)
            return init + (1.0 - init) * m.where(t <= Wf, gamma(t, m), down)

        return fn


@family("deepspeed_warmup_cosine")
class DeepSpeedWarmupCosine(_DeepSpeed):
    """DeepSpeed's ``WarmupCosineLR``: 0 at step 0 (its constructor's value), then from ``warmup_init``
    (``warmup_min_ratio``) to the peak, then a cosine to ``floor`` (``cos_min_ratio``, default 0.0001) over
    ``T - W`` steps, progress clamped at 1."""

    warmup: int | float = 1000
    warmup_type: str = "log"
    warmup_init: float = 0.0
    floor: float = 0.0001
    steps: int | None = None

    def _check_own(self) -> None:
        self._set("floor", v.number("deepspeed_warmup_cosine", "floor", self.floor, lo=0.0))

    def _compile(self, total, conv) -> Fn:
        W, T = self._sizes(total)
        init, floor, gamma, Wf = self.warmup_init, self.floor, self._ramp(W), float(W)
        span = float(max(1, T - W))

        def fn(t, m):
            up = init + gamma(t, m) * (1.0 - init)
            p = m.minimum(1.0, m.maximum(t - Wf, 0.0) / span)
            down = m.maximum(0.0, floor + (1.0 - floor) * ((1.0 + m.cos(m.pi * p)) / 2.0))
            return m.where(t < 1.0, 0.0, m.where(t <= Wf, up, down))

        return fn
