"""``lrkit find-lr``: the range test on a workload from the command line (json, table, plot, bad input)."""

from __future__ import annotations

import json

import pytest
from conftest import TINY, env, lrkit

pytest.importorskip("torch")


def test_json_has_the_suggestion_and_the_method():
    proc = lrkit("find-lr", "--workload", TINY, "--steps", "40", "--start-lr", "1e-4", "--end-lr", "100",
                 "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert isinstance(out["suggestion"], float) and out["suggestion"] > 0 and out["method"] == "valley"
    assert set(out["suggestions"]) == {"valley", "steepest", "steep", "minimum"}
    assert out["steps_done"] == len(out["lrs"]) == len(out["losses"]) <= 40 and out["workload"] == TINY


def test_a_builtin_workload_with_another_method_and_a_plot(tmp_path):
    pytest.importorskip("sklearn")
    pytest.importorskip("matplotlib")
    png = tmp_path / "lr.png"
    proc = lrkit("find-lr", "-w", "digits-mlp", "--steps", "30", "--suggestion", "minimum", "--format", "json",
                 "--plot", str(png), "--threads", "1")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["method"] == "minimum" and out["suggestion"] == out["suggestions"]["minimum"]
    assert png.stat().st_size > 1000


def test_table_names_every_method_and_marks_the_chosen_one():
    proc = lrkit("find-lr", "-w", TINY, "--steps", "30", "--option", "dim=4", "--suggestion", "steep")
    assert proc.returncode == 0, proc.stderr
    for word in ("valley", "steepest", "minimum", "steep ←", "Lightning", "fastai", "stopped"):
        assert word in proc.stdout, word


def test_no_suggestion_is_one_line_and_exit_code_1():
    proc = lrkit("find-lr", "-w", TINY, "--steps", "20", "--start-lr", "100", "--end-lr", "1e5", "--smooth", "0",
                 "--format", "json")  # diverges at once: 2 points
    assert proc.returncode == 1
    assert json.loads(proc.stdout)["suggestion"] is None
    assert proc.stderr.count("\n") == 1 and "no suggestion" in proc.stderr


@pytest.mark.parametrize("args, words", [
    (["-w", "no-such-workload"], "unknown workload 'no-such-workload'"),
    (["-w", TINY, "--option", "depth=3"], "has no option 'depth'"),
    (["-w", TINY, "--option", "dim"], "should look like KEY=VALUE"),
    (["-w", TINY, "--steps", "2"], "steps=2 is out of range"),
    (["-w", TINY, "--start-lr", "1", "--end-lr", "0.1"], "end_lr=0.1 is not above start_lr=1.0"),
    (["-w", TINY, "--smooth", "1.5"], "smooth=1.5 is out of range"),
    (["-w", TINY, "--suggestion", "best"], "Invalid value for '--suggestion'"),
    (["-w", TINY, "--threads", "0"], "--threads"),
    (["--steps", "10"], "Missing option '--workload'"),
])
def test_bad_input_one_line_exit_2(args, words):
    proc = lrkit("find-lr", *args)
    assert proc.returncode == 2, proc.stdout
    assert words in proc.stderr and proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_the_plot_takes_size_and_dpi_and_a_bad_suffix_is_refused_before_the_sweep(tmp_path):
    pytest.importorskip("matplotlib")
    import struct

    png = tmp_path / "lr.png"
    proc = lrkit("find-lr", "-w", TINY, "--steps", "30", "--plot", str(png), "--size", "5x3", "--dpi", "80")
    assert proc.returncode == 0, proc.stderr
    assert struct.unpack(">II", png.read_bytes()[16:24]) == (400, 240)  # was: no --size / --dpi
    proc = lrkit("find-lr", "-w", TINY, "--steps", "30", "--plot", str(tmp_path / "lr.jpg"))
    assert proc.returncode == 2 and "lr.jpg" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert "LR range test" not in proc.stdout and not (tmp_path / "lr.jpg").exists()
    proc = lrkit("find-lr", "-w", TINY, "--steps", "30", "--dpi", "100")
    assert proc.returncode == 2 and "apply to the --plot figure" in proc.stderr


@pytest.mark.parametrize("columns", [80, 200])
def test_table_fits_80_and_200_columns_with_every_number_whole(columns):
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "lrkit", "find-lr", "-w", TINY, "--steps", "30", "--option", "dim=4"],
                          capture_output=True, text=True, timeout=300, env={**env(), "COLUMNS": str(columns)})
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns and "…" not in proc.stdout, proc.stdout
    rows = [[c.strip() for c in line.split("│")[1:-1]] for line in lines if line.startswith("│")]
    assert [r[0].split()[0] for r in rows] == ["valley", "steepest", "steep", "minimum"], rows
    assert all(float(r[1]) > 0 for r in rows), rows  # each suggested LR whole, a number
