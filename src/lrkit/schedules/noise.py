"""timm's LR noise as a wrapper: ``noise(cosine(), range=[0.4, 0.9], pct=0.67, std=1.0, seed=42)``.

timm's ``Scheduler._add_noise`` (``timm/scheduler/scheduler.py``) multiplies the LR at step ``t`` inside the
noise range by ``1 + n``, where ``n`` is drawn from ``torch.Generator().manual_seed(seed + t)``: a normal
sample times ``std``, redrawn until ``|n| < pct`` (``form="normal"``), or ``2 (u - 1/2) pct`` for a uniform
``u`` (``form="uniform"``). So the noise is a pure function of the step and the seed, and lrkit draws it
the same way, bit for bit: evaluating a noisy schedule needs torch (parsing and printing it do not).

``range`` is where the noise applies: ``[start]`` (every step from ``start`` on, timm's int
``noise_range_t``) or ``[start, end]`` (``start <= t < end``); steps, or fractions of the total (timm's
``create_scheduler`` gives fractions of ``t_initial``: the same under ``--convention timm`` when they
fall on whole steps).
"""

from __future__ import annotations

import functools
import math

import numpy as np

from .._math import ARRAY
from ..errors import SpecError
from . import validate as v
from .base import Finding, Fn, Schedule, family
from .spec import as_schedule

FORMS = ("normal", "uniform")
#: Below this chance of a normal draw landing inside ``pct``, timm's redraw loop would spin for ever.
_MIN_ACCEPT = 1e-3


def _torch():
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is installed where the tests run
        raise SpecError("noise: timm's LR noise is drawn with torch.Generator(seed + step); evaluating it needs "
                        "torch (pip install torch)") from None
    return torch


@functools.lru_cache(maxsize=1 << 16)
def draw(seed: int, form: str, pct: float, std: float) -> float:
    """The noise ``n`` of timm's ``Scheduler._calculate_noise`` for a generator seeded with ``seed``."""
    torch = _torch()
    g = torch.Generator()
    g.manual_seed(seed)
    if form == "normal":
        while True:  # timm: "resample if noise out of percent limit"
            n = torch.randn(1, generator=g).item() * std
            if abs(n) < pct:
                return n
    return 2 * (torch.rand(1, generator=g).item() - 0.5) * pct


@family("noise")
class Noise(Schedule):
    """A schedule times ``1 + n(t)`` inside ``range``, ``n`` timm's seeded LR noise (see the module doc)."""

    schedule: Schedule | None = None
    range: tuple = (0,)
    pct: float = 0.67
    std: float = 1.0
    seed: int = 42
    form: str = "normal"
    schedule_fields = ("schedule",)
    positional = ("schedule",)

    def _check(self) -> None:
        if self.schedule is None:
            raise SpecError("noise: missing the schedule to add noise to, e.g. noise(cosine(), range=[0.4, 0.9])")
        self._set("schedule", as_schedule("noise", "schedule", self.schedule))
        r = v.as_list(self.range)
        if not isinstance(r, (list, tuple)):
            r = (r,)
        if len(r) not in (1, 2):
            raise SpecError(f"noise: range={v.shown(list(r))} is not [start] or [start, end]; expected one or two "
                            f"steps or fractions")
        r = tuple(v.duration("noise", f"range[{i}]", x) for i, x in enumerate(r))
        if len(r) == 2 and type(r[0]) is type(r[1]) and r[1] <= r[0]:
            raise SpecError(f"noise: range={list(r)!r} ends before it starts; expected [start, end] with end > start")
        self._set("range", r)
        v.choice("noise", "form", self.form, FORMS)
        self._set("pct", v.number("noise", "pct", self.pct, lo=0.0, hi=1.0, lo_open=True))
        self._set("std", v.number("noise", "std", self.std, lo=0.0))
        if self.form == "uniform" and self.std != 1.0:
            raise SpecError(f"noise: std={self.std} applies only to form='normal' (a uniform noise spans +-pct)")
        self._set("seed", v.integer("noise", "seed", self.seed, lo=0))
        if self.seed >= 2 ** 62:
            raise SpecError(f"noise: seed={self.seed} is too large; torch seeds its generator with seed + step, "
                            f"an integer below 2**64; expected seed < 2**62")
        if self.form == "normal" and self.std > 0 and math.erf(self.pct / (self.std * math.sqrt(2))) < _MIN_ACCEPT:
            raise SpecError(f"noise: pct={self.pct} is too narrow for std={self.std}: fewer than 1 in 1000 normal "
                            f"draws fall inside it, so timm's redraw loop would spin; raise pct or lower std")

    def needs_total(self) -> bool:
        return any(isinstance(x, float) for x in self.range) or self.schedule.needs_total()

    def bounds(self, total: int | None) -> tuple[int, float]:
        """The steps ``[start, end)`` that take noise (``end`` may be ``inf``)."""
        r = [v.resolve("noise", "range", x, total) for x in self.range]
        return r[0], (float(r[1]) if len(r) == 2 else math.inf)

    def _compile(self, total, conv) -> Fn:
        inner = self.schedule._compile(total, conv)
        start, end = self.bounds(total)
        _torch()  # (says so now, in one line, when torch is missing)
        seed, form, pct, std = self.seed, self.form, self.pct, self.std

        def factor(t: float) -> float:
            k = int(math.floor(t))  # a fractional step takes the noise of its whole step
            return 1.0 + draw(seed + k, form, pct, std) if start <= k < end else 1.0

        def fn(t, m):
            if m.scalar:
                return inner(t, m) * factor(t)
            if m is not ARRAY:
                raise SpecError("noise: timm's LR noise is drawn with torch's generator, step by step; it cannot "
                                "be traced by jax (to_optax)")
            ts = np.asarray(t, dtype=float)
            out = np.ones(ts.shape)
            flat, mult = ts.ravel(), out.ravel()
            for i in np.flatnonzero((np.floor(flat) >= start) & (np.floor(flat) < end)):
                mult[i] = factor(float(flat[i]))
            return inner(t, m) * out

        return fn

    def _phases(self, total, conv):
        return self.schedule._phases(total, conv)

    def _lint(self, total, conv) -> list[Finding]:
        out = self.schedule._lint(total, conv)
        start, _ = self.bounds(total)
        if start >= total:
            out.append(Finding("phase-beyond-run", f"noise: range starts at step {start}, at or beyond the end of the "
                                                   f"run ({total} steps); no step gets noise"))
        return out
