"""Exact resume in a fresh process, for every family and composite.

The parent process runs each case uninterrupted and saves ``{"optimizer", "scheduler"}`` state dicts with
``torch.save`` at a random step; one subprocess (``resume_worker.py``) per hypothesis example then builds
the same optimizer and scheduler from scratch for every case, loads the checkpoint and continues. Every
value (each group's LR, weight decay and beta2) must be bit-identical (``==``) to the uninterrupted run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from harness import SPECS, advance, build, record

WORKER = Path(__file__).with_name("resume_worker.py")


@st.composite
def case(draw, spec: str) -> dict:
    total = draw(st.integers(20, 160))
    save_at = draw(st.integers(0, total + 3))  # also before the first step and after the end
    c = {"spec": spec, "total": total, "save_at": save_at, "end": total + 6,
         "groups": draw(st.integers(1, 3)),
         "order": draw(st.sampled_from(["scheduler-first", "optimizer-first"])),
         "convention": draw(st.sampled_from([None, None, "torch", "hf", "timm", "optax"]))}
    if draw(st.booleans()):
        c["per_group"], c["other"] = True, draw(st.sampled_from(SPECS))
    if draw(st.booleans()):
        c["wd"] = draw(st.sampled_from(SPECS))
    if draw(st.integers(0, 3)) == 0:  # an anytime cooldown, before or after the checkpoint
        at = draw(st.integers(0, total))
        c["cooldowns"] = {at: (draw(st.integers(1, 30)), draw(st.sampled_from(["linear", "cosine", "1-sqrt",
                                                                                 "square"])),
                               draw(st.sampled_from([0.0, 0.1])))}
    return c


#: Every example holds every spec once, in a random order, with random totals, checkpoints and options.
cases = st.permutations(SPECS).flatmap(lambda specs: st.tuples(*[case(s) for s in specs]))


def run_uninterrupted(c: dict, checkpoint: Path) -> list[tuple]:
    opt, sched = build(c)
    values = []
    for step in range(c["end"]):
        if step == c["save_at"]:
            torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, checkpoint)
            values = [record(opt, sched)]
        advance(opt, sched, c, step)
        if values:
            values.append(record(opt, sched))
    if c["save_at"] >= c["end"]:
        torch.save({"optimizer": opt.state_dict(), "scheduler": sched.state_dict()}, checkpoint)
        values = [record(opt, sched)]
    return values


def resume_in_fresh_process(tmp: Path, batch: list[dict]) -> list[list[tuple]]:
    torch.save(batch, tmp / "cases.pt")
    env = dict(os.environ, PYTHONHASHSEED="random", OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, str(WORKER), str(tmp / "cases.pt"), str(tmp / "out.json")],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return [[tuple(v) for v in values] for values in json.loads((tmp / "out.json").read_text())]


@settings(max_examples=4, deadline=None, derandomize=False,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                 HealthCheck.data_too_large])
@given(cases=cases)
def test_resume_in_a_fresh_process_is_bit_identical(tmp_path_factory, cases):
    tmp = tmp_path_factory.mktemp("resume")
    expected, batch = [], []
    for i, c in enumerate(cases):
        c = dict(c, checkpoint=str(tmp / f"ckpt{i}.pt"))
        expected.append(run_uninterrupted(c, Path(c["checkpoint"])))
        batch.append(c)
    got = resume_in_fresh_process(tmp, batch)
    for c, want, have in zip(batch, expected, got):
        assert len(have) == len(want), c
        assert have == want, (f"resume differs for {c['spec']!r} (total={c['total']}, saved at {c['save_at']}): "
                              f"first difference at step {c['save_at'] + next(i for i, (a, b) in enumerate(zip(want, have)) if a != b)}")


def test_an_off_by_one_resume_is_detected(tmp_path):
    """The comparison can fail: a checkpoint whose step is off by one gives other values in the fresh process."""
    c = {"spec": "cosine()", "total": 40, "save_at": 10, "end": 46, "groups": 2, "checkpoint": str(tmp_path / "a.pt")}
    want = run_uninterrupted(c, tmp_path / "a.pt")
    ckpt = torch.load(tmp_path / "a.pt", weights_only=True)
    ckpt["scheduler"]["last_epoch"] += 1
    torch.save(ckpt, tmp_path / "a.pt")
    (got,) = resume_in_fresh_process(tmp_path, [c])
    assert got != want and got[:-1] == want[1:]


def test_the_fresh_process_refuses_a_checkpoint_of_another_schedule(tmp_path):
    c = {"spec": "cosine()", "total": 40, "save_at": 10, "end": 46, "groups": 2, "checkpoint": str(tmp_path / "a.pt")}
    run_uninterrupted(c, tmp_path / "a.pt")
    torch.save([dict(c, spec="linear()")], tmp_path / "cases.pt")
    proc = subprocess.run([sys.executable, str(WORKER), str(tmp_path / "cases.pt"), str(tmp_path / "out.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("lrkit.integrations.torch.StateMismatchError: ") and "'cosine()'" in last \
        and "'linear()'" in last, last
