"""AutoLRS' state is plain data: it loads with ``torch.load(weights_only=True)``, its BO is rebuilt by replaying
its asks and tells (a resume makes the same decisions), and a state holding a pickled BO is refused unread."""

from __future__ import annotations

import io
import pickle

import pytest

pytest.importorskip("skopt")
torch = pytest.importorskip("torch")

from lrkit.adaptive.autolrs import AutoLRS  # noqa: E402
from lrkit.bench import get_workload  # noqa: E402
from lrkit.errors import SpecError  # noqa: E402

KW = dict(min_lr=1e-4, max_lr=0.3, tau=20, tau_probe=5, k=3, tau_max=40)
PLAIN = (dict, list, tuple, str, int, float, bool, type(None), torch.Tensor)


def _train(steps, start=0, state=None):
    torch.manual_seed(0)
    task = get_workload("digits-mlp").task(seed=0, steps=steps)
    model = task.model
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    ctl = AutoLRS(model, opt, seed=0, **KW)
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        ctl.load_state_dict(state["ctl"])
    lrs = []
    for t in range(start, steps):
        lrs.append(ctl.lr)
        loss = task.loss(model, task.batch(t))
        opt.zero_grad()
        loss.backward()
        opt.step()
        ctl.step(loss.item())
    return model, opt, ctl, lrs


def _through_disk(obj):
    buf = io.BytesIO()
    torch.save(obj, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _plain(x) -> bool:
    if isinstance(x, dict):
        return all(isinstance(k, (str, int)) and _plain(y) for k, y in x.items())
    if isinstance(x, (list, tuple)):
        return all(_plain(y) for y in x)
    return isinstance(x, PLAIN)


def test_the_state_is_plain_data_and_resumes_identically_after_weights_only_load():
    """Saved in the second probe of a stage, after the BO was told a point: the resumed BO must propose the
    same third LR, and the run make the same decisions with bit-identical weights."""
    model, _, ctl, lrs = _train(60)
    m1, o1, c1, _ = _train(7)
    assert c1.phase == "probe" and len(c1.probes) == 1
    state = c1.state_dict()
    assert _plain(state), "the state holds an object that is not plain data"
    assert [c[0] for c in state["bo"]["calls"]] == ["ask", "tell", "ask"]
    saved = _through_disk({"model": m1.state_dict(), "opt": o1.state_dict(), "ctl": state})
    m2, _, c2, lrs2 = _train(60, start=7, state=saved)
    assert lrs2 == lrs[7:]
    assert c2.decisions == ctl.decisions and len(ctl.decisions) >= 2
    for p, q in zip(model.parameters(), m2.parameters()):
        assert torch.equal(p, q)
    assert c2.state_dict()["bo"] == ctl.state_dict()["bo"]


class _Payload:
    ran = False

    def __reduce__(self):
        return (_Payload._run, ())

    @staticmethod
    def _run():
        _Payload.ran = True
        return None


def _small():
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1.0)
    ctl = AutoLRS(model, opt, min_lr=1e-3, max_lr=1e-1, tau=10, tau_probe=3, k=2)
    for _ in range(4):
        ctl.step(1.0)
    return ctl


def test_a_pickled_bo_is_refused_in_one_line_and_never_unpickled():
    ctl = _small()
    before = ctl.state_dict()
    bad = dict(before, bo=pickle.dumps(_Payload()))
    with pytest.raises(SpecError, match=r"^AutoLRS: the state's bo is a pickled object .*unpickling runs code") as e:
        ctl.load_state_dict(bad)
    assert "\n" not in str(e.value) and not _Payload.ran
    assert ctl.state_dict()["bo"] == before["bo"] and ctl.step_count == before["step_count"]


@pytest.mark.parametrize("edit, match", [
    (lambda bo: dict(bo, calls=[["ask", bo["calls"][0][1] * 1.5], *bo["calls"][1:]]), "does not replay: ask 0"),
    (lambda bo: dict(bo, calls=[*bo["calls"], ["tell", 50.0, 1.0]]), "cannot be replayed"),
    (lambda bo: dict(bo, calls=[["sleep", 1]]), "is not a saved BO"),
    (lambda bo: dict(bo, random_state=-1), "is not a saved BO"),
    (lambda bo: "x", "is not a saved BO"),
])
def test_an_edited_bo_is_refused_and_changes_nothing(edit, match):
    ctl = _small()
    before = ctl.state_dict()
    with pytest.raises(SpecError, match=match):
        ctl.load_state_dict(dict(before, bo=edit(before["bo"])))
    assert ctl.state_dict()["bo"] == before["bo"]


@pytest.mark.parametrize("key, value, match", [
    ("tau", 0, r"tau=0 is out of range"), ("stage", -1, r"stage=-1"), ("val_stage", "no", "val_stage='no'"),
    ("lr", float("nan"), "lr=nan"), ("buffer", "abc", "buffer='abc'"), ("probes", [1], "probes=\\[1\\]"),
    ("checkpoint", [1, 2], "checkpoint=\\[1, 2\\]"),
])
def test_a_garbage_entry_is_one_line(key, value, match):
    ctl = _small()
    with pytest.raises(SpecError, match=match):
        ctl.load_state_dict(dict(ctl.state_dict(), **{key: value}))
