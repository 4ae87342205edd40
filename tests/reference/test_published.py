"""Families no library ships, against the published formula or the authors' reference code.

Each reference below is a small local re-implementation written from reading the cited source (not
copied), evaluated at every step; the docstrings name the source and the mapping to lrkit.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrkit
from lrkit.schedules.warmup import radam_rectification, untuned_period

from .helpers import assert_steps


def steps(spec, n, total=None, convention="lrkit"):
    s = lrkit.parse(spec)
    return s(np.arange(n), total=total if total is not None else n, convention=convention)


# ----- REX ------------------------------------------------------------------------------------------

@pytest.mark.parametrize("p, quoted", [(0.5, 0.667), (0.75, 0.4), (0.9, 0.18)])
def test_rex_paper_profile_values(p, quoted):
    """Chen, Wolfe & Kyrillidis, "REX: Revisiting Budgeted Training with an Improved Schedule", MLSys 2022
    (arXiv 2107.04197): the profile ``(1 - p) / (1/2 + (1 - p)/2)`` is 0.667, 0.4 and 0.18 at
    p = 0.5, 0.75, 0.9; lrkit's ``rex()`` (beta = 0.5) gives the same."""
    T = 1000
    value = lrkit.parse("rex()")(int(round(p * T)), total=T)
    assert value == pytest.approx((1 - p) / (0.5 + 0.5 * (1 - p)), rel=1e-12)
    assert round(value, 3 if quoted != 0.18 else 2) == quoted


@pytest.mark.parametrize("T, floor", [(100, 0.0), (333, 0.05)])
def test_rex_paper_profile_every_step(T, floor):
    """kozistr/pytorch_optimizer ``lr_scheduler/rex.py`` (the paper's profile): ``min + (max - min) *
    (1 - p) / (1 - p/2)`` with p = t/T, and ``min`` from step T on."""
    def reference(t):
        if t >= T:
            return floor
        p = t / T
        return floor + (1.0 - floor) * (1.0 - p) / (1.0 - p / 2.0)

    n = T + 10
    assert_steps(steps(f"rex(floor={floor})", n, total=T), [reference(t) for t in range(n)], rtol=1e-12,
                 what="rex (paper profile)")


@pytest.mark.parametrize("N, lo", [(50, 0.0), (120, 0.01)])
def test_rex_reference_code_beta_09(N, lo):
    """IvanVassi/REX_LR ``lr_scheduler.py`` (the code the authors link): ``z = (N - t mod N)/N``,
    ``min + (max - min) * z / (0.1 + 0.9 z)``, i.e. ``(1-p)/(1-0.9p)`` restarting every N steps:
    ``repeat(rex(beta=0.9), every=N)``."""
    def reference(t):
        z = (N - (t % N)) / N
        return lo + (1.0 - lo) * (z / (1 - 0.9 + 0.9 * z))

    n = 3 * N + 7
    assert_steps(steps(f"repeat(rex(beta=0.9, floor={lo}), every={N})", n), [reference(t) for t in range(n)],
                 rtol=1e-12, what="REX_LR")


# ----- UBA --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec_tail", ["", ", floor=0.1", ", warmup=20, floor=0.05"])
def test_uba_phi_2_is_cosine(spec_tail):
    """Tang et al., "Stepsize anything" (NeurIPS 2025, arXiv 2505.24452): UBA with phi = 2 is cosine
    annealing exactly."""
    T = 300
    for conv in ("lrkit", "torch"):
        assert_steps(steps(f"uba(phi=2.0{spec_tail})", T, convention=conv),
                     steps(f"cosine({spec_tail.lstrip(', ')})", T, convention=conv), rtol=1e-13, atol=1e-15,
                     what=f"uba(phi=2) vs cosine [{conv}]")


@pytest.mark.parametrize("phi, floor", [(0.5, 0.0), (1.0, 0.0), (3.0, 0.1)])
def test_uba_formula(phi, floor):
    """The closed form ``floor + (1 - floor) * 2(1 + cos pi p) / (2 phi + (2 - phi)(1 + cos pi p))``.

    [unverified against the paper's main equation: research/ALGORITHMS.md records it from a third-party
    implementation; the arXiv text could not be read from here.] Its properties: 1 at p = 0, floor at
    p = 1, 0.8 at p = 0.5 for phi = 0.5, non-increasing, higher for smaller phi."""
    T = 200
    p = np.arange(T + 1) / T
    c = 1.0 + np.cos(np.pi * p)
    reference = floor + (1.0 - floor) * 2.0 * c / (2.0 * phi + (2.0 - phi) * c)
    got = steps(f"uba(phi={phi}, floor={floor})", T + 1, total=T)
    assert_steps(got, reference, rtol=1e-12, atol=1e-15, what=f"uba(phi={phi})")
    assert got[0] == pytest.approx(1.0) and got[-1] == pytest.approx(floor, abs=1e-15)
    assert np.all(np.diff(got) <= 1e-15)
    if phi == 0.5:
        assert got[T // 2] == pytest.approx(0.8)
    assert np.all(steps("uba(phi=0.5)", T) >= steps("uba(phi=1.0)", T) - 1e-15)


# ----- Power scheduler -------------------------------------------------------------------------------

@pytest.mark.parametrize("lr, batch, c, W, n", [
    (0.02, 1024, 4_194_304, 2500, 20_000),   # the paper's config: the cap holds until ~6.2k steps
    (0.02, 32, 131_072, 500, 5_000),         # the warmup ends below the cap
    (0.01, 256, 1_048_576, 100, 3_000),
])
def test_power_scheduler(lr, batch, c, W, n):
    """Shen et al. 2024 (arXiv 2408.13359), IBM/dolomite-engine ``optimization/scheduler.py::PowerScheduler``
    (a ``LambdaLR``): ``factor = min(1, (a / lr) (step c)^b)``, ``a = 4 * batch_size``, ``c`` tokens per step,
    ``b = -0.51``; for ``step <= W`` a line from 0 to the factor at W. lrkit:
    ``power(a=4, b=-0.51, batch_size=..., tokens_per_step=c, lr_max=lr, warmup=W)``, torch convention."""
    a, b = 4.0 * batch, -0.51
    at_w = min(1.0, (a / lr) * (W * c) ** b)

    def reference(t):
        if t <= W:
            return at_w / W * t
        return min(1.0, (a / lr) * (t * c) ** b)

    spec = f"power(a=4.0, b=-0.51, batch_size={batch}, tokens_per_step={c}, lr_max={lr}, warmup={W})"
    expected = np.array([reference(t) for t in range(n)])
    got = steps(spec, n, convention="torch")
    assert_steps(got, expected, rtol=1e-11, what=spec)
    cap_end = (lr / a) ** (1.0 / b) / c  # the step where the power law falls below 1
    if W < cap_end < n - 1:  # the cap binds after the warmup, then lets go
        assert np.all(got[W:int(cap_end)] == 1.0) and got[int(cap_end) + 1] < 1.0
    elif cap_end <= W:
        assert got[W] < 1.0


# ----- Infinite schedule ----------------------------------------------------------------------------

def infinite_reference(T, warmup_ratio, cooldown_ratio, constant_ratio, constant_lr, min_lr, style, timescale=10):
    """Pauljanson002/MAE-1 ``infinite_scheduler.py::infinite_lr`` for the first task, peak 1: the ratios are
    end points (warmup to ``wr*T``, cooldown to ``cr*T``, constant to ``kr*T``, then exponential decay)."""
    W, C, K = int(T * warmup_ratio), int(T * cooldown_ratio), int(T * constant_ratio)

    def lr(t):
        if t <= W:
            return t / W
        if t <= C:
            x = (t - W) / (C - W)
            if style == "inverse_sqrt":
                h = lambda y: 1 / math.sqrt(1 + timescale * y) - 1  # noqa: E731
                return 1.0 + (constant_lr - 1.0) / h(1) * h(x)
            return constant_lr + (1.0 - constant_lr) / 2.0 * (math.cos(math.pi * x) + 1)
        if t <= K:
            return constant_lr
        rate = -math.log(min_lr / constant_lr) / (T - K)
        return constant_lr * math.exp(-rate * (t - K))

    return lr, (W, C, K)


@pytest.mark.parametrize("style", ["cosine", "inverse_sqrt"])
@pytest.mark.parametrize("T, ratios, const, lo", [(1000, (0.05, 0.15, 0.80), 0.1, 0.01),
                                                  (777, (0.1, 0.3, 0.7), 0.25, 0.001)])
def test_infinite_schedule(style, T, ratios, const, lo):
    """Ibrahim et al. 2024 / Singh, Janson et al. 2025: lrkit ``infinite(warmup=W, cooldown=C-W,
    constant_lr=..., anneal=T-K, min_lr=..., cooldown_form=...)`` with the optax convention (the
    reference's warmup is ``t/W``). Phase ends: 1 at W, constant_lr at C and K, min_lr at T."""
    ref, (W, C, K) = infinite_reference(T, *ratios, const, lo, style)
    spec = (f"infinite(warmup={W}, cooldown={C - W}, constant_lr={const}, anneal={T - K}, min_lr={lo}, "
            f"cooldown_form={style!r})")
    s = lrkit.parse(spec)
    assert_steps(s(np.arange(T), total=T, convention="optax"), [ref(t) for t in range(T)], rtol=1e-12,
                 what=spec)
    at = lambda t: s(t, total=T, convention="optax")  # noqa: E731
    assert at(W) == pytest.approx(1.0) and at(C) == pytest.approx(const) and at(K) == pytest.approx(const)
    assert at(T) == pytest.approx(lo, rel=1e-12)
    # past T the reference keeps decaying below min_lr; lrkit holds min_lr
    assert ref(T + 50) < lo and at(T + 50) == pytest.approx(lo)


# ----- WSD: MiniCPM and Hägele et al. ---------------------------------------------------------------

@pytest.mark.parametrize("T, W, D, H", [(1000, 50, 100, 20), (500, 0, 250, 50)])
def test_minicpm_exponential_decay(T, W, D, H):
    """Hu et al. 2024 (MiniCPM, arXiv 2404.06395): ``s/W`` warmup, then the peak, then from the decay
    start ``S = T - D`` the factor ``0.5^((s - S)/T_half)``: ``wsd(form='exp', half_life=T_half)``."""
    S = T - D

    def reference(t):
        if t < W:
            return t / W
        return 1.0 if t < S else 0.5 ** ((t - S) / H)

    spec = f"wsd(warmup={W}, decay={D}, form='exp', half_life={H})"
    got = steps(spec, T, convention="optax")
    assert_steps(got, [reference(t) for t in range(T)], rtol=1e-12, what=spec)
    assert got[S + H] == pytest.approx(0.5) and got[S + 3 * H] == pytest.approx(0.125)


def epfml_wsd(n_iterations, final_lr_factor, n_warmup, init_div_factor, fract_decay, decay_type):
    """epfml/schedules-and-scaling ``src/optim/utils.py::wsd_schedule`` (commit ce6b405), re-written from
    reading it: warmup ``t/W + (1 - t/W)/init_div_factor``, hold, then the last ``int(fract*T)`` steps
    cool down with x = (t - n_hold)/n_anneal; ``final_lr_factor`` from T on."""
    n_anneal = int(fract_decay * n_iterations)
    n_hold = n_iterations - n_anneal
    f = final_lr_factor
    shapes = {"linear": lambda x: 1 - x, "cosine": lambda x: 0.5 * (1 + math.cos(math.pi * x)),
              "square": lambda x: 1 - x ** 2, "sqrt": lambda x: 1 - math.sqrt(x)}

    def lr(t):
        if t < n_warmup:
            return t / n_warmup + (1 - t / n_warmup) / init_div_factor
        if t < n_hold:
            return 1.0
        if t < n_iterations:
            x = (t - n_hold) / n_anneal
            return f ** x if decay_type == "exp" else f + (1 - f) * shapes[decay_type](x)
        return f

    return lr, n_anneal


@pytest.mark.parametrize("decay_type, form", [("linear", "linear"), ("cosine", "cosine"), ("sqrt", "1-sqrt"),
                                              ("square", "square"), ("exp", "exp")])
@pytest.mark.parametrize("T, W, fract, final", [(1000, 100, 0.2, 0.0), (1005, 30, 0.1, 0.1), (400, 0, 0.5, 0.01)])
def test_hagele_wsd(decay_type, form, T, W, fract, final):
    """Hägele et al. 2024 (NeurIPS), epfml/schedules-and-scaling ``wsd_schedule``. Mapping: ``wsd(warmup=W,
    warmup_init=1/init_div_factor, decay=int(fract*T), form=..., floor=final)``, optax convention
    (warmup from step 0). ``sqrt`` there is the paper's 1-sqrt; ``exp`` needs final > 0 (0**x collapses).
    The decay is given in steps because epfml truncates ``fract*T`` (100 for 0.1*1005) where lrkit rounds a
    fraction to the nearest step (101). ``miror_cosine`` has no lrkit form."""
    if decay_type == "exp" and final == 0.0:
        final = 0.05
    ref, n_anneal = epfml_wsd(T, final, W, 100, fract, decay_type)
    spec = f"wsd(warmup={W}, warmup_init=0.01, decay={n_anneal}, form={form!r}, floor={final})"
    n = T + 10
    assert_steps(steps(spec, n, total=T, convention="optax"), [ref(t) for t in range(n)], rtol=1e-12, what=spec)
    if float(fract * T).is_integer():  # the fraction spelling agrees when fract*T is a whole number of steps
        frac_spec = spec.replace(f"decay={n_anneal}", f"decay={fract}")
        assert_steps(steps(frac_spec, n, total=T, convention="optax"), [ref(t) for t in range(n)], rtol=1e-12,
                     what=frac_spec)


# ----- Warmup rules ---------------------------------------------------------------------------------------

def test_untuned_warmup_periods():
    """Ma & Yarats, "On the adequacy of untuned warmup for adaptive optimization" (AAAI 2021,
    arXiv 1910.04209): linear warmup over 2/(1 - beta2) steps (2000 for beta2 = 0.999), exponential with
    time constant 1/(1 - beta2)."""
    assert untuned_period(0.999) == 2000 and untuned_period(0.999, exponential=True) == 1000
    assert untuned_period(0.99) == 200 and untuned_period(0.98) == 100 and untuned_period(0.9) == 20
    w = lrkit.parse("warmup(form='untuned')")
    assert w.effective_period() == 2000
    assert w(0) == pytest.approx(1 / 2000) and w(1998) < 1.0 and w(1999) == 1.0
    assert lrkit.parse("cosine(warmup='untuned')").phases(10_000)[0] == lrkit.Phase(0, 2000, "warmup")
    e = lrkit.parse("warmup(form='untuned_exponential', beta2=0.99)")
    assert e(99) == pytest.approx(1 - math.exp(-1.0))


@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.98])
def test_radam_rectification_matches_torch_radam(beta2):
    """Liu et al. 2020 (RAdam), as ``torch.optim.RAdam`` computes it: with a constant gradient, lr = 1 and
    eps = 0, RAdam's update at step k is exactly ``r_k`` once ``rho_k > 5`` (and the plain momentum step 1
    before that; lrkit's factor uses the paper's threshold rho > 4, so steps with 4 < rho <= 5 differ by
    design: torch takes an un-adapted step there)."""
    torch = pytest.importorskip("torch")
    n = 300
    p = torch.zeros(1, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.RAdam([p], lr=1.0, betas=(0.9, beta2), eps=0.0, foreach=False)
    updates = []
    for _ in range(n):
        p.grad = torch.ones_like(p)
        before = p.detach().clone()
        opt.step()
        updates.append(float(before - p.detach()))
    updates = np.array(updates)
    k = np.arange(1, n + 1, dtype=float)
    rho_inf = 2 / (1 - beta2) - 1
    rho = rho_inf - 2 * k * beta2 ** k / (1 - beta2 ** k)
    r = radam_rectification(k - 1, lrkit.schedules.base.ARRAY, beta2, 1)
    rectified = rho > 5
    assert rectified.sum() > n - 10
    assert_steps(r[rectified], updates[rectified], rtol=1e-10, what=f"RAdam r_t (beta2={beta2})")
    assert np.allclose(updates[~rectified], 1.0)
    assert np.all(r[rho <= 4] == 0.0)


# ----- Batch-size scaling rules ---------------------------------------------------------------------------

def test_goyal_linear_scaling():
    """Goyal et al. 2017, "Accurate, Large Minibatch SGD": lr = 0.1 * k n / 256, so 3.2 at batch 8192, after a
    5-epoch gradual warmup from 0.1, then x0.1 at epochs 30, 60 and 80 (per-epoch steps here)."""
    peak = lrkit.linear_scaling(0.1, 8192)
    assert peak == pytest.approx(3.2, rel=1e-15)
    assert lrkit.linear_scaling(0.1, 256) == pytest.approx(0.1) and lrkit.linear_scaling(0.2, 512, 1024) == 0.1
    s = lrkit.parse(f"multistep(milestones=[30, 60, 80], gamma=0.1, warmup=5, warmup_init={0.1 / peak!r})")
    lr = s(np.arange(90), total=90, convention="torch") * peak
    assert lr[0] == pytest.approx(0.1) and lr[5] == pytest.approx(3.2) and lr[29] == pytest.approx(3.2)
    assert lr[30] == pytest.approx(0.32) and lr[60] == pytest.approx(0.032) and lr[89] == pytest.approx(0.0032)
    assert np.allclose(np.diff(lr[:6]), (3.2 - 0.1) / 5)


def test_sqrt_scaling():
    """Krizhevsky 2014 / Hoffer et al. 2017: lr * sqrt(batch / base)."""
    assert lrkit.sqrt_scaling(0.1, 1024) == pytest.approx(0.2, rel=1e-15)
    assert lrkit.sqrt_scaling(0.1, 8192) == pytest.approx(0.1 * math.sqrt(32), rel=1e-15)
    assert lrkit.sqrt_scaling(1e-3, 64, base_batch_size=256) == pytest.approx(5e-4)
