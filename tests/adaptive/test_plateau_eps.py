"""``plateau(eps=...)`` against torch's ``ReduceLROnPlateau`` with its ``eps`` (issue 14).

torch skips a reduction that lowers the LR by ``eps`` or less (``old_lr - new_lr > eps``, 1e-8 by default, in
LR units); lrkit's ``eps`` is the same threshold as a multiplier of the base LR (``eps / lr``). The metric
sequence stalls for long enough that the LR falls until torch stops reducing it.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrkit
from lrkit.adaptive.plateau import PlateauController

torch = pytest.importorskip("torch")
import lrkit.torch  # noqa: E402


def _metrics():
    rng = np.random.default_rng(1)
    return np.r_[np.linspace(2, 1, 5), 1 + 0.001 * rng.standard_normal(120)]


@pytest.mark.parametrize("lr, eps, factor, min_lr", [(1e-6, 1e-8, 0.5, 0.0), (1.0, 0.05, 0.5, 0.0),
                                                     (1e-3, 1e-8, 0.1, 0.0), (1.0, 0.01, 0.7, 0.05)])
def test_controller_skips_small_reductions_as_torch(lr, eps, factor, min_lr):
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=lr)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, factor=factor, patience=2, min_lr=min_lr, eps=eps)
    ctl = PlateauController(f"plateau(factor={factor}, patience=2, min={min_lr / lr!r}, eps={eps / lr!r})")
    held = 0
    for t, x in enumerate(_metrics()):
        ctl.observe(x, t)
        ref.step(x)
        ours = lr * ctl.schedules[0](t)
        assert ours == pytest.approx(opt.param_groups[0]["lr"], rel=1e-7), (t, ours, opt.param_groups[0]["lr"])
        held += ours < lr
    assert held, "the metrics must trigger reductions"
    no_eps = PlateauController(f"plateau(factor={factor}, patience=2, min={min_lr / lr!r})")
    for t, x in enumerate(_metrics()):
        no_eps.observe(x, t)
    assert no_eps.schedules[0](len(_metrics())) < ctl.schedules[0](len(_metrics())), "eps must change the result"


def test_scheduler_with_eps_matches_torch_every_step():
    lr, eps = 1e-6, 1e-8
    opt_t = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=lr)
    ref = torch.optim.lr_scheduler.ReduceLROnPlateau(opt_t, factor=0.5, patience=1, eps=eps)
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))], lr=lr)
    sched = lrkit.torch.Scheduler(opt, f"plateau(factor=0.5, patience=1, eps={eps / lr!r})")
    for x in _metrics():
        opt.step()
        sched.step(metrics=x)
        ref.step(x)
        assert opt.param_groups[0]["lr"] == pytest.approx(opt_t.param_groups[0]["lr"], rel=1e-7)


def test_multiplier_holds_where_a_reduction_would_change_it_by_eps_or_less():
    p = lrkit.parse("plateau(factor=0.5, eps=0.1)")
    assert [p.multiplier(k) for k in range(6)] == [1.0, 0.5, 0.25, 0.125, 0.125, 0.125]
    assert lrkit.parse(str(p)) == p and "eps=0.1" in str(p)
    assert lrkit.parse("plateau(factor=0.5)").multiplier(4) == 0.0625  # eps=0: only min holds it


@pytest.mark.parametrize("spec, words", [("plateau(eps=-1e-8)", "eps=-1e-08 is out of range"),
                                         ("plateau(eps='tiny')", "eps='tiny' is not a number")])
def test_bad_eps_is_one_line(spec, words):
    with pytest.raises(lrkit.SpecError) as e:
        lrkit.parse(spec)
    assert words in str(e.value) and "\n" not in str(e.value)
