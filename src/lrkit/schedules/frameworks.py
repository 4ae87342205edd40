"""The schedules of the big training frameworks, each counted exactly as the framework counts it.

* ``megatron(...)``: Megatron-LM's ``OptimizerParamScheduler.get_lr``
  (``megatron/core/optimizer_param_scheduler.py``): linear warmup from ``warmup_init``, then ``constant``,
  ``linear``, ``cosine``, ``inverse-square-root`` or ``WSD`` (with ``exponential``, ``linear``, ``cosine`` or
  ``minus_sqrt`` annealing), ``floor`` after the decay steps.
* ``megatron_wd(...)``: the same scheduler's ``get_wd``, the weight-decay increment (``constant``,
  ``linear``, ``cosine``), as a multiplier of the base weight decay: schedule it with
  ``hyperparams={"weight_decay": "megatron_wd(style='linear', start=0.0)"}``.
* ``torchtitan(...)``: torchtitan's ``linear_warmup_stable_decay`` (``torchtitan/components/optimizer/
  lr_scheduler.py``, ``LRSchedulersContainer.Config.build``): ``(t+1)/W`` warmup, ``decay_ratio``,
  ``linear`` / ``sqrt`` / ``cosine`` decay to ``floor`` (its ``min_lr_factor``) with its virtual last step.
* ``cosine_lr_rate(...)``: transformers' ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate``
  (``lr_scheduler_type="cosine_warmup_with_min_lr"``), whose warmup and decay are each one step ahead of
  transformers' other cosines.

These families are the framework's own arithmetic: the convention (``--convention``) does not change them.
Multipliers are relative to the peak (Megatron's ``max_lr``, the optimizer's LR elsewhere); ``warmup_init``
and ``floor`` are Megatron's ``lr_warmup_init / max_lr`` and ``min_lr / max_lr``. ``steps=`` is the
framework's own total (Megatron's ``lr_decay_steps``, torchtitan's ``total_steps``), the run's by default.
"""

from __future__ import annotations

import math

from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Phase, Schedule, family

MEGATRON_STYLES = ("constant", "linear", "cosine", "inverse-square-root", "WSD")
MEGATRON_WSD_STYLES = ("exponential", "linear", "cosine", "minus_sqrt")


def megatron_wsd_coeff(style: str):
    """``coeff(r, m)`` of Megatron's WSD annealing at ratio ``r`` in [0, 1] (``get_lr``, the ``WSD`` branch)."""
    return {"linear": lambda r, m: 1.0 - r,
            "cosine": lambda r, m: 0.5 * (m.cos(m.pi * r) + 1.0),
            "exponential": lambda r, m: 2.0 * m.power(0.5, r) - 1.0,
            "minus_sqrt": lambda r, m: 1.0 - m.sqrt(r)}[style]


class FrameworkSchedule(Schedule):
    """Helpers for families with their own ``warmup`` and ``steps`` fields (not a family itself)."""

    def _check_common(self) -> None:
        self._set("warmup", v.duration(self.family, "warmup", self.warmup))
        if self.steps is not None:
            self._set("steps", v.steps(self.family, "steps", self.steps, lo=1))

    def needs_total(self) -> bool:
        return self.steps is None

    def _sizes(self, total: int | None) -> tuple[int, int]:
        """``(W, T)``: warmup steps and the family's own total."""
        T = self._require_total(total)
        return v.resolve(self.family, "warmup", self.warmup, T), T

    def _lint(self, total, conv) -> list[Finding]:
        if self.steps is not None and self.steps > total:
            return [Finding("phase-beyond-run", f"{self.family}: steps={self.steps} is longer than the run "
                                                f"({total} steps); its end is never reached")]
        return []


@family("megatron")
class Megatron(FrameworkSchedule):
    """Megatron-LM's ``OptimizerParamScheduler`` learning rate (``get_lr``); the total is ``lr_decay_steps``.

    ``warmup`` steps (``lr_warmup_steps``) from ``warmup_init`` reach the peak at step ``warmup``; then
    ``decay_style`` from step ``warmup`` to the total, ``floor`` after it (``constant`` stays at the peak).
    ``WSD`` holds the peak until the last ``wsd_decay`` steps (``wsd_decay_steps``, steps or a fraction of
    the total), then anneals with ``wsd_decay_style``; ``exponential`` is Megatron's ``2 * 0.5^r - 1``.
    Styles are Megatron's spellings (``WSD`` in capitals; any case is read).
    """

    decay_style: str = "linear"
    warmup: int | float = 0
    warmup_init: float = 0.0
    floor: float = 0.0
    wsd_decay: int | float | None = None
    wsd_decay_style: str = "exponential"
    steps: int | None = None

    def _check(self) -> None:
        styles = {s.lower(): s for s in MEGATRON_STYLES}
        if isinstance(self.decay_style, str) and self.decay_style.lower() in styles:
            self._set("decay_style", styles[self.decay_style.lower()])
        v.choice("megatron", "decay_style", self.decay_style, MEGATRON_STYLES)
        self._check_common()
        # Megatron asserts init_lr <= max_lr and min_lr <= max_lr
        self._set("warmup_init", v.number("megatron", "warmup_init", self.warmup_init, lo=0.0, hi=1.0))
        self._set("floor", v.number("megatron", "floor", self.floor, lo=0.0, hi=1.0))
        v.choice("megatron", "wsd_decay_style", self.wsd_decay_style, MEGATRON_WSD_STYLES)
        if self.decay_style == "WSD":
            if self.wsd_decay is None:
                raise SpecError("megatron: decay_style='WSD' needs wsd_decay= (Megatron's wsd_decay_steps: steps "
                                "or a fraction of the total)")
            self._set("wsd_decay", v.duration("megatron", "wsd_decay", self.wsd_decay, positive=True))
        else:
            for name, default in (("wsd_decay", None), ("wsd_decay_style", "exponential")):
                if getattr(self, name) != default:
                    raise SpecError(f"megatron: {name}={v.clip(repr(getattr(self, name)), 60)} applies only to "
                                    f"decay_style='WSD'; "
                                    f"got decay_style={self.decay_style!r}")

    def _layout(self, total: int | None) -> tuple[int, int, int | None]:
        """``(W, T, anneal_start)``; Megatron asserts ``lr_warmup_steps < lr_decay_steps``."""
        W, T = self._sizes(total)
        if W >= T:
            steps = f" ({W} steps)" if isinstance(self.warmup, float) else ""
            raise SpecError(f"megatron: warmup={self.warmup!r}{steps} is not shorter than the {T} decay steps; "
                            f"Megatron asserts lr_warmup_steps < lr_decay_steps")
        start = None
        if self.decay_style == "WSD":
            D = v.resolve("megatron", "wsd_decay", self.wsd_decay, T)
            if D < 1:
                raise SpecError(f"megatron: wsd_decay={self.wsd_decay!r} is less than one step for a total of {T}")
            start = T - D
        return W, T, start

    def _compile(self, total, conv) -> Fn:
        W, T, start = self._layout(total)
        init, floor, style, Wf, Tf = self.warmup_init, self.floor, self.decay_style, float(W), float(T)
        sqrt_w = math.sqrt(max(W, 1))
        if style == "WSD":
            coeff, S, D = megatron_wsd_coeff(self.wsd_decay_style), float(start), float(T - start)

        def decayed(t, m):
            if style == "inverse-square-root":
                return m.maximum(floor, sqrt_w / m.sqrt(m.maximum(t, 1.0)))
            if style == "WSD":
                r = m.clip((t - S) / D, 0.0, 1.0)
                c = m.where(t <= S, 1.0, coeff(r, m))
            else:
                r = m.clip((t - Wf) / (Tf - Wf), 0.0, 1.0)
                c = 1.0 - r if style == "linear" else 0.5 * (m.cos(m.pi * r) + 1.0)
            return floor + c * (1.0 - floor)

        def fn(t, m):
            after = 1.0 + 0.0 * t if style == "constant" else m.where(t > Tf, floor, decayed(t, m))
            if W == 0:
                return after
            return m.where(t <= Wf, init + (1.0 - init) * t / Wf, after)

        return fn

    def _phases(self, total, conv):
        W, T, start = self._layout(total)
        top = W + 1 if W else 0  # the warmup reaches the peak at step W, included
        out = [Phase(0, top, "warmup")] if W else []
        if self.decay_style == "WSD":
            s = min(max(start, top), T)
            return out + [Phase(top, s, "stable"), Phase(s, T, f"decay ({self.wsd_decay_style})")]
        return out + [Phase(top, T, self.decay_style)]

    def _lint(self, total, conv):
        out = super()._lint(total, conv)
        W, T, start = self._layout(total)
        if start is not None and start < W:
            out.append(Finding("phases-exceed-run", f"megatron: warmup ({W}) + wsd_decay ({T - start}) exceed the "
                                                    f"{T} decay steps; the annealing starts inside the warmup"))
        return out


@family("megatron_wd")
class MegatronWd(Schedule):
    """Megatron-LM's weight-decay increment (``OptimizerParamScheduler.get_wd``) as a multiplier of the base
    weight decay: from ``start`` to ``end`` over the total (``wd_incr_steps``), ``end`` after it.

    ``style``: ``constant`` (Megatron asserts ``start_wd == end_wd``), ``linear``, ``cosine``
    (``0.5 (cos(pi (1 - r)) + 1)``). With the optimizer's weight decay at Megatron's ``end_wd``,
    ``start`` is ``start_wd / end_wd``.
    """

    style: str = "constant"
    start: float = 1.0
    end: float = 1.0
    steps: int | None = None

    def _check(self) -> None:
        v.choice("megatron_wd", "style", self.style, ("constant", "linear", "cosine"))
        self._set("start", v.number("megatron_wd", "start", self.start, lo=0.0))
        self._set("end", v.number("megatron_wd", "end", self.end, lo=0.0))
        if self.end < self.start:
            raise SpecError(f"megatron_wd: end={self.end} is below start={self.start}; Megatron's weight decay only "
                            f"increases (it asserts end_wd >= start_wd)")
        if self.style == "constant" and self.start != self.end:
            raise SpecError(f"megatron_wd: style='constant' holds the weight decay at end={self.end}, but "
                            f"start={self.start} differs (Megatron asserts start_wd == end_wd); give style='linear' "
                            f"or 'cosine', or start={self.end}")
        if self.steps is not None:
            self._set("steps", v.steps("megatron_wd", "steps", self.steps, lo=1))

    def needs_total(self) -> bool:
        return self.steps is None and self.style != "constant"

    def _compile(self, total, conv) -> Fn:
        start, end = self.start, self.end
        if self.style == "constant":
            return lambda t, m: end + 0.0 * t
        T = float(self._require_total(total))
        linear = self.style == "linear"

        def fn(t, m):
            r = m.clip(t / T, 0.0, 1.0)
            c = r if linear else 0.5 * (m.cos(m.pi * (1.0 - r)) + 1.0)
            return start + c * (end - start)

        return fn


TORCHTITAN_DECAYS = ("linear", "sqrt", "cosine")


@family("torchtitan")
class Torchtitan(FrameworkSchedule):
    """torchtitan's ``linear_warmup_stable_decay`` (``LRSchedulersContainer.Config.build``).

    Warmup ``(t+1)/W`` over ``warmup`` steps (capped at the total); the decay over the last
    ``round(decay_ratio * T)`` steps (Python's ``round``; all steps after the warmup when ``decay_ratio`` is
    None; capped at ``T - W``), progress ``(t + 1 - (T + 1 - D)) / D``: torchtitan adds "a virtual last
    step" so the last step does not train at ``floor``. ``decay_type``: ``linear``, ``sqrt``
    (``1 - sqrt(p)``), ``cosine``; ``floor`` is ``min_lr_factor``. Past the total torchtitan's value is
    undefined (its docstring); lrkit holds ``floor``.
    """

    warmup: int | float = 200
    decay_ratio: float | None = None
    decay_type: str = "linear"
    floor: float = 0.0
    steps: int | None = None

    def _check(self) -> None:
        self._check_common()
        if self.decay_ratio is not None:
            self._set("decay_ratio", v.number("torchtitan", "decay_ratio", self.decay_ratio, lo=0.0, hi=1.0))
        v.choice("torchtitan", "decay_type", self.decay_type, TORCHTITAN_DECAYS)
        self._set("floor", v.number("torchtitan", "floor", self.floor, lo=0.0))

    def layout(self, total: int | None) -> tuple[int, int, int]:
        """``(W, D, T)`` as torchtitan's ``build`` resolves them (with its two caps)."""
        W, T = self._sizes(total)
        W = min(W, T)
        D = T - W if self.decay_ratio is None else min(round(T * self.decay_ratio), T - W)
        return W, D, T

    def _compile(self, total, conv) -> Fn:
        W, D, T = self.layout(total)
        floor, Wf, WS, Df = self.floor, float(W), float(T + 1 - D), float(D)
        kind = self.decay_type

        def fn(t, m):
            if D == 0:
                after = 1.0 + 0.0 * t
            else:
                p = m.clip((t + 1.0 - WS) / Df, 0.0, 1.0)
                c = 1.0 - p if kind == "linear" else (1.0 - m.sqrt(p) if kind == "sqrt" else
                                                      0.5 * (1.0 + m.cos(m.pi * p)))
                after = m.where(t < WS, 1.0, floor + (1.0 - floor) * c)
            if W == 0:
                return after
            return m.where(t < Wf, (t + 1.0) / max(Wf, 1.0), after)

        return fn

    def _phases(self, total, conv):
        W, D, T = self.layout(total)
        s = min(max(T + 1 - D, W), T) if D else T
        out = [Phase(0, W, "warmup")] if W else []
        return out + [Phase(W, s, "stable")] + ([Phase(s, T, f"decay ({self.decay_type})")] if D else [])


@family("cosine_lr_rate")
class CosineLrRate(FrameworkSchedule):
    """transformers' ``get_cosine_with_min_lr_schedule_with_warmup_lr_rate``: warmup ``(t+1)/W``, or from
    ``warmup_lr_rate`` reaching the peak at step ``W - 1``; then ``floor + (1 - floor) (1 + cos(2 pi waves p))
    / 2`` with ``p = (t - W + 1) / (T - W)``, so the floor is reached at step ``T - 1``. ``floor`` is
    ``min_lr_rate``, ``waves`` is ``num_cycles``; like transformers', it keeps waving after the end.
    """

    warmup: int | float = 0
    waves: float = 0.5
    floor: float = 0.0
    warmup_lr_rate: float | None = None
    steps: int | None = None

    def _check(self) -> None:
        self._check_common()
        self._set("waves", v.number("cosine_lr_rate", "waves", self.waves, lo=0.0, lo_open=True))
        self._set("floor", v.number("cosine_lr_rate", "floor", self.floor, lo=0.0))
        if self.warmup_lr_rate is not None:
            self._set("warmup_lr_rate", v.number("cosine_lr_rate", "warmup_lr_rate", self.warmup_lr_rate, lo=0.0))

    def _compile(self, total, conv) -> Fn:
        W, T = self._sizes(total)
        floor, c, rate, Wf = self.floor, self.waves, self.warmup_lr_rate, float(W)
        span = max(1.0, float(T) - Wf)

        def fn(t, m):
            p = (t - Wf + 1.0) / span
            f = 0.5 * (1.0 + m.cos(m.pi * c * 2.0 * p)) * (1.0 - floor) + floor
            after = m.maximum(0.0, f)
            if W == 0:
                return after
            if rate is None:
                up = (t + 1.0) / max(1.0, Wf)
            else:
                up = rate + (1.0 - rate) * t / max(1.0, Wf - 1.0)
            return m.where(t < Wf, up, after)

        return fn

    def _phases(self, total, conv):
        W, T = self._sizes(total)
        return ([Phase(0, W, "warmup")] if W else []) + [Phase(W, max(T, W), "cosine")]
