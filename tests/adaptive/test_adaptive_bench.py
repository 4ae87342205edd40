"""The adaptive methods as schedule sources of the benchmark harness."""

from __future__ import annotations

import math

import pytest

import lrkit
from lrkit.bench.methods import canonical, is_adaptive, parse_method


def test_method_specs():
    assert parse_method("cosine()") is None and not is_adaptive("cosine(warmup=0.1)")
    assert is_adaptive("autolrs()") and is_adaptive("refine") and is_adaptive("hypergradient(beta=1e-6)")
    assert is_adaptive("sequence(constant(), plateau(), boundaries=[10])")
    assert canonical("autolrs(k=4)") == "autolrs(low=0.03, high=3.0, tau=0, k=4)"
    assert canonical("cosine( warmup=0.1 )") == "cosine(warmup=0.1)"
    for bad, msg in [("autolrs(k=0)", "k >= 1"), ("autolrs(low=2.0, high=1.0)", "low < high"),
                     ("refine(pilot='nope()')", "unknown schedule family"), ("autolrs(speed=2)", "unknown argument"),
                     ("hypergradient(mode='sideways')", "mode"), ("autolrs(k='many')", "should be a number")]:
        with pytest.raises(lrkit.SpecError, match=msg):
            parse_method(bad)


@pytest.mark.parametrize("spec", ["refine(warmup=0.1)", "autolrs(tau=12, k=3)", "hypergradient(beta=1e-6)",
                                  "sequence(constant(warmup=1.0), plateau(patience=1), linear(), "
                                  "boundaries=[5, 50])"])
def test_each_method_runs_as_a_trial(spec):
    pytest.importorskip("torch")
    if spec.startswith("autolrs"):
        pytest.importorskip("skopt", reason="AutoLRS needs scikit-optimize")
    from lrkit.bench.train import run_trial as run_adaptive_trial
    from lrkit.bench import Trial

    res = run_adaptive_trial(Trial("digits-mlp", spec, 3e-3, steps=60, log_every=5), threads=1)
    h, s = res["history"], res["summary"]
    assert h["step"][0] == 0 and h["step"][-1] == 59 and len(h["step"]) == len(h["val_loss"]) == 13
    assert all(math.isfinite(x) for x in h["val_loss"]) and not s["diverged"]
    assert h["val_loss"][-1] < h["val_loss"][0]
    if spec.startswith("refine"):
        assert s["search_steps"] == 60 and lrkit.parse(s["info"]["refined_spec"]).family == "piecewise"
    if spec.startswith("autolrs"):
        assert s["search_steps"] > 0 and s["info"]["decisions"] >= 1


def test_the_harness_takes_adaptive_methods():
    pytest.importorskip("torch")
    pytest.importorskip("skopt", reason="AutoLRS needs scikit-optimize")
    from lrkit.bench import expand
    from lrkit.bench.train import run_trial

    trials = expand(["digits-mlp"], ["autolrs( k=2 )", "hypergradient", "cosine()"], [3e-3], 1, 40)
    assert [t.schedule for t in trials] == ["autolrs(low=0.03, high=3.0, tau=0, k=2)",
                                            "hypergradient(beta=0.0, mode='additive', schedule='constant()')",
                                            "cosine()"]
    res = run_trial(trials[0], threads=1)  # the autolrs driver of lrkit.bench.train
    assert res["summary"]["search_steps"] > 0 and math.isfinite(res["summary"]["init_val"])
    with pytest.raises(ValueError, match="schedule-free"):
        run_trial(type(trials[0])("digits-mlp", trials[0].schedule, 3e-3, "sfadamw", 0, 40), threads=1)
