"""`lrkit bench`, `lrkit runs`, `lrkit export` end to end, as users run them; the export feeds `lrkit fit`."""

from __future__ import annotations

import csv
import io

from lrkit.runs import load_run

from conftest import TINY, lrkit


def test_bench_runs_export_fit(db, tmp_path):
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "-s", "constant(warmup=2)", "-n", "40", "--seeds", "2",
              "--lr", "0.05", "--lr", "0.1", "--log-every", "4", "--db", str(db), "--workers", "0")
    assert r.returncode == 0, r.stderr
    assert "target val loss" in r.stdout and "8 trials run, 0 already done" in r.stdout
    assert "steps to target" in r.stdout
    r = lrkit("runs", "--db", str(db), "--format", "csv")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout)))
    assert len(rows) == 8
    assert {"workload", "schedule", "seed", "status", "lr", "optimizer", "final_val_loss"} <= set(rows[0])
    assert {x["status"] for x in rows} == {"done"} and {x["seed"] for x in rows} == {"0", "1"}
    assert {x["schedule"] for x in rows} == {"cosine(warmup=2)", "constant(warmup=2)"}
    table = lrkit("runs", "--db", str(db))
    assert table.returncode == 0 and "done" in table.stdout
    # export a trial as a run CSV; lrkit's loader and `lrkit fit` read it
    out = tmp_path / "run.csv"
    r = lrkit("export", rows[0]["id"], "--db", str(db), "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text().splitlines()[0] == "step,lr,loss,val_loss,grad_norm"
    run = load_run(out)
    assert run.last_step == 39 and run.val_loss is not None and run.grad_norm is not None
    val = tmp_path / "val.csv"
    assert lrkit("export", rows[2]["id"], "--db", str(db), "-o", str(val), "--loss", "val").returncode == 0
    # (a 40-step toy run: the law does not describe it, which fit refuses since issue 13 unless --force)
    fit = lrkit("fit", str(out), str(val), "--law", "lra", "--out", str(tmp_path / "fit.json"), "--force")
    assert fit.returncode == 0, fit.stderr
    assert (tmp_path / "fit.json").is_file()
    # a second identical sweep runs nothing
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "-n", "40", "--seeds", "2", "--lr", "0.05", "--log-every", "4",
              "--db", str(db), "--workers", "0", "-q")
    assert r.returncode == 0 and "0 trials run, 2 already done" in r.stdout


def test_bench_errors_are_one_line_exit_2(db):
    cases = [
        ("bench", "-w", "nope", "-s", "cosine()", "-n", "10", "--db", str(db)),
        ("bench", "-w", TINY, "-s", "cosine(floor=-1)", "-n", "10", "--db", str(db)),
        ("bench", "-w", TINY, "-s", "cosine()", "-n", "10", "--lr", "-1", "--db", str(db)),
        ("bench", "-w", TINY, "-s", "cosine()", "-n", "10", "--seeds", "0", "--db", str(db)),
        ("bench", "-w", TINY, "-s", "cosine()", "-n", "10", "--option", "oops", "--db", str(db)),
        ("bench", "-w", "digits-mlp", "-s", "cosine()", "-n", "10", "--option", "hiden=3", "--db", str(db)),
        ("runs", "--db", str(db.parent / "missing.db")),
        ("export", "7", "--db", str(db.parent / "missing.db")),
        ("report", "--db", str(db.parent / "missing.db")),
    ]
    for args in cases:
        r = lrkit(*args)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert r.stderr.startswith("lrkit: error:") and len(r.stderr.strip().splitlines()) == 1, (args, r.stderr)
        assert r.stderr.count("(see: ") <= 1, r.stderr
    r = lrkit("bench", "-w", "digits-mlp", "-s", "cosine()", "-n", "10", "--option", "hiden=3", "--db", str(db))
    assert "workload digits-mlp has no option 'hiden'; its options: hidden, batch_size" in r.stderr


def test_not_a_database_is_one_line(tmp_path):
    p = tmp_path / "x.db"
    p.write_text("this is not sqlite " * 100)
    r = lrkit("runs", "--db", str(p))
    assert r.returncode == 2 and "not an lrkit benchmark database" in r.stderr
