"""``under(schedule, convention="hf")``: a schedule counted by one library's convention, whatever the caller's.

A library's scheduler name read as a spec (``warmup_stable_decay(num_warmup_steps=100, ...)``, see
:mod:`.aliases`) means that library's values; ``under`` pins the convention that gives them, so the spec
reproduces transformers (or torch, or timm) under lrkit's default, in ``lrkit show`` and in a
``Scheduler`` built with any convention. Everything inside is bound, phased and linted under the pinned
convention.
"""

from __future__ import annotations

from ..errors import SpecError
from . import validate as v
from .base import Schedule, family
from .conventions import PRESETS
from .spec import as_schedule


@family("under")
class Under(Schedule):
    """``schedule`` evaluated under the preset ``convention`` (``hf``, ``torch``, ``timm``, ...)."""

    schedule: Schedule | None = None
    convention: str = "lrkit"
    schedule_fields = ("schedule",)
    positional = ("schedule",)

    def _check(self) -> None:
        if self.schedule is None:
            raise SpecError("under: missing the schedule, e.g. under(wsd(warmup=100, decay=0.2), convention='hf')")
        self._set("schedule", as_schedule("under", "schedule", self.schedule))
        v.choice("under", "convention", self.convention, tuple(PRESETS))

    def needs_total(self) -> bool:
        return self.schedule.needs_total()

    def _compile(self, total, conv):
        return self.schedule._compile(total, PRESETS[self.convention])

    def _phases(self, total, conv):
        return self.schedule._phases(total, PRESETS[self.convention])

    def _lint(self, total, conv):
        return self.schedule._lint(total, PRESETS[self.convention])
