"""Shared set-up of the benchmark tests: the tiny user workload importable here and in subprocesses."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

TINY = "lrkit_test_workloads:make"


def env() -> dict[str, str]:
    """Environment for a subprocess that runs lrkit: the tiny workload importable, one thread, wide output."""
    e = dict(os.environ)
    e["PYTHONPATH"] = os.pathsep.join([str(HERE), e.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    e.setdefault("OMP_NUM_THREADS", "1")
    e["COLUMNS"] = "200"
    return e


def lrkit(*args: str, timeout: float = 300, cwd: str | Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=timeout,
                          env=env(), cwd=cwd)


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "bench.db"
