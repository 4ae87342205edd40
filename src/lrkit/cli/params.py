"""Number types of the command line: step counts (``10000``, ``1e4``, ``10k``, ``2.5M``) and durations
(steps, or a fraction of the run as in a spec: ``--warmup 0.05``).

Each refuses what it cannot read with one line naming the option (click's ``BadParameter``), e.g. an
underscore (``1_0``) or a digit that is not ASCII (``١٠``), which Python's ``int()`` would accept.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

import click

#: suffixes of a count: thousands, millions, billions
SUFFIXES = {"k": 10**3, "K": 10**3, "M": 10**6, "B": 10**9, "G": 10**9}
#: a count has at most this many digits (every command refuses far fewer steps with its own limit)
MAX_DIGITS = 100
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
EXAMPLES = "e.g. 10000, 1e4 or 10k"


def _exact(text: str) -> tuple[Decimal, bool]:
    """The value of ``text`` (a plain ASCII number, optionally with a k/M/B suffix) and whether it is
    written as an integer count (digits or a suffix, no point or exponent)."""
    body, scale = text, 1
    if body[-1:] in SUFFIXES:
        body, scale = body[:-1], SUFFIXES[body[-1]]
    if not _NUMBER.fullmatch(body):
        raise ValueError
    value = Decimal(body) * scale
    if value.is_finite() and value != 0 and value.adjusted() >= MAX_DIGITS:
        raise OverflowError
    return value, scale > 1 or body.lstrip("+-").isdigit()


def _why_not(text: str) -> str | None:
    """Why ``text`` cannot be a number here, for the few mistakes worth naming."""
    if "_" in text:
        return f"{text!r} has an underscore; write {text.replace('_', '')}"
    bad = next((c for c in text if not c.isascii()), None)
    if bad is not None:
        return f"{text!r} has the non-ASCII character {bad!r} (U+{ord(bad):04X}); write the number in ASCII digits"
    return None


class Steps(click.ParamType):
    """A number of steps: an integer, written plainly (``10000``), in e-notation when integral
    (``1e4``, ``2.5e3``) or with a suffix (``10k``, ``2.5M``, ``1B``)."""

    name = "steps"

    def convert(self, value, param, ctx):
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        why = _why_not(text)
        if why:
            self.fail(why, param, ctx)
        try:
            exact, _ = _exact(text)
        except OverflowError:
            self.fail(f"{text!r} is too many steps (at most {MAX_DIGITS} digits)", param, ctx)
        except (ValueError, InvalidOperation):
            self.fail(f"{text!r} is not a valid integer number of steps ({EXAMPLES})", param, ctx)
        if exact != exact.to_integral_value():
            self.fail(f"{text!r} is not a whole number of steps ({EXAMPLES})", param, ctx)
        return int(exact)


class Duration(click.ParamType):
    """Steps or a fraction of the run, as a spec's ``warmup=`` reads them: ``500``, ``1e3`` or ``2k``
    are steps; ``0.05``, ``5e-2`` or ``1.0`` (a point or an exponent, at most 1) a fraction."""

    name = "steps|fraction"

    def convert(self, value, param, ctx):
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return value
        text = str(value).strip()
        why = _why_not(text)
        if why:
            self.fail(why, param, ctx)
        try:
            exact, is_count = _exact(text)
        except OverflowError:
            self.fail(f"{text!r} is too many steps (at most {MAX_DIGITS} digits)", param, ctx)
        except (ValueError, InvalidOperation):
            self.fail(f"{text!r} is not a number of steps (e.g. 500) or a fraction of the run (e.g. 0.05)", param, ctx)
        if is_count:
            return int(exact)
        if 0 <= exact <= 1:
            return float(exact)
        if exact == exact.to_integral_value():
            return int(exact)
        self.fail(f"{text!r} is neither a whole number of steps nor a fraction of the run in [0, 1]", param, ctx)


STEPS = Steps()
DURATION = Duration()
