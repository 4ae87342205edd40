"""What a fit file may hold: every field's type and range, checked when a file is read.

A fit file is JSON that anyone can edit, and predict and plan compute with every number in it.  A
value out of its range (a negative exponent, a band level of 5, a warmup of 10^12 steps, a string
where a number belongs) would give nonsense or a traceback downstream, so :func:`check_fields`
refuses it here with the field's name (``params.alpha must be a finite number in [0.001, 3], got
-0.5``).  The ranges are those a fit can write: the law's own parameter ranges (``Law.bounds``),
the run-length limit of :mod:`lrkit.runs`.
"""

from __future__ import annotations

import math
from typing import Any, Mapping

from ..runs.base import MAX_STEPS
from ..errors import SpecError
from ..schedules.conventions import get_convention
from .base import Law, LawError


def _shown(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _number(value: Any, name: str, lo: float = -math.inf, hi: float = math.inf, *, open_lo: bool = False,
            open_hi: bool = False) -> float:
    """``value`` as a float, or a :class:`LawError` naming ``name`` and the range."""
    ok = isinstance(value, (int, float)) and not isinstance(value, bool)
    if ok:
        try:
            x = float(value)
        except OverflowError:  # an integer of hundreds of digits
            ok = False
    if ok:
        ok = math.isfinite(x) and (x > lo if open_lo else x >= lo) and (x < hi if open_hi else x <= hi)
    if not ok:
        where = "" if (lo, hi) == (-math.inf, math.inf) else \
            f" in {'(' if open_lo else '['}{lo:g}, {'∞' if hi == math.inf else f'{hi:g}'}{')' if open_hi or hi == math.inf else ']'}"
        raise LawError(f"{name} must be a finite number{where}, got {_shown(value)}")
    return x


def _integer(value: Any, name: str, lo: int = 0, hi: int = MAX_STEPS) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise LawError(f"{name} must be a whole number in [{lo:,}, {hi:,}], got {_shown(value)}")
    return value


def _kind(value: Any, name: str, kind: type, what: str) -> Any:
    if not isinstance(value, kind) or isinstance(value, bool) and kind is not bool:
        raise LawError(f"{name} must be {what}, got {_shown(value)}")
    return value


def _names(value: Any, name: str, allowed: Mapping[str, Any] | list[str]) -> None:
    """``value`` a list of strings, each one of ``allowed``."""
    _kind(value, name, list, "a list of parameter names")
    bad = [v for v in value if not isinstance(v, str) or v not in allowed]
    if bad:
        raise LawError(f"{name} names {_shown(bad[0])}, not a parameter of the law")


def check_params(params: Any, law: Law) -> None:
    """``params``: exactly the law's parameters, each a finite number within the law's range."""
    _kind(params, "params", dict, "an object of parameter values")
    missing = [n for n in law.param_names if n not in params]
    if missing:
        raise LawError(f"params lacks {', '.join(missing)} (the {law.name} law has {', '.join(law.param_names)})")
    extra = [n for n in params if n not in law.param_names]
    if extra:
        raise LawError(f"params has {_shown(extra[0])}, not a parameter of the {law.name} law "
                       f"({', '.join(law.param_names)})")
    lo, hi = law.bounds(math.inf)
    for i, n in enumerate(law.param_names):
        _number(params[n], f"params.{n}", float(lo[i]), float(hi[i]))


def check_model_error(me: Any) -> None:
    """The band's calibration: empty, or ``a, b >= 0``, ``horizon > 0`` (``points``, ``quantile`` optional)."""
    _kind(me, "model_error", dict, "an object (the band's calibration)")
    if not me:
        return
    for key in ("a", "b", "horizon"):
        if key not in me:
            raise LawError(f"model_error lacks {key!r}")
    _number(me["a"], "model_error.a", 0.0)
    _number(me["b"], "model_error.b", 0.0)
    _number(me["horizon"], "model_error.horizon", 0.0, open_lo=True)
    if "points" in me:
        _integer(me["points"], "model_error.points", 0, 10**12)
    if "quantile" in me:
        _number(me["quantile"], "model_error.quantile", 0.0, 1.0, open_lo=True, open_hi=True)


def check_domain(domain: Any) -> None:
    """The pilots' domain of validity: empty (an older file) or every field in its range."""
    _kind(domain, "domain", dict, "an object (the pilots' domain of validity)")
    if not domain:
        return
    need = ("lr_min", "lr_max", "horizon", "warmups", "min_multiplier")
    missing = [k for k in need if k not in domain]
    if missing:
        raise LawError(f"domain lacks {', '.join(missing)}")
    extra = [k for k in domain if k not in need + ("convention",)]
    if extra:
        raise LawError(f"domain has {_shown(extra[0])}, not a field of a domain ({', '.join(need)}, convention)")
    lr_min = _number(domain["lr_min"], "domain.lr_min", 0.0, open_lo=True)
    _number(domain["lr_max"], "domain.lr_max", lr_min)
    _integer(domain["horizon"], "domain.horizon", 1)
    if not isinstance(domain["warmups"], list) or not domain["warmups"]:
        raise LawError(f"domain.warmups must be a list of step counts, one per pilot, got {_shown(domain['warmups'])}")
    for w in domain["warmups"]:
        _integer(w, "domain.warmups", 0, domain["horizon"])
    _number(domain["min_multiplier"], "domain.min_multiplier", 0.0, 1.0)
    conv = domain.get("convention")
    if conv is not None:
        _kind(conv, "domain.convention", str, "a convention's name")
        try:
            get_convention(conv)
        except SpecError as exc:  # not a preset
            raise LawError(f"domain.{exc}") from None


def check_fields(data: Mapping[str, Any], law: Law) -> None:
    """Raise :class:`LawError` naming the first field of a fit file's ``data`` (``FitResult`` fields)
    that is not of its type or in its range; ``law`` is the file's law with its options."""
    check_params(data["params"], law)
    n = len(law.param_names)
    runs = _kind(data["runs"], "runs", list, "a list of run names")
    if not runs or not all(isinstance(r, str) and r for r in runs):
        raise LawError(f"runs must be a non-empty list of run names, got {_shown(runs)}")
    samples = _kind(data.get("param_samples", []), "param_samples", list, "a list of parameter rows")
    for row in samples:
        if not isinstance(row, list) or len(row) != n:
            raise LawError(f"param_samples must be rows of {n} numbers (one per parameter), got {_shown(row)}")
        for x in row:
            _number(x, "param_samples")
    _number(data.get("band_level", 0.9), "band_level", 0.0, 1.0, open_lo=True, open_hi=True)
    _kind(data.get("band_method", ""), "band_method", str, "text")
    _number(data.get("huber_delta", 1e-3), "huber_delta", 0.0, open_lo=True)
    _integer(data.get("warmup", 0), "warmup")
    _number(data.get("peak_lr", 0.0), "peak_lr", 0.0)
    totals = _kind(data.get("totals", []), "totals", list, "a list of step counts")
    for t in totals:
        _integer(t, "totals", 1)
    _integer(data.get("rank", 0), "rank", 0, n)
    check_model_error(data.get("model_error", {}))
    _number(data.get("shrink", 0.0), "shrink", 0.0)
    _kind(data.get("selection", {}), "selection", dict, "an object")
    fixed = _kind(data.get("fixed", {}), "fixed", dict, "an object of parameter values")
    _names(list(fixed), "fixed", law.param_names)
    for k, v in fixed.items():
        _number(v, f"fixed.{k}")
    notes = _kind(data.get("notes", []), "notes", list, "a list of lines")
    if not all(isinstance(x, str) for x in notes):
        raise LawError("notes must be a list of lines of text")
    flags = _kind(data.get("flags", {}), "flags", dict, "an object: parameter -> why it is not determined")
    _names(list(flags), "flags", law.param_names)
    for k, why in flags.items():
        if not isinstance(why, str):
            raise LawError(f"flags.{k} must be text (why the pilots do not determine it), got {_shown(why)}")
    _kind(data.get("flags_checked", True), "flags_checked", bool, "true or false")
    _number(data.get("cost", 0.0), "cost", 0.0)
    _number(data.get("seconds", 0.0), "seconds", 0.0)
    check_domain(data.get("domain", {}))
    if not isinstance(data.get("target", "loss"), str) or not data.get("target", "loss"):
        raise LawError(f"target must be the name of the fitted column, got {_shown(data.get('target'))}")
    _names(data.get("at_bounds", []), "at_bounds", law.param_names)
    _kind(data.get("metrics", {}), "metrics", dict, "an object: run -> fit quality")
    _kind(data.get("pilots", {}), "pilots", dict, "an object: run -> logged and fitted loss")
