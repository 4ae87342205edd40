"""What every part of :mod:`lrkit.runs` shares: the roles and their aliases, the limits, the error type."""

from __future__ import annotations

from typing import Any, Iterable

from ..schedules.validate import did_you_mean

COLUMNS = ("step", "lr", "loss", "val_loss", "grad_norm", "tokens")

#: Column names recognised without a mapping (case-insensitive).  Two of one role in a file are an error.
ALIASES: dict[str, tuple[str, ...]] = {
    "step": ("step", "_step", "global_step", "trainer/global_step", "iteration", "iter", "steps"),
    "loss": ("loss", "train/loss", "train_loss", "training_loss", "loss/train", "train/loss_step", "trainer/loss"),
    "lr": ("lr", "learning_rate", "train/lr", "train/learning_rate", "lr/train", "learning-rate"),
    "val_loss": ("val_loss", "val/loss", "eval/loss", "eval_loss", "validation/loss", "valid/loss", "loss/val",
                 "validation_loss", "valid_loss", "loss/validation"),
    "grad_norm": ("grad_norm", "train/grad_norm", "gradient_norm", "grad-norm", "train/gradient_norm"),
    "tokens": ("tokens", "train/tokens", "num_tokens", "tokens_seen", "train/num_tokens"),
}

#: A loss more than this many times the best loss so far marks a diverged run.
DIVERGENCE_FACTOR = 2.0
#: The most lines (rows) a run file may have; the numbers of ~50 bytes a row are held in memory.
MAX_ROWS = 20_000_000
#: The most steps :meth:`Run.lr_per_step` builds (one LR per step, dense).
MAX_STEPS = 10_000_000
#: The largest step (int64).
INT64_MAX = 2**63 - 1
#: Rows converted at a time by the readers.
CHUNK = 1 << 18


class RunError(ValueError):
    """A run file or run data that cannot be used as it is (one line: file, row/column, problem)."""


def required(require: Iterable[str]) -> tuple[str, ...]:
    """The roles of ``require``, checked, with ``step`` first (a run always has steps)."""
    req = tuple(dict.fromkeys(("step", *require)))
    unknown = [r for r in req if r not in COLUMNS]
    if unknown:
        raise RunError(f"unknown required column {unknown[0]!r}; valid: {', '.join(COLUMNS)}"
                       f"{did_you_mean(unknown[0], COLUMNS)}")
    return req


class KeyTwice(Exception):
    """A JSON object names one key twice (json keeps the last silently); the key is the argument."""


def unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """``object_pairs_hook`` for :mod:`json`: the object, or :class:`KeyTwice` naming the repeated key."""
    out = dict(pairs)
    if len(out) != len(pairs):
        seen: set[str] = set()
        raise KeyTwice(next(k for k, _ in pairs if k in seen or seen.add(k)))  # type: ignore[func-returns-value]
    return out
