"""What a benchmark database may hold, checked on reading: a database is data from elsewhere.

A database sent by someone else, edited by hand or damaged can hold anything in any column (SQLite
keeps a text ``'abc'`` in a REAL column, a BLOB anywhere, and a file built with other table definitions
has no constraints at all).  Every reader (``lrkit report``, ``runs``, ``export``, a sweep's claims)
goes through these checks, so such content ends as one line naming the trial (or artifact) and the
column, never a traceback and never a silent misread.  Nothing here imports, unpickles or evaluates
anything: JSON columns are parsed as JSON, everything else is compared with plain types.
"""

from __future__ import annotations

import json
import math
from typing import Any, Mapping

from .trial import HISTORY_FIELDS, OPTIMIZERS

STATUSES = ("pending", "running", "done", "failed")
HINT = "the database was edited by hand or is damaged"

_NUMBER = (int, float)
#: columns that hold a measurement: a finite number or NULL
_MEASURES = ("heartbeat", "created", "finished", "final_val", "best_val", "init_val", "final_loss", "train_time",
             "wall_time")
_TEXT_OR_NULL = ("owner", "error", "description")


def shown(value: Any, limit: int = 60) -> str:
    """A stored value as a message shows it: BLOBs by size, everything else by a cut ``repr``."""
    if isinstance(value, (bytes, bytearray, memoryview)):
        return f"a BLOB of {len(bytes(value))} bytes"
    text = repr(value)
    return text if len(text) <= limit else text[:limit - 3] + "..."


def is_number(x: Any) -> bool:
    return type(x) in _NUMBER and math.isfinite(x)


class RecordError(ValueError):
    """A database value that is not what lrkit writes there (one line, naming where)."""


def _bad(where: str, column: str, value: Any, expected: str) -> RecordError:
    return RecordError(f"{where}, column {column}: {shown(value)}; expected {expected} ({HINT})")


def _json(where: str, column: str, value: Any, *, null: bool) -> dict[str, Any] | None:
    if value is None and null:
        return None
    if not isinstance(value, str):
        raise _bad(where, column, value, "a JSON object as text")
    try:
        out = json.loads(value)
    except (ValueError, RecursionError):
        raise _bad(where, column, value, "a JSON object") from None
    if not isinstance(out, dict):
        raise _bad(where, column, value, "a JSON object")
    return out


def check_trial(path: Any, row: Mapping[str, Any]) -> None:
    """Refuse a ``trials`` row whose columns do not hold what lrkit writes (a one-line :class:`RecordError`)."""
    tid = row.get("id")
    where = f"{path}: trial {shown(tid)}"
    if type(tid) is not int:
        raise _bad(f"{path}: a trial", "id", tid, "an integer")
    for col in ("key", "workload", "schedule"):
        if not (isinstance(row.get(col), str) and row[col].strip()):
            raise _bad(where, col, row.get(col), "non-empty text")
    if row.get("optimizer") not in OPTIMIZERS:
        raise _bad(where, "optimizer", row.get("optimizer"), f"one of {', '.join(OPTIMIZERS)}")
    if row.get("status") not in STATUSES:
        raise _bad(where, "status", row.get("status"), f"one of {', '.join(STATUSES)}")
    lr = row.get("lr")
    if not (is_number(lr) and lr > 0):
        raise _bad(where, "lr", lr, "a positive finite number")
    for col, lo in (("seed", None), ("steps", 1), ("log_every", 1), ("attempts", 0)):
        x = row.get(col)
        if type(x) is not int or (lo is not None and x < lo):
            raise _bad(where, col, x, "an integer" + ("" if lo is None else f" >= {lo}"))
    if row.get("diverged") not in (None, 0, 1) or type(row.get("diverged")) is float:
        raise _bad(where, "diverged", row.get("diverged"), "0, 1 or NULL")
    for col in _MEASURES:
        if col in row and row[col] is not None and not is_number(row[col]):
            raise _bad(where, col, row[col], "a finite number or NULL")
    for col in _TEXT_OR_NULL:
        if row.get(col) is not None and not isinstance(row[col], str):
            raise _bad(where, col, row[col], "text or NULL")
    _json(where, "options", row.get("options"), null=False)
    _json(where, "info", row.get("info"), null=True)


def check_point(path: Any, tid: int, row: tuple) -> None:
    """Refuse a ``points`` row (step, lr, loss, val_loss, grad_norm, time) that lrkit would not write."""
    where = f"{path}: trial {tid}, a logged point"
    step = row[0]
    if type(step) is not int or step < 0:
        raise _bad(where, "step", step, "an integer >= 0")
    for col, x in zip(HISTORY_FIELDS[1:], row[1:]):
        if x is not None and not is_number(x):
            raise RecordError(f"{where} (step {step}), column {col}: {shown(x)}; expected a finite number or NULL "
                              f"({HINT})")


def parse_artifact(path: Any, key: Any, text: Any) -> Any:
    """An artifact's stored JSON, parsed (a one-line :class:`RecordError` when it is not JSON)."""
    if not isinstance(text, str):
        raise RecordError(f"{path}: artifact {shown(key)}: {shown(text)}; expected JSON text ({HINT})")
    try:
        return json.loads(text)
    except (ValueError, RecursionError):
        raise RecordError(f"{path}: artifact {shown(key)} is not valid JSON ({HINT})") from None


# ---------------------------------------------------------------------- the demo's prediction artifact
def _field(where: str, d: Mapping[str, Any], name: str, check, expected: str, default: Any = ...) -> Any:
    if name not in d:
        if default is ...:
            raise RecordError(f"{where} has no {name!r} ({HINT})")
        return default
    if not check(d[name]):
        raise RecordError(f"{where}: {name} is {shown(d[name])}; expected {expected} ({HINT})")
    return d[name]


def _int_list(x: Any) -> bool:
    return isinstance(x, list) and all(type(i) is int for i in x)


def _numbers(x: Any) -> bool:
    return isinstance(x, list) and bool(x) and all(is_number(i) for i in x)


def _curve(where: str, c: Any) -> dict[str, Any]:
    if not isinstance(c, dict):
        raise RecordError(f"{where} is {shown(c)}; expected a JSON object ({HINT})")
    label = _field(where, c, "label", lambda x: isinstance(x, str) and x != "", "non-empty text")
    steps = _field(where, c, "steps", _numbers, "a non-empty list of finite numbers")
    out = {"label": label, "steps": steps,
           "planned": _field(where, c, "planned", lambda x: isinstance(x, bool), "true or false", False)}
    for name in ("loss", "lower", "upper"):
        vals = _field(where, c, name, _numbers, "a non-empty list of finite numbers")
        if len(vals) != len(steps):
            raise RecordError(f"{where}: {name} has {len(vals)} values for {len(steps)} steps ({HINT})")
        out[name] = vals
    return out


def read_prediction(path: Any, key: str, value: Any) -> dict[str, Any]:
    """A ``prediction:*`` artifact (written by :func:`lrkit.demo.run_demo`), checked field by field."""
    where = f"{path}: artifact {shown(key)}"
    if not isinstance(value, dict):
        raise RecordError(f"{where} is {shown(value)}; expected a JSON object ({HINT})")
    out: dict[str, Any] = {
        "workload": _field(where, value, "workload", lambda x: isinstance(x, str) and x != "", "non-empty text"),
        "budget": _field(where, value, "budget", lambda x: type(x) is int and x >= 1, "an integer >= 1"),
        "pilot_steps": _field(where, value, "pilot_steps", lambda x: type(x) is int and x >= 1, "an integer >= 1",
                              None),
        "peak_lr": _field(where, value, "peak_lr", is_number, "a finite number", 0.0),
        "pilot_ids": _field(where, value, "pilot_ids", _int_list, "a list of trial ids", []),
        "trial_ids": _field(where, value, "trial_ids", _int_list, "a list of trial ids", None),
        "planned": _field(where, value, "planned", lambda x: x is None or isinstance(x, str), "text", None),
    }
    curves = _field(where, value, "curves", lambda x: isinstance(x, list), "a list of curves")
    out["curves"] = [_curve(f"{where}, curve {i}", c) for i, c in enumerate(curves)]
    fit = _field(where, value, "fit", lambda x: isinstance(x, dict), "a JSON object", {})
    law = _field(f"{where}, fit", fit, "law", lambda x: isinstance(x, str), "text", None)
    params = _field(f"{where}, fit", fit, "params",
                    lambda x: isinstance(x, dict) and all(is_number(p) for p in x.values()),
                    "an object of finite numbers", {})
    r2 = _field(f"{where}, fit", fit, "r2", lambda x: isinstance(x, list) and all(is_number(v) for v in x),
                "a list of finite numbers", [])
    flags = _field(f"{where}, fit", fit, "flags",
                   lambda x: isinstance(x, dict) and all(isinstance(k, str) and isinstance(v, str) for k, v in x.items()),
                   "an object of texts", {})
    out["fit"] = {"law": law, "params": params, "r2": r2, "flags": flags}
    # the WSD-workflow demo's protocol (absent in older databases)
    out["pilots"] = _field(where, value, "pilots", lambda x: isinstance(x, list) and all(isinstance(t, str) for t in x),
                           "a list of specs", [])
    for name in ("warmup", "fit_from"):
        out[name] = _field(where, value, name, lambda x: type(x) is int and x >= 0, "an integer >= 0", None)
    out["level"] = _field(where, value, "level", lambda x: is_number(x) and 0 < x < 1, "a number in (0, 1)", None)
    out["notes"] = _field(where, value, "notes", lambda x: isinstance(x, list) and all(isinstance(t, str) for t in x),
                          "a list of text", [])
    return out
