"""TensorBoard event files (needs the optional ``tensorboard`` package) as a :class:`Run`."""

from __future__ import annotations

import mmap
import struct
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ..schedules.validate import clip
from . import base
from .base import RunError
from .cells import Columns, Found
from .checks import step_reason
from .header import resolve
from .run import Run, from_table

def _event_files(p: Path) -> list[Path]:
    if p.is_dir():
        return sorted(f for f in p.iterdir() if "tfevents" in f.name and f.is_file())
    return [p] if p.is_file() else []


def _scan_events(f: Path) -> tuple[int, str | None]:
    """``(complete records, note)`` of the event file ``f`` (TFRecord framing: length, CRC, data, CRC);
    the note says where the file ends inside a record, as a run stopped while writing leaves it."""
    try:
        with f.open("rb") as fh:
            size = f.stat().st_size
            if size == 0:
                return 0, None
            with mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
                off = records = 0
                while off + 12 <= size:
                    end = off + 16 + struct.unpack_from("<Q", data, off)[0]
                    if end > size:
                        break
                    off, records = end, records + 1
    except (OSError, ValueError):
        return 0, None  # the reader says what is wrong
    if off == size:
        return records, None
    return records, (f"{f.name} is truncated at byte {off:,} of {size:,} (after {records:,} complete records; "
                     "a run stopped while writing?): read the events before it, the rest is lost")


def _scalars(acc: Any, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(steps, occurrence, values)`` of a tag's events; occurrence counts repeats of a step (a resumed run)."""
    ev = acc.Scalars(tag)
    steps = np.fromiter((e.step for e in ev), np.int64, len(ev))
    vals = np.fromiter((e.value for e in ev), float, len(ev))
    order = np.argsort(steps, kind="stable")
    s = steps[order]
    start = np.r_[0, np.nonzero(s[1:] != s[:-1])[0] + 1] if s.size else np.zeros(0, np.int64)
    occ = np.empty_like(steps)
    occ[order] = np.arange(s.size) - np.repeat(start, np.diff(np.r_[start, s.size]))
    return steps, occ, vals


def read_tensorboard(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None,
                     clean: bool = False, require: Sequence[str] = ("step", "loss")) -> Run:
    """Read scalars from a TensorBoard event file or log directory (needs ``pip install tensorboard``).
    A file that ends inside a record (a run stopped while writing) is read up to there, with a note."""
    src = str(path)
    try:
        import tensorboard  # noqa: F401 - the package itself, even when a submodule is already imported
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise RunError(f"{src}: reading TensorBoard event files needs the 'tensorboard' package: pip install tensorboard") from None
    p = Path(path)
    scans = [_scan_events(f) for f in _event_files(p)]
    if sum(n for n, _ in scans) > base.MAX_ROWS:
        raise RunError(f"{src}: more than {base.MAX_ROWS:,} events: lrkit reads at most {base.MAX_ROWS:,} rows of a run")
    notes = [note for _, note in scans if note]
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    try:
        acc.Reload()
    except Exception as exc:  # noqa: BLE001 - the reader raises several unrelated types
        raise RunError(f"{src}: cannot read TensorBoard events ({clip(str(exc), 120)})") from None
    tags = list(acc.Tags().get("scalars", []))
    roles = resolve(["step"] + tags, {k: v for k, v in (columns or {}).items() if k != "step"}, src,
                     require, word="tag", given={"step": 0})
    # One row per (step, occurrence): a step logged twice for a tag (a resumed run writing into the
    # same directory) becomes two rows with the same step, reported (or repaired) like a CSV's.
    got = {role: _scalars(acc, tags[i - 1]) for role, i in roles.items() if role != "step"}
    if not got or not any(s.size for s, _, _ in got.values()):
        raise RunError(f"{src}: no scalar events")
    keys, inverse = np.unique(np.concatenate([np.c_[s, o] for s, o, _ in got.values()]), axis=0, return_inverse=True)
    found = {("step", True): Found(keys[:, 0], odd=np.nonzero(keys[:, 0] < 0)[0],
                                   why=step_reason(int(keys[:, 0].min())))}
    at = 0
    for role, (s, _, v) in got.items():
        vals = np.full(keys.shape[0], np.nan)
        idx = inverse.reshape(-1)[at:at + s.size]
        at += s.size
        vals[idx] = v
        found[role, False] = Found(vals, odd=np.sort(idx[np.isnan(v)]))
    cols = Columns(src, clean)
    cols.add(np.arange(1, keys.shape[0] + 1), found)
    rows, step, values, more = cols.table({role: role for role in roles})
    default = p.parent.name if "tfevents" in p.name else p.name  # the run's directory names it
    return from_table(rows, step, values, notes + more, name or default, src, clean, require)
