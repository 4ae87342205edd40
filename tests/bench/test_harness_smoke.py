"""The harness benchmark runs end to end (``--quick --skip-ray``); no timing is asserted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from conftest import env

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "bench_harness.py"


def test_bench_harness_quick():
    r = subprocess.run([sys.executable, str(SCRIPT), "--quick", "--skip-ray"], capture_output=True, text=True, timeout=300,
                       env=env())
    assert r.returncode == 0, r.stderr[-3000:]
    for needle in ("trials per minute", "digits-mlp", "mnist1d", "charlm", "local pool scaling", "2 workers",
                   "µs per point"):
        assert needle in r.stdout, needle
