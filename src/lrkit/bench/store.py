"""The SQLite store of trials and their histories.

Guarantees (tested by killing a sweep with SIGKILL and by running two sweeps on one file at once):

* **No duplicates.** Every trial has a unique key (a hash of what it computes); adding a trial that
  is already there is a no-op.
* **Atomic results.** A trial's whole history and its ``done`` status are written in one transaction,
  so a sweep killed at any moment leaves each trial either done with its full history or not done.
* **Restart.** A trial claimed by a sweep that died (no heartbeat for ``stale_after`` seconds, or, on
  this host, its process is gone) is claimable again; a restarted sweep reruns exactly the
  unfinished.  The heartbeat counts on this host too: a restarted container reuses process ids, so
  a live process with the dead sweep's id proves nothing.
* **Concurrent sweeps.** WAL journal, ``BEGIN IMMEDIATE`` write transactions and a busy timeout; a
  trial is claimed by one atomic ``UPDATE ... WHERE status = 'pending'``, so two sweeps never run it twice.
* **Data, not code.** Reading a database imports, unpickles and evaluates nothing; every value read
  is checked (:mod:`lrkit.bench.records`), so a hand-edited or damaged file ends as one line naming
  the trial and column.  The workload's description is stored with the trial when it runs, so a
  report never needs the workload's code (see docs/security.md).
"""

from __future__ import annotations

import json
import math
import os
import socket
import sqlite3
import time
import urllib.parse
import uuid
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

from . import records
from .records import STATUSES
from .trial import HISTORY_FIELDS, Trial

#: Version 1 gained the nullable ``description`` column; a version-1 file without it is migrated on
#: the first write (``ALTER TABLE ... ADD COLUMN``) and read as it is (no description: the name is shown).
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS trials (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    key TEXT NOT NULL UNIQUE,
    workload TEXT NOT NULL,
    options TEXT NOT NULL DEFAULT '{}',
    schedule TEXT NOT NULL,
    lr REAL NOT NULL,
    optimizer TEXT NOT NULL,
    seed INTEGER NOT NULL,
    steps INTEGER NOT NULL,
    log_every INTEGER NOT NULL,
    status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'done', 'failed')),
    owner TEXT,
    heartbeat REAL,
    attempts INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    finished REAL,
    final_val REAL,
    best_val REAL,
    init_val REAL,
    final_loss REAL,
    diverged INTEGER,
    train_time REAL,
    wall_time REAL,
    error TEXT,
    info TEXT,
    description TEXT
);
CREATE INDEX IF NOT EXISTS trials_status ON trials (status);
CREATE TABLE IF NOT EXISTS points (
    trial_id INTEGER NOT NULL REFERENCES trials (id) ON DELETE CASCADE,
    step INTEGER NOT NULL,
    lr REAL,
    loss REAL,
    val_loss REAL,
    grad_norm REAL,
    time REAL,
    PRIMARY KEY (trial_id, step)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS artifacts (key TEXT PRIMARY KEY, value TEXT NOT NULL, updated REAL NOT NULL);
"""

TRIAL_COLUMNS = ("id", "key", "workload", "options", "schedule", "lr", "optimizer", "seed", "steps", "log_every",
                 "status", "owner", "heartbeat", "attempts", "created", "finished", "final_val", "best_val",
                 "init_val", "final_loss", "diverged", "train_time", "wall_time", "error", "info", "description")
#: Columns added to the ``trials`` table since version 1 was first written: added by ``_migrate``.
ADDED_COLUMNS = {"description": "TEXT"}


def new_owner() -> str:
    """An id for one sweep process: host, pid and a random suffix."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def _owner_alive(owner: str | None) -> bool:
    """False only when the owner is on this host and its process is gone."""
    if not owner:
        return False
    parts = owner.split(":")
    if len(parts) < 3 or parts[0] != socket.gethostname():
        return True  # another machine: only the heartbeat can tell
    try:
        pid = int(parts[1])
    except ValueError:
        return False
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie (killed but not reaped by its parent) is gone too
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


def _num(x: Any) -> float | None:
    """Floats for SQLite: NaN and infinities are stored as NULL (not a value)."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


class Store:
    """A benchmark database (one SQLite file). Safe to open from several processes at once."""

    def __init__(self, path: str | os.PathLike, timeout: float = 60.0, stale_after: float = 120.0,
                 readonly: bool = False) -> None:
        """Open (in write mode: create) the database at ``path``; ``readonly`` opens an existing one for
        reading only and writes nothing (a read-only file or folder is fine then)."""
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"{self.path}: is a folder; give a database file path")
        if not self.path.parent.exists():
            raise ValueError(f"{self.path}: folder {self.path.parent} does not exist")
        if readonly and not self.path.is_file():
            raise ValueError(f"{self.path}: no such database")
        self.stale_after = stale_after
        self.readonly = readonly
        self.conn: sqlite3.Connection | None = None
        try:
            self.conn = self._connect(timeout)
            self.conn.execute(f"PRAGMA busy_timeout = {int(timeout * 1000)}")
            fresh = self._check_schema()  # before anything is written: never touch a foreign or newer file
            if not readonly:
                self._create(fresh)
        except (sqlite3.DatabaseError, ValueError) as e:
            if self.conn is not None:
                self.conn.close()
            if isinstance(e, ValueError):
                raise
            raise ValueError(self._explain(e)) from None

    def _connect(self, timeout: float) -> sqlite3.Connection:
        kw: dict[str, Any] = {"timeout": timeout, "isolation_level": None, "check_same_thread": False}
        if not self.readonly:
            return sqlite3.connect(str(self.path), **kw)
        uri = "file:" + urllib.parse.quote(str(self.path.resolve()))
        conn = sqlite3.connect(uri + "?mode=ro", uri=True, **kw)
        try:
            conn.execute("SELECT name FROM sqlite_master LIMIT 1").fetchall()
            return conn
        except sqlite3.OperationalError:
            conn.close()
            # a read-only folder: SQLite cannot make the -shm file. With no -wal file nobody can be
            # writing here, so the file alone is the whole database.
            if os.access(self.path.parent, os.W_OK) or Path(f"{self.path}-wal").exists():
                raise
            return sqlite3.connect(uri + "?mode=ro&immutable=1", uri=True, **kw)

    def _check_schema(self) -> bool:
        """Refuse a file that is not lrkit's or is from a newer lrkit; True if it has no tables yet."""
        tables = {r[0] for r in self.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not tables:
            if self.readonly:
                raise ValueError(f"{self.path}: an empty file, not an lrkit benchmark database")
            return True
        row = self.conn.execute("SELECT value FROM meta WHERE key = 'schema'").fetchone() if "meta" in tables else None
        if row is None:
            names = ", ".join(sorted(tables)[:5]) + (", ..." if len(tables) > 5 else "")
            raise ValueError(f"{self.path}: not an lrkit benchmark database (it has tables {names}, not lrkit's)")
        try:
            version = int(row[0])
        except (TypeError, ValueError):
            raise ValueError(f"{self.path}: not an lrkit benchmark database (schema version {row[0]!r})") from None
        if version > SCHEMA_VERSION:
            raise ValueError(f"{self.path}: written by a newer lrkit (schema {version}; this lrkit reads "
                             f"{SCHEMA_VERSION}); upgrade lrkit")
        if "trials" not in tables:
            raise ValueError(f"{self.path}: not an lrkit benchmark database (no trials table)")
        return False

    def _create(self, fresh: bool) -> None:
        """WAL mode and the tables (a no-op when they exist); fails at once if the file cannot be written."""
        mode = self.conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":  # pragma: no cover - e.g. a network file system
            raise ValueError(f"{self.path}: SQLite cannot use WAL mode here (got {mode!r})")
        self.conn.execute("PRAGMA synchronous = NORMAL")
        self.conn.execute("PRAGMA foreign_keys = ON")
        with self.transaction():
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self.conn.execute(stmt)  # IF NOT EXISTS: a no-op when the tables exist
            if fresh:
                self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (str(SCHEMA_VERSION),))
            else:  # a real write: a read-only file or folder fails here, not in the middle of a sweep
                self.conn.execute("UPDATE meta SET value = value WHERE key = 'schema'")
            self._migrate()

    def _migrate(self) -> None:
        """Add the columns a database written by an earlier lrkit of this schema version lacks (inside the
        opening transaction, so two sweeps opening one old file at once add each column once)."""
        have = {r[1] for r in self.conn.execute("PRAGMA table_info(trials)")}
        for name, kind in ADDED_COLUMNS.items():
            if name not in have:
                self.conn.execute(f"ALTER TABLE trials ADD COLUMN {name} {kind}")

    def _explain(self, e: sqlite3.DatabaseError) -> str:
        """One line saying why the database cannot be used, in the user's terms."""
        msg = str(e)
        if "readonly" in msg or ("unable to open" in msg and not self.readonly):
            if self.path.exists() and not os.access(self.path, os.W_OK):
                return (f"{self.path}: the file is read-only; lrkit bench writes to it "
                        "(lrkit runs, export and report only read)")
            if not os.access(self.path.parent, os.W_OK):
                return (f"{self.path}: cannot write in its folder {self.path.parent} (SQLite keeps the "
                        "database's -wal and -shm files beside it)")
            return f"{self.path}: cannot write to the database ({msg})"
        if "locked" in msg or "busy" in msg:
            return f"{self.path}: the database is locked by another process ({msg}); try again"
        if "unable to open" in msg:
            return f"{self.path}: cannot open the database ({msg})"
        return f"{self.path}: not an lrkit benchmark database ({msg})"

    # ------------------------------------------------------------------ plumbing
    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rollback on error): one writer at a time, no lost updates."""
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    # ------------------------------------------------------------------ trials
    def add(self, trials: Iterable[Trial]) -> list[int]:
        """Insert the trials that are not there yet; return the ids of all of them, in order."""
        trials = list(trials)
        now = time.time()
        with self.transaction() as c:
            c.executemany(
                "INSERT OR IGNORE INTO trials (key, workload, options, schedule, lr, optimizer, seed, steps, log_every, created)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(t.key, t.workload, t.options_json, t.schedule, float(t.lr), t.optimizer, int(t.seed), int(t.steps),
                  int(t.log_every), now) for t in trials])
            ids = []
            for t in trials:
                ids.append(int(c.execute("SELECT id FROM trials WHERE key = ?", (t.key,)).fetchone()[0]))
        return ids

    def _reclaim(self, c: sqlite3.Connection, ids: Sequence[int] | None, failed: bool) -> int:
        """Reset to pending the running trials whose owner is gone (and failed ones if ``failed``)."""
        where = "" if ids is None else f" AND id IN ({','.join('?' * len(ids))})"
        args = [] if ids is None else list(ids)
        n = 0
        now = time.time()
        host = socket.gethostname()
        for tid, owner, hb in c.execute(f"SELECT id, owner, heartbeat FROM trials WHERE status = 'running'{where}", args).fetchall():
            here = isinstance(owner, str) and owner.split(":")[0] == host
            # a stale heartbeat means gone, on any host (a process id can be reused, e.g. after a
            # container restart); on this host a vanished process means gone at once
            stale = not records.is_number(hb) or now - hb > self.stale_after
            if stale or (here and not _owner_alive(owner)):
                n += c.execute("UPDATE trials SET status = 'pending', owner = NULL WHERE id = ? AND status = 'running' AND owner IS ?",
                               (tid, owner)).rowcount
        if failed:
            n += c.execute(f"UPDATE trials SET status = 'pending', owner = NULL WHERE status = 'failed'{where}", args).rowcount
        return n

    def reclaim(self, ids: Sequence[int] | None = None, failed: bool = True) -> int:
        """Make the unfinished trials of dead sweeps (and failed trials, if ``failed``) runnable again."""
        with self.transaction() as c:
            return self._reclaim(c, ids, failed)

    def claim(self, ids: Sequence[int], owner: str, limit: int = 1) -> list[tuple[int, Trial]]:
        """Atomically mark up to ``limit`` pending trials among ``ids`` as running for ``owner``."""
        if not ids or limit <= 0:
            return []
        out: list[tuple[int, Trial]] = []
        now = time.time()
        with self.transaction() as c:
            marks = ",".join("?" * len(ids))
            rows = c.execute(f"SELECT id FROM trials WHERE status = 'pending' AND id IN ({marks}) ORDER BY id LIMIT ?",
                             [*ids, limit]).fetchall()
            for (tid,) in rows:
                if c.execute("UPDATE trials SET status = 'running', owner = ?, heartbeat = ?, attempts = attempts + 1"
                             " WHERE id = ? AND status = 'pending'", (owner, now, tid)).rowcount:
                    out.append((tid, self.trial(tid)))
        return out

    def heartbeat(self, owner: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE trials SET heartbeat = ? WHERE owner = ? AND status = 'running'", (time.time(), owner))

    def release(self, owner: str) -> int:
        """Give back the trials ``owner`` still runs (on a clean interrupt)."""
        with self.transaction() as c:
            return c.execute("UPDATE trials SET status = 'pending', owner = NULL WHERE owner = ? AND status = 'running'",
                             (owner,)).rowcount

    def finish(self, tid: int, result: dict[str, Any]) -> bool:
        """Store a trial's history and summary and mark it done, in one transaction.

        Returns False (and writes nothing) if the trial is already done, e.g. finished by another
        sweep that reclaimed it.
        """
        hist, s = result["history"], result["summary"]
        rows = list(zip(*(hist[f] for f in HISTORY_FIELDS)))
        desc = s.get("description")
        with self.transaction() as c:
            cur = c.execute(
                "UPDATE trials SET status = 'done', finished = ?, final_val = ?, best_val = ?, init_val = ?, final_loss = ?,"
                " diverged = ?, train_time = ?, wall_time = ?, error = NULL, info = ?, description = ?"
                " WHERE id = ? AND status != 'done'",
                (time.time(), _num(s.get("final_val")), _num(s.get("best_val")), _num(s.get("init_val")),
                 _num(s.get("final_loss")), int(bool(s.get("diverged"))), _num(s.get("train_time")),
                 _num(s.get("wall_time")), json.dumps(s.get("info", {})),
                 desc[:500] if isinstance(desc, str) else None, tid))
            if not cur.rowcount:
                return False
            c.execute("DELETE FROM points WHERE trial_id = ?", (tid,))
            c.executemany("INSERT INTO points VALUES (?, ?, ?, ?, ?, ?, ?)",
                          [(tid, int(r[0]), *(_num(x) for x in r[1:])) for r in rows])
        return True

    def fail(self, tid: int, error: str) -> None:
        with self.transaction() as c:
            c.execute("UPDATE trials SET status = 'failed', error = ?, finished = ? WHERE id = ? AND status != 'done'",
                      (error[-4000:], time.time(), tid))

    # ------------------------------------------------------------------ reading
    def _rows(self, sql: str, args: Sequence[Any] = ()) -> list[dict[str, Any]]:
        """Trial rows as dicts, each checked (a hand-edited value is one line naming trial and column)."""
        cur = self.conn.execute(sql, args)
        names = [d[0] for d in cur.description]
        rows = [dict(zip(names, r)) for r in cur.fetchall()]
        for r in rows:
            r.setdefault("description", None)  # a file from before the column was added
            records.check_trial(self.path, r)
        return rows

    def trial(self, tid: int) -> Trial:
        rows = self._rows("SELECT * FROM trials WHERE id = ?", (tid,))
        if not rows:
            raise ValueError(f"{self.path}: no trial {tid}")
        r = rows[0]
        return Trial(r["workload"], r["schedule"], r["lr"], r["optimizer"], r["seed"], r["steps"], r["log_every"],
                     json.loads(r["options"]))

    def trials(self, status: str | None = None, workload: str | None = None, ids: Sequence[int] | None = None) -> list[dict[str, Any]]:
        """Trial rows as dicts (all columns of ``trials``), ordered by id."""
        if ids is not None and len(ids) > 500:  # SQLite caps the variables of one statement
            chunks = (self.trials(status, workload, ids[i:i + 500]) for i in range(0, len(ids), 500))
            return sorted({r["id"]: r for rows in chunks for r in rows}.values(), key=lambda r: r["id"])
        where, args = [], []
        if status is not None:
            if status not in STATUSES:
                raise ValueError(f"status {status!r} is not known; valid: {', '.join(STATUSES)}")
            where.append("status = ?")
            args.append(status)
        if workload is not None:
            where.append("workload = ?")
            args.append(workload)
        if ids is not None:
            where.append(f"id IN ({','.join('?' * len(ids))})")
            args.extend(ids)
        sql = "SELECT * FROM trials" + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY id"
        rows = self._rows(sql, args)
        for r in rows:
            r["label"] = Trial(r["workload"], r["schedule"], r["lr"], r["optimizer"], r["seed"], r["steps"],
                               r["log_every"]).label
        return rows

    def counts(self, ids: Sequence[int]) -> dict[str, int]:
        out = dict.fromkeys(STATUSES, 0)
        for i in range(0, len(ids), 500):
            chunk = list(ids[i:i + 500])
            for st, n in self.conn.execute(
                    f"SELECT status, COUNT(*) FROM trials WHERE id IN ({','.join('?' * len(chunk))}) GROUP BY status", chunk):
                if st not in out:
                    raise records.RecordError(f"{self.path}: a trial's status is {records.shown(st)}; expected one "
                                              f"of {', '.join(STATUSES)} ({records.HINT})")
                out[st] += n
        return out

    def history(self, tid: int) -> dict[str, list[float]]:
        """The logged points of a trial: lists ``step, lr, loss, val_loss, grad_norm, time`` (NaN = not logged)."""
        cur = self.conn.execute(f"SELECT {', '.join(HISTORY_FIELDS)} FROM points WHERE trial_id = ? ORDER BY step", (tid,))
        cols: dict[str, list[float]] = {k: [] for k in HISTORY_FIELDS}
        for row in cur:
            records.check_point(self.path, tid, row)
            for k, v in zip(cols, row):
                cols[k].append(math.nan if v is None else v)
        return cols

    def histories(self, ids: Sequence[int]) -> dict[int, dict[str, list[float]]]:
        return {i: self.history(i) for i in ids}

    # ------------------------------------------------------------------ artifacts (e.g. the demo's predictions)
    def put_artifact(self, key: str, value: Any) -> None:
        with self.transaction() as c:
            c.execute("INSERT OR REPLACE INTO artifacts VALUES (?, ?, ?)", (key, json.dumps(value), time.time()))

    def get_artifact(self, key: str, default: Any = None) -> Any:
        row = self.conn.execute("SELECT value FROM artifacts WHERE key = ?", (key,)).fetchone()
        return default if row is None else records.parse_artifact(self.path, key, row[0])

    def artifacts(self, prefix: str = "") -> dict[str, Any]:
        """The artifacts whose key starts with ``prefix`` (compared as text: ``_`` and ``%`` are not wildcards)."""
        rows = self.conn.execute("SELECT key, value FROM artifacts WHERE substr(key, 1, ?) = ? ORDER BY key",
                                 (len(prefix), prefix))
        return {k: records.parse_artifact(self.path, k, v) for k, v in rows}
