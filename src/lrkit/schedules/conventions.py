"""Where libraries disagree, and the presets that reproduce each of them.

Four questions decide a schedule's values at its edges:

* ``warmup_offset``: is the first warmup step at ``0/W`` (LR 0, a wasted step) or ``1/W``?
* ``placement``: is warmup counted *inside* the total (the decay runs from ``W`` to ``T``),
  *before* it (the decay runs ``T`` steps after warmup), or does it *replace* the first ``W``
  values of a schedule that starts at step 0 (timm without ``warmup_prefix``)?
* ``end``: is the end value reached at step ``T`` (after the last of the ``T`` steps, so the last
  step trains at a non-zero LR) or at ``T - 1``?
* ``after_end``: past the end, does the LR stay at the end value (``clamp``) or does a periodic
  formula keep going (``continue``: torch's CosineAnnealingLR and transformers' cosine rise again)?

and one more names a library whose own edge cases to follow where its functions count differently from the
four answers (``quirks``): ``"hf"`` is transformers' (its ``get_wsd_schedule`` ramps the warmup up from
``min_lr_ratio``, places the decay over the run's last ``num_decay_steps`` even where the warmup runs into it,
and holds ``min_lr_ratio`` after the end even without a decay; its linear and polynomial decays are over
once a warmup fills the whole run).

lrkit's default answers: ``1/W``, inside, ``T``, clamp, no quirks. See docs/conventions.md for the table.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import SpecError
from .validate import did_you_mean, shown


#: Libraries whose own edge cases a convention can follow (``quirks=``).
QUIRKS = ("none", "hf")


@dataclass(frozen=True)
class Convention:
    """How a schedule's edges are counted. Use a preset name or build your own."""

    name: str
    warmup_offset: int = 1
    placement: str = "inside"
    end: str = "T"
    after_end: str = "clamp"
    quirks: str = "none"

    def __post_init__(self) -> None:
        if self.warmup_offset not in (0, 1):
            raise SpecError(f"convention {self.name}: warmup_offset={shown(self.warmup_offset)}; expected 0 or 1")
        for field, options in (("placement", ("inside", "before", "replace")), ("end", ("T", "T-1")),
                               ("after_end", ("clamp", "continue")), ("quirks", QUIRKS)):
            if getattr(self, field) not in options:
                raise SpecError(f"convention {self.name}: {field}={shown(getattr(self, field))}; expected one of "
                                f"{options}")


PRESETS: dict[str, Convention] = {
    "lrkit": Convention("lrkit"),
    "torch": Convention("torch", warmup_offset=0, after_end="continue"),
    "hf": Convention("hf", warmup_offset=0, after_end="continue", quirks="hf"),
    "timm": Convention("timm", warmup_offset=0, placement="replace"),
    "timm-prefix": Convention("timm-prefix", warmup_offset=0, placement="before"),  # warmup_prefix=True
    "optax": Convention("optax", warmup_offset=0),
}
DEFAULT = PRESETS["lrkit"]


def get_convention(value: str | Convention | None) -> Convention:
    """A :class:`Convention` from a preset name, an instance, or ``None`` (lrkit's default)."""
    if value is None:
        return DEFAULT
    if isinstance(value, Convention):
        return value
    if isinstance(value, str) and value in PRESETS:
        return PRESETS[value]
    raise SpecError(f"convention={shown(value)} is not a preset; expected one of {', '.join(PRESETS)}"
                    f"{did_you_mean(str(value), PRESETS)}")
