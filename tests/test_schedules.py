"""Targeted facts about each family's shape, its phases, the conventions, and lint's findings.

Values are checked against the published formulas written out here, independently of the library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrkit
from lrkit import parse

T = 1000
steps = np.arange(T)


def close(a, b, rtol=1e-12, atol=1e-12):
    np.testing.assert_allclose(a, b, rtol=rtol, atol=atol)


# ----- the classic decays ---------------------------------------------------------------------------

def test_constant_is_its_value_everywhere():
    close(parse("constant(value=0.3)").sample(T), np.full(T, 0.3))
    assert parse("constant()")(10 * T, T) == 1.0


def test_linear_runs_from_one_to_end_reached_at_T():
    close(parse("linear(end=0.2)").sample(T), 1 - 0.8 * steps / T)
    assert parse("linear(end=0.2)")(T, T) == pytest.approx(0.2)
    assert parse("linear(end=0.2)")(T, T, convention="lrkit") == pytest.approx(0.2)


def test_cosine_is_the_half_cosine_to_its_floor():
    close(parse("cosine(floor=0.1)").sample(T), 0.1 + 0.9 * 0.5 * (1 + np.cos(np.pi * steps / T)))
    assert parse("cosine(floor=0.1)")(T // 2, T) == pytest.approx(0.55)


def test_cosine_exponent_raises_the_cosine_factor():
    close(parse("cosine(exponent=2.0)").sample(T), (0.5 * (1 + np.cos(np.pi * steps / T))) ** 2)


def test_polynomial_power_and_floor():
    close(parse("polynomial(power=2.0, floor=0.1)").sample(T), 0.1 + 0.9 * (1 - steps / T) ** 2)
    close(parse("polynomial(power=1.0)").sample(T), parse("linear()").sample(T))


def test_exponential_is_gamma_to_the_step_with_its_floor():
    close(parse("exponential(gamma=0.99)").sample(T), 0.99 ** steps)
    close(parse("exponential(gamma=0.99, floor=0.2)").sample(T), np.maximum(0.99 ** steps, 0.2))


def test_exponential_far_past_the_end_is_zero_not_an_error():
    assert parse("exponential(gamma=0.5)")(10**7) == 0.0
    assert parse("exponential(gamma=0.5)")(np.array([10**7]))[0] == 0.0


def test_step_multiplies_by_gamma_every_k_steps():
    s = parse("step(every=100, gamma=0.5)")
    close(s.sample(T), 0.5 ** (steps // 100))
    values = s.sample(T)
    assert len(np.unique(values)) == 10  # 10 distinct levels in 1000 steps
    assert np.count_nonzero(np.diff(values)) == 9


def test_step_with_a_fraction():
    close(parse("step(every=0.25, gamma=0.1)").sample(T), 0.1 ** (steps // 250))


def test_multistep_counts_the_milestones_passed():
    s = parse("multistep(milestones=[300, 600, 900], gamma=0.1)")
    expected = 0.1 ** np.searchsorted([300, 600, 900], steps, side="right")
    close(s.sample(T), expected)
    assert s(299, T) == 1.0 and s(300, T) == pytest.approx(0.1) and s(900, T) == pytest.approx(1e-3)
    assert np.count_nonzero(np.diff(s.sample(T))) == 3


def test_multistep_fractions_are_positions_in_the_run():
    close(parse("multistep(milestones=[0.5, 0.75])").sample(T), parse("multistep(milestones=[500, 750])").sample(T))


def test_inverse_sqrt_after_warmup_is_vaswani_normalised():
    W = 100
    s = parse(f"inverse_sqrt(warmup={W})")
    t = np.arange(W, 5 * W)
    close(s(t, T), np.sqrt(W / t))  # min(t^-0.5, t W^-1.5) * sqrt(W): peak 1 at t = W
    close(parse("inverse_sqrt(timescale=50)")(np.arange(T)), np.sqrt(50 / (np.arange(T) + 50)))


# ----- budget-aware decays -----------------------------------------------------------------------------

@pytest.mark.parametrize("floor", [0.0, 0.1])
def test_uba_with_phi_2_is_cosine(floor):
    close(parse(f"uba(phi=2.0, floor={floor})").sample(T), parse(f"cosine(floor={floor})").sample(T))


def test_uba_small_phi_holds_the_lr_higher_than_cosine():
    uba, cos = parse("uba(phi=0.5)").sample(T), parse("cosine()").sample(T)
    assert np.all(uba[1:-1] > cos[1:-1])


@pytest.mark.parametrize("floor", [0.0, 0.2])
def test_rex_with_beta_0_is_linear(floor):
    close(parse(f"rex(beta=0.0, floor={floor})").sample(T), parse(f"linear(end={floor})").sample(T))


def test_rex_is_the_published_profile():
    p = steps / T
    close(parse("rex()").sample(T), (1 - p) / (0.5 + 0.5 * (1 - p)))


def test_wsd_stable_phase_is_one_and_decay_reaches_floor():
    s = parse("wsd(warmup=100, decay=200, floor=0.05, form=\"linear\")")
    v = s.sample(T)
    assert np.all(v[99:801] == 1.0)
    close(v[800:], 0.05 + 0.95 * (1 - (np.arange(800, T) - 800) / 200))
    assert s(T, T) == pytest.approx(0.05)
    assert [p.label for p in s.phases(T)] == ["warmup", "stable", "decay (linear)"]
    assert [(p.start, p.end) for p in s.phases(T)] == [(0, 100), (100, 800), (800, T)]


@pytest.mark.parametrize("form,shape", [
    ("1-sqrt", lambda x: 1 - np.sqrt(x)),
    ("cosine", lambda x: 0.5 * (1 + np.cos(np.pi * x))),
    ("square", lambda x: 1 - x ** 2),
])
def test_wsd_cooldown_forms(form, shape):
    v = parse(f"wsd(decay=0.2, form=\"{form}\")").sample(T)
    close(v[800:], shape((np.arange(800, T) - 800) / 200))


def test_power_is_capped_at_one_then_follows_n_to_the_b():
    s = parse("power(a=0.01, b=-0.5, batch_size=1.0, tokens_per_step=1.0, lr_max=0.001)")
    # multiplier = min(1, batch * a * n^b / lr_max) = min(1, 10 / sqrt(t)): 1 up to t = 100
    v = s(np.arange(1, 10_000), T)
    assert np.all(v[:99] == 1.0)
    t1, t2 = 1000, 9000
    slope = math.log(s(t2, T) / s(t1, T)) / math.log(t2 / t1)
    assert slope == pytest.approx(-0.5, rel=1e-9)
    assert s(2500, T) == pytest.approx(10 / 50)


def test_power_decay_cools_down_from_the_power_law_value():
    s = parse("power(a=0.01, b=-0.5, batch_size=1.0, tokens_per_step=1.0, lr_max=0.001, decay=100, "
              "form=\"linear\")")
    at = 10 / math.sqrt(900)
    assert s(900, T) == pytest.approx(at)
    assert s(950, T) == pytest.approx(at * 0.5)
    assert s(T, T) == pytest.approx(0.0, abs=1e-15)


def test_infinite_phases_reach_their_values_at_their_ends():
    s = parse("infinite(warmup=100, cooldown=200, constant_lr=0.2, anneal=100, min_lr=0.01)")
    assert [(p.start, p.end, p.label) for p in s.phases(T)] == [
        (0, 100, "warmup"), (100, 300, "cooldown (cosine)"), (300, 900, "constant"), (900, T, "anneal (exp)")]
    assert s(99, T) == pytest.approx(1.0)
    assert s(100, T) == pytest.approx(1.0)
    assert s(300, T) == pytest.approx(0.2)
    close(s(np.arange(300, 901), T), 0.2)
    assert s(T, T) == pytest.approx(0.01)
    close(s(np.arange(900, T + 1), T), 0.2 * (0.01 / 0.2) ** ((np.arange(900, T + 1) - 900) / 100))


def test_infinite_without_anneal_needs_no_total():
    s = parse("infinite(warmup=100, cooldown=200, constant_lr=0.2)")
    assert not s.needs_total()
    assert s(10**6) == pytest.approx(0.2)


# ----- cyclic -------------------------------------------------------------------------------------------

def test_sgdr_restarts_double_in_length_with_mult_2():
    s = parse("sgdr(period=10, mult=2, floor=0.0)")
    v = s.sample(150)
    restarts = [0] + [i for i in range(1, 150) if v[i] > v[i - 1]]
    assert restarts == [0, 10, 30, 70]
    assert np.diff(restarts).tolist() == [10, 20, 40]
    assert all(v[r] == 1.0 for r in restarts)
    close(v[30:70], 0.5 * (1 + np.cos(np.pi * np.arange(40) / 40)))


def test_sgdr_peak_decay_lowers_each_restart():
    v = parse("sgdr(period=10, peak_decay=0.5)").sample(40)
    assert v[0] == 1.0 and v[10] == 0.5 and v[20] == 0.25 and v[30] == 0.125


def test_onecycle_endpoints():
    s = parse("onecycle(pct_start=0.3, div_factor=25.0, final_div_factor=10000.0)")
    assert s(0, T) == pytest.approx(1 / 25)
    assert s(300, T) == pytest.approx(1.0)
    assert s(T, T) == pytest.approx(1 / 25 / 1e4)
    assert s(T - 1, T, convention="torch") == pytest.approx(1 / 25 / 1e4)
    assert s(299, T, convention="torch") == pytest.approx(1.0)
    assert np.argmax(s.sample(T)) == 300


def test_onecycle_three_phase_comes_back_before_the_anneal():
    s = parse("onecycle(pct_start=0.3, three_phase=True)")
    assert s(300, T) == pytest.approx(1.0)
    assert s(600, T) == pytest.approx(1 / 25)
    assert [p.label for p in s.phases(T)] == ["up", "down", "anneal"]


def test_cyclic_triangular_and_triangular2():
    v = parse("cyclic(base=0.1, max=1.0, up=10)").sample(60)
    assert v[0] == pytest.approx(0.1) and v[10] == pytest.approx(1.0) and v[20] == pytest.approx(0.1)
    v2 = parse("cyclic(base=0.1, max=1.0, up=10, mode=\"triangular2\")").sample(60)
    assert v2[10] == pytest.approx(1.0) and v2[30] == pytest.approx(0.55) and v2[50] == pytest.approx(0.325)
    assert parse("cyclic(up=1, mode=\"triangular2\")")(10**6) == pytest.approx(0.1)  # no overflow


# ----- piecewise and composition ------------------------------------------------------------------------------

def test_piecewise_interpolates_and_jumps():
    s = parse("piecewise(points=[(0, 1.0), (500, 1.0), (500, 0.5), (1000, 0.0)])")
    assert s(499, T) == 1.0 and s(500, T) == 0.5 and s(750, T) == pytest.approx(0.25)
    assert s(2000, T) == 0.0
    f = parse("piecewise(points=[(0.0, 1.0), (0.5, 0.2), (1.0, 0.2)])")
    assert f(250, T) == pytest.approx(0.6)


def test_rewarm_starts_at_from_lr_and_reaches_to():
    s = parse("rewarm(from_lr=0.2, to=0.8, warmup=10, then=cosine(floor=0.1))")
    assert s(0, 100, convention="hf") == pytest.approx(0.2)
    assert s(0, 100) == pytest.approx(0.2 + 0.6 / 10)  # lrkit: the first step is already one step up
    assert s(9, 100) == pytest.approx(0.8) and s(10, 100) == pytest.approx(0.8)
    assert s(100, 100) == pytest.approx(0.08)  # the decay is scaled to peak `to`
    assert [p.label for p in s.phases(100)] == ["warmup", "cosine"]


def test_rewarm_exponential_ramp_from_from_lr():
    s = parse("rewarm(from_lr=0.01, warmup=4, warmup_form=\"exponential\", then=constant())")
    close(s(np.arange(4), 100, convention="hf"), 0.01 * 100 ** (np.arange(4) / 4))


def test_sequence_phases_run_on_their_own_clocks():
    s = parse("sequence(linear(end=0.5), cosine(floor=0.1), boundaries=[400])")
    close(s(np.arange(400), T), parse("linear(end=0.5)")(np.arange(400), 400))
    close(s(np.arange(400, T), T), parse("cosine(floor=0.1)")(np.arange(600), 600))
    assert [(p.start, p.end, p.label) for p in s.phases(T)] == [(0, 400, "linear"), (400, T, "cosine")]


def test_product_clamp_repeat():
    prod = parse("product(warmup(period=100), cosine())")
    close(prod.sample(T), np.minimum((steps + 1) / 100, 1.0) * parse("cosine()").sample(T))
    clamp = parse("clamp(exponential(gamma=0.99), floor=0.05, ceiling=0.5)")
    close(clamp.sample(T), np.clip(0.99 ** steps, 0.05, 0.5))
    rep = parse("repeat(linear(), every=100, times=3)")
    close(rep(np.arange(300), T), np.tile(1 - np.arange(100) / 100, 3))
    assert rep(300, T) == pytest.approx(0.0) and rep(999, T) == pytest.approx(0.0)
    assert [p.label for p in rep.phases(T)] == ["cycle 1", "cycle 2", "cycle 3"]


# ----- conventions --------------------------------------------------------------------------------------------

def test_lrkit_warmup_starts_at_one_over_W_hf_at_zero():
    s = parse("linear(warmup=10)")
    assert s(0, 100) == pytest.approx(0.1)
    assert s(0, 100, convention="hf") == 0.0
    assert s(0, 100, convention="torch") == 0.0
    close(s(np.arange(10), 100, convention="hf"), np.arange(10) / 10)
    close(s(np.arange(10), 100), (np.arange(10) + 1) / 10)


def test_warmup_is_inside_the_total_by_default():
    s = parse("linear(warmup=100)")
    assert s(100, T) == 1.0 and s(T, T) == pytest.approx(0.0)
    close(s(np.arange(100, T), T), 1 - (np.arange(100, T) - 100) / 900)


def test_timm_warmup_replaces_the_first_values():
    s = parse("cosine(warmup=100)")
    close(s(np.arange(100, T), T, convention="timm"), parse("cosine()")(np.arange(100, T), T))


def test_clamp_after_the_end_versus_continue():
    s = parse("cosine(floor=0.1)")
    assert s(1500, T) == pytest.approx(0.1) and s(5 * T, T) == pytest.approx(0.1)
    assert s(1500, T, convention="torch") == pytest.approx(0.55)
    assert s(2 * T, T, convention="hf") == pytest.approx(1.0)


def test_custom_convention_end_at_T_minus_1():
    conv = lrkit.Convention("mine", end="T-1")
    s = parse("linear()")
    assert s(T - 1, T, convention=conv) == 0.0
    assert s(T - 1, T) > 0.0


def test_warmup_factor_forms():
    close(parse("warmup(period=10)")(np.arange(20)), np.minimum((np.arange(20) + 1) / 10, 1))
    close(parse("warmup(period=10, form=\"exponential\")")(np.arange(20)), 1 - np.exp(-(np.arange(20) + 1) / 10))
    assert parse("warmup(form=\"untuned\", beta2=0.999)").effective_period() == 2000
    assert parse("warmup(form=\"untuned_exponential\", beta2=0.999)").effective_period() == 1000
    r = parse("warmup(form=\"radam\")")(np.arange(100_000))
    assert np.all(np.diff(r) >= -1e-15) and r[-1] == pytest.approx(1.0, abs=1e-3) and r[0] > 0


@pytest.mark.parametrize("form", ["linear", "cosine", "1-sqrt", "sigmoid"])
def test_warmup_forms_run_from_init_to_peak(form):
    s = parse(f"cosine(warmup=50, warmup_form=\"{form}\", warmup_init=0.1)")
    v = s(np.arange(51), T, convention="hf")
    assert v[0] == pytest.approx(0.1) and v[50] == pytest.approx(1.0)
    assert np.all(np.diff(v) >= -1e-15)


def test_untuned_warmup_is_two_over_one_minus_beta2():
    s = parse("linear(warmup=\"untuned\", beta2=0.99)")
    assert s.warmup_steps(T) == 200
    assert s.phases(T)[0] == lrkit.Phase(0, 200, "warmup")


def test_batch_size_scaling_rules():
    assert lrkit.linear_scaling(0.1, 8192) == pytest.approx(3.2)
    assert lrkit.sqrt_scaling(0.1, 1024) == pytest.approx(0.2)
    with pytest.raises(lrkit.SpecError, match="batch_size"):
        lrkit.linear_scaling(0.1, 0)


# ----- phases ---------------------------------------------------------------------------------------------------

def test_phases_of_a_decaying_family():
    assert parse("cosine(warmup=100)").phases(T) == [lrkit.Phase(0, 100, "warmup"), lrkit.Phase(100, T, "cosine")]
    assert parse("cosine()").phases(T) == [lrkit.Phase(0, T, "cosine")]
    assert parse("cosine(warmup=2000)").phases(T)[-1].end >= 2000  # never ends before it starts


def test_phases_of_a_boundary_beyond_the_run_are_empty_not_reversed():
    ph = parse("sequence(constant(), cosine(), boundaries=[1500])").phases(T)
    assert all(p.end is None or p.end >= p.start for p in ph)


# ----- lint -------------------------------------------------------------------------------------------------------

def codes(spec, total=T, convention=None):
    return [f.code for f in lrkit.lint(spec, total, convention)]


@pytest.mark.parametrize("spec", [
    "cosine(warmup=100, floor=0.1)", "linear()", "wsd(warmup=100)", "rex(warmup=50)", "uba(phi=0.5)",
    "onecycle()", "power(warmup=100)", "infinite(warmup=100, anneal=0.1)", "step(every=100)",
    "multistep(milestones=[300, 600])", "inverse_sqrt(warmup=100)", "polynomial(power=2.0)",
    "exponential(gamma=0.99)", "product(warmup(period=100), cosine())",
    "sequence(constant(warmup=100), cosine(floor=0.1), boundaries=[400])",
    "rewarm(from_lr=0.1, warmup=100, then=cosine(floor=0.1))",
])
def test_clean_schedules_have_no_findings(spec):
    assert lrkit.lint(spec, T) == []


@pytest.mark.parametrize("spec,convention,code", [
    ("cosine(warmup=100)", "hf", "zero-first-step"),
    ("constant(value=0.0)", None, "zero-first-step"),
    ("sequence(constant(), constant(value=0.5), boundaries=[500])", None, "jump"),
    ("sequence(constant(), cosine(), boundaries=[1500])", None, "phase-beyond-run"),
    ("cosine(steps=2000)", None, "phase-beyond-run"),
    ("multistep(milestones=[500, 1200])", None, "milestone-beyond-run"),
    ("cosine()", "hf", "rises-after-end"),
    ("sgdr(period=300)", None, "rises-after-end"),
    ("cosine(warmup=2000)", None, "warmup-too-long"),
    ("cosine(floor=1.5)", None, "floor-above-peak"),
    ("clamp(cosine(), floor=1.5)", None, "floor-above-peak"),
    ("cyclic(base=2.0, max=1.0, up=100)", None, "floor-above-peak"),
    ("cosine(warmup=100, warmup_init=2.0)", None, "warmup-above-peak"),
    ("wsd(warmup=500, decay=600)", None, "phases-exceed-run"),
    ("exponential(gamma=1.01)", None, "rising"),
])
def test_each_soft_problem_is_reported(spec, convention, code):
    assert code in codes(spec, T, convention)


def test_lint_messages_are_one_line_and_name_the_step():
    (jump,) = lrkit.lint("sequence(constant(), constant(value=0.5), boundaries=[500])", T)
    assert "500" in jump.message and "\n" not in jump.message
    assert "cosine" not in codes("cosine()", T)  # the default convention clamps: nothing to report


def test_lint_rejects_bad_arguments():
    with pytest.raises(lrkit.SpecError):
        lrkit.lint("cosine()", 0)
    with pytest.raises(lrkit.SpecError):
        lrkit.lint("cosnie()", T)


@pytest.mark.parametrize("spec,needle", [
    ("cooldown(constant(), at=500, decay=100, floor=2.0)", "cooldown: floor=2.0"),
    ("product(constant(), sequence(constant(), linear(end=3.0), boundaries=[500]))", "linear: end=3.0"),
    ("repeat(sgdr(floor=1.5), every=100)", "sgdr: floor=1.5"),
    ("clamp(cyclic(base=2.0, max=1.0, up=100))", "cyclic: base=2.0 is above max=1.0"),
    ("rewarm(warmup=10, then=wsd(warmup=5, warmup_init=1.5))", "wsd: warmup_init=1.5"),
])
def test_parameter_findings_are_seen_inside_combinators(spec, needle):
    assert any(needle in f.message for f in lrkit.lint(spec, T))


# ----- the tree of a composite schedule --------------------------------------------------------------------------

def test_nodes_walk_the_tree_depth_first():
    s = parse("sequence(product(constant(), cosine()), clamp(linear()), boundaries=[0.5])")
    assert [n.family for n in s.nodes()] == ["sequence", "product", "constant", "cosine", "clamp", "linear"]
    assert list(parse("cosine()").nodes()) == [parse("cosine()")]


def test_every_combinator_is_exported():
    from lrkit import schedules

    combinators = {cls.__name__ for cls in schedules.REGISTRY.values() if cls.schedule_fields}
    assert combinators - set(schedules.__all__) == set()  # Cooldown was missing
    assert all(getattr(schedules, name) is schedules.REGISTRY[name.lower()] for name in combinators)
