"""Refinement from gradient norms (Defazio et al. 2023): the paper's two qualitative facts, the spec, the CLI."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import lrkit
from lrkit.adaptive.refine import closed_form, refine, refine_run, simplify, smooth_norms


def _lrkit(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=120, cwd=cwd)


def _main(capsys, *args):
    """Run the CLI in this process (fast); returns (exit code, stdout, stderr)."""
    from lrkit.cli import main

    with pytest.raises(SystemExit) as e:
        main(list(args))
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
@pytest.mark.parametrize("steps", [1, 7, 1000, 12345])
def test_constant_norms_give_linear_decay_exactly(optimizer, steps):
    r = refine(np.full(500, 3.7), steps, optimizer)
    linear = lrkit.parse("linear()").sample(steps)
    # the exact values and the spec both equal lrkit's linear() (0 reached at step N, after the last step)
    np.testing.assert_allclose(r.values, linear, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r.schedule.sample(steps), linear, rtol=0, atol=1e-12)
    assert r.schedule.points == ((0, 1.0), (steps, 0.0))


def test_closed_form_matches_the_reference_formula():
    rng = np.random.default_rng(0)
    w = rng.uniform(0.2, 3.0, size=50)
    T = len(w)
    ref = np.zeros(T)  # find_closed_form_schedule of facebookresearch/adaptive_scheduling, written as a loop
    tail = np.flip(np.cumsum(np.flip(w)))
    for t in range(T - 1):
        ref[t] = w[t] * tail[t + 1] / tail[-1]
    np.testing.assert_allclose(closed_form(w), ref / ref.max(), rtol=1e-12)


def _growing_tail(n=1000, start=0.8, to=4.0):
    t = np.arange(n)
    return 1.0 + np.clip((t / n - start) / (1 - start), 0, None) * (to - 1.0)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_norms_growing_at_the_end_give_a_faster_final_anneal(optimizer):
    steps = 1000
    r = refine(_growing_tail(), steps, optimizer).values
    lin = lrkit.parse("linear()").sample(steps)
    # below linear decay over the last part of the run, and the final stretch falls faster
    assert np.all(r[800:990] < lin[800:990] - 0.005)
    i80, i95 = 800, 950
    assert r[i95] / r[i80] < lin[i95] / lin[i80] * 0.7
    # it is still a schedule from 1 that ends near 0, monotone under a monotone norm growth
    assert r[0] == pytest.approx(1.0, abs=0.02) and r[-1] < 0.01


def test_large_early_norms_give_a_warmup():
    n = 1000
    g = 1.0 + 4.0 * np.exp(-np.arange(n) / 60.0)
    r = refine(g, n, "sgd").values
    assert r[0] < 0.5 and r.argmax() > 50


def test_smoothing_removes_spikes_and_keeps_length():
    g = np.ones(2000)
    g[::97] = 50.0  # isolated spikes (e.g. bad batches)
    s = smooth_norms(g)
    assert s.size == 10_000
    np.testing.assert_allclose(s, 1.0)
    r = refine(g, 500)
    np.testing.assert_allclose(r.values, lrkit.parse("linear()").sample(500), atol=1e-12)


def test_spec_is_within_tolerance_and_round_trips():
    rng = np.random.default_rng(1)
    g = _growing_tail() * np.exp(0.1 * rng.standard_normal(1000))
    r = refine(g, 3000, tolerance=0.01)
    assert len(r.schedule.points) <= 64
    assert np.max(np.abs(r.schedule.sample(3000) - r.values)) < 0.011
    assert lrkit.parse(r.spec) == r.schedule


def test_simplify_keeps_corners():
    y = np.r_[np.linspace(1, 0.5, 50), np.linspace(0.45, 0.0, 10)]
    assert simplify(y, 1e-9) == [0, 49, 59]
    assert simplify(np.sin(np.linspace(0, 20, 5000)), 1e-6, max_points=10).__len__() <= 10


@pytest.mark.parametrize("bad, msg", [
    (dict(norms=[1.0], steps=10), "at least 2"),
    (dict(norms=[1.0, -1.0, 2.0], steps=10), "positive"),
    (dict(norms=[1.0, 2.0], steps=0), "steps=0"),
    (dict(norms=[1.0, 2.0], steps=10, optimizer="adagrad"), "optimizer='adagrad'"),
])
def test_bad_input_raises_one_line(bad, msg):
    with pytest.raises(lrkit.SpecError, match=msg) as e:
        refine(**bad)
    assert "\n" not in str(e.value)


def test_refine_run_file_and_cli(tmp_path, capsys):
    path = tmp_path / "run.csv"
    g = _growing_tail(400)
    with open(path, "w") as f:
        f.write("step,loss,grad_norm,grad_norm_l1\n")
        for t in range(400):
            f.write(f"{t * 5},{3 - t / 400},{g[t]},{10 * g[t] ** 0.5}\n")  # logged every 5 steps
    r = refine_run(path, 1000)
    np.testing.assert_allclose(r.values, refine(g, 1000).values)
    ra = refine_run(path, 1000, "adam")  # takes grad_norm_l1
    np.testing.assert_allclose(ra.values, refine(10 * g ** 0.5, 1000, "adam").values)

    out = _lrkit("refine", str(path), "--steps", "1000")
    assert out.returncode == 0, out.stderr
    assert lrkit.parse(out.stdout.strip()) == r.schedule
    code, stdout, _ = _main(capsys, "refine", str(path), "--steps", "1000", "--format", "csv", "--lr", "0.1")
    lines = stdout.splitlines()
    assert lines[0] == "step,lr" and len(lines) == 1001
    assert float(lines[1].split(",")[1]) == pytest.approx(0.1 * r.schedule(0, 1000))
    png = tmp_path / "r.png"
    code, _, _ = _main(capsys, "refine", str(path), "--steps", "1000", "--format", "png", "--out", str(png))
    assert code == 0 and png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("content, args, msg", [
    (None, ["--steps", "10"], "no such file"),
    ("step,loss\n0,1\n1,0.9\n", ["--steps", "10"], "grad_norm"),
    ("step,loss,grad_norm\n0,1,1\n1,0.9,1\n", ["--steps", "-3"], "negative"),
    ("step,loss,grad_norm\n0,1,1\n1,0.9,x\n", ["--steps", "10"], "cannot read"),
    ("step,loss,grad_norm\n0,1,1\n", ["--steps", "10"], "fewer than 2"),
])
def test_cli_bad_input_is_one_line_exit_2(tmp_path, capsys, content, args, msg):
    path = tmp_path / "run.csv"
    if content is not None:
        path.write_text(content)
    code, _, err = _main(capsys, "refine", str(path), *args)
    assert code == 2
    assert err.count("\n") == 1 and msg in err, err


def test_grad_norm_logger_matches_torch(tmp_path):
    torch = pytest.importorskip("torch")
    from lrkit.adaptive.refine import GradNormLogger

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    log = GradNormLogger(opt)
    expect_l2, expect_l1 = [], []
    for t in range(6):
        x = torch.randn(16, 5)
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        log.loss(loss)
        grads = [p.grad for p in model.parameters()]
        expect_l2.append(float(torch.cat([g.flatten() for g in grads]).norm(2)))
        expect_l1.append(float(torch.cat([g.flatten() for g in grads]).abs().sum()))
        opt.step()
    np.testing.assert_allclose(log.norms("l2"), expect_l2, rtol=1e-5)
    np.testing.assert_allclose(log.norms("l1"), expect_l1, rtol=1e-5)
    path = tmp_path / "log.csv"
    log.write_csv(path)
    from lrkit.runs import load_run

    run = load_run(path)
    np.testing.assert_allclose(run.grad_norm, expect_l2, rtol=1e-6)
    assert np.all(np.isfinite(run.loss))
    log.remove()  # stops logging
    # without losses the file still refines
    log2 = GradNormLogger(opt)
    for _ in range(4):
        opt.zero_grad()
        model(torch.randn(4, 5)).sum().backward()
        opt.step()
    log2.write_csv(tmp_path / "nolosses.csv")
    assert refine_run(tmp_path / "nolosses.csv", 50, "adam").steps == 50
    assert len(log.norms()) == 6 and len(log2.norms()) == 4


@pytest.mark.parametrize("warmup", [50, 0.1])
def test_warmup_leaves_the_early_norms_out(warmup):
    # constant norms with a warmup: exactly lrkit's linear(warmup=W)
    r = refine(np.full(300, 2.0), 1000, "adam", warmup=warmup)
    np.testing.assert_allclose(r.schedule.sample(1000), lrkit.parse(f"linear(warmup={warmup!r})").sample(1000),
                               atol=1e-12)
    # tiny norms at initialisation: without warmup the peak sits at step 0 and the rest is scaled down
    g = np.r_[np.full(30, 0.1), np.ones(970)]
    plain = refine(g, 1000, "sgd").values
    warm = refine(g, 1000, "sgd", warmup=0.05).values
    assert plain[0] == 1.0 and plain[100] < 0.2
    assert warm[50] == pytest.approx(1.0, abs=0.02) and warm[100] > 0.8
