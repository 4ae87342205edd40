"""``lrkit fit``, ``lrkit predict``, ``lrkit plan``: predict a loss curve before training.

Thin: parse arguments, call :mod:`lrkit.laws` and :mod:`lrkit.runs`, print with rich.  Bad input
raises ``click.UsageError`` or a ``ValueError`` (RunError, LawError, SpecError) that the main
wrapper prints as one line with exit code 2; a prediction outside the fit's domain of validity is one
warning line per kind on stderr.
"""

from __future__ import annotations

import click

from .fit import LAW_CHOICES, fit_command
from .plan import plan_command
from .predict import predict_command

__all__ = ["LAW_CHOICES", "fit_command", "predict_command", "plan_command", "register"]


def register(group: click.Group) -> None:
    """Add ``fit``, ``predict`` and ``plan`` to a click group."""
    group.add_command(fit_command)
    group.add_command(predict_command)
    group.add_command(plan_command)
