"""Benchmark the demo (``lrkit demo``): does its story hold, and how long does it take?

    python benchmarks/bench_demo.py [--out DIR] [--quick] [--workers 2]

Runs the demo once (a fresh folder unless ``--out`` names one that holds finished trials: they are
reused, and the times then say so), then prints per schedule the law's predicted final validation loss
against the seeds' realised mean (relative error; the demo promises 2%), the predicted and realised
ranking, the planned schedule minus the best standard one with the seeds' sd and standard error and
the noise verdict, and wall-clock and CPU seconds (the demo process and its trial workers) with the
load average before and after, since the machine may be shared.  The anchor for time: the 6-minute
target on 2 cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

TARGET_S = 360.0  # the demo's promise on a 2-core CPU


def _report(res, load0: tuple[float, ...], reused: bool) -> None:
    st = res.story
    print(f"demo: charlm, {res.budget:,} steps per run, {len(st.rows[0].seeds)} seeds per schedule")
    print(f"\n{'schedule':32s} {'predicted':>9s} {'band':>17s} {'realised mean':>13s} {'sd':>7s} {'seeds':>22s} {'error':>7s}")
    for r in st.rows:
        name = ("planned: " if r.planned else "") + r.label
        seeds = " ".join(f"{v:.4f}" for v in r.finals)
        print(f"{name[:32]:32s} {r.predicted:9.4f} {r.lower:8.4f}-{r.upper:8.4f} {r.mean:13.4f} {r.sd:7.4f} {seeds:>22s} "
              f"{r.error * 100:+6.2f}%")
    worst = max(abs(r.error) for r in st.rows)
    print(f"\nlargest |error| {worst * 100:.2f}% (promise: {st.tolerance * 100:g}%): "
          + ("every schedule within" if not st.misses else f"{len(st.misses)} outside"))
    print(f"ranking: predicted {' < '.join(st.predicted_ranking)}")
    print(f"         realised  {' < '.join(st.realised_ranking)}  ({'agree' if st.ranking_agrees else 'differ'})")
    c = st.comparison
    if c is not None:
        plan = next(r for r in st.rows if r.planned)
        std = next(r for r in st.rows if r.label == c.standard and not r.planned)
        print(f"plan vs best standard ({c.standard}): {c.difference:+.4f} (seed sd {plan.sd:.4f} and {std.sd:.4f}; "
              f"{'paired ' if c.paired else ''}SE {c.se:.4f}, t {c.t:+.2f}, critical {c.critical:.2f}): "
              f"{'beyond' if c.beyond_noise else 'within'} seed noise")
    print(f"\nconclusion: {st.sentence()}")
    for note in res.notes:
        print(f"note: {note}")
    phases = ", ".join(f"{k} {v:.1f} s" for k, v in res.phases.items())
    print(f"\ntime: {res.seconds:.1f} s wall ({res.seconds / TARGET_S:.2f}x the {TARGET_S:.0f} s target), "
          f"{res.cpu_seconds:.1f} s CPU ({res.cpu_seconds / 2:.1f} s of 2 cores busy); {phases}"
          + (" [finished trials were reused]" if reused else ""))
    load1 = os.getloadavg()
    print(f"load average before {load0[0]:.2f} {load0[1]:.2f} {load0[2]:.2f}, after {load1[0]:.2f} {load1[1]:.2f} "
          f"{load1[2]:.2f} on {os.cpu_count()} CPUs")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="the demo's folder (default: a fresh temporary one)")
    ap.add_argument("--quick", action="store_true", help="the smoke version (lrkit demo --quick)")
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    from lrkit.demo import run_demo

    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="lrkit-bench-demo-") as tmp:
        out = Path(args.out) if args.out else Path(tmp) / "demo"
        reused = (out / "demo.db").exists()
        res = run_demo(out, quick=args.quick, workers=args.workers, say=lambda m: print(f"> {m}", file=sys.stderr))
        _report(res, load0, reused)


if __name__ == "__main__":
    main()
