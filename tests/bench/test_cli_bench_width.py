"""`lrkit bench` and `lrkit runs` at 80 and 200 columns (COLUMNS fixes the console width): the key
columns and every number stay whole at 80 (was `mni… | cosi… | 0.0…`, `wsd(wa…`); at 200 the full
headers and specs are on one line."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys

import pytest

from lrkit.bench.trial import canonical_spec

from conftest import HERE, TINY

WSD = 'wsd(warmup=0.05, decay=0.3, form="linear", floor=0.01)'
LABEL = canonical_spec(WSD)  # as tables name the method


def lrkit(*args: str, columns: int) -> subprocess.CompletedProcess:
    env = dict(os.environ, COLUMNS=str(columns), OMP_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "lrkit", *args], capture_output=True, text=True, timeout=300, env=env)


@pytest.fixture(scope="module")
def sweep(tmp_path_factory):
    db = tmp_path_factory.mktemp("width") / "bench.db"
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "-s", WSD, "--lr", "0.001", "--lr", "0.003", "-n", "20",
              "--seeds", "2", "--workers", "0", "--db", str(db), columns=80)
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(lrkit("runs", "--db", str(db), "-f", "csv", columns=80).stdout)))
    return db, r, rows


def _short(x: str) -> str:
    return f"{float(x):.4g}"


def test_bench_table_at_80_columns_keeps_methods_and_numbers(sweep):
    _, r, _ = sweep
    lines = r.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), r.stdout
    assert "…" not in r.stdout
    table = r.stdout.split("┃ method", 1)[1]
    assert "cosine(warmup=2)" in table and "0.003" in table
    cells = " ".join(line.split("│")[1].strip() for line in table.splitlines() if line.startswith("│"))
    assert LABEL.replace(" ", "") in cells.replace(" ", "")


def test_bench_table_at_200_columns_has_full_headers_and_specs_on_one_line(sweep, tmp_path):
    db, _, _ = sweep
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "-s", WSD, "--lr", "0.001", "--lr", "0.003", "-n", "20",
              "--seeds", "2", "--workers", "0", "--db", str(db), columns=200)
    assert r.returncode == 0, r.stderr
    assert "steps to target" in r.stdout and "time to target" in r.stdout and "seed range" in r.stdout
    assert any(LABEL in line for line in r.stdout.splitlines())


def test_runs_at_80_columns_tells_lrs_apart_and_keeps_every_number(sweep):
    db, _, rows = sweep
    out = lrkit("runs", "--db", str(db), columns=80).stdout
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "…" not in out
    body = [line for line in out.splitlines() if line.startswith("│") and line.split("│")[1].strip().isdigit()]
    assert len(body) == len(rows) == 8
    for line, row in zip(body, rows):
        cells = [c.strip() for c in line.split("│")[1:-1]]
        assert cells[0] == row["id"]
        assert f"{float(row['lr']):g}" in cells and _short(row["final_val_loss"]) in cells
    assert "0.001" in out and "0.003" in out
    assert f"{len(rows)} trials · {TINY}" in " ".join(out.split())  # one workload: said once, in the title


def test_runs_at_200_columns_has_every_column_on_one_line(sweep):
    db, _, rows = sweep
    out = lrkit("runs", "--db", str(db), columns=200).stdout
    assert "final val" in out and "best val" in out and "train s" in out and "not shown" not in out
    assert sum(LABEL in line for line in out.splitlines()) == 4


def test_the_seed_range_keeps_as_many_digits_as_the_final_loss():
    """A seed range of 0.000512..0.00101 read `0.001–0.001` beside a final val of 0.000793."""
    from types import SimpleNamespace

    from rich.console import Console

    from lrkit.cli.bench import scores_table

    m = SimpleNamespace(label="wsd(decay=0.3)", lr=3e-3, seeds=2, final_val_spread=(0.000512, 0.00101), diverged=0,
                        final_val=0.000793, best_val=0.000793, steps_to_target=77.0, reached=2, time_to_target=0.0254,
                        ratio=1.0)
    console = Console(file=io.StringIO(), width=200, force_terminal=False)
    console.print(scores_table(console, "w: target val loss 0.0057", [m]))
    out = console.file.getvalue()
    assert "0.000512–0.00101" in out and "0.000793" in out, out


def test_a_small_target_keeps_its_digits_in_the_terminal_and_the_report():
    """A target of 0.000793 read `target val loss 0.0008`; a seed range `(0.001–0.001)` in the report."""
    from types import SimpleNamespace

    from lrkit.cli.bench import _target_text
    from lrkit.report.html import _method_table, _target

    scores = SimpleNamespace(targets={"w": 0.000793}, reference={"w": "cosine()"}, reference_diverged={"w": 0})
    assert "target val loss 0.000793 (from cosine())" in _target_text(scores, "w")
    assert "<b>0.000793</b>" in _target(scores, "w", {})
    m = SimpleNamespace(label="wsd(decay=0.3)", lr=3e-3, seeds=2, final_val_spread=(0.000512, 0.00101), diverged=0,
                        final_val=0.000793, best_val=0.000793, steps_to_target=77.0, reached=2, time_to_target=0.0254,
                        ratio=1.0, sensitivity=None)
    assert "(0.000512–0.00101)" in _method_table([m], {m.label: "#000000"}, 0.000793, {})
