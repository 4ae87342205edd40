"""A ``--schedule`` checked against the run's logged ``lr`` column (``fit`` and ``predict --run``): how far
they differ, and the total (from the run's last logged step on) whose schedule matches the log."""

from __future__ import annotations

import numpy as np

#: a --schedule whose LR differs from the run's logged lr column by more than this (of the peak) is warned about
LR_TOLERANCE = 0.01


def matching_total(spec: str, base_lr: float, convention, steps: np.ndarray, logged: np.ndarray) -> tuple[int, float] | None:
    """The total, from the run's last logged step + 1 up to 10% (or two logging intervals) more, whose
    spec LRs match the logged ones best, and that mismatch; ``None`` if none matches within the tolerance."""
    from ...spec import parse

    s = parse(spec)
    last = int(steps[-1])
    gap = int(np.median(np.diff(steps))) if steps.size > 1 else 1
    span = max(2 * gap, (last + 1) // 10, 2)
    peak = float(np.max(np.abs(logged))) or 1.0

    def mismatch(total: int) -> float:
        return float(np.max(np.abs(np.asarray(s(steps, total, convention=convention)) * base_lr - logged)) / peak)

    coarse = np.unique(np.linspace(last + 1, last + 1 + span, 200).astype(int))
    best = min(coarse, key=mismatch)
    width = int(np.ceil(span / 199)) + 1
    fine = range(max(last + 1, best - width), best + width + 1)
    total = min(fine, key=mismatch)
    rel = mismatch(total)
    return (int(total), rel) if rel <= LR_TOLERANCE else None


def compare_lr(run, spec: str, base_lr: float, convention, lr: np.ndarray, steps_given: bool) -> dict[str, str]:
    """Warn when --schedule disagrees with the run's logged lr column (and name a total that fits)."""
    from ...laws.predict import lr_mismatch

    if run.lr is None:
        return {}
    s, v = run.logged("lr")
    found = lr_mismatch(s, v, lr) if s.size else None
    if found is None or found[0] <= LR_TOLERANCE:
        return {}
    rel, at = found
    msg = (f"--schedule differs from {run.source or run.name}'s logged lr column by up to {100 * rel:.3g}% of the peak "
           f"(at step {at:,})")
    if not steps_given:
        better = matching_total(spec, base_lr, convention, s, v)
        if better is not None:
            msg += f"; with --steps {better[0]} it matches within {100 * better[1]:.2g}%"
    return {"lr": msg}
