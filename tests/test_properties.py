"""Property tests (hypothesis) over random valid specs of every family and random composites.

Invariants: finite, non-negative values on the run and past its end; every round trip (text, dict,
JSON, pickle, hash); vectorised equals scalar evaluation; a sequence's phase starts at its child's
first value; a warmup ramp ends at the value its decay starts from. Each under every convention.
"""

from __future__ import annotations

import json
import math
import os
import pickle

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import lrkit
from lrkit.schedules import PRESETS, REGISTRY
from lrkit.schedules.decaying import Decaying

CONVENTIONS = sorted(PRESETS)
#: More examples for a deeper search: LRKIT_PROPERTY_EXAMPLES=1000 pytest tests/test_properties.py
SETTINGS = settings(max_examples=int(os.environ.get("LRKIT_PROPERTY_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                          HealthCheck.filter_too_much])

# ----- building blocks ---------------------------------------------------------------------------------

fraction = st.floats(0.0, 1.0, allow_subnormal=False)
small_fraction = st.floats(0.0, 0.4, allow_subnormal=False)
unit = st.floats(0.0, 1.0, allow_subnormal=False)
positive = st.floats(0.01, 10.0)
duration = st.one_of(st.integers(0, 300), small_fraction)
positive_duration = st.one_of(st.integers(1, 300), st.floats(0.02, 1.0))
forms = st.sampled_from(["linear", "cosine", "1-sqrt", "square", "exp"])


@st.composite
def warmup_kwargs(draw, allow_none: bool = True) -> dict:
    out = {}
    kind = draw(st.sampled_from(["none", "steps", "fraction", "untuned"] if allow_none else
                                ["steps", "fraction", "untuned"]))
    if kind == "steps":
        out["warmup"] = draw(st.integers(1, 200))
    elif kind == "fraction":
        out["warmup"] = draw(st.floats(0.01, 0.5))
    elif kind == "untuned":
        out["warmup"] = "untuned"
        out["beta2"] = draw(st.floats(0.9, 0.995))
    if kind != "none":
        form = draw(st.sampled_from(["linear", "cosine", "1-sqrt", "sigmoid", "exponential"]))
        out["warmup_form"] = form
        if form == "exponential":
            out["warmup_init"] = draw(st.floats(0.001, 0.5))
        elif draw(st.booleans()):
            out["warmup_init"] = draw(st.floats(0.0, 0.5))
    if draw(st.integers(0, 5)) == 0:
        out["steps"] = draw(st.integers(20, 600))
    return out


def floor_for(form: str):
    return st.floats(0.01, 0.9) if form == "exp" else st.floats(0.0, 0.9)


@st.composite
def sorted_positions(draw, n_min=1, n_max=4):
    """Strictly increasing steps, or fractions on a grid of 1/20 (so they stay distinct for totals >= 40)."""
    if draw(st.booleans()):
        return sorted(draw(st.lists(st.integers(1, 700), min_size=n_min, max_size=n_max, unique=True)))
    return [k / 20 for k in sorted(draw(st.lists(st.integers(1, 19), min_size=n_min, max_size=n_max, unique=True)))]


# ----- one strategy per family -------------------------------------------------------------------------

def _leaf(name, params_strategy):
    return params_strategy.map(lambda kw: REGISTRY[name](**kw))


@st.composite
def _constant(draw):
    return {"value": draw(st.floats(0.0, 2.0)), **draw(warmup_kwargs())}


@st.composite
def _linear(draw):
    return {"end": draw(unit), **draw(warmup_kwargs())}


@st.composite
def _cosine(draw):
    return {"floor": draw(unit), "exponent": draw(st.floats(0.25, 4.0)), **draw(warmup_kwargs())}


@st.composite
def _polynomial(draw):
    return {"power": draw(st.floats(0.1, 5.0)), "floor": draw(unit), **draw(warmup_kwargs())}


@st.composite
def _exponential(draw):
    return {"gamma": draw(st.floats(0.5, 1.0)), "floor": draw(st.floats(0.0, 0.5)), **draw(warmup_kwargs())}


@st.composite
def _step(draw):
    return {"every": draw(st.one_of(st.integers(1, 300), st.floats(0.05, 1.0))), "gamma": draw(st.floats(0.01, 1.0)),
            **draw(warmup_kwargs())}


@st.composite
def _multistep(draw):
    return {"milestones": tuple(draw(sorted_positions())), "gamma": draw(st.floats(0.01, 1.0)), **draw(warmup_kwargs())}


@st.composite
def _inverse_sqrt(draw):
    return {"timescale": draw(st.one_of(st.none(), st.integers(1, 5000))), **draw(warmup_kwargs())}


@st.composite
def _rex(draw):
    return {"floor": draw(unit), "beta": draw(st.floats(0.0, 0.99)), **draw(warmup_kwargs())}


@st.composite
def _uba(draw):
    return {"phi": draw(st.floats(0.05, 5.0)), "floor": draw(unit), **draw(warmup_kwargs())}


@st.composite
def _wsd(draw):
    form = draw(forms)
    out = {"decay": draw(duration), "form": form, "floor": draw(floor_for(form)), **draw(warmup_kwargs())}
    if form == "exp" and draw(st.booleans()):
        out["half_life"] = draw(st.integers(1, 200))
        out["floor"] = draw(st.floats(0.0, 0.5))
    return out


@st.composite
def _power(draw):
    form = draw(forms)
    return {"a": draw(st.floats(0.001, 10.0)), "b": draw(st.floats(-1.0, -0.05)),
            "batch_size": draw(st.floats(1.0, 4096.0)), "tokens_per_step": draw(st.floats(1.0, 1e7)),
            "lr_max": draw(st.floats(1e-4, 0.1)), "decay": draw(duration), "form": form,
            "floor": draw(floor_for(form)), **draw(warmup_kwargs())}


@st.composite
def _infinite(draw):
    const = draw(st.floats(0.01, 1.0))
    return {"cooldown": draw(duration), "constant_lr": const, "anneal": draw(duration),
            "min_lr": draw(st.floats(0.001, 1.0)), "cooldown_form": draw(st.sampled_from(["cosine", "inverse_sqrt"])),
            "timescale": draw(st.floats(0.1, 100.0)), **draw(warmup_kwargs())}


@st.composite
def _onecycle(draw):
    three = draw(st.booleans())
    return {"pct_start": draw(st.floats(0.05, 0.45 if three else 0.95)), "div_factor": draw(st.floats(1.0, 100.0)),
            "final_div_factor": draw(st.floats(1.0, 1e5)), "anneal": draw(st.sampled_from(["cos", "linear"])),
            "three_phase": three}


@st.composite
def _cyclic(draw):
    out = {"base": draw(unit), "max": draw(st.floats(0.0, 2.0)), "up": draw(positive_duration),
           "mode": draw(st.sampled_from(["triangular", "triangular2", "exp_range"])), "gamma": draw(st.floats(0.9, 1.0))}
    if draw(st.booleans()):
        out["down"] = draw(positive_duration)
    return out


@st.composite
def _sgdr(draw):
    return {"period": draw(st.one_of(st.integers(1, 300), st.floats(0.05, 1.0))), "mult": draw(st.integers(1, 3)),
            "floor": draw(unit), "peak_decay": draw(st.floats(0.1, 1.0)), **draw(warmup_kwargs())}


@st.composite
def _piecewise(draw):
    xs = draw(sorted_positions(1, 5))
    if draw(st.booleans()):  # a jump: two points at the same position
        xs = sorted(xs + [xs[len(xs) // 2]])
    return {"points": tuple((x, draw(st.floats(0.0, 1.5))) for x in xs), **draw(warmup_kwargs())}


@st.composite
def _plateau(draw):
    return {"factor": draw(st.floats(0.05, 0.95)), "min": draw(st.floats(0.0, 0.5)),
            "reductions": tuple(sorted(draw(st.lists(st.integers(0, 400), max_size=4)))), **draw(warmup_kwargs())}


@st.composite
def _warmup(draw):
    form = draw(st.sampled_from(["linear", "exponential", "untuned", "untuned_exponential", "radam"]))
    out = {"form": form, "beta2": draw(st.floats(0.61, 0.999))}
    if form in ("linear", "exponential"):
        out["period"] = draw(st.integers(1, 300))
    return out


@st.composite
def _timm_cycles(draw):
    return {"floor": draw(st.floats(0.0, 0.5)), "cycle_mul": draw(st.sampled_from([1.0, 0.5, 1.5, 2.0])),
            "cycle_decay": draw(st.floats(0.1, 1.0)), "cycle_limit": draw(st.integers(1, 4)), **draw(warmup_kwargs())}


@st.composite
def _tanh(draw):
    # lb <= -4: timm's prefix warmup climbs to the base LR (1.0), not to the tanh's first value
    # (1 - tanh(lb))/2, and stays below it only while that value is within 1/W of 1 (see Tanh's docstring)
    lb = draw(st.floats(-10.0, -4.0))
    return {"lb": lb, "ub": draw(st.floats(lb + 0.5, 8.0)), **draw(_timm_cycles())}


@st.composite
def _kdecay(draw):
    form = draw(st.sampled_from(["cosine", "polynomial"]))
    out = {"form": form, "k": draw(st.floats(0.2, 4.0)), **draw(_timm_cycles())}
    if form == "polynomial":
        out["power"] = draw(st.floats(0.1, 4.0))
    return out


@st.composite
def _cosine_waves(draw):
    return {"waves": draw(st.floats(0.1, 4.0)), "floor": draw(unit), **draw(warmup_kwargs())}


@st.composite
def _cosine_restarts(draw):
    return {"cycles": draw(st.floats(0.3, 6.0)), "floor": draw(unit), **draw(warmup_kwargs())}


@st.composite
def _own_sizes(draw, positive: bool = False) -> dict:
    """``warmup`` and ``steps`` of the framework families (their own arithmetic, not a convention's)."""
    out = {"warmup": draw(st.one_of(st.integers(1 if positive else 0, 200), st.floats(0.01 if positive else 0.0,
                                                                                      0.5)))}
    if draw(st.integers(0, 4)) == 0:
        out["steps"] = draw(st.integers(20, 600))
    return out


@st.composite
def _megatron(draw):
    style = draw(st.sampled_from(["constant", "linear", "cosine", "inverse-square-root", "WSD"]))
    out = {"decay_style": style, "warmup_init": draw(unit), "floor": draw(unit), **draw(_own_sizes())}
    if style == "WSD":
        out["wsd_decay"] = draw(positive_duration)
        out["wsd_decay_style"] = draw(st.sampled_from(["exponential", "linear", "cosine", "minus_sqrt"]))
    return out


@st.composite
def _megatron_wd(draw):
    style = draw(st.sampled_from(["constant", "linear", "cosine"]))
    end = draw(st.floats(0.0, 2.0))
    out = {"style": style, "start": end if style == "constant" else draw(st.floats(0.0, end)), "end": end}
    if draw(st.booleans()):
        out["steps"] = draw(st.integers(1, 600))
    return out


@st.composite
def _torchtitan(draw):
    return {"decay_ratio": draw(st.one_of(st.none(), unit)), "decay_type": draw(st.sampled_from(["linear", "sqrt",
                                                                                                 "cosine"])),
            "floor": draw(unit), **draw(_own_sizes())}


@st.composite
def _cosine_lr_rate(draw):
    return {"waves": draw(st.floats(0.1, 3.0)), "floor": draw(unit),
            "warmup_lr_rate": draw(st.one_of(st.none(), unit)), **draw(_own_sizes())}


@st.composite
def _deepspeed(draw, cosine: bool = False):
    out = {"warmup_type": draw(st.sampled_from(["log", "linear"])), "warmup_init": draw(unit),
           **draw(_own_sizes(positive=True))}
    if cosine:
        out["floor"] = draw(unit)
    return out


LEAVES = {
    "constant": _constant(), "linear": _linear(), "cosine": _cosine(), "polynomial": _polynomial(),
    "exponential": _exponential(), "step": _step(), "multistep": _multistep(), "inverse_sqrt": _inverse_sqrt(),
    "rex": _rex(), "uba": _uba(), "wsd": _wsd(), "power": _power(), "infinite": _infinite(),
    "onecycle": _onecycle(), "cyclic": _cyclic(), "sgdr": _sgdr(), "piecewise": _piecewise(), "warmup": _warmup(),
    "plateau": _plateau(),
    "tanh": _tanh(), "kdecay": _kdecay(), "cosine_waves": _cosine_waves(), "cosine_restarts": _cosine_restarts(),
    "megatron": _megatron(), "megatron_wd": _megatron_wd(), "torchtitan": _torchtitan(),
    "cosine_lr_rate": _cosine_lr_rate(), "deepspeed_warmup": _deepspeed(), "deepspeed_warmup_decay": _deepspeed(),
    "deepspeed_warmup_cosine": _deepspeed(cosine=True),
}
leaf = st.one_of([_leaf(name, s) for name, s in LEAVES.items()])


def _composites(children):
    @st.composite
    def sequence(draw):
        n = draw(st.integers(2, 3))
        bounds = draw(sorted_positions(n - 1, n - 1))
        return lrkit.schedules.Sequence(schedules=tuple(draw(children) for _ in range(n)), boundaries=tuple(bounds))

    @st.composite
    def product(draw):
        return lrkit.schedules.Product(factors=tuple(draw(st.lists(children, min_size=2, max_size=3))))

    @st.composite
    def clamp(draw):
        lo = draw(st.floats(0.0, 0.5))
        hi = draw(st.one_of(st.just(math.inf), st.floats(max(lo, 0.01), 2.0)))
        return lrkit.schedules.Clamp(schedule=draw(children), floor=lo, ceiling=hi)

    @st.composite
    def repeat(draw):
        return lrkit.schedules.Repeat(schedule=draw(children), every=draw(st.one_of(st.integers(1, 300),
                                                                                  st.floats(0.05, 1.0))),
                                      times=draw(st.one_of(st.none(), st.integers(1, 5))))

    @st.composite
    def rewarm(draw):
        kw = draw(warmup_kwargs(allow_none=False))
        kw.pop("warmup_init", None)
        if kw.get("warmup_form") == "exponential":
            kw["from_lr"] = draw(st.floats(0.01, 1.0))
        else:
            kw["from_lr"] = draw(st.floats(0.0, 1.0))
        return lrkit.schedules.Rewarm(to=draw(st.floats(0.05, 2.0)), then=draw(children), **kw)

    @st.composite
    def cooldown(draw):
        form = draw(forms)
        return REGISTRY["cooldown"](schedule=draw(children), at=draw(st.integers(0, 500)),
                                    decay=draw(st.integers(1, 300)), form=form, floor=draw(floor_for(form)))

    @st.composite
    def under(draw):
        return REGISTRY["under"](schedule=draw(children), convention=draw(st.sampled_from(sorted(PRESETS))))

    out = {"sequence": sequence(), "product": product(), "clamp": clamp(), "repeat": repeat(), "rewarm": rewarm()}
    if "cooldown" in REGISTRY:
        out["cooldown"] = cooldown()
    if "under" in REGISTRY:
        out["under"] = under()
    return out


COMPOSITES = _composites(leaf)


@st.composite
def _noise(draw):
    """timm's LR noise around a leaf (not nested deeper: each noisy step costs a torch generator draw)."""
    form = draw(st.sampled_from(["normal", "uniform"]))
    return REGISTRY["noise"](schedule=draw(leaf), range=draw(st.sampled_from([(0,), (0.5,), (10, 200), (0.2, 0.8)])),
                             pct=draw(st.floats(0.05, 1.0)), std=draw(st.floats(0.05, 2.0)) if form == "normal" else 1.0,
                             seed=draw(st.integers(0, 10_000)), form=form)


COMPOSITES["noise"] = _noise()
schedules = st.recursive(leaf, lambda children: st.one_of(list(_composites(children).values())), max_leaves=5)
any_family = st.one_of(leaf, *COMPOSITES.values(), schedules)
totals = st.integers(40, 400)


def bind_or_reject(s, total, conv):
    """The bound schedule; a spec whose fractions clash for this total raises SpecError (one line) at bind."""
    try:
        return s.bind(total, conv)
    except lrkit.SpecError as e:
        assert "\n" not in str(e)
        assume(False)


# ----- coverage ----------------------------------------------------------------------------------------

def test_strategies_cover_every_registered_family():
    covered = set(LEAVES) | set(COMPOSITES)
    assert covered == set(REGISTRY), f"families without a strategy: {set(REGISTRY) - covered}"


@pytest.mark.parametrize("name", sorted(set(LEAVES) | set(COMPOSITES)))
def test_each_strategy_builds_its_family(name):
    strategy = _leaf(name, LEAVES[name]) if name in LEAVES else COMPOSITES[name]
    seen = []

    @settings(max_examples=5, deadline=None, database=None)
    @given(strategy)
    def build(s):
        seen.append(s.family)

    build()
    assert seen and set(seen) == {name}


# ----- the properties ----------------------------------------------------------------------------------

@SETTINGS
@given(any_family, totals, st.sampled_from(CONVENTIONS))
def test_finite_and_non_negative_on_the_run_and_past_its_end(s, total, conv):
    b = bind_or_reject(s, total, conv)
    values = b(np.arange(total + total // 4 + 10))
    assert values.shape == (total + total // 4 + 10,)
    assert np.all(np.isfinite(values)), str(s)
    assert np.all(values >= 0.0), (str(s), float(values.min()))


@SETTINGS
@given(any_family)
def test_round_trips(s):
    text = str(s)
    assert lrkit.parse(text) == s
    assert str(lrkit.parse(text)) == text
    d = s.to_dict()
    assert lrkit.parse(d) == s
    assert lrkit.parse(json.dumps(d)) == s
    assert json.loads(json.dumps(d)) == d
    assert hash(lrkit.parse(text)) == hash(s)
    again = pickle.loads(pickle.dumps(s))
    assert again == s and hash(again) == hash(s) and str(again) == text
    assert eval(repr(s), {"lrkit": lrkit}) == s  # repr is lrkit.parse('<spec>')


@SETTINGS
@given(any_family, totals, st.sampled_from(CONVENTIONS))
def test_vectorised_equals_scalar(s, total, conv):
    bind_or_reject(s, total, conv)
    steps = list(range(total)) + [total, total + 1, total + 7, 2 * total]
    vector = s(np.asarray(steps), total, convention=conv)
    scalar = np.array([s(t, total, convention=conv) for t in steps])
    np.testing.assert_allclose(vector, scalar, rtol=1e-12, atol=1e-300, err_msg=str(s))
    np.testing.assert_allclose(s.sample(total, conv), scalar[:total], rtol=1e-12, atol=1e-300)
    bound = s.bind(total, conv)
    assert all(math.isclose(bound(t), x, rel_tol=1e-12, abs_tol=1e-300) for t, x in zip(steps, scalar))


@SETTINGS
@given(_composites(schedules)["sequence"], totals, st.sampled_from(CONVENTIONS))
def test_sequence_phase_starts_at_its_childs_first_value(s, total, conv):
    starts = bind_or_reject(s, total, conv) and s.starts(total)
    ends = starts[1:] + [total]
    for child, a, b in zip(s.schedules, starts, ends):
        length = max(b - a, 1)
        expected = child(0, length, convention=conv)
        assert math.isclose(s(a, total, convention=conv), expected, rel_tol=1e-12, abs_tol=1e-300), (str(s), a)
        if b - a > 1:  # and the phase runs on the child's own clock
            mid = (b - a) // 2
            assert math.isclose(s(a + mid, total, convention=conv), child(mid, length, convention=conv),
                                rel_tol=1e-12, abs_tol=1e-300)


decaying_with_warmup = st.one_of([
    _leaf(name, strategy.filter(lambda kw: kw.get("warmup", 0) not in (0, 0.0)))
    for name, strategy in LEAVES.items() if issubclass(REGISTRY[name], Decaying)
])


@SETTINGS
@given(decaying_with_warmup, totals)
def test_warmup_reaches_the_value_the_decay_starts_from(s, total):
    bind_or_reject(s, total, "lrkit")
    W = s.warmup_steps(total)
    assume(W >= 1)
    # lrkit's convention: the ramp's last step (W-1) is already at the decay's first value (step W)
    peak = s(W, total)
    assert math.isclose(s(W - 1, total), peak, rel_tol=1e-9, abs_tol=1e-12), str(s)
    # and the ramp stays between where it starts and where it ends, under every convention
    for conv in CONVENTIONS:
        start, top = s.ramp_start(conv), s(W, total, convention=conv) if PRESETS[conv].placement != "replace" else None
        ramp = s(np.arange(W), total, convention=conv)
        if top is not None:
            lo, hi = min(start, top), max(start, top)
            assert np.all(ramp >= lo - 1e-12) and np.all(ramp <= hi + 1e-12), (str(s), conv)
    # offset 0 (hf, torch, optax, timm) starts at warmup_init exactly (hf's wsd at its floor, as transformers'
    # get_wsd_schedule, unless warmup_init is set: ramp_start says which); lrkit one step later
    assert all(s.ramp_start(conv) == s.warmup_init for conv in ("torch", "optax", "timm"))
    for conv in ("hf", "torch", "optax", "timm"):
        assert math.isclose(s(0, total, convention=conv), s.ramp_start(conv), abs_tol=1e-12), (str(s), conv)
    if s.warmup_form == "linear" and W > 1:
        assert math.isclose(s(0, total), s.warmup_init + (peak - s.warmup_init) / W, rel_tol=1e-9, abs_tol=1e-12)


@SETTINGS
@given(any_family, totals, st.sampled_from(CONVENTIONS))
def test_phases_tile_the_run_from_step_zero(s, total, conv):
    bind_or_reject(s, total, conv)
    phases = s.phases(total, conv)
    assert phases and phases[0].start == 0
    for p in phases:
        assert p.start >= 0 and (p.end is None or p.end >= p.start) and p.label


@SETTINGS
@given(any_family, totals)
def test_lint_never_raises_on_a_valid_schedule(s, total):
    bind_or_reject(s, total, None)
    findings = lrkit.lint(s, total)
    assert all(f.code and f.message and "\n" not in f.message for f in findings)
