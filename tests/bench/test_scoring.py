"""Scoring against hand-computed examples (AlgoPerf's time to target, profiles and score; LR sensitivity)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrkit.bench.scoring import (benchmark_score, lr_sensitivity, median_with_inf, performance_profile,
                                 performance_ratios, score_trials, steps_to_target, time_to_target, upper_median)

INF = math.inf


def test_steps_and_time_to_target():
    steps, val, times = [0, 9, 19, 29], [3.0, 2.0, 1.5, 1.2], [0.1, 1.0, 2.0, 3.0]
    assert steps_to_target(steps, val, 1.5) == 20          # logged at step 19 = 20 updates
    assert steps_to_target(steps, val, 3.0) == 1
    assert steps_to_target(steps, val, 1.0) == INF
    assert steps_to_target(steps, [3.0, float("nan"), 1.4, 1.0], 1.5) == 20  # NaN never counts
    assert time_to_target(times, val, 2.0) == 1.0
    assert time_to_target(times, val, 0.5) == INF


def test_medians():
    assert median_with_inf([5, INF, 3]) == 5
    assert median_with_inf([2, 4]) == 3
    assert median_with_inf([2, INF]) == INF
    assert median_with_inf([INF, INF, 1]) == INF
    assert upper_median([1.0, 1.2, 1.1]) == 1.1
    assert upper_median([1.0, 2.0]) == 2.0       # even count: the upper middle value
    assert upper_median([1.0, float("nan"), 3.0, 2.0]) == 2.0


TIMES = {"A": {"w1": 100, "w2": 200}, "B": {"w1": 200, "w2": 100}, "C": {"w1": 400, "w2": INF}}


def test_ratios_profile_and_score_by_hand():
    r = performance_ratios(TIMES)
    assert r == {"A": {"w1": 1, "w2": 2}, "B": {"w1": 2, "w2": 1}, "C": {"w1": 4, "w2": INF}}
    prof = performance_profile(TIMES, [1.0, 1.5, 2.0, 4.0])
    assert prof["A"].tolist() == [0.5, 0.5, 1.0, 1.0]
    assert prof["C"].tolist() == [0.0, 0.0, 0.0, 0.5]
    # B = 1/(4-1) * integral_1^4 rho(tau) dtau = mean_w (4 - r_w)^+ / 3
    s = benchmark_score(TIMES)
    assert s["A"] == pytest.approx(5 / 6) and s["B"] == pytest.approx(5 / 6)
    assert s["C"] == 0.0   # ratio exactly r_max contributes nothing
    # AlgoPerf's own numerics (np.trapz over 100 taus) agree to within the grid error
    taus = np.linspace(1, 4, 100)
    rho = performance_profile(TIMES, taus)["A"]
    assert np.trapezoid(rho, taus) / 3 == pytest.approx(5 / 6, abs=0.02)
    # a method missing a workload counts as never reaching the target there
    assert benchmark_score({"A": {"w1": 1.0, "w2": 1.0}, "B": {"w1": 2.0}})["B"] == pytest.approx((4 - 2) / 3 / 2)
    with pytest.raises(ValueError):
        benchmark_score(TIMES, r_max=1.0)


def test_lr_sensitivity_by_hand():
    # losses clipped at L0 = 3: [2.0, 1.5, 3.0 (diverged), 3.0] -> mean 2.375, best 1.5
    assert lr_sensitivity([2.0, 1.5, float("nan"), 3.5], 3.0) == pytest.approx(0.875)
    assert lr_sensitivity([1.0], 3.0) == 0.0


def _rows_and_histories():
    rows, hist = [], {}
    spec = {  # (label, lr): per-seed validation losses at steps 9, 19, 29
        ("a", 0.1): [[2.0, 1.05, 1.0], [2.0, 1.3, 1.2], [1.8, 1.2, 1.1]],
        ("a", 0.3): [[1.6, 1.5, 1.5]] * 3,
        ("b", 0.1): [[1.1, 1.0, 0.9], [1.5, 1.1, 1.0], [1.2, 1.15, 1.05]],
    }
    i = 0
    for (label, lr), seeds in spec.items():
        for seed, vals in enumerate(seeds):
            i += 1
            rows.append({"id": i, "workload": "w", "steps": 30, "options": "{}", "label": label, "lr": lr, "seed": seed,
                         "status": "done", "final_val": vals[-1], "best_val": min(vals), "init_val": 3.0})
            hist[i] = {"step": [9, 19, 29], "val_loss": vals, "time": [1.0, 2.0, 3.0], "loss": vals, "lr": [lr] * 3}
    return rows, hist


def test_score_trials_by_hand():
    rows, hist = _rows_and_histories()
    sc = score_trials(rows, hist)
    # target: reference 'a' (first trial) at its best LR 0.1 (median best 1.1 < 1.5), median best val = 1.1
    assert sc.reference == {"w": "a"} and sc.targets["w"] == pytest.approx(1.1)
    ms = {m.label: m for m in sc.methods["w"]}
    # a @ 0.1: seeds reach 1.1 after 20, never, 30 updates -> median 30; a @ 0.3 never -> tuned LR 0.1
    assert ms["a"].lr == 0.1 and ms["a"].steps_to_target == 30 and ms["a"].reached == 2
    # b: 10, 20, 30 -> 20; time 1, 2, 3 s -> 2 s
    assert ms["b"].steps_to_target == 20 and ms["b"].time_to_target == 2.0 and ms["b"].reached == 3
    assert [m.label for m in sc.methods["w"]] == ["b", "a"]
    assert ms["a"].ratio == pytest.approx(1.5) and ms["b"].ratio == 1.0
    assert sc.score["b"] == pytest.approx(1.0) and sc.score["a"] == pytest.approx((4 - 1.5) / 3)
    # LR sensitivity of a: median finals 1.1 (lr 0.1) and 1.5 (lr 0.3), L0 = 3 -> mean 1.3 - best 1.1
    assert ms["a"].lr_sweep == {0.1: pytest.approx(1.1), 0.3: pytest.approx(1.5)}
    assert ms["a"].sensitivity == pytest.approx(0.2)
    assert ms["b"].sensitivity is None
    assert ms["a"].final_val == pytest.approx(1.1) and ms["a"].final_val_spread == (1.0, 1.2)


def test_score_trials_reference_and_given_target():
    rows, hist = _rows_and_histories()
    sc = score_trials(rows, hist, reference="b")
    assert sc.targets["w"] == pytest.approx(1.0)   # b's best vals 0.9, 1.0, 1.05 -> median 1.0
    sc = score_trials(rows, hist, targets={"w": 1.5})
    # a: every seed at either LR first gets below 1.5 at step 19 -> 20; the tie goes to the lower final loss (0.1)
    assert {m.label: (m.steps_to_target, m.lr) for m in sc.methods["w"]} == {"b": (10, 0.1), "a": (20, 0.1)}
    with pytest.raises(ValueError, match="no finished trials"):
        score_trials(rows, hist, reference="zzz")


def test_budgets_are_separate_problems():
    rows, hist = _rows_and_histories()
    extra = dict(rows[0], id=99, steps=60)
    hist[99] = hist[1]
    sc = score_trials(rows + [extra], hist)
    assert set(sc.methods) == {"w · 30 steps", "w · 60 steps"}
