"""`lrkit bench`'s summary: the workload's trials already in the database are scored with this sweep's
(docs/benchmark.md's "baseline in the same database"), a diverged reference sets no target."""

from __future__ import annotations

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
