"""``megatron`` and ``megatron_wd`` against Megatron-LM's ``OptimizerParamScheduler``, step by step (rtol 1e-7).

Megatron-LM does not install here, so :class:`MegatronReference` re-states its arithmetic from
``megatron/core/optimizer_param_scheduler.py`` (``OptimizerParamScheduler.get_lr`` and ``get_wd``, read at
commits 00caa53 and d98e8a6, unchanged between them) in Megatron's own terms: absolute LRs, a
``num_steps`` counter that ``step(increment)`` advances, the LR set at construction (``step(0)``) and
after each optimizer step. Cases marked "Megatron tests/unit_tests/test_optimizer_param_scheduler.py" are
ported from Megatron's own suite.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrkit

from .helpers import assert_steps, lrkit_lrs

RTOL = 1e-7


class MegatronReference:
    """Megatron's OptimizerParamScheduler, LR and weight decay of one param group (no overrides)."""

    def __init__(self, init_lr, max_lr, min_lr, lr_warmup_steps, lr_decay_steps, lr_decay_style, start_wd=0.0,
                 end_wd=0.0, wd_incr_steps=1, wd_incr_style="constant", wsd_decay_steps=None,
                 lr_wsd_decay_style=None):
        assert min_lr >= 0.0 and max_lr >= min_lr and init_lr <= max_lr
        assert lr_decay_steps > 0 and lr_warmup_steps < lr_decay_steps
        if lr_decay_style == "WSD":
            assert wsd_decay_steps is not None
        assert start_wd >= 0.0 and end_wd >= start_wd
        self.__dict__.update(locals())
        del self.__dict__["self"]
        self.num_steps = 0
        self.step(0)

    def get_wd(self):
        if self.num_steps > self.wd_incr_steps:
            return self.end_wd
        if self.wd_incr_style == "constant":
            assert self.start_wd == self.end_wd
            return self.end_wd
        incr_ratio = float(self.num_steps) / float(self.wd_incr_steps)
        delta_wd = self.end_wd - self.start_wd
        if self.wd_incr_style == "linear":
            coeff = incr_ratio
        else:  # cosine
            coeff = 0.5 * (math.cos(math.pi * (1 - incr_ratio)) + 1.0)
        return self.start_wd + coeff * delta_wd

    def get_lr(self):
        n, W, T = self.num_steps, self.lr_warmup_steps, self.lr_decay_steps
        if W > 0 and n <= W:
            return self.init_lr + ((self.max_lr - self.init_lr) * float(n) / float(W))
        if self.lr_decay_style == "constant":
            return self.max_lr
        if n > T:
            return self.min_lr
        if self.lr_decay_style == "inverse-square-root":
            return max(self.min_lr, self.max_lr * max(W, 1) ** 0.5 / (max(n, 1) ** 0.5))
        decay_ratio = float(n - W) / float(T - W)
        delta_lr = self.max_lr - self.min_lr
        if self.lr_decay_style == "linear":
            coeff = 1.0 - decay_ratio
        elif self.lr_decay_style == "cosine":
            coeff = 0.5 * (math.cos(math.pi * decay_ratio) + 1.0)
        else:  # WSD
            anneal_start = T - self.wsd_decay_steps
            if n <= anneal_start:
                coeff = 1.0
            else:
                r = float(n - anneal_start) / float(self.wsd_decay_steps)
                coeff = {"linear": 1.0 - r, "cosine": 0.5 * (math.cos(math.pi * r) + 1.0),
                         "exponential": (2.0 * math.pow(0.5, r)) - 1.0,
                         "minus_sqrt": 1.0 - math.sqrt(r)}[self.lr_wsd_decay_style]
        return self.min_lr + coeff * delta_lr

    def step(self, increment):
        self.num_steps += increment
        self.lr, self.weight_decay = self.get_lr(), self.get_wd()


def megatron_run(n, **kw):
    """The LR and weight decay of ``n`` training iterations (read before each optimizer step)."""
    sched = MegatronReference(**kw)
    lrs, wds = [], []
    for _ in range(n):
        lrs.append(sched.lr)
        wds.append(sched.weight_decay)
        sched.step(1)
    return np.asarray(lrs), np.asarray(wds)


MAX = 3e-4


@pytest.mark.parametrize("style", ["constant", "linear", "cosine", "inverse-square-root"])
@pytest.mark.parametrize("W, T, init, min_lr", [(0, 100, 0.0, 0.0), (10, 100, 0.0, 3e-5), (25, 300, 1e-5, 3e-6),
                                                (1, 7, 0.0, 0.0), (99, 100, 3e-5, 1e-5)])
def test_lr(style, W, T, init, min_lr):
    n = T + 20
    ref, _ = megatron_run(n, init_lr=init, max_lr=MAX, min_lr=min_lr, lr_warmup_steps=W, lr_decay_steps=T,
                          lr_decay_style=style)
    spec = f"megatron(decay_style={style!r}, warmup={W}, warmup_init={init / MAX!r}, floor={min_lr / MAX!r})"
    assert_steps(lrkit_lrs(spec, n, MAX, "lrkit", total=T), ref, rtol=RTOL, what=spec)


@pytest.mark.parametrize("wsd_style", ["exponential", "linear", "cosine", "minus_sqrt"])
@pytest.mark.parametrize("W, T, D, min_lr", [(10, 100, 20, 0.0), (0, 200, 200, 3e-5), (50, 500, 100, 1e-5),
                                             (5, 40, 38, 0.0)])
def test_wsd(wsd_style, W, T, D, min_lr):
    n = T + 15
    ref, _ = megatron_run(n, init_lr=0.0, max_lr=MAX, min_lr=min_lr, lr_warmup_steps=W, lr_decay_steps=T,
                          lr_decay_style="WSD", wsd_decay_steps=D, lr_wsd_decay_style=wsd_style)
    spec = f"megatron(decay_style='WSD', warmup={W}, floor={min_lr / MAX!r}, wsd_decay={D}, wsd_decay_style={wsd_style!r})"
    for conv in ("lrkit", "hf", "timm"):  # the family counts as Megatron does under every convention
        assert_steps(lrkit_lrs(spec, n, MAX, conv, total=T), ref, rtol=RTOL, what=f"{spec} {conv}")


def test_wsd_exponential_formula():
    """Megatron's exponential annealing coefficient is 2 * 0.5^r - 1: 1 at the start, 0 at the end."""
    s = lrkit.parse("megatron(decay_style='WSD', wsd_decay=100, floor=0.0)")
    assert s(900, 1000) == 1.0 and s(950, 1000) == pytest.approx(2 * 0.5 ** 0.5 - 1) and s(1000, 1000) == 0.0


@pytest.mark.parametrize("style, start, end, T", [(style, *case) for style in ("linear", "cosine") for case in
                                                   [(0.0, 0.1, 100), (0.01, 0.05, 37), (0.1, 0.1, 50)]]
                         + [("constant", 0.1, 0.1, 50)])  # (Megatron asserts start_wd == end_wd for constant)
def test_weight_decay(style, start, end, T):
    n = T + 10
    _, ref = megatron_run(n, init_lr=0.0, max_lr=MAX, min_lr=0.0, lr_warmup_steps=0, lr_decay_steps=T,
                          lr_decay_style="linear", start_wd=start, end_wd=end, wd_incr_steps=T, wd_incr_style=style)
    spec = f"megatron_wd(style={style!r}, start={start / end!r})"
    assert_steps(lrkit_lrs(spec, n, end, "lrkit", total=T), ref, rtol=RTOL, what=spec)


def test_weight_decay_drives_a_torch_optimizer():
    """megatron_wd schedules the weight_decay hyperparameter through lrkit.torch.Scheduler."""
    torch = pytest.importorskip("torch")
    from lrkit.torch import Scheduler

    p = torch.nn.Parameter(torch.zeros(2))
    opt = torch.optim.AdamW([p], lr=1e-3, weight_decay=0.1)
    sched = Scheduler(opt, "constant()", total_steps=100,
                      hyperparams={"weight_decay": "megatron_wd(style='cosine', start=0.0)"})
    seen = []
    for _ in range(101):
        seen.append(opt.param_groups[0]["weight_decay"])
        opt.step()
        sched.step()
    _, ref = megatron_run(101, init_lr=0.0, max_lr=MAX, min_lr=0.0, lr_warmup_steps=0, lr_decay_steps=100,
                          lr_decay_style="linear", start_wd=0.0, end_wd=0.1, wd_incr_steps=100, wd_incr_style="cosine")
    assert_steps(seen, ref, rtol=RTOL, what="weight decay through lrkit.torch.Scheduler")


# ----- cases ported from Megatron's own suite (tests/unit_tests/test_optimizer_param_scheduler.py) -------------

COMMON = dict(init_lr=0.01, max_lr=0.1, min_lr=0.001, lr_warmup_steps=100, lr_decay_steps=1000)


def test_megatron_suite_get_lr_linear():
    """test_get_lr_linear: after 50 steps 0.01 + 0.09 * 50/100; after 500, 0.1 - 0.099 * 400/900; after
    1001, min_lr."""
    s = lrkit.parse("megatron(warmup=100, warmup_init=0.1, floor=0.01)")
    assert s(50, 1000) * 0.1 == pytest.approx(0.01 + (0.1 - 0.01) * (50 / 100), rel=1e-5)
    assert s(500, 1000) * 0.1 == pytest.approx(0.1 - ((0.1 - 0.001) * ((500 - 100) / (1000 - 100))), rel=1e-5)
    assert s(1001, 1000) * 0.1 == pytest.approx(0.001, rel=1e-5)


def test_megatron_suite_get_lr_cosine():
    """test_get_lr_cosine: after 500 steps 0.001 + 0.099 * 0.5 (cos(pi 400/900) + 1)."""
    s = lrkit.parse("megatron(decay_style='cosine', warmup=100, warmup_init=0.1, floor=0.01)")
    expected = 0.001 + (0.1 - 0.001) * 0.5 * (math.cos(math.pi * ((500 - 100) / (1000 - 100))) + 1.0)
    assert s(500, 1000) * 0.1 == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("style, start, end, expected", [
    ("constant", 0.1, 0.1, 0.1),  # test_get_wd_constant
    ("linear", 0.0, 0.1, 0.05),  # test_get_wd_linear
    ("cosine", 0.0, 0.1, 0.05 * (math.cos(math.pi * (1 - 0.5)) + 1.0)),  # test_get_wd_cosine
])
def test_megatron_suite_get_wd(style, start, end, expected):
    """test_get_wd_*: wd_incr_steps=1000, after 500 steps."""
    s = lrkit.parse(f"megatron_wd(style={style!r}, start={start / end!r})")
    assert s(500, 1000) * end == pytest.approx(expected, rel=1e-5)


def test_megatron_suite_step_function():
    """test_step_function: after 100 steps, lr 0.01 + 0.09 * 100/100 and weight decay 0.01 (linear 0 -> 0.1)."""
    assert lrkit.parse("megatron(warmup=100, warmup_init=0.1, floor=0.01)")(100, 1000) * 0.1 == pytest.approx(0.1)
    assert lrkit.parse("megatron_wd(style='linear', start=0.0)")(100, 1000) * 0.1 == pytest.approx(0.01, rel=1e-5)


# ----- the language --------------------------------------------------------------------------------------------

@pytest.mark.parametrize("spec", ["megatron()", "megatron(decay_style='WSD', warmup=0.01, wsd_decay=0.2, floor=0.1)",
                                  "megatron(decay_style='inverse-square-root', warmup=100, warmup_init=0.01)",
                                  "megatron_wd()", "megatron_wd(style='cosine', start=0.0, end=1.0, steps=500)"])
def test_round_trip(spec):
    s = lrkit.parse(spec)
    assert lrkit.parse(str(s)) == s and lrkit.parse(s.to_dict()) == s and str(lrkit.parse(str(s))) == str(s)


def test_styles_read_in_any_case():
    assert lrkit.parse("megatron(decay_style='wsd', wsd_decay=10)") == \
        lrkit.parse("megatron(decay_style='WSD', wsd_decay=10)")


@pytest.mark.parametrize("spec, words", [
    ("megatron(decay_style='polynomial')", "decay_style='polynomial' is not one of"),
    ("megatron(decay_style='WSD')", "needs wsd_decay="),
    ("megatron(wsd_decay=100)", "wsd_decay=100 applies only to decay_style='WSD'"),
    ("megatron(wsd_decay_style='linear')", "wsd_decay_style='linear' applies only to decay_style='WSD'"),
    ("megatron(decay_style='WSD', wsd_decay=10, wsd_decay_style='1-sqrt')", "wsd_decay_style='1-sqrt' is not one of"),
    ("megatron(decay_style='WSD', wsd_decay=0)", "wsd_decay=0 steps is not positive"),
    ("megatron(floor=1.5)", "floor=1.5 is out of range"),
    ("megatron(warmup_init=2.0)", "warmup_init=2.0 is out of range"),
    ("megatron(warmup=-1)", "warmup=-1 steps is negative"),
    ("megatron_wd(style='linear', start=2.0)", "end=1.0 is below start=2.0"),
    ("megatron_wd(start=0.0)", "style='constant' holds the weight decay"),
    ("megatron_wd(style='exp', start=0.0)", "style='exp' is not one of"),
])
def test_bad_arguments_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_warmup_not_shorter_than_the_total_is_refused_at_bind():
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse("megatron(warmup=100)").sample(100)
    assert "Megatron asserts lr_warmup_steps < lr_decay_steps" in str(e.value) and "\n" not in str(e.value)


def test_lint_reports_an_annealing_inside_the_warmup():
    findings = lrkit.lint("megatron(decay_style='WSD', warmup=50, wsd_decay=80)", 100)
    assert any(f.code == "phases-exceed-run" for f in findings)
