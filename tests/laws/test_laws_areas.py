"""Area terms against naive O(T^2) implementations of the published formulas; exact gradients."""

from __future__ import annotations

import numpy as np

import lrkit
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lrkit.laws.areas import annealing_area, forward_area, ld_chunks, ld_pairs, loss_drop, warmup_end
from lrkit.laws.bound import ConvexBoundLaw
from lrkit.laws.fsl import FunctionalScalingLaw, weighted_drop
from lrkit.laws.itmpl import IntrinsicTimeMPL
from lrkit.laws.lra import LRALaw
from lrkit.laws.multipower import MultiPowerLaw


def naive_ld(lr, t, C, beta, gamma):
    """Luo et al. 2025: sum_{k=w}^{t} (lr[k-1]-lr[k]) G(lr[k]^-gamma sum_{tau=k}^{t} lr[tau])."""
    w = max(warmup_end(lr), 1)
    total = 0.0
    for k in range(w, t + 1):
        s = sum(lr[k:t + 1])
        total += (lr[k - 1] - lr[k]) * (1 - (C * lr[k] ** (-gamma) * s + 1) ** (-beta))
    return total


def naive_s2(lr, t, lam):
    """Tissue et al. 2024: m_i = lam m_{i-1} + (lr[i-1]-lr[i]) (changes after warmup), S2 = sum m_i."""
    w = max(warmup_end(lr), 1)
    m, s2 = 0.0, 0.0
    for i in range(1, t + 1):
        m = lam * m + ((lr[i - 1] - lr[i]) if i >= w else 0.0)
        s2 += m
    return s2


def random_schedule(rng, n):
    warm = rng.integers(0, n // 3)
    ramp = np.linspace(0.05, 1.0, warm) if warm else np.zeros(0)
    body = np.repeat(rng.uniform(0.05, 1.0, size=rng.integers(2, 8)), 1)
    body = np.concatenate([np.full(rng.integers(1, 10), v) for v in body])  # constant stretches
    if rng.random() < 0.5:
        body = np.sort(body)[::-1]
    lr = np.r_[ramp, body][:n]
    lr = np.r_[lr, np.full(max(0, n - lr.size), lr[-1] if lr.size else 1.0)]
    return lr * 3e-4


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 10_000))
def test_areas_match_naive(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(8, 60))
    lr = random_schedule(rng, n)
    steps = np.unique(rng.integers(1, n, size=6))
    C, beta, gamma = rng.uniform(0.2, 3), rng.uniform(0.2, 1.0), rng.uniform(0.2, 0.9)
    fast = loss_drop(ld_pairs(lr, steps, rel_width=0), C, beta, gamma)
    slow = [naive_ld(lr, int(t), C, beta, gamma) for t in steps]
    np.testing.assert_allclose(fast, slow, rtol=1e-10, atol=1e-16)
    np.testing.assert_allclose(annealing_area(lr, steps, 0.9), [naive_s2(lr, int(t), 0.9) for t in steps], rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(forward_area(lr, steps), [lr[: t + 1].sum() for t in steps])


def test_chunking_is_exact():
    lr = np.r_[np.linspace(0, 1, 50), np.cos(np.linspace(0, np.pi / 2, 500))] * 3e-4 + 1e-6
    steps = np.arange(60, 550, 7)
    whole = loss_drop(ld_pairs(lr, steps), 2.0, 0.6, 0.6)
    parts = np.concatenate([loss_drop(p, 2.0, 0.6, 0.6) for _, p in ld_chunks(lr, steps, max_pairs=1000)])
    np.testing.assert_allclose(parts, whole, rtol=1e-12)


def test_constant_stretches_contribute_nothing():
    lr = np.r_[np.linspace(0.1, 1, 10), np.full(50, 1.0), np.full(40, 0.3)] * 3e-4
    assert ld_pairs(lr, np.arange(10, 100)).size == sum(1 for t in range(10, 100) if t >= 60)


@pytest.mark.parametrize("law, theta", [
    (MultiPowerLaw(), np.array([3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6])),
    (MultiPowerLaw(warmup="ld"), np.array([3.0, 0.5, 0.5, 400.0, 2.0, 0.6, 0.6])),
    (LRALaw(0.99), np.array([3.0, 0.5, 0.5, 1.0])),
    (IntrinsicTimeMPL(), np.array([3.0, 0.5, 0.5, 400.0, 30.0, 0.6])),
    (FunctionalScalingLaw(), np.array([3.0, 0.5, 0.5, 400.0, 30.0, 0.6, 0.4])),
    (ConvexBoundLaw(), np.array([3.0, 0.5, 0.5, 800.0])),
    (ConvexBoundLaw(last="previous"), np.array([3.0, 0.5, 0.5, 800.0])),
])
def test_jacobian_and_final_gradient_match_finite_differences(law, theta):
    rng = np.random.default_rng(3)
    lr = np.r_[np.linspace(0.05, 1, 10), np.sort(rng.uniform(0.1, 1, 70))[::-1]] * 3e-4
    steps = np.arange(12, 80, 5)
    pred, J = law.predict(lr, steps, theta, jac=True)
    for j in range(theta.size):
        h = 1e-6 * theta[j]
        tp, tm = theta.copy(), theta.copy()
        tp[j] += h
        tm[j] -= h
        num = (law.predict(lr, steps, tp)[0] - law.predict(lr, steps, tm)[0]) / (2 * h)
        np.testing.assert_allclose(J[:, j], num, rtol=1e-5, atol=1e-9)
    loss, g = law.final_loss_grad(lr, theta, 10)
    assert loss == pytest.approx(law.predict(lr, np.array([lr.size - 1]), theta)[0][0], rel=1e-12)
    eps = 1e-10
    num = [(law.final_loss_grad(lr + e, theta, 10)[0] - law.final_loss_grad(lr - e, theta, 10)[0]) / (2 * eps)
           for e in np.eye(lr.size) * eps]
    np.testing.assert_allclose(g, num, rtol=1e-4, atol=1e-6 * np.abs(g).max())


def test_compressed_loss_drop_matches_exact_on_long_schedules():
    n = 30000
    t = np.arange(n)
    lr = np.where(t < 2000, t / 2000, 0.1 + 0.45 * (1 + np.cos(np.pi * (t - 2000) / (n - 2000)))) * 3e-4
    lr = np.r_[lr[:20000], lr[20000:] * 0.5]  # a smooth decay with a step in it
    steps = np.arange(2100, n, 97)
    exact = ld_pairs(lr, steps, rel_width=0)
    fast = ld_pairs(lr, steps)
    assert fast.size < exact.size / 20
    for C, beta, gamma in [(2.0, 0.6, 0.6), (0.05, 2.0, 0.7), (1.0, 0.3, 0.4)]:
        np.testing.assert_allclose(loss_drop(fast, C, beta, gamma), loss_drop(exact, C, beta, gamma), rtol=5e-5, atol=1e-12)
    for C, beta, alpha, omega in [(2e4, 0.6, 0.5, 1.0), (300.0, 1.5, 0.3, 0.5)]:  # the fsl law's weighted sum
        np.testing.assert_allclose(weighted_drop(fast, C, beta, alpha, omega)[0],
                                   weighted_drop(exact, C, beta, alpha, omega)[0], rtol=5e-5, atol=1e-12)


def test_warmup_in_loss_drop_matches_naive_sum_from_step_one():
    """``warmup="ld"`` (the reference code): every change from step 1 on, warmup increases included."""
    rng = np.random.default_rng(5)
    lr = np.r_[np.linspace(0.0, 1, 12), np.sort(rng.uniform(0.1, 1, 60))[::-1]] * 3e-4
    steps = np.arange(3, lr.size, 4)
    C, beta, gamma = 1.5, 0.6, 0.55
    law = MultiPowerLaw(warmup="ld")
    prep = law.prepare(lr, steps)
    floor = 1e-6 * lr.max()
    want = [sum((lr[k - 1] - lr[k]) * (1 - (C * max(lr[k], floor) ** (-gamma) * lr[k:t + 1].sum() + 1) ** (-beta))
                for k in range(1, t + 1)) for t in steps]
    np.testing.assert_allclose(prep.ld(C, beta, gamma), want, rtol=1e-9, atol=1e-15)
    np.testing.assert_allclose(prep.sat, lr[0] - lr[steps], atol=1e-15)  # saturated limit G = 1


def test_solver_jacobian_matches_its_residual_where_the_prediction_is_clipped():
    """A parameter point where the law predicts a non-positive loss (clipped at 1e-8 in the log residual):
    there the residual does not move, so the Jacobian row is 0, not J / 1e-8 (found by the issue-12 audit)."""
    from lrkit.laws import Curve, get_law
    from lrkit.laws.solve import Problem, solve

    law = get_law("lra")
    n = 600
    lr = lrkit.parse("wsd(decay=0.5, warmup=50)").sample(n) * 1e-3
    steps = np.arange(60, n, 20)
    theta = np.array([2.0, 0.5, 0.3, 1.0])
    loss = law.predict(lr, steps, theta)[0]
    sol = solve(Problem.of(law, [Curve("c", lr, steps, loss)]), 0.0, 0.0, 1)
    bad = np.array([0.5, 0.5, 0.3, 5e3])  # a large annealing term drives the late predictions below 0
    pred = law.predict(lr, steps, bad)[0]
    assert (pred < 1e-8).any() and (pred > 1e-8).any()
    J = sol.jacobian(bad)
    eps = 1e-6 * np.maximum(np.abs(bad), 1e-3)
    num = np.stack([(sol.resid(bad + e) - sol.resid(bad - e)) / (2 * e[i]) for i, e in enumerate(np.diag(eps))], axis=1)
    np.testing.assert_allclose(J[: steps.size], num[: steps.size], rtol=1e-4, atol=1e-6)
