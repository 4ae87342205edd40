"""Numbers from a run file's cells, column by column and chunk by chunk, and the first problem of each column.

Cells are read in ASCII only: ``[+-]digits[.digits][e[+-]digits]``, ``inf``, ``nan`` (any case),
spaces around allowed; ``1_005``, other scripts' digits and decimal commas are refused with a hint.
Steps are exact integers (``1e3`` is 1000; ``1.0000000000000001`` is not an integer).  A column of
plain numbers takes a vectorised path; anything else is read cell by cell, for exact messages.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Mapping, Sequence

import numpy as np

from ..schedules.validate import clip
from .base import COLUMNS, INT64_MAX, RunError
from .checks import step_reason

#: an ASCII decimal number, inf or nan (any case): what a cell may hold
_NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|[+-]?(?:inf|infinity|nan)", re.ASCII | re.IGNORECASE)
_INTEGER = re.compile(r"[+-]?\d+", re.ASCII)
_SPACE = " \t\r\n"
_DIGITS = b"0123456789"  # a column of these only: integers, converted in one go
_PLAIN = b"0123456789.eE+-"  # a column of these only: plain decimals, converted in one go


def _unreadable(value: object) -> str:
    """The message's end for a value that is not a number."""
    if not isinstance(value, str):
        return f"{clip(repr(value), 60)} is not a number"
    hint = ""
    if "," in value:
        hint = " (a decimal comma? lrkit reads '.' as the decimal mark)"
    elif not value.isascii() or "_" in value:
        hint = " (numbers are read in ASCII digits, without '_' separators)"
    return f"cannot read {clip(repr(value), 60)} as a number{hint}"


def _text_number(text: str) -> float | None:
    """A cell's number (``None`` if empty); ``ValueError`` unless an ASCII decimal number, inf or nan."""
    t = text.strip(_SPACE)
    if not t:
        return None
    if not _NUMBER.fullmatch(t):
        raise ValueError(t)
    return float(t)  # beyond the float range: +-inf, refused (or dropped) like an infinite value


def _one_step(value: object) -> int | str | None:
    """A step cell or JSON value: an ``int`` (exact, maybe out of range), ``None`` (empty), or, for a
    number that is not an exact integer, why not (text); ``ValueError`` if it is not a number."""
    if value is None:
        return None
    if isinstance(value, str):
        t = value.strip(_SPACE)
        if not t:
            return None
        if _INTEGER.fullmatch(t):
            return int(t) if len(t) < 400 else step_reason(int(t[:400]) * 10)
        if not _NUMBER.fullmatch(t):
            raise ValueError(t)
        d = Decimal(t)  # exact: '1.0000000000000001' is not an integer, '1e3' is
        if d.is_finite() and d == d.to_integral_value():
            return int(d) if d.adjusted() <= 19 else step_reason(float(d))
        return f"step {clip(t, 40)} is not a non-negative integer"
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(value)
    if isinstance(value, int):
        return value
    # a JSON float: exact below 2**53 (JSON numbers are doubles)
    if math.isfinite(value) and value == math.floor(value) and abs(value) < 2.0**53:
        return int(value)
    return step_reason(value)


@dataclass
class Found:
    """One column's numbers in one chunk of rows and what could not be used (indices into the chunk)."""

    values: np.ndarray
    error: tuple[int, str] | None = None  # the first unreadable value
    odd: np.ndarray | None = None  # float column: explicit NaN; step column: a bad step
    blank: np.ndarray | None = None  # step column: no step
    why: str = ""  # step column: why the first bad step is bad


def read_floats(vals: Sequence[Any], text: bool) -> Found:
    """Numbers of a column chunk (CSV cells if ``text``, else JSON values); empty or missing = NaN."""
    n = len(vals)
    if text:
        try:
            plain = not "".join(vals).encode("ascii").translate(None, _PLAIN)
        except UnicodeEncodeError:
            plain = False
        if plain:
            try:
                if "" in vals:
                    return Found(np.fromiter((float(c) if c else math.nan for c in vals), float, n))
                return Found(np.fromiter(map(float, vals), float, n))
            except ValueError:
                pass
    elif set(map(type, vals)) <= {int, float, type(None)}:
        try:
            a = np.array(vals, dtype=float)
        except OverflowError:
            a = None
        if a is not None:
            nan = np.isnan(a)
            if int(nan.sum()) == vals.count(None):
                return Found(a)
            return Found(a, odd=np.nonzero(nan & ~np.fromiter((v is None for v in vals), bool, n))[0])
    out, odd = np.full(n, np.nan), []
    for i, v in enumerate(vals):
        try:
            if isinstance(v, str):
                x = _text_number(v)
            elif isinstance(v, bool) or not isinstance(v, (int, float, type(None))):
                raise ValueError(v)
            else:
                x = v if not isinstance(v, int) else (float(v) if abs(v) < 1e308 else (math.inf if v > 0 else -math.inf))
        except ValueError:
            return Found(out, error=(i, _unreadable(v)), odd=np.asarray(odd, dtype=np.int64))
        if x is None:
            continue
        if x != x:
            odd.append(i)
        else:
            out[i] = x
    return Found(out, odd=np.asarray(odd, dtype=np.int64))


def read_steps(vals: Sequence[Any], text: bool) -> Found:
    """Exact int64 steps of a column chunk; bad steps and empty cells marked, the first unreadable noted."""
    n = len(vals)
    fast = False
    if text:
        try:
            fast = "" not in vals and not "".join(vals).encode("ascii").translate(None, _DIGITS)
        except UnicodeEncodeError:
            pass
    else:
        fast = set(map(type, vals)) == {int}
    if fast:
        try:
            a = np.fromiter(map(int, vals), np.int64, n) if text else np.array(vals, dtype=np.int64)
            neg = np.nonzero(a < 0)[0]
            return Found(a, odd=neg, why=step_reason(int(a[neg[0]])) if neg.size else "")
        except (OverflowError, ValueError):
            pass
    out, odd, blank, why = np.zeros(n, np.int64), [], [], ""
    for i, v in enumerate(vals):
        try:
            s = _one_step(v)
        except ValueError:
            return Found(out, error=(i, _unreadable(v)), odd=np.asarray(odd, dtype=np.int64),
                          blank=np.asarray(blank, dtype=np.int64), why=why)
        if s is None:
            blank.append(i)
        elif isinstance(s, int) and 0 <= s <= INT64_MAX:
            out[i] = s
        else:
            why = why or (s if isinstance(s, str) else step_reason(s))
            odd.append(i)
    return Found(out, odd=np.asarray(odd, dtype=np.int64), blank=np.asarray(blank, dtype=np.int64), why=why)


def _first(idx: np.ndarray | None) -> int | None:
    return int(idx[0]) if idx is not None and idx.size else None


class Columns:
    """A file's columns as they are read, chunk by chunk: numbers, and the first problem of each."""

    def __init__(self, src: str, clean: bool) -> None:
        self.src, self.clean = src, clean
        self.rows: list[np.ndarray] = []
        self.found: dict[tuple[str, bool], dict[int, Found]] = {}  # (key, is step) -> chunk -> numbers

    def add(self, rows: np.ndarray, found: Mapping[tuple[str, bool], Found]) -> None:
        if not rows.size:
            return
        chunk = len(self.rows)
        self.rows.append(rows)
        for key, f in found.items():
            self.found.setdefault(key, {})[chunk] = f

    def _problem(self, role: str, key: str) -> tuple[int, int, str] | None:
        """``(row, role order, message)`` of the first problem of a role's column that the loader must refuse."""
        where = lambda row: f"{self.src}: row {row}, column '{role}'"  # noqa: E731
        is_step = role == "step"
        parts = self.found.get((key, is_step), {})
        for c, rows in enumerate(self.rows):
            f = parts.get(c)
            if f is None:
                if is_step and rows.size:
                    return int(rows[0]), 0, f"{where(int(rows[0]))}: no step"
                continue
            cands = []
            if f.error is not None:
                cands.append((f.error[0], f.error[1]))
            if is_step and _first(f.blank) is not None:
                cands.append((_first(f.blank), "no step"))
            if not self.clean and _first(f.odd) is not None:
                cands.append((_first(f.odd), f.why if is_step else
                              "value is NaN (leave the cell empty if not logged, or repair with clean/--clean)"))
            if cands:
                i, msg = min(cands, key=lambda t: t[0])
                return int(rows[i]), COLUMNS.index(role), f"{where(int(rows[i]))}: {msg}"
        return None

    def check(self, roles: Mapping[str, str]) -> None:
        """Raise the first problem (in row order) of the columns of ``roles`` (role -> key)."""
        found = [p for p in (self._problem(r, k) for r, k in roles.items()) if p is not None]
        if found:
            raise RunError(min(found)[2])

    def table(self, roles: Mapping[str, str]) -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray], list[str]]:
        """``(rows, steps, values per role, notes)``; rows with a bad step dropped if ``clean`` (noted)."""
        self.check(roles)
        sizes = [r.size for r in self.rows]
        rows = np.concatenate(self.rows) if self.rows else np.zeros(0, np.int64)
        values: dict[str, np.ndarray] = {}
        firsts: list[tuple[int, int, str]] = []
        bad = np.zeros(rows.size, bool)
        for role, key in roles.items():
            parts = self.found.get((key, role == "step"), {})
            if role == "step":
                values[role] = np.concatenate([parts[c].values for c in range(len(sizes))]) if sizes else rows
                odd = [parts[c].odd + sum(sizes[:c]) for c in range(len(sizes))]
            else:
                values[role] = np.concatenate([parts[c].values if c in parts else np.full(s, np.nan)
                                               for c, s in enumerate(sizes)]) if sizes else np.zeros(0)
                odd = [parts[c].odd + sum(sizes[:c]) for c in parts if parts[c].odd is not None]
            odd_i = np.concatenate(odd) if odd else np.zeros(0, np.int64)
            if odd_i.size and role == "step":
                bad[odd_i] = True
            elif odd_i.size:
                firsts.append((int(rows[odd_i].min()), COLUMNS.index(role),
                               f"ignored {odd_i.size} NaN values in column '{role}' (first at row {int(rows[odd_i].min())})"))
        notes = [n for *_, n in sorted(firsts)]
        if bad.size and bad.all():
            raise RunError(f"{self.src}: no row has a valid step (an integer in 0 .. 2**63 - 1)")
        if bad.any():
            notes.append(f"dropped {int(bad.sum())} rows with a bad step (first at row {int(rows[bad][0])})")
            rows = rows[~bad]
            values = {r: v[~bad] for r, v in values.items()}
        return rows, values.pop("step"), values, notes
