"""A training run's logged history (step, LR, loss, ...) and its readers and writer.

Formats: CSV (a header row; W&B CSV exports included), JSON lines, W&B run exports as one JSON
document (``{"config": ..., "history": [...]}`` or ``history.train`` / ``history.val``), TensorBoard
event files (needs the optional ``tensorboard`` package).  An empty cell (or a key missing from a JSON
line) means "not logged at that step": the LR may be logged at every step and the loss only at some.
Rows at one step, one after the other, whose logged columns do not collide (W&B logs a training row
and a validation row at one step) are one step, with a note.  A cooldown branch that logs only from
its branch point joins its base run with :meth:`Run.on_base`.

What a file may hold: UTF-8 text (a UTF-8 byte-order mark is fine; UTF-16 is refused with a hint),
comma- or tab-separated (semicolons are refused with a hint), every row with as many fields as the
header, numbers in ASCII digits with ``.`` as the decimal mark (no ``1_005``, no other scripts'
digits), steps that are exact integers in ``0 .. 2**63 - 1``, one column per role (``loss`` and
``train/loss`` in one file is ambiguous: map the one to use), one run per file.  At most
:data:`MAX_ROWS` lines are read; :meth:`Run.lr_per_step` builds at most :data:`MAX_STEPS` steps.

Bad input raises :class:`RunError` (a ``ValueError``) with one line naming the file, the row or
column and the problem.  ``load_run(..., clean=True)`` (or :meth:`Run.cleaned`) instead repairs what
can be repaired -- drops rows with a bad step, NaN, infinite and non-positive losses, negative LRs,
duplicate steps, cuts a diverged tail, sorts the steps -- and reports each repair in ``Run.notes``;
nothing is dropped silently.  :func:`write_csv` writes the CSV that the readers read back.

Layout: ``base`` (roles, limits, the error), ``checks`` (what is wrong with a run, what clean
repairs), ``run`` (:class:`Run`), ``cells`` (numbers from cells), ``header`` (column -> role),
``readers`` (CSV, JSON lines, :func:`load_run`), ``wandb`` (W&B JSON exports), ``tensorboard``, ``write``
(:func:`write_csv`).
"""

from .base import ALIASES, COLUMNS, DIVERGENCE_FACTOR, INT64_MAX, MAX_ROWS, MAX_STEPS, RunError
from .readers import load_run, parse_column_map, read_csv, read_jsonl
from .run import Run
from .tensorboard import read_tensorboard
from .write import write_csv

__all__ = [
    "ALIASES", "COLUMNS", "DIVERGENCE_FACTOR", "INT64_MAX", "MAX_ROWS", "MAX_STEPS", "Run", "RunError",
    "load_run", "parse_column_map", "read_csv", "read_jsonl", "read_tensorboard", "write_csv",
]
