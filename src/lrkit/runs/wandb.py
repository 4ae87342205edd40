"""W&B run exports as one JSON document (a ``.json`` file), as the W&B API gives a run:

* ``{"config": {...}, "history": [{"_step": 0, "train/loss": 3.2, ...}, ...]}`` -- ``run.config`` and
  ``run.history()`` (e.g. ``history.to_dict("records")``), one record a logged row;
* ``{"config": ..., "history": {"train": [...], "val": [...]}}`` -- training and validation records
  kept apart (``val`` may be named ``valid``, ``validation`` or ``eval``): a validation record's keys
  other than its step are read with a ``val/`` prefix (``loss`` becomes ``val/loss``, the validation
  loss); the two lists are ordered by step, and a training and a validation record at one step become
  one row (:func:`lrkit.runs.run.from_table` merges rows at one step whose columns do not collide);
* a bare list of records.

A missing key means "not logged", as in JSON lines; messages name records as rows (1-based).  A
``.json`` file that is JSON lines (one object a line) is read as JSON lines.
"""

from __future__ import annotations

import json
from typing import Any

from ..schedules.validate import clip
from .base import ALIASES, KeyTwice, RunError, unique_keys

VAL_KEYS = ("val", "valid", "validation", "eval")
_PREFIXES = ("val/", "val_", "eval/", "eval_", "valid/", "validation/")


def document(text: str, src: str) -> Any | None:
    """The JSON document of a ``.json`` run file, or ``None`` when the file is JSON lines."""
    stripped = text.strip()
    if not stripped:
        raise RunError(f"{src}: empty file")
    try:
        doc = json.loads(stripped, object_pairs_hook=unique_keys)
    except KeyTwice as e:
        raise RunError(f"{src}: key {clip(str(e.args[0]), 40)!r} given twice") from None
    except RecursionError:
        raise RunError(f"{src}: nested too deeply") from None
    except json.JSONDecodeError as exc:
        try:
            json.loads(stripped.split("\n", 1)[0])
        except (json.JSONDecodeError, RecursionError):
            raise RunError(f"{src}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
        return None  # one object a line
    if isinstance(doc, dict) and "history" not in doc:
        if "config" in doc:
            raise RunError(f"{src}: a W&B export without 'history' (keys: {clip(', '.join(doc), 80)}); export the "
                           "run's history too")
        return None  # JSON lines of one line
    return doc


def _records(items: Any, src: str, where: str) -> list[dict]:
    if not isinstance(items, list):
        raise RunError(f"{src}: {where} is {type(items).__name__}, expected a list of records")
    for i, r in enumerate(items):
        if not isinstance(r, dict):
            raise RunError(f"{src}: {where} record {i + 1}: expected a JSON object, got {type(r).__name__}")
    return items


def _step_key(records: list[dict]) -> str | None:
    for r in records:
        for k in r:
            if k.strip().lower() in ALIASES["step"]:
                return k
    return None


def _as_validation(record: dict, step: str | None) -> dict:
    return {k if k == step or k.strip().lower().startswith(_PREFIXES) else f"val/{k}": v for k, v in record.items()}


def records(doc: Any, src: str) -> tuple[list[dict], list[str]]:
    """The rows of a W&B export document (see the module's forms) and the notes to say about them."""
    if isinstance(doc, list) and doc and all(isinstance(r, dict) and "history" in r for r in doc):
        raise RunError(f"{src}: a list of {len(doc)} W&B run exports; lrkit reads one run a file: write each run's "
                       "export to its own file")
    history = doc if isinstance(doc, list) else doc["history"]
    if not isinstance(history, dict):
        return _records(history, src, "'history'"), []
    train_key = "train" if "train" in history else None
    val_key = next((k for k in VAL_KEYS if k in history), None)
    unknown = [k for k in history if k not in (train_key, val_key)]
    if unknown or (train_key is None and val_key is None):
        raise RunError(f"{src}: 'history' holds {clip(', '.join(map(str, history)) or 'nothing', 60)}; expected a list "
                       f"of records, or 'train' and '{'/'.join(VAL_KEYS)}' lists")
    train = _records(history[train_key], src, "'history.train'") if train_key else []
    val = _records(history[val_key], src, f"'history.{val_key}'") if val_key else []
    step = _step_key(train) or _step_key(val)
    val = [_as_validation(r, step) for r in val]

    def at(r: dict) -> float:
        v = r.get(step) if step is not None else None
        return float(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else float("inf")

    both = sorted(train + val, key=at)  # stable: at one step the training record comes first
    note = (f"read W&B history.{train_key or '-'} ({len(train)} records) and history.{val_key or '-'} ({len(val)} "
            f"records, their keys read as validation: val/...), ordered by step")
    return both, [note]
