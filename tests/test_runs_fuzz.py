"""Any CSV or JSON-lines text either loads or fails with one RunError line; nothing is dropped silently."""

from __future__ import annotations

import json
import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrkit.runs import RunError, load_run

CELLS = st.one_of(
    st.just(""), st.sampled_from(["nan", "inf", "-inf", "-1", "0", "abc", "1e400", " 2.5 "]),
    st.floats(min_value=-1e3, max_value=1e3, allow_nan=False).map(repr),
    st.integers(min_value=-5, max_value=50).map(str),
)
ROWS = st.lists(st.tuples(st.integers(min_value=-2, max_value=40).map(str) | st.sampled_from(["", "x", "1.5"]),
                          CELLS, CELLS), min_size=0, max_size=25)


def _loss_cells(rows):
    """(step, loss) of the input rows whose step is a valid integer and whose loss cell holds a number."""
    out = []
    for s, loss, _ in rows:
        try:
            step, val = float(s), float(loss)
        except ValueError:
            continue
        if step == int(step) and step >= 0 and math.isfinite(val):
            out.append((int(step), val))
    return out


def _check(path, rows, clean):
    try:
        run = load_run(path, clean=clean)
    except RunError as exc:
        msg = str(exc)
        assert msg and "\n" not in msg and str(path) in msg  # one line naming the file
        return
    steps = run.step
    assert np.all(np.diff(steps) > 0)  # sorted, unique
    got = dict(zip(*run.logged("loss")))
    assert all(math.isfinite(v) for v in got.values())
    given_cells = _loss_cells(rows)
    if not clean:  # loaded as it is: every logged loss is there, unchanged
        assert sorted(got.items()) == sorted(dict(given_cells).items()) and len(got) == len(given_cells)
    elif len(got) < len({s for s, _ in given_cells}) or len(got) < len(given_cells):
        assert run.notes, "clean dropped values without saying so"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, clean=st.booleans())
def test_csv_loads_or_fails_in_one_line(tmp_path, rows, clean):
    path = tmp_path / "run.csv"
    path.write_text("step,loss,lr\n" + "".join(f"{a},{b},{c}\n" for a, b, c in rows))
    _check(path, rows, clean)


def _json_value(cell: str):
    try:
        v = float(cell)
    except ValueError:
        return cell if cell else None
    return v if math.isfinite(v) else cell  # JSON has no inf/nan literals: keep them as strings


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=ROWS, clean=st.booleans())
def test_jsonl_loads_or_fails_in_one_line(tmp_path, rows, clean):
    path = tmp_path / "run.jsonl"
    lines = []
    for a, b, c in rows:
        obj = {k: _json_value(v) for k, v in (("step", a), ("loss", b), ("lr", c))}
        lines.append(json.dumps({k: v for k, v in obj.items() if v is not None}))
    path.write_text("\n".join(lines) + ("\n" if lines else ""))
    _check(path, rows, clean)
