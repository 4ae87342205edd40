"""Every law in the package passes the same tests: its areas against a brute-force sum of its paper's
formula, a fit recovering the law's own synthetic curves, prediction, save/load and a free-form plan
(the Jacobian and the planner's exact gradient: test_laws_areas.py, parametrised over every law)."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrkit
from lrkit.laws import LAW_NAMES, Curve, FitResult, LawError, fit, get_law, plan, predict
from lrkit.laws.areas import warmup_end
from lrkit.laws.bound import bound_noise, bound_noise_grad

N, W, PEAK = 3000, 200, 3e-4
STEPS = np.arange(W, N, 25)
SPECS = [f"cosine(floor=0.1, warmup={W})", f"constant(warmup={W})", f'wsd(decay=0.3, form="linear", floor=0.05, warmup={W})']
UNSEEN = f'wsd(decay=0.1, form="1-sqrt", warmup={W})'
#: parameters each law is tested at (plausible for a small LM at peak LR 3e-4)
THETA = {
    "multipower": np.array([2.5, 0.6, 0.45, 500.0, 1.5, 0.55, 0.6]),
    "lra": np.array([2.5, 0.6, 0.45, 1.2]),
    "mpl-it": np.array([2.5, 0.6, 0.45, 500.0, 30.0, 0.6]),
    "multipower-it": np.array([2.5, 0.6, 0.45, 500.0, 30.0, 0.6]),
    "fsl": np.array([2.5, 0.6, 0.45, 600.0, 30.0, 0.6, 0.5]),
    "bound": np.array([2.5, 0.6, 0.45, 800.0]),
}


def test_every_registered_law_is_tested():
    assert set(THETA) == set(LAW_NAMES)


def lrs(spec: str, n: int = N) -> np.ndarray:
    return lrkit.parse(spec).sample(n) * PEAK


# ---------------------------------------------------------------------- brute force of each paper's formula
def naive_loss(name: str, lr: np.ndarray, t: int, theta: np.ndarray) -> float:
    """The law at step ``t`` summed literally from its paper (changes counted after warmup)."""
    s1 = lr[: t + 1].sum()
    w = max(warmup_end(lr), 1)
    if name in ("multipower", "mpl-it", "multipower-it"):  # Luo et al. 2025 eq. (6); the *-it laws: gamma = 0
        L0, A, alpha, B, C, beta = theta[:6]
        gamma = theta[6] if name == "multipower" else 0.0
        ld = sum((lr[k - 1] - lr[k]) * (1 - (C * lr[k] ** (-gamma) * lr[k:t + 1].sum() + 1) ** (-beta))
                 for k in range(w, t + 1))
        return L0 + A * s1 ** (-alpha) - B * ld
    if name == "fsl":  # Li et al. 2025's ansatz: c3 = (1 - omega) / omega, c2 = B omega, T_k = S1(k)
        L0, A, alpha, B, C, beta, omega = theta
        c2, c3 = B * omega, (1 - omega) / omega
        T = np.cumsum(lr)
        ld = sum((lr[k - 1] - lr[k]) * (c3 + T[k] ** (-alpha)) * (1 - (1 + C * (T[t] - T[k - 1])) ** (-beta))
                 for k in range(w, t + 1))
        return L0 + A * T[t] ** (-alpha) - c2 * ld
    if name == "lra":  # Tissue et al. 2024 eq. (1), lam = 0.999
        L0, A, alpha, C = theta
        m = s2 = 0.0
        for i in range(1, t + 1):
            m = 0.999 * m + ((lr[i - 1] - lr[i]) if i >= w else 0.0)
            s2 += m
        return L0 + A * s1 ** (-alpha) - C * s2
    L0, A, alpha, B = theta  # Schaipp et al. 2025 Thm 3.1 with G = 1, horizon t + 1
    omega = sum(lr[i] ** 2 for i in range(t + 1)) / (2 * s1)
    for k in range(t):
        omega += 0.5 * lr[k] / lr[k + 1:t + 1].sum() * sum(lr[k:t + 1] ** 2) / lr[k:t + 1].sum()
    return L0 + A * s1 ** (-alpha) + B * omega


@pytest.mark.parametrize("name", LAW_NAMES)
@pytest.mark.parametrize("seed", range(4))
def test_law_matches_a_brute_force_sum_of_its_formula(name, seed):
    rng = np.random.default_rng(seed)
    ramp = np.linspace(0.05, 1.0, int(rng.integers(2, 10)))
    body = np.repeat(np.sort(rng.uniform(0.05, 1.0, size=int(rng.integers(3, 8))))[::-1], rng.integers(1, 8))
    lr = np.r_[ramp, body, np.full(3, body[-1])] * PEAK
    steps = np.unique(rng.integers(ramp.size, lr.size, size=8))
    law, theta = get_law(name), THETA[name]
    got = law.predict(lr, steps, theta)[0]
    # the bound's default last weight is the LR before it (the reference's: test below)
    seq = (lambda t: np.r_[lr[:t], lr[t - 1]]) if name == "bound" else (lambda t: lr)
    np.testing.assert_allclose(got, [naive_loss(name, seq(int(t)), int(t), theta) for t in steps], rtol=1e-11)
    if name == "bound":
        np.testing.assert_allclose(get_law(name, last="schedule").predict(lr, steps, theta)[0],
                                   [naive_loss(name, lr, int(t), theta) for t in steps], rtol=1e-11)


def reference_refined_rate(etas: np.ndarray, T: int) -> float:
    """fabian-sp/lr-scheduling ScheduleBase._compute_refined_rate with G = 1, terms 2 + 3 (D = 0)."""
    e = etas[:T]
    s, g2 = e.sum(), e ** 2
    alpha = s - e.cumsum()
    alpha[-1] += 1e-10
    beta = alpha + e
    gammas = g2.sum() - g2.cumsum() + g2
    return g2.sum() / (2 * s) + 0.5 * ((e / alpha) * (gammas / beta))[:T - 1].sum()


def test_bound_matches_the_reference_code_and_skips_steps_with_lr_zero():
    lr = np.r_[np.linspace(0.01, 1, 10), np.full(25, 1.0), 1 - np.sqrt(np.arange(1, 16) / 16)] * 1e-3
    steps = np.arange(lr.size)
    np.testing.assert_allclose(bound_noise(lr, steps), [reference_refined_rate(lr, t + 1) for t in steps], rtol=1e-12)
    # a step with LR 0 does not move SGD: the bound is the one of the last step with a positive LR
    zero_end = np.r_[lr, 0.0, 0.0]
    np.testing.assert_allclose(bound_noise(zero_end, [lr.size + 1]), bound_noise(lr, [lr.size - 1]), rtol=1e-14)
    with pytest.raises(LawError, match="no positive LR"):
        bound_noise(np.r_[0.0, lr], [0])


def test_bound_gradient_needs_positive_lrs():
    with pytest.raises(LawError, match="every LR positive"):
        bound_noise_grad(np.r_[1e-3, 0.0, 1e-3])


def test_mpl_it_is_the_multi_power_law_at_gamma_zero():
    lr = lrs(SPECS[2])
    th = THETA["mpl-it"]
    np.testing.assert_allclose(get_law("mpl-it").predict(lr, STEPS, th)[0],
                               get_law("multipower").predict(lr, STEPS, np.r_[th, 0.0])[0], rtol=1e-14)


@pytest.mark.parametrize("warmup", ["skip", "ld"])
def test_multipower_it_is_the_multi_power_law_at_gamma_zero_with_its_gradient(warmup):
    lr = lrs(SPECS[2])
    th = THETA["multipower-it"]
    it, mpl = get_law("multipower-it", warmup=warmup), get_law("multipower", warmup=warmup)
    got, J = it.predict(lr, STEPS, th, jac=True)
    want, Jm = mpl.predict(lr, STEPS, np.r_[th, 0.0], jac=True)
    np.testing.assert_allclose(got, want, rtol=1e-14)
    np.testing.assert_allclose(J, Jm[:, :6], rtol=1e-14)
    np.testing.assert_allclose(it.final_loss_grad(lr, th, W)[1], mpl.final_loss_grad(lr, np.r_[th, 0.0], W)[1],
                               rtol=1e-14)


@pytest.mark.filterwarnings("ignore::lrkit.laws.UndeterminedWarning")
def test_multipower_it_keeps_the_weak_prior_on_c_and_beta_and_the_selection():
    law = get_law("multipower-it")
    assert law.param_names == ("L0", "A", "alpha", "B", "C", "beta") and set(law.prior) == {"C", "beta"}
    # C's centre: the multi-power prior's clock at the peak LR, 1 * eta_peak^-0.5 (here 57.7 per unit area)
    preps = [law.prepare(lrs(s), STEPS) for s in SPECS[:2]]
    assert law.prior_centres(preps) == pytest.approx({"C": PEAK ** -0.5, "beta": 0.5}, rel=1e-12)
    assert law.simplified_fit(preps, [law.predict(lrs(s), STEPS, THETA["multipower-it"])[0] for s in SPECS[:2]])[4:] \
        == pytest.approx([PEAK ** -0.5, 0.5])
    # and a fit sitting there is flagged "at the prior's centre" (the scaled centre, not the class's 1)
    from lrkit.laws.identify import undetermined
    theta = np.r_[THETA["multipower-it"][:4], PEAK ** -0.5, 0.9]
    lo, hi = law.bounds(2.0)
    flags = undetermined(law, theta, np.empty((0, 6)), lo, hi, prior_on=True, centres=law.prior_centres(preps))
    assert list(flags) == ["C"] and "at the prior's centre 57.7" in flags["C"]
    res = fit(synthetic("multipower-it", SPECS[:2], noise=1e-3), "multipower-it", n_boot=10)
    assert res.selection and res.selection["config"]["law_options"] in ({}, {"warmup": "ld"})
    assert "gamma" not in res.params
    with pytest.raises(LawError, match="law 'multipower-it' takes only the option 'warmup'"):
        get_law("multipower-it", lam=0.9)


# ---------------------------------------------------------------------------- fit, predict, save/load, plan
def synthetic(name: str, specs: list[str], noise: float = 0.0, seed: int = 0) -> list[Curve]:
    law, rng = get_law(name), np.random.default_rng(seed)
    out = []
    for s in specs:
        y = law.predict(lrs(s), STEPS, THETA[name])[0]
        out.append(Curve(s, lrs(s), STEPS, y * (1 + noise * rng.standard_normal(y.size))))
    return out


@pytest.fixture(scope="module", params=LAW_NAMES)
def exact_fit(request):
    name = request.param
    return name, fit(synthetic(name, SPECS), name, prior_weight=0.0, select=False, n_boot=20)


def test_fit_recovers_the_laws_own_curve_and_predicts_an_unseen_schedule(exact_fit):
    name, res = exact_fit
    assert res.law == name and max(m["max_rel_error"] for m in res.metrics.values()) < 1e-4
    np.testing.assert_allclose(res.theta[:3], THETA[name][:3], rtol=0.03)  # L0, A, alpha
    for c in synthetic(name, [UNSEEN]):
        p = predict(res, c.lr, c.steps)
        assert np.max(np.abs(p.loss - c.loss) / c.loss) < 2e-4
        assert np.all(p.lower <= p.loss) and np.all(p.loss <= p.upper)


def test_fit_file_round_trip(exact_fit, tmp_path):
    name, res = exact_fit
    back = FitResult.from_json(res.to_json(tmp_path / "fit.json"))
    assert back.law == name and back.params == res.params and back.flags == res.flags
    lr = lrs(UNSEEN)
    a, b = predict(res, lr, STEPS), predict(back, lr, STEPS)
    np.testing.assert_allclose(b.loss, a.loss)
    np.testing.assert_allclose(b.upper, a.upper)


def test_free_plan_works_for_every_law(exact_fit):
    name, res = exact_fit
    p = plan(res, N, PEAK, family="free", warmup=W, knots=12)
    assert p.best.final_loss <= min(c.final_loss for c in p.standard) + 1e-9
    np.testing.assert_allclose(lrkit.parse(p.best.spec).sample(N) * PEAK, p.best.lr)


def test_fsl_with_omega_zero_is_mpl_it_and_weights_earlier_drops_more():
    lr = lrs(UNSEEN)
    th = THETA["mpl-it"]
    fsl = get_law("fsl")
    np.testing.assert_allclose(fsl.predict(lr, STEPS, np.r_[th, 0.0])[0], get_law("mpl-it").predict(lr, STEPS, th)[0],
                               rtol=1e-13)
    # omega = 1 weights a drop by S1(k)^-alpha (the noise a step injects scales with the loss then), so a
    # long cooldown, whose drops come earlier, gains more relative to a short one than with omega = 0
    end = np.array([N - 1])
    const = lrs(f"constant(warmup={W})")

    def gain(spec, omega):
        th_o = np.r_[th, omega]
        return fsl.predict(const, end, th_o)[0][0] - fsl.predict(lrs(spec), end, th_o)[0][0]

    long_, short = f"wsd(decay=0.6, warmup={W})", f"wsd(decay=0.1, warmup={W})"
    assert gain(long_, 1.0) / gain(short, 1.0) > 1.05 * gain(long_, 0.0) / gain(short, 0.0)


@pytest.mark.parametrize("name", ["mpl-it", "fsl"])
def test_new_laws_take_no_options(name):
    with pytest.raises(LawError, match=f"law '{name}' takes no options"):
        get_law(name, warmup="ld")


def test_the_bound_takes_only_its_last_weight_option():
    with pytest.raises(LawError, match="law 'bound' takes only the option 'last'"):
        get_law("bound", warmup="ld")
    with pytest.raises(LawError, match="bound last must be one of"):
        get_law("bound", last="next")
    assert get_law("bound").options == {"last": "previous"} and get_law("bound", last="schedule").last == "schedule"


def test_the_bound_s_free_last_weight_is_the_reference_with_the_previous_lr_and_drops_the_spike():
    """``last="previous"``: at every step the reference's bound of the schedule whose last LR is replaced by
    the one before it (docs/methods.md, "The bound's free last weight"); S1 likewise.  At a step drop to
    1/10 the reference jumps up there (weight eta_{t-1}/eta_t = 10), the option does not."""
    lr = np.r_[np.linspace(0.01, 1, 10), np.full(25, 1.0), np.full(6, 0.1), 1 - np.sqrt(np.arange(1, 16) / 16)] * 1e-3
    steps = np.arange(1, lr.size)
    ref = [reference_refined_rate(np.r_[lr[:t], lr[t - 1]], t + 1) for t in steps]
    np.testing.assert_allclose(bound_noise(lr, steps, "previous"), ref, rtol=1e-12)
    np.testing.assert_allclose(bound_noise(lr, [0], "previous"), bound_noise(lr, [0]), rtol=1e-15)  # no LR before it
    drop = 35  # the first step at 0.1 of the peak
    before, own = bound_noise(lr, [drop - 1, drop]), bound_noise(lr, [drop - 1, drop], "previous")
    held = np.r_[lr[:drop], lr[drop - 1]]  # the peak held one step more
    np.testing.assert_allclose(own[1], bound_noise(held, [drop])[0], rtol=1e-12)  # no jump at the drop ...
    assert before[1] > 2 * own[1] and own[1] < 1.01 * before[0]  # ... where the reference's jumps (x2.8)
    law, theta = get_law("bound", last="previous"), THETA["bound"]
    got = law.predict(lr, steps, theta)[0]
    want = [naive_loss("bound", np.r_[lr[:t], lr[t - 1]], int(t), theta) for t in steps]
    np.testing.assert_allclose(got, want, rtol=1e-11)
    # steps with LR 0 make no update: after the last positive LR the bound is that iterate's, whatever follows
    zero_end, any_next = np.r_[lr, 0.0, 0.0], np.r_[lr, 5e-4]
    np.testing.assert_allclose(law.predict(zero_end, [lr.size, lr.size + 1], theta)[0],
                               law.predict(any_next, [lr.size] * 2, theta)[0], rtol=1e-12)
    # and the planner's gradient scores the same sequence as predict when the last LR is 0
    short = np.r_[np.linspace(0.1, 0.01, 20), 0.0] * 1e-3
    assert law.final_loss_grad(short, theta, 0)[0] == pytest.approx(law.predict(short, [short.size - 1], theta)[0][0],
                                                                   rel=1e-12)


def test_the_bound_with_its_last_weight_option_fits_round_trips_and_plans(tmp_path):
    """``law_options={"last": "previous"}`` (the default): recovered from its own curves, stored in the fit
    file and rebuilt from it (the same predictions), and the free plan runs on its gradient; a file
    without the option (written before it) is read as the reference's weight."""
    law = get_law("bound", last="previous")
    curves = [Curve(s, lrs(s), STEPS, law.predict(lrs(s), STEPS, THETA["bound"])[0]) for s in SPECS]
    res = fit(curves, "bound", law_options={"last": "previous"}, n_boot=10)
    assert res.law_options == {"last": "previous"} and max(m["max_rel_error"] for m in res.metrics.values()) < 1e-4
    np.testing.assert_allclose(res.theta[:3], THETA["bound"][:3], rtol=0.03)
    back = FitResult.from_json(res.to_json(tmp_path / "fit.json"))
    assert back.law_options == {"last": "previous"} and back.law_obj.last == "previous"
    np.testing.assert_allclose(predict(back, lrs(UNSEEN), STEPS).loss, predict(res, lrs(UNSEEN), STEPS).loss)
    assert fit(curves, "bound", n_boot=0).law_options == {"last": "previous"}  # the default, stored explicitly
    ref = fit(curves, "bound", law_options={"last": "schedule"}, n_boot=0)
    assert not np.allclose(predict(ref, lrs(UNSEEN), STEPS).loss[-1:], predict(res, lrs(UNSEEN), STEPS).loss[-1:],
                           rtol=1e-9)
    # a file written before the option holds no 'last': read as the reference's weight it was fitted with
    old = json.loads(ref.to_json())
    old["law_options"] = {}
    (tmp_path / "old.json").write_text(json.dumps(old))
    was = FitResult.from_json(tmp_path / "old.json")
    assert was.law_options == {"last": "schedule"}
    # one built in memory without the option is the default's, and keeps it through a file
    made = FitResult(law="bound", params=dict(res.params), runs=["a"])
    assert made.law_options == {"last": "previous"}
    assert FitResult.from_json(made.to_json()).law_obj.last == "previous"
    old["law_options"] = {"last": "bogus"}
    (tmp_path / "bad.json").write_text(json.dumps(old))
    with pytest.raises(LawError, match=r"bad\.json: malformed fit file \(bound last must be one of"):
        FitResult.from_json(tmp_path / "bad.json")
    np.testing.assert_allclose(predict(was, lrs(UNSEEN), STEPS).loss, predict(ref, lrs(UNSEEN), STEPS).loss)
    p = plan(res, N, PEAK, family="free", warmup=W, knots=12)
    assert p.best.final_loss <= min(c.final_loss for c in p.standard) + 1e-9
