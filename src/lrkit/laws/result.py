"""A fitted law and its JSON file format; the registry of laws (:data:`LAW_NAMES`, :func:`get_law`)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np

from ..schedules.validate import clip_path
from .base import Law, LawError
from .bound import ConvexBoundLaw
from .domain import Domain
from .figures import draw
from .fit_file import check_fields
from .fsl import FunctionalScalingLaw
from .itmpl import IntrinsicTimeMPL
from .lra import LRALaw
from .multipower import IntrinsicClockMPL, MultiPowerLaw
from .profile import check_profile, describe

LAW_NAMES = ("multipower", "multipower-it", "lra", "mpl-it", "fsl", "bound")
#: the laws that take no options
_PLAIN = {"mpl-it": IntrinsicTimeMPL, "fsl": FunctionalScalingLaw}
#: the laws that take one option: ``{name: (class, option)}`` (the multi-power laws' ``warmup``, chosen
#: per fit by forward-chaining CV; the bound's free last weight ``last``; the LR-annealing law's memory ``lam``)
_ONE_OPTION = {"multipower": (MultiPowerLaw, "warmup"), "multipower-it": (IntrinsicClockMPL, "warmup"),
               "bound": (ConvexBoundLaw, "last"), "lra": (LRALaw, "lam")}
#: a fit describes its pilots when every pilot has R² at least this ...
MIN_R2 = 0.9
#: ... and no logged loss is off by more than this relative error
MAX_ERROR = 0.5


def get_law(name: str, **options: Any) -> Law:
    """The law called ``name`` (one of :data:`LAW_NAMES`); ``options`` go to its constructor."""
    if name in _PLAIN:
        if options:
            raise LawError(f"law {name!r} takes no options, got {sorted(options)}")
        return _PLAIN[name]()
    if name in _ONE_OPTION:
        cls, option = _ONE_OPTION[name]
        extra = sorted(set(options) - {option})
        if extra:
            raise LawError(f"law {name!r} takes only the option {option!r}, got {extra}")
        try:
            return cls(**options)
        except ValueError as exc:
            raise LawError(str(exc)) from None
    raise LawError(f"unknown law {name!r}; valid laws: {', '.join(LAW_NAMES)}")


def options_of(law: Law) -> dict[str, Any] | None:
    """The options that rebuild ``law`` with :func:`get_law` (stored in a fit file); ``None`` for a law
    not in the registry."""
    if isinstance(law, LRALaw):
        return {"lam": law.lam}
    if isinstance(law, (MultiPowerLaw, ConvexBoundLaw)):
        return dict(law.options)
    if isinstance(law, tuple(_PLAIN.values())):
        return {}
    return None


@dataclass
class FitResult:
    """A fitted law: parameters, fit quality per run and bootstrap parameter samples for bands."""

    law: str
    params: dict[str, float]
    runs: list[str]
    law_options: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    param_samples: list[list[float]] = field(default_factory=list)
    band_level: float = 0.9
    band_method: str = "linearised moving-block residual bootstrap"
    huber_delta: float = 1e-3
    warmup: int = 0
    peak_lr: float = 0.0
    totals: list[int] = field(default_factory=list)
    rank: int = 0
    #: model-error scale from the forward hold-out: relative error ``a + b * log(t / horizon)``
    #: (``log`` term only beyond ``horizon``, the last fitted step); empty: no model error in bands
    model_error: dict[str, float] = field(default_factory=dict)
    #: weight of the shrinkage toward the simplified-law initialisation used by the fit
    shrink: float = 0.0
    #: the forward-chaining cross-validation that chose the configuration (empty: none was run)
    selection: dict[str, Any] = field(default_factory=dict)
    #: parameters held at given values instead of fitted (``fit(..., fixed=...)``)
    fixed: dict[str, float] = field(default_factory=dict)
    #: what the fit left out of the runs, one line each (e.g. losses logged before any positive LR)
    notes: list[str] = field(default_factory=list)
    #: parameters the fitted runs do not determine, name -> reason (:func:`lrkit.laws.identify.undetermined`);
    #: their intervals are not measurements (:meth:`interval`)
    flags: dict[str, str] = field(default_factory=dict)
    #: False for a fit file written before the flags were stored: which parameters its pilots do not
    #: determine is not known, so no interval of it is called a measurement (:meth:`interval`)
    flags_checked: bool = True
    cost: float = 0.0
    seconds: float = 0.0
    #: the domain of validity (:class:`lrkit.laws.domain.Domain` as a dict); empty: an older fit file
    domain: dict[str, Any] = field(default_factory=dict)
    #: the logged column that was fitted (``loss`` or ``val_loss``)
    target: str = "loss"
    #: fitted parameters that ended at a bound of their range (the pilots push them out of it)
    at_bounds: list[str] = field(default_factory=list)
    #: each pilot's logged and fitted loss, thinned to at most 300 points (for figures and summaries)
    pilots: dict[str, dict[str, list[float]]] = field(default_factory=dict)
    #: what the pilots allow for an undetermined shape parameter: refits with it held on a grid
    #: (:func:`lrkit.laws.profile.profile_fits`; empty: none was made)
    profile: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.law == "bound" and isinstance(self.law_options, dict) and "last" not in self.law_options:
            self.law_options = {**self.law_options, "last": "previous"}  # the bound's default, written out

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v:.4g}" for k, v in self.params.items())
        return f"FitResult({self.law}, {self.target} of {len(self.runs)} run{'s' * (len(self.runs) != 1)}: {params})"

    @property
    def validity(self) -> Domain | None:
        """The domain of validity (``None`` for a fit file written before domains were stored)."""
        return Domain.from_dict(self.domain)

    def problems(self) -> list[str]:
        """Why the fit does not describe its pilots, one line per pilot (empty: it does): R² below
        :data:`MIN_R2` or a relative error above :data:`MAX_ERROR`."""
        out = []
        for name, m in self.metrics.items():
            r2, worst = m.get("r2", float("nan")), m.get("max_rel_error", 0.0)
            why = []
            if np.isfinite(r2) and r2 < MIN_R2:
                why.append(f"R² {r2:.3g} < {MIN_R2:g}")
            if worst > MAX_ERROR:
                why.append(f"max error {100 * worst:.3g}% > {100 * MAX_ERROR:g}%")
            if why:
                out.append(f"run {name!r}: {', '.join(why)}")
        return out

    def summary(self) -> str:
        """A few lines: the law, its parameters (bounds, fixed and undetermined ones marked), the fit quality
        per pilot, its domain, its problems and its notes (the losses it left out of the runs)."""
        lines = [f"{self.law_obj.title or self.law} fitted to the {self.target} of {', '.join(self.runs)}"]
        flags = getattr(self, "flags", None) or {}
        for k, v in self.params.items():
            marks = [m for m, on in (("fixed", k in self.fixed), ("at a bound", k in self.at_bounds)) if on]
            extra = flags.get(k) if isinstance(flags, dict) else None
            marks += [str(extra)] if extra else []
            lines.append(f"  {k:>6} = {v:.5g}" + (f"  ({', '.join(marks)})" if marks else ""))
        for name, m in self.metrics.items():
            lines.append(f"  {name}: {m['points']} points, mean |err| {100 * m['mean_rel_error']:.3f}%, "
                         f"max {100 * m['max_rel_error']:.3f}%, R² {m['r2']:.4f}")
        d = self.validity
        if d is None:
            lines.append("  domain: unknown (older fit file)")
        else:
            lr = f"{d.lr_min:.3g}" if d.lr_min == d.lr_max else f"{d.lr_min:.3g}..{d.lr_max:.3g}"
            lines.append(f"  domain: peak LR {lr}, up to {d.horizon:,} steps, warmup "
                         f"{'/'.join(f'{w:,}' for w in sorted(set(d.warmups)))}"
                         + (f", convention {d.convention}" if d.convention else ""))
        lines += [f"  problem: {p}" for p in self.problems()]
        lines += [f"  note: {n}" for n in self.notes]
        if self.profile:
            lines.append(f"  what the pilots allow: {describe(self.profile)} (plan: the cooldown each plans)")
        if not self.flags_checked:
            lines.append("  flags: not checked (an older fit file: which parameters the pilots determine is not "
                         "known; refit to know)")  # what the fit left out of the runs, and why
        return "\n".join(lines)

    def plot(self, ax=None, **kw):
        """The pilots' logged loss (dots) and the fitted law (lines); matplotlib, returns the axes."""
        return draw("fit", self, ax=ax, **kw)

    @property
    def theta(self) -> np.ndarray:
        return np.array([self.params[n] for n in self.law_obj.param_names])

    @property
    def law_obj(self) -> Law:
        return get_law(self.law, **self.law_options)

    def interval(self, name: str) -> tuple[float, float] | str:
        """The ``band_level`` bootstrap interval of parameter ``name``, or why there is none:
        ``"fixed"``, ``"not determined"`` (flagged in :attr:`flags`), ``"not checked (older fit file)"`` (a
        file without flags: refit to know), ``"no bootstrap"`` (fewer than two
        resamples: one resample has no spread, and its value is not an interval around the estimate)."""
        if name not in self.params:
            raise LawError(f"no parameter {name!r}; the fit has {', '.join(self.params)}")
        if name in self.fixed:
            return "fixed"
        if name in self.flags:
            return "not determined"
        if not self.flags_checked:
            return "not checked (older fit file)"
        if len(self.param_samples) < 2:
            return "no bootstrap"
        q = (1 - self.band_level) / 2
        col = np.asarray(self.param_samples)[:, list(self.params).index(name)]
        return float(np.quantile(col, q)), float(np.quantile(col, 1 - q))

    def to_json(self, path: str | Path | None = None) -> str:
        """JSON text of the fit (also written to ``path`` if given)."""
        text = json.dumps({"lrkit_fit": 1, **asdict(self)}, indent=1)
        if path is not None:
            Path(path).write_text(text)
        return text

    @classmethod
    def from_json(cls, text_or_path: str | Path) -> "FitResult":
        """Read a fit from JSON text or a file written by :meth:`to_json`."""
        src = str(text_or_path)
        try:
            text = Path(src).read_text() if not src.lstrip().startswith("{") else src
        except OSError as exc:
            raise LawError(f"{src}: cannot read fit file ({exc.strerror})") from None
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise LawError(f"{clip_path(src)}: not a JSON fit file ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, dict) or "lrkit_fit" not in data:
            raise LawError(f"{clip_path(src)}: not an lrkit fit file (no 'lrkit_fit' marker)")
        version = data.pop("lrkit_fit")
        if type(version) is not int or version != 1:
            raise LawError(f"{clip_path(src)}: fit file version {version!r}; this lrkit reads version 1 (refit, "
                           "or use the lrkit that wrote it)")
        if "flags" not in data:  # written before the flags were stored: not known, not "none"
            data["flags_checked"] = False
        options = data.get("law_options", {})
        if data.get("law") == "bound" and isinstance(options, dict) and "last" not in options:
            data["law_options"] = {**options, "last": "schedule"}  # written before the option: the reference's weight
        try:
            missing = [k for k in ("law", "params", "runs") if k not in data]
            if missing:
                raise LawError(f"it lacks {', '.join(repr(k) for k in missing)}")
            unknown = sorted(set(data) - {f.name for f in fields(cls)})
            if unknown:
                raise LawError(f"unknown field {unknown[0]!r}")
            if not isinstance(data["law"], str):
                raise LawError(f"law must be a law's name, got {data['law']!r}")
            if not isinstance(data.get("law_options", {}), dict):
                raise LawError("law_options must be an object: option -> value")
            law = get_law(data["law"], **data.get("law_options", {}))
            check_fields(data, law)
            fit = cls(**data)
            check_profile(fit.profile, law)
        except LawError as exc:
            raise LawError(f"{clip_path(src)}: malformed fit file ({exc})") from None
        return fit
