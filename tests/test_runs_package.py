"""lrkit.runs as a package: its public names, load_run(require=...), the one run-CSV writer, small modules."""

from __future__ import annotations

import ast
import io
import math
from pathlib import Path

import numpy as np
import pytest

import lrkit.runs
from lrkit.runs import Run, RunError, load_run, write_csv

PKG = Path(lrkit.runs.__file__).resolve().parent


def test_public_names():
    assert sorted(lrkit.runs.__all__) == sorted([
        "ALIASES", "COLUMNS", "DIVERGENCE_FACTOR", "INT64_MAX", "MAX_ROWS", "MAX_STEPS", "Run", "RunError",
        "load_run", "parse_column_map", "read_csv", "read_jsonl", "read_tensorboard", "write_csv"])
    for name in lrkit.runs.__all__:
        assert getattr(lrkit.runs, name) is not None


def test_modules_and_functions_are_small():
    for path in PKG.glob("*.py"):
        text = path.read_text()
        assert text.count("\n") <= 500, path.name
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                assert node.end_lineno - node.lineno < 80, f"{path.name}: {node.name}"


# ------------------------------------------------------------------ require
def test_require_reads_a_gradient_norm_log_without_losses(tmp_path):
    path = tmp_path / "norms.csv"
    path.write_text("step,grad_norm\n0,1.5\n1,1.4\n2,\n3,1.2\n")
    with pytest.raises(RunError, match="no 'loss' column"):
        load_run(path)
    run = load_run(path, require=("step", "grad_norm"))
    assert run.step.tolist() == [0, 1, 2, 3] and np.isnan(run.loss).all()
    assert run.logged("grad_norm")[0].tolist() == [0, 1, 3]
    losses = tmp_path / "losses.csv"
    losses.write_text("step,loss\n0,3\n")
    with pytest.raises(RunError, match="no 'grad_norm' column"):
        load_run(losses, require=("step", "grad_norm"))
    path.write_text("step,grad_norm\n0,\n1,\n")
    with pytest.raises(RunError, match="no 'grad_norm' values logged"):
        load_run(path, require=("step", "grad_norm"))
    with pytest.raises(RunError, match="unknown required column 'gradnorm'.*did you mean 'grad_norm'"):
        load_run(path, require=("step", "gradnorm"))


def test_loss_checks_apply_when_the_loss_is_required(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("step,loss,grad_norm\n0,3,1\n1,2,1\n2,50,1\n3,-1,1\n")
    with pytest.raises(RunError, match="diverged|not positive"):
        load_run(path)
    run = load_run(path, require=("step", "grad_norm"))  # a norms log whose loss column is not used
    assert run.grad_norm.tolist() == [1, 1, 1, 1]
    with pytest.raises(RunError, match="row 4, column 'step': step 1 comes after step 2"):
        path.write_text("step,grad_norm\n0,1\n2,1\n1,1\n")
        load_run(path, require=("step", "grad_norm"))  # step checks always apply


def test_from_arrays_turns_a_history_into_a_run():
    h = {"step": [0, 10, 20], "lr": [0.1, 0.1, 0.05], "loss": [3.0, None, 2.5], "val_loss": [None, 2.9, None]}
    run = Run.from_arrays(h["step"], h["loss"], h["lr"], val_loss=h["val_loss"], name="trial 7")
    assert run.step.dtype == np.int64 and run.logged("loss")[0].tolist() == [0, 20]
    assert run.logged("val_loss")[1].tolist() == [2.9]
    assert Run.from_arrays([0, 1], grad_norm=[1.0, 2.0], require=("step", "grad_norm")).logged("loss")[0].size == 0


# ------------------------------------------------------------------ write_csv
def test_write_csv_round_trips_through_load_run(tmp_path):
    cols = {"step": np.arange(0, 50, 5), "lr": np.linspace(0.1, 0.01, 10),
            "loss": [3.0 - 0.1 * i if i % 3 else None for i in range(10)], "grad_norm": [math.nan] + [1.0] * 9}
    path = tmp_path / "h.csv"
    assert write_csv(path, cols) == 10
    text = path.read_text()
    assert text.splitlines()[0] == "step,lr,loss,grad_norm" and "\r" not in text
    assert text.splitlines()[1] == "0,0.1,,"  # a missing and a non-finite value: empty cells
    run = load_run(path)
    np.testing.assert_array_equal(run.step, cols["step"])
    np.testing.assert_array_equal(run.lr, cols["lr"])  # repr(float) reads back exactly
    assert run.logged("loss")[0].tolist() == [5, 10, 20, 25, 35, 40]
    buf = io.StringIO()
    write_csv(buf, list(cols.items()))  # pairs, to a stream (left open)
    assert buf.getvalue() == text
    buf2 = io.StringIO()
    write_csv(buf2, run)
    assert load_run_text(tmp_path, buf2.getvalue()).logged("loss")[1].tolist() == run.logged("loss")[1].tolist()


def load_run_text(tmp_path, text):
    p = tmp_path / "again.csv"
    p.write_text(text)
    return load_run(p)


@pytest.mark.parametrize("cols, match", [
    ({"step": [0, 1], "loss": [1.0]}, "columns of different lengths: step 2, loss 1"),
    ({"step": [0, 1.5], "loss": [1.0, 2.0]}, "value 1 of the 'step' column: step 1.5 is not a non-negative integer"),
    ({"step": [0, -1], "loss": [1.0, 2.0]}, "step -1.0 is not a non-negative integer"),
    ({"step": ["a", "b"]}, "the 'step' column is not numbers"),
    ([("step", [0]), ("step", [1])], "column 'step' given twice"),
    ([("", [0])], "columns must be \\(name, values\\) pairs"),
    ({}, "no columns to write"),
])
def test_write_csv_refuses_what_it_could_not_read_back(tmp_path, cols, match):
    with pytest.raises(RunError, match=match):
        write_csv(tmp_path / "x.csv", cols)


def test_a_big_int_step_is_written_exactly(tmp_path):
    path = tmp_path / "big.csv"
    write_csv(path, {"step": np.array([0, 2**62 + 1], dtype=np.int64), "loss": [3.0, 2.0]})
    assert load_run(path).step.tolist() == [0, 2**62 + 1]


# ------------------------------------------------------------------ refine reads norms through load_run
def test_refine_reads_a_norms_log_in_any_format_whatever_its_losses(tmp_path):
    from lrkit.adaptive.refine import load_norms, refine_run

    jl = tmp_path / "n.jsonl"
    jl.write_text("".join(f'{{"step": {t}, "loss": {50.0 if t == 5 else 3.0}, "grad_norm": {1 + t}}}\n' for t in range(20)))
    assert refine_run(jl, 10).steps == 10  # a diverged loss column is not refine's business
    notes: list[str] = []
    run = load_norms(jl, "adam", notes=notes)
    assert run.grad_norm.tolist() == [1.0 + t for t in range(20)]
    assert notes == ["no 'grad_norm_l1' column: using 'grad_norm' as the l1 norm"]
    typo = tmp_path / "typo.csv"
    typo.write_text("step,grad_norm\n" + "".join(f"{t},1\n" for t in range(10)) + "100000000,1\n")
    with pytest.raises(RunError, match="gradient norms logged from step 0 to 100,000,000: refine interpolates"):
        refine_run(typo, 10)
