"""A benchmark database is data from elsewhere (docs/security.md): reading it never imports its workload's
code, every field it holds is escaped in the report, hand-edited content is one line naming the trial and
column; a dead sweep's trials are reclaimed even when its process id was reused; a driver killed in its
first second leaves no process behind; sizes beyond the limits are refused before anything is built."""

from __future__ import annotations

import html
import json
import os
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lrkit.bench import Store, Trial, expand, make_executor, sweep
from lrkit.bench.records import RecordError
from lrkit.bench.store import TRIAL_COLUMNS
from lrkit.cli import main

from conftest import TINY, env

PREDICTION = {
    "workload": TINY, "budget": 6, "peak_lr": 0.05, "pilot_steps": 4, "pilot_ids": [], "trial_ids": [1, 2, 3, 4],
    "curves": [{"label": "cosine()", "planned": True, "steps": [0, 2, 4, 5], "loss": [1.0, 0.8, 0.7, 0.6],
                "lower": [0.9, 0.7, 0.6, 0.5], "upper": [1.1, 0.9, 0.8, 0.7]}],
    "planned": "cosine()", "fit": {"law": "multipower", "params": {"L0": 1.0}}}


@pytest.fixture(scope="module")
def base_db(tmp_path_factory) -> Path:
    """Four done trials of the tiny workload (two schedules x two seeds) and a prediction artifact."""
    path = tmp_path_factory.mktemp("security") / "base.db"
    with Store(path) as s:
        rep = sweep(s, expand([TINY], ["cosine()", "linear()"], [0.05], 2, 6, log_every=2),
                    make_executor("local", workers=0))
        assert rep.ran == 4
        s.put_artifact("prediction:tiny", PREDICTION)
    return path


def _copy(base: Path, folder: Path, name: str = "t.db") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    out = folder / name
    shutil.copy(base, out)
    return out


def _sql(db: Path, *statements: str) -> None:
    c = sqlite3.connect(db)
    for s in statements:
        c.execute(s)
    c.commit()
    c.close()


def _unconstrained(db: Path) -> None:
    """Rebuild the trials table without its constraints, as a file built elsewhere may be (NULLs anywhere)."""
    _sql(db, "CREATE TABLE t2 AS SELECT * FROM trials", "DROP TABLE trials", "ALTER TABLE t2 RENAME TO trials")


def _cli(capsys, *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as e:
        main([str(a) for a in args])
    out = capsys.readouterr()
    return e.value.code, out.out, out.err


def _one_line(rc: int, err: str, *needles: str) -> None:
    assert rc == 2, err
    assert err.startswith("lrkit: error:") and len(err.strip().splitlines()) == 1, err
    for n in needles:
        assert n in err, err


# ---------------------------------------------------------------- no code runs on reading
def test_reading_a_database_never_imports_its_workload(base_db, tmp_path):
    db = _copy(base_db, tmp_path)
    marker = tmp_path / "IMPORTED"
    (tmp_path / "evil_workload.py").write_text(f"open({str(marker)!r}, 'w').write('ran')\n"
                                               "def make(seed, steps):\n    raise SystemExit\n")
    _sql(db, "UPDATE trials SET workload = 'evil_workload:make', description = NULL")
    _sql(db, "UPDATE artifacts SET value = json_set(value, '$.workload', 'evil_workload:make')")
    e = env()
    e["PYTHONPATH"] = os.pathsep.join([str(tmp_path), e["PYTHONPATH"]])  # importable from sys.path and the cwd
    for args in (["report", "--db", db, "--out", tmp_path / "r"], ["runs", "--db", db], ["runs", "--db", db, "-f", "csv"],
                 ["export", "1", "--db", db], ["report", "--db", db, "--out", tmp_path / "r2", "--target",
                                               "evil_workload:make=0.5"]):
        r = subprocess.run([sys.executable, "-m", "lrkit", *map(str, args)], cwd=tmp_path, env=e, capture_output=True,
                           text=True, timeout=300)
        assert r.returncode == 0, (args, r.stderr)
        assert not marker.exists(), f"lrkit {args[0]} imported the database's workload"
    page = (tmp_path / "r" / "index.html").read_text()
    assert "evil_workload:make</h2>" in page  # no description stored: the stored name, nothing imported
    # the module does run code when imported, so the test above could fail
    subprocess.run([sys.executable, "-c", "import evil_workload"], cwd=tmp_path, env=e, check=True)
    assert marker.exists()


def test_the_description_is_stored_and_an_older_database_still_reports(base_db, tmp_path, capsys):
    db = _copy(base_db, tmp_path)
    with Store(db, readonly=True) as s:
        assert {r["description"] for r in s.trials()} == {"Noisy linear regression, the tests' tiny workload."}
    rc, _, err = _cli(capsys, "report", "--db", db, "--out", tmp_path / "r")
    assert rc == 0, err
    assert "Noisy linear regression, the tests&#x27; tiny workload." in (tmp_path / "r" / "index.html").read_text()
    # a database written before the column existed (same schema version): read as it is, then migrated
    old = _copy(base_db, tmp_path / "old")
    _sql(old, "ALTER TABLE trials DROP COLUMN description")
    before = old.read_bytes()
    rc, _, err = _cli(capsys, "report", "--db", old, "--out", tmp_path / "r2")
    assert rc == 0, err
    assert f"{html.escape(TINY)}</h2><p class=\"lead\">{html.escape(TINY)} · 6 steps" in \
        (tmp_path / "r2" / "index.html").read_text()
    assert old.read_bytes() == before  # reading wrote nothing
    rc, out, err = _cli(capsys, "runs", "--db", old, "-f", "csv")
    assert rc == 0 and len(out.splitlines()) == 5, err
    with Store(old) as s:  # a write open adds the column; the trials keep their results
        assert "description" in {r[1] for r in s.conn.execute("PRAGMA table_info(trials)")}
        assert [r["status"] for r in s.trials()] == ["done"] * 4 and s.trials()[0]["description"] is None
    with Store(old) as s:  # and once only
        assert sum(r[1] == "description" for r in s.conn.execute("PRAGMA table_info(trials)")) == 1


# ---------------------------------------------------------------- every field escaped
PAYLOADS = {
    "workload": "<script>alert('w')</script>",
    "schedule": '"><img src=x onerror=alert(2)>',
    "description": "<iframe src=javascript:alert(3)>",
    "info key": "<b onmouseover=alert(4)>k</b>",
    "info value": "'><svg onload=alert(5)>",
    "option": "</pre><script>alert(6)</script>",
    "planned": "</pre><script>alert(7)</script>",
    "law": "<img src=y onerror=alert(8)>",
    "param": "<svg/onload=alert(9)>",
    "title": "<script>alert(10)</script>",
    "file": "<i onclick=alert(11)>",
}


def test_every_text_the_database_holds_is_escaped_in_the_report(base_db, tmp_path, capsys):
    P = PAYLOADS
    db = _copy(base_db, tmp_path, f"{P['file']}.db")
    pred = dict(PREDICTION, workload=P["workload"], planned=P["planned"], fit={"law": P["law"], "params": {P["param"]: 1.0}},
                curves=[dict(PREDICTION["curves"][0], label=P["schedule"])])
    _sql(db, f"UPDATE trials SET workload = {_q(P['workload'])}, description = {_q(P['description'])}, "
             f"info = {_q(json.dumps({P['info key']: P['info value']}))}",
         f"UPDATE trials SET schedule = {_q(P['schedule'])} WHERE schedule = 'cosine()'",
         f"UPDATE trials SET options = {_q(json.dumps({'dim': P['option']}))} WHERE id = 4",
         f"UPDATE artifacts SET value = {_q(json.dumps(pred))}")
    rc, _, err = _cli(capsys, "report", "--db", db, "--out", tmp_path / "r", "--title", P["title"])
    assert rc == 0, err
    page = (tmp_path / "r" / "index.html").read_text()
    for where, p in P.items():
        assert p not in page, f"the {where} payload is in the page unescaped"
        assert html.escape(p) in page or html.escape(json.dumps(p)[1:-1]) in page, f"the {where} never reached the page"
    assert page.count("<script>") == 1  # the page's own integrity check only


@pytest.mark.parametrize("field", ["pilot_steps", "budget", "peak_lr", "pilot_ids", "trial_ids", "curves", "fit"])
def test_a_prediction_field_of_the_wrong_kind_is_one_line(base_db, tmp_path, capsys, field):
    db = _copy(base_db, tmp_path)
    _sql(db, f"UPDATE artifacts SET value = json_set(value, '$.{field}', '<script>alert(1)</script>')")
    rc, out, err = _cli(capsys, "report", "--db", db, "--out", tmp_path / "r")
    _one_line(rc, err, "artifact 'prediction:tiny'", field)
    assert not (tmp_path / "r" / "index.html").exists()


def _q(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# ---------------------------------------------------------------- hand-edited content: one line, never a traceback
# (statement, what the error names, whether `runs` and `export 1` read the tampered value)
TAMPERED = [
    ("UPDATE trials SET lr = 'abc' WHERE id = 1", "trial 1, column lr", True, True),
    ("UPDATE trials SET lr = 1e999 WHERE id = 1", "trial 1, column lr", True, True),
    ("UPDATE trials SET schedule = x'00ff' WHERE id = 2", "trial 2, column schedule: a BLOB of 2 bytes", True, False),
    ("UPDATE trials SET seed = NULL WHERE id = 1", "trial 1, column seed", True, True),
    ("UPDATE trials SET workload = NULL WHERE id = 1", "trial 1, column workload", True, True),
    ("UPDATE trials SET steps = 'many' WHERE id = 3", "trial 3, column steps", True, False),
    ("UPDATE trials SET status = 'finished' WHERE id = 1", "trial 1, column status", True, True),
    ("UPDATE trials SET optimizer = 'adam' WHERE id = 1", "trial 1, column optimizer", True, True),
    ("UPDATE trials SET options = '[1, 2]' WHERE id = 1", "trial 1, column options", True, True),
    ("UPDATE trials SET info = 'not json' WHERE id = 1", "trial 1, column info", True, True),
    ("UPDATE trials SET final_val = 'nan' WHERE id = 1", "trial 1, column final_val", True, True),
    ("UPDATE trials SET best_val = 1e999 WHERE id = 1", "trial 1, column best_val", True, True),
    ("UPDATE trials SET diverged = 'yes' WHERE id = 1", "trial 1, column diverged", True, True),
    ("UPDATE trials SET train_time = x'01' WHERE id = 1", "trial 1, column train_time", True, True),
    ("UPDATE points SET loss = 'abc' WHERE trial_id = 1 AND step = 0", "trial 1, a logged point (step 0), column loss",
     False, True),
    ("UPDATE points SET step = 'x' WHERE trial_id = 1 AND step = 1", "trial 1, a logged point, column step", False, True),
    ("UPDATE points SET val_loss = x'01' WHERE trial_id = 1 AND step = 1", "column val_loss", False, True),
    ("UPDATE points SET lr = 1e999 WHERE trial_id = 1 AND step = 1", "column lr", False, True),
    ("UPDATE artifacts SET value = '[1, 2]'", "artifact 'prediction:tiny' is [1, 2]", False, False),
    ("UPDATE artifacts SET value = 'not json'", "artifact 'prediction:tiny' is not valid JSON", False, False),
    ("UPDATE artifacts SET value = json_remove(value, '$.budget')", "has no 'budget'", False, False),
    ("UPDATE artifacts SET value = json_set(value, '$.curves[0].loss', json('[1, 2]'))", "loss has 2 values for 4",
     False, False),
    ("UPDATE artifacts SET value = json_set(value, '$.curves', json('[[1]]'))", "curve 0 is [1]", False, False),
    ("UPDATE artifacts SET value = json_set(value, '$.fit.params.L0', 'x')", "params", False, False),
    ("UPDATE artifacts SET value = json_set(value, '$.fit.flags', json('{\"C\": 1}'))", "flags", False, False),
    ("UPDATE artifacts SET value = json_remove(value, '$.curves[0].lower')", "has no 'lower'", False, False),
]


@pytest.mark.parametrize("statement, needle, in_runs, in_export", TAMPERED, ids=[t[1][:40] for t in TAMPERED])
def test_hand_edited_content_is_one_line(base_db, tmp_path, capsys, statement, needle, in_runs, in_export):
    db = _copy(base_db, tmp_path)
    _unconstrained(db)
    _sql(db, statement)
    rc, _, err = _cli(capsys, "report", "--db", db, "--out", tmp_path / "r")
    _one_line(rc, err, needle)
    for args, reads in ((["runs", "--db", db], in_runs), (["runs", "--db", db, "-f", "csv"], in_runs),
                        (["export", "1", "--db", db], in_export)):
        rc, _, err = _cli(capsys, *args)
        if reads:
            _one_line(rc, err, needle)
        else:
            assert rc == 0, (args, err)


VALUES = st.one_of(st.none(), st.integers(-2**63, 2**63 - 1), st.floats(), st.text(max_size=12), st.binary(max_size=6),
                   st.sampled_from(["{}", "[]", "{\"a\": 1}", "null", "cosine()", "adamw", "done", "0.1"]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(column=st.sampled_from([c for c in TRIAL_COLUMNS if c != "id"]), value=VALUES, point=st.booleans())
def test_any_value_in_any_column_reads_or_is_one_line(base_db, column, value, point):
    """Whatever a column holds, the store's readers return checked rows or raise one line naming it."""
    with tempfile.TemporaryDirectory() as d:
        db = _copy(base_db, Path(d))
        _unconstrained(db)
        c = sqlite3.connect(db)
        if point:
            c.execute(f"UPDATE points SET {('lr', 'loss', 'val_loss', 'grad_norm', 'time')[len(column) % 5]} = ? "
                      "WHERE trial_id = 1", (value,))
        else:
            c.execute(f"UPDATE trials SET {column} = ? WHERE id = 1", (value,))
        c.commit()
        c.close()
        try:
            with Store(db, readonly=True) as s:
                rows = s.trials()
                s.history(1)
                s.counts([r["id"] for r in rows])
                assert all(isinstance(r["label"], str) for r in rows)
        except RecordError as e:
            assert "\n" not in str(e) and "trial 1" in str(e), str(e)


# ---------------------------------------------------------------- a reused process id does not keep a dead sweep's trial
def test_a_dead_sweeps_trial_is_reclaimed_though_its_pid_now_runs_something_else(db):
    host = socket.gethostname()
    live = os.getppid()  # a live process of this host, not a sweep: as after a container restart
    with Store(db, stale_after=60) as s:
        ids = s.add([Trial(TINY, "cosine()", 0.05, seed=i, steps=4) for i in range(2)])
        s.claim(ids[:1], f"{host}:{live}:deadbeef")
        s.claim(ids[1:], f"{host}:{live}:alive000")
        s.conn.execute("UPDATE trials SET heartbeat = heartbeat - 1000 WHERE id = ?", (ids[0],))
        assert s.reclaim(ids, failed=False) == 1
        assert [r["status"] for r in s.trials()] == ["pending", "running"]  # a fresh heartbeat is still alive


# ---------------------------------------------------------------- a driver killed at once leaves nothing behind
def _tagged(tag: bytes) -> dict[int, str]:
    """Live processes whose environment holds ``tag``: pid -> command line."""
    out = {}
    for p in Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            if tag in (p / "environ").read_bytes() and (p / "stat").read_text().rsplit(")", 1)[1].split()[0] not in "ZX":
                out[int(p.name)] = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
        except (OSError, IndexError):
            pass
    return out


@pytest.mark.skipif(not Path("/proc/self/environ").exists(), reason="needs Linux /proc to find the processes")
def test_a_driver_killed_in_its_first_second_leaves_no_process(db):
    tag = uuid.uuid4().hex
    e = env()
    e["LRKIT_TEST_TAG"] = tag
    cmd = [sys.executable, "-m", "lrkit", "bench", "-w", TINY, "-s", "cosine()", "-n", "20", "--seeds", "4",
           "--option", "delay=0.05", "--db", str(db), "--workers", "2", "--threads", "1", "-q"]
    proc = subprocess.Popen(cmd, env=e, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    key = f"LRKIT_TEST_TAG={tag}".encode()
    deadline = time.time() + 60
    while time.time() < deadline:  # kill the driver as soon as its first pool worker is starting
        if any("spawn_main" in c for p, c in _tagged(key).items() if p != proc.pid):
            break
        assert proc.poll() is None, "the sweep ended before its workers started"
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    t0 = time.time()
    while time.time() - t0 < 30 and _tagged(key):
        time.sleep(0.1)
    left = _tagged(key)
    for p in left:  # do not leave them to the next test
        os.kill(p, signal.SIGKILL)
    assert not left, f"left behind: {left}"


# ---------------------------------------------------------------- limits, refused before anything is built
@pytest.mark.parametrize("args, needle", [
    (["--seeds", "100000000"], "--seeds must be at most 10,000"),
    (["-n", "1000000000"], "--steps must be at most 100,000,000"),
    (["--log-every", "99999999999999999999999"], "--log-every must be an integer between 0 and"),
    (["--seeds", "10000", "--lr", "0.01", "--lr", "0.02", "--lr", "0.03"],
     "30,000 trials (1 workloads x 1 schedules x 1 optimizers x 3 LRs x 10,000 seeds); at most 20,000"),
])
def test_sizes_beyond_the_limits_are_refused_up_front(db, capsys, args, needle):
    rc, _, err = _cli(capsys, "bench", "-w", TINY, "-s", "cosine()", "-n", "10", "--db", db, "--workers", "0", *args)
    _one_line(rc, err, needle)
    assert not db.exists()
