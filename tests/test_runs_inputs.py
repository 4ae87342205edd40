"""Classes of run-file input (hypothesis): numbers are ASCII, steps exact int64, one column per role,
non-positive losses their own finding, totals and sizes checked up front."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import lrkit.runs as runs
from lrkit.runs import ALIASES, Run, RunError, load_run

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _refused(path, match: str, **kw) -> str:
    with pytest.raises(RunError, match=match) as exc:
        load_run(path, **kw)
    msg = str(exc.value)
    assert "\n" not in msg and str(path) in msg
    return msg


# ------------------------------------------------------------------ numbers
NON_ASCII_DIGITS = st.text(st.characters(categories=["Nd"]), min_size=1, max_size=4).filter(lambda t: not t.isascii())


@SETTINGS
@given(digits=NON_ASCII_DIGITS, column=st.sampled_from(["step", "loss", "lr"]))
def test_digits_of_other_scripts_are_refused_not_read(tmp_path, digits, column):
    cells = {"step": "1", "loss": "2.5", "lr": "0.1", column: digits}
    path = tmp_path / "r.csv"
    path.write_text(f"step,loss,lr\n0,3,0.1\n{cells['step']},{cells['loss']},{cells['lr']}\n", encoding="utf-8")
    _refused(path, f"row 3, column '{column}': cannot read .* as a number .*ASCII digits")


@SETTINGS
@given(a=st.integers(1, 999), b=st.integers(0, 999), column=st.sampled_from(["step", "loss"]))
def test_underscore_separators_are_refused(tmp_path, a, b, column):
    path = tmp_path / "r.csv"
    cell = f"{a}_{b:03d}"
    path.write_text("step,loss\n0,3\n" + (f"{cell},2\n" if column == "step" else f"1,{cell}\n"))
    _refused(path, f"cannot read '{cell}' as a number")


@SETTINGS
@given(value=st.integers(min_value=-10**450, max_value=10**450), key=st.sampled_from(["step", "loss", "lr"]))
def test_json_integers_of_any_size_load_or_fail_in_one_line(tmp_path, value, key):
    path = tmp_path / "r.jsonl"
    line = {"step": 1, "loss": 2.0, "lr": 0.1, key: value}
    path.write_text('{"step": 0, "loss": 3.0, "lr": 0.1}\n' + json.dumps(line) + "\n")
    try:
        run = load_run(path)
    except RunError as exc:
        assert "\n" not in str(exc) and str(path) in str(exc)
        return
    if key == "step":
        assert 0 < value <= runs.INT64_MAX and run.step.tolist() == [0, value]  # exact, never wrapped
    else:
        assert np.isfinite(getattr(run, key)[1])


# ------------------------------------------------------------------ steps
@SETTINGS
@given(step=st.integers(min_value=1, max_value=2**63 - 1), json_file=st.booleans())
def test_every_int64_step_is_read_exactly(tmp_path, step, json_file):
    path = tmp_path / ("r.jsonl" if json_file else "r.csv")
    if json_file:
        path.write_text(f'{{"step": 0, "loss": 3}}\n{{"step": {step}, "loss": 2}}\n')
    else:
        path.write_text(f"step,loss\n0,3\n{step},2\n")
    run = load_run(path)
    assert run.step.dtype == np.int64 and int(run.step[1]) == step


@SETTINGS
@given(step=st.one_of(st.integers(min_value=2**63, max_value=10**30).map(str),
                      st.floats(min_value=9.3e18, max_value=1e300).map(repr),
                      st.floats(min_value=0.01, max_value=1e6).filter(lambda x: x != int(x)).map(repr),
                      st.integers(min_value=-10**6, max_value=-1).map(str)))
def test_steps_out_of_int64_or_not_integers_are_refused_or_dropped_with_a_note(tmp_path, step):
    path = tmp_path / "r.csv"
    path.write_text(f"step,loss\n0,3\n{step},2\n5,1.5\n")
    _refused(path, r"row 3, column 'step': step .* (is not a non-negative integer|is beyond the largest step)")
    run = load_run(path, clean=True)
    assert run.step.tolist() == [0, 5] and run.notes == ("dropped 1 rows with a bad step (first at row 3)",)


def test_steps_from_arrays_are_checked_for_exactness():
    with pytest.raises(RunError, match="step 1e\\+19 is beyond the largest step"):
        Run.from_arrays([0, 1e19], [3.0, 2.0])
    with pytest.raises(RunError, match="floats skip integers"):
        Run.from_arrays([0.0, 2.0**60], [3.0, 2.0])
    run = Run.from_arrays(np.array([0, 2**62], dtype=np.int64), [3.0, 2.0])
    assert run.step.tolist() == [0, 2**62]
    with pytest.raises(RunError, match="step 1.8446744073709552e\\+19 is beyond"):
        Run.from_arrays(np.array([0, 2**64 - 1], dtype=np.uint64), [3.0, 2.0])


# ------------------------------------------------------------------ one column per role
PAIRS = st.sampled_from(sorted(ALIASES)).flatmap(
    lambda role: st.tuples(st.just(role), st.lists(st.sampled_from(ALIASES[role]), min_size=2, max_size=2, unique=True)))


@SETTINGS
@given(pair=PAIRS, upper=st.booleans())
def test_two_names_for_one_role_are_an_error_naming_both(tmp_path, pair, upper):
    role, (a, b) = pair
    b = b.upper() if upper else b
    base = {"step": 0, "loss": 3.0}
    lines = [{**base, a: 1.0}, {**base, "step": 1, b: 2.0}] if role != "step" else [{a: 0, "loss": 3.0}, {b: 1, "loss": 2.0}]
    if role == "loss":
        lines = [{"step": 0, a: 3.0}, {"step": 1, b: 2.0}]
    path = tmp_path / "r.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    msg = _refused(path, f"both give the {role}")
    assert f"'{a}'" in msg and f"'{b}'" in msg and f"--column {role}=NAME" in msg


@SETTINGS
@given(extra=st.integers(1, 3), at=st.integers(0, 5))
def test_rows_with_more_fields_than_the_header_are_refused_naming_the_row(tmp_path, extra, at):
    rows = [f"{i},{3 - 0.1 * i:.1f},0.1" for i in range(6)]
    rows[at] += ",7" * extra
    path = tmp_path / "r.csv"
    path.write_text("step,loss,lr\n" + "\n".join(rows) + "\n")
    _refused(path, f"row {at + 2} has {3 + extra} fields, the header 3 \\(a decimal comma")


# ------------------------------------------------------------------ non-positive losses
@SETTINGS
@given(losses=st.lists(st.one_of(st.floats(0.5, 5.0), st.floats(-5.0, 0.0)), min_size=2, max_size=30))
def test_non_positive_losses_are_their_own_finding_and_clean_removes_only_them(tmp_path, losses):
    path = tmp_path / "r.csv"
    path.write_text("step,loss\n" + "".join(f"{i},{x!r}\n" for i, x in enumerate(losses)))
    low = [i for i, x in enumerate(losses) if x <= 0]
    if low:
        _refused(path, f"row {low[0] + 2}, column 'loss': loss .* is not positive")
    if len(low) == len(losses):
        _refused(path, "no loss values logged", clean=True)
        return
    run = load_run(path, clean=True)
    kept = run.logged("loss")[0].tolist()
    assert not set(kept) & set(low)
    if low:
        assert run.notes[0] == f"left out {len(low)} non-positive losses (first at row {low[0] + 2})"
    positive = [i for i, x in enumerate(losses) if x > 0]
    cut = [n for n in run.notes if "diverged" in n]
    assert kept == positive if not cut else kept == positive[:len(kept)]


# ------------------------------------------------------------------ totals and sizes
@pytest.fixture
def run_to_1999(tmp_path):
    path = tmp_path / "r.csv"
    path.write_text("step,lr,loss\n" + "".join(f"{i},0.001,{5 - i / 1000}\n" for i in range(0, 2000, 7)) + "1999,0.001,3\n")
    return load_run(path)


@pytest.mark.parametrize("total, match", [
    (1000, r"total 1000 steps \(0..999\) ends before the run's last logged step 1999 \(row 288\)"),
    (1999, "ends before the run's last logged step 1999"),
    (0, "total steps must be positive, got 0"),
    (-5, "total steps must be positive, got -5"),
    (1500.5, "total steps must be a positive integer, got 1500.5"),
    (True, "total steps must be a positive integer, got True"),
    ("2000", "total steps must be a positive integer"),
    (float("inf"), "total steps must be a positive integer"),
    (10**8, "total 100,000,000 steps is more than lrkit builds the LR of"),
])
def test_lr_per_step_refuses_a_total_that_would_drop_losses_or_is_not_a_count(run_to_1999, total, match):
    with pytest.raises(RunError, match=match):
        run_to_1999.lr_per_step(total)
    with pytest.raises(RunError, match=match):
        run_to_1999.lr_per_step(total, schedule=lambda s: s * 0 + 1.0, base_lr=0.1)


def test_lr_per_step_accepts_totals_from_the_last_step_on(run_to_1999):
    assert run_to_1999.lr_per_step().size == 2000 and run_to_1999.lr_per_step(2000.0).size == 2000
    assert run_to_1999.lr_per_step(np.int64(3000), schedule=lambda s: s * 0 + 1.0, base_lr=0.1).size == 3000


def test_a_typo_step_is_refused_before_building_every_step(tmp_path):
    path = tmp_path / "typo.csv"
    path.write_text("step,lr,loss\n" + "".join(f"{i},0.001,{5 - i / 1000}\n" for i in range(1000)) + "100000000,0.001,3\n")
    run = load_run(path)  # loading costs what is logged: 1001 rows
    assert run.step.size == 1001
    with pytest.raises(RunError, match=r"row 1002: the run reaches step 100,000,000; .* at most 10,000,000 \(a typo"):
        run.lr_per_step()


def test_more_lines_than_the_limit_are_refused_up_front(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.base, "MAX_ROWS", 50)
    for name, line in (("r.csv", "{i},3\n"), ("r.jsonl", '{{"step": {i}, "loss": 3}}\n')):
        path = tmp_path / name
        path.write_text(("step,loss\n" if name.endswith(".csv") else "") + "".join(line.format(i=i) for i in range(60)))
        _refused(path, "more than 50 lines: lrkit reads at most 50 rows of a run; thin the log first")


def test_a_big_file_is_read_in_chunks_with_row_numbers_kept(tmp_path, monkeypatch):
    monkeypatch.setattr(runs.base, "CHUNK", 7)
    path = tmp_path / "r.csv"
    body = "".join(f"{i},{5 - i / 100}\n" if i != 30 else "\n" for i in range(40))
    path.write_text("step,loss\n" + body + "41,x\n")
    _refused(path, r"row 42, column 'loss': cannot read 'x' as a number")
    path.write_text("step,loss\n" + body + "41,nan\n")
    run = load_run(path, clean=True)
    assert run.step.size == 40 and run.notes == ("ignored 1 NaN values in column 'loss' (first at row 42)",)
    jl = tmp_path / "r.jsonl"
    jl.write_text("".join(json.dumps({"step": i, "loss": 3.0} if i < 20 else {"step": i, "train/loss": 2.0}) + "\n"
                          for i in range(30)))
    _refused(jl, "keys 'loss' and 'train/loss' both give the loss")
    run = load_run(jl, columns={"loss": "train/loss"})
    assert run.logged("loss")[0].tolist() == list(range(20, 30)) and run.step.size == 30
    jl.write_text("".join(json.dumps({"step": i, "loss": 3.0}) + "\n" for i in range(5)) + "\n" * 20
                  + "".join(json.dumps({"step": i, "loss": 2.0}) + "\n" for i in range(5, 9)))
    assert load_run(jl).step.tolist() == list(range(9))  # a chunk of blank lines only
