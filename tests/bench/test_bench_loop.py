"""One training loop for every driver of a trial's LR: one divergence rule, one loss check, no import circle."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

from lrkit.bench import Store, Trial, expand, make_executor, sweep
from lrkit.bench.scoring import score_store
from lrkit.bench.train import run_trial

from conftest import TINY

SRC = Path(__file__).resolve().parents[2] / "src" / "lrkit"
# one schedule, with and without a plateau phase, and hypergradient descent from the same LR
DRIVERS = ["constant()", "sequence(constant(), plateau(patience=1), boundaries=[5])", "hypergradient(beta=1e-6)"]


def test_one_divergence_rule_for_every_driver():
    """At an LR that blows the loss up, every driver stops at the same step, marked diverged (the plateau
    and hypergradient drivers used to train on with losses of 1e19)."""
    runs = [run_trial(Trial(TINY, spec, 3.0, "sgd", steps=50, log_every=5), threads=1) for spec in DRIVERS]
    for r in runs:
        s, h = r["summary"], r["history"]
        assert s["diverged"] and s["steps_done"] < 50, (s, h["loss"])
        assert h["loss"][-1] > 10 * s["init_val"] and str(h["val_loss"][-1]) == "nan"  # the step that blew up
    assert len({tuple(r["history"]["step"]) for r in runs}) == 1


@pytest.mark.parametrize("spec", DRIVERS[1:])
def test_every_driver_checks_the_loss_is_a_scalar_tensor(spec):
    with pytest.raises(ValueError, match=r"loss\(model, batch\) returned float 1.0; expected a scalar tensor"):
        run_trial(Trial("lrkit_test_workloads:float_loss", spec, 0.05, steps=4), threads=1)


def test_no_circle_and_names_without_torch():
    """trial.py takes the canonical names from methods.py at its top; methods.py imports no torch."""
    tree = ast.parse((SRC / "bench" / "trial.py").read_text())
    top = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "methods" and n.level == 1]
    lazy = [n for f in ast.walk(tree) if isinstance(f, ast.FunctionDef) for n in ast.walk(f)
            if isinstance(n, (ast.Import, ast.ImportFrom))]
    assert top and not lazy
    assert not (SRC / "bench" / "adaptive.py").exists()
    code = ("import sys, lrkit.bench.methods as m, lrkit.bench.trial as t; "
            "assert m.canonical('autolrs(k=4)') == t.canonical_spec('autolrs(k=4)'); "
            "assert 'torch' not in sys.modules and 'lrkit.bench.train' not in sys.modules, sorted(sys.modules)")
    subprocess.run([sys.executable, "-c", code], check=True)


def test_the_history_fields_are_written_once():
    hits = [f"{p}:{i}" for p in SRC.rglob("*.py") for i, line in enumerate(p.read_text().splitlines(), 1)
            if '"step", "lr", "loss", "val_loss", "grad_norm", "time"' in line]
    assert len(hits) == 1 and "bench/trial.py:" in hits[0], hits


def test_score_store_scores_the_trials_asked_for(db):
    with Store(db) as s:
        rep = sweep(s, expand([TINY], ["cosine()", "linear()", "constant()"], [0.05], 1, 6, log_every=2),
                    make_executor("local", workers=0))
        sc = score_store(s, ids=rep.ids[:2])
        assert sc.labels == ["cosine()", "linear()"] and set(sc.histories) == set(rep.ids[:2])
        assert score_store(s).labels == ["cosine()", "linear()", "constant()"]
        with pytest.raises(ValueError, match="no finished trials"):
            score_store(s, ids=[999])
