"""lrkit: learning-rate schedules you can write in one line, see, drive, predict, plan and compare.

>>> import lrkit
>>> s = lrkit.parse("cosine(warmup=100, floor=0.1)")
>>> round(s(550, total=1000), 4)
0.55
>>> str(s)
'cosine(floor=0.1, warmup=100)'
"""

from .errors import SpecError
from .laws.domain import ExtrapolationError, ExtrapolationWarning
from .lint import lint
# fills the registry behind .plot() of fits, predictions and plans (lrkit.laws.figures); no matplotlib yet
from .report import law_figures as _law_figures  # noqa: F401
from .schedules import (PRESETS, Convention, Phase, Schedule, families, get_convention, linear_scaling,
                        sqrt_scaling)
from .spec import parse

__version__ = "0.1.0"

__all__ = ["SpecError", "ExtrapolationWarning", "ExtrapolationError", "Schedule", "Phase", "Convention", "PRESETS",
           "get_convention", "parse", "lint", "families", "linear_scaling", "sqrt_scaling", "__version__"]
