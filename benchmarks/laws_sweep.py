"""The cooldown-sweep protocol of ``bench_laws.py`` (issue 12): rank WSD cooldowns from two pilots.

Data: ``benchmarks/data/charlm_cooldown_sweep.csv``, the histories of an ``lrkit bench`` sweep on the
``charlm`` workload (one row per logged point: ``schedule, peak_lr, seed, steps, step, loss,
val_loss``; the LR of every step is ``lrkit.parse(schedule).sample(steps) * peak_lr``, as the harness
trains).  Regenerate it (about 30 min on 2 idle cores) with ``benchmarks/data/make_charlm_sweep.sh``,
which runs the sweep and then ``python benchmarks/bench_laws.py --export-sweep sweep.db``; the longer
1000/2000-step sweep, ``charlm_cooldown_sweep_long.csv``, with ``make_charlm_long_sweep.sh`` (same format).

Protocol (the issue's, on our own runs): for each peak LR and seed, the longest length ``T`` with a
cooldown sweep; pilots = the constant run cut at ``T/2`` + the cosine run of ``T/2`` steps, fitted on
validation loss exactly as ``lrkit fit --law LAW`` does (defaults, the stated rule for warmup points);
targets = every WSD run (decay fractions 0.1-0.8, linear and 1-sqrt, at every length).  Per target:
the mean and the largest relative error of validation loss over its cooldown and the 90% band's
coverage there; per group (peak LR, length, seed): Spearman's rho between predicted and observed final
validation loss, and the best-hit (observed final loss of the run predicted best minus the observed best).
Nothing is chosen from the targets.
"""

from __future__ import annotations

import csv
import time
from collections import defaultdict
from pathlib import Path
from types import SimpleNamespace

import numpy as np

import lrkit
from lrkit.laws import Curve, fit, predict
from laws_bound_prior import fit_mp_bound, fit_mp_bound_best, fit_mp_bound_row

SWEEP_CSV = Path(__file__).resolve().parent / "data" / "charlm_cooldown_sweep.csv"
#: the 1000/2000-step sweep (``benchmarks/data/make_charlm_long_sweep.sh``)
LONG_SWEEP_CSV = SWEEP_CSV.with_name("charlm_cooldown_sweep_long.csv")
#: benchmark-only combinations: the mean of the named laws' predictions (point and band)
AVERAGES = {"avg": ("multipower", "bound")}
#: benchmark names for a law with other fit arguments: ``{name: (law, fit keyword arguments)}`` (docs/methods.md:
#: candidate (g); ``bound-ref``, the bound with the reference code's last weight, ``last="schedule"``)
VARIANTS = {"mp-weak": ("multipower", {"prior_weight": 1e-3}), "mp-noprior": ("multipower", {"prior_weight": 0.0}),
            "bound-ref": ("bound", {"law_options": {"last": "schedule"}})}
#: benchmark-only candidates fitted by a procedure of their own: ``{name: fit(pilots) -> (FitResult, info)}``
#: (docs/methods.md, candidates (h), (j), (k))
CANDIDATES = {"mp-bound": fit_mp_bound, "mp-bound-row": fit_mp_bound_row, "mp-bound-best": fit_mp_bound_best}


class Averaged:
    """The mean of several fits' predictions (``predict(lr, steps)`` like :func:`lrkit.laws.predict`)."""

    def __init__(self, fits: list) -> None:
        self.fits = fits
        self.flags = sorted({f"{r.law}:{n}" for r in fits for n in r.flags})

    def predict(self, lr: np.ndarray, steps: np.ndarray):
        ps = [predict(r, lr, steps, extrapolate=True) for r in self.fits]
        return SimpleNamespace(**{k: np.mean([getattr(p, k) for p in ps], axis=0) for k in ("loss", "lower", "upper")})


def fit_predictor(pilots: list, law: str):
    """``(fit, predict(lr, steps))`` for a law of the package or an :data:`AVERAGES` name (predictions
    with ``extrapolate=True``: the benchmark measures the law where the user-facing guard would stop)."""
    if law in AVERAGES:
        avg = Averaged([fit(pilots, name) for name in AVERAGES[law]])
        return avg, avg.predict
    if law in CANDIDATES:
        res, info = CANDIDATES[law](pilots)
        print(f"    {law}: {', '.join(f'{k}={v:.3g}' for k, v in info.items())}", flush=True)
    else:
        name, kw = VARIANTS.get(law, (law, {}))
        res = fit(pilots, name, **kw)
    return res, (lambda lr, steps: predict(res, lr, steps, extrapolate=True))


COLUMNS = ("schedule", "peak_lr", "seed", "steps", "step", "loss", "val_loss")


def export_sweep(db: str, out: Path = SWEEP_CSV) -> int:
    """Write the done charlm trials of a bench database as the compact CSV; returns the row count.

    An existing ``out`` keeps its trials (schedule, peak LR, seed, steps) that the database does not
    hold, so one file can gather sweeps run into several databases (e.g. one per peak LR)."""
    from lrkit.bench.store import Store

    rows = []
    with Store(db) as store:
        trials = [t for t in store.trials(status="done") if t["workload"] == "charlm"]
        for t in trials:
            h = store.history(t["id"])
            for i, step in enumerate(h["step"]):
                rows.append((t["schedule"], repr(float(t["lr"])), int(t["seed"]), int(t["steps"]), int(step),
                             f"{h['loss'][i]:.6g}", f"{h['val_loss'][i]:.6g}"))
    if out.exists():
        new = {(r[0], float(r[1]), r[2], r[3]) for r in rows}
        with out.open() as fh:
            for r in csv.DictReader(fh):
                key = (r["schedule"], float(r["peak_lr"]), int(r["seed"]), int(r["steps"]))
                if key not in new:
                    rows.append((r["schedule"], r["peak_lr"], key[2], key[3], int(r["step"]), r["loss"], r["val_loss"]))
    rows.sort(key=lambda r: (r[0], float(r[1]), r[2], r[3], r[4]))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(COLUMNS)
        w.writerows(rows)
    return len(rows)


def load_sweep(path: Path = SWEEP_CSV) -> dict[tuple[str, float, int, int], Curve]:
    """``{(schedule, peak_lr, seed, steps): Curve of validation loss}`` (NaN rows left out)."""
    pts: dict[tuple, list[tuple[int, float]]] = defaultdict(list)
    with path.open() as fh:
        for r in csv.DictReader(fh):
            v = float(r["val_loss"])
            if np.isfinite(v):
                pts[(r["schedule"], float(r["peak_lr"]), int(r["seed"]), int(r["steps"]))].append((int(r["step"]), v))
    runs = {}
    for key, p in pts.items():
        spec, peak, seed, steps = key
        lr = np.asarray(lrkit.parse(spec).sample(steps), dtype=float) * peak
        a = np.array(sorted(p))
        runs[key] = Curve(f"{spec}@{steps}", lr, a[:, 0].astype(int), a[:, 1])
    return runs


def cooldown_start(lr: np.ndarray) -> int:
    """First step after the peak where the LR is below it (where a WSD run's cooldown starts)."""
    peak_at = int(np.argmax(lr))
    below = np.nonzero(lr < lr.max() * (1 - 1e-9))[0]
    return int(below[below > peak_at][0])


def groups(runs: dict, third_pilot: str | None = None) -> list[dict]:
    """One entry per (peak LR, seed): the pilots and the WSD targets by length.

    ``third_pilot``: the schedule of a WSD run of the pilots' length that joins the two pilots (e.g. a
    short cooldown branched off the constant pilot) and leaves the targets."""
    out = []
    for peak, seed in sorted({(k[1], k[2]) for k in runs}):
        wsd = {k: c for k, c in runs.items() if k[0].startswith("wsd") and k[1:3] == (peak, seed)}
        lengths = sorted({k[3] for k in wsd if sum(1 for j in wsd if j[3] == k[3]) >= 8})
        if not lengths:
            continue
        half = max(lengths) // 2
        const = [c for k, c in runs.items() if k[0].startswith("constant") and k[1:3] == (peak, seed) and k[3] >= half]
        cos = [c for k, c in runs.items() if k[0].startswith("cosine") and k[1:3] == (peak, seed) and k[3] == half]
        if not const or not cos:
            continue
        c = min(const, key=lambda x: x.lr.size)
        keep = c.steps < half
        pilots = [Curve("constant-pilot", c.lr[:half], c.steps[keep], c.loss[keep]),
                  Curve("cosine-pilot", cos[0].lr, cos[0].steps, cos[0].loss)]
        targets = {T: {k[0]: c for k, c in wsd.items() if k[3] == T} for T in lengths}
        if third_pilot is not None:
            extra = targets.get(half, {}).pop(third_pilot, None)
            if extra is None:
                raise SystemExit(f"no run {third_pilot!r} of {half} steps at peak LR {peak:g}, seed {seed} for the third pilot")
            pilots.append(Curve("wsd-pilot", extra.lr, extra.steps, extra.loss))
        out.append({"peak": peak, "seed": seed, "half": half, "pilots": pilots, "targets": targets})
    return out


def evaluate_law(law: str, grp: dict) -> dict:
    """Fit ``law`` to one (peak, seed)'s pilots and score every target group."""
    from scipy.stats import spearmanr

    t0 = time.perf_counter()
    res, pred = fit_predictor(grp["pilots"], law)
    out = {"seconds": time.perf_counter() - t0, "flags": sorted(res.flags), "err": [], "worst": [], "cover": [],
           "rho": [], "besthit": [], "hit": [], "best": [], "group_err": [], "group_cover": []}
    for T, targets in grp["targets"].items():
        pf, of, names, n0, c0 = [], [], [], len(out["err"]), len(out["cover"])
        for spec, c in sorted(targets.items()):
            m = c.steps >= cooldown_start(c.lr)
            p = pred(c.lr, c.steps[m])
            y = c.loss[m]
            r = np.abs(p.loss - y) / y
            out["err"].append(r.mean())
            out["worst"].append(r.max())
            out["cover"].extend(((y >= p.lower) & (y <= p.upper)).tolist())
            pf.append(p.loss[-1])
            of.append(y[-1])
            names.append(spec)
        pf, of = np.array(pf), np.array(of)
        out["group_err"].append(float(np.mean(out["err"][n0:])))
        out["group_cover"].append(float(np.mean(out["cover"][c0:])))
        out["rho"].append(float(spearmanr(pf, of).statistic))
        out["besthit"].append(float(of[np.argmin(pf)] - of.min()))
        out["hit"].append(int(np.argmin(pf) == np.argmin(of)))
        out["best"].append((f"{grp['peak']:g}/{T}/s{grp['seed']}", names[int(np.argmin(pf))], names[int(np.argmin(of))]))
    return out


def run_sweep(laws: list[str], path: Path = SWEEP_CSV, verbose: bool = False,
              third_pilot: str | None = None) -> dict[str, dict]:
    """Every law on every group; prints one row per law, returns the pooled figures."""
    grps = groups(load_sweep(path), third_pilot)
    if not grps:
        raise SystemExit(f"{path}: no (peak LR, seed) with a constant pilot, a cosine pilot and a cooldown sweep")
    n_groups = sum(len(g["targets"]) for g in grps)
    print(f"\ncooldown sweep ({path.name}): {len(grps)} pilot {'triples' if third_pilot else 'pairs'}, {n_groups} target groups, "
          f"{sum(len(t) for g in grps for t in g['targets'].values())} WSD targets (validation loss over each cooldown)")
    print(f"{'law':<11}{'mean err':>9}{'worst':>8}{'rho':>7}{'best-hit':>10}{'hits':>7}{'cover':>7}{'fit s':>7}{'max s':>7}"
          "  undetermined")
    summary = {}
    for law in laws:
        acc: dict[str, list] = defaultdict(list)
        for g in grps:
            for k, v in evaluate_law(law, g).items():
                acc[k].extend(v if isinstance(v, list) else [v])
        s = {"err": 100 * np.mean(acc["err"]), "worst": 100 * np.mean(acc["worst"]), "rho": np.mean(acc["rho"]),
             "besthit": np.mean(acc["besthit"]), "hits": f"{sum(acc['hit'])}/{len(acc['hit'])}",
             "cover": np.mean(acc["cover"]), "seconds": np.mean(acc["seconds"]), "max_seconds": max(acc["seconds"]),
             "flags": sorted(set(acc["flags"])), "rhos": acc["rho"], "best": acc["best"]}
        summary[law] = s
        print(f"{law:<11}{s['err']:>8.2f}%{s['worst']:>7.2f}%{s['rho']:>7.2f}{s['besthit']:>10.4f}{s['hits']:>7}"
              f"{s['cover']:>7.2f}{s['seconds']:>7.2f}{s['max_seconds']:>7.2f}  {', '.join(s['flags']) or '-'}", flush=True)
        if verbose:
            for (grp_name, pred, obs), rho, e, cv in zip(s["best"], s["rhos"], acc["group_err"], acc["group_cover"]):
                print(f"{'':>11}{grp_name:<16} rho {rho:+.2f}  err {100 * e:.2f}%  cover {cv:.2f}  "
                      f"predicted best {pred}  observed best {obs}")
    floor = seed_oracle(grps)
    if floor:
        print(f"{'seed noise':<11}{floor['err']:>8.2f}%{'':>8}{floor['rho']:>7.2f}{floor['besthit']:>10.4f}{floor['hits']:>7}"
              "  (the anchor: each target predicted by the same schedule run with the other seeds, scaled by the"
              " seeds' ratio on the pilots; their geometric mean)")
    return summary


def seed_oracle(grps: list[dict]) -> dict | None:
    """The noise floor of the protocol: predict each target by the *same schedule* run with the other
    seeds (their geometric mean, each scaled by its mean log-ratio to this seed on the pilots): what a law
    that knew every schedule's effect exactly, but not this seed's noise, could do at best, on a sweep's
    :func:`groups`.  ``None`` if no peak LR has two seeds."""
    from scipy.stats import spearmanr

    by_peak = defaultdict(list)
    for g in grps:
        by_peak[g["peak"]].append(g)
    err, rho, besthit, hit = [], [], [], []
    for peak, gs in by_peak.items():
        for g in gs:
            others = [o for o in gs if o["seed"] != g["seed"]]
            if not others:
                continue
            shifts = []
            for o in others:
                logr = []
                for p, q in zip(g["pilots"], o["pilots"]):
                    common, i, j = np.intersect1d(p.steps, q.steps, return_indices=True)
                    logr.append(np.log(p.loss[i] / q.loss[j]))
                shifts.append(float(np.mean(np.concatenate(logr))))
            for T, targets in g["targets"].items():
                pf, of = [], []
                for spec, c in sorted(targets.items()):
                    runs = [(o["targets"].get(T, {}).get(spec), s) for o, s in zip(others, shifts)]
                    if any(r is None for r, _ in runs):
                        break
                    m = c.steps >= cooldown_start(c.lr)
                    steps = c.steps[m]
                    for r, _ in runs:
                        steps = np.intersect1d(steps, r.steps)
                    y = c.loss[np.isin(c.steps, steps)]
                    p = np.exp(np.mean([np.log(r.loss[np.isin(r.steps, steps)]) + s for r, s in runs], axis=0))
                    err.append(float(np.mean(np.abs(p - y) / y)))
                    pf.append(p[-1])
                    of.append(y[-1])
                else:
                    pf, of = np.array(pf), np.array(of)
                    rho.append(float(spearmanr(pf, of).statistic))
                    besthit.append(float(of[np.argmin(pf)] - of.min()))
                    hit.append(int(np.argmin(pf) == np.argmin(of)))
    if not rho:
        return None
    return {"err": 100 * np.mean(err), "rho": np.mean(rho), "besthit": np.mean(besthit),
            "hits": f"{sum(hit)}/{len(hit)}"}
