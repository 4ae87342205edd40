"""What a schedule does over a run, in numbers: peak, final, area under the LR curve, phases."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from .errors import SpecError
from .schedules import Phase, Schedule
from .schedules import validate as v
from .schedules.conventions import Convention, get_convention
from .schedules.spec import parse


@dataclass(frozen=True)
class Summary:
    spec: str
    total: int
    lr: float | None
    convention: str
    peak: float
    peak_step: int
    final: float
    first: float
    mean: float
    area: float
    phases: tuple[Phase, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        d["phases"] = [{"start": p.start, "end": p.end, "label": p.label} for p in self.phases]
        return d


def summarize(schedule: str | dict | Schedule, total: int, lr: float | None = None,
              convention: str | Convention | None = None, values: np.ndarray | None = None) -> Summary:
    """Peak (and where), first and final values, mean, and the area under the LR curve (the sum of the
    LR over the run's steps, the "forward area" S1 of Tissue et al. 2024), in absolute terms when ``lr``
    is given, else as multipliers."""
    s = parse(schedule)
    total = v.total_steps(total)
    conv = get_convention(convention)
    if lr is not None:
        lr = v.number("show", "lr", lr, lo=0.0, lo_open=True)
    base = s.sample(total, conv) if values is None else values
    with np.errstate(over="ignore", invalid="ignore"):
        y = base * (1.0 if lr is None else lr)
        area = float(y.sum())
    if not math.isfinite(area):  # finite multipliers, but lr times them (or their sum) exceeds the largest float
        top = float(np.max(base))
        what = f"lr={lr:g} times multipliers up to {top:g}" if lr is not None else f"multipliers up to {top:g}"
        raise SpecError(f"{s}: {what} over {total:,} steps overflow the largest float; expected a smaller "
                        f"{'lr' if lr is not None else 'value'}")
    i = int(np.argmax(y))
    return Summary(spec=str(s), total=total, lr=lr, convention=conv.name, peak=float(y[i]), peak_step=i,
                   final=float(y[-1]), first=float(y[0]), mean=area / total, area=area,
                   phases=tuple(p for p in s.phases(total, conv)))
