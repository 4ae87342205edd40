"""The :class:`Schedule` protocol: an immutable value that maps a step to an LR multiplier.

A schedule is a frozen dataclass of its parameters (so equal specs are equal, hashable,
picklable objects). ``bind(total)`` resolves fractions and conventions once and returns a
:class:`Bound` whose call is a pure closed-form function of the step, for a Python int
(a fast path on floats and the ``math`` module) or a numpy array (vectorised).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
import sys
from collections.abc import Callable, Iterator
from typing import Any, ClassVar, NamedTuple

import numpy as np

from .._math import ARRAY, SCALAR, jax_backend
from ..errors import SpecError
from . import plotting
from . import validate as v
from .conventions import Convention, get_convention

#: A compiled formula: ``fn(t, m)`` with ``t`` a float or float array of steps, ``m`` a math back-end.
Fn = Callable[[Any, Any], Any]

REGISTRY: dict[str, type["Schedule"]] = {}

#: Schedules nest at most this deep (``clamp(clamp(...))``), in text, JSON and Python alike: printing,
#: comparing and evaluating recurse once per level, and this leaves room on Python's stack for the caller.
MAX_DEPTH = 100


def too_deep(depth: int | None = None) -> SpecError:
    levels = f" ({depth} levels)" if depth is not None else ""
    return SpecError(f"the spec is nested too deeply{levels}; expected schedules nested at most {MAX_DEPTH} levels")


class Phase(NamedTuple):
    """A named stretch ``[start, end)`` of steps, for summaries, plots and lint."""

    start: int
    end: int | None
    label: str


class Finding(NamedTuple):
    """A soft problem that ``lint`` reports (the spec is valid, but probably not what was meant)."""

    code: str
    message: str


def family(name: str):
    """Class decorator: make a frozen, keyword-only dataclass and register it under ``name``."""

    def wrap(cls):
        cls = dataclasses.dataclass(frozen=True, kw_only=True, repr=False, eq=True)(cls)
        cls.__eq__, cls.__hash__ = Schedule.__eq__, Schedule.__hash__  # type-aware, not the dataclass's
        cls.family = name
        REGISTRY[name] = cls
        return cls

    return wrap


class Schedule:
    """Base class of every schedule family and combinator.

    Subclasses define dataclass fields (the spec's parameters), ``_check()`` (validation
    that raises :class:`~lrkit.SpecError`) and ``_compile(total, conv)`` (the formula).
    """

    family: ClassVar[str] = ""
    #: Fields that hold other schedules (a child or a tuple of children).
    schedule_fields: ClassVar[tuple[str, ...]] = ()
    #: Fields that are given positionally in the spec text, in this order.
    positional: ClassVar[tuple[str, ...]] = ()

    def __post_init__(self) -> None:
        self._check()
        depth = 1 + max((getattr(c, "_depth", 1) for c in self.children()), default=0)
        if depth > MAX_DEPTH:
            raise too_deep(depth)
        object.__setattr__(self, "_depth", depth)  # (not a field: equality, hashing and specs ignore it)

    # ----- subclass hooks -------------------------------------------------------------------
    def _check(self) -> None:
        """Validate and normalise the parameters (use ``self._set`` to normalise)."""

    def _compile(self, total: int | None, conv: Convention) -> Fn:
        raise NotImplementedError

    def _phases(self, total: int | None, conv: Convention) -> list[Phase]:
        return [Phase(0, self._own_total(total), self.family)]

    def _lint(self, total: int, conv: Convention) -> list[Finding]:
        return []

    def _awaits_metrics(self) -> bool:
        """Whether this node lowers the LR only when fed a metric during training (a plateau phase with no
        reductions recorded), which a schedule of the step alone (optax) can never do."""
        return False

    def needs_total(self) -> bool:
        """Whether this schedule can only be evaluated for a known total number of steps."""
        return False

    # ----- helpers for subclasses ----------------------------------------------------------
    def _set(self, name: str, value: Any) -> None:
        object.__setattr__(self, name, value)

    def _own_total(self, total: int | None) -> int | None:
        own = getattr(self, "steps", None)
        return own if own is not None else total

    def _require_total(self, total: int | None) -> int:
        total = self._own_total(total)
        if total is None:
            raise SpecError(f"{self.family} needs the total number of steps: pass total=N "
                            f"(CLI: --steps N) or give steps= in the spec")
        return total

    # ----- public API -------------------------------------------------------------------------
    def bind(self, total: int | None = None, convention: str | Convention | None = None) -> "Bound":
        """Resolve fractions and the convention for a run of ``total`` steps."""
        if total is not None:
            total = v.total_steps(total)
        return _bind(self, total, get_convention(convention))

    def __call__(self, step, total: int | None = None, *, convention: str | Convention | None = None):
        """The LR multiplier at ``step`` (an int, or a numpy array of steps) of a ``total``-step run."""
        global _LAST_BOUND
        last = _LAST_BOUND  # a one-entry cache: a loop calling s(t, N) binds once, not on every step
        if last is not None and last[0] is self and last[1] == total and last[2] is convention \
                and type(total) is type(last[1]):
            return last[3](step)
        bound = self.bind(total, convention)
        _LAST_BOUND = (self, total, convention, bound)
        return bound(step)

    def sample(self, total: int | None = None, convention: str | Convention | None = None) -> np.ndarray:
        """Multipliers for every step ``0 .. total-1`` (``total``: the spec's own ``steps=`` if not given)."""
        if total is None:
            total = getattr(self, "steps", None)
            if total is None:
                raise SpecError(f"{self.family}: sample needs the number of steps to sample: sample(N), or give "
                                f"steps= in the spec")
        total = v.total_steps(total)
        if total > _MAX_SAMPLE:  # (numpy would fail with its own words, or return an empty array past 2**63)
            raise SpecError(f"total={total:,} steps are too many to sample, one value per step (at most 2**53); "
                            f"ask for fewer steps, or evaluate single steps with schedule(step, total)")
        steps = np.arange(total)  # a MemoryError here is the caller's to report (the CLI says: fewer steps)
        return self.bind(total, convention)(steps)

    def to_optax(self, total_steps: int | None = None, lr: float = 1.0,
                 convention: str | Convention | None = None) -> Callable:
        """This schedule as an optax schedule (``count -> lr * multiplier``), traceable by ``jax.jit``.

        The same formula as the numpy evaluation runs on a ``jax.numpy`` back-end, so values agree with
        :meth:`sample` (to float32 precision unless ``jax_enable_x64`` is on)::

            sched = lrkit.parse("cosine(warmup=0.05, floor=0.1)").to_optax(total_steps=10_000, lr=3e-4)
            tx = optax.adamw(learning_rate=sched)
        """
        import jax.numpy as jnp  # (jax is optional: imported when asked for)

        if any(n._awaits_metrics() for n in self.nodes()):
            raise SpecError(f"to_optax: {self} has a plateau(...) phase with no recorded reductions: it lowers the LR "
                            f"when a metric fed during training stops improving, and an optax schedule sees only the "
                            f"step count, so it would never lower it (use optax.contrib.reduce_on_plateau for that)")
        if total_steps is not None:
            total_steps = v.total_steps(_item(total_steps), "total_steps")
        lr = v.number("to_optax", "lr", _item(lr), lo=0.0, lo_open=True)
        fn = self._compile(total_steps, get_convention(convention))
        m = jax_backend()

        def optax_schedule(count):
            t = jnp.asarray(count, dtype=jnp.result_type(float))
            return lr * jnp.asarray(fn(t, m), dtype=t.dtype)

        optax_schedule.__doc__ = f"optax schedule for {self} over {total_steps} steps, peak LR {lr}"
        return optax_schedule

    def plot(self, total: int | None = None, ax=None, lr: float | None = None,
             convention: str | Convention | None = None, **line: Any):
        """Draw the schedule over ``total`` steps (default: the spec's ``steps=``) with matplotlib; returns
        the axes.  A new figure (phases shaded) when ``ax`` is ``None``; ``lr`` plots absolute LRs; ``line``:
        ``label=``, ``phases=`` and keyword arguments for ``ax.plot``::

            ax = lrkit.parse("wsd(warmup=0.05, decay=0.2)").plot(10_000, lr=3e-4)
            lrkit.parse("cosine(warmup=0.05)").plot(10_000, ax=ax, lr=3e-4); ax.legend()
        """
        return plotting.draw(self, total, ax=ax, lr=lr, convention=convention, **line)

    def phases(self, total: int | None = None, convention: str | Convention | None = None) -> list[Phase]:
        """The named phases of this schedule in a run of ``total`` steps."""
        if total is not None:
            total = v.total_steps(total)
        return self._phases(total, get_convention(convention))

    def children(self) -> Iterator["Schedule"]:
        """The schedules directly inside this one (a combinator's phases, factors or inner schedule)."""
        for name in self.schedule_fields:
            value = getattr(self, name)
            yield from (value if isinstance(value, tuple) else (value,))

    def nodes(self) -> Iterator["Schedule"]:
        """This schedule and every schedule inside it, depth first, each parent before its children."""
        stack: list[Schedule] = [self]
        while stack:
            node = stack.pop()
            yield node
            stack.extend(reversed(list(node.children())))

    @classmethod
    def param_names(cls) -> list[str]:
        """The names of the family's parameters, in the spec's order."""
        return [f.name for f in _ordered_fields(cls) if f.init]

    def params(self, full: bool = False) -> dict[str, Any]:
        """The parameters that differ from their defaults, in the spec's order; ``full``: every parameter
        that has an effect, defaults included (an option left unset, ``None``, and those :meth:`_inert`
        names are left out)."""
        out = {}
        inert = self._inert() if full else frozenset()
        for f in _ordered_fields(type(self)):
            value = getattr(self, f.name)
            default = f.default if f.default is not dataclasses.MISSING else (
                f.default_factory() if f.default_factory is not dataclasses.MISSING else dataclasses.MISSING)
            if f.name in self.positional or default is dataclasses.MISSING or _typed(value) != _typed(default):
                out[f.name] = value
            elif full and value is not None and f.name not in inert:
                out[f.name] = value
        return out

    def _inert(self) -> frozenset[str]:
        """Parameters that have no effect with the others as set (the warmup's form without a warmup), which
        the full spec leaves out."""
        return frozenset()

    def spec(self, full: bool = False) -> str:
        """The spec text (``str(schedule)``); ``full=True`` spells out the defaults too, for people to read:
        ``wsd(decay=0.2, form="1-sqrt", floor=0.0, warmup=0.05, warmup_form="linear", warmup_init=0.0)``."""
        return format_spec(self, full=full)

    def to_dict(self) -> dict[str, Any]:
        """The JSON-able form: ``{"family": name, param: value, ...}``; parses back to an equal object."""
        out: dict[str, Any] = {"family": self.family}
        for name, value in self.params().items():
            out[name] = _jsonable(value)
        return out

    def _key(self) -> tuple:
        """The parameters with their kinds: ``warmup=1`` (one step) and ``warmup=1.0`` (the whole run) differ,
        though ``1 == 1.0`` in Python."""
        return tuple((f.name, _typed(getattr(self, f.name))) for f in dataclasses.fields(self))

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    def __str__(self) -> str:
        return format_spec(self)

    def __repr__(self) -> str:
        return f"lrkit.parse({str(self)!r})"


@functools.lru_cache(maxsize=4096)
def _ordered_fields(cls) -> tuple[dataclasses.Field, ...]:
    """Fields with the family's own parameters first, then the inherited common ones."""
    fields = dataclasses.fields(cls)
    own = [f for f in fields if f.name in cls.__dict__.get("__annotations__", {})]
    inherited = [f for f in fields if f not in own]
    positional = [f for name in cls.positional for f in fields if f.name == name]
    rest = [f for f in own + inherited if f not in positional]
    return tuple(positional + rest)


def _typed(value: Any) -> Any:
    """A value tagged with its kind, so an int step count never equals a float fraction."""
    if isinstance(value, Schedule):
        return value
    if isinstance(value, tuple):
        return tuple(_typed(x) for x in value)
    if isinstance(value, (bool, int, float)):
        return (type(value).__name__, value)
    return value


def format_value(value: Any, top: bool = True, full: bool = False) -> str:
    """A parameter value in spec text: floats in shortest round-trip form, strings double-quoted."""
    if isinstance(value, Schedule):
        return format_spec(value, full=full)
    if isinstance(value, bool) or value is None:
        return repr(value)
    if isinstance(value, float):
        return "inf" if value == math.inf else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, tuple):
        inner = ", ".join(format_value(x, top=False, full=full) for x in value)
        return f"[{inner}]" if top else f"({inner})"
    return repr(value)


def format_spec(schedule: Schedule, full: bool = False) -> str:
    """The spec text of a schedule; ``parse(format_spec(s)) == s``.  Parameters at their defaults are
    left out (the short form, for machines and for typing) unless ``full`` (for people to read: which
    decay form, which floor), nested schedules included."""
    parts = []
    for name, value in schedule.params(full).items():
        if name in schedule.positional:
            parts.extend(format_value(x, full=full) for x in (value if isinstance(value, tuple) else (value,)))
        else:
            parts.append(f"{name}={format_value(value, full=full)}")
    return f"{schedule.family}({', '.join(parts)})"


def _jsonable(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_dict()
    if isinstance(value, tuple):
        return [_jsonable(x) for x in value]
    if isinstance(value, float) and math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


class Bound:
    """A schedule bound to a total and a convention: ``bound(step)`` is the multiplier."""

    __slots__ = ("schedule", "total", "convention", "fn")

    def __init__(self, schedule: Schedule, total: int | None, convention: Convention, fn: Fn):
        self.schedule, self.total, self.convention, self.fn = schedule, total, convention, fn

    def __call__(self, step):
        if type(step) is int and 0 <= step <= _MAX:  # the fast path of a training loop
            try:
                r = float(self.fn(float(step), SCALAR))
            except (OverflowError, ZeroDivisionError):
                r = math.inf
            if r <= _MAX:  # (False for inf and nan)
                return r
            raise self._overflow(step, r)
        if isinstance(step, (bool, np.bool_)):
            raise SpecError(f"step={step!r} is not a number of steps; expected an integer >= 0")
        if isinstance(step, (int, float, np.integer, np.floating)):
            if not step >= 0:  # also catches NaN
                raise SpecError(f"step={v.shown(step)} is {'negative' if step < 0 else 'not a number'}; steps count "
                                f"from 0")
            if step > _MAX:  # an int beyond the largest float (float(step) would overflow)
                raise SpecError(f"step={v.shown(step)} is too large; expected a step number (at most about 1.8e308)")
            try:
                r = float(self.fn(float(step), SCALAR))
            except (OverflowError, ZeroDivisionError):
                r = math.inf
            if r <= _MAX:
                return r
            raise self._overflow(step, r)
        try:
            if step is None or isinstance(step, (str, bytes)):
                raise TypeError
            raw = np.asarray(step)
            if raw.dtype.kind not in "iuf":  # bools, strings, objects: not step numbers
                raise TypeError
            steps = raw.astype(float)
        except (TypeError, ValueError):
            raise SpecError(f"step={v.shown(step)} is not a step number or an array of them; "
                            f"expected integers >= 0") from None
        if steps.size and not np.all(steps >= 0):
            bad = float(steps[~(steps >= 0)][0])
            raise SpecError(f"step={bad!r} is {'negative' if bad < 0 else 'not a number'}; steps count from 0")
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(self.fn(steps, ARRAY), dtype=float), steps.shape).copy()
        finite = out <= _MAX
        if not np.all(finite):
            i = np.flatnonzero(~finite.ravel())[0]
            raise self._overflow(steps.ravel()[i], float(out.ravel()[i]))
        return out

    def _overflow(self, step, value: float) -> SpecError:
        t = int(step) if float(step).is_integer() else float(step)
        run = f" of a {self.total:,}-step run" if self.total is not None else ""
        return SpecError(f"{self.schedule}: the LR multiplier at step {t}{run} is {value}, not a finite number; "
                         f"choose values that keep it finite (a factor above 1, such as gamma > 1, grows "
                         f"without bound)")


#: Past 2**53 steps, consecutive step numbers are no longer distinct floats.
_MAX_SAMPLE = 2 ** 53

#: The largest finite float: a multiplier above it (inf) or not comparable to it (nan) is an overflow.
_MAX = sys.float_info.max


#: ``(schedule, total, convention, bound)`` of the last ``schedule(step, total)`` call.
_LAST_BOUND: tuple | None = None


@functools.lru_cache(maxsize=1024)
def _bind(schedule: Schedule, total: int | None, conv: Convention) -> Bound:
    return Bound(schedule, total, conv, schedule._compile(total, conv))


def _item(value):
    """A 0-d numpy or JAX array as its Python number (``jnp.array(1000)`` for a total); others unchanged."""
    return value.item() if getattr(value, "shape", None) == () and hasattr(value, "item") else value
