"""A trial: one training run of one workload under one schedule, peak LR, optimizer, seed and length."""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from .methods import canonical as canonical_spec  # the spec as printed, a method with all its arguments

OPTIMIZERS = ("adamw", "sgd", "sfadamw")
OPTIMIZER_TITLES = {"adamw": "AdamW", "sgd": "SGD (momentum 0.9)", "sfadamw": "Schedule-Free AdamW"}
#: What a trial logs at each logged point, in order: the columns of a history and of the ``points`` table.
HISTORY_FIELDS = ("step", "lr", "loss", "val_loss", "grad_norm", "time")

__all__ = ["Trial", "OPTIMIZERS", "OPTIMIZER_TITLES", "HISTORY_FIELDS", "canonical_spec", "default_log_every"]


def default_log_every(steps: int) -> int:
    """About 50 logged points per run."""
    return max(1, steps // 50)


@dataclass(frozen=True)
class Trial:
    """(workload, schedule spec, peak LR, optimizer, seed, steps) plus how often to log.

    ``options`` are the workload's options (e.g. ``{"corpus": "/data/text.txt"}``), part of the key.
    """

    workload: str
    schedule: str
    lr: float
    optimizer: str = "adamw"
    seed: int = 0
    steps: int = 1000
    log_every: int = 0
    options: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer {self.optimizer!r} is not known; valid: {', '.join(OPTIMIZERS)}")
        if not (isinstance(self.steps, int) and self.steps >= 1):
            raise ValueError(f"steps must be a positive integer, got {self.steps!r}")
        if not (self.lr > 0):
            raise ValueError(f"peak LR must be positive, got {self.lr!r}")
        if self.log_every <= 0:
            object.__setattr__(self, "log_every", default_log_every(self.steps))

    @property
    def options_json(self) -> str:
        return json.dumps(self.options, sort_keys=True, separators=(",", ":"))

    @property
    def key(self) -> str:
        """A stable id of what the trial computes: equal keys, equal results."""
        ident = [self.workload, self.options_json, self.schedule, repr(float(self.lr)), self.optimizer,
                 int(self.seed), int(self.steps), int(self.log_every)]
        return hashlib.sha256(json.dumps(ident).encode()).hexdigest()[:32]

    @property
    def label(self) -> str:
        """How the trial's method is named in tables: the spec, with the optimizer unless it is AdamW."""
        if self.optimizer == "sfadamw":
            return "schedule-free AdamW" + ("" if self.schedule.startswith("constant(") else f" × {self.schedule}")
        if self.optimizer != "adamw":
            return f"{self.schedule} [{self.optimizer}]"
        return self.schedule

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Trial":
        return cls(**{k: d[k] for k in ("workload", "schedule", "lr", "optimizer", "seed", "steps", "log_every", "options")})
