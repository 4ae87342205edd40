"""Where a fitted law can be trusted: its domain of validity, and what a prediction outside it gets.

The domain is what the pilot runs covered: their peak LRs, their length (the horizon), their warmups,
their lowest LR after warmup and the schedule convention their LRs were evaluated with.  It is stored
in every fit file.  A prediction or plan outside it gets one :class:`ExtrapolationWarning` per kind
(``peak_lr``, ``horizon``, ``warmup``, ``convention``; ``domain`` for a fit file written before
domains were stored).  Far outside -- a peak LR beyond 10x the pilots' range, a horizon beyond 30x the
longest pilot, or a predicted loss below the fitted ``L0`` or not finite (kind ``loss``) -- it is
refused with an :class:`ExtrapolationError` unless ``extrapolate=True`` (CLI: ``--extrapolate``).
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .areas import warmup_end
from .base import Curve, LawError

#: a peak LR more than this factor outside the pilots' range is refused
LR_FAR = 10.0
#: a horizon more than this many times the longest pilot is refused
HORIZON_FAR = 30.0
#: a schedule's warmup within this factor of the pilots' is theirs
WARMUP_FACTOR = 2.0
HINT = "give extrapolate=True (CLI: --extrapolate) to predict anyway"


class ExtrapolationWarning(UserWarning):
    """A prediction or plan outside the fit's domain of validity; ``kind`` says which part."""

    def __init__(self, message: str, kind: str = "domain") -> None:
        super().__init__(message)
        self.kind = kind


class ExtrapolationError(LawError):
    """A prediction or plan refused: far outside the fit's domain of validity (``kind`` says how)."""

    def __init__(self, message: str, kind: str = "domain") -> None:
        super().__init__(message)
        self.kind = kind


def warmup_steps(lr: np.ndarray) -> int:
    """Steps of a schedule's warmup: the ramp up to its peak, if the LR rises to it (0 if it starts there)."""
    lr = np.asarray(lr, dtype=float)
    peak_at = int(np.argmax(lr))
    warm = peak_at + 1 if peak_at > 0 else 0  # steps 0..peak_at ramp up
    return min(warm, warmup_end(lr))


def law_start(lr: np.ndarray) -> int:
    """The first step where the laws apply: the end of the warmup (the first step at the peak LR), and
    never before the first positive LR.  Before it the laws' area terms describe no real training (a
    warmup from LR ~0 predicts losses of hundreds), so predictions there are NaN."""
    lr = np.asarray(lr, dtype=float)
    first = int(np.argmax(lr > 0))
    return max(first, warmup_steps(lr) - 1)


@dataclass(frozen=True)
class Domain:
    """What the pilot runs of a fit covered."""

    lr_min: float  #: the lowest peak LR of the pilots
    lr_max: float  #: the highest
    horizon: int  #: steps of the longest pilot
    warmups: tuple[int, ...]  #: warmup steps of each pilot
    min_multiplier: float  #: the lowest LR after warmup relative to its pilot's peak, over the pilots
    convention: str | None = None  #: the convention the pilots' schedules were evaluated with (None: logged LRs)

    @classmethod
    def of_curves(cls, curves: Sequence[Curve], convention: str | None = None) -> "Domain":
        peaks = [float(c.lr.max()) for c in curves]
        mins = []
        for c, peak in zip(curves, peaks):
            after = c.lr[min(law_start(c.lr), c.lr.size - 1):]
            mins.append(max(0.0, float(after.min()) / peak))  # a rounding -0.0 or -1e-19 is no LR below 0
        return cls(min(peaks), max(peaks), max(int(c.lr.size) for c in curves),
                   tuple(warmup_steps(c.lr) for c in curves), min(mins), convention)

    def law_start(self) -> int:
        """The first step the pilots were fitted at: the end of the shortest pilot warmup (0 without one)."""
        return max(0, min(self.warmups, default=0) - 1)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["warmups"] = list(self.warmups)
        return d

    @classmethod
    def from_dict(cls, data: Mapping[str, Any] | None) -> "Domain | None":
        """The domain stored in a fit file; ``None`` for a file written before domains were stored."""
        if not data:
            return None
        try:
            d = dict(data)
            d["warmups"] = tuple(int(w) for w in d["warmups"])
            return cls(**d)
        except (KeyError, TypeError, ValueError) as exc:
            raise LawError(f"malformed domain in fit file ({exc})") from None


@dataclass(frozen=True)
class Finding:
    """One way a prediction leaves the domain: its kind, one line, and whether it is refused."""

    kind: str
    message: str
    far: bool = False


def _lr(x: float) -> str:
    return f"{x:.3g}"


def _times(ratio: float) -> str:
    """``1.5x``; a ratio just above 1 with the digits that tell it from 1 (``1.003x``, not ``1x``)."""
    text = f"{ratio:.3g}"
    digits = 3
    while float(text) == 1.0 and ratio != 1.0 and digits < 9:
        digits += 1
        text = f"{ratio:.{digits}g}"
    return f"{text}x"


def _peak(domain: Domain, peak_lr: float) -> Finding | None:
    lo, hi = domain.lr_min, domain.lr_max
    if lo * (1 - 1e-6) <= peak_lr <= hi * (1 + 1e-6):
        return None
    fitted = _lr(lo) if math.isclose(lo, hi, rel_tol=1e-6) else f"{_lr(lo)}..{_lr(hi)}"
    ratio = peak_lr / hi if peak_lr > hi else lo / peak_lr
    far = not (lo / LR_FAR * (1 - 1e-9) <= peak_lr <= hi * LR_FAR * (1 + 1e-9))
    return Finding("peak_lr", f"peak LR {_lr(peak_lr)} is {_times(ratio)} {'above' if peak_lr > hi else 'below'} the "
                   f"pilots' ({fitted}): the law does not model how the peak LR changes the loss"
                   + (f"; more than {LR_FAR:g}x is outside what the fit can predict" if far else ""), far)


def _horizon(domain: Domain, horizon: int) -> Finding | None:
    if horizon <= domain.horizon:
        return None
    ratio = horizon / domain.horizon
    far = ratio > HORIZON_FAR * (1 + 1e-9)
    return Finding("horizon", f"{horizon:,} steps is {_times(ratio)} the longest pilot ({domain.horizon:,} steps): the law "
                   "extrapolates in time" + (f"; more than {HORIZON_FAR:g}x is outside what the fit can predict" if far else ""), far)


def _warmup(domain: Domain, warmup: int, horizon: int) -> Finding | None:
    lo, hi = min(domain.warmups), max(domain.warmups)
    if hi == 0:
        if warmup <= 0.05 * horizon:
            return None
        return Finding("warmup", f"a warmup of {warmup:,} steps; the pilots had none")
    if horizon < lo:  # a run of lo steps reaches the end of a lo-step warmup (its last step is the first fitted)
        return Finding("warmup", f"the {horizon:,} steps end before the pilots' warmup of {lo:,} steps does: the fit "
                                 "saw no loss that early", far=True)
    if lo / WARMUP_FACTOR <= warmup <= hi * WARMUP_FACTOR:
        return None
    theirs = f"{lo:,}" if lo == hi else f"{lo:,}..{hi:,}"
    what = "no warmup" if warmup == 0 else f"a warmup of {warmup:,} steps"
    return Finding("warmup", f"{what}; the pilots warmed up for {theirs} steps")


def _convention(domain: Domain, convention: str | None) -> Finding | None:
    if domain.convention is None or convention is None or convention == domain.convention:
        return None
    return Finding("convention", f"schedule evaluated with convention {convention!r}, the pilots' with "
                   f"{domain.convention!r}")


UNKNOWN = Finding("domain", "the fit file has no domain of validity (written by an older lrkit): this prediction is "
                  "not checked against the pilots' peak LR, horizon and warmup; refit to store it")


def check_schedule(domain: Domain | None, *, peak_lr: float, horizon: int, warmup: int | None = None,
                   convention: str | None = None) -> list[Finding]:
    """How a schedule with this peak LR, length (steps), warmup and convention leaves the domain."""
    if domain is None:
        return [UNKNOWN]
    found = [_peak(domain, float(peak_lr)), _horizon(domain, int(horizon)),
             None if warmup is None else _warmup(domain, int(warmup), int(horizon)), _convention(domain, convention)]
    return [f for f in found if f is not None]


def check_losses(values: np.ndarray, steps: np.ndarray, floor: float | None, what: str = "") -> list[Finding]:
    """A predicted loss that is not finite, or below the fitted irreducible loss ``floor`` (``L0``)."""
    values = np.asarray(values, dtype=float)
    bad = ~np.isfinite(values) | ((values < floor) if floor is not None else False)
    if not bad.any():
        return []
    i = int(np.nonzero(bad)[0][0])
    v = values[i]
    digits = next((d for d in range(4, 17) if f"{v:.{d}g}" != f"{floor:.{d}g}"), 17)  # as many as tell them apart
    how = ("not a finite number" if not np.isfinite(v) else
           f"{v:.{digits}g}, below the fitted irreducible loss L0={floor:.{digits}g}")
    return [Finding("loss", f"the predicted loss{' of ' + what if what else ''} at step {int(steps[i]):,} is {how}: "
                            "the schedule is outside what the fit can predict", True)]


def settle(findings: Sequence[Finding], extrapolate: bool = False, stacklevel: int = 3) -> dict[str, str]:
    """Refuse the first far finding (unless ``extrapolate``), else warn once per kind; returns
    ``{kind: message}`` of the warnings, for the record (JSON output, ``Prediction.warnings``)."""
    if not extrapolate:
        for f in findings:
            if f.far:
                others = list(dict.fromkeys(g.kind for g in findings if g.kind != f.kind))
                also = f" (also outside the fit's domain: {', '.join(others)})" if others else ""
                raise ExtrapolationError(f"{f.message}{also}; {HINT}", f.kind)
    out: dict[str, str] = {}
    for f in findings:
        if f.kind not in out:
            out[f.kind] = f.message
            warnings.warn(ExtrapolationWarning(f.message, f.kind), stacklevel=stacklevel)
    return out
