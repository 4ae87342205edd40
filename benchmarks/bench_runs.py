"""Benchmark the run-file loaders: seconds and peak memory to load an N-row CSV / JSON-lines run.

    python benchmarks/bench_runs.py [--rows 6000000] [--formats csv jsonl] [--quick]

Each file is written to a temporary folder (step, lr, loss on every row, like a per-step log), then
loaded once with ``lrkit.runs.load_run`` in a fresh process, which reports wall and CPU seconds and
its peak resident memory (VmHWM, Linux).  Also timed: ``Run.lr_per_step()`` on the loaded run, and a file of 1,000
rows plus one typo row at step 10^8, which must be refused at once (costs follow the rows logged).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

CHILD = r"""
import sys, time
from lrkit.runs import RunError, load_run
t, c = time.perf_counter(), time.process_time()
run = load_run(sys.argv[1])
load_wall, load_cpu = time.perf_counter() - t, time.process_time() - c
t = time.perf_counter()
try:
    run.lr_per_step()
    lr = f"{time.perf_counter() - t:.2f} s"
except RunError as e:
    lr = f"refused in {time.perf_counter() - t:.3f} s ({str(e).split(': ', 1)[1][:60]}...)"
rss = next(int(l.split()[1]) for l in open("/proc/self/status") if l.startswith("VmHWM")) / 2**20  # kB -> GB
print(f"{run.step.size:>10,} rows  load {load_wall:6.2f} s wall, {load_cpu:6.2f} s CPU  peak {rss:5.2f} GB  lr_per_step {lr}")
"""


def write(path: Path, n: int, fmt: str, typo: bool = False) -> None:
    s = np.arange(n)
    lr = 3e-4 * 0.5 * (1 + np.cos(np.pi * s / n))
    loss = 2 + 3 * (s + 100.0) ** -0.3
    with path.open("w") as f:
        if fmt == "csv":
            f.write("step,lr,loss\n")
            np.savetxt(f, np.c_[s, lr, loss], fmt=["%d", "%.6g", "%.6f"], delimiter=",")
            if typo:
                f.write("100000000,0.0003,2.5\n")
        else:
            for a, b, c in zip(s.tolist(), lr.tolist(), loss.tolist()):
                f.write(f'{{"step": {a}, "lr": {b:.6g}, "loss": {c:.6f}}}\n')
            if typo:
                f.write('{"step": 100000000, "lr": 0.0003, "loss": 2.5}\n')


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=6_000_000)
    ap.add_argument("--formats", nargs="+", default=["csv", "jsonl"], choices=["csv", "jsonl"])
    ap.add_argument("--quick", action="store_true", help="200,000 rows")
    args = ap.parse_args()
    n = 200_000 if args.quick else args.rows
    src = Path(__file__).resolve().parents[1] / "src"
    with tempfile.TemporaryDirectory() as tmp:
        for fmt in args.formats:
            for rows, typo in ((n, False), (1000, True)):
                path = Path(tmp) / f"run_{rows}{'_typo' if typo else ''}.{fmt}"
                write(path, rows, fmt, typo)
                size = path.stat().st_size / 2**20
                out = subprocess.run([sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True,
                                     env={"PYTHONPATH": str(src)})
                print(f"{fmt:5} {size:7.1f} MB  " + (out.stdout.strip() or out.stderr.strip().splitlines()[-1]))


if __name__ == "__main__":
    main()
