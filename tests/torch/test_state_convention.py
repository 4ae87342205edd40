"""A saved convention without a field added since (``quirks``, issue 14) reads as its preset's."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")

import lrkit  # noqa: E402
import lrkit.torch as lt  # noqa: E402


def _opt():
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(2))], lr=0.1)


def test_an_hf_state_saved_before_quirks_resumes_under_hf():
    opt = _opt()
    s = lt.Scheduler(opt, "wsd(warmup=10, decay=20, floor=0.1)", total_steps=100, convention="hf")
    for _ in range(15):
        opt.step()
        s.step()
    state = s.state_dict()
    assert state["convention"]["quirks"] == "hf"
    del state["convention"]["quirks"]  # as saved by lrkit before the field existed
    opt2 = _opt()
    s2 = lt.Scheduler(opt2, "wsd(warmup=10, decay=20, floor=0.1)", total_steps=100, convention="hf")
    s2.load_state_dict(state)
    assert s2.get_last_lr() == s.get_last_lr() and s2.last_epoch == 15


def test_a_custom_convention_without_quirks_reads_as_none():
    conv = lrkit.Convention("mine", warmup_offset=0)
    opt = _opt()
    s = lt.Scheduler(opt, "cosine(warmup=5)", total_steps=50, convention=conv)
    state = s.state_dict()
    del state["convention"]["quirks"]
    s2 = lt.Scheduler(_opt(), "cosine(warmup=5)", total_steps=50, convention=conv)
    s2.load_state_dict(state)
    assert s2.get_last_lr() == s.get_last_lr()
