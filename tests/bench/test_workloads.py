"""Each workload runs a few steps deterministically: the same seed gives the identical history."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrkit
from lrkit.bench import Trial, get_workload
from lrkit.bench.train import run_trial

from conftest import TINY


def same(a: dict, b: dict) -> bool:
    """Histories equal in everything but the wall-clock time."""
    return {k: v for k, v in a.items() if k != "time"} == {k: v for k, v in b.items() if k != "time"}

SMALL_LM = {"d_model": 32, "layers": 1, "heads": 2, "context": 16, "batch_size": 4, "val_windows": 4}
CASES = [("digits-mlp", {}), ("mnist1d", {"channels": 8, "batch_size": 32}), ("charlm", SMALL_LM), (TINY, {})]


@pytest.mark.parametrize("workload,options", CASES, ids=[c[0] for c in CASES])
def test_same_seed_same_history(workload, options):
    trial = Trial(workload, "cosine(warmup=2)", 3e-3, "adamw", seed=3, steps=8, log_every=2, options=options)
    a = run_trial(trial, threads=1)
    b = run_trial(trial, threads=1)
    assert same(a["history"], b["history"])
    h = a["history"]
    assert h["step"] == [0, 1, 3, 5, 7]  # step 0, every 2 steps, the last
    assert all(math.isfinite(x) for k in ("loss", "val_loss", "grad_norm", "lr") for x in h[k])
    # the LR logged is the schedule's, exactly
    want = lrkit.parse("cosine(warmup=2)").sample(8) * 3e-3
    assert np.allclose(h["lr"], want[h["step"]], rtol=1e-12, atol=0)
    assert h["val_loss"][-1] < a["summary"]["init_val"]
    c = run_trial(Trial(workload, "cosine(warmup=2)", 3e-3, "adamw", seed=4, steps=8, log_every=2, options=options), threads=1)
    assert c["history"]["loss"] != h["loss"]


@pytest.mark.parametrize("optimizer", ["sgd", "sfadamw"])
def test_other_optimizers_run_deterministically(optimizer):
    trial = Trial(TINY, "constant(warmup=2)", 0.05, optimizer, seed=0, steps=10, log_every=5)
    a, b = run_trial(trial), run_trial(trial)
    assert same(a["history"], b["history"])
    assert a["summary"]["final_val"] < a["summary"]["init_val"]


def test_schedule_free_label_and_evaluation_at_x():
    t = Trial(TINY, "constant(warmup=2)", 0.05, "sfadamw", steps=4)
    assert t.label == "schedule-free AdamW"
    assert Trial(TINY, "cosine()", 0.05, "sfadamw", steps=4).label == "schedule-free AdamW × cosine()"
    assert Trial(TINY, "cosine()", 0.05, "sgd", steps=4).label == "cosine() [sgd]"


def test_divergence_stops_the_run():
    res = run_trial(Trial(TINY, "constant()", 1e6, "sgd", seed=0, steps=50, log_every=5))
    s = res["summary"]
    assert s["diverged"] and math.isnan(s["final_val"]) and s["steps_done"] < 50


def test_charlm_corpus_file_and_held_out_split(tmp_path):
    from lrkit.bench.workloads.charlm import load_corpus

    text = "".join(f"def f{i}(x):\n    return x * {i} + {i % 7}\n\n" for i in range(2000))
    p = tmp_path / "corpus.txt"
    p.write_text(text)
    tr, va, desc = load_corpus(str(p))
    assert len(tr) + len(va) == len(text.encode()) and len(va) == len(text.encode()) - int(len(text.encode()) * 0.9)
    assert "held out" in desc
    res = run_trial(Trial("charlm", "cosine()", 3e-3, steps=3, log_every=1, options={**SMALL_LM, "corpus": str(p)}))
    assert res["summary"]["info"]["corpus"].startswith(str(p))
    # the default corpus: the standard library's own source, every 10th file held out
    tr, va, desc = load_corpus(None)
    assert len(tr) > 1_000_000 and len(va) > 50_000 and "every 10th held out" in desc


def test_bad_workloads_are_clear():
    with pytest.raises(ValueError, match="unknown workload 'nope'"):
        get_workload("nope")
    with pytest.raises(ValueError, match="cannot import module"):
        get_workload("no_such_module_xyz:make")
    with pytest.raises(ValueError, match="has no 'missing'"):
        get_workload("lrkit_test_workloads:missing")
    with pytest.raises(ValueError, match="returned int"):
        get_workload("lrkit_test_workloads:not_a_task").task(0, 2)
    with pytest.raises(ValueError, match="too small"):
        from lrkit.bench.workloads.charlm import load_corpus

        import tempfile, pathlib
        with tempfile.TemporaryDirectory() as d:
            f = pathlib.Path(d) / "tiny.txt"
            f.write_text("hello")
            load_corpus(str(f))
