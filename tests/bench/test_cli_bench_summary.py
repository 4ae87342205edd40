"""`lrkit bench`'s summary: the workload's trials already in the database are scored with this sweep's
(docs/benchmark.md's "baseline in the same database"), a diverged reference sets no target."""

from __future__ import annotations

import math

from conftest import TINY, lrkit


def test_a_baseline_run_later_is_scored_with_the_trials_already_in_the_database(db):
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "-s", "linear(warmup=2)", "--lr", "0.003", "-n", "20",
              "--workers", "0", "--db", str(db))
    assert r.returncode == 0, r.stderr
    r = lrkit("bench", "-w", TINY, "-s", "constant(warmup=2)", "--optimizer", "sfadamw", "--lr", "0.003", "-n", "20",
              "--workers", "0", "--db", str(db))
    assert r.returncode == 0, r.stderr
    table = r.stdout.split("┃ method", 1)[1]
    for method in ("cosine(warmup=2)", "linear(warmup=2)", "schedule-free AdamW"):
        assert method in table, r.stdout
    assert "target val loss" in r.stdout and "(from cosine(warmup=2))" in r.stdout  # the first sweep's reference
    assert "include 2 trials of earlier sweeps" in r.stdout and "1 trials run" in r.stdout
    # another budget is another problem: not mixed in
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "--lr", "0.003", "-n", "24", "--workers", "0",
              "--db", str(db))
    assert r.returncode == 0 and "linear(warmup=2)" not in r.stdout and "earlier sweeps" not in r.stdout


def test_the_reference_may_be_a_method_of_an_earlier_sweep(db):
    assert lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "--lr", "0.003", "-n", "20", "--workers", "0",
                 "--db", str(db)).returncode == 0
    r = lrkit("bench", "-w", TINY, "-s", "linear(warmup=2)", "--lr", "0.003", "-n", "20", "--workers", "0",
              "--db", str(db), "--reference", "cosine(warmup=2)")
    assert r.returncode == 0, r.stderr
    assert "(from cosine(warmup=2))" in r.stdout
    r = lrkit("bench", "-w", TINY, "-s", "linear(warmup=2)", "--lr", "0.003", "-n", "20", "--workers", "0",
              "--db", str(db), "--reference", "rex()")
    assert r.returncode == 2 and "none of the methods of this sweep" in r.stderr and "cosine(warmup=2)" in r.stderr


def _trial(i, label, lr, vals, diverged=False, finished=None, wall=None):
    row = {"id": i, "workload": "w", "steps": 30, "options": "{}", "label": label, "lr": lr, "seed": 0,
           "status": "done", "final_val": None if diverged else vals[-1], "best_val": min(vals), "init_val": 3.0,
           "diverged": int(diverged), "finished": finished, "wall_time": wall}
    return row, {"step": [9.0, 19.0, 29.0][:len(vals)], "val_loss": list(vals), "time": [1.0, 2.0, 3.0][:len(vals)]}


def test_no_target_from_a_diverged_run_of_the_reference():
    from lrkit.bench.scoring import score_trials

    # the reference's LR 1.0 diverged after a lucky early evaluation (best 0.5): that is no target
    data = [_trial(1, "ref", 1.0, [0.5, 1.2e10], diverged=True), _trial(2, "ref", 0.1, [2.0, 1.5, 1.2]),
            _trial(3, "b", 0.1, [1.9, 1.3, 1.1])]
    s = score_trials([r for r, _ in data], {r["id"]: h for r, h in data}, reference="ref")
    assert s.targets["w"] == 1.2 and s.reference_diverged["w"] == 1
    only = [_trial(1, "ref", 1.0, [0.5, 1.2e10], diverged=True), _trial(3, "b", 0.1, [1.9, 1.3, 1.1])]
    s = score_trials([r for r, _ in only], {r["id"]: h for r, h in only}, reference="ref")
    assert math.isnan(s.targets["w"])
    assert next(m for m in s.methods["w"] if m.label == "ref").diverged == 1


def test_bench_says_the_reference_diverged_and_sets_no_target(db, tmp_path):
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "--lr", "30", "-n", "20", "--workers", "0", "--db", str(db))
    assert r.returncode == 0, r.stderr
    r = lrkit("bench", "-w", TINY, "-s", "constant(warmup=2)", "--lr", "0.003", "-n", "20", "--workers", "0",
              "--db", str(db))
    assert r.returncode == 0, r.stderr
    text = " ".join(r.stdout.split())
    assert "no target: every run of cosine(warmup=2) diverged" in text and "target val loss" not in text
    assert "diverged │" in r.stdout  # the method's row says so too
    assert lrkit("report", "--db", str(db), "--out", str(tmp_path / "r")).returncode == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "every run of <code>cosine(warmup=2)</code> diverged" in page


def test_report_labels_cpu_time_as_a_sum_and_shows_wall_time(db, tmp_path):
    from lrkit.report.html import busy_seconds

    # two trials side by side (0-10 s, 5-12 s) and one later (100-103 s): 15 s of wall time, 25 s of CPU
    rows = [_trial(1, "a", 0.1, [1.0], finished=10.0, wall=10.0)[0], _trial(2, "a", 0.1, [1.0], finished=12.0, wall=7.0)[0],
            _trial(3, "a", 0.1, [1.0], finished=103.0, wall=3.0)[0]]
    assert busy_seconds(rows) == 15.0
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "--lr", "0.003", "-n", "20", "--workers", "0",
              "--db", str(db), "-q")
    assert r.returncode == 0, r.stderr
    assert lrkit("report", "--db", str(db), "--out", str(tmp_path / "r")).returncode == 0
    page = (tmp_path / "r" / "index.html").read_text()
    assert "CPU time (sum over workers)" in page and ">wall time<" in page and ">training time<" not in page


def test_help_and_docs_say_a_later_sweep_keeps_the_first_sweeps_reference():
    """`--schedule`'s help said "the first is the reference" while a later sweep in the same database keeps
    the first sweep's (test_a_baseline_run_later_is_scored_with_the_trials_already_in_the_database)."""
    from pathlib import Path

    r = lrkit("bench", "--help")
    assert "then the first of the first sweep" in " ".join(r.stdout.split()), r.stdout
    docs = (Path(__file__).resolve().parents[2] / "docs" / "benchmark.md").read_text()
    assert "`--schedule` of the first sweep of the problem in the database, or `--reference`" in " ".join(docs.split())
