"""The store: no duplicates, atomic results, a sweep killed with SIGKILL restarts cleanly, concurrent sweeps."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from lrkit.bench import Store, Trial, expand, make_executor, sweep

from conftest import TINY, env


def _trials(n: int = 3, steps: int = 6) -> list[Trial]:
    return [Trial(TINY, "cosine()", 0.05, "adamw", seed=s, steps=steps, log_every=2) for s in range(n)]


def _result(steps=(0, 1, 3, 5)) -> dict:
    h = {"step": list(steps), "lr": [0.1] * len(steps), "loss": [1.0] * len(steps), "val_loss": [float("nan")] + [0.5] * (len(steps) - 1),
         "grad_norm": [1.0] * len(steps), "time": [0.1] * len(steps)}
    return {"history": h, "summary": {"final_val": 0.5, "best_val": 0.5, "init_val": 2.0, "diverged": False}}


def test_add_is_idempotent_and_keys_are_stable(db):
    ts = _trials()
    with Store(db) as s:
        ids = s.add(ts)
        assert s.add(ts + ts) == ids + ids
        assert len(s.trials()) == 3
        assert s.conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    # equal specs written differently are one trial
    a = expand([TINY], ["wsd(decay=0.2)"], [0.05], 1, 10)[0]
    b = expand([TINY], ["wsd( decay = 0.2 )"], [0.05], 1, 10)[0]
    assert a.key == b.key and a.schedule == b.schedule


def test_claim_is_exclusive_between_connections(db):
    with Store(db) as s1, Store(db) as s2:
        ids = s1.add(_trials(6))
        got1 = s1.claim(ids, "h:1:a", limit=4)
        got2 = s2.claim(ids, "h:2:b", limit=4)
        assert len(got1) == 4 and len(got2) == 2
        assert not {t for t, _ in got1} & {t for t, _ in got2}
        assert s1.claim(ids, "h:1:a", limit=4) == []


def test_finish_is_atomic_and_once(db):
    with Store(db) as s:
        (tid,) = s.add(_trials(1))
        s.claim([tid], "me:1:x")
        assert s.finish(tid, _result())
        assert not s.finish(tid, _result(steps=(0, 2)))  # already done: nothing written
        h = s.history(tid)
        assert h["step"] == [0, 1, 3, 5] and str(h["val_loss"][0]) == "nan"
        row = s.trials(ids=[tid])[0]
        assert row["status"] == "done" and row["final_val"] == 0.5


def test_finish_rolls_back_on_error(db):
    with Store(db) as s:
        (tid,) = s.add(_trials(1))
        s.claim([tid], "me:1:x")
        bad = _result(steps=(0, 0))  # duplicate step: the primary key refuses it
        with pytest.raises(sqlite3.IntegrityError):
            s.finish(tid, bad)
        assert s.trials(ids=[tid])[0]["status"] == "running" and s.history(tid)["step"] == []


def test_reclaim_dead_owner_stale_heartbeat_and_failed(db):
    import socket

    host = socket.gethostname()
    with Store(db, stale_after=60) as s:
        ids = s.add(_trials(4))
        s.claim(ids[:1], f"{host}:999999999:dead")            # this host, process gone
        s.claim(ids[1:2], f"{host}:{os.getpid()}:alive")     # this host, alive
        s.claim(ids[2:3], "elsewhere:1:x")                   # another machine, fresh heartbeat
        s.claim(ids[3:4], "me:1:x")
        s.fail(ids[3], "boom")
        assert s.reclaim(ids, failed=False) == 1
        assert [r["status"] for r in s.trials()] == ["pending", "running", "running", "failed"]
        s.conn.execute("UPDATE trials SET heartbeat = heartbeat - 1000 WHERE id = ?", (ids[2],))
        assert s.reclaim(ids, failed=True) == 2
        assert [r["status"] for r in s.trials()] == ["pending", "running", "pending", "pending"]


def test_sweep_inline_runs_each_once_and_skips_done(db):
    ts = _trials(3)
    with Store(db) as s:
        rep = sweep(s, ts, make_executor("local", workers=0))
        assert rep.ran == 3 and rep.already_done == 0
        rep = sweep(s, ts + _trials(4)[3:], make_executor("local", workers=0))
        assert rep.ran == 1 and rep.already_done == 3
        assert all(r["attempts"] == 1 and r["status"] == "done" for r in s.trials())


def test_a_failing_trial_is_recorded_and_retried_next_time(db):
    bad = Trial(TINY, "cosine()", 0.05, "adamw", 0, 6, 2, {"dim": -1})
    with Store(db) as s:
        rep = sweep(s, [bad] + _trials(1), make_executor("local", workers=0))
        assert rep.failed == 1 and rep.ran == 1 and "trial" in rep.errors[0]
        assert [r["status"] for r in s.trials()] == ["failed", "done"]
        rep = sweep(s, [bad], make_executor("local", workers=0))
        assert rep.failed == 1 and s.trials()[0]["attempts"] == 2


def _children(pid: int) -> list[int]:
    out = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            out += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            pass
    return out


def _gone(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


BENCH = ["-m", "lrkit", "bench", "-w", TINY, "-s", "cosine()", "-s", "wsd(decay=0.3)", "-n", "20", "--seeds", "4",
         "--log-every", "5", "--option", "delay=0.03", "-q"]


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="needs Linux /proc to find the pool's workers")
def test_sweep_killed_with_sigkill_restarts_without_losing_or_duplicating(db):
    cmd = [sys.executable, *BENCH, "--db", str(db), "--workers", "2", "--threads", "1"]
    proc = subprocess.Popen(cmd, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    done = 0
    workers: set[int] = set()
    while time.time() < deadline and done < 3:
        time.sleep(0.1)
        workers |= set(_children(proc.pid))
        if db.exists():
            try:
                with Store(db) as s:
                    done = s.counts([r["id"] for r in s.trials()])["done"]
            except ValueError:
                pass
        assert proc.poll() is None, proc.communicate()
    assert done >= 3, "the sweep did not finish 3 trials in time"
    workers |= set(_children(proc.pid))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    with Store(db) as s:
        before = {r["id"]: r for r in s.trials()}
        statuses = [r["status"] for r in before.values()]
        assert len(before) == 8 and statuses.count("done") >= 3 and statuses.count("done") < 8
        for r in before.values():  # every done trial has its whole history, nothing else has any
            n = len(s.history(r["id"])["step"])
            assert n == (5 if r["status"] == "done" else 0), r
    # the pool's workers die with the sweep (PR_SET_PDEATHSIG)
    t0 = time.time()
    while time.time() - t0 < 10 and not all(_gone(p) for p in workers):
        time.sleep(0.1)
    assert workers and all(_gone(p) for p in workers)
    # restart: reruns the unfinished only
    r2 = subprocess.run(cmd, env=env(), capture_output=True, text=True, timeout=300)
    assert r2.returncode == 0, r2.stderr
    with Store(db) as s:
        after = {r["id"]: r for r in s.trials()}
        assert len(after) == 8 and all(r["status"] == "done" for r in after.values())
        for tid, r in before.items():
            if r["status"] == "done":  # kept, not rerun
                assert after[tid]["finished"] == r["finished"] and after[tid]["attempts"] == 1
        n_points = s.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0]
        assert n_points == 8 * 5
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    assert f"{8 - statuses.count('done')} trials run, {statuses.count('done')} already done" in r2.stdout


def test_two_sweeps_on_one_database_at_once(db):
    """Two processes sweep overlapping trial sets on one file at the same time: every trial runs once."""
    base = [sys.executable, "-m", "lrkit", "bench", "-w", TINY, "-n", "12", "--log-every", "3", "--option", "delay=0.005",
            "--db", str(db), "--workers", "0", "-q"]
    a = base + ["-s", "cosine()", "-s", "linear()", "--seeds", "6"]
    b = base + ["-s", "linear()", "-s", "constant()", "--seeds", "6"]
    pa = subprocess.Popen(a, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    pb = subprocess.Popen(b, env=env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    oa, ea = pa.communicate(timeout=300)
    ob, eb = pb.communicate(timeout=300)
    assert pa.returncode == 0 and pb.returncode == 0, (ea, eb)
    with Store(db) as s:
        rows = s.trials()
        assert len(rows) == 18 and all(r["status"] == "done" for r in rows)
        assert all(r["attempts"] == 1 for r in rows)   # nobody ran a trial twice
        assert s.conn.execute("SELECT COUNT(*) FROM points").fetchone()[0] == 18 * 5
        assert s.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
