"""How the LR range test's suggestion compares with the best peak LR of a swept grid, for a cosine run.

For each workload (digits-mlp, mnist1d, charlm) and AdamW, on seed 0 unless ``--seeds`` says more:

1. **The range test**, as ``lrkit find-lr`` runs it: 100 steps from 1e-7 to 10, smoothing 0.98, stop at
   4x the best smoothed loss; the suggestion of every method (``valley``, ``steep``, ``minimum``: fastai's;
   ``steepest``: Lightning's).
2. **The grid**: ``cosine(warmup=0.05)`` for the workload's run length at peak LRs 1e-4 .. 3e-2 (9 points,
   a factor of about 2 apart); the best is the lowest final validation loss.
3. **Each suggestion** trained the same way. Reported: ``ratio`` = suggested LR / best grid LR, and the
   final-loss ``gap`` = final validation loss at the suggestion - at the best grid LR (0 or below: as good).

    nice -n 19 python benchmarks/bench_find_lr.py            # a few minutes on 2 cores
    python benchmarks/bench_find_lr.py --quick               # a smoke run (seconds)

Writes ``benchmarks/results/find_lr.json`` (not with --quick).
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SCHEDULE = "cosine(warmup=0.05)"
STEPS = {"digits-mlp": 500, "mnist1d": 1000, "charlm": 400}
GRID = [float(x) for x in np.geomspace(1e-4, 3e-2, 9)]
METHODS = ("valley", "steep", "minimum", "steepest")


def range_test(workload: str, seed: int, steps: int = 100):
    """``lrkit find-lr``'s run: the bench's optimizer (AdamW, the workload's betas and weight decay)."""
    from lrkit.bench.workloads import get_workload
    from lrkit.torch import find_lr

    try:
        from lrkit.bench.loop import make_optimizer
    except ImportError:
        from lrkit.bench.train import make_optimizer
    task = get_workload(workload).task(seed=seed, steps=steps)
    params = [p for p in task.model.parameters() if p.requires_grad]
    opt = make_optimizer("adamw", params, 1e-7, task.weight_decay, tuple(task.betas))
    counter = itertools.count()
    return find_lr(task.model, opt, lambda: task.loss(task.model, task.batch(next(counter))), steps=steps,
                   clip=task.clip)


def final_val(workload: str, lr: float, steps: int, seed: int) -> float:
    from lrkit.bench.train import run_trial
    from lrkit.bench.trial import Trial

    out = run_trial(Trial(workload, SCHEDULE, lr, steps=steps, seed=seed), threads=1)
    v = out["summary"]["final_val"]
    return v if math.isfinite(v) else math.inf


def measure(workload: str, steps: int, seeds: int, grid: list[float], finder_steps: int) -> dict:
    t0 = time.perf_counter()
    rows = []
    for seed in range(seeds):
        r = range_test(workload, seed, finder_steps)
        sugg = r.suggestions()
        curve = {lr: final_val(workload, lr, steps, seed) for lr in grid}
        best_lr = min(curve, key=curve.get)
        for m in METHODS:
            lr = sugg[m]
            val = final_val(workload, lr, steps, seed) if lr is not None else math.nan
            rows.append({"seed": seed, "method": m, "suggested": lr, "best_grid_lr": best_lr,
                         "ratio": lr / best_lr if lr else math.nan, "final_val": val,
                         "best_grid_val": curve[best_lr], "gap": val - curve[best_lr],
                         "stopped": r.stopped})
        rows[-1]["grid"] = curve
    return {"workload": workload, "steps": steps, "seeds": seeds, "rows": rows,
            "seconds": time.perf_counter() - t0}


def render(results: list[dict]) -> None:
    print(f"LR range test vs the best grid peak LR of {SCHEDULE} (AdamW); grid {GRID[0]:.0e} .. {GRID[-1]:.0e}, "
          f"{len(GRID)} points")
    head = f"{'workload':11s} {'steps':>5s} {'method':9s} {'suggested':>10s} {'best grid':>10s} {'ratio':>7s} " \
           f"{'final val':>10s} {'best val':>9s} {'gap':>8s}"
    print(head)
    print("-" * len(head))
    for res in results:
        for row in res["rows"]:
            s = "-" if row["suggested"] is None else f"{row['suggested']:.3g}"
            print(f"{res['workload']:11s} {res['steps']:5d} {row['method']:9s} {s:>10s} {row['best_grid_lr']:10.3g} "
                  f"{row['ratio']:7.2f} {row['final_val']:10.4f} {row['best_grid_val']:9.4f} {row['gap']:+8.4f}")
        print(f"  ({res['seconds']:.0f} s; range test stopped: {res['rows'][0]['stopped']})")
    for m in METHODS:
        ratios = [row["ratio"] for res in results for row in res["rows"] if row["method"] == m and
                  math.isfinite(row["ratio"])]
        gaps = [row["gap"] for res in results for row in res["rows"] if row["method"] == m]
        if ratios:
            geo = math.exp(float(np.mean(np.log(ratios))))
            print(f"{m:9s} ratio geometric mean {geo:.2f} (range {min(ratios):.2f} .. {max(ratios):.2f}); "
                  f"final-loss gap mean {float(np.mean(gaps)):+.4f}")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--workloads", nargs="+", default=list(STEPS))
    p.add_argument("--seeds", type=int, default=1)
    p.add_argument("--quick", action="store_true", help="a smoke run: digits-mlp, short runs, 3 grid points")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    if args.quick:
        results = [measure("digits-mlp", 60, 1, GRID[::4], 30)]
    else:
        results = [measure(w, STEPS[w], args.seeds, GRID, 100) for w in args.workloads]
    render(results)
    if not args.quick:
        out = ROOT / "benchmarks" / "results" / "find_lr.json"
        out.write_text(json.dumps(results, indent=1, default=lambda x: None if not math.isfinite(x) else x))
        print(f"wrote {out.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
