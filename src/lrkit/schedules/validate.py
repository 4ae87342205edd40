"""Argument checks that raise :class:`~lrkit.SpecError` with one line naming the parameter.

Modelled on scikit-learn's parameter validation: every message says which schedule, which
parameter, the value given, and what would be valid.
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import difflib
import math
import numbers
import re
import sys
from collections.abc import Iterable, Iterator, Sequence

from ..errors import SpecError

#: The largest finite float: an integer above it cannot be a number of steps or a multiplier (``float(n)``
#: overflows), whether it came from a spec's digits, a JSON file or Python.
MAX_FLOAT = sys.float_info.max


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a choice is close to ``word`` (in any case), else ``''``."""
    if not isinstance(word, str):
        return ""
    choices = [str(c) for c in choices]
    lower = {c.lower(): c for c in choices}
    close = difflib.get_close_matches(word.lower(), list(lower), n=1, cutoff=0.6)
    return f"; did you mean {lower[close[0]]!r}?" if close else ""


def clip(text: str, limit: int = 200) -> str:
    """Text for a one-line message, cut to ``limit`` characters (ending in ``...``) when longer."""
    return text if len(text) <= limit else text[:limit - 3] + "..."


def clip_path(path: object, limit: int = 60) -> str:
    """A file path for a one-line message: past ``limit`` characters its leading folders give way to
    ``...``, never its file name (``.../csv_400/cosine.json``); text that is not a path (JSON given
    inline) is clipped as :func:`clip` does."""
    text = str(path)
    if len(text) <= limit:
        return text
    if "\n" in text or text.lstrip().startswith(("{", "[")):
        return clip(" ".join(text.split()), limit)
    parts = text.replace("\\", "/").rstrip("/").split("/")
    kept = [parts[-1]]
    for part in reversed(parts[:-1]):
        if len(".../" + "/".join([part] + kept)) > limit:
            break
        kept.insert(0, part)
    return ".../" + "/".join(kept)


def _is_schedule(value: object) -> bool:
    """A schedule, known by its family name (this module is the floor under :mod:`.base`: it cannot import it)."""
    return isinstance(getattr(value, "family", None), str) and not isinstance(value, type) and hasattr(value, "nodes")


def shown(value: object) -> str:
    """A value as a message shows it: on one line, a schedule as its spec text, an array as a list."""
    if _is_schedule(value):
        return str(value)
    if type(value) is int and abs(value) > MAX_FLOAT:
        return _huge(value)
    if hasattr(value, "tolist") and hasattr(value, "shape"):  # numpy arrays: their repr spans lines
        value = value.tolist()
    if isinstance(value, (list, tuple)) and any(_is_schedule(x) for x in value):
        inner = ", ".join(shown(x) for x in value)
        return f"[{inner}]" if isinstance(value, list) else f"({inner}{',' if len(value) == 1 else ''})"
    return clip(" ".join(repr(value).split()))


def _huge(value: int) -> str:
    """An integer too large for a float, as a message shows it: a few digits and how many there are (``repr``
    itself refuses integers of more than 4300 digits)."""
    sign = "-" if value < 0 else ""
    if value.bit_length() > 14_000:  # (about 4200 digits: str() would refuse it)
        return f"{sign}<an integer of about {int(value.bit_length() * math.log10(2)):,} digits>"
    digits = str(abs(value))
    return f"{sign}{digits[:6]}...{digits[-3:]} ({len(digits)} digits)"


def _too_large(where: str, value: object, expected: str) -> SpecError:
    return SpecError(f"{where}={shown(value)} is too large; expected {expected} (at most about 1.8e308)")


def as_list(value: object) -> object:
    """A numpy array as a list (so ``milestones=np.array([30, 60])`` reads as ``[30, 60]``); else as is."""
    if hasattr(value, "tolist") and hasattr(value, "shape") and getattr(value, "ndim", 0) >= 1:
        return value.tolist()
    return value


def is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def number(owner: str, name: str, value: object, *, lo: float | None = None, hi: float | None = None,
           lo_open: bool = False, hi_open: bool = False) -> float:
    """A finite real number in the given range, returned as ``float``."""
    if not is_real(value):
        raise SpecError(f"{owner}: {name}={shown(value)} is not a number")
    try:
        v = float(value) + 0.0  # type: ignore[arg-type]  (+ 0.0: -0.0 becomes 0.0, so it prints as 0.0)
    except OverflowError:  # an integer of more than 308 digits
        raise _too_large(f"{owner}: {name}", value, _range_text(lo, hi, lo_open, hi_open)) from None
    if math.isnan(v) or math.isinf(v):
        raise SpecError(f"{owner}: {name}={value!r} is not finite; expected {_range_text(lo, hi, lo_open, hi_open)}")
    if (lo is not None and (v < lo or (lo_open and v == lo))) or (hi is not None and (v > hi or (hi_open and v == hi))):
        raise SpecError(f"{owner}: {name}={value!r} is out of range; expected {_range_text(lo, hi, lo_open, hi_open)}")
    return v


def _range_text(lo, hi, lo_open, hi_open) -> str:
    if lo is not None and hi is not None:
        return f"a number in {'(' if lo_open else '['}{lo:g}, {hi:g}{')' if hi_open else ']'}"
    if lo is not None:
        return f"a number {'>' if lo_open else '>='} {lo:g}"
    if hi is not None:
        return f"a number {'<' if hi_open else '<='} {hi:g}"
    return "a finite number"


def integer(owner: str, name: str, value: object, *, lo: int = 0) -> int:
    """An integer >= ``lo`` (floats are refused: they would be read as fractions elsewhere)."""
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise SpecError(f"{owner}: {name}={shown(value)} is not an integer; expected an integer >= {lo}")
    if abs(value) > MAX_FLOAT:
        raise _too_large(f"{owner}: {name}", value, f"an integer >= {lo}")
    if value < lo:
        raise SpecError(f"{owner}: {name}={value!r} is out of range; expected an integer >= {lo}")
    return int(value)


@dataclasses.dataclass(frozen=True)
class TimeUnits:
    """What turns Composer's epochs, tokens and samples into optimizer steps (None: not given)."""

    steps_per_epoch: float | None = None
    tokens_per_step: float | None = None
    samples_per_step: float | None = None


_UNITS: contextvars.ContextVar[TimeUnits] = contextvars.ContextVar("lrkit_time_units", default=TimeUnits())
#: Composer's time strings (composer.core.time): a number, then a unit, in any case ("0.1dur", "3e4tok").
_TIMESTRING = re.compile(r"^\s*([-+]?(?:\d+\.?\d*|\.\d+)(?:e[-+]?\d+)?)\s*(ep|ba|sp|tok|dur)\s*$", re.IGNORECASE)
#: unit -> (what it counts, the TimeUnits field that converts it to steps, how to spell that field)
_UNIT_NAMES = {"ep": ("epochs", "steps_per_epoch"), "tok": ("tokens", "tokens_per_step"),
               "sp": ("samples", "samples_per_step")}
TIME_STRINGS = "a time string such as '0.1dur', '500ba', '2ep', '1000tok' or '64sp'"


@contextlib.contextmanager
def time_units(steps_per_epoch: object = None, tokens_per_step: object = None,
               samples_per_step: object = None) -> Iterator[TimeUnits]:
    """Within the block, durations in epochs, tokens and samples count as these many optimizer steps (a value
    left None keeps the enclosing block's)."""
    given = {"steps_per_epoch": steps_per_epoch, "tokens_per_step": tokens_per_step,
             "samples_per_step": samples_per_step}
    now = _UNITS.get()
    for key, x in given.items():
        if x is not None:
            now = dataclasses.replace(now, **{key: number("parse", key, x, lo=0.0, lo_open=True)})
    token = _UNITS.set(now)
    try:
        yield now
    finally:
        _UNITS.reset(token)


def is_timestring(value: object) -> bool:
    return isinstance(value, str) and _TIMESTRING.match(value) is not None


def _timestring(owner: str, name: str, text: str, *, fraction: bool = True) -> int | float:
    """Composer's time string as lrkit's duration: ``dur`` a fraction of the total, ``ba`` steps, ``ep`` /
    ``tok`` / ``sp`` steps through the enclosing :func:`time_units` (rounded to the nearest step)."""
    match = _TIMESTRING.match(text)
    if match is None:
        raise SpecError(f"{owner}: {name}={text!r} is not a duration; expected steps (an integer), a fraction in "
                        f"[0, 1], or {TIME_STRINGS}")
    x, unit = float(match.group(1)), match.group(2).lower()
    if not math.isfinite(x):
        raise SpecError(f"{owner}: {name}={text!r} is not finite")
    if unit == "dur":
        if not fraction:
            raise SpecError(f"{owner}: {name}={text!r} is a fraction of the run; {name} is a number of steps here "
                            f"(give '500ba', '2ep', or an integer)")
        return x
    if unit == "ba":
        if not x.is_integer():
            raise SpecError(f"{owner}: {name}={text!r} is not a whole number of batches (optimizer steps)")
        return int(x)
    what, field = _UNIT_NAMES[unit]
    per = getattr(_UNITS.get(), field)
    if per is None:
        raise SpecError(f"{owner}: {name}={text!r} counts {what}, and no {field} was given to turn {what} into "
                        f"optimizer steps; pass {field}=N to lrkit.parse or lrkit.torch.Scheduler (CLI: "
                        f"--{field.replace('_', '-')} N)")
    steps = x * per if unit == "ep" else x / per
    return int(math.floor(steps + 0.5)) if steps >= 0 else -int(math.floor(-steps + 0.5))


def _read_as(owner: str, name: str, text: str, value: object, check):
    """``check(value)``, a time string's reading, with an error that names the string the user wrote."""
    try:
        return check(value)
    except SpecError as e:
        rest = str(e).removeprefix(f"{owner}: ")
        raise SpecError(f"{owner}: {name}={text!r} reads as {value!r}; {rest}") from None


def steps(owner: str, name: str, value: object, *, lo: int = 0) -> int:
    """A number of steps: an integer >= ``lo``, or a time string in batches, epochs, tokens or samples."""
    if isinstance(value, str):
        steps_ = _timestring(owner, name, value, fraction=False)
        return _read_as(owner, name, value, steps_, lambda x: integer(owner, name, x, lo=lo))
    return integer(owner, name, value, lo=lo)


def duration(owner: str, name: str, value: object, *, positive: bool = False) -> int | float:
    """A duration: an ``int`` number of steps, a ``float`` fraction of the total in [0, 1], or one of Composer's
    time strings (``"0.1dur"`` a fraction, ``"500ba"`` steps, ``"2ep"`` / ``"1000tok"`` / ``"64sp"`` steps
    through :func:`time_units`)."""
    if isinstance(value, str):
        read = _timestring(owner, name, value)
        return _read_as(owner, name, value, read, lambda x: duration(owner, name, x, positive=positive))
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        if abs(value) > MAX_FLOAT:
            raise _too_large(f"{owner}: {name}", value, "steps (an integer) or a fraction in [0, 1]")
        if value < (1 if positive else 0):
            raise SpecError(f"{owner}: {name}={value!r} steps is {'not positive' if value >= 0 else 'negative'}; "
                            f"expected an integer number of steps >= {1 if positive else 0} or a fraction in [0, 1]")
        return int(value)
    if is_real(value):
        v = float(value) + 0.0  # type: ignore[arg-type]  (-0.0 becomes 0.0)
        if math.isnan(v) or math.isinf(v):
            raise SpecError(f"{owner}: {name}={value!r} is not finite; expected steps (an integer) or a fraction in [0, 1]")
        if not 0.0 <= v <= 1.0 or (positive and v == 0.0):
            hint = f" (write {int(v)} without the decimal point for steps)" if v > 1 and v == int(v) else ""
            raise SpecError(f"{owner}: {name}={value!r} is a fraction outside {'(0' if positive else '[0'}, 1]{hint}; "
                            f"a float is a fraction of the total, an integer is a number of steps")
        return v
    raise SpecError(f"{owner}: {name}={shown(value)} is not a duration; expected steps (an integer), a fraction "
                    f"in [0, 1] or {TIME_STRINGS}")


def choice(owner: str, name: str, value: object, choices: Sequence[str]) -> str:
    if not isinstance(value, str) or value not in choices:
        raise SpecError(f"{owner}: {name}={shown(value)} is not one of {', '.join(map(repr, choices))}"
                        f"{did_you_mean(str(value), choices)}")
    return value


def resolve(owner: str, name: str, value: int | float, total: int | None) -> int:
    """Steps for a duration: an int as is, a fraction times the total (rounded to the nearest step)."""
    if isinstance(value, int):
        return value
    if total is None:
        raise SpecError(f"{owner}: {name}={value!r} is a fraction of the total, but no total number of steps was "
                        f"given; pass total=N (CLI: --steps N) or give steps= in the spec")
    return int(math.floor(value * total + 0.5))


def total_steps(value: object, what: str = "total") -> int:
    """The total number of steps of a run: a positive integer."""
    if type(value) is int and 0 < value <= MAX_FLOAT:  # the common case, without the slower ABC checks below
        return value
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, numbers.Integral) or isinstance(value, bool):
        raise SpecError(f"{what}={shown(value)} is not a whole number of steps; expected a positive integer")
    if abs(value) > MAX_FLOAT:
        raise _too_large(what, value, "a positive number of steps")
    if value <= 0:
        raise SpecError(f"{what}={value!r} is {'zero' if value == 0 else 'negative'}; expected a positive number of steps")
    return int(value)
