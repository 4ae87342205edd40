"""Run files as :class:`Run`: CSV (W&B CSV exports included), JSON lines and W&B JSON exports, read in
chunks; :func:`load_run`.

A file is UTF-8 text (a byte-order mark is skipped; UTF-16 is refused with the command that converts
it), comma- or tab-separated (';' is refused with a hint), every row with as many fields as the
header, at most :data:`base.MAX_ROWS` lines (refused before reading).  The cyclic garbage collector is off
while a file is read: millions of short-lived cells would cost more in its passes than in the read.
"""

from __future__ import annotations

import csv
import gc
import json
import re
from contextlib import contextmanager
from itertools import islice
from operator import itemgetter
from pathlib import Path
from typing import Any, Iterable, Iterator, Mapping, Sequence

import numpy as np

from ..schedules.validate import clip, did_you_mean
from . import base, wandb
from .base import COLUMNS, RunError, required
from .cells import Columns, read_floats, read_steps
from .header import resolve, wandb_header, wanted
from .run import Run, from_table
from .tensorboard import read_tensorboard

@contextmanager
def _no_gc() -> Iterator[None]:
    """Millions of small objects pass through a reader: the cyclic collector's passes would cost more than the read."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@contextmanager
def _text_file(p: Path, src: str) -> Iterator[Any]:
    """``p`` opened as UTF-8 text (a byte-order mark skipped) after the checks that need no parsing:
    readable, not UTF-16, at most :data:`base.MAX_ROWS` lines."""
    try:
        with p.open("rb") as fb:
            head = fb.read(1 << 16)
            lines = head.count(b"\n")
            while lines <= base.MAX_ROWS and (block := fb.read(1 << 24)):
                lines += block.count(b"\n")
    except OSError as exc:
        raise RunError(f"{src}: cannot read ({exc.strerror})") from None
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        raise RunError(f"{src}: UTF-16 (or binary) data: lrkit reads UTF-8 text; convert it, e.g. "
                       f"iconv -f UTF-16 -t UTF-8 '{p.name}' > '{p.stem}-utf8{p.suffix}'")
    if lines > base.MAX_ROWS:
        raise RunError(f"{src}: more than {base.MAX_ROWS:,} lines: lrkit reads at most {base.MAX_ROWS:,} rows of a run; "
                       "thin the log first (e.g. keep every 10th row)")
    with p.open(encoding="utf-8-sig", newline="") as fh, _no_gc():
        try:
            yield fh
        except UnicodeDecodeError as exc:
            raise RunError(f"{src}: not UTF-8 text ({exc.reason}, byte {exc.object[exc.start:exc.start + 1]!r}): "
                           "save it as UTF-8") from None


def _delimiter(sample: str, src: str) -> str:
    first = sample.split("\n", 1)[0]
    if ";" in first and "," not in first and "\t" not in first:
        raise RunError(f"{src}: columns separated by ';' (a spreadsheet's export with decimal commas?): lrkit reads "
                       "',' or tab separated values with '.' as the decimal mark; export it so")
    return "\t" if sample.count("\t") > sample.count(",") else ","


def _fields(src: str, row: int, got: int, want: int) -> RunError:
    hint = (" (a decimal comma, as in 2,53? lrkit reads '.' as the decimal mark)" if got > want
            else " (leave a cell empty, as in 5,,0.1, where a value was not logged)")
    return RunError(f"{src}: row {row} has {got} fields, the header {want}{hint}")


def _csv_rows(reader: Any, width: int, roles: Mapping[str, int], src: str, clean: bool) -> Columns:
    """The role columns of the CSV rows, read chunk by chunk; rows of only empty cells skipped."""
    cols = Columns(src, clean)
    get = {(role, role == "step"): itemgetter(i) for role, i in roles.items()}
    keys = {role: role for role in roles}
    row = 2
    while chunk := list(islice(reader, base.CHUNK)):
        rows = np.arange(row, row + len(chunk))
        row += len(chunk)
        wrong = None
        if set(map(len, chunk)) != {width}:
            keep = []
            for i, r in enumerate(chunk):
                if len(r) == width:
                    keep.append(i)
                elif any(c.strip() for c in r):
                    wrong = (int(rows[i]), len(r))
                    break
            chunk, rows = [chunk[i] for i in keep], rows[keep]
        steps = read_steps(list(map(get["step", True], chunk)), True)
        if steps.blank is not None and steps.blank.size:  # rows of empty cells only are skipped
            empty = {i for i in steps.blank.tolist() if not any(c.strip() for c in chunk[i])}
            if empty:
                keep = [i for i in range(len(chunk)) if i not in empty]
                chunk, rows = [chunk[i] for i in keep], rows[keep]
                steps = read_steps(list(map(get["step", True], chunk)), True)
        cols.add(rows, {k: steps if k[1] else read_floats(list(map(g, chunk)), True) for k, g in get.items()})
        cols.check(keys)
        if wrong is not None:
            raise _fields(src, wrong[0], wrong[1], width)
    return cols


def read_csv(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
             clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read a CSV run file (header row; W&B CSV exports are recognised)."""
    p = Path(path)
    src = str(path)
    with _text_file(p, src) as fh:
        try:
            sample = fh.read(4096)
            fh.seek(0)
            reader = csv.reader(fh, delimiter=_delimiter(sample, src))
            header = next(reader, None)
            if header is None:
                raise RunError(f"{src}: empty file (expected a header row such as 'step,loss,lr')")
            names, runs = wandb_header(header) if any(" - " in h for h in header) else (header, [])
            if len(runs) > 1 and not columns:
                raise RunError(f"{src}: a W&B export of {len(runs)} runs ({clip(', '.join(runs), 80)}): lrkit reads "
                               f"one run per file; export one run, or choose columns, e.g. --column "
                               f"loss='{runs[0]} - train/loss'")
            roles = resolve(header if len(runs) > 1 else names, columns, src, require)
            cols = _csv_rows(reader, len(header), roles, src, clean)
        except csv.Error as exc:
            raise RunError(f"{src}: row {reader.line_num}: not a readable CSV file ({exc})") from None
        rows, step, values, notes = cols.table({role: role for role in roles})
    return from_table(rows, step, values, notes, name or p.stem, src, clean, require)


class _KeyTwice(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise _KeyTwice(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return out


def _json_chunk(lines: list[str], first: int, src: str) -> tuple[list[dict], list[int]]:
    decode = json.JSONDecoder(object_pairs_hook=_pairs).decode
    objs, rows = [], []
    for i, line in enumerate(lines, start=first):
        if not line.strip():
            continue
        try:
            obj = decode(line)
        except _KeyTwice as e:
            raise RunError(f"{src}: line {i}: key {clip(str(e.args[0]), 40)!r} given twice") from None
        except json.JSONDecodeError as exc:
            raise RunError(f"{src}: line {i}: not valid JSON ({exc.msg})") from None
        except RecursionError:
            raise RunError(f"{src}: line {i}: nested too deeply") from None
        if not isinstance(obj, dict):
            raise RunError(f"{src}: line {i}: expected a JSON object, got {type(obj).__name__}")
        objs.append(obj)
        rows.append(i)
    return objs, rows


def _objects_run(chunks: Iterable[tuple[list[dict], list[int]]], src: str, name: str, columns: Mapping[str, str] | None,
                 clean: bool, require: Sequence[str], notes: Sequence[str] = ()) -> Run:
    """A run from JSON objects (one a row, chunk by chunk, with their row numbers); a missing key means
    "not logged"."""
    cols = Columns(src, clean)
    keys: dict[str, None] = {}
    kinds = wanted(columns)
    for objs, rows in chunks:
        new = set().union(*objs) - keys.keys()
        if new:  # in the order they first appear
            keys.update(dict.fromkeys(k for o in objs for k in o if k in new))
        here = set().union(*objs)
        cols.add(np.asarray(rows, dtype=np.int64),
                 {(k, s): (read_steps if s else read_floats)([o.get(k) for o in objs], False) for k in here for s in kinds(k)})
    if not keys:
        raise RunError(f"{src}: no data rows")
    header = list(keys)
    roles = {role: header[i] for role, i in resolve(header, columns, src, require, word="key").items()}
    rows, step, values, more = cols.table(roles)
    return from_table(rows, step, values, [*notes, *more], name, src, clean, require)


def read_jsonl(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
               clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read a JSON-lines run file: one object per line; a missing key means "not logged"."""
    p = Path(path)
    src = str(path)

    def chunks(fh: Any) -> Iterator[tuple[list[dict], list[int]]]:
        line = 1
        while lines := list(islice(fh, base.CHUNK)):
            yield _json_chunk(lines, line, src)
            line += len(lines)

    with _text_file(p, src) as fh:
        return _objects_run(chunks(fh), src, name or p.stem, columns, clean, require)


def read_json(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
              clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read a ``.json`` run file: a W&B run export (one JSON document, see :mod:`lrkit.runs.wandb`),
    or JSON lines under a ``.json`` name."""
    p = Path(path)
    src = str(path)
    with _text_file(p, src) as fh:
        text = fh.read()
    doc = wandb.document(text, src)
    if doc is None:
        return read_jsonl(p, columns, name, clean, require)
    records, notes = wandb.records(doc, src)
    chunks = ((records[i:i + base.CHUNK], list(range(i + 1, i + 1 + len(records[i:i + base.CHUNK]))))
              for i in range(0, len(records), base.CHUNK))
    return _objects_run(chunks, src, name or p.stem, columns, clean, require, notes)


def load_run(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    name: str | None = None,
    format: str | None = None,
    clean: bool = False,
    require: Sequence[str] = ("step", "loss"),
) -> Run:
    """Load a run from CSV, JSON lines, a W&B JSON export or TensorBoard events, chosen by ``format``
    (``csv``, ``jsonl``, ``json``, ``tensorboard``) or the file name (``.json``: a W&B export, or JSON lines).

    ``columns`` maps roles (``step``, ``loss``, ``lr``, ``val_loss``, ``grad_norm``, ``tokens``)
    to the file's column names, e.g. ``{"loss": "train/loss_epoch"}``.  ``require``: the roles the
    file must have (default step and loss; e.g. ``("step", "grad_norm")`` for a gradient-norm log).
    """
    p = Path(path)
    required(require)
    fmt = format
    if fmt is None:
        if p.is_dir() or "tfevents" in p.name:
            fmt = "tensorboard"
        elif p.suffix.lower() in (".jsonl", ".ndjson"):
            fmt = "jsonl"
        elif p.suffix.lower() == ".json":
            fmt = "json"
        else:
            fmt = "csv"
    if fmt != "tensorboard" and not p.is_file():
        raise RunError(f"{path}: no such file")
    readers = {"csv": read_csv, "jsonl": read_jsonl, "json": read_json, "tensorboard": read_tensorboard}
    if fmt not in readers:
        raise RunError(f"{path}: unknown format {fmt!r}; valid: {', '.join(readers)}")
    return readers[fmt](p, columns=columns, name=name, clean=clean, require=require)


def parse_column_map(items: Iterable[str]) -> dict[str, str]:
    """``["loss=train/loss", "step=_step"]`` -> ``{"loss": "train/loss", "step": "_step"}``."""
    out = {}
    for it in items:
        m = re.fullmatch(r"\s*(\w+)\s*=\s*(.+?)\s*", it)
        if not m:
            raise RunError(f"column mapping {it!r} should look like ROLE=NAME, e.g. loss=train/loss")
        if m.group(1) not in COLUMNS:
            raise RunError(f"column mapping {it!r}: {m.group(1)!r} is not a role; roles: {', '.join(COLUMNS)}"
                           f"{did_you_mean(m.group(1), COLUMNS)}")
        out[m.group(1)] = m.group(2)
    return out
