"""AutoLRS (Jin et al. 2021): the exponential forecast, and the controller end to end on digits-mlp with resume."""

from __future__ import annotations

import io
import json
import math

import numpy as np
import pytest

pytest.importorskip("skopt")
torch = pytest.importorskip("torch")

from lrkit.adaptive.autolrs import AutoLRS, fit_exponential, forecast  # noqa: E402
from lrkit.bench import get_workload  # noqa: E402

KW = dict(min_lr=1e-4, max_lr=0.3, tau=40, tau_probe=8, k=3, tau_max=160)


def test_forecast_recovers_an_exponential():
    t = np.arange(40)
    y = 2.0 * np.exp(-0.05 * t) + 0.3
    assert fit_exponential(y, denoise=False) == pytest.approx((2.0, -0.05, 0.3), rel=1e-4)
    assert fit_exponential(y) == pytest.approx((2.0, -0.05, 0.3), rel=0.2)  # the spline smooths a little
    assert forecast(y, 200) == pytest.approx(2.0 * math.exp(-10) + 0.3, abs=0.1)
    rng = np.random.default_rng(0)
    noisy = y + 0.02 * rng.standard_normal(40)
    spiked = noisy.copy()
    spiked[3] = 9.0  # an outlier in the first half: dropped by the iterative spline
    assert forecast(spiked, 200) == pytest.approx(forecast(noisy, 200), abs=0.05)
    assert math.isnan(forecast(np.r_[y[:5], np.nan], 10))


def _train(steps, start=0, state=None, log=None):
    torch.manual_seed(0)
    task = get_workload("digits-mlp").task(seed=0, steps=steps)
    model = task.model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ctl = AutoLRS(model, opt, seed=0, log=log, **KW)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        ctl.load_state_dict(state["ctl"])
    lrs = []
    for t in range(start, steps):
        lrs.append(ctl.lr)
        loss = task.loss(model, task.batch(t))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ctl.step(loss.item())
    return task, model, opt, ctl, lrs


def _save(model, opt, ctl):
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "ctl": ctl.state_dict()}, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=False)


def test_autolrs_end_to_end_on_digits_with_exact_resume(tmp_path):
    log = tmp_path / "decisions.jsonl"
    task, model, opt, ctl, lrs = _train(260, log=str(log))
    # stages: (3 probes x 8 + 40), (3 x 16 + 80), then tau_probe=16 >= tau_max/10: no more doubling
    assert [d["tau"] for d in ctl.decisions] == [40, 80, 80]
    assert [d["step"] for d in ctl.decisions] == [24, 24 + 40 + 48, 24 + 40 + 48 + 80 + 48]
    for d in ctl.decisions:
        assert len(d["probes"]) == 3
        assert all(KW["min_lr"] <= p["lr"] <= KW["max_lr"] for p in d["probes"])
        assert d["lr"] == min(d["probes"], key=lambda p: (p["forecast"], p["end_loss"]))["lr"]
    assert [json.loads(line) for line in log.read_text().splitlines()] == ctl.decisions
    # the chosen LR is the one applied in the exploitation steps; probes restart from the checkpoint
    assert lrs[24:64] == [ctl.decisions[0]["lr"]] * 40
    assert ctl.train_steps == 40 + 80 + (260 - 240)
    model.eval()
    with torch.no_grad():
        val = task.val_loss(model)
    assert val < 0.5  # it trains (a constant 1e-4 stays above 1.0 over these steps)

    # resume mid-probe of the second stage: the same decisions and bit-identical weights
    _, m1, o1, c1, _ = _train(100)
    assert c1.phase == "probe" and c1.stage == 1
    saved = _save(m1, o1, c1)
    _, m2, o2, c2, _ = _train(260, start=100, state=saved)
    assert c2.decisions == ctl.decisions
    for p, q in zip(model.parameters(), m2.parameters()):
        assert torch.equal(p, q)


def test_autolrs_warmup_and_arguments():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ctl = AutoLRS(model, opt, min_lr=1e-3, max_lr=1e-1, warmup_steps=4, warmup_lr=0.2, tau=10)
    seen = [opt.param_groups[0]["lr"]]
    for _ in range(4):
        ctl.step(1.0)
        seen.append(opt.param_groups[0]["lr"])
    assert seen[:4] == pytest.approx([0.05, 0.1, 0.15, 0.2])
    assert ctl.phase == "probe" and 1e-3 <= seen[4] <= 1e-1
    with pytest.raises(ValueError, match="max_lr"):
        AutoLRS(model, opt, min_lr=0.1, max_lr=0.01)
    with pytest.raises(ValueError, match="tau_probe"):
        AutoLRS(model, opt, min_lr=0.01, max_lr=0.1, tau_probe=1)


def test_a_diverging_probe_is_told_as_a_huge_loss():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ctl = AutoLRS(model, opt, min_lr=1e-3, max_lr=1e-1, tau=10, tau_probe=5, k=2)
    ctl.step(1.0)
    ctl.step(float("nan"))
    assert ctl.probes[0]["forecast"] == 1e6 and ctl.counter == 0


def test_the_last_stage_trains_instead_of_probing():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ctl = AutoLRS(model, opt, min_lr=1e-3, max_lr=1e-1, tau=20, tau_probe=5, k=2, tau_max=1000, total_steps=100)
    for t in range(100):
        ctl.step(1.0 / (1 + t % 7))
    # stage 0: 2 probes x 5 + 20; stage 1: 2 x 10 + 40; at step 90 the 10 steps left cannot hold 2 x 20 + 80
    assert [d["tau"] for d in ctl.decisions] == [20, 40, 10]
    assert ctl.decisions[-1]["probes"] == [] and ctl.decisions[-1]["lr"] == ctl.decisions[-2]["lr"]
    assert ctl.phase == "exploit" and ctl.train_steps == 70 and ctl.step_count == 100
