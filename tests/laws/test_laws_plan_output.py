"""Issue 13: a plan with its band and its predicted difference to the best standard schedule, honest labels,
machine-readable output (--format json|spec, --out), and no phase at LR 0 unless asked."""

from __future__ import annotations

import json

import numpy as np
import pytest

import lrkit
from laws_cli import run_cli
from lrkit.laws import plan

N, PEAK, W = 2000, 1e-3, 100


@pytest.fixture(scope="module")
def free(lra_fit):
    return plan(lra_fit, N, PEAK, family="free", knots=16)


def test_plan_has_a_band_and_a_difference_to_the_best_standard_schedule(free):
    b = free.best
    assert b.lower < b.final_loss < b.upper and all(c.lower < c.final_loss < c.upper for c in free.standard)
    d, lo, hi = free.difference
    assert d == pytest.approx(b.final_loss - free.standard[0].final_loss) and lo < d < hi
    assert free.standard[0].final_loss == min(c.final_loss for c in free.standard)
    assert "best standard schedule" in free.verdict()


def test_no_phase_at_lr_zero_unless_asked(lra_fit, free):
    assert free.best.lr[W:].min() > 0 and free.floor == pytest.approx(0.1)
    zero = plan(lra_fit, N, PEAK, family="free", knots=16, allow_zero=True)
    assert zero.floor == 0.0 and zero.best.final_loss <= free.best.final_loss + 1e-12
    # the LR-annealing law rewards training at LR 0 (its S2 keeps growing): only asked for, it does so
    assert np.mean(zero.best.lr[W:] == 0) > 0.02


def test_a_family_best_beaten_by_a_standard_schedule_is_not_called_recommended(lra_fit, capsys, lra_fit_file):
    p = plan(lra_fit, N, PEAK, family="cosine")
    assert p.standard[0].spec.startswith("wsd(") and p.standard[0].final_loss < p.best.final_loss
    assert p.label == "best cosine" and p.recommended is p.standard[0] and not p.beats_standard
    code, out, err = run_cli(["plan", lra_fit_file, "--steps", str(N), "--lr", str(PEAK), "--family", "cosine"], capsys)
    assert code == 0, err
    first, second = out.splitlines()[:2]
    assert first.startswith("best cosine: cosine(") and second.startswith("recommended: wsd(")


def test_plan_json_and_spec_formats_and_out(lra_fit_file, tmp_path, capsys):
    base = ["plan", lra_fit_file, "--steps", str(N), "--lr", str(PEAK), "--family", "wsd"]
    code, out, err = run_cli(base + ["--format", "json"], capsys)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["label"] == "recommended" and doc["best"]["spec"].startswith("wsd(")
    assert doc["best"]["lower"] < doc["best"]["final_loss"] < doc["best"]["upper"]
    diff = doc["difference_to_best_standard"]
    assert diff["lower"] < diff["value"] < diff["upper"] and diff["schedule"] == doc["standard"][0]["spec"]
    assert doc["warnings"] == [] and len(doc["standard"]) == 6
    path = tmp_path / "planned.txt"
    code, out, err = run_cli(base + ["--format", "spec", "--out", str(path)], capsys)
    assert code == 0 and out == "" and f"wrote {path}" in err
    spec = path.read_text().strip()
    assert spec == doc["best"]["spec"] and str(lrkit.parse(spec)) == spec


def test_plan_json_records_warnings(lra_fit_file, capsys):
    code, out, err = run_cli(["plan", lra_fit_file, "--steps", "60", "--lr", str(PEAK), "--family", "cosine",
                              "--format", "json", "--extrapolate"], capsys)
    assert code == 0, err
    assert [w["kind"] for w in json.loads(out)["warnings"]] == ["warmup"]
    assert err.count("lrkit: warning (warmup)") == 1


def test_a_free_plan_never_goes_below_the_pilots_lowest_lr(lra_fit, lra_fit_file, capsys):
    """The free plan's WSD candidate went to 1% of the peak (wsd(..., floor=0.01)) while the table promised
    'the free form stays at or above 0.1 of the peak LR': now every free candidate keeps that floor."""
    p = plan(lra_fit, N, PEAK, family="free", knots=16)
    assert p.floor == pytest.approx(0.1)
    assert p.best.lr[W:].min() >= p.floor * PEAK * (1 - 1e-9), p.best.spec
    code, out, err = run_cli(["plan", lra_fit_file, "--steps", str(N), "--lr", str(PEAK), "--format", "spec"], capsys)
    assert code == 0, err
    assert lrkit.parse(out.strip()).sample(N)[W:].min() >= 0.1 - 1e-9, out


@pytest.mark.parametrize("columns", [80, 200])
def test_plan_table_fits_the_terminal_and_keeps_its_numbers(lra_fit_file, capsys, monkeypatch, columns):
    """The plan's table follows COLUMNS like every other table (it was 120 wide whenever stdout was not a
    terminal): at 80 a long spec wraps inside its cell, no number is cut; at 200 a spec is one line."""
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, err = run_cli(["plan", lra_fit_file, "--steps", str(N), "--lr", str(PEAK), "--family", "wsd"], capsys)
    assert code == 0, err
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= columns
    rows = [line for line in lines if line.startswith("│")]
    for row in rows:
        cells = [c.strip() for c in row.strip("│").split("│")]
        assert all(c == "" or c[0] not in "+-0123456789" or c.replace(".", "").replace(" ", "").lstrip("+-").isdigit()
                   for c in cells[1:2] + cells[3:4]), row  # final loss and difference whole
    assert any('form="linear", warmup=100)' in row for row in rows) == (columns == 200)


def test_spec_output_is_the_recommended_schedule(lra_fit, lra_fit_file, capsys):
    """--format spec writes what the table recommends: the plan when it beats every standard schedule,
    else the standard one, with a warning naming the plan it did not write."""
    p = plan(lra_fit, N, PEAK, family="free", knots=16)
    code, out, err = run_cli(["plan", lra_fit_file, "--steps", str(N), "--lr", str(PEAK), "--format", "spec", "--knots", "16"], capsys)
    assert code == 0, err
    assert out.strip() == p.recommended.spec
    if not p.beats_standard:
        assert f"wrote the recommended schedule, {p.recommended.spec}, not the free plan" in err
    else:
        assert "wrote the recommended schedule" not in err


def test_a_difference_that_rounds_to_zero_has_no_minus_sign():
    from lrkit.laws.plan import signed

    assert signed(-0.00001) == "+0.0000" and signed(-0.00006) == "-0.0001" and signed(0.0123) == "+0.0123"


def test_the_free_forms_floor_says_where_it_comes_from(lra_fit, tmp_path, capsys):
    """Pilots whose LR goes to 0: the floor is the 1% clamp, and the table says so (it said 'the pilots'
    lowest LR')."""
    from dataclasses import replace

    zero = replace(lra_fit, domain={**lra_fit.domain, "min_multiplier": 0.0})
    zero.to_json(tmp_path / "zero.json")
    code, out, err = run_cli(["plan", str(tmp_path / "zero.json"), "--steps", str(N), "--lr", str(PEAK),
                              "--knots", "8"], capsys)
    assert code == 0, err
    flat = " ".join(out.split())
    assert "at or above 0.01 of the peak LR (the pilots' lowest LR, 0 of the peak, kept within 1%-10%;" in flat, out
