"""The benchmark script runs end to end (``--quick``); no timing is asserted, only that it reports every family."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from lrkit.schedules import REGISTRY

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "bench_schedules.py"


def test_bench_schedules_quick_runs_and_reports_every_family():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--quick"], capture_output=True, text=True, timeout=300,
                          cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "anchor" in out and "LambdaLR" in out
    missing = [name for name in REGISTRY if f"\n  {name} " not in out]
    assert not missing, f"families without a benchmark row: {missing}"
    assert "composite" in out and "targets:" in out
