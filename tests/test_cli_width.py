"""The terminal at 80 and at 200 columns (a fixed console width): every display stays readable at 80
(what matters least is shortened, never a key column or a number) and uses the room at 200."""

from __future__ import annotations

import io
from types import SimpleNamespace

import pytest
from rich.console import Console

from lrkit.cli.terminal import Progress

LABEL = 'wsd(warmup=0.05, decay=0.2, form="1-sqrt") [adamw]'


def _console(width: int) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=width, force_terminal=True, color_system=None), buf


def _feed(width: int, total: int = 24, already: int = 0, finished=((9.0, 2.345678),), slots: int = 2):
    """A progress display fed ``start`` then one ``finished`` per (seconds later, val loss); its last frame."""
    console, buf = _console(width)
    now = [100.0]
    prog = Progress(console, "bench (local x2)", slots=slots, get_time=lambda: now[0])
    prog("start", {"total": total, "done": already})
    done = already
    for dt, val in finished:
        now[0] += dt
        done += 1
        trial = SimpleNamespace(label=LABEL, lr=0.003, seed=1)
        prog("finished", {"trial": trial, "summary": {"final_val": val, "wall_time": dt}})
        prog("progress", {"done": done, "failed": 0, "total": total})
    console.print(prog.progress.get_renderable())
    return buf.getvalue()


def test_progress_keeps_bar_count_times_and_numbers_at_80_columns():
    out = _feed(80, finished=((9.0, 2.345678), (1.0, 2.5)))
    lines = out.rstrip("\n").splitlines()
    assert all(len(line) <= 80 for line in lines), out
    bar = lines[0]
    assert "━" in bar and "2/24 trials" in bar and "0:00:10" in bar and "ETA 0:01:50" in bar
    assert "lr=0.003 seed=1: val 2.5000 (1s)" in out  # the numbers whole; the label gives way
    assert "wsd(warmup=0.05" in out


def test_progress_is_one_line_with_the_whole_label_at_200_columns():
    out = _feed(200)
    lines = out.rstrip("\n").splitlines()
    assert len(lines) == 1 and len(lines[0]) <= 200
    assert "1/24 trials" in lines[0] and LABEL in lines[0] and "val 2.3457" in lines[0]


def test_no_eta_until_the_first_round_of_trials_is_done():
    assert "ETA -:--:--" in _feed(80, finished=((9.0, 2.3),))  # one of two slots: the pace is not known yet
    assert "ETA -:--:--" in _feed(80, finished=())


def test_eta_counts_only_this_sweeps_work():
    # 10 of 20 already in the database: one trial in 9 s, 9 left, one at a time: 81 s (not 9 s)
    out = _feed(80, total=20, already=10, finished=((9.0, 2.3),), slots=1)
    assert "11/20 trials" in out and "ETA 0:01:21" in out


@pytest.mark.parametrize("width", [80, 200])
def test_progress_before_any_result(width):
    out = _feed(width, already=3, finished=())
    assert "3/24 trials" in out and "3 already done" in out
    assert all(len(line) <= width for line in out.splitlines())


def _table_text(width: int, rows, columns) -> str:
    from lrkit.cli.terminal import fitted_table

    console, buf = _console(width)
    console.print(fitted_table(console, "charlm, 2,000 steps: predicted vs realised", columns, rows, hint="see the report"))
    return buf.getvalue()


def _demo_like():
    from lrkit.cli.terminal import Column

    columns = [Column("schedule", key=True), Column("predicted", "right"), Column("band", "right", drop=1),
               Column("realised", "right"), Column("error", "right"),
               Column("steps to target", "right", short="to target")]
    rows = [["piecewise(points=[(0.0375, 1.0), (0.8758, 1.0), (0.9069, 0.7414)], warmup=60)", "3.1234",
             "3.1000–3.1500", "3.1301", "-0.21%", "1,234"],
            ['wsd(decay=0.2, form="1-sqrt", warmup=60)', "3.2001", "3.1900–3.2100", "3.2222", "+0.69%", "never"]]
    return columns, rows


def test_fitted_table_at_80_wraps_the_key_column_and_keeps_numbers_whole():
    columns, rows = _demo_like()
    out = _table_text(80, rows, columns)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "…" not in out
    for r in rows:
        for cell in r[1:]:
            assert cell in out or cell == r[2], (cell, out)  # every number whole (the band may give way)
    joined = "".join(line.split("│")[1].strip() for line in out.splitlines() if line.startswith("│"))
    assert rows[0][0].replace(" ", "") in joined.replace(" ", "")


def test_fitted_table_names_what_gives_way_and_uses_200_columns():
    columns, rows = _demo_like()
    narrow = _table_text(60, rows, columns)
    assert "not shown at 60 columns: band; see the report" in " ".join(narrow.split())
    assert all(len(line) <= 60 for line in narrow.splitlines())
    assert all(x in narrow for x in ("predicted", "3.1301", "+0.69%", "1,234", "never"))
    wide = _table_text(200, rows, columns)
    assert "steps to target" in wide and "not shown" not in wide
    assert any(rows[0][0] in line for line in wide.splitlines())  # the spec on one line


def test_a_narrow_key_column_breaks_between_parameters_never_inside_a_number_or_a_name():
    # `lrkit runs` at 80 columns gave `cosine(warmup=0.` / `05)` and `onecycle(pct_sta` / `rt=0.25)`
    import re

    from rich.markup import escape

    from lrkit.cli.bench import RUNS_TABLE
    from lrkit.cli.terminal import Column

    specs = ["cosine(warmup=0.05)", "onecycle(pct_start=0.25) [sgd]", 'wsd(decay=0.3, form="linear", floor=0.01)']
    columns = [Column(*c) for c in RUNS_TABLE]  # as `lrkit runs` has them
    rows = [[str(i), "lrkit_test_workloads:make", escape(s), "0.003", "adamw", "1", "200", "done", "0.005716", "0.005702",
             "0.188"] for i, s in enumerate(specs)]
    out = _table_text(80, rows, columns)
    assert all(len(line) <= 80 for line in out.splitlines()), out
    lines = [line.split("│")[2:4] for line in out.splitlines() if line.startswith("│")]
    workload = [w.strip() for w, _ in lines]
    schedule = [s.strip() for _, s in lines]
    assert max(map(len, schedule)) < len(specs[0]), out  # the column is narrower than the specs: they wrap
    for spec in specs:
        for token in re.findall(r'[\w.]+="?[\w.-]+"?|\w+\(|\[\w+\]', spec):  # each name=value, family( and [opt]
            assert any(token in part for part in schedule), (token, out)
    assert "".join(schedule).replace(" ", "") == "".join(specs).replace(" ", "")
    assert all(w in ("lrkit_test_", "workloads:make") for w in workload if w), out


@pytest.mark.parametrize("columns", [80, 200])
def test_lint_findings_fit_the_terminal_and_are_whole(columns):
    import os
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "lrkit", "lint", "cosine(warmup=2000)", "-n", "1000"], capture_output=True,
                       text=True, timeout=120, env=dict(os.environ, COLUMNS=str(columns)))
    lines = r.stdout.splitlines()
    assert max(len(line) for line in lines) <= columns and "…" not in r.stdout, r.stdout
    flat = " ".join(r.stdout.split())
    assert "warmup-too-long: cosine: warmup of 2000 steps is not shorter than the 1000 steps it is part of" in flat
    assert "from 0.5 at step 999 to 0.625, first at step 1000" in flat
    assert (len(lines) == 3) == (columns == 200), r.stdout  # a heading and one line a finding when there is room
