"""Bad input to the adaptive methods: one clear error line (or a note), never a raw traceback, a hang or a
silent fallback."""

from __future__ import annotations

import math
import signal
import warnings

import numpy as np
import pytest

import lrkit
from lrkit.adaptive.refine import refine, refine_run
from lrkit.runs import RunError


def _main(capsys, *args):
    from lrkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _one_line(e) -> str:
    msg = str(e.value)
    assert "\n" not in msg
    return msg


# ------------------------------------------------------------------------------------------------ refine
def test_tolerance_zero_that_needs_too_many_knots_ends_with_a_note():
    def hang(*_):
        raise TimeoutError("refine(tolerance=0) did not return")

    old = signal.signal(signal.SIGALRM, hang)
    signal.alarm(30)  # it used to loop forever (0 * 1.5 == 0)
    try:
        r = refine(np.random.default_rng(0).uniform(1, 2, 100), 1000, tolerance=0)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
    assert len(r.schedule.points) <= 64 and any("more than tolerance=0" in n for n in r.notes)


@pytest.mark.parametrize("scale", [1e-200, 1e-160, 1e160, 1e200])
def test_tiny_or_huge_norms_do_not_overflow(scale):
    r = refine(np.full(100, scale), 50, "sgd")
    assert r.schedule.points == ((0, 1.0), (50, 0.0))


@pytest.mark.parametrize("norms, msg", [
    ("abc", "not a sequence of numbers"), (["1", "2", "3"], "not a sequence of numbers"),
    ({"a": 1}, "not a sequence of numbers"), (None, "not a sequence of numbers"),
    (np.ones(5) * 1j, "not a sequence of numbers"), (np.ones((10, 2)), "shape (10, 2)"), (3.0, "shape ()"),
    ([1.0, 2.0, 0.0, 3.0], "norms[2]=0.0 is not positive"),
])
def test_bad_norms_are_one_line(norms, msg):
    with pytest.raises(lrkit.SpecError) as e:
        refine(norms, 10)
    assert msg in _one_line(e)


@pytest.mark.parametrize("digits", [-1, 0, 1.5, float("nan")])
def test_bad_digits_are_refused(digits):
    with pytest.raises(lrkit.SpecError, match="digits="):
        refine(np.ones(10), 10, digits=digits)


def test_left_out_norms_and_a_loosened_tolerance_are_noted():
    r = refine(np.r_[np.ones(50), np.nan, np.inf, np.ones(50)], 100)
    assert r.notes == ("left out 2 non-finite gradient norms of 102",)
    g = np.exp(np.random.default_rng(0).normal(0, 2, 228))
    r = refine(g, 100, "sgd", width=0.0)  # needs more than 64 knots for 0.005: loosened, fewer than 64 kept
    gap = np.max(np.abs(r.schedule.sample(100) - r.values))
    assert gap > 0.005 and any(f"within {gap:.3g}" in n for n in r.notes)


def _csv(path, header, rows):
    path.write_text(header + "\n" + "".join(",".join(map(str, r)) + "\n" for r in rows))
    return path


def test_negative_norms_in_a_run_are_an_error_zero_and_inf_a_note(tmp_path):
    bad = _csv(tmp_path / "neg.csv", "step,loss,grad_norm", [(t, 1, -1 if t == 4 else 1) for t in range(10)])
    with pytest.raises(RunError) as e:
        refine_run(bad, 10)
    assert "step 4" in _one_line(e) and "negative" in str(e.value)
    ok = _csv(tmp_path / "zero.csv", "step,loss,grad_norm", [(t, 1, {2: 0, 5: "inf"}.get(t, 1)) for t in range(10)])
    assert refine_run(ok, 10).notes == ("left out 2 zero or infinite gradient norms (steps 2, 5)",)


def test_adam_reads_the_l1_column_of_a_norms_only_file_without_a_wrong_note(tmp_path):
    path = _csv(tmp_path / "n.csv", "step,grad_norm,grad_norm_l1", [(t, 1 + t, 5) for t in range(20)])
    r = refine_run(path, 10, "adam")
    assert r.notes == () and r.schedule.points == ((0, 1.0), (10, 0.0))


@pytest.mark.parametrize("steps, msg", [
    ([1, 0, 2, 3], "row 3, column 'step': step 0 comes after step 1"),
    ([0, 1, 1, 2], "row 4, column 'step': step 1 appears again"),
    ([0, 0.5, 1, 2], "row 3, column 'step': step 0.5 is not a non-negative integer"),
    ([0, "nan", 1, 2], "row 3, column 'step': step nan is not"),
    ([-1, 0, 1, 2], "row 2, column 'step': step -1.0 is not"),
])
def test_norms_only_files_get_the_loaders_step_checks(tmp_path, steps, msg):
    path = _csv(tmp_path / "n.csv", "step,grad_norm", [(s, 1.0) for s in steps])
    with pytest.raises(RunError) as e:
        refine_run(path, 10)
    assert msg in _one_line(e)


def test_an_unknown_column_role_is_refused(tmp_path):
    path = _csv(tmp_path / "r.csv", "step,loss,grad_norm", [(t, 1, 1) for t in range(5)])
    with pytest.raises(lrkit.SpecError, match="column role 'gradnorm'.*did you mean 'grad_norm'"):
        refine_run(path, 10, columns={"gradnorm": "grad_norm"})


def test_grad_norm_logger_files_with_a_nan_gradient_still_refine(tmp_path):
    torch = pytest.importorskip("torch")
    from lrkit.adaptive.refine import GradNormLogger

    p = torch.nn.Parameter(torch.ones(3))
    opt = torch.optim.SGD([p], lr=0.0)
    log = GradNormLogger(opt)
    for t in range(8):
        opt.zero_grad()
        (p * (float("nan") if t == 3 else 1.0)).sum().backward()
        opt.step()
    log.write_csv(tmp_path / "log.csv")
    r = refine_run(tmp_path / "log.csv", 20)  # used to fail: the loader refuses a 'nan' cell
    assert r.schedule.points == ((0, 1.0), (20, 0.0))


@pytest.mark.parametrize("args, code, msg", [
    (["--lr", "inf"], 2, "--lr: must be a positive finite number"),
    (["--warmup", "1.0"], 2, "warmup=1.0 is 10 steps"),  # a float is a fraction, as in a spec
    (["--warmup", "x"], 2, "'x' is not a number of steps"),
    (["--warmup", "-1"], 2, "warmup=-1 steps is negative"),
    (["--lr", "0.1"], 0, "note: --lr only scales --format csv"),
    (["--column", "bogus=grad_norm"], 2, "'bogus' is not a role"),
])
def test_cli_flags(tmp_path, capsys, args, code, msg):
    path = _csv(tmp_path / "r.csv", "step,loss,grad_norm", [(t, 1, 1 + t) for t in range(30)])
    rc, out, err = _main(capsys, "refine", str(path), "--steps", "10", *args)
    assert rc == code and msg in err and err.count("\n") == 1, err


def test_cli_warmup_steps_and_fraction(tmp_path, capsys):
    path = _csv(tmp_path / "r.csv", "step,loss,grad_norm", [(t, 1, 2) for t in range(30)])
    for flag, spec in (("3", "linear(warmup=3)"), ("0.3", "linear(warmup=0.3)")):
        rc, out, _ = _main(capsys, "refine", str(path), "--steps", "10", "--warmup", flag)
        assert rc == 0
        np.testing.assert_allclose(lrkit.parse(out.strip()).sample(10), lrkit.parse(spec).sample(10), atol=1e-12)


# ------------------------------------------------------------------------------------------------ hypergradient
torch = pytest.importorskip("torch")


def _opt(lr=0.1, cls=None):
    p = torch.nn.Parameter(torch.ones(3))
    return p, (cls or torch.optim.SGD)([p], lr=lr)


@pytest.mark.parametrize("kwargs, lr, msg", [
    (dict(lr_min=1.0, lr_max=0.5), 0.7, "lr_min=1.0 is above lr_max=0.5"),
    (dict(lr_min=0.5), 0.1, "lr=0.1, outside [lr_min, lr_max]"),
    (dict(), 0.0, "lr=0.0; expected a positive finite"),
    (dict(), float("nan"), "lr=nan"),
    (dict(beta=1.5, mode="multiplicative"), 0.1, "beta=1.5 is out of range; expected a number in [0, 1)"),
    (dict(total_steps=-1), 0.1, "total_steps=-1 is negative"),
    (dict(schedule="plateau()"), 0.1, "plateau(...) phase"),
])
def test_hypergradient_bad_settings(kwargs, lr, msg):
    from lrkit.adaptive.hypergradient import HypergradientLR

    with pytest.raises(lrkit.SpecError) as e:
        HypergradientLR(_opt(lr)[1], **kwargs)
    assert msg in _one_line(e)


@pytest.mark.parametrize("mode", ["additive", "multiplicative"])
def test_a_nan_gradient_keeps_the_lr_finite(mode):
    from lrkit.adaptive.hypergradient import HypergradientLR

    p, opt = _opt()
    hd = HypergradientLR(opt, beta=0.01, mode=mode)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        for t in range(4):
            opt.zero_grad()
            (p ** 2).sum().backward()
            if t == 1:
                p.grad.fill_(float("nan"))
            opt.step()
    assert all(math.isfinite(x) for x in hd.lrs) and hd.skipped >= 1
    assert any("not finite" in str(x.message) for x in w)


def test_hypergradient_load_state_dict_checks():
    from lrkit.adaptive.hypergradient import HypergradientLR

    hd = HypergradientLR(_opt()[1], beta=0.01)
    with pytest.raises(lrkit.SpecError, match="the state has no 'lrs'"):
        hd.load_state_dict({})
    other = HypergradientLR(_opt()[1], beta=0.02, mode="multiplicative").state_dict()
    with pytest.raises(lrkit.SpecError, match="saved with mode='multiplicative'"):
        hd.load_state_dict(other)
    with pytest.raises(lrkit.SpecError, match="not all finite"):
        hd.load_state_dict({**hd.state_dict(), "lrs": [float("nan")]})


# ------------------------------------------------------------------------------------------------ FedHyper
def test_fedhyper_bad_input():
    from lrkit.adaptive.fedhyper import FedHyperState, fedhyper_client_lr, fedhyper_round

    x, c = np.zeros(3), np.ones((2, 3))
    _, s = fedhyper_round(x, c)
    cases = [
        (lambda: fedhyper_round(x, np.array([[1, np.nan, 1], [1, 1, 1.0]]), s), "client 0 has NaN or infinite"),
        (lambda: fedhyper_round(np.zeros((3, 1)), c), "x has shape (3, 1)"),
        (lambda: fedhyper_round(x, [np.ones(3), np.ones(2)]), "clients is not an array of numbers"),
        (lambda: fedhyper_round(x, c, weights=[np.inf, 1]), "weights=[inf, 1.0]"),
        (lambda: fedhyper_round(x, c, weights=3), "weights=3.0"),
        (lambda: fedhyper_round(x, c, state={"agg": 0}), "state is a dict"),
        (lambda: fedhyper_round(x, c, state=FedHyperState(agg=0.0, last=np.ones(5))), "state.last has shape (5,)"),
        (lambda: fedhyper_round(x, c, state=FedHyperState(agg=float("nan"), last=np.ones(3))), "state.agg=nan"),
        (lambda: fedhyper_client_lr(float("nan"), s), "lr=nan"),
        (lambda: fedhyper_client_lr(0.05, s, lo=1, hi=0.1), "lo=1.0 is above hi=0.1"),
        (lambda: fedhyper_client_lr(0.05, None), "state is a NoneType"),
    ]
    for call, msg in cases:
        with pytest.raises(lrkit.SpecError) as e:
            call()
        assert msg in _one_line(e)


# ------------------------------------------------------------------------------------------------ AutoLRS
def _autolrs(**kw):
    from lrkit.adaptive.autolrs import AutoLRS

    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    return AutoLRS(model, opt, **{"min_lr": 1e-3, "max_lr": 1e-1, "tau": 10, "k": 2, **kw})


@pytest.mark.parametrize("kwargs, msg", [
    (dict(seed=-1), "seed=-1 is out of range"), (dict(seed=1.5), "seed=1.5 is not an integer"),
    (dict(warmup_steps=3, warmup_lr=0), "warmup_lr=0 is out of range"),
    (dict(tau_probe=20), "tau_probe=20 is longer than the stage it forecasts, tau=10"),
    (dict(tau=2), "tau_probe=3 (the default, max(tau // 10, 3)) is longer"),
    (dict(total_steps=5), "total_steps=5 cannot hold the first search"),
    (dict(log="/nonexistent-dir/autolrs.jsonl"), "cannot be written"),
    (dict(val_fn=3), "val_fn=3 is not callable"),
])
def test_autolrs_bad_settings(kwargs, msg):
    with pytest.raises(lrkit.SpecError) as e:
        _autolrs(**kwargs)
    assert msg in _one_line(e)


def test_autolrs_large_seed_and_bad_losses():
    ctl = _autolrs(seed=2**40)  # the BO's random state wraps instead of failing in numpy
    for bad in (None, "x", torch.tensor([1.0, 2.0])):
        with pytest.raises(lrkit.SpecError, match="loss=.* is not a number"):
            ctl.step(bad)
    ctl = _autolrs(tau_probe=3, tau_max=10, val_fn=lambda: None)
    with pytest.raises(lrkit.SpecError, match=r"val_fn\(\)=None is not a number"):
        for t in range(200):
            ctl.step(1.0 / (1 + t))
    with pytest.raises(lrkit.SpecError, match="the state has no 'step_count'"):
        _autolrs().load_state_dict({})
    from lrkit.adaptive.autolrs import fit_exponential

    with pytest.raises(lrkit.SpecError, match="NaN or infinite"):
        fit_exponential([1.0, np.nan, 0.5, 0.4])


def test_a_stage_whose_probes_all_diverge_takes_the_smallest_lr_and_says_so():
    ctl = _autolrs(tau_probe=3)
    with pytest.warns(RuntimeWarning, match="every probe of stage 0 diverged"):
        ctl.step(float("nan"))
        ctl.step(float("nan"))
    d = ctl.decisions[-1]
    assert d["lr"] == min(p["lr"] for p in d["probes"]) and "every probe diverged" in d["note"]


# ------------------------------------------------------------------------------------------------ plateau
@pytest.mark.parametrize("metric", [float("nan"), float("inf"), -float("inf")])
def test_a_non_finite_metric_is_refused_and_changes_nothing(metric):
    from lrkit.adaptive import PlateauController

    ctl = PlateauController("plateau(patience=0)")
    ctl.observe(1.0, 0)
    before = ctl.state_dict()
    with pytest.raises(lrkit.SpecError) as e:
        ctl.observe(metric, 1)  # torch would count NaN as a bad epoch and cut the LR
    assert "is not finite" in _one_line(e) and ctl.state_dict() == before


@pytest.mark.parametrize("call, msg", [
    (lambda c: c.observe(np.array([1.0, 2.0]), 0), "metrics has shape (2,)"),
    (lambda c: c.observe(1.0, float("nan")), "step=nan is not finite"),
    (lambda c: c.observe(1.0, float("inf")), "step=inf is not finite"),
    (lambda c: c.observe(1.0, -1), "step=-1 is out of range"),
    (lambda c: c.observe(1.0, "x"), "step='x' is not a number"),
    (lambda c: c.load_state_dict({}), "the state has no 'reductions'"),
    (lambda c: c.load_state_dict({"reductions": [], "best": float("nan"), "num_bad": 0, "cooldown_left": 0}),
     "best=nan"),
    (lambda c: c.load_state_dict({"reductions": [], "best": 1.0, "num_bad": -3, "cooldown_left": 0}), "num_bad=-3"),
])
def test_plateau_controller_bad_observations_and_states(call, msg):
    from lrkit.adaptive import PlateauController

    ctl = PlateauController("plateau(patience=1)")
    before = ctl.state_dict()
    with pytest.raises(lrkit.SpecError) as e:
        call(ctl)
    assert msg in _one_line(e) and ctl.state_dict() == before


@pytest.mark.parametrize("args, msg", [
    (("plateau()",), None), (("plateau()", -3), "total=-3 is negative"), ((3,), "schedules=3 is not a schedule"),
    (([],), "no schedules given"), (("plateau(threshold=1.0)",), "threshold=1 with threshold_mode='rel'"),
])
def test_plateau_controller_bad_construction(args, msg):
    from lrkit.adaptive import PlateauController

    if msg is None:
        PlateauController(*args)
        return
    with pytest.raises(lrkit.SpecError) as e:
        PlateauController(*args)
    assert msg in _one_line(e)
