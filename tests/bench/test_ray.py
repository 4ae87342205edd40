"""The Ray backend on a local cluster: same trials, same histories as the local pool."""

from __future__ import annotations

import pytest

from lrkit.bench import Store, expand, make_executor, sweep

from conftest import TINY, lrkit

ray = pytest.importorskip("ray", reason="ray is not installed (pip install ray)")


def test_ray_backend_matches_local(tmp_path):
    trials = expand([TINY], ["cosine(warmup=2)", "linear()"], [0.05], 2, 12, log_every=3)
    r = lrkit("bench", "-w", TINY, "-s", "cosine(warmup=2)", "-s", "linear()", "--lr", "0.05", "-n", "12", "--seeds", "2",
              "--log-every", "3", "--db", str(tmp_path / "ray.db"), "--backend", "ray", "--workers", "2", timeout=300)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "4 trials run" in r.stdout
    with Store(tmp_path / "local.db") as s:
        sweep(s, trials, make_executor("local", workers=0, threads=1))
        local = {row["key"]: s.history(row["id"]) for row in s.trials()}
    with Store(tmp_path / "ray.db") as s:
        rows = s.trials()
        assert len(rows) == 4 and all(x["status"] == "done" for x in rows)
        for row in rows:
            h = s.history(row["id"])
            want = local[row["key"]]
            assert {k: v for k, v in h.items() if k != "time"} == {k: v for k, v in want.items() if k != "time"}


def test_unknown_backend_is_refused(tmp_path):
    r = lrkit("bench", "-w", TINY, "-s", "cosine()", "-n", "5", "--db", str(tmp_path / "x.db"), "--backend", "spark")
    assert r.returncode == 2 and "spark" in r.stderr
