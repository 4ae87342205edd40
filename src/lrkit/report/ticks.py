"""Round ticks and short tick labels, for figures and the terminal plot: ``0, 2k, 4k, 6k`` steps,
``0, 1e-4, 2e-4, 3e-4`` for LRs, one notation per axis (nice numbers: Heckbert, Graphics Gems, 1990).
No matplotlib here: :func:`formatter` builds one for an axis when asked."""

from __future__ import annotations

import math
from collections.abc import Sequence

#: tick spacings, times a power of ten
NICE = (1.0, 2.0, 2.5, 5.0, 10.0)
_SUFFIXES = [(1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """At most ``count`` round positions in ``[lo, hi]``, as many as fit, evenly spaced by 1, 2, 2.5 or 5
    times a power of ten (``nice_ticks(0, 7499)`` is ``[0, 2000, 4000, 6000]``)."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError(f"ticks need a finite range; got {lo!r} .. {hi!r}")
    if hi <= lo:
        return [_clean(lo)]
    mag = 10.0 ** math.floor(math.log10((hi - lo) / max(count, 1)))
    for step in (m * mag * 10 ** k for k in range(3) for m in NICE[:-1]):  # the finest spacing that fits
        first, last = math.ceil(lo / step - 1e-9), math.floor(hi / step + 1e-9)
        if last - first + 1 <= count:
            return [_clean(k * step) for k in range(first, last + 1)]
    return [_clean(lo), _clean(hi)]  # (not reached: a spacing of the whole range fits)


def _clean(x: float) -> float:
    """``x`` without float noise (``3 * 0.1`` is ``0.3``), and ``0.0`` not ``-0.0``."""
    return float(f"{x:.12g}") + 0.0


def count_label(x: float) -> str:
    """A step count in a few characters: ``750``, ``7.5k``, ``10k``, ``1.2M``."""
    if x == 0:
        return "0"
    for size, suffix in _SUFFIXES:
        if abs(x) >= size:
            return f"{_clean(x / size):g}{suffix}"
    return f"{_clean(x):g}"


def value_labels(ticks: Sequence[float]) -> list[str]:
    """Labels for LR-like values, one notation for the whole axis: plain (``0.25``, ``0.5``) when every
    tick reads short that way, else powers of ten (``1e-6``, ``2.5e-4``); ``0`` is always ``0``."""
    nonzero = [abs(t) for t in ticks if t != 0]
    plain = not nonzero or (min(nonzero) >= 1e-3 and max(nonzero) < 1e5)
    return [_plain(t) if plain else _sci(t) for t in ticks]


def _plain(x: float) -> str:
    return "0" if x == 0 else f"{_clean(x):.6g}"


def _sci(x: float) -> str:
    if x == 0:
        return "0"
    mantissa, exponent = f"{_clean(x):.6e}".split("e")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}e{int(exponent)}"


def formatter(kind: str):
    """A matplotlib tick formatter: ``"count"`` (steps: ``7.5k``) or ``"value"`` (LRs, one notation per
    axis)."""
    from matplotlib.ticker import Formatter

    class _Round(Formatter):
        def __call__(self, x, pos=None):
            return count_label(x) if kind == "count" else value_labels([x])[0]

        def format_ticks(self, values):
            return [count_label(x) for x in values] if kind == "count" else value_labels(list(values))

    return _Round()
