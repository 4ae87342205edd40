"""How fast the benchmark harness runs trials, as ratios against named anchors.

Figures (each the best of ``--repeat`` runs; wall-clock, so run on a quiet machine):

* **trials per minute per workload**, one trial at a time in this process (``--workers 0``), and the
  ratio against the anchor: *the same model, data and steps in a bare PyTorch loop* (no lrkit
  scheduler, no logging, no evaluation).  Above 1.0: the harness costs that much more per trial
  (evaluation every K steps is most of it).
* **local pool scaling**: the same set of trials with 1 and 2 worker processes (1 torch thread
  each); anchor: 1 worker.  Workers are warmed up by a few trials first (reported separately).
* **store overhead per logged point**: ``Store.finish`` of histories of 50 and 500 points, in µs
  per point; anchor: one training step of digits-mlp.
* **Ray vs local**: the same trials on a local Ray cluster (2 CPUs) and the local pool (2
  workers), both warmed up by a few trials first; anchor: the local pool.  Start-up is reported
  separately.

    python benchmarks/bench_harness.py            # the full run (a few minutes)
    python benchmarks/bench_harness.py --quick    # a smoke run
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from lrkit.bench import Store, Trial, expand, make_executor, sweep
from lrkit.bench.train import run_trial



def bare_loop(workload: str, steps: int, options: dict) -> float:
    """Seconds for the same training as a trial, in a bare loop (the anchor)."""
    import torch

    from lrkit.bench.workloads import get_workload

    t0 = time.perf_counter()
    task = get_workload(workload).task(seed=0, steps=steps, **options)
    opt = torch.optim.AdamW(task.model.parameters(), lr=1e-3, betas=task.betas, weight_decay=task.weight_decay)
    for t in range(steps):
        loss = task.loss(task.model, task.batch(t))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    return time.perf_counter() - t0


def warm(ex, n: int) -> float:
    """Start the executor's workers and run a trial in each (imports, data sets); returns the seconds."""
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "warm.db") as s:
        sweep(s, expand(["digits-mlp"], ["constant()"], [3e-3], n, 20), ex)
    return time.perf_counter() - t0


def best(f, repeat: int) -> float:
    return min(f() for _ in range(repeat))


def trials_per_minute(cases, repeat: int) -> None:
    import torch

    torch.set_num_threads(1)
    print("\ntrials per minute, one at a time in this process (1 torch thread)")
    print(f"  {'workload':<12} {'steps':>6} {'trial s':>8} {'trials/min':>10} {'bare loop s':>11} {'× bare':>7}")
    for wl, steps, opts in cases:
        trial = Trial(wl, "cosine(warmup=0.05)", 3e-3, steps=steps, options=opts)
        run_trial(trial, threads=1)  # warm caches (data sets, imports)
        t = best(lambda: run_trial(trial, threads=1)["summary"]["wall_time"], repeat)
        b = best(lambda: bare_loop(wl, steps, opts), repeat)
        print(f"  {wl:<12} {steps:>6} {t:>8.2f} {60 / t:>10.1f} {b:>11.2f} {t / b:>7.2f}")


def pool_scaling(n_trials: int, steps: int) -> None:
    print(f"\nlocal pool scaling: {n_trials} digits-mlp trials of {steps} steps, 1 torch thread per worker")
    trials = expand(["digits-mlp"], ["cosine(warmup=0.05)"], [3e-3], n_trials, steps)
    times = {}
    for workers in (1, 2):
        with tempfile.TemporaryDirectory() as d, Store(Path(d) / "b.db") as s:
            ex = make_executor("local", workers, threads=1)
            start = warm(ex, 2 * workers)
            t0 = time.perf_counter()
            sweep(s, trials, ex)
            ex.close()
            times[workers] = time.perf_counter() - t0
        print(f"  {workers} worker{'s' if workers > 1 else ' '}: {times[workers]:6.1f} s  {60 * n_trials / times[workers]:6.1f} trials/min"
              f"  speed-up × {times[1] / times[workers]:.2f}   (+ {start:.1f} s to start and warm the workers)")


def store_overhead(repeat: int) -> None:
    print("\nstore overhead: Store.finish (one transaction: history + status)")
    step_s = best(lambda: bare_loop("digits-mlp", 200, {}) / 200, repeat)
    for points in (50, 500):
        h = {k: list(np.random.default_rng(0).random(points)) for k in ("lr", "loss", "val_loss", "grad_norm", "time")}
        h["step"] = list(range(points))
        res = {"history": h, "summary": {"final_val": 1.0, "best_val": 1.0, "init_val": 2.0, "diverged": False}}
        with tempfile.TemporaryDirectory() as d, Store(Path(d) / "b.db") as s:
            n = 40
            ids = s.add([Trial("digits-mlp", "cosine()", 1e-3, seed=i, steps=10) for i in range(n)])
            s.claim(ids, "bench:1:x", limit=n)
            t0 = time.perf_counter()
            for i in ids:
                s.finish(i, res)
            dt = (time.perf_counter() - t0) / n
        print(f"  {points:>4} points: {dt * 1e3:7.2f} ms per trial, {dt / points * 1e6:6.1f} µs per point"
              f"  = {dt / points / step_s:.4f} digits-mlp steps per point ({step_s * 1e3:.2f} ms a step)")


def ray_vs_local(n_trials: int, steps: int) -> None:
    try:
        import ray  # noqa: F401 - only to know it is there
    except ImportError:
        print("\nRay vs local: skipped (ray is not installed)")
        return
    print(f"\nRay vs local: {n_trials} digits-mlp trials of {steps} steps, 2 CPUs")
    trials = expand(["digits-mlp"], ["linear(warmup=0.05)"], [3e-3], n_trials, steps)
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "l.db") as s:
        ex = make_executor("local", 2, threads=1)
        pool_start = warm(ex, 4)
        t0 = time.perf_counter()
        sweep(s, trials, ex)
        ex.close()
        local = time.perf_counter() - t0
    t0 = time.perf_counter()
    ex = make_executor("ray", 2, threads=1)
    start = time.perf_counter() - t0
    start += warm(ex, 4)
    with tempfile.TemporaryDirectory() as d, Store(Path(d) / "r.db") as s:
        t0 = time.perf_counter()
        sweep(s, trials, ex)
        ray_s = time.perf_counter() - t0
    ex.close()
    print(f"  local pool : {local:6.1f} s  {60 * n_trials / local:6.1f} trials/min (anchor; + {pool_start:.1f} s to start and warm the workers)")
    print(f"  ray        : {ray_s:6.1f} s  {60 * n_trials / ray_s:6.1f} trials/min  × {local / ray_s:.2f} of the pool's "
          f"throughput (+ {start:.1f} s to start and warm a local Ray cluster)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="a smoke run")
    ap.add_argument("--repeat", type=int, default=None)
    ap.add_argument("--skip-ray", action="store_true")
    args = ap.parse_args()
    repeat = args.repeat or (1 if args.quick else 3)
    print(f"lrkit bench harness · Python {platform.python_version()} · {os.cpu_count()} CPUs · {platform.machine()}")
    if args.quick:
        cases = [("digits-mlp", 50, {}), ("mnist1d", 20, {}), ("charlm", 10, {})]
    else:
        cases = [("digits-mlp", 500, {}), ("mnist1d", 500, {}), ("charlm", 200, {})]
    trials_per_minute(cases, repeat)
    pool_scaling(4 if args.quick else 8, 100 if args.quick else 400)
    store_overhead(repeat)
    if not args.skip_ray:
        ray_vs_local(4 if args.quick else 8, 100 if args.quick else 400)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
