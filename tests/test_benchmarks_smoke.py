"""The benchmark script runs end to end (``--quick``); no timing is asserted, only that it reports every family."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

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


def test_bench_laws_sweep_protocol_runs_from_the_shipped_data_and_reports_every_column():
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_laws.py"), "--protocols", "sweep",
                           "--laws", "lra", "bound", "avg",
                           "--sweep", str(ROOT / "benchmarks" / "data" / "charlm_cooldown_sweep.csv")],
                          capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**os.environ, "COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "8 target groups, 80 WSD targets" in out
    for col in ("mean err", "worst", "rho", "best-hit", "hits", "cover", "fit s"):
        assert col in out
    assert any(line.startswith("lra ") for line in out.splitlines())
    assert any(line.startswith("bound ") for line in out.splitlines())
    assert any(line.startswith("avg ") for line in out.splitlines())  # the mean of multipower and bound
    # the anchor: the same schedule's run with the other seed (no fit: deterministic on the shipped data)
    floor = [line.split() for line in out.splitlines() if line.startswith("seed noise")]
    assert floor and floor[0][2:6] == ["1.43%", "0.93", "0.0040", "2/8"], floor


def test_bench_laws_third_pilot_joins_the_pilots_and_leaves_the_targets():
    """``--third-pilot SPEC``: that WSD run of the pilots' length is fitted with the constant and cosine
    pilots and is no target any more (76 targets of 80); a spec the sweep does not hold is one line."""
    spec = 'wsd(decay=0.1, form="linear", warmup=30)'
    sweep = str(ROOT / "benchmarks" / "data" / "charlm_cooldown_sweep.csv")
    base = [sys.executable, str(ROOT / "benchmarks" / "bench_laws.py"), "--protocols", "sweep", "--laws", "bound",
            "--sweep", sweep, "--third-pilot"]
    kw = dict(capture_output=True, text=True, timeout=600, cwd=ROOT, env={**os.environ, "COLUMNS": "200"})
    proc = subprocess.run(base + [spec], **kw)
    assert proc.returncode == 0, proc.stderr
    assert "4 pilot triples, 8 target groups, 76 WSD targets" in proc.stdout
    assert any(line.startswith("bound ") for line in proc.stdout.splitlines())
    bad = subprocess.run(base + ["wsd(decay=0.3, warmup=30)"], **kw)
    assert bad.returncode != 0 and "no run 'wsd(decay=0.3, warmup=30)' of 300 steps" in bad.stderr


def _rerun_constant(tmp_path, lr: str, *options: str) -> np.ndarray:
    """The validation losses of a fresh 60-step ``constant(warmup=30)`` charlm run (seed 0) with ``--option``s."""
    from laws_sweep import export_sweep, load_sweep

    db = tmp_path / "rerun.db"
    proc = subprocess.run([sys.executable, "-m", "lrkit", "bench", "-w", "charlm", "-s", "constant(warmup=30)",
                           "-n", "60", "--lr", lr, "--seeds", "1", "--log-every", "20", "--db", str(db), "-q",
                           "--workers", "1", "--threads", "1", *[a for o in options for a in ("--option", o)]],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr
    export_sweep(str(db), tmp_path / "rerun.csv")
    return load_sweep(tmp_path / "rerun.csv")[("constant(warmup=30)", float(lr), 0, 60)].loss


def test_the_4000_step_sweep_copies_the_long_sweeps_runs_and_a_rerun_reproduces_them(tmp_path):
    """``make_charlm_sweep_4000.sh`` copies the long sweep's 2000-step runs instead of rerunning them: valid
    only while charlm runs are deterministic per seed and a constant run does not depend on its length."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from laws_sweep import LONG_SWEEP_CSV, load_sweep

    long_runs = load_sweep(LONG_SWEEP_CSV)
    sweep_4000 = LONG_SWEEP_CSV.with_name("charlm_cooldown_sweep_4000.csv")
    if sweep_4000.exists():
        for key, c in load_sweep(sweep_4000).items():
            if key[3] == 2000 and not key[0].startswith("cosine"):
                np.testing.assert_array_equal(c.loss, long_runs[key].loss)
    short = _rerun_constant(tmp_path, "3e-3")
    full = long_runs[("constant(warmup=30)", 0.003, 0, 2000)]
    np.testing.assert_allclose(short, full.loss[:short.size], rtol=1e-5)


def test_the_small_batch_sweep_is_charlm_at_batch_8_and_its_anchor_uses_every_other_seed(tmp_path):
    """``charlm_cooldown_sweep_b8.csv`` (``OPTIONS=batch_size=8 make_charlm_long_sweep.sh``): a fresh
    60-step run with ``--option batch_size=8`` reproduces its start (and the default batch does not), and
    its seed-noise anchor, with three seeds, predicts each target from the geometric mean of the other two
    (deterministic: no fit)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from laws_sweep import LONG_SWEEP_CSV, groups, load_sweep, seed_oracle

    b8 = load_sweep(LONG_SWEEP_CSV.with_name("charlm_cooldown_sweep_b8.csv"))
    assert {k[2] for k in b8} == {0, 1, 2} and {k[1] for k in b8} == {1e-3, 3e-3, 1e-2}
    short = _rerun_constant(tmp_path, "3e-3", "batch_size=8")
    full = b8[("constant(warmup=30)", 0.003, 0, 2000)]
    np.testing.assert_allclose(short, full.loss[:short.size], rtol=1e-5)
    batch32 = load_sweep(LONG_SWEEP_CSV)[("constant(warmup=30)", 0.003, 0, 2000)]
    assert not np.allclose(batch32.loss[1:short.size], full.loss[1:short.size], rtol=1e-3)
    floor = seed_oracle(groups(b8))
    assert floor["hits"] == "16/18"
    np.testing.assert_allclose([floor["err"], floor["rho"], floor["besthit"]], [0.53696, 0.94074, 0.000246], rtol=1e-3)


def test_the_small_model_sweep_is_charlm_with_one_16_wide_layer_at_batch_8(tmp_path):
    """``charlm_cooldown_sweep_small.csv`` (``OPTIONS="batch_size=8 d_model=16 layers=1"
    make_charlm_long_sweep.sh``, docs/methods.md "A small-model sweep"): a fresh 60-step run with those
    options reproduces its start (the batch-8 default model does not), and its seed-noise anchor is
    deterministic (no fit)."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from laws_sweep import LONG_SWEEP_CSV, groups, load_sweep, seed_oracle

    small = load_sweep(LONG_SWEEP_CSV.with_name("charlm_cooldown_sweep_small.csv"))
    assert {k[2] for k in small} == {0, 1, 2} and {k[1] for k in small} == {3e-3, 1e-2, 3e-2}
    assert len(small) == 198  # 3 peak LRs x 3 seeds x (constant, cosine, 10 WSD at 1000 and 2000 steps)
    short = _rerun_constant(tmp_path, "3e-2", "batch_size=8", "d_model=16", "layers=1")
    np.testing.assert_allclose(short, small[("constant(warmup=30)", 0.03, 0, 2000)].loss[:short.size], rtol=1e-5)
    b8 = load_sweep(LONG_SWEEP_CSV.with_name("charlm_cooldown_sweep_b8.csv"))[("constant(warmup=30)", 0.003, 0, 2000)]
    small_3e3 = small[("constant(warmup=30)", 0.003, 0, 2000)]
    assert not np.allclose(b8.loss[1:short.size], small_3e3.loss[1:short.size], rtol=1e-3)
    floor = seed_oracle(groups(small))
    assert floor["hits"] == "12/18"
    np.testing.assert_allclose([floor["err"], floor["rho"], floor["besthit"]], [0.84165, 0.91727, 0.000959], rtol=1e-3)


@pytest.mark.parametrize("name, half_name, half, anchor", [
    ("charlm_cooldown_sweep_small_4000.csv", "charlm_cooldown_sweep_small.csv", 2000,
     ("7/12", [0.65832, 0.85455, 0.000804])),
    ("charlm_cooldown_sweep_small_8000.csv", "charlm_cooldown_sweep_small_4000.csv", 4000,
     ("3/12", [0.57486, 0.55253, 0.0027425])),
])
def test_a_longer_small_model_sweep_repeats_the_shorter_ones_runs_exactly(name, half_name, half, anchor):
    """The small-model sweeps at 2000/4000 and 4000/8000 steps (``LONG=4000``, ``LONG=8000``,
    docs/methods.md): their ``half``-step WSD runs and the first ``half`` steps of their constant runs are
    the shorter sweep's, to the last digit (charlm is deterministic per seed; a constant run does not depend
    on its length); the seed-noise anchor is deterministic."""
    sys.path.insert(0, str(ROOT / "benchmarks"))
    from laws_sweep import LONG_SWEEP_CSV, groups, load_sweep, seed_oracle

    long_ = load_sweep(LONG_SWEEP_CSV.with_name(name))
    shorter = load_sweep(LONG_SWEEP_CSV.with_name(half_name))
    assert {k[1] for k in long_} == {1e-2, 3e-2} and {k[2] for k in long_} == {0, 1, 2} and len(long_) == 132
    same = 0
    for (spec, peak, seed, steps), c in long_.items():
        if steps == half and spec.startswith("wsd"):
            np.testing.assert_array_equal(c.loss, shorter[(spec, peak, seed, half)].loss)
            same += 1
        elif spec.startswith("constant"):
            ref = shorter[(spec, peak, seed, half)].loss
            np.testing.assert_array_equal(c.loss[:ref.size], ref)
            same += 1
    assert same == 6 * 11
    floor = seed_oracle(groups(long_))
    assert floor["hits"] == anchor[0]
    np.testing.assert_allclose([floor["err"], floor["rho"], floor["besthit"]], anchor[1], rtol=1e-3)
