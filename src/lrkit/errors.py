"""The one exception users see for invalid schedules and arguments."""

from __future__ import annotations


class SpecError(ValueError):
    """An invalid schedule spec or argument.

    The message is one line that names the parameter, the value and what would be valid,
    e.g. ``cosine: floor=-0.1 is negative; expected a number >= 0``.
    """
