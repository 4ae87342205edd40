"""Benchmark the loss-curve laws on the real multi-power-law curves (Luo et al. 2025) and on our own
cooldown sweep (issue 12; ``benchmarks/laws_sweep.py``).

Data: ../shared/data/curves/multipowerlaw (25M, 100M, 400M models, nine schedules each).  Each run is
written as a run file with one row per step (LR from the README's schedule definitions, loss on the
logged rows), loaded with ``lrkit.runs.load_run`` and fitted with ``lrkit.laws.fit``.

Protocols:
  published -- fit cosine_24000, constant_24000, wsdcon_9; predict the other six (the anchor:
               PredE/WorstE of the reference code, printed beside ours as ratios ours/published);
  two-run   -- fit cosine_24000 and constant_24000 only; predict the other seven, including the
               72000-step runs.
  sweep     -- the cooldown-sweep protocol on our charlm sweeps (benchmarks/data/
               charlm_cooldown_sweep.csv, 300/600 steps, and charlm_cooldown_sweep_long.csv,
               1000/2000 steps): pilots a constant run to half the longest length + a cosine of that
               length; targets every WSD run; mean/worst error over each cooldown, rank correlation and
               best-hit per group, band coverage, fit time (see laws_sweep.py).
Laws: every law of the package, and ``avg``, the mean of the multipower and bound predictions
(benchmark only).  Predictions are made with ``extrapolate=True`` (the 72000-step runs, the sweeps' 2x).
PredE: mean over predicted curves of the mean relative error; WorstE: mean over curves of the
largest relative error.  Also printed: fit time and how often the observed loss lies in the band.

    python benchmarks/bench_laws.py [--data DIR] [--sizes 25 100 400] [--laws ...] [--protocols ...]
                                    [--no-prior] [--profile]
    python benchmarks/bench_laws.py --export-sweep sweep.db [--sweep CSV]   # a sweep CSV from a bench database

``--profile`` asks what limits the error (published protocol, multi-power law): it evaluates the
reference code's published parameters with our predictor (reproducing its PredE/WorstE shows the
evaluation is the same) and on the pilots themselves, and it profiles the law's flat valley: for a
grid of fixed ``(C, gamma)`` every other parameter is fitted to convergence (no prior), and the best
test PredE anywhere on that grid is printed -- the floor for any converged fit of the law to these pilots.
"""

from __future__ import annotations

import argparse
import csv
import tempfile
import time
import warnings
from functools import partial
from pathlib import Path

import numpy as np

from laws_sweep import AVERAGES, CANDIDATES, VARIANTS, LONG_SWEEP_CSV, SWEEP_CSV, export_sweep, fit_predictor, run_sweep
from lrkit.laws import LAW_NAMES, UndeterminedWarning, fit, predict
from lrkit.laws.domain import ExtrapolationWarning
from lrkit.runs import load_run

WARMUP, PEAK, END = 2160, 3e-4, 3e-5
PUBLISHED = {25: (0.110, 0.409), 100: (0.142, 0.583), 400: (0.168, 0.995)}
#: the reference code's fitted parameters (src/config.py PARAMS: L0, A, alpha, B, C, beta, gamma;
#: warmup increases summed into LD)
REFERENCE_PARAMS = {
    25: (3.04045406, 0.52468604, 0.50786857, 363.78751622, 2.06560812, 0.58279013, 0.64142257),
    100: (2.6514477, 0.60115152, 0.45295811, 437.9464276, 2.13245612, 0.59785199, 0.65523644),
    400: (2.37474466, 0.65421216, 0.42878731, 523.42464371, 2.02462735, 0.59350493, 0.63472457),
}
PROFILE_C = (0.1, 0.3, 1.0, 3.0, 10.0)
PROFILE_GAMMA = (0.3, 0.5, 0.7, 0.9)
TRAIN = ["cosine_24000", "constant_24000", "wsdcon_9"]
TEST = ["constant_72000", "cosine_72000", "wsd_20000_24000", "wsdld_20000_24000", "wsdcon_3", "wsdcon_18"]
ALL = TRAIN + TEST
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data" / "curves" / "multipowerlaw"


def readme_lr(name: str) -> np.ndarray:
    """Absolute LR of every step for the README's schedule ``name`` (warmup: linspace(0, peak, 2160))."""
    warm = np.linspace(0.0, PEAK, WARMUP)
    family, arg = name.split("_", 1)
    if family in ("cosine", "constant"):
        T = int(arg)
        t = np.arange(WARMUP, T)
        post = END + 0.5 * (PEAK - END) * (1 + np.cos(np.pi * (t - WARMUP) / (T - WARMUP))) if family == "cosine" else np.full(t.size, PEAK)
    elif family == "wsdcon":
        T, lr_b = 16000, int(arg) * 1e-5
        post = np.r_[np.full(8000 - WARMUP, PEAK), np.full(T - 8000, lr_b)]
    elif family in ("wsd", "wsdld"):
        T, D = 24000, 20000
        t = np.arange(D, T)
        x = (t - D) / (T - D)
        decay = PEAK ** (1 - x) * END ** x if family == "wsd" else PEAK * (1 - x) + END * x
        post = np.r_[np.full(D - WARMUP, PEAK), decay]
    else:
        raise ValueError(f"unknown schedule {name}")
    return np.r_[warm, post]


def write_run(src: Path, name: str, out_dir: Path) -> Path:
    """One row per step: ``step,lr,loss`` with the loss only on the logged steps (< total)."""
    lr = readme_lr(name)
    logged = {}
    with src.open() as fh:
        for row in csv.DictReader(fh):
            s = int(row["step"])
            if s < lr.size:  # drops the step-24000 row of 24000-step runs, as the reference does
                logged[s] = row["loss"]
    path = out_dir / f"{name}.csv"
    with path.open("w") as fh:
        fh.write("step,lr,loss\n")
        for s in range(lr.size):
            fh.write(f"{s},{float(lr[s])!r},{logged.get(s, '')}\n")
    return path


def evaluate(pred, runs) -> dict:
    """PredE, WorstE (%) and band coverage of ``pred(lr, steps)`` on ``runs``."""
    pe, we, cover = [], [], []
    for run in runs:
        lr = run.lr_per_step()
        steps, loss = run.logged("loss")
        p = pred(lr, steps)
        rel = np.abs(p.loss - loss) / loss
        pe.append(rel.mean())
        we.append(rel.max())
        cover.append(np.mean((loss >= p.lower) & (loss <= p.upper)))
    return {"prede": 100 * float(np.mean(pe)), "worste": 100 * float(np.mean(we)), "cover": float(np.mean(cover))}


def errors(law, theta, runs) -> tuple[float, float]:
    """PredE, WorstE (in %) of the law with parameters ``theta`` on ``runs``."""
    pe, we = [], []
    for run in runs:
        steps, loss = run.logged("loss")
        rel = np.abs(law.predict(run.lr_per_step(), steps, np.asarray(theta))[0] - loss) / loss
        pe.append(rel.mean())
        we.append(rel.max())
    return 100 * float(np.mean(pe)), 100 * float(np.mean(we))


def profile(size: int, runs: dict, ours) -> None:
    """What limits the error: the reference parameters, and the best converged fit on the valley."""
    from lrkit.laws import get_law

    train, test = [runs[n] for n in TRAIN], [runs[n] for n in TEST]
    ref_law = get_law("multipower", warmup="ld")
    ref = REFERENCE_PARAMS[size]
    print(f"{size:>4}M profile  pilots' own PredE: ours {errors(ours.law_obj, ours.theta, train)[0]:.3f}%, "
          f"reference {errors(ref_law, ref, train)[0]:.3f}%;  reference parameters on the test curves "
          f"{'%.3f%% / %.3f%%' % errors(ref_law, ref, test)} (published {PUBLISHED[size][0]:.3f}% / {PUBLISHED[size][1]:.3f}%)")
    for warmup in ("skip", "ld"):
        opts = {"warmup": warmup} if warmup == "ld" else {}
        law = get_law("multipower", **opts)
        grid = []
        for C in PROFILE_C:
            for gamma in PROFILE_GAMMA:
                f = fit(train, "multipower", law_options=opts, fixed={"C": C, "gamma": gamma}, prior_weight=0.0,
                        select=False, n_boot=0, holdout=0.0)
                grid.append((f.cost, errors(law, f.theta, test), C, gamma))
        best = min(grid, key=lambda g: g[1][0])
        tight = min(grid, key=lambda g: g[0])
        print(f"{'':>6}valley, warmup={warmup}: best test PredE on the (C, gamma) grid {best[1][0]:.3f}% "
              f"(C={best[2]:g}, gamma={best[3]:g}; {best[0] / tight[0]:.2f}x the best pilot cost); "
              f"at the best pilot fit {tight[1][0]:.3f}%", flush=True)


def figures(out: Path, size: int, proto: str, result, runs: dict, train: list[str]) -> None:
    """Observed vs predicted curves (and, for the two-run fit, a planned schedule)."""
    from lrkit.laws import Curve, plan
    from lrkit.report.law_figures import plot_curves, plot_plan

    out.mkdir(parents=True, exist_ok=True)
    tag = "published" if proto == "published" else "tworun"
    names = train + [n for n in ALL if n not in train and not n.endswith("72000")]
    curves = [Curve(n, runs[n].lr_per_step(), *runs[n].logged("loss")) for n in names]
    plot_curves(result, curves, out / f"predict_{tag}_{size}M.png", fitted=train,
                title=f"{size}M: fitted on {', '.join(train)} (solid); others predicted (dashed)")
    long = [Curve(n, runs[n].lr_per_step(), *runs[n].logged("loss")) for n in ("constant_72000", "cosine_72000")]
    plot_curves(result, long, out / f"predict_{tag}_long_{size}M.png",
                title=f"{size}M: 72000-step runs predicted from {', '.join(train)}")
    if proto == "two-run":
        plot_plan(result, plan(result, 24000, PEAK, family="free", warmup=WARMUP), out / f"predict_plan_{size}M.png")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--sizes", type=int, nargs="+", default=[25, 100, 400])
    ap.add_argument("--laws", nargs="+", default=list(LAW_NAMES) + list(AVERAGES),
                    choices=list(LAW_NAMES) + list(AVERAGES) + list(VARIANTS) + list(CANDIDATES),
                    help="laws to benchmark; " + ", ".join(f"{k} = the mean of {' and '.join(v)}" for k, v in AVERAGES.items())
                    + "; " + ", ".join(f"{k} = {v[0]} with {v[1]}" for k, v in VARIANTS.items())
                    + "; " + ", ".join(f"{k} = candidate of docs/methods.md" for k in CANDIDATES))
    ap.add_argument("--protocols", nargs="+", default=["published", "two-run", "sweep"],
                    choices=["published", "two-run", "sweep"])
    ap.add_argument("--sweep", type=Path, nargs="+", default=[p for p in (SWEEP_CSV, LONG_SWEEP_CSV) if p.exists()],
                    help="the cooldown sweeps' CSVs (laws_sweep.py; default: both that exist)")
    ap.add_argument("--export-sweep", metavar="DB", default=None,
                    help="write the sweep CSV from an lrkit bench database (charlm trials) and exit")
    ap.add_argument("--verbose", action="store_true", help="sweep: the predicted and observed best run per group")
    ap.add_argument("--third-pilot", metavar="SPEC", default=None,
                    help="sweep: a WSD run of the pilots' length joins the constant and cosine pilots and leaves the "
                         "targets (e.g. 'wsd(decay=0.1, form=\"linear\", warmup=30)', a short cooldown branch)")
    ap.add_argument("--no-prior", action="store_true", help="fit the multi-power law without its shape prior")
    ap.add_argument("--no-select", action="store_true",
                    help="fit the multi-power law's default configuration (no forward-chaining selection)")
    ap.add_argument("--figures", type=Path, default=None, help="write docs figures (predict_*.png) for the largest size here")
    ap.add_argument("--profile", action="store_true",
                    help="also print what limits the error: the reference parameters and the law's valley profile")
    args = ap.parse_args()
    warnings.simplefilter("ignore", UndeterminedWarning)  # the flags are printed in the tables
    warnings.simplefilter("ignore", ExtrapolationWarning)  # the 72000-step runs and the sweeps' 2x lengths
    if args.export_sweep:
        print(f"wrote {export_sweep(args.export_sweep, args.sweep[0])} rows to {args.sweep[0]}")
        return
    curves_protocols = [p for p in args.protocols if p != "sweep"]
    if curves_protocols:
        published_tables(args, curves_protocols)
    if "sweep" in args.protocols:
        for path in args.sweep:
            run_sweep(args.laws, path, verbose=args.verbose, third_pilot=args.third_pilot)


def published_tables(args, protocols: list[str]) -> None:
    """The published and two-run protocols on the shared multi-power-law curves."""
    if not args.data.is_dir():
        raise SystemExit(f"data folder not found: {args.data}")
    kw = {"prior_weight": 0.0} if args.no_prior else {}
    if args.no_select:
        kw["select"] = False
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for size in args.sizes:
            d = Path(tmp) / str(size)
            d.mkdir()
            runs = {n: load_run(write_run(args.data / f"csv_{size}" / f"{n}.csv", n, d)) for n in ALL}
            for law in args.laws:
                for proto, train in (("published", TRAIN), ("two-run", TRAIN[:2])):
                    if proto not in protocols:
                        continue
                    t0 = time.perf_counter()
                    if law in AVERAGES or law in VARIANTS or law in CANDIDATES:
                        result, pred = fit_predictor([runs[n] for n in train], law)
                    else:
                        result = fit([runs[n] for n in train], law, **(kw if law.startswith("multipower") else {}))
                        pred = partial(predict, result, extrapolate=True)
                    secs = time.perf_counter() - t0
                    ev = evaluate(pred, [runs[n] for n in ALL if n not in train])
                    rows.append((size, law, proto, ev, secs))
                    if args.figures and size == max(args.sizes) and law == "multipower":
                        figures(args.figures, size, proto, result, runs, train)
                    pub = PUBLISHED[size]
                    ratio = f"  ratio {ev['prede'] / pub[0]:.2f} / {ev['worste'] / pub[1]:.2f}"
                    chosen = ""
                    if getattr(result, "selection", None):
                        cfg = result.selection["config"]
                        chosen = f"  chosen: warmup={cfg['law_options'].get('warmup', 'skip')} shrink={cfg['shrink']:g}"
                    flags = f"  undetermined: {', '.join(result.flags)}" if result.flags else ""
                    print(f"{size:>4}M {law:<10} {proto:<9}  PredE {ev['prede']:.3f}%  WorstE {ev['worste']:.3f}%"
                          f"{ratio}  band coverage {100 * ev['cover']:.0f}%  fit {secs:.2f} s{chosen}{flags}", flush=True)
                    if args.profile and law == "multipower" and proto == "published":
                        profile(size, runs, result)
    print("\npublished (reference code, multi-power law): " + ", ".join(
        f"{s}M {p[0]:.3f}%/{p[1]:.3f}%" for s, p in PUBLISHED.items()))
    print("ratio = ours / published (PredE / WorstE; the published figures are of the published protocol); "
          "< 1 beats the published number.")


if __name__ == "__main__":
    main()
