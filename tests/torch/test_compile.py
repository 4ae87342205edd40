"""torch.compile of a training step whose optimizer holds a tensor LR: the scheduler fills the tensor in
place, the hook still counts compiled optimizer steps, and nothing recompiles as the LR changes."""

from __future__ import annotations

import warnings

import pytest
import torch

import lrkit
from lrkit.torch import Scheduler


def compile_works() -> str | None:
    try:
        f = torch.compile(lambda x: x + 1)
        f(torch.zeros(1))
    except Exception as e:  # no C++ compiler, unsupported platform ...
        return f"torch.compile is not supported here: {type(e).__name__}: {str(e).splitlines()[0][:200]}"
    return None


@pytest.fixture(scope="module")
def compiled():
    reason = compile_works()
    if reason:
        pytest.skip(reason)
    import torch._dynamo

    torch._dynamo.reset()
    yield
    torch._dynamo.reset()


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["sgd", "adamw"])
def test_compiled_step_with_tensor_lr_does_not_recompile(compiled, kind):
    from torch._dynamo.utils import counters

    torch._dynamo.reset()
    counters.clear()
    torch.manual_seed(0)
    model = torch.nn.Linear(8, 4)
    lr = torch.tensor(0.01)
    if kind == "sgd":
        opt = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    else:
        opt = torch.optim.AdamW(model.parameters(), lr=lr, foreach=False)
    sched = Scheduler(opt, "cosine(warmup=2, floor=0.1)", 12)
    x = torch.randn(16, 8)

    @torch.compile
    def opt_step():
        opt.step()

    s = lrkit.parse("cosine(warmup=2, floor=0.1)")
    graphs = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for t in range(1, 9):
            model(x).pow(2).mean().backward()
            opt_step()
            opt.zero_grad()
            sched.step()
            assert sched.last_epoch == t  # the post-hook counted the compiled step
            assert opt.param_groups[0]["lr"] is lr and float(lr) == float(torch.tensor(0.01 * s(t, 12)))
            graphs.append(counters["stats"]["unique_graphs"])
    assert graphs[0] > 0 and graphs[-1] == graphs[1], f"recompiled as the LR changed: graphs per step {graphs}"
    assert [str(w.message) for w in caught if "step" in str(w.message)] == []
    # the optimizer step itself is traced: torch's step-order wrapper (skipped by dynamo) is gone
    skipped = [k.splitlines()[0] for k in counters["graph_break"] if "skipped" in k]
    assert skipped == [], skipped
