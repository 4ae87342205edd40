"""Piecewise-linear schedules from ``(position, value)`` points: the format of planned and refined schedules."""

from __future__ import annotations

import bisect

import numpy as np

from ..errors import SpecError
from . import validate as v
from .base import Fn, family
from .decaying import Decaying, run_steps_before


@family("piecewise")
class Piecewise(Decaying):
    """Linear interpolation between ``points=[(position, value), ...]``.

    Positions are steps (integers) or fractions of the total (floats in [0, 1]) in the run, in
    non-decreasing order; two points at the same position make a jump (the later value holds from
    that step on). Before the first point the first value holds, after the last point the last.
    """

    points: tuple = ((0.0, 1.0), (1.0, 0.0))

    def _check(self) -> None:
        pts = v.as_list(self.points)
        if not isinstance(pts, (list, tuple)) or not pts:
            raise SpecError(f"piecewise: points={v.shown(pts)} is not a non-empty list of (position, value) pairs")
        clean = []
        for i, p in enumerate(pts):
            if not isinstance(p, (list, tuple)) or len(p) != 2:
                raise SpecError(f"piecewise: points[{i}]={v.shown(p)} is not a (position, value) pair")
            clean.append((v.duration("piecewise", f"points[{i}] position", p[0]),
                          v.number("piecewise", f"points[{i}] value", p[1], lo=0.0)))
        for i in range(1, len(clean)):
            a, b = clean[i - 1][0], clean[i][0]
            if type(a) is type(b) and b < a:
                raise SpecError(f"piecewise: points[{i}] position {b!r} comes before points[{i - 1}] position {a!r}; "
                                f"positions must be in non-decreasing order")
        self._set("points", tuple(clean))

    def needs_total(self) -> bool:
        return super().needs_total() or (self.steps is None and any(isinstance(p, float) for p, _ in self.points))

    decays_over_total = False

    def resolved(self, total: int | None) -> tuple[list[float], list[float]]:
        T = self._own_total(total)
        xs = [float(v.resolve("piecewise", "points", p, T)) for p, _ in self.points]
        if any(b < a for a, b in zip(xs, xs[1:])):
            raise SpecError(f"piecewise: positions resolve to {xs} steps for a total of {T}, which are not in "
                            f"non-decreasing order")
        return xs, [float(y) for _, y in self.points]

    def _core(self, D, W, total, conv) -> Fn:
        xs, ys = self.resolved(total)
        xa, ya = np.asarray(xs), np.asarray(ys)
        n, Wf = len(xs), run_steps_before(W, conv)
        slopes = [(ys[i + 1] - ys[i]) / (xs[i + 1] - xs[i]) if xs[i + 1] > xs[i] else 0.0 for i in range(n - 1)]
        sa = np.asarray(slopes + [0.0])

        def fn(u, m):
            t = u + Wf
            if m.scalar:
                i = bisect.bisect_right(xs, t) - 1
                if i < 0:
                    return ys[0]
                if i >= n - 1:
                    return ys[-1]
                return ys[i] + slopes[i] * (t - xs[i])
            i = m.searchsorted(xa, t) - 1
            inside = m.clip(i, 0, n - 1)
            out = m.asarray(ya)[inside] + m.asarray(sa)[inside] * (t - m.asarray(xa)[inside])
            return m.where(i < 0, ys[0], m.where(i >= n - 1, ys[-1], out))

        return fn
