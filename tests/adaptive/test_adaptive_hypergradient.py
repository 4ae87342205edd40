"""Hypergradient descent (Baydin et al. 2018) as an LR controller, and FedHyper's server rule (Wang et al. 2024)."""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.adaptive.fedhyper import fedhyper_client_lr, fedhyper_round

torch = pytest.importorskip("torch")
from lrkit.adaptive.hypergradient import HypergradientLR  # noqa: E402

LAM = 4.0  # curvature of the isotropic quadratic: the best LR is 1/LAM


def _quadratic(theta):
    return 0.5 * LAM * (theta ** 2).sum()


def _run(opt_cls, lr, steps, beta=None, hd=True, dim=10, **kw):
    theta = torch.nn.Parameter(torch.ones(dim, dtype=torch.float64))
    opt = opt_cls([theta], lr=lr, **kw)
    ctl = HypergradientLR(opt, beta) if hd else None
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = _quadratic(theta)
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
    return theta, opt, ctl, losses


@pytest.mark.parametrize("lr0", [0.01, 0.4])
def test_sgd_hd_finds_the_known_best_lr_of_a_quadratic(lr0):
    _, _, ctl, losses = _run(torch.optim.SGD, lr0, 40, beta=1e-3)
    # within 20% of the best LR 1/LAM (the rule stops moving once the quadratic is solved)
    assert ctl.lrs[0] == pytest.approx(1.0 / LAM, rel=0.2)
    _, _, _, fixed = _run(torch.optim.SGD, lr0, 40, hd=False)
    assert losses[-1] < 1e-3 * fixed[-1]


def test_sgd_hd_matches_the_reference_rule():
    # SGD-HD (gbaydin/hypergradient-descent sgd_hd.py): alpha_t = alpha_{t-1} + beta * g_t . g_{t-1}
    torch.manual_seed(0)
    A = torch.randn(6, 6, dtype=torch.float64)
    A = A @ A.T / 6 + torch.eye(6, dtype=torch.float64)
    theta = torch.nn.Parameter(torch.randn(6, dtype=torch.float64))
    opt = torch.optim.SGD([theta], lr=0.05)
    ctl = HypergradientLR(opt, beta=0.01)
    alpha, x, g_prev = 0.05, theta.detach().clone(), None
    for _ in range(8):
        opt.zero_grad()
        (0.5 * theta @ A @ theta).backward()
        opt.step()
        g = A @ x
        if g_prev is not None:
            alpha = alpha + 0.01 * float(g @ g_prev)
        x = x - alpha * g
        g_prev = g
        assert ctl.lrs[0] == pytest.approx(alpha, rel=1e-9)
    torch.testing.assert_close(theta.detach(), x)


def test_adam_hd_matches_the_reference_rule():
    # Adam-HD: h = g_t . m_{t-1}/(sqrt(v_{t-1}) + eps) * sqrt(1 - b2^{t-1}) / (1 - b1^{t-1}); alpha += beta * h
    torch.manual_seed(1)
    theta = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    opt = torch.optim.Adam([theta], lr=0.01, eps=1e-12)
    ctl = HypergradientLR(opt, beta=1e-3)
    b1, b2 = 0.9, 0.999
    m = torch.zeros(5, dtype=torch.float64)
    v = torch.zeros(5, dtype=torch.float64)
    alpha = 0.01
    for t in range(1, 8):
        opt.zero_grad()
        (theta ** 4).sum().backward()
        g = theta.grad.detach().clone()
        if t > 1:
            u = m / (v.sqrt() + 1e-12) * (1 - b2 ** (t - 1)) ** 0.5 / (1 - b1 ** (t - 1))
            alpha += 1e-3 * float(g @ u)
        opt.step()
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        assert ctl.lrs[0] == pytest.approx(alpha, rel=1e-6)


def test_adam_hd_recovers_from_a_too_small_lr():
    grid = [1e-4, 1e-3, 1e-2, 3e-2, 1e-1]
    fixed = {lr: _run(torch.optim.Adam, lr, 200, hd=False)[3][-1] for lr in grid}
    best = min(fixed, key=fixed.get)
    _, _, ctl, losses = _run(torch.optim.Adam, 1e-4, 200, beta=1e-4)
    assert ctl.lrs[0] > 10 * 1e-4  # it grew by more than 10x
    assert losses[-1] < 1e-2 * fixed[1e-4]
    assert best >= 1e-2  # (the grid's best is far above the start: the test is not trivial)


def test_multiplicative_mode_and_per_group_lrs():
    a = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    b = torch.nn.Parameter(torch.ones(4, dtype=torch.float64))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.01}, {"params": [b], "lr": 0.3}])
    ctl = HypergradientLR(opt, beta=0.05, mode="multiplicative")
    for _ in range(30):
        opt.zero_grad()
        (2.0 * (a ** 2).sum() + 2.0 * (b ** 2).sum()).backward()
        opt.step()
    assert ctl.lrs[0] > 0.01 * 1.5  # too small: grows
    assert ctl.lrs[1] < 0.3  # too large (oscillating): shrinks


def test_under_a_schedule_and_exact_resume():
    def make():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1).double()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
        ctl = HypergradientLR(opt, beta=1e-4, schedule="cosine(warmup=3)", total_steps=20)
        return model, opt, ctl

    def train(model, opt, steps, start):
        for t in range(start, start + steps):
            g = torch.Generator().manual_seed(t)
            x = torch.randn(8, 3, generator=g, dtype=torch.float64)
            opt.zero_grad()
            ((model(x) - x.sum(1, keepdim=True)) ** 2).mean().backward()
            opt.step()

    model, opt, ctl = make()
    train(model, opt, 20, 0)
    sched = lrkit.parse("cosine(warmup=3)")
    assert opt.param_groups[0]["lr"] == pytest.approx(ctl.lrs[0] * sched(19, 20))
    m1, o1, c1 = make()
    train(m1, o1, 9, 0)
    saved = (o1.state_dict(), c1.state_dict(), {k: x.clone() for k, x in m1.state_dict().items()})
    m2, o2, c2 = make()
    m2.load_state_dict(saved[2])
    o2.load_state_dict(saved[0])
    c2.load_state_dict(saved[1])
    train(m2, o2, 11, 9)
    for p, q in zip(model.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    assert c2.lrs == ctl.lrs


def test_hd_bad_arguments():
    opt = torch.optim.SGD([torch.nn.Parameter(torch.ones(1))], lr=0.1)
    with pytest.raises(lrkit.SpecError, match="mode"):
        HypergradientLR(opt, mode="sideways")
    with pytest.raises(lrkit.SpecError, match="beta"):
        HypergradientLR(opt, beta=-1.0)
    with pytest.raises(TypeError):
        HypergradientLR(object())


# ---------------------------------------------------------------------------------------------- FedHyper
def test_fedhyper_round_matches_the_reference_updates():
    x0 = np.array([0.0, 0.0])
    c1 = np.array([[1.0, 0.0], [3.0, 2.0]])  # mean (2, 1)
    x1, s1 = fedhyper_round(x0, c1, None, "g")
    np.testing.assert_allclose(x1, [2.0, 1.0])  # first round: FedAvg
    assert s1.global_lr == 1.0
    c2 = np.array([[3.0, 1.5], [3.0, 1.5]])  # delta (1, 0.5); agg = (2,1).(1,0.5) = 2.5
    x2, s2 = fedhyper_round(x1, c2, s1, "g")
    assert s2.agg == pytest.approx(2.5)
    np.testing.assert_allclose(x2, x1 + 3.5 * np.array([1.0, 0.5]))
    # GM: x = avg + agg*delta + 0.9*agg*last; last = delta + 0.9*last
    x2m, s2m = fedhyper_round(x1, c2, s1, "gm")
    np.testing.assert_allclose(x2m, [3.0, 1.5] + 2.5 * np.array([1.0, 0.5]) + 0.9 * 2.5 * np.array([2.0, 1.0]))
    np.testing.assert_allclose(s2m.last, np.array([1.0, 0.5]) + 0.9 * np.array([2.0, 1.0]))
    # clipping
    _, s3 = fedhyper_round(x1, np.array([[100.0, 100.0]]), s1, "gm")
    assert s3.agg == 4.0
    _, s4 = fedhyper_round(x1, np.array([[-100.0, -100.0]]), s1, "g")
    assert s4.agg == -0.8
    assert fedhyper_client_lr(0.01, s2) == pytest.approx(0.035)
    with pytest.raises(lrkit.SpecError, match="shape"):
        fedhyper_round(x0, np.ones((2, 3)))
    with pytest.raises(lrkit.SpecError, match="variant"):
        fedhyper_round(x0, c1, variant="adam")


def _federated(variant, rounds=60, clients=8, local_steps=5, local_lr=0.01, seed=0):
    """Linear regression split over heterogeneous clients, local SGD, server FedAvg or FedHyper."""
    rng = np.random.default_rng(seed)
    d = 10
    w_true = rng.normal(size=d)
    data = []
    for k in range(clients):
        X = rng.normal(size=(50, d)) * rng.uniform(0.5, 1.5, size=d) + rng.normal(scale=0.5, size=d)
        y = X @ w_true + 0.1 * rng.normal(size=50)
        data.append((X, y))
    Xa = np.concatenate([X for X, _ in data])
    ya = np.concatenate([y for _, y in data])

    def loss(w):
        return float(np.mean((Xa @ w - ya) ** 2) / 2)

    x = np.zeros(d)
    state = None
    curve = [loss(x)]
    for _ in range(rounds):
        models = []
        for X, y in data:
            w = x.copy()
            for _ in range(local_steps):
                w -= local_lr * X.T @ (X @ w - y) / len(y)
            models.append(w)
        if variant == "fedavg":
            x = np.mean(models, axis=0)
        else:
            x, state = fedhyper_round(x, models, state, variant)
        curve.append(loss(x))
    return np.array(curve), state


def _rounds_to(curve, target):
    hit = curve < target
    return int(np.argmax(hit)) if hit.any() else len(curve)


def test_fedhyper_beats_fedavg_with_a_too_small_local_lr():
    avg, _ = _federated("fedavg", rounds=150, local_lr=0.003)
    gm, s_gm = _federated("gm", rounds=150, local_lr=0.003)
    g, s_g = _federated("g", rounds=150, local_lr=0.003)
    target = avg[0] * 1e-2
    r_avg, r_gm, r_g = _rounds_to(avg, target), _rounds_to(gm, target), _rounds_to(g, target)
    assert r_gm < len(gm) and r_avg >= 2 * r_gm  # the recommended variant: over 2x fewer rounds
    assert r_g <= r_avg  # G: no hypergradient scale (as in the reference), so a small gain at this update size
    assert s_gm.global_lr > 1.1 and s_g.global_lr > 1.0  # the learned global LR compensates for the small local LR
