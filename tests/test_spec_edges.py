"""Edge cases found by adversarial probing of the schedule language: equality of steps and fractions,
values that overflow, huge totals, odd numbers, and the soft problems lint should see."""

from __future__ import annotations

import json
import math
import pickle

import numpy as np
import pytest

import lrkit
from lrkit import SpecError, parse
from lrkit.summary import summarize


def one_line_error(fn, *needles: str) -> str:
    with pytest.raises(SpecError) as info:
        fn()
    message = str(info.value)
    assert message and "\n" not in message, f"not one line: {message!r}"
    for needle in needles:
        assert needle in message, f"{needle!r} not in {message!r}"
    return message


# ----- an integer is steps, a float a fraction: they must never compare equal ---------------------------------

@pytest.mark.parametrize("steps,fraction", [
    ("cosine(warmup=1)", "cosine(warmup=1.0)"),
    ("multistep(milestones=[1])", "multistep(milestones=[1.0])"),
    ("wsd(decay=1)", "wsd(decay=1.0)"),
    ("sequence(cosine(warmup=1), linear(), boundaries=[5])", "sequence(cosine(warmup=1.0), linear(), boundaries=[5])"),
])
def test_steps_and_fractions_are_different_schedules(steps, fraction):
    a, b = parse(steps), parse(fraction)
    assert a != b and len({a, b}) == 2
    assert a == parse(str(a)) and b == parse(str(b)) and hash(b) == hash(parse(b.to_dict()))
    assert b == pickle.loads(pickle.dumps(b))


def test_a_fraction_is_not_served_the_values_of_equal_looking_steps():
    one_step = parse("cosine(warmup=1)").sample(10)  # fills the bind cache
    whole_run = parse("cosine(warmup=1.0)").sample(10)  # was: the cached values of warmup=1
    assert one_step[0] == 1.0
    assert whole_run.tolist() == pytest.approx([0.1 * (i + 1) for i in range(10)])


# ----- values must be finite ------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,total,step", [
    ("exponential(gamma=1.5)", 10_000, 1751),
    ("exponential(gamma=1e300)", 5, 2),
    ("step(every=1, gamma=1e300)", 100, 2),
    ("multistep(milestones=[1, 2, 3], gamma=1e300)", 10, 2),  # was: OverflowError from Python's float **
    ("product(exponential(gamma=1e300), exponential(gamma=1e-300))", 10, 2),  # was: nan
])
def test_a_multiplier_that_overflows_is_a_spec_error(spec, total, step):
    s = parse(spec)
    one_line_error(lambda: s.sample(total), spec.split("(")[0], f"at step {step}", "not a finite number")
    one_line_error(lambda: s(step, total), f"at step {step}")
    one_line_error(lambda: s(np.arange(step + 1), total), f"at step {step}")


def test_power_scheduler_at_step_0_is_the_same_scalar_and_vectorised():
    s = parse("power(b=-2)")  # was: OverflowError for the scalar call at step 0
    assert s(0, 10) == s(np.arange(3), 10)[0] == 1.0
    assert parse("power(b=-1e300)").sample(3).tolist() == [1.0, 0.0, 0.0]


def test_infinite_inverse_sqrt_cooldown_with_a_tiny_timescale():
    s = parse("infinite(cooldown_form='inverse_sqrt', timescale=1e-300)")  # was: ZeroDivisionError
    y = s.sample(20)
    assert y[:3].tolist() == pytest.approx([1.0, 0.55, 0.1])  # the limit: a linear cooldown
    assert [s(i, 20) for i in range(3)] == pytest.approx(y[:3].tolist())
    usual = parse("infinite(cooldown_form='inverse_sqrt', timescale=10)").sample(20)
    alpha, x = 10.0, 0.5
    expected = 1 + (0.1 - 1) * (1 / math.sqrt(1 + alpha * x) - 1) / (1 / math.sqrt(1 + alpha) - 1)
    assert usual[1] == pytest.approx(expected, rel=1e-12)


# ----- totals and steps -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("total", [2 ** 63, 10 ** 30, 1e300])
def test_a_total_too_large_to_sample_is_a_spec_error(total):
    # was: an empty array for 2**63, numpy's "Maximum allowed size exceeded" above
    one_line_error(lambda: parse("cosine()").sample(total), "too many to sample", "fewer steps")


def test_sample_takes_the_spec_own_steps():
    assert parse("cosine(steps=5)").sample().tolist() == pytest.approx(parse("cosine()").sample(5).tolist())
    one_line_error(lambda: parse("cosine()").sample(), "cosine", "sample(N)")


# ----- odd numbers and containers ---------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,text", [
    ("constant(value=-0.0)", "constant(value=0.0)"),
    ("cosine(warmup=-0.0)", "cosine(warmup=0.0)"),
    ("cosine(floor=1e-300)", "cosine(floor=1e-300)"),
    ("cosine(floor=1e300)", "cosine(floor=1e+300)"),
    ("cosine(floor=5e-324)", "cosine(floor=5e-324)"),
])
def test_odd_numbers_round_trip(spec, text):
    s = parse(spec)
    assert str(s) == text
    assert parse(str(s)) == s == parse(json.dumps(s.to_dict())) == pickle.loads(pickle.dumps(s))


def test_numpy_arrays_are_read_as_lists():
    from lrkit.schedules import MultiStep, Piecewise, Sequence

    assert MultiStep(milestones=np.array([30, 60])) == parse("multistep(milestones=[30, 60])")
    assert Piecewise(points=np.array([[0, 1.0], [1.0, 0.0]])) == parse("piecewise(points=[(0.0, 1.0), (1.0, 0.0)])")
    assert Sequence(schedules=["cosine()", "linear()"], boundaries=np.array([5])) == \
        parse("sequence(cosine(), linear(), boundaries=[5])")
    # was: a message over two lines (numpy's repr of a 2-d array)
    one_line_error(lambda: Piecewise(points=np.array([[0, 1.0, 2.0], [1.0, 0.0, 2.0]])), "points[0]=[0.0, 1.0, 2.0]")


def test_nesting_too_deep_is_a_spec_error():
    one_line_error(lambda: parse('{"a":' * 100_000 + "1" + "}" * 100_000), "nested too deeply")
    deep = '{"family": "clamp", "schedule": ' * 600 + '{"family": "cosine"}' + "}" * 600
    one_line_error(lambda: parse(deep), "nested too deeply")  # was: RecursionError


def test_a_huge_literal_is_one_short_line():
    message = one_line_error(lambda: parse("cosine(warmup=" + "9" * 5000 + ")"), "syntax error", "4300 digits")
    assert len(message) < 400  # was: the 5000-digit spec repeated in full


def test_onecycle_phases_stay_in_the_run_when_it_is_tiny():
    for total in (1, 2, 3):
        phases = parse("onecycle(three_phase=True)").phases(total, "torch")  # was: a phase ending at step -1
        assert all(0 <= p.start <= p.end <= total for p in phases), phases


# ----- lint -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec,code,needle", [
    ("step(every=10, gamma=2)", "rising", "gamma=2.0"),
    ("multistep(milestones=[10], gamma=3)", "rising", "gamma=3.0"),
    ("linear(end=2)", "floor-above-peak", "end=2.0"),
    ("cooldown(constant(), at=2000, decay=10)", "phase-beyond-run", "never starts"),
    ("cooldown(constant(), at=900, decay=500)", "phase-beyond-run", "cut short"),
    ("cooldown(cosine(steps=2000), at=900, decay=50)", "phase-beyond-run", "steps=2000"),
    ("repeat(cosine(), every=2000)", "phase-beyond-run", "never restarts"),
    ("repeat(multistep(milestones=[500]), every=100)", "milestone-beyond-run", "[500]"),
    ("rewarm(warmup=10, then=multistep(milestones=[2000]))", "milestone-beyond-run", "[2000]"),
])
def test_lint_sees_inside_combinators_and_growth(spec, code, needle):
    found = [f for f in lrkit.lint(spec, 1000) if f.code == code]
    assert found and needle in found[0].message and "\n" not in found[0].message


def test_lint_clean_combinators_stay_clean():
    assert lrkit.lint("cooldown(constant(), at=500, decay=100)", 1000) == []
    assert "phase-beyond-run" not in [f.code for f in lrkit.lint("repeat(cosine(), every=500)", 1000)]


def test_lint_reports_an_overflow_after_the_end_instead_of_failing():
    codes = [f.code for f in lrkit.lint("exponential(gamma=1.5)", 1700)]  # finite in the run, inf after it
    assert "rising" in codes and "rises-after-end" in codes


# ----- summaries ------------------------------------------------------------------------------------------------

def test_summary_with_an_lr_that_overflows_is_a_spec_error():
    one_line_error(lambda: summarize("cosine()", 10, lr=1e308), "lr=1e+308", "overflow")
    one_line_error(lambda: summarize("constant(value=1e308)", 10), "overflow")
    assert summarize("cosine()", 10, lr=1e-320).peak == 1e-320
