"""``lint``: soft problems in a valid schedule (it evaluates, but probably not as meant).

Hard errors raise :class:`~lrkit.SpecError` when the spec is parsed; lint reports what libraries
accept silently and users later regret: LR 0 at the first step, jumps at phase boundaries, phases or
milestones beyond the run, a warmup longer than the run, LR rising after the end, a floor above the peak.
What one family's parameters mean is that family's ``_lint`` (combinators ask the phases that run); what
shows only in the values of the whole run is here.
"""

from __future__ import annotations

import numpy as np

from ._math import ARRAY
from .schedules import Finding, Schedule, get_convention
from .schedules import validate as v
from .schedules.conventions import Convention
from .schedules.spec import parse

#: A jump between two consecutive steps larger than this fraction of the peak is reported.
JUMP_THRESHOLD = 0.05


def lint(schedule: str | dict | Schedule, total: int, convention: str | Convention | None = None) -> list[Finding]:
    """Findings for ``schedule`` in a run of ``total`` steps; an empty list means nothing to report."""
    s = parse(schedule)
    total = v.total_steps(total)
    conv = get_convention(convention)
    findings = list(s._lint(total, conv))
    values = s.sample(total, conv)
    peak = float(values.max()) if values.size else 0.0

    if values[0] == 0.0:
        findings.append(Finding("zero-first-step", "the LR is 0 at step 0, so the first optimizer step changes "
                                                   "nothing; start the warmup above 0 (lrkit's default convention "
                                                   "does) or set warmup_init"))
    for phase in s.phases(total, conv)[1:]:
        b = phase.start
        if 0 < b < total and peak > 0:
            jump = float(values[b] - values[b - 1])
            if abs(jump) > JUMP_THRESHOLD * peak:
                findings.append(Finding("jump", f"the LR jumps by {jump / peak:+.1%} of the peak at step {b}, "
                                                f"where '{phase.label}' begins ({values[b - 1]:.4g} -> {values[b]:.4g})"))
    after = _after_end(s, total, conv)
    if after.size and float(after.max()) > float(values[-1]) * (1 + 1e-9) + 1e-12:
        at = total + int(np.argmax(after > values[-1] * (1 + 1e-9) + 1e-12))
        findings.append(Finding("rises-after-end", f"the LR rises again after the end of the run (from "
                                                   f"{values[-1]:.4g} at step {total - 1} to {float(after.max()):.4g}, "
                                                   f"first at step {at}); running longer than planned would "
                                                   f"re-warm it"))
    return _unique(findings)


def _after_end(s: Schedule, total: int, conv: Convention) -> np.ndarray:
    """Values past the end of the run; there an overflow is a finding (the LR rises), not an error."""
    steps = np.arange(total, total + max(total // 4, 10), dtype=float)
    with np.errstate(all="ignore"):
        out = np.asarray(s.bind(total, conv).fn(steps, ARRAY), dtype=float)
    out = np.broadcast_to(out, steps.shape)
    return np.where(np.isnan(out), np.inf, out)


def _unique(findings: list[Finding]) -> list[Finding]:
    seen, out = set(), []
    for f in findings:
        if f not in seen:
            seen.add(f)
            out.append(f)
    return out
