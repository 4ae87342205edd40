"""``lrkit.torch.find_lr``: the LR range test on problems whose good LR is known, exact state restoration,
the suggestions as fastai and Lightning compute them, bad arguments in one line."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest

import lrkit
from lrkit.integrations import lr_range

torch = pytest.importorskip("torch")
from lrkit.torch import LRRangeResult, find_lr  # noqa: E402


def quadratic(a: float = 2.8, n: int = 64, seed: int = 0):
    """Least squares in one weight: L(w) = mean((x w - y)^2) has curvature a = 2 mean(x^2); gradient descent
    shrinks the loss iff lr < 2 / a (the loss is multiplied by (1 - lr a)^2 each step), fastest at lr = 1/a."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 1, generator=g, dtype=torch.float64)
    x = x * math.sqrt(a / 2 / float((x ** 2).mean()))
    y = 3.0 * x
    model = torch.nn.Linear(1, 1, bias=False).double()
    torch.nn.init.zeros_(model.weight)
    return model, (lambda: torch.nn.functional.mse_loss(model(x), y)), a


def test_the_loss_turns_up_exactly_where_gradient_descent_becomes_unstable():
    model, closure, a = quadratic()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    r = find_lr(model, opt, closure, start_lr=1e-3, end_lr=100.0, steps=100, smooth=0.0, suggestion="minimum",
                diverge=None)
    m = int(np.argmin(r.raw_losses))  # the loss at step i comes after the update at lr[i-1]
    assert r.lrs[m - 1] < 2 / a <= r.lrs[m]
    assert m < len(r.lrs) - 5  # inside fastai's curve, which leaves out the last 5 points
    assert r.suggestion == pytest.approx(r.lrs[m] / 10)  # fastai's minimum: a tenth of the LR at the lowest loss
    assert 0.01 / a < r.suggest("valley") < 2 / a  # the valley sits in the stable range, below the edge
    stop = find_lr(model, opt, closure, start_lr=1e-3, end_lr=100.0, steps=100, smooth=0.0)
    assert stop.stopped.startswith("diverged") and len(stop.lrs) <= m + 8  # 4x the best loss: soon after the edge


@pytest.mark.parametrize("smooth", [0.0, 0.98])
def test_the_suggestion_is_a_stable_lr(smooth):
    model, closure, a = quadratic(a=0.5)
    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=1.0), closure, start_lr=1e-3, end_lr=1e3, steps=150,
                smooth=smooth)
    for method in ("valley", "steep", "minimum"):
        assert 0 < r.suggest(method) < 2 / a, method


def test_linear_ramp_and_ramp_endpoints():
    np.testing.assert_allclose(lr_range.ramp(1e-4, 1.0, 5, "exp"), [1e-4, 1e-3, 1e-2, 1e-1, 1.0], rtol=1e-12)
    np.testing.assert_allclose(lr_range.ramp(0.1, 0.5, 5, "linear"), [0.1, 0.2, 0.3, 0.4, 0.5], rtol=1e-12)
    model, closure, _ = quadratic()
    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), closure, start_lr=0.01, end_lr=0.2, steps=20,
                mode="linear", diverge=None)
    assert r.stopped == "steps" and len(r.lrs) == 20
    np.testing.assert_allclose(r.lrs, np.linspace(0.01, 0.2, 20))


def _snapshot(model, opt):
    return ({k: t.clone() for k, t in model.state_dict().items()},
            [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            copy.deepcopy(opt.state_dict()), [m.training for m in model.modules()])


def _same_optimizer_state(a, b):
    assert a["param_groups"] == b["param_groups"]
    assert a["state"].keys() == b["state"].keys()
    for k in a["state"]:
        for name, x in a["state"][k].items():
            y = b["state"][k][name]
            assert (torch.equal(x, y) and x.dtype == y.dtype) if torch.is_tensor(x) else x == y, name


@pytest.mark.parametrize("fresh_optimizer", [True, False])
def test_model_optimizer_and_rng_are_restored_bit_for_bit(fresh_optimizer):
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.BatchNorm1d(16), torch.nn.ReLU(),
                                torch.nn.Dropout(0.2), torch.nn.Linear(16, 3))
    opt = torch.optim.AdamW([{"params": model[0].parameters(), "lr": 1e-3},
                             {"params": model[4].parameters(), "lr": 3e-3, "weight_decay": 0.1}])
    x, y = torch.randn(32, 8), torch.randint(0, 3, (32,))
    if not fresh_optimizer:
        for _ in range(3):  # optimizer state and gradients that must survive
            opt.zero_grad()
            torch.nn.functional.cross_entropy(model(x), y).backward()
            opt.step()
    model[1].eval()  # a mixed train/eval state, restored module by module
    before = _snapshot(model, opt)
    rng = torch.get_rng_state()
    r = find_lr(model, opt, lambda: torch.nn.functional.cross_entropy(model(x), y), steps=30, end_lr=1.0)
    assert len(r.lrs) > 0
    after = _snapshot(model, opt)
    for k, t in before[0].items():
        assert torch.equal(t, after[0][k]), k
    for g0, g1 in zip(before[1], after[1]):
        assert (g0 is None and g1 is None) or torch.equal(g0, g1)
    _same_optimizer_state(before[2], after[2])
    assert before[3] == after[3]
    assert torch.equal(torch.get_rng_state(), rng)
    assert opt.param_groups[1]["lr"] == 3e-3 and opt.param_groups[1]["weight_decay"] == 0.1


def test_state_is_restored_when_the_loss_fails_midway():
    model, closure, _ = quadratic()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    w0 = model.weight.detach().clone()
    calls = {"n": 0}

    def failing():
        calls["n"] += 1
        if calls["n"] == 5:
            raise RuntimeError("out of data")
        return closure()

    with pytest.raises(RuntimeError, match="out of data"):
        find_lr(model, opt, failing)
    assert torch.equal(model.weight, w0) and opt.state_dict()["state"] == {} and opt.param_groups[0]["lr"] == 0.1


def test_groups_keep_their_lr_ratio():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 1))
    opt = torch.optim.SGD([{"params": model[0].parameters(), "lr": 0.1},
                           {"params": model[1].parameters(), "lr": 0.01}])
    x = torch.randn(16, 2)
    seen = []

    def closure():
        seen.append((opt.param_groups[0]["lr"], opt.param_groups[1]["lr"]))
        return model(x).pow(2).mean()

    find_lr(model, opt, closure, start_lr=1e-4, end_lr=1e-2, steps=10, diverge=None)
    assert all(b == pytest.approx(a / 10) for a, b in seen) and seen[0][0] == pytest.approx(1e-4)


def test_batches_with_loss_fn_are_iterated_again_and_a_one_shot_iterator_ends_the_test():
    model, _, _ = quadratic()
    x = torch.randn(8, 1, dtype=torch.float64)
    batches = [(x, 2 * x), (x, 2 * x)]

    def loss_fn(m, b):
        return torch.nn.functional.mse_loss(m(b[0]), b[1])

    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), batches, loss_fn=loss_fn, steps=12,
                end_lr=0.1, diverge=None)
    assert len(r.lrs) == 12 and r.stopped == "steps"
    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), iter(batches * 4), loss_fn=loss_fn, steps=12,
                end_lr=0.1, diverge=None)
    assert len(r.lrs) == 8 and r.stopped == "out of batches"


def test_a_non_finite_loss_stops_the_test_and_is_left_out_of_the_suggestion():
    model, closure, a = quadratic()
    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), closure, start_lr=1e-2, end_lr=1e8, steps=60,
                diverge=None)
    assert r.stopped.startswith("non-finite loss") and not math.isfinite(r.raw_losses[-1])
    assert r.suggestion is not None and math.isfinite(r.suggestion)


def test_too_short_a_curve_gives_no_suggestion_and_says_why():
    model, closure, a = quadratic()
    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), closure, start_lr=10.0, end_lr=1e4, steps=40,
                smooth=0.0)
    assert len(r.lrs) < 10 and r.suggestion is None and "the curve has" in r.note
    assert "no suggestion" in r.summary()


# ----- the suggestions, as the peers compute them -------------------------------------------------------------

def fastai_valley(lrs, losses):
    """fastai/callback/schedule.py ``valley``, verbatim apart from names."""
    n = len(losses)
    max_start, max_end = 0, 0
    lds = [1] * n
    for i in range(1, n):
        for j in range(0, i):
            if (losses[i] < losses[j]) and (lds[i] < lds[j] + 1):
                lds[i] = lds[j] + 1
            if lds[max_end] < lds[i]:
                max_end = i
                max_start = max_end - lds[max_end]
    sections = (max_end - max_start) / 3
    idx = max_start + int(sections) + int(sections / 2)
    return idx


@pytest.mark.parametrize("seed", range(25))
def test_valley_is_fastais(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 80))
    losses = np.cumsum(rng.normal(-0.1 if seed % 2 else 0.0, 1.0, n))
    if seed % 5 == 0:
        losses = np.round(losses)  # ties
    lrs = np.geomspace(1e-5, 1, n)
    assert lr_range.valley(lrs, losses) == fastai_valley(list(lrs), list(losses))


@pytest.mark.parametrize("seed", range(10))
def test_steepest_is_lightnings(seed):
    """Lightning's _LRFinder.suggestion: torch.gradient(losses, spacing=[lrs]) over [10:-1], finite only."""
    rng = np.random.default_rng(seed)
    n = 60
    lrs = np.geomspace(1e-6, 1, n)
    losses = 2 + np.cumsum(rng.normal(-0.05, 0.2, n))
    losses[rng.integers(12, 50)] = np.nan
    loss_t, lr_t = torch.tensor(losses[10:-1]), torch.tensor(lrs[10:-1])
    fin = torch.isfinite(loss_t)
    grads = torch.gradient(loss_t[fin], spacing=[lr_t[fin]])[0]
    expected = torch.arange(n)[10:-1][fin][torch.argmin(grads)].item()
    assert lr_range.steepest(lrs, losses) == expected


def test_steep_and_minimum_are_fastais():
    lrs = np.geomspace(1e-5, 1, 50)
    losses = np.concatenate([np.linspace(3, 2.9, 20), np.linspace(2.9, 1.0, 20), np.linspace(1.0, 4.0, 10)])
    t_lr, t_lo = torch.tensor(lrs), torch.tensor(losses)
    grads = (t_lo[1:] - t_lo[:-1]) / (t_lr[1:].log() - t_lr[:-1].log())
    assert lr_range.steep(lrs, losses) == int(grads.argmin())
    assert lr_range.minimum(lrs, losses) == int(t_lo.argmin())
    lr, index, _ = lr_range.suggest(lrs, losses, 50, "minimum")  # on fastai's slice [50 // 10 : -5]
    assert index == 5 + int(np.argmin(losses[5:-5])) and lr == pytest.approx(lrs[index] / 10)


# ----- the result --------------------------------------------------------------------------------------------

def test_result_repr_summary_dict_and_plot(tmp_path):
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    model, closure, _ = quadratic()
    r = find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), closure, start_lr=1e-3, end_lr=100.0)
    assert isinstance(r, LRRangeResult)
    assert repr(r).startswith("LRRangeResult(suggestion=") and "\n" not in repr(r)
    text = r.summary()
    assert "suggestion:" in text and "valley" in text and "steepest" in text
    d = r.to_dict()
    assert d["method"] == "valley" and d["suggestion"] == r.suggestion and set(d["suggestions"]) == set(
        lr_range.METHODS) and len(d["lrs"]) == len(d["losses"]) == d["steps_done"]
    ax = r.plot()
    assert ax.get_xscale() == "log" and ax.get_lines()
    ax.figure.savefig(tmp_path / "lr.png")
    assert (tmp_path / "lr.png").stat().st_size > 1000


# ----- bad arguments, one line each -----------------------------------------------------------------------------

@pytest.mark.parametrize("kwargs, words", [
    ({"start_lr": 0.0}, "start_lr=0.0 is out of range"),
    ({"start_lr": 1.0, "end_lr": 0.5}, "end_lr=0.5 is not above start_lr=1.0"),
    ({"end_lr": math.inf}, "end_lr=inf is not finite"),
    ({"steps": 3}, "steps=3 is out of range"),
    ({"steps": 10.5}, "steps=10.5 is not an integer"),
    ({"mode": "log"}, "mode='log' is not one of"),
    ({"smooth": 1.0}, "smooth=1.0 is out of range"),
    ({"diverge": 0.5}, "diverge=0.5 is out of range"),
    ({"suggestion": "steepest_descent"}, "did you mean 'steepest'"),
    ({"clip": 0.0}, "clip=0.0 is out of range"),
    ({"loss_fn": lambda m, b: 0}, "loss_fn is used with batches"),
])
def test_bad_arguments_one_line(kwargs, words):
    model, closure, _ = quadratic()
    with pytest.raises(lrkit.SpecError) as e:
        find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), closure, **kwargs)
    assert words in str(e.value) and "\n" not in str(e.value)


@pytest.mark.parametrize("source, kwargs, words", [
    (42, {}, "closure_or_batches is int"),
    ([], {"loss_fn": lambda m, b: m(b)}, "the batches are empty"),
    ([(1, 2)], {}, "batches need loss_fn="),
    (lambda: 3.0, {}, "the loss is float"),
    (lambda: torch.ones(2, requires_grad=True), {}, "a tensor of shape (2,)"),
    (lambda: torch.tensor(1.0), {}, "with no gradient"),
])
def test_bad_sources_one_line(source, kwargs, words):
    model, _, _ = quadratic()
    with pytest.raises(lrkit.SpecError) as e:
        find_lr(model, torch.optim.SGD(model.parameters(), lr=0.1), source, **kwargs)
    assert words in str(e.value) and "\n" not in str(e.value)


def test_not_an_optimizer_one_line():
    model, closure, _ = quadratic()
    with pytest.raises(lrkit.SpecError, match="optimizer is str; expected a torch.optim.Optimizer"):
        find_lr(model, "adam", closure)
