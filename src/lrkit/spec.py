"""The schedule language at its public path, ``lrkit.spec``: :func:`parse` (spec text, JSON or a dict to a
:class:`~lrkit.Schedule`) and :func:`format_spec` (the way back, ``str(schedule)``).

The language is the schedules' own vocabulary and lives with them: reading in :mod:`lrkit.schedules.spec`,
formatting in :mod:`lrkit.schedules.base`.
"""

from .schedules.base import MAX_DEPTH, format_spec, format_value
from .schedules.spec import as_schedule, loads_json, parse

__all__ = ["parse", "format_spec", "format_value", "as_schedule", "loads_json", "MAX_DEPTH"]
