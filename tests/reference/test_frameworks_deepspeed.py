"""DeepSpeed's ``WarmupLR``, ``WarmupDecayLR`` and ``WarmupCosineLR`` against a re-statement of their source,
driven as DeepSpeed's engine drives them, step by step (rtol 1e-7).

DeepSpeed does not install here; the classes below re-state ``deepspeed/runtime/lr_schedules.py`` (commit
22779f2: ``WarmupLR.get_lr`` / ``_get_gamma``, ``WarmupDecayLR._get_gamma``, ``WarmupCosineLR.get_lr`` /
``get_lr_ratio``) with their ``last_batch_iteration`` counter: the constructor sets the LR for
``last_batch_iteration = -1``, and the engine calls ``step()`` after each optimizer step
(``DeepSpeedEngine._take_model_step``). Cases marked "DeepSpeed tests/unit/runtime/test_lr_schedulers.py"
are ported from DeepSpeed's own suite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrkit

from .helpers import assert_steps, lrkit_lrs

RTOL = 1e-7


class WarmupLR:
    def __init__(self, warmup_min_lr=0.0, warmup_max_lr=0.001, warmup_num_steps=1000, warmup_type="log"):
        self.min_lr, self.delta = warmup_min_lr, warmup_max_lr - warmup_min_lr
        self.warmup_num_steps = max(2, warmup_num_steps)
        self.warmup_type = warmup_type
        self.inverse_log_warm_up = 1.0 / math.log(self.warmup_num_steps)
        self.last_batch_iteration = -1
        self.lr = self.get_lr()

    def get_lr(self):
        if self.last_batch_iteration < 0:
            return self.min_lr
        return self.min_lr + self.delta * self._get_gamma()

    def _warm(self):
        if self.warmup_type == "log":
            return self.inverse_log_warm_up * math.log(self.last_batch_iteration + 1)
        return self.last_batch_iteration / self.warmup_num_steps

    def _get_gamma(self):
        if self.last_batch_iteration < self.warmup_num_steps:
            return self._warm()
        return 1.0

    def step(self):
        self.last_batch_iteration += 1
        self.lr = self.get_lr()


class WarmupDecayLR(WarmupLR):
    def __init__(self, total_num_steps, **kw):
        self.total_num_steps = total_num_steps
        super().__init__(**kw)

    def _get_gamma(self):
        if self.last_batch_iteration < self.warmup_num_steps:
            return self._warm()
        return max(0.0, float(self.total_num_steps - self.last_batch_iteration) /
                   float(max(1.0, self.total_num_steps - self.warmup_num_steps)))


class WarmupCosineLR:
    def __init__(self, org_lr, total_num_steps, warmup_min_ratio=0.0, warmup_num_steps=1000, cos_min_ratio=0.0001,
                 warmup_type="log"):
        self.org_lr, self.total_num_steps, self.cos_min_ratio = org_lr, total_num_steps, cos_min_ratio
        self.warmup_type, self.warmup_min_ratio = warmup_type, warmup_min_ratio
        self.warmup_num_steps = max(2, warmup_num_steps)
        self.inverse_log_warm_up = 1.0 / math.log(self.warmup_num_steps)
        self.last_batch_iteration = -1
        self.lr = self.get_lr()

    def get_lr_ratio(self):
        if self.last_batch_iteration < self.warmup_num_steps:
            if self.warmup_type == "log":
                ratio = self.inverse_log_warm_up * math.log(self.last_batch_iteration + 1)
            else:
                ratio = self.last_batch_iteration / self.warmup_num_steps
            return self.warmup_min_ratio + ratio * (1. - self.warmup_min_ratio)
        real_last_step = self.last_batch_iteration - self.warmup_num_steps + 1
        real_total_steps = max(1, self.total_num_steps - self.warmup_num_steps)
        cosine_progress = min(1.0, real_last_step / real_total_steps)
        ratio = (1 + math.cos(math.pi * cosine_progress)) / 2
        return max(0.0, self.cos_min_ratio + (1. - self.cos_min_ratio) * ratio)

    def get_lr(self):
        if self.last_batch_iteration < 0:
            return 0.0
        return self.org_lr * self.get_lr_ratio()

    def step(self):
        self.last_batch_iteration += 1
        self.lr = self.get_lr()


def engine_lrs(sched, n):
    """The LR each of ``n`` updates runs at: read, optimizer step, then ``scheduler.step()``."""
    out = []
    for _ in range(n):
        out.append(sched.lr)
        sched.step()
    return np.asarray(out)


MAX = 2e-3
CASES = [(10, 0.0), (15, 0.25), (19, 0.0), (33, 0.5), (1, 0.0), (2, 0.1), (1000, 0.0)]


@pytest.mark.parametrize("warmup_type", ["log", "linear"])
@pytest.mark.parametrize("W, init", CASES)
def test_warmup(warmup_type, W, init):
    n = max(2, W) * 2 + 10
    ref = engine_lrs(WarmupLR(init * MAX, MAX, W, warmup_type), n)
    spec = f"deepspeed_warmup(warmup={W}, warmup_type={warmup_type!r}, warmup_init={init})"
    assert_steps(lrkit_lrs(spec, n, MAX, "lrkit"), ref, rtol=RTOL, what=spec)


@pytest.mark.parametrize("warmup_type", ["log", "linear"])
@pytest.mark.parametrize("W, init", CASES)
@pytest.mark.parametrize("factor", [2, 5])
def test_warmup_decay(warmup_type, W, init, factor):
    T = max(2, W) * factor
    n = T + 10
    ref = engine_lrs(WarmupDecayLR(T, warmup_min_lr=init * MAX, warmup_max_lr=MAX, warmup_num_steps=W,
                                   warmup_type=warmup_type), n)
    spec = f"deepspeed_warmup_decay(warmup={W}, warmup_type={warmup_type!r}, warmup_init={init})"
    assert_steps(lrkit_lrs(spec, n, MAX, "lrkit", total=T), ref, rtol=RTOL, what=spec)


@pytest.mark.parametrize("warmup_type", ["log", "linear"])
@pytest.mark.parametrize("W, init", CASES)
@pytest.mark.parametrize("cos_min", [0.0001, 0.0, 0.1])
def test_warmup_cosine(warmup_type, W, init, cos_min):
    T = max(2, W) * 3
    n = T + 10
    ref = engine_lrs(WarmupCosineLR(MAX, T, warmup_min_ratio=init, warmup_num_steps=W, cos_min_ratio=cos_min,
                                    warmup_type=warmup_type), n)
    spec = f"deepspeed_warmup_cosine(warmup={W}, warmup_type={warmup_type!r}, warmup_init={init}, floor={cos_min})"
    for conv in ("lrkit", "hf", "timm-prefix"):  # DeepSpeed's arithmetic under every convention
        assert_steps(lrkit_lrs(spec, n, MAX, conv, total=T), ref, rtol=RTOL, what=f"{spec} {conv}")


def test_total_shorter_than_warmup():
    """DeepSpeed only warns when total_num_steps < warmup_num_steps; the values stay defined."""
    ref = engine_lrs(WarmupDecayLR(5, warmup_max_lr=MAX, warmup_num_steps=10), 20)
    assert_steps(lrkit_lrs("deepspeed_warmup_decay(warmup=10)", 20, MAX, "lrkit", total=5), ref, rtol=RTOL)
    ref = engine_lrs(WarmupCosineLR(MAX, 5, warmup_num_steps=10), 20)
    assert_steps(lrkit_lrs("deepspeed_warmup_cosine(warmup=10)", 20, MAX, "lrkit", total=5), ref, rtol=RTOL)


def test_log_warmup_reaches_the_peak_at_step_w_and_linear_one_step_later():
    log, lin = lrkit.parse("deepspeed_warmup(warmup=10)"), lrkit.parse("deepspeed_warmup(warmup=10, "
                                                                        "warmup_type='linear')")
    assert log(0) == log(1) == 0.0 and log(10) == pytest.approx(1.0, rel=1e-15) and log(9) < 0.99
    assert lin(10) == pytest.approx(0.9) and lin(11) == 1.0


def test_cosine_starts_at_zero_and_lint_says_so():
    s = lrkit.parse("deepspeed_warmup_cosine(warmup=10, warmup_init=0.1)")
    assert s(0, 100) == 0.0 and s(1, 100) == pytest.approx(0.1)
    assert any(f.code == "zero-first-step" for f in lrkit.lint(s, 100))


# ----- cases ported from DeepSpeed's own suite (tests/unit/runtime/test_lr_schedulers.py) ---------------------

@pytest.mark.parametrize("warmup_num_steps", [10, 15, 19, 33])
@pytest.mark.parametrize("warmup_type", ["log", "linear"])
def test_deepspeed_suite_lr_warmup_schedule(warmup_num_steps, warmup_type):
    """TestLrSchedule.test_lr_warmup_schedule: warmup_min_lr 0.1, warmup_max_lr 0.2; step_lrs[i] is the LR
    after the (i+1)-th step (lrkit's step i + 1): the first is warmup_min_lr, step_lrs[warmup_num_steps] is
    warmup_max_lr, and every later one too."""
    s = lrkit.parse(f"deepspeed_warmup(warmup={warmup_num_steps}, warmup_type={warmup_type!r}, warmup_init=0.5)")
    step_lrs = list(0.2 * s(np.arange(1, 4 * warmup_num_steps + 1)))
    assert step_lrs[0] == pytest.approx(0.1)
    assert step_lrs[warmup_num_steps] == pytest.approx(0.2)
    assert all(lr == pytest.approx(0.2) for lr in step_lrs[warmup_num_steps:])


@pytest.mark.parametrize("warmup_num_steps", [10, 15, 19, 33])
@pytest.mark.parametrize("warmup_type", ["log", "linear"])
def test_deepspeed_suite_lr_warmup_decay_schedule(warmup_num_steps, warmup_type):
    """TestLrSchedule.test_lr_warmup_decay_schedule: total_num_steps = 2 * warmup_num_steps; the first LR is
    warmup_min_lr, step_lrs[warmup_num_steps] is warmup_max_lr, then it strictly decreases."""
    T = 2 * warmup_num_steps
    s = lrkit.parse(f"deepspeed_warmup_decay(warmup={warmup_num_steps}, warmup_type={warmup_type!r}, "
                    f"warmup_init=0.5)")
    step_lrs = list(0.2 * s(np.arange(1, T + 1), T))
    assert step_lrs[0] == pytest.approx(0.1)
    assert step_lrs[warmup_num_steps] == pytest.approx(0.2)
    assert all(b < a for a, b in zip(step_lrs[warmup_num_steps:], step_lrs[warmup_num_steps + 1:]))


# ----- the language --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["deepspeed_warmup()", "deepspeed_warmup(warmup=0.1, warmup_type='linear')",
                                  "deepspeed_warmup_decay(warmup=50, warmup_init=0.1, steps=1000)",
                                  "deepspeed_warmup_cosine()", "deepspeed_warmup_cosine(floor=0.0, warmup=3)"])
def test_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


def test_warmup_needs_no_total_but_the_decays_do():
    assert lrkit.parse("deepspeed_warmup(warmup=10)")(5) > 0
    with pytest.raises(lrkit.SpecError, match="needs the total number of steps"):
        lrkit.parse("deepspeed_warmup_cosine(warmup=10)")(5)


@pytest.mark.parametrize("spec, words", [
    ("deepspeed_warmup(warmup=0)", "warmup=0; DeepSpeed needs warmup_num_steps to be a positive integer"),
    ("deepspeed_warmup(warmup_type='exp')", "warmup_type='exp' is not one of"),
    ("deepspeed_warmup_decay(warmup_init=-0.1)", "warmup_init=-0.1 is out of range"),
    ("deepspeed_warmup_cosine(floor=-1.0)", "floor=-1.0 is out of range"),
    ("deepspeed_warmup_cosine(cos_min_ratio=0.1)", "unknown parameter 'cos_min_ratio'"),
])
def test_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_a_fraction_of_warmup_below_one_step_is_refused_at_bind():
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse("deepspeed_warmup_cosine(warmup=0.001)").sample(100)
    assert "less than one step" in str(e.value) and "\n" not in str(e.value)
