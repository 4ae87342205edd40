"""What the demo found, in numbers and in one sentence.

Per schedule: the law's predicted final validation loss (with its band) and the realised one of every
seed.  From these: the prediction error of each schedule (predicted against the seeds' mean), the
predicted and the realised ranking, and the planned schedule against the best standard schedule --
the mean difference over the seeds against its standard error.  With matched seeds (seed ``s`` of
every schedule starts from the same initialisation and sees the same batches) the difference is
taken per seed (paired); otherwise the two means' standard errors add in quadrature.  A difference is
*beyond seed noise* when it exceeds the two-sided 95% critical value of Student's t times its
standard error (4.30 for 3 paired seeds), else *within noise*.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np

#: the demo's promise: every final validation loss predicted within this relative error
TOLERANCE = 0.02
#: confidence of the "beyond seed noise" test (two-sided)
LEVEL = 0.95


@dataclass(frozen=True)
class ScheduleResult:
    """One schedule at the budget: the law's prediction and the realised final loss of each seed."""

    schedule: str
    planned: bool
    predicted: float
    lower: float
    upper: float
    finals: tuple[float, ...]
    seeds: tuple[int, ...]
    name: str = ""  # how the schedule is named in words (default: its spec)

    @property
    def label(self) -> str:
        return self.name or self.schedule

    @property
    def mean(self) -> float:
        v = np.asarray(self.finals, dtype=float)
        return float(v.mean()) if v.size and np.all(np.isfinite(v)) else math.nan

    @property
    def sd(self) -> float:
        v = np.asarray(self.finals, dtype=float)
        return float(v.std(ddof=1)) if v.size > 1 and np.all(np.isfinite(v)) else math.nan

    @property
    def error(self) -> float:
        """Relative prediction error against the seeds' mean (positive: predicted too high)."""
        return self.predicted / self.mean - 1.0 if math.isfinite(self.mean) and self.mean > 0 else math.nan

    def to_dict(self) -> dict[str, Any]:
        return {"schedule": self.schedule, "name": self.label, "planned": self.planned, "predicted": self.predicted,
                "lower": self.lower, "upper": self.upper, "finals": list(self.finals), "seeds": list(self.seeds),
                "mean": self.mean, "sd": self.sd, "error": self.error}


@dataclass(frozen=True)
class Comparison:
    """The planned schedule minus the best standard one: mean difference, its standard error, and the
    critical value it is judged against."""

    planned: str
    standard: str
    difference: float
    se: float
    n: int
    paired: bool
    critical: float

    @property
    def t(self) -> float:
        return self.difference / self.se if self.se > 0 else math.copysign(math.inf, self.difference)

    @property
    def beyond_noise(self) -> bool:
        return self.n >= 2 and math.isfinite(self.difference) and abs(self.t) > self.critical


def compare(plan: ScheduleResult, std: ScheduleResult, level: float = LEVEL) -> Comparison:
    """``plan`` against ``std`` over their seeds (paired when the seeds match)."""
    from scipy.stats import t as student_t  # lazy: the report layer needs scipy only here

    a, b = np.asarray(plan.finals, dtype=float), np.asarray(std.finals, dtype=float)
    paired = sorted(plan.seeds) == sorted(std.seeds) and len(set(plan.seeds)) == len(plan.seeds)
    if paired:
        order_a, order_b = np.argsort(plan.seeds), np.argsort(std.seeds)
        d = a[order_a] - b[order_b]
        n = d.size
        se = float(d.std(ddof=1) / math.sqrt(n)) if n > 1 else math.nan
        df = n - 1
    else:
        n = min(a.size, b.size)
        se = float(math.hypot(a.std(ddof=1) / math.sqrt(a.size), b.std(ddof=1) / math.sqrt(b.size))) if n > 1 else math.nan
        df = n - 1  # conservative (Welch's df is at least this)
    crit = float(student_t.ppf(0.5 + level / 2, df)) if df >= 1 else math.inf
    return Comparison(plan.label, std.label, float(a.mean() - b.mean()), se, n, paired, crit)


@dataclass(frozen=True)
class Story:
    """The demo's results and what they say."""

    rows: tuple[ScheduleResult, ...]  # best realised first; those without a realised mean last
    comparison: Comparison | None
    tolerance: float = TOLERANCE

    @property
    def ran(self) -> list[ScheduleResult]:
        """The schedules with a final validation loss from every seed."""
        return [r for r in self.rows if math.isfinite(r.mean)]

    @property
    def unfinished(self) -> list[ScheduleResult]:
        """The schedules without one (no finished run, or a seed that diverged)."""
        return [r for r in self.rows if not math.isfinite(r.mean)]

    @property
    def realised_ranking(self) -> list[str]:
        return [r.label for r in self.ran]

    @property
    def predicted_ranking(self) -> list[str]:
        return [r.label for r in sorted(self.ran, key=lambda r: r.predicted)]

    @property
    def ranking_agrees(self) -> bool:
        return self.realised_ranking == self.predicted_ranking

    @property
    def misses(self) -> list[ScheduleResult]:
        """The schedules with a realised loss predicted outside the tolerance."""
        return [r for r in self.ran if not abs(r.error) <= self.tolerance]

    @property
    def planned_rank(self) -> int:
        return next((i + 1 for i, r in enumerate(self.ran) if r.planned), 0)

    def sentence(self) -> str:
        """The conclusion in one sentence: the plan against the best standard schedule (beyond or within
        seed noise), then the prediction accuracy and the ranking."""
        if not self.ran:
            return ("No schedule has a final validation loss from every seed, so the law's predictions are "
                    "not checked.")
        text = f"{self.verdict()}; {self.accuracy()} and {self.ranking()}."
        return text[0].upper() + text[1:]

    def accuracy(self) -> str:
        tol = f"{self.tolerance * 100:g}%"
        which = "every schedule's final validation loss" if not self.unfinished else \
            f"the final validation loss of the {len(self.ran)} finished schedules"
        if not self.misses:
            worst = max(self.ran, key=lambda r: abs(r.error))
            text = (f"the law predicted {which} within {tol} "
                    f"(largest error {worst.error * 100:+.1f}%, {worst.label})")
        else:
            missed = ", ".join(f"{r.label} {r.error * 100:+.1f}%" for r in self.misses)
            text = (f"the law's prediction missed by more than {tol} for {len(self.misses)} of {len(self.ran)} "
                    f"schedules ({missed})")
        if self.unfinished:
            text += f" ({', '.join(r.label for r in self.unfinished)}: no final loss from every seed)"
        return text

    def ranking(self) -> str:
        if self.ranking_agrees:
            return "ranked the schedules in the realised order"
        return f"ranked them {' < '.join(self.predicted_ranking)} where training gave {' < '.join(self.realised_ranking)}"

    def verdict(self) -> str:
        c = self.comparison
        if c is None:
            plan = next((r for r in self.rows if r.planned), None)
            return ("there was no planned schedule to compare" if plan is None else
                    f"the planned schedule, {plan.label}, has no standard schedule to compare with" if plan in self.ran
                    else f"the planned schedule, {plan.label}, has no final loss from every seed")
        place = ORDINALS.get(self.planned_rank, f"#{self.planned_rank}")
        head = f"the planned schedule, {c.planned}, finished {place} of {len(self.ran)}"
        seeds = f"{c.n} {'paired ' if c.paired else ''}seed{'s' if c.n != 1 else ''}"
        if c.n < 2 or not math.isfinite(c.se):
            return f"{head}, {c.difference:+.4f} against {c.standard} on {seeds}: too few seeds to tell from noise"
        gap = f"{c.difference:+.4f} ± {c.se:.4f} (standard error over {seeds})"
        if not c.beyond_noise:
            return f"{head}, {gap} against the best standard schedule, {c.standard}: within seed noise"
        how = "beat" if c.difference < 0 else "lost to"
        return f"{head} and {how} the best standard schedule, {c.standard}, by {gap}: beyond seed noise"


ORDINALS = {1: "first", 2: "second", 3: "third", 4: "fourth", 5: "fifth", 6: "sixth"}


def tell(rows: Iterable[ScheduleResult], tolerance: float = TOLERANCE, level: float = LEVEL) -> Story:
    """The story of ``rows``: sorted by realised mean, and the planned schedule against the best
    standard one (the standard schedule with the lowest realised mean)."""
    ordered = tuple(sorted(rows, key=lambda r: r.mean if math.isfinite(r.mean) else math.inf))
    if not ordered:
        raise ValueError("the demo's story needs at least one schedule")
    ran = [r for r in ordered if math.isfinite(r.mean)]
    plan = next((r for r in ran if r.planned), None)
    std = next((r for r in ran if not r.planned), None)
    comp = compare(plan, std, level) if plan is not None and std is not None else None
    return Story(ordered, comp, tolerance)


def schedule_name(spec: str) -> str:
    """A schedule in a few words: ``cosine``, ``linear``, ``WSD 20% 1-sqrt``, ``WSD 28% linear to 0.1``
    (the spec itself for anything else)."""
    from ..spec import parse

    try:
        s = parse(spec)
    except ValueError:
        return spec
    floor = getattr(s, "floor", 0.0) or getattr(s, "end", 0.0) or 0.0
    tail = f" to {floor:g}" if floor else ""
    if s.family == "wsd":
        return f"WSD {s.decay:.0%} {s.form}{tail}"
    if s.family in ("cosine", "linear", "constant"):
        return s.family + tail
    return spec


def results_from(curves: Sequence[Mapping[str, Any]], finals: Mapping[str, Sequence[tuple[int, float]]]) -> list[ScheduleResult]:
    """Schedule results from the stored prediction curves (``label``, ``planned``, ``loss``, ``lower``,
    ``upper``) and the realised ``(seed, final validation loss)`` pairs per label."""
    out = []
    for c in curves:
        got = sorted(finals.get(c["label"], ()))
        out.append(ScheduleResult(c["label"], bool(c.get("planned")), float(c["loss"][-1]), float(c["lower"][-1]),
                                  float(c["upper"][-1]), tuple(float(v) if v is not None else math.nan for _, v in got),
                                  tuple(int(s) for s, _ in got), schedule_name(c["label"])))
    return out
