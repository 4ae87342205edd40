"""Bad input and edge cases of the harness: foreign or newer databases, odd ids and options, diverged
sweeps, misbehaving workloads. Each ends in one clear line (exit code 2 from the CLI) and loses nothing."""

from __future__ import annotations

import math
import sqlite3

import pytest

from lrkit.bench import Store, Trial
from lrkit.bench.runner import work
from lrkit.bench.scoring import score_trials

from conftest import TINY, lrkit


def _one_line(r, *needles):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.startswith("lrkit: error:") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    for n in needles:
        assert n in r.stderr, r.stderr


def _bench(db, *args):
    return lrkit("bench", "-w", TINY, "-s", "cosine()", "-n", "6", "--workers", "0", "--db", str(db), "-q", *args)


# ---------------------------------------------------------------- the store
def test_foreign_and_newer_databases_are_refused_untouched(tmp_path):
    foreign = tmp_path / "foreign.db"
    c = sqlite3.connect(foreign)
    c.execute("CREATE TABLE people (name TEXT)")
    c.commit()
    c.close()
    newer = tmp_path / "newer.db"
    c = sqlite3.connect(newer)
    c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    c.execute("INSERT INTO meta VALUES ('schema', '99')")
    c.commit()
    c.close()
    for path, needle in ((foreign, "not an lrkit benchmark database (it has tables people"), (newer, "newer lrkit (schema 99")):
        before = path.read_bytes()
        for readonly in (False, True):
            with pytest.raises(ValueError, match=needle.replace("(", r"\(")):
                Store(path, readonly=readonly)
        assert path.read_bytes() == before  # no lrkit tables, no WAL mode written into someone else's file
        _one_line(_bench(path), needle)
        assert path.read_bytes() == before


def test_readonly_store_writes_nothing(db, tmp_path):
    with Store(db) as s:
        s.add([Trial(TINY, "cosine()", 0.05, steps=4)])
    before = db.read_bytes()
    with Store(db, readonly=True) as s:
        assert len(s.trials()) == 1
        with pytest.raises(sqlite3.OperationalError, match="readonly"):
            s.add([Trial(TINY, "linear()", 0.05, steps=4)])
    assert db.read_bytes() == before
    empty = tmp_path / "empty.db"
    empty.touch()
    with pytest.raises(ValueError, match="an empty file"):
        Store(empty, readonly=True)


# ---------------------------------------------------------------- lrkit runs / export / report
def test_odd_ids_filters_and_paths_are_one_line(db, tmp_path):
    assert _bench(db).returncode == 0
    _one_line(lrkit("export", "99999999999999999999", "--db", str(db)), "no trial 99999999999999999999")
    _one_line(lrkit("export", "-1", "--db", str(db)), "no trial -1")
    _one_line(lrkit("export", "1", "--db", str(db), "-o", str(tmp_path)), "is a folder")
    _one_line(lrkit("runs", "--db", str(db), "-w", "nope"), "no trials of workload 'nope'", TINY)
    (tmp_path / "file").touch()
    _one_line(lrkit("report", "--db", str(db), "--out", str(tmp_path / "file")), "is a file")
    for t in ("nope=1.0", f"{TINY}=nan", "=1"):
        _one_line(lrkit("report", "--db", str(db), "--out", str(tmp_path / "r"), "--target", t), "target")


def test_bench_refuses_unknown_reference_and_options_before_running(db):
    _one_line(_bench(db, "--reference", "wsd()"), "'wsd()' is none of the methods of this sweep: cosine()")
    _one_line(_bench(db, "--option", "dim=b'x'"), "--option", "got bytes")
    assert not db.exists() or not Store(db).trials()  # nothing ran


def test_only_failed_trials_report_says_so(db, tmp_path):
    r = lrkit("bench", "-w", "lrkit_test_workloads:exits", "-s", "cosine()", "-n", "4", "--workers", "0", "--db", str(db), "-q")
    assert r.returncode == 1 and "the workload called sys.exit(3)" in r.stderr  # a failed trial, not a silent exit 3
    _one_line(lrkit("report", "--db", str(db), "--out", str(tmp_path / "r")), "1 failed", "lrkit runs")


def test_all_diverged_sweep_has_no_target_and_no_nan(db, tmp_path):
    r = lrkit("bench", "-w", "lrkit_test_workloads:nan_loss", "-s", "cosine()", "-s", "linear()", "-n", "4",
              "--workers", "0", "--db", str(db), "-q")
    assert r.returncode == 0, r.stderr
    assert "no target" in r.stdout and "loss nan" not in r.stdout
    assert lrkit("report", "--db", str(db), "--out", str(tmp_path / "r")).returncode == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "no target" in page and "<b>nan" not in page


# ---------------------------------------------------------------- scoring
def _row(i, label, best=0.5):
    return dict(id=i, label=label, lr=0.1, best_val=best, final_val=best, init_val=2.0, workload="w", steps=10,
                options="{}", status="done")


def test_scoring_refuses_what_it_cannot_score():
    hist = {1: {"step": [0, 1], "val_loss": [1.0, 0.5], "time": [0.1, 0.2]}}
    with pytest.raises(ValueError, match="no finished trials"):
        score_trials([], {}, reference="x")
    with pytest.raises(ValueError, match="target nope"):
        score_trials([_row(1, "a")], hist, targets={"nope": 1.0})
    with pytest.raises(ValueError, match="finite"):
        score_trials([_row(1, "a")], hist, targets={"w": math.nan})
    with pytest.raises(ValueError, match="reference 'zzz'"):
        score_trials([_row(1, "a")], hist, reference={"w": "zzz"})


# ---------------------------------------------------------------- workloads
@pytest.mark.parametrize("name, needle", [
    ("bad_model", "model is int; expected a torch.nn.Module"),
    ("float_loss", "loss(model, batch) returned float 1.0; expected a scalar tensor"),
    ("exits", "the workload called sys.exit(3)"),
])
def test_misbehaving_workloads_fail_the_trial_clearly(name, needle):
    res = work(Trial(f"lrkit_test_workloads:{name}", "cosine()", 0.05, steps=3).to_dict(), 1)
    assert not res["ok"] and needle in res["error"].splitlines()[0]


def test_bad_default_lr_names_the_workload(db):
    _one_line(lrkit("bench", "-w", "lrkit_test_workloads:bad_default_lr", "-s", "cosine()", "-n", "4", "--db", str(db)),
              "its default_lr 'fast' is not a positive number; give --lr")


def test_long_specs_are_cut_in_the_report(tmp_path):
    from lrkit.report.html import _name

    spec = "piecewise(points=[" + ", ".join(f"({i / 100}, 1.0)" for i in range(10, 60)) + ", (1.0, 0.0)])"
    html = _name(spec, {})
    assert len(html) < len(spec) * 1.5 + 200 and f'title="{spec}"' in html and "…" in html
