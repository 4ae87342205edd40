"""Sharing a parameter group's LR with torch's own schedulers (``ChainedScheduler``, a ``StepLR`` stepping the
same optimizer, ``SequentialLR``).

torch's chainable schedulers (``StepLR``, ``ExponentialLR``, ``MultiplicativeLR`` ...) multiply the LR the
group holds; ``LambdaLR`` overwrites it. A :class:`~lrkit.integrations.torch.Scheduler` with ``chainable=True``
(the default) notices at its ``step()`` that a group's LR is no longer the value it wrote, and keeps that
change as a *factor* of the group: from then on it writes ``base * multiplier(t) * factor``, which is torch's
chainable rule ``lr_t = lr_{t-1} * m(t) / m(t-1)`` in closed form. Without another writer the factor stays 1 and
the LR is the closed form exactly. ``chainable=False`` overwrites the group's LR every step, as ``LambdaLR``.

What is part of the state (:meth:`Chain.state`): the factors, and for each group whose LR another scheduler has
changed since this one last wrote it, that LR (``foreign``): a resumed run writes it back and takes the change
in at its next step exactly as the uninterrupted run does, and a dormant scheduler inside a ``SequentialLR``
does not overwrite the active one's LR when it is loaded.

A group whose dict was replaced (``optimizer.load_state_dict`` makes new ones) is not a change by another
scheduler: this scheduler writes its own LR there again.
"""

from __future__ import annotations

import math
from typing import Any

import torch

from .groups import to_float


def _token(value: Any) -> tuple:
    """What identifies the LR a group holds: a float's value, or a tensor's identity and in-place version."""
    if isinstance(value, torch.Tensor):
        return ("tensor", id(value), value._version)
    return ("value", value)


class Chain:
    """Each group's factor from other schedulers, and the marks that show whether they changed its LR."""

    def __init__(self, n: int, chainable: bool) -> None:
        self.chainable = chainable
        self.factors = [1.0] * n
        self._marks: list[tuple[dict, tuple] | None] = [None] * n
        self._written: list[float] = [math.nan] * n

    def moved(self, groups: list[dict]) -> list[int]:
        """The groups whose LR another writer changed since :meth:`mark` (same group dict, another value)."""
        out = []
        for i, g in enumerate(groups):
            mark = self._marks[i] if i < len(self._marks) else None
            if mark is not None and mark[0] is g and _token(g["lr"]) != mark[1]:
                out.append(i)
        return out

    def absorb(self, groups: list[dict]) -> None:
        """Take the changes other schedulers made to the groups' LRs in as factors (``chainable`` only)."""
        if not self.chainable:
            return
        for i in self.moved(groups):
            value = groups[i]["lr"]
            written, now = self._written[i], to_float(value)
            if isinstance(value, torch.Tensor):  # what the tensor held after this scheduler wrote (its dtype's rounding)
                written = float(torch.tensor(written, dtype=value.dtype))
            if now != written and written != 0.0 and math.isfinite(now) and now >= 0.0:
                self.factors[i] *= now / written

    def mark(self, groups: list[dict], written: list[float]) -> None:
        """Remember what this scheduler has just written into each group."""
        self._marks = [(g, _token(g["lr"])) for g in groups]
        self._written = list(written)

    def reset(self) -> None:
        """Drop the factors (a restart at a ``SequentialLR`` milestone writes the closed form, as torch does)."""
        self.factors = [1.0] * len(self.factors)

    def state(self, groups: list[dict]) -> dict[str, Any]:
        """The factors, and the LR of each group another writer has changed since this scheduler wrote it."""
        moved = set(self.moved(groups))
        return {"factors": list(self.factors),
                "foreign": [to_float(g["lr"]) if i in moved else None for i, g in enumerate(groups)]}

    def put_foreign(self, foreign: list[float | None] | None, groups: list[dict], write) -> None:
        """After a load: each group's LR as another writer left it when the state was saved, written back with
        ``write(i, value)`` and marked as not this scheduler's, so its next step takes the change in as the
        uninterrupted run does."""
        for i, lr in enumerate(foreign or ()):
            if lr is not None:
                write(i, lr)
                self._marks[i] = (groups[i], ("foreign",))

    def forget(self) -> None:
        """Forget the marks (after unpickling: tensors are new objects); the next step writes lrkit's LR."""
        self._marks = [None] * len(self.factors)
