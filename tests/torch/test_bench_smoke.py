"""The scheduler benchmark runs (no timing asserts: benchmarks print figures, tests check they work)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_torch_scheduler.py"


def test_benchmark_quick_runs_and_prints_both_ratios():
    proc = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    assert out.count("ratio ours / LambdaLR") == 2 and out.count("ratio ours / CosineAnnealingLR") == 2
    assert len(re.findall(r"lrkit\s+\d+\.\d+ us/step", out)) == 2
    assert proc.stderr == ""  # no warnings either
