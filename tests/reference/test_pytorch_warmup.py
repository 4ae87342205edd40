"""``product(warmup(...), <schedule>)`` under lrkit's default convention against pytorch-warmup.

pytorch-warmup (Ma & Yarats 2021, Tony-Y/pytorch_warmup) multiplies whatever LR a torch scheduler
gives by a warmup factor; the reference is ``with warmup_scheduler.dampening(): lr_scheduler.step()``
after each ``optimizer.step()`` of a torch AdamW, reading ``param_groups[0]["lr"]``. Its factors count
``(t + 1)/tau`` from the first step: lrkit's default ``warmup_offset=1``.

Mappings (pytorch-warmup -> lrkit):

* ``LinearWarmup(tau)`` -> ``warmup(period=tau)``; ``ExponentialWarmup(tau)`` ->
  ``warmup(period=tau, form='exponential')``
* ``UntunedLinearWarmup`` -> ``warmup(form='untuned', beta2=b2)``; ``UntunedExponentialWarmup`` ->
  ``warmup(form='untuned_exponential', beta2=b2)``. Both take ``int(2/(1-b2))`` (``int(1/(1-b2))``)
  steps; for ``b2 = 0.999`` float error makes pytorch-warmup's period 1999 where the paper (and lrkit)
  says 2000 (see ``test_untuned_period_float_error``).
* ``RAdamWarmup`` -> ``warmup(form='radam', beta2=b2)``: ``r`` at ``t + delta``, delta the first step with
  ``rho > 4``.
"""

from __future__ import annotations

import math

import pytest

from lrkit.schedules.warmup import radam_offset, untuned_period

from .helpers import assert_steps, lrkit_lrs, torch_lrs

torch = pytest.importorskip("torch")
pw = pytest.importorskip("pytorch_warmup")
S = torch.optim.lr_scheduler
BASE = 1e-3


def cosine(T):
    return lambda o: S.CosineAnnealingLR(o, T_max=T)


@pytest.mark.parametrize("tau, T", [(10, 100), (100, 300), (1, 20), (250, 200)])
def test_linear_warmup(tau, T):
    ref = torch_lrs(cosine(T), T, BASE, betas=(0.9, 0.999), warmup=lambda o: pw.LinearWarmup(o, tau))
    assert_steps(lrkit_lrs(f"product(warmup(period={tau}), cosine())", T, BASE, "lrkit"), ref,
                 what=f"LinearWarmup({tau}) x cosine")


@pytest.mark.parametrize("tau", [5, 50, 120])
def test_exponential_warmup(tau):
    n = 400
    ref = torch_lrs(lambda o: S.StepLR(o, step_size=100, gamma=0.5), n, BASE, betas=(0.9, 0.999),
                    warmup=lambda o: pw.ExponentialWarmup(o, tau))
    spec = f"product(warmup(period={tau}, form='exponential'), step(every=100, gamma=0.5))"
    assert_steps(lrkit_lrs(spec, n, BASE, "lrkit"), ref, what=spec)


@pytest.mark.parametrize("beta2", [0.9, 0.9999])
def test_untuned_linear(beta2):
    """beta2 where ``2/(1-beta2)`` has no float error: lrkit and pytorch-warmup agree at every step."""
    tau = int(2.0 / (1.0 - beta2))
    T = tau + 500
    ref = torch_lrs(cosine(T), T, BASE, betas=(0.9, beta2), warmup=pw.UntunedLinearWarmup)
    spec = f"product(warmup(form='untuned', beta2={beta2}), cosine())"
    assert_steps(lrkit_lrs(spec, T, BASE, "lrkit"), ref, what=spec)


@pytest.mark.parametrize("beta2", [0.9, 0.9999])
def test_untuned_exponential(beta2):
    tau = int(1.0 / (1.0 - beta2))
    T = 3 * tau + 50
    ref = torch_lrs(lambda o: S.ExponentialLR(o, gamma=0.999), T, BASE, betas=(0.9, beta2),
                    warmup=pw.UntunedExponentialWarmup)
    spec = f"product(warmup(form='untuned_exponential', beta2={beta2}), exponential(gamma=0.999))"
    assert_steps(lrkit_lrs(spec, T, BASE, "lrkit"), ref, rtol=1e-11, what=spec)


@pytest.mark.parametrize("beta2, cls, exponential", [(0.999, "UntunedLinearWarmup", False),
                                                     (0.99, "UntunedLinearWarmup", False),
                                                     (0.999, "UntunedExponentialWarmup", True)])
def test_untuned_period_float_error(beta2, cls, exponential):
    """pytorch-warmup's ``int(2/(1-0.999))`` is 1999 (float error); Ma & Yarats' rule and lrkit give 2000.

    Apart from that one step of period the factors are the same: lrkit with pytorch-warmup's period
    reproduces it exactly.
    """
    factor = 1.0 if exponential else 2.0
    theirs = int(factor / (1.0 - beta2))
    assert untuned_period(beta2, exponential) == round(factor / (1.0 - beta2)) == theirs + 1
    T = theirs + 100
    ref = torch_lrs(cosine(T), T, BASE, betas=(0.9, beta2), warmup=getattr(pw, cls))
    form = "exponential" if exponential else "linear"
    assert_steps(lrkit_lrs(f"product(warmup(period={theirs}, form={form!r}), cosine())", T, BASE, "lrkit"), ref,
                 what=f"{cls} with its own period {theirs}")


@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.9, 0.7])
def test_radam_warmup(beta2):
    T = 600
    ref = torch_lrs(cosine(T), T, BASE, betas=(0.9, beta2), warmup=pw.RAdamWarmup)
    spec = f"product(warmup(form='radam', beta2={beta2}), cosine())"
    for convention in ("lrkit", "torch"):  # delta makes the factor independent of the warmup offset
        assert_steps(lrkit_lrs(spec, T, BASE, convention), ref, rtol=1e-11, what=f"{spec} [{convention}]")


@pytest.mark.parametrize("beta2", [0.999, 0.99, 0.9, 0.7, 0.61])
def test_radam_offset(beta2):
    """delta is pytorch-warmup's own ``get_offset``: the first step with ``rho_t > 4``."""
    from pytorch_warmup.radam import get_offset, rho_inf_fn

    assert radam_offset(beta2) == get_offset(beta2, rho_inf_fn(beta2))
    assert math.isclose(rho_inf_fn(beta2), 2.0 / (1.0 - beta2) - 1.0)
