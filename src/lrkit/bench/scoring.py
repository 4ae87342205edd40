"""AlgoPerf-style scoring (Dahl et al. 2023, arXiv 2306.07179) and LR sensitivity (Wortsman et al. 2023).

* **Time to target.** The first logged point whose validation loss is at or below the target;
  ``steps`` counts updates applied (a point logged at step ``t`` is after ``t + 1`` updates), ``time``
  is the training time so far (validation untimed).  Never reached: ``inf``.
* **Target.** Per workload, the median over seeds of the best validation loss of the reference
  method at its best peak LR (AlgoPerf: median of the best validation errors of the reruns of the
  best configuration), unless given; never from a diverged run (none left: no target).  For an even number of seeds the upper middle value, so the
  reference reaches its own target on at least half of its seeds.
* **Per method and workload.** Its tuned peak LR is the one with the smallest median steps to target
  (ties: lower median final validation loss); its time is the median over seeds there (``inf`` when
  half or more of the seeds miss).
* **Performance profile.** ``r[s, w] = t[s, w] / min_s t[s, w]``; ``rho_s(tau)`` = fraction of
  workloads with ``r[s, w] <= tau``.
* **Benchmark score.** ``B_s = 1/(r_max - 1) * integral_1^r_max rho_s(tau) dtau`` with
  ``r_max = 4``, computed exactly (the profile is a step function):
  ``B_s = mean_w max(0, r_max - r[s, w]) / (r_max - 1)``.
* **LR sensitivity** ("Small-scale proxies for large-scale Transformer training instabilities"):
  ``E_lr[min(L(lr), L0) - min_lr L(lr)]`` over the swept peak LRs, where ``L0`` is the loss at
  initialisation and a diverged run counts as ``L0``.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

R_MAX = 4.0


# ---------------------------------------------------------------------- one run
def steps_to_target(steps: Sequence[float], val: Sequence[float], target: float) -> float:
    """Updates applied when the validation loss first reached ``target`` (``inf`` if never)."""
    v = np.asarray(val, dtype=float)
    hit = np.nonzero(np.isfinite(v) & (v <= target))[0]
    return float(np.asarray(steps, dtype=float)[hit[0]] + 1) if hit.size else math.inf


def time_to_target(times: Sequence[float], val: Sequence[float], target: float) -> float:
    """Training seconds when the validation loss first reached ``target`` (``inf`` if never)."""
    v = np.asarray(val, dtype=float)
    hit = np.nonzero(np.isfinite(v) & (v <= target))[0]
    return float(np.asarray(times, dtype=float)[hit[0]]) if hit.size else math.inf


def median_with_inf(values: Sequence[float]) -> float:
    """Median where ``inf`` (target missed) sorts last, so most seeds missing gives ``inf``."""
    a = np.sort(np.asarray(values, dtype=float))
    if a.size == 0:
        return math.inf
    n = a.size
    if n % 2:
        return float(a[n // 2])
    lo, hi = a[n // 2 - 1], a[n // 2]
    return float(hi) if math.isinf(hi) else float((lo + hi) / 2)


# ---------------------------------------------------------------------- across methods and workloads
def performance_ratios(times: Mapping[str, Mapping[str, float]]) -> dict[str, dict[str, float]]:
    """``r[s][w] = t[s][w] / min_s t[s][w]`` (a method missing a workload counts as ``inf``)."""
    workloads = sorted({w for per in times.values() for w in per})
    out: dict[str, dict[str, float]] = {s: {} for s in times}
    for w in workloads:
        col = {s: float(times[s].get(w, math.inf)) for s in times}
        best = min(col.values())
        for s, t in col.items():
            out[s][w] = t / best if math.isfinite(best) and best > 0 else math.inf
    return out


def performance_profile(times: Mapping[str, Mapping[str, float]], taus: Sequence[float]) -> dict[str, np.ndarray]:
    """``rho_s(tau)`` for each method ``s`` at each ``tau``: fraction of workloads with ratio <= tau."""
    ratios = performance_ratios(times)
    taus = np.asarray(taus, dtype=float)
    out = {}
    for s, per in ratios.items():
        r = np.array(list(per.values()), dtype=float)
        out[s] = (r[None, :] <= taus[:, None]).mean(axis=1) if r.size else np.zeros_like(taus)
    return out


def benchmark_score(times: Mapping[str, Mapping[str, float]], r_max: float = R_MAX) -> dict[str, float]:
    """AlgoPerf's score ``B_s`` in [0, 1] (1: fastest on every workload), exact integral of the profile."""
    if r_max <= 1:
        raise ValueError(f"r_max must be > 1, got {r_max}")
    ratios = performance_ratios(times)
    out = {}
    for s, per in ratios.items():
        r = np.array(list(per.values()), dtype=float)
        out[s] = float(np.mean(np.clip(r_max - r, 0.0, None)) / (r_max - 1)) if r.size else 0.0
    return out


def lr_sensitivity(losses: Sequence[float], initial_loss: float) -> float:
    """``mean_lr[min(L(lr), L0)] - min_lr min(L(lr), L0)``; NaN/inf losses (diverged) count as ``L0``."""
    a = np.asarray(losses, dtype=float)
    if a.size == 0:
        raise ValueError("lr_sensitivity needs at least one loss")
    a = np.where(np.isfinite(a), np.minimum(a, initial_loss), initial_loss)
    return float(a.mean() - a.min())


# ---------------------------------------------------------------------- a whole database
@dataclass
class MethodScore:
    """One method (schedule, optimizer) on one problem (a workload at one budget)."""

    workload: str                   # the problem's name
    label: str
    lr: float                       # the tuned peak LR
    seeds: int
    final_val: float                # median over seeds at the tuned LR
    final_val_spread: tuple[float, float]
    best_val: float
    steps_to_target: float          # median over seeds (updates)
    time_to_target: float           # median over seeds (training seconds)
    reached: int                    # seeds that reached the target
    ratio: float = math.inf         # steps to target / best method's
    lr_sweep: dict[float, float] = field(default_factory=dict)    # peak LR -> median final val
    sensitivity: float | None = None
    trial_ids: list[int] = field(default_factory=list)
    diverged: int = 0               # seeds at the tuned LR that diverged


@dataclass
class Scores:
    targets: dict[str, float]
    reference: dict[str, str]
    methods: dict[str, list[MethodScore]]       # workload -> methods, best first
    score: dict[str, float]                      # label -> benchmark score (by steps)
    score_time: dict[str, float]                 # label -> benchmark score (by time)
    times: dict[str, dict[str, float]]           # label -> problem -> median steps to target
    labels: list[str]
    problems: dict[str, dict] = field(default_factory=dict)   # problem -> workload, steps, options
    histories: Mapping[int, Mapping[str, Sequence[float]]] = field(default_factory=dict)  # trial id -> history
    reference_diverged: dict[str, int] = field(default_factory=dict)  # problem -> diverged runs of its reference


def upper_median(x: Sequence[float]) -> float:
    """The median of the finite values; for an even count the upper of the two middle ones.

    Used for the target, so the reference method reaches its own target on at least half its seeds
    (AlgoPerf's plain median of 20 reruns leaves that to chance for an even count).
    """
    a = np.sort(np.asarray([v for v in x if v is not None and math.isfinite(v)], dtype=float))
    return float(a[a.size // 2]) if a.size else math.nan


def _median(x: Sequence[float]) -> float:
    a = np.asarray([v for v in x if v is not None and math.isfinite(v)], dtype=float)
    return float(np.median(a)) if a.size else math.nan


def score_trials(trials: Sequence[Mapping[str, Any]], histories: Mapping[int, Mapping[str, Sequence[float]]],
                 reference: str | Mapping[str, str] | None = None, targets: Mapping[str, float] | None = None,
                 r_max: float = R_MAX) -> Scores:
    """Score done trials (rows of :meth:`Store.trials` with ``label``) with their histories.

    ``reference``: the label of the reference method (one for all workloads, or per workload);
    default: the method of each workload's first trial.  ``targets``: validation targets per workload
    (default: from the reference, see the module docs).
    """
    done = [t for t in trials if t["status"] == "done"]
    if not done:
        raise ValueError("no finished trials to score")
    by_w, problems = group_problems(done)
    workloads = {p["workload"] for p in problems.values()}
    for k, v in (targets or {}).items():
        if k not in by_w and k not in workloads:
            raise ValueError(f"target {k}={v}: no finished trials of {k!r}; workloads: {', '.join(sorted(workloads))}")
        if not (isinstance(v, (int, float)) and math.isfinite(v)):
            raise ValueError(f"target {k}={v}: give a finite validation loss")
    labels: list[str] = []
    for t in done:
        if t["label"] not in labels:
            labels.append(t["label"])
    out_targets, out_ref, methods, ref_diverged = {}, {}, {}, {}
    times: dict[str, dict[str, float]] = {lab: {} for lab in labels}
    secs: dict[str, dict[str, float]] = {lab: {} for lab in labels}
    for w, rows in by_w.items():
        groups: dict[str, dict[float, list[Mapping[str, Any]]]] = defaultdict(lambda: defaultdict(list))
        for t in rows:
            groups[t["label"]][float(t["lr"])].append(t)
        wl = problems[w]["workload"]
        ref = (reference.get(w) or reference.get(wl)) if isinstance(reference, Mapping) else reference
        if isinstance(reference, Mapping) and ref is not None and ref not in groups:
            raise ValueError(f"reference {ref!r} has no finished trials on {w}; methods: {', '.join(groups)}")
        if ref is None or ref not in groups:
            ref = rows[0]["label"]
        out_ref[w] = ref

        def best_of(per_lr: dict[float, list[Mapping[str, Any]]]) -> float:
            return min(per_lr, key=lambda lr: (_nan_last(_median([t["best_val"] for t in per_lr[lr]]))))

        ref_diverged[w] = sum(bool(t.get("diverged")) for ts in groups[ref].values() for t in ts)
        if targets and (w in targets or wl in targets):
            target = float(targets[w] if w in targets else targets[wl])
        else:  # never from a diverged run: its best loss may be anything (1.2e10)
            ok = {lr: kept for lr, ts in groups[ref].items() if (kept := [t for t in ts if not t.get("diverged")])}
            target = upper_median([t["best_val"] for t in ok[best_of(ok)]]) if ok else math.nan
        out_targets[w] = target
        ms = []
        for lab, per_lr in groups.items():
            cands = []
            for lr, ts in per_lr.items():
                st = [steps_to_target(histories[t["id"]]["step"], histories[t["id"]]["val_loss"], target) for t in ts]
                tt = [time_to_target(histories[t["id"]]["time"], histories[t["id"]]["val_loss"], target) for t in ts]
                finals = [t["final_val"] if t["final_val"] is not None else math.nan for t in ts]
                cands.append((median_with_inf(st), _nan_last(_median(finals)), lr, ts, st, tt, finals))
            cands.sort(key=lambda c: (c[0], c[1]))
            st_med, _, lr, ts, st, tt, finals = cands[0]
            fin = [f for f in finals if math.isfinite(f)]
            sweep = {c[2]: _median(c[6]) for c in sorted(cands, key=lambda c: c[2])}
            sens = None
            if len(per_lr) >= 2:
                l0 = _median([t["init_val"] for tl in per_lr.values() for t in tl])
                sens = lr_sensitivity([sweep[k] for k in sweep], l0)
            ms.append(MethodScore(
                w, lab, lr, len(ts), _median(finals), (min(fin), max(fin)) if fin else (math.nan, math.nan),
                _median([t["best_val"] for t in ts]), st_med, median_with_inf(tt),
                sum(math.isfinite(x) for x in st), lr_sweep=sweep, sensitivity=sens, trial_ids=[t["id"] for t in ts],
                diverged=sum(bool(t.get("diverged")) for t in ts)))
            times[lab][w] = st_med
            secs[lab][w] = median_with_inf(tt)
        best = min(m.steps_to_target for m in ms)
        for m in ms:
            m.ratio = m.steps_to_target / best if math.isfinite(best) and best > 0 else math.inf
        ms.sort(key=lambda m: (m.steps_to_target, _nan_last(m.final_val)))
        methods[w] = ms
    if isinstance(reference, str) and reference not in out_ref.values():
        raise ValueError(f"reference {reference!r} has no finished trials; methods: {', '.join(labels)}")
    return Scores(out_targets, out_ref, methods, benchmark_score(times, r_max) if times else {},
                  benchmark_score(secs, r_max) if secs else {}, times, labels, problems, histories, ref_diverged)


def group_problems(trials: Sequence[Mapping[str, Any]]) -> tuple[dict[str, list[Mapping[str, Any]]], dict[str, dict]]:
    """Group trials into problems: one workload with one budget (steps) and one set of options.

    A problem is named by its workload, plus ``· N steps`` when the workload was run with several
    budgets, plus its options when it was run with several.
    """
    keys: dict[tuple, list[Mapping[str, Any]]] = defaultdict(list)
    for t in trials:
        keys[(t["workload"], int(t["steps"]), t.get("options") or "{}")].append(t)
    budgets: dict[str, set] = defaultdict(set)
    opts: dict[str, set] = defaultdict(set)
    for w, n, o in keys:
        budgets[w].add(n)
        opts[w].add(o)
    by, meta = {}, {}
    for (w, n, o), rows in keys.items():
        name = w + (f" · {n:,} steps" if len(budgets[w]) > 1 else "") + (f" · {o}" if len(opts[w]) > 1 else "")
        by[name] = rows
        meta[name] = {"workload": w, "steps": n, "options": o}
    return by, meta


def _nan_last(x: float) -> float:
    return math.inf if x is None or not math.isfinite(x) else x


def score_store(store: Any, reference: str | Mapping[str, str] | None = None,
                targets: Mapping[str, float] | None = None, workload: str | None = None, *,
                ids: Sequence[int] | None = None) -> Scores:
    """:func:`score_trials` on the done trials of a :class:`~lrkit.bench.Store` (all, those of ``workload``,
    or those among ``ids``); the histories it read are in ``Scores.histories``."""
    rows = store.trials(status="done", workload=workload, ids=ids)
    if not rows:
        raise ValueError(f"{store.path}: no finished trials to score")
    return score_trials(rows, store.histories([r["id"] for r in rows]), reference, targets)
