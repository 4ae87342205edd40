"""A training run's logged history (step, LR, loss, ...) and its loaders.

Formats: CSV (a header row; W&B CSV exports included), JSON lines, TensorBoard event files (needs the
optional ``tensorboard`` package).  An empty cell (or a key missing from a JSON line) means "not
logged at that step": the LR may be logged at every step and the loss only at some.

Bad input raises :class:`RunError` (a ``ValueError``) with one line naming the file, the row or
column and the problem.  ``load_run(..., clean=True)`` (or :meth:`Run.cleaned`) instead repairs what
can be repaired -- drops non-finite losses, negative LRs, duplicate steps, cuts a diverged tail,
sorts the steps -- and reports each repair in ``Run.notes``; nothing is dropped silently.
"""

from __future__ import annotations

import csv
import json
import math
import re
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable, Iterable, Mapping, Sequence

import numpy as np

from .schedules.validate import did_you_mean

COLUMNS = ("step", "lr", "loss", "val_loss", "grad_norm", "tokens")

#: Column names recognised without a mapping (case-insensitive), in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "step": ("step", "_step", "global_step", "trainer/global_step", "iteration", "iter", "steps"),
    "loss": ("loss", "train/loss", "train_loss", "training_loss", "loss/train", "train/loss_step", "trainer/loss"),
    "lr": ("lr", "learning_rate", "train/lr", "train/learning_rate", "lr/train", "learning-rate"),
    "val_loss": ("val_loss", "val/loss", "eval/loss", "eval_loss", "validation/loss", "valid/loss", "loss/val"),
    "grad_norm": ("grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "train/gradient_norm"),
    "tokens": ("tokens", "train/tokens", "num_tokens", "tokens_seen", "train/num_tokens"),
}

#: A loss more than this many times the best loss so far marks a diverged run.
DIVERGENCE_FACTOR = 2.0


class RunError(ValueError):
    """A run file or run data that cannot be used as it is (one line: file, row/column, problem)."""


@dataclass(frozen=True)
class Run:
    """The logged history of one training run.

    ``step`` holds every logged step (sorted, unique); the other arrays are aligned with it and
    hold ``nan`` where that quantity was not logged at that step.  ``rows`` are the file rows
    (1-based, header = row 1) the steps came from, used in messages; ``notes`` lists repairs made
    by :meth:`cleaned`.
    """

    step: np.ndarray
    loss: np.ndarray
    lr: np.ndarray | None = None
    val_loss: np.ndarray | None = None
    grad_norm: np.ndarray | None = None
    tokens: np.ndarray | None = None
    name: str = "run"
    source: str = ""
    rows: np.ndarray | None = None
    notes: tuple[str, ...] = field(default=())

    # ------------------------------------------------------------------ construction
    @classmethod
    def from_arrays(
        cls,
        step: Sequence[float] | np.ndarray,
        loss: Sequence[float] | np.ndarray,
        lr: Sequence[float] | np.ndarray | None = None,
        *,
        val_loss: Sequence[float] | np.ndarray | None = None,
        grad_norm: Sequence[float] | np.ndarray | None = None,
        tokens: Sequence[float] | np.ndarray | None = None,
        name: str = "run",
        source: str = "",
        rows: Sequence[int] | np.ndarray | None = None,
        clean: bool = False,
    ) -> "Run":
        """Build a run from arrays (``nan`` = not logged) and check it (or repair it if ``clean``)."""
        def arr(x: object) -> np.ndarray | None:
            return None if x is None else np.asarray(x, dtype=float).copy()

        step_a = np.asarray(step, dtype=float)
        n = step_a.size
        src = source or name
        for col, a in (("loss", loss), ("lr", lr), ("val_loss", val_loss), ("grad_norm", grad_norm), ("tokens", tokens)):
            if a is not None and np.asarray(a).size != n:
                raise RunError(f"{src}: column '{col}' has {np.asarray(a).size} values for {n} steps")
        run = cls(
            step=step_a, loss=np.asarray(loss, dtype=float).copy(), lr=arr(lr), val_loss=arr(val_loss),
            grad_norm=arr(grad_norm), tokens=arr(tokens), name=name, source=src,
            rows=np.asarray(rows, dtype=int) if rows is not None else np.arange(n) + 2,
        )
        return run.cleaned()[0] if clean else run.checked()

    # ------------------------------------------------------------------ validation
    def _where(self, i: int, col: str | None = None) -> str:
        row = int(self.rows[i]) if self.rows is not None else i + 2
        return f"{self.source or self.name}: row {row}" + (f", column '{col}'" if col else "")

    def _problems(self) -> Iterable[tuple[str, int, str]]:
        """Yield ``(kind, index, message)`` for every problem, in file order."""
        src = self.source or self.name
        if self.step.size == 0:
            yield "empty", -1, f"{src}: no data rows"
            return
        for i in np.nonzero(~np.isfinite(self.step) | (self.step < 0) | (self.step != np.round(self.step)))[0]:
            yield "step", int(i), f"{self._where(int(i), 'step')}: step {self.step[i]} is not a non-negative integer"
        seen: dict[float, int] = {}
        for i, s in enumerate(self.step):
            if i and s < self.step[i - 1]:
                yield "order", i, f"{self._where(i, 'step')}: step {int(s)} comes after step {int(self.step[i - 1])} (steps must increase)"
            if s in seen:
                first = int(self.rows[seen[s]]) if self.rows is not None else seen[s] + 2
                yield "duplicate", i, f"{self._where(i, 'step')}: step {int(s)} appears again (first at row {first})"
            seen[s] = i
        logged = ~np.isnan(self.loss)
        for i in np.nonzero(np.isinf(self.loss) | (logged & ~np.isfinite(self.loss)))[0]:
            yield "loss", int(i), f"{self._where(int(i), 'loss')}: loss is {self.loss[i]}"
        # NaN written explicitly is indistinguishable from 'not logged' once parsed; loaders report it.
        if not np.any(np.isfinite(self.loss)):
            yield "noloss", -1, f"{src}: no loss values logged"
        if self.lr is not None:
            for i in np.nonzero(np.isinf(self.lr) | (self.lr < 0))[0]:
                yield "lr", int(i), f"{self._where(int(i), 'lr')}: learning rate {self.lr[i]} is negative or infinite"
        fin = np.isfinite(self.loss)
        if fin.any():
            vals = np.where(fin, self.loss, np.inf)
            best = np.minimum.accumulate(vals)
            bad = np.nonzero(fin & (self.loss > DIVERGENCE_FACTOR * best) & np.isfinite(best))[0]
            if bad.size:
                i = int(bad[0])
                yield "diverged", i, (
                    f"{self._where(i, 'loss')}: loss {self.loss[i]:g} at step {int(self.step[i])} is more than "
                    f"{DIVERGENCE_FACTOR:g}x the best loss so far ({best[i]:g}): the run diverged "
                    "(cut it, or load with clean=True / --clean to drop the tail)"
                )

    def checked(self) -> "Run":
        """Return ``self`` if it is usable, else raise :class:`RunError` for the first problem."""
        for _, _, msg in self._problems():
            raise RunError(msg)
        return replace(self, step=self.step.astype(np.int64))

    def cleaned(self) -> tuple["Run", list[str]]:
        """Repair what can be repaired; return the repaired run and one line per repair.

        Repairs: rows with a bad step are dropped; steps are sorted; for a duplicated step the
        last row wins; infinite losses and negative or infinite LRs become "not logged"; a
        diverged run is cut before the first diverged loss.  An empty run still raises.
        """
        notes: list[str] = []
        cols = {c: getattr(self, c) for c in ("loss", "lr", "val_loss", "grad_norm", "tokens")}
        rows = self.rows if self.rows is not None else np.arange(self.step.size) + 2
        step = self.step
        if step.size == 0:
            raise RunError(f"{self.source or self.name}: no data rows")
        good = np.isfinite(step) & (step >= 0) & (step == np.round(step))
        if not good.all():
            notes.append(f"dropped {int((~good).sum())} rows with a bad step (first at row {int(rows[~good][0])})")
        keep = np.nonzero(good)[0]
        if keep.size == 0:
            raise RunError(f"{self.source or self.name}: no row has a valid step (a non-negative integer)")
        order = keep[np.argsort(step[keep], kind="stable")]
        if np.any(np.diff(step[keep]) < 0):
            notes.append("sorted rows by step")
        st = step[order]
        last = np.r_[st[1:] != st[:-1], True]
        if not last.all():
            notes.append(f"dropped {int((~last).sum())} rows with a duplicated step (kept the last one of each)")
        order = order[last]
        new = {c: (None if a is None else a[order].astype(float)) for c, a in cols.items()}
        rows = rows[order]
        st = step[order]
        loss = new["loss"]
        inf = np.isinf(loss)
        if inf.any():
            notes.append(f"ignored {int(inf.sum())} infinite losses (first at row {int(rows[inf][0])})")
            loss[inf] = np.nan
        if new["lr"] is not None:
            badlr = np.isinf(new["lr"]) | (new["lr"] < 0)
            if badlr.any():
                notes.append(f"ignored {int(badlr.sum())} negative or infinite LRs (first at row {int(rows[badlr][0])})")
                new["lr"][badlr] = np.nan
        fin = np.isfinite(loss)
        if fin.any():
            best = np.minimum.accumulate(np.where(fin, loss, np.inf))
            bad = np.nonzero(fin & (loss > DIVERGENCE_FACTOR * best) & np.isfinite(best))[0]
            if bad.size:
                cut = int(bad[0])
                notes.append(
                    f"cut {st.size - cut} rows from step {int(st[cut])} on: loss {loss[cut]:g} > "
                    f"{DIVERGENCE_FACTOR:g}x the best so far ({best[cut]:g}), the run diverged"
                )
                st, rows, loss = st[:cut], rows[:cut], loss[:cut]
                new = {c: (None if a is None else a[:cut]) for c, a in new.items()}
        new["loss"] = loss
        run = Run(step=st, name=self.name, source=self.source, rows=rows, notes=self.notes + tuple(notes), **new)
        return run.checked(), notes

    # ------------------------------------------------------------------ access
    def logged(self, column: str = "loss") -> tuple[np.ndarray, np.ndarray]:
        """Steps where ``column`` was logged, and its values there."""
        if column not in COLUMNS or column == "step":
            raise RunError(f"unknown column {column!r}; valid: {', '.join(COLUMNS[1:])}")
        vals = getattr(self, column)
        if vals is None:
            raise RunError(f"{self.source or self.name}: no '{column}' column")
        ok = ~np.isnan(vals)
        return self.step[ok].astype(np.int64), vals[ok]

    @property
    def last_step(self) -> int:
        return int(self.step[-1])

    def lr_per_step(
        self,
        total: int | None = None,
        schedule: Callable[[np.ndarray], np.ndarray] | None = None,
        base_lr: float | None = None,
    ) -> np.ndarray:
        """The absolute LR of every step ``0..total-1`` (``total`` defaults to the last step + 1).

        With ``schedule`` (a callable from an array of steps to LR multipliers) and ``base_lr``,
        the LR is taken exactly from the schedule.  Otherwise the logged LRs are interpolated
        linearly between logged steps; steps before the first or after the last logged LR are
        an error (there is no honest way to guess them -- pass a schedule).
        """
        src = self.source or self.name
        total = self.last_step + 1 if total is None else int(total)
        if total <= 0:
            raise RunError(f"{src}: total steps must be positive, got {total}")
        steps = np.arange(total)
        if schedule is not None:
            if base_lr is None or not (base_lr > 0 and math.isfinite(base_lr)):
                raise RunError(f"{src}: a schedule needs a positive base LR (got {base_lr})")
            mult = np.asarray(schedule(steps), dtype=float)
            if mult.shape != steps.shape:
                raise RunError(f"{src}: schedule returned shape {mult.shape} for {total} steps")
            if not np.all(np.isfinite(mult)) or np.any(mult < 0):
                i = int(np.nonzero(~np.isfinite(mult) | (mult < 0))[0][0])
                raise RunError(f"{src}: schedule gives multiplier {mult[i]} at step {i}")
            return mult * float(base_lr)
        if self.lr is None:
            raise RunError(f"{src}: no 'lr' column; give the schedule and base LR (--schedule SPEC --lr BASE)")
        s, v = self.logged("lr")
        if s.size == 0:
            raise RunError(f"{src}: the 'lr' column is empty; give the schedule and base LR")
        if s[0] > 0:
            raise RunError(f"{src}: LR logged only from step {int(s[0])}; the LR before is unknown: give the schedule and base LR (--schedule SPEC --lr BASE)")
        if s[-1] < total - 1:
            raise RunError(f"{src}: LR logged only up to step {int(s[-1])}, {total} steps needed: give the schedule and base LR")
        return np.interp(steps, s, v)


# ---------------------------------------------------------------------- loaders
def _resolve(header: Sequence[str], columns: Mapping[str, str] | None, src: str) -> dict[str, int]:
    """Map canonical column names to header positions (explicit mapping first, then aliases)."""
    columns = dict(columns or {})
    unknown = sorted(set(columns) - set(COLUMNS))
    if unknown:
        raise RunError(f"{src}: unknown column role(s) {unknown}; valid roles: {', '.join(COLUMNS)}"
                       f"{did_you_mean(unknown[0], COLUMNS)}")
    low = {h.strip().lower(): i for i, h in reversed(list(enumerate(header)))}
    out: dict[str, int] = {}
    for role in COLUMNS:
        if role in columns:
            key = columns[role].strip().lower()
            if key not in low:
                raise RunError(f"{src}: column '{columns[role]}' (mapped to {role}) not in header: {', '.join(header)}")
            out[role] = low[key]
            continue
        for alias in ALIASES[role]:
            if alias in low:
                out[role] = low[alias]
                break
        else:
            if role == "lr":  # Lightning's LearningRateMonitor writes 'lr-AdamW' and the like
                for h, i in low.items():
                    if h.startswith("lr-") or h.startswith("lr/"):
                        out[role] = i
                        break
    for role in ("step", "loss"):
        if role not in out:
            raise RunError(
                f"{src}: no '{role}' column (header: {', '.join(header)}); map one, e.g. columns={{'{role}': NAME}} or --column {role}=NAME"
            )
    return out


def _wandb_header(header: list[str]) -> list[str]:
    """W&B CSV exports name columns '<run> - train/loss' (plus '__MIN'/'__MAX'); strip the run name."""
    out = []
    for h in header:
        if h.endswith("__MIN") or h.endswith("__MAX"):
            out.append("")  # ignored
        elif " - " in h:
            out.append(h.split(" - ", 1)[1])
        else:
            out.append(h)
    return out


_NAN_WORDS = {"nan", "-nan", "+nan"}


def _parse_rows(records: list[tuple[int, list[object]]], roles: dict[str, int], src: str,
                nans: list[tuple[str, int]] | None = None) -> dict[str, np.ndarray]:
    """Numbers from raw cells; empty cell or None = not logged; explicit NaN is an error, or, when
    ``nans`` is a list (``clean``), recorded there as ``(column, row)`` and treated as not logged."""
    data = {r: np.full(len(records), np.nan) for r in roles}
    for j, (row, cells) in enumerate(records):
        for role, i in roles.items():
            cell = cells[i] if i < len(cells) else None
            if cell is None or (isinstance(cell, str) and cell.strip() == ""):
                continue
            if isinstance(cell, bool) or not isinstance(cell, (int, float, str)):
                raise RunError(f"{src}: row {row}, column '{role}': {cell!r} is not a number")
            try:
                val = float(cell)
            except ValueError:
                raise RunError(f"{src}: row {row}, column '{role}': cannot read {cell!r} as a number") from None
            if math.isnan(val):
                if nans is None or role == "step":
                    raise RunError(f"{src}: row {row}, column '{role}': value is NaN "
                                   "(leave the cell empty if not logged, or repair with clean/--clean)")
                nans.append((role, row))
                continue
            data[role][j] = val
    missing = np.isnan(data["step"])
    if missing.any():
        row = records[int(np.nonzero(missing)[0][0])][0]
        raise RunError(f"{src}: row {row}, column 'step': no step")
    return data


def _build(data: dict[str, np.ndarray], rows: list[int], name: str, src: str, clean: bool,
           nans: Sequence[tuple[str, int]] = ()) -> Run:
    def has(role: str) -> bool:
        return role in data and not np.all(np.isnan(data[role]))

    notes = []
    for role in dict.fromkeys(r for r, _ in nans):
        at = [row for r, row in nans if r == role]
        notes.append(f"ignored {len(at)} NaN values in column '{role}' (first at row {at[0]})")
    run = Run.from_arrays(
        data["step"], data["loss"], data["lr"] if has("lr") else None,
        val_loss=data["val_loss"] if has("val_loss") else None,
        grad_norm=data["grad_norm"] if has("grad_norm") else None,
        tokens=data["tokens"] if has("tokens") else None,
        name=name, source=src, rows=rows, clean=clean,
    )
    return replace(run, notes=tuple(notes) + run.notes) if notes else run


def read_csv(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None, clean: bool = False) -> Run:
    """Read a CSV run file (header row; W&B CSV exports are recognised)."""
    p = Path(path)
    src = str(path)
    try:
        with p.open(newline="") as fh:
            sample = fh.read(4096)
            fh.seek(0)
            delim = "\t" if sample.count("\t") > sample.count(",") else ","
            reader = csv.reader(fh, delimiter=delim)
            header = next(reader, None)
            records = [(i + 2, row) for i, row in enumerate(reader) if any(c.strip() for c in row)]
    except OSError as exc:
        raise RunError(f"{src}: cannot read ({exc.strerror})") from None
    except (UnicodeDecodeError, csv.Error) as exc:
        raise RunError(f"{src}: not a readable CSV file ({exc})") from None
    if header is None:
        raise RunError(f"{src}: empty file (expected a header row such as 'step,loss,lr')")
    if any(" - " in h for h in header):
        header = _wandb_header(header)
    roles = _resolve(header, columns, src)
    if not records:
        raise RunError(f"{src}: no data rows")
    nans: list[tuple[str, int]] | None = [] if clean else None
    data = _parse_rows(records, roles, src, nans)  # type: ignore[arg-type]
    return _build(data, [r for r, _ in records], name or p.stem, src, clean, nans or ())


def read_jsonl(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None, clean: bool = False) -> Run:
    """Read a JSON-lines run file: one object per line; a missing key means "not logged"."""
    p = Path(path)
    src = str(path)
    objs: list[tuple[int, dict]] = []
    try:
        lines = p.read_text().splitlines()
    except OSError as exc:
        raise RunError(f"{src}: cannot read ({exc.strerror})") from None
    except UnicodeDecodeError as exc:
        raise RunError(f"{src}: not a text file ({exc.reason})") from None
    for i, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise RunError(f"{src}: line {i}: not valid JSON ({exc.msg})") from None
        if not isinstance(obj, dict):
            raise RunError(f"{src}: line {i}: expected a JSON object, got {type(obj).__name__}")
        objs.append((i, obj))
    if not objs:
        raise RunError(f"{src}: no data rows")
    header: list[str] = []
    for _, o in objs:
        for k in o:
            if k not in header:
                header.append(k)
    roles = _resolve(header, columns, src)
    records = [(i, [o.get(h) for h in header]) for i, o in objs]
    nans: list[tuple[str, int]] | None = [] if clean else None
    data = _parse_rows(records, roles, src, nans)
    return _build(data, [i for i, _ in objs], name or p.stem, src, clean, nans or ())


def read_tensorboard(path: str | Path, columns: Mapping[str, str] | None = None, name: str | None = None, clean: bool = False) -> Run:
    """Read scalars from a TensorBoard event file or log directory (needs ``pip install tensorboard``)."""
    src = str(path)
    try:
        from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    except ImportError:
        raise RunError(f"{src}: reading TensorBoard event files needs the 'tensorboard' package: pip install tensorboard") from None
    acc = EventAccumulator(str(path), size_guidance={"scalars": 0})
    try:
        acc.Reload()
    except Exception as exc:  # noqa: BLE001 - the reader raises several unrelated types
        raise RunError(f"{src}: cannot read TensorBoard events ({exc})") from None
    tags = list(acc.Tags().get("scalars", []))
    roles = _resolve(["step"] + tags, columns, src)
    # One row per (step, occurrence): a step logged twice for a tag (a resumed run writing into the
    # same directory) becomes two rows with the same step, reported (or repaired) like a CSV's.
    rows: dict[tuple[int, int], dict[str, float]] = {}
    for role, i in roles.items():
        if role == "step":
            continue
        seen: dict[int, int] = {}
        for e in acc.Scalars(tags[i - 1]):
            k = seen[e.step] = seen.get(e.step, -1) + 1
            rows.setdefault((e.step, k), {})[role] = e.value
    if not rows:
        raise RunError(f"{src}: no scalar events")
    keys = sorted(rows)
    order = ["step"] + [r for r in roles if r != "step"]
    records = [(j + 1, [float(k[0])] + [rows[k].get(r) for r in order[1:]]) for j, k in enumerate(keys)]
    nans: list[tuple[str, int]] | None = [] if clean else None
    data = _parse_rows(records, {r: i for i, r in enumerate(order)}, src, nans)  # type: ignore[arg-type]
    p = Path(path)
    default = p.parent.name if "tfevents" in p.name else p.name  # the run's directory names it
    return _build(data, [j for j, _ in records], name or default, src, clean, nans or ())


def load_run(
    path: str | Path,
    *,
    columns: Mapping[str, str] | None = None,
    name: str | None = None,
    format: str | None = None,
    clean: bool = False,
) -> Run:
    """Load a run from CSV, JSON lines or TensorBoard events, chosen by ``format`` or the file name.

    ``columns`` maps roles (``step``, ``loss``, ``lr``, ``val_loss``, ``grad_norm``, ``tokens``)
    to the file's column names, e.g. ``{"loss": "train/loss_epoch"}``.
    """
    p = Path(path)
    fmt = format
    if fmt is None:
        if p.is_dir() or "tfevents" in p.name:
            fmt = "tensorboard"
        elif p.suffix.lower() in (".jsonl", ".ndjson", ".json"):
            fmt = "jsonl"
        else:
            fmt = "csv"
    if fmt != "tensorboard" and not p.is_file():
        raise RunError(f"{path}: no such file")
    readers = {"csv": read_csv, "jsonl": read_jsonl, "tensorboard": read_tensorboard}
    if fmt not in readers:
        raise RunError(f"{path}: unknown format {fmt!r}; valid: {', '.join(readers)}")
    return readers[fmt](p, columns=columns, name=name, clean=clean)


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
