"""benchmarks/bench_demo.py runs end to end (--quick) and prints every figure it promises; no timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import env

ROOT = Path(__file__).resolve().parents[2]


def test_bench_demo_quick_prints_its_figures(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_demo.py"), "--quick", "--out", str(tmp_path / "d")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT, env=env())
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for needle in ("predicted", "realised mean", "largest |error|", "ranking: predicted", "realised  ",
                   "plan vs best standard", "seed sd", "SE ", "seed noise", "conclusion: The planned schedule",
                   "s wall", "s CPU", "load average"):
        assert needle in out, needle
    assert str(tmp_path) not in out  # no machine paths in what it prints
