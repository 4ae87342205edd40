"""Adaptive schedules against tuned fixed ones: steps to the validation target and final validation loss.

For each workload (mnist1d, charlm by default) and AdamW:

1. **Tuned anchors.** cosine, linear and WSD (``wsd(decay=0.2)``), each with 5% warmup, at a grid of
   peak LRs on seed 0; the best LR of each (lowest final validation loss) is then run on every seed.
2. **Adaptive methods**, at the tuned cosine's peak LR where they take one:
   * ``refine``: a pilot under tuned ``linear`` logs the gradient l1 norms, the trial trains under the
     refined schedule (the pilot's steps are counted as search compute);
   * ``autolrs``: AutoLRS searching [0.03, 3] × the tuned LR (probe steps are training steps of the run);
   * ``hypergradient``: HD on AdamW's LR from the tuned LR under a cosine, multiplicative rule, beta 0.02
     (the additive rule with the reference's Adam beta 1e-7 moved the LR by under 0.3% here: a no-op);
   * ``plateau``: warmup, a plateau phase driven by the validation loss, then a linear cooldown over the
     last 20% (the patience counts logged points);
   * ``pbt`` (needs ray[tune]): a population of 4 WSD members exploring peak LR and decay fraction, one
     seed (its compute is 4 runs).
3. **Figures.** The validation **target** is the median over seeds of tuned cosine's best validation loss
   (the workloads overfit a little, so the best, not the last, value). *Steps to target* is the first logged
   step at or below it (median over seeds; ``inf``: not reached); the
   **speedup** is tuned cosine's steps to target divided by the method's. Final validation loss is the
   mean ± std over seeds. ``compute`` is the training steps spent per seed, searches included, as a
   multiple of one run.

    python benchmarks/bench_adaptive.py                 # about 20-30 minutes on 2 cores
    python benchmarks/bench_adaptive.py --quick         # a smoke run (a minute)

Writes ``benchmarks/results/adaptive.json`` and ``docs/figures/adaptive_bench_<workload>.png``.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
ANCHORS = {"cosine": "cosine(warmup=0.05)", "linear": "linear(warmup=0.05)", "wsd": "wsd(warmup=0.05, decay=0.2)"}


def _init() -> None:
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = "1"


def run_one(args: tuple) -> dict:
    """One trial in a worker: ``(workload, spec, lr, seed, steps)`` -> history and summary."""
    workload, spec, lr, seed, steps = args
    _init()
    from lrkit.bench import Trial
    from lrkit.bench.train import run_trial  # picks the driver: fixed, plateau, refine, hypergradient, autolrs

    trial = Trial(workload, spec, lr, "adamw", seed, steps)
    t0 = time.perf_counter()
    res = run_trial(trial, threads=1)
    res["args"] = list(args)
    res["wall"] = time.perf_counter() - t0
    return res


def run_pbt(workload: str, steps: int, lr: float) -> dict:
    from lrkit.bench.pbt import pbt_search

    t0 = time.perf_counter()
    r = pbt_search(workload, steps, template="wsd(warmup=0.05, decay={decay})",
                   space={"lr": (lr / 4, lr * 4, "log"), "decay": (0.05, 0.6)}, population=4,
                   interval=max(steps // 20, 1), perturbation_interval=2, seed=0, num_cpus=2)
    h = r.best_history()
    hist = {"step": [x["step"] - 1 for x in h], "val_loss": [x["val_loss"] for x in h]}
    return {"history": hist, "summary": {"final_val": r.best_val, "info": {"best_spec": r.best_spec}},
            "args": [workload, "pbt", lr, 0, steps], "wall": time.perf_counter() - t0}


def logger_overhead(workload: str = "mnist1d", steps: int = 300, repeat: int = 5) -> dict:
    """The cost of :class:`GradNormLogger`: its hook alone (µs per step, timed directly) against a training step
    of ``workload`` (µs, best of ``repeat``), and the end-to-end ratio of step times with and without it
    (noisy on a shared machine: the hook is the reliable figure)."""
    _init()
    import torch

    from lrkit.adaptive.refine import GradNormLogger
    from lrkit.bench.workloads import get_workload

    torch.set_num_threads(1)
    task = get_workload(workload).task(seed=0, steps=steps)
    opt = torch.optim.AdamW(task.model.parameters(), lr=1e-3)
    batches = [task.batch(t) for t in range(steps)]

    def timed(log) -> float:
        t0 = time.perf_counter()
        for b in batches:
            loss = task.loss(task.model, b)
            opt.zero_grad()
            loss.backward()
            opt.step()
        if log is not None:
            log.norms("l1")  # the one host synchronisation
        return (time.perf_counter() - t0) / steps

    timed(None)
    base, logged = [], []
    for _ in range(repeat):  # interleaved, so drifting load hits both alike
        base.append(timed(None))
        log = GradNormLogger(opt)
        logged.append(timed(log))
        log.remove()
    log = GradNormLogger(opt)
    t0 = time.perf_counter()
    for _ in range(2000):
        log._hook(opt, (), {})
    hook = (time.perf_counter() - t0) / 2000
    return {"hook_us": hook * 1e6, "step_us": min(base) * 1e6, "ratio": min(logged) / min(base)}


def steps_to_target(hist: dict, target: float) -> float:
    v = np.asarray(hist["val_loss"], dtype=float)
    hit = np.nonzero(np.isfinite(v) & (v <= target))[0]
    return float(hist["step"][hit[0]] + 1) if hit.size else math.inf


def median_inf(x) -> float:
    a = np.sort(np.asarray(x, dtype=float))
    if not a.size:
        return math.inf
    n = a.size
    if n % 2:
        return float(a[n // 2])
    return float(a[n // 2]) if math.isinf(a[n // 2]) else float((a[n // 2 - 1] + a[n // 2]) / 2)


def bench_workload(pool, workload: str, steps: int, seeds: int, lrs: list[float], pbt: bool) -> dict:
    print(f"\n== {workload}: {steps} steps, {seeds} seeds, LR grid {lrs}", flush=True)
    t0 = time.perf_counter()
    grid = list(pool.map(run_one, [(workload, spec, lr, 0, steps) for spec in ANCHORS.values() for lr in lrs]))
    best_lr = {}
    for name, spec in ANCHORS.items():
        rows = [r for r in grid if r["args"][1] == spec]
        best = min(rows, key=lambda r: _final(r))
        best_lr[name] = best["args"][2]
        print(f"  tuned {name}: lr={best_lr[name]:g} (final val " +
              ", ".join(f"{r['args'][2]:g}: {_final(r):.4f}" for r in rows) + ")", flush=True)
    lr = best_lr["cosine"]
    methods = {name: (spec, best_lr[name], 1.0) for name, spec in ANCHORS.items()}
    methods.update({
        "refine": (f'refine(pilot="{ANCHORS["linear"]}", warmup=0.05)', best_lr["linear"], 2.0),
        "autolrs": ("autolrs()", lr, 1.0),
        "hypergradient": ('hypergradient(beta=0.02, mode="multiplicative", schedule="cosine(warmup=0.05)")', lr, 1.0),
        "plateau": ("sequence(constant(warmup=1.0), plateau(factor=0.5, patience=2), linear(), "
                    "boundaries=[0.05, 0.8])", lr, 1.0),
    })
    jobs = []
    for name, (spec, mlr, _) in methods.items():
        for seed in range(seeds):
            if name in ANCHORS and seed == 0 and mlr == best_lr[name]:
                continue  # already run in the grid
            jobs.append((workload, spec, mlr, seed, steps))
    runs = {name: [] for name in methods}
    for r in grid:
        for name, (spec, mlr, _) in methods.items():
            if name in ANCHORS and r["args"][1] == spec and r["args"][2] == mlr:
                runs[name].append(r)
    spec_to_name = {(spec, mlr): name for name, (spec, mlr, _) in methods.items()}
    for r in pool.map(run_one, jobs):
        runs[spec_to_name[(r["args"][1], r["args"][2])]].append(r)
    if pbt:
        try:
            runs["pbt"] = [run_pbt(workload, steps, lr)]
            methods["pbt"] = ("pbt", lr, 4.0)
        except Exception as e:  # noqa: BLE001 - reported, the rest of the benchmark stands
            print(f"  pbt skipped: {type(e).__name__}: {e}", flush=True)
    curves = {name: [{"step": r["history"]["step"], "val_loss": r["history"]["val_loss"]} for r in rs]
              for name, rs in runs.items()}
    info = {name: [r["summary"].get("info", {}).get(k) for r in rs
                   for k in ("refined_spec", "chosen_lrs", "final_lr", "best_spec")
                   if r["summary"].get("info", {}).get(k) is not None][:3] for name, rs in runs.items()}
    meta = {name: {"spec": methods[name][0], "lr": methods[name][1], "compute": methods[name][2]} for name in runs}
    target, table = summarize(curves, meta)
    for name in table:
        table[name]["info"] = info.get(name, [])
    print_table(target, table)
    print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
    return {"workload": workload, "steps": steps, "seeds": seeds, "lr_grid": lrs, "tuned_lr": best_lr,
            "target": target, "table": table, "curves": curves}


def summarize(curves: dict, meta: dict) -> tuple[float, dict]:
    """The target (median over seeds of tuned cosine's best validation loss) and each method's row."""
    def best(c):
        v = np.asarray(c["val_loss"], dtype=float)
        return float(np.nanmin(v)) if np.isfinite(v).any() else math.inf

    target = float(np.median([best(c) for c in curves["cosine"]]))
    ref = median_inf([steps_to_target(c, target) for c in curves["cosine"]])
    table = {}
    for name, cs in curves.items():
        if not cs:
            continue
        st = median_inf([steps_to_target(c, target) for c in cs])
        finals = np.array([c["val_loss"][-1] if c["val_loss"] else math.nan for c in cs], dtype=float)
        bests = np.array([best(c) for c in cs])
        table[name] = {**meta[name], "steps_to_target": st, "speedup": (ref / st) if math.isfinite(st) else 0.0,
                       "final_val_mean": float(np.nanmean(finals)), "final_val_std": float(np.nanstd(finals)),
                       "best_val_mean": float(np.nanmean(bests)), "seeds": len(cs)}
    return target, table


def print_table(target: float, table: dict) -> None:
    ref = table["cosine"]["steps_to_target"]
    print(f"  target (median best val of tuned cosine) = {target:.4f}; tuned cosine reaches it at step {ref:g}")
    print(f"  {'method':<14} {'steps to target':>16} {'speedup':>8} {'final val (mean ± std)':>24} "
          f"{'best val':>9} {'compute':>8}")
    for name, row in table.items():
        print(f"  {name:<14} {row['steps_to_target']:>16g} {row['speedup']:>8.2f} "
              f"{row['final_val_mean']:>14.4f} ± {row['final_val_std']:.4f} {row['best_val_mean']:>9.4f} "
              f"{row['compute']:>7.1f}x")


def _final(r: dict) -> float:
    v = r["summary"].get("final_val", math.nan)
    return v if v == v else math.inf


def figure(result: dict, path: Path) -> None:
    from lrkit.report import style

    style.use_agg()
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.6), dpi=110, layout="constrained")
    style.apply(ax)
    for i, (name, runs) in enumerate(result["curves"].items()):
        for j, c in enumerate(runs):
            ax.plot(np.asarray(c["step"]) + 1, c["val_loss"], color=style.PALETTE[i % len(style.PALETTE)],
                    linewidth=1.6 if j == 0 else 0.8, alpha=1.0 if j == 0 else 0.5, label=name if j == 0 else None)
    ax.axhline(result["target"], color="#888888", linestyle="--", linewidth=1, label="target (tuned cosine's best)")
    finals = [c["val_loss"][-1] for runs in result["curves"].values() for c in runs if c["val_loss"]]
    lo = min(finals)
    ax.set_ylim(lo * 0.95, result["target"] * 2.0)
    ax.set_xlabel("step (AutoLRS: probes included)")
    ax.set_ylabel("validation loss")
    ax.set_title(f"{result['workload']}: adaptive methods vs tuned schedules ({result['seeds']} seeds)", loc="left",
                 fontsize=11, fontweight="bold")
    fig.legend(frameon=False, fontsize=8, ncols=5, loc="outside lower center")
    fig.savefig(path, bbox_inches="tight")
    plt.close(fig)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="a smoke run: tiny steps, one seed, no PBT")
    p.add_argument("--workloads", nargs="+", default=["mnist1d", "charlm"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--no-pbt", action="store_true")
    p.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "adaptive.json"))
    p.add_argument("--analyze", metavar="JSON", help="recompute the tables and figures from a saved result file")
    a = p.parse_args(argv)
    if a.analyze:
        saved = json.loads(Path(a.analyze).read_text())
        for res in saved["results"]:
            meta = {k: {x: row[x] for x in ("spec", "lr", "compute")} for k, row in res["table"].items()}
            res["target"], table = summarize(res["curves"], meta)
            for k in table:
                table[k]["info"] = res["table"][k].get("info", [])
            res["table"] = table
            print(f"\n== {res['workload']}: {res['steps']} steps, {res['seeds']} seeds, tuned LRs {res['tuned_lr']}")
            print_table(res["target"], table)
            figure(res, ROOT / "docs" / "figures" / f"adaptive_bench_{res['workload']}.png")
        Path(a.analyze).write_text(json.dumps(saved, indent=1, default=str))
        return 0
    steps = {"digits-mlp": 300, "mnist1d": 1500, "charlm": 500}
    lrs = {"digits-mlp": [1e-3, 3e-3, 1e-2], "mnist1d": [3e-3, 1e-2, 3e-2], "charlm": [3e-3, 1e-2, 3e-2]}
    if a.quick:
        steps = {k: 60 for k in steps}
        a.seeds = 1
    ratio = logger_overhead(steps=60 if a.quick else 300)
    print(f"GradNormLogger on mnist1d (1 thread): hook {ratio['hook_us']:.0f} µs per step, a training step "
          f"{ratio['step_us']:.0f} µs ({ratio['hook_us'] / ratio['step_us']:.1%}); end-to-end step time with / "
          f"without {ratio['ratio']:.3f}", flush=True)
    results = []
    with ProcessPoolExecutor(a.workers, initializer=_init) as pool:
        for wl in a.workloads:
            res = bench_workload(pool, wl, steps[wl], a.seeds, lrs[wl], pbt=not (a.quick or a.no_pbt))
            results.append(res)
            if not a.quick:
                figure(res, ROOT / "docs" / "figures" / f"adaptive_bench_{wl}.png")
                out = Path(a.out)  # after each workload, so a later failure keeps the earlier results
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_text(json.dumps({"python": sys.version.split()[0], "logger_overhead": ratio,
                                           "results": results}, indent=1, default=str))
                print(f"wrote {out}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
