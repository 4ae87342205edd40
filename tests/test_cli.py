"""The command line end to end, in a subprocess as users run it: formats, exit codes, one-line errors."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys

import pytest

import lrkit


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=120)


def test_show_table_has_summary_and_plot():
    r = run("show", "wsd(warmup=0.05, decay=0.2)", "--steps", "1000", "--lr", "3e-4")
    assert r.returncode == 0, r.stderr
    assert "peak" in r.stdout and "0.0003" in r.stdout
    assert "stable 50–800" in r.stdout and "decay (1-sqrt) 800–1,000" in r.stdout
    assert "⡇" in r.stdout or "⠉" in r.stdout  # the braille plot


def test_show_csv_is_step_lr_for_every_step():
    r = run("show", "cosine(warmup=10, floor=0.1)", "--steps", "100", "--lr", "0.5", "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["step", "lr"]
    assert [int(x[0]) for x in rows[1:]] == list(range(100))
    expected = lrkit.parse("cosine(warmup=10, floor=0.1)").sample(100) * 0.5
    assert [float(x[1]) for x in rows[1:]] == pytest.approx(list(expected), rel=1e-15)


def test_show_csv_several_specs_has_one_column_each():
    r = run("show", "linear()", "constant()", "-n", "4", "-f", "csv")
    rows = list(csv.reader(io.StringIO(r.stdout)))
    assert rows[0] == ["step", "linear()", "constant()"]
    assert rows[2] == ["1", "0.75", "1.0"]


def test_show_json_has_summary_and_values():
    r = run("show", "linear(end=0.5)", "-n", "10", "-f", "json")
    doc = json.loads(r.stdout)
    assert doc["spec"] == "linear(end=0.5)" and doc["total"] == 10 and len(doc["values"]) == 10
    assert doc["peak"] == 1.0 and doc["final"] == pytest.approx(0.55)
    assert doc["area"] == pytest.approx(sum(doc["values"]))


@pytest.mark.parametrize("fmt", ["png", "svg"])
def test_show_figure(tmp_path, fmt):
    out = tmp_path / f"fig.{fmt}"
    r = run("show", "cosine(warmup=100)", "wsd(warmup=100)", "-n", "1000", "-f", fmt, "-o", str(out))
    assert r.returncode == 0, r.stderr
    head = out.read_bytes()[:200]
    assert head.startswith(b"\x89PNG") if fmt == "png" else b"<svg" in out.read_bytes()


def test_show_convention_torch_matches_torch_after_the_end():
    r = run("show", "cosine()", "-n", "4", "-f", "json", "-c", "torch")
    assert json.loads(r.stdout)["convention"] == "torch"


def test_lint_reports_and_exits_zero():
    r = run("lint", "cosine(warmup=100)", "--steps", "1000", "--convention", "hf")
    assert r.returncode == 0
    assert "zero-first-step" in r.stdout
    clean = run("lint", "cosine(warmup=100)", "--steps", "1000")
    assert clean.returncode == 0 and "no problems" in clean.stdout


def test_lint_strict_exits_one_with_findings():
    assert run("lint", "cosine(warmup=2000)", "--steps", "1000", "--strict").returncode == 1


BAD = [
    (["show", "cosin", "-n", "10"], "did you mean 'cosine'"),
    (["show", "cosine(flor=0.1)", "-n", "10"], "did you mean 'floor'"),
    (["show", "cosine(", "-n", "10"], "syntax error"),
    (["show", "cosine", "-n", "0"], "--steps=0"),
    (["show", "cosine", "-n", "-5"], "negative"),
    (["show", "cosine"], "Missing option"),
    (["show", "cosine", "-n", "abc"], "not a valid integer"),
    (["show", "cosine", "-n", "10", "-c", "keras"], "--convention"),
    (["show", "cosine", "-n", "10", "--lr", "-1"], "lr=-1"),
    (["show", "cosine", "-n", "10", "--lr", "nan"], "lr=nan"),
    (["show", "cosine(warmup=1.5)", "-n", "10"], "warmup=1.5"),
    (["show", "multistep(milestones=[60, 30])", "-n", "100"], "not strictly increasing"),
    (["show", "__import__('os').system('echo hacked')", "-n", "3"], "not a schedule"),
    (["show", "cosine(floor=float('nan'))", "-n", "3"], "not a literal"),
    (["show", "cosine", "-n", "3", "-f", "png", "-o", "/nonexistent-dir/x.png"], "nonexistent-dir"),
    (["lint", "wsd(form='lin')", "-n", "10"], "did you mean 'linear'"),
    (["nosuchcommand"], "No such command"),
]


@pytest.mark.parametrize("args,needle", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_is_one_line_and_exit_2(args, needle):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("lrkit: error: ") and needle in lines[0]
    assert "Traceback" not in r.stderr and "hacked" not in r.stdout


def test_missing_optional_dependency_is_one_line(tmp_path):
    """A command whose extra is not installed (scipy for `lrkit fit`) says so in one line, exit 2."""
    run_csv = tmp_path / "run.csv"
    run_csv.write_text("step,lr,loss\n" + "".join(f"{s},0.001,{3 - s / 100}\n" for s in range(0, 50)))
    code = ("import sys; sys.modules['scipy'] = None; sys.modules['scipy.optimize'] = None\n"
            "from lrkit.cli import main\n"
            f"main(['fit', {str(run_csv)!r}, '--out', {str(tmp_path / 'f.json')!r}])")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: ") and "lrkit[all]" in lines[0]


def test_out_of_memory_is_one_line_exit_2(tmp_path):
    # a memory limit as a user's machine would hit: refining onto 1e9 steps needs 8 GB per array
    runfile = tmp_path / "norms.csv"
    runfile.write_text("step,loss,grad_norm\n" + "".join(f"{t},{3 - t / 10},{1 + t % 3 / 10}\n" for t in range(8)))
    code = ("import resource, sys; resource.setrlimit(resource.RLIMIT_AS, (3 << 30, 3 << 30)); "
            f"sys.argv = ['lrkit', 'refine', {str(runfile)!r}, '--steps', '1000000000']; "
            "from lrkit.cli import main; main()")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2
    assert r.stderr.startswith("lrkit: error: out of memory") and r.stderr.count("\n") == 1 and "fewer steps" in r.stderr


@pytest.mark.parametrize("args,needle", [
    (["show", "exponential(gamma=1.5)", "-n", "10000"], "at step 1751"),  # was: a panel of inf, then a crash
    (["show", "exponential(gamma=1.5)", "-n", "10000", "-f", "json"], "not a finite number"),  # was: Infinity
    (["show", "cosine()", "-n", "10", "--lr", "1e308", "-f", "csv"], "lr=1e+308"),  # was: RuntimeWarnings
    (["show", "constant(value=1e308)", "-n", "10", "--lr", "10"], "overflow"),  # was: a NaN crash
    (["show", "cosine()", "-n", "9223372036854775807"], "more than show and lint evaluate"),  # was: argmax of []
    (["show", "cosine()", "-n", "99999999999999999999"], "more than show and lint evaluate"),  # was: numpy's words
    (["lint", "cosine()", "-n", "200000000"], "more than show and lint evaluate"),
    (["lint", "exponential(gamma=1e300)", "-n", "10"], "at step 2"),
])
def test_values_that_overflow_are_one_line_and_exit_2(args, needle):
    r = run(*args)
    assert r.returncode == 2, (r.stdout, r.stderr)
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("lrkit: error: ") and needle in lines[0], r.stderr
    assert r.stdout == ""


def test_lint_of_a_schedule_that_overflows_only_after_the_end_reports_it():
    r = run("lint", "exponential(gamma=1.5)", "-n", "1700")
    assert r.returncode == 0, r.stderr
    assert "rising" in r.stdout and "rises-after-end" in r.stdout


def test_fit_predict_plan_outside_the_domain_as_users_run_it(tmp_path):
    """Issue 13: far outside the fit's domain, one line and exit 2; with --extrapolate, one warning line per kind."""
    import numpy as np

    lr = lrkit.parse("cosine(warmup=20, floor=0.1)").sample(400) * 1e-3
    s1 = np.cumsum(lr)
    rows = "".join(f"{t},{float(lr[t])!r},{float(2.5 + 0.6 * s1[t] ** -0.45)!r}\n" for t in range(20, 400, 5))
    (tmp_path / "run.csv").write_text("step,lr,loss\n" + rows)
    fit = tmp_path / "fit.json"
    r = run("fit", str(tmp_path / "run.csv"), "--law", "lra", "--boot", "0", "--schedule", "cosine(warmup=20, floor=0.1)",
            "--lr", "1e-3", "--total", "400", "--out", str(fit))
    assert r.returncode == 0, r.stderr
    args = ["predict", str(fit), "--schedule", "constant(warmup=20)", "--lr", "0.05", "--steps", "400"]
    r = run(*args)
    assert r.returncode == 2 and r.stderr.count("\n") == 1 and r.stderr.startswith("lrkit: error: peak LR 0.05")
    assert "--extrapolate" in r.stderr and r.stdout == ""
    r = run(*args, "--extrapolate", "--format", "csv")
    assert r.returncode == 0 and r.stdout.startswith("step,loss\n19,")
    assert [line.split(")")[0] for line in r.stderr.splitlines()] == ["lrkit: warning (peak_lr"]
