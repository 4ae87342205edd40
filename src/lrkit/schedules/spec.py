"""The schedule language, read: spec text, JSON and dicts to :class:`Schedule` objects.

Text is ``family(name=value, ...)`` with Python literal values, read with :mod:`ast` and never
evaluated: only calls of registered families, numbers, strings, lists and tuples are accepted.
Combinators take schedules positionally: ``sequence(linear(), cosine(), boundaries=[100])``.
The way back, ``str(schedule)`` and ``schedule.to_dict()``, is :func:`~lrkit.schedules.base.format_spec`.
A spec is plain ASCII, its numbers digits only, its schedules nested at most ``MAX_DEPTH`` levels, and a
JSON object names each key once: anything else is one :class:`~lrkit.SpecError` line.
"""

from __future__ import annotations

import ast
import json
import math
import re
import types
import warnings
from typing import Any

from ..errors import SpecError
from . import aliases
from .base import MAX_DEPTH, REGISTRY, Schedule, too_deep
from .validate import clip, did_you_mean, shown, time_units

#: Python reads ``1_005`` as 1005 (an underscore always sits between two digits).
_DIGIT_UNDERSCORE = re.compile(r"[0-9]_[0-9]")

_CONSTANT_NAMES = {"inf": math.inf, "nan": math.nan, "True": True, "False": False, "None": None}


def parse(spec: str | dict | Schedule, *, steps_per_epoch: float | None = None, tokens_per_step: float | None = None,
          samples_per_step: float | None = None) -> Schedule:
    """A :class:`Schedule` from spec text (``"cosine(warmup=0.05, floor=0.1)"``), a JSON string,
    or a dict (``{"family": "cosine", "warmup": 0.05}``). Raises :class:`SpecError` on bad input.

    Durations may be Composer's time strings: ``"0.1dur"`` (a fraction of the run), ``"500ba"`` (steps), and,
    with ``steps_per_epoch`` / ``tokens_per_step`` / ``samples_per_step`` given here, ``"2ep"``, ``"1000tok"``,
    ``"64sp"``; they are read as steps (rounded to the nearest), so the schedule prints in steps."""
    try:
        with time_units(steps_per_epoch, tokens_per_step, samples_per_step):
            return _parse(spec)
    except RecursionError:
        raise too_deep() from None


def as_schedule(owner: str, name: str, value: Any) -> Schedule:
    """A combinator's child: a :class:`Schedule` as is, spec text or a dict parsed; anything else is an error
    naming ``owner`` and the parameter ``name``."""
    if isinstance(value, (str, dict)):
        value = parse(value)
    if not isinstance(value, Schedule):
        raise SpecError(f"{owner}: {name}={shown(value)} is not a schedule; expected a spec such as cosine()")
    return value


def _parse(spec: str | dict | Schedule) -> Schedule:
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, dict):
        _check_depth(spec)
        return _from_dict(spec, "spec")
    if not isinstance(spec, str):
        raise SpecError(f"spec={clip(shown(spec), 120)} is not a string or a dict; expected e.g. 'cosine(floor=0.1)'")
    text = spec.strip()
    if not text:
        raise SpecError("the spec is empty; expected a schedule such as 'cosine(warmup=100)'")
    if text.startswith("{"):
        try:
            data = loads_json(text)
        except json.JSONDecodeError as e:
            raise SpecError(f"spec is not valid JSON: {e.msg} at column {e.colno}") from None
        return _parse(data)
    if not text.isascii():
        i, ch = next((i, ch) for i, ch in enumerate(text) if not ch.isascii())
        hint = "; write numbers with the digits 0-9" if ch.isdigit() or ch.isnumeric() else ""
        raise SpecError(f"spec {clip(text, 120)!r} has the non-ASCII character {ch!r} (U+{ord(ch):04X}) at column "
                        f"{i + 1}; a spec is plain ASCII{hint}")
    try:
        with warnings.catch_warnings():  # e.g. SyntaxWarning 'invalid decimal literal' for 1if: the error says it
            warnings.simplefilter("ignore")
            tree = ast.parse(text, mode="eval")
    except SyntaxError as e:
        if "too many nested parentheses" in str(e.msg):
            raise too_deep() from None
        col = f" at column {e.offset}" if e.offset else ""
        msg = " ".join(str(e.msg).split("; use sys.set_int_max_str_digits")[0].split())
        raise SpecError(f"syntax error in spec {clip(text, 120)!r}{col}: {clip(msg, 200)}") from None
    if _DIGIT_UNDERSCORE.search(text):  # (rare: look closer only then)
        _check_numbers(tree, text)
    node = tree.body
    if not isinstance(node, (ast.Call, ast.Name)):
        raise SpecError(f"spec {clip(text, 120)!r} is not a schedule; expected family(name=value, ...), "
                        f"e.g. cosine(floor=0.1)")
    return _schedule_node(node)


def loads_json(text: str) -> Any:
    """JSON data read strictly: a key given twice in one object is a :class:`SpecError` (``json`` keeps the
    last value), and so is an integer too long to convert; malformed JSON raises ``json.JSONDecodeError``."""
    return json.loads(text, object_pairs_hook=_no_repeats, parse_int=_json_int)


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            family = dict(pairs).get("family")
            owner = f"{family}: " if isinstance(family, str) and key != "family" else ""
            raise SpecError(f"{owner}{key} is given twice in one JSON object ({clip(shown(out[key]), 60)} and "
                            f"{clip(shown(value), 60)}); give each key once")
        out[key] = value
    return out


def _json_int(digits: str) -> int:
    try:
        return int(digits)
    except ValueError:  # more than 4300 digits (sys.get_int_max_str_digits)
        raise SpecError(f"an integer of {len(digits.lstrip('-')):,} digits is too long to read (at most 4300 "
                        f"digits), and too large for any parameter") from None


def _check_depth(data: Any) -> None:
    """Refuse schedule dicts nested deeper than :data:`MAX_DEPTH` before building them (iteratively, so a
    structure that holds itself ends too)."""
    stack = [(data, 1, 1)]
    while stack:
        x, depth, containers = stack.pop()
        if containers > 10 * MAX_DEPTH:
            raise too_deep()
        if isinstance(x, dict):
            if depth > MAX_DEPTH:
                raise too_deep(depth)
            stack.extend((c, depth + 1, containers + 1) for c in x.values())
        elif isinstance(x, (list, tuple)):
            stack.extend((c, depth, containers + 1) for c in x)


def _check_numbers(tree: ast.AST, text: str) -> None:
    """Refuse ``1_005``: Python reads it as 1005, a reader may not; a spec's numbers are digits only."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and type(node.value) in (int, float, complex):
            written = ast.get_source_segment(text, node) or ""
            if "_" in written:
                raise SpecError(f"spec {clip(text, 120)!r}: the number {clip(written, 40)} at column "
                                f"{node.col_offset + 1} has an underscore; write {clip(written.replace('_', ''), 40)} "
                                f"(digits only, no separators)")


def _family(name: str) -> type[Schedule]:
    if not isinstance(name, str) or name not in REGISTRY:  # (a list from JSON is unhashable)
        foreign = aliases.unknown_family(name) if isinstance(name, str) else None
        if foreign:  # a library's scheduler name: its lrkit spelling
            raise SpecError(foreign)
        raise SpecError(f"unknown schedule family {clip(shown(name), 120)}{did_you_mean(name, REGISTRY)} "
                        f"(families: {', '.join(sorted(REGISTRY))})")
    return REGISTRY[name]


def _check_params(cls: type[Schedule], names) -> None:
    valid = cls.param_names()
    for name in names:
        if name not in valid:
            hint = aliases.foreign_param(cls.family, name, valid) or did_you_mean(name, valid)
            raise SpecError(f"{cls.family}: unknown parameter {name!r}{hint} (valid: {', '.join(valid)})")


def _schedule_node(node: ast.AST) -> Schedule:
    if isinstance(node, ast.Name):
        return aliases.build(node.id, {}) if aliases.parses(node.id) else _family(node.id)()
    if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
        raise SpecError(f"{clip(_source(node), 120)!r} is not a schedule; expected family(name=value, ...)")
    if aliases.parses(node.func.id):
        return _alias_node(node)
    cls = _family(node.func.id)
    kwargs: dict[str, Any] = {}
    if node.args:
        if not cls.positional:
            raise SpecError(f"{cls.family}: positional argument {_source(node.args[0])!r} is not allowed; "
                            f"write name=value (parameters: {', '.join(cls.param_names())})")
        field = cls.positional[0]
        for a in node.args:
            if not isinstance(a, (ast.Call, ast.Name)):
                raise SpecError(f"{cls.family}: {_source(a)} is not a schedule; expected schedules such as cosine() "
                                f"before the name=value parameters")
        values = [_schedule_node(a) for a in node.args]
        many = isinstance(getattr(cls, "__dataclass_fields__")[field].default, tuple)
        if not many and len(values) > 1:
            raise SpecError(f"{cls.family}: takes one schedule, got {len(values)}")
        kwargs[field] = tuple(values) if many else values[0]
    for kw in node.keywords:
        if kw.arg is None:
            raise SpecError(f"{cls.family}: '**' is not allowed in a spec")
        _check_params(cls, [kw.arg])
        if kw.arg in kwargs:
            raise SpecError(f"{cls.family}: {kw.arg} is given twice")
        kwargs[kw.arg] = _value_node(kw.value, cls, kw.arg)
    return _build(cls, kwargs)


def _alias_node(node: ast.Call) -> Schedule:
    """A library's scheduler name called with the library's arguments (``warmup_stable_decay(...)``)."""
    name = node.func.id  # type: ignore[attr-defined]
    if node.args:
        raise SpecError(f"{name}: positional argument {_source(node.args[0])!r} is not allowed; write name=value "
                        f"(parameters: {', '.join(aliases.ALIASES[name].params)})")
    owner: Any = types.SimpleNamespace(family=name, schedule_fields=())
    kwargs: dict[str, Any] = {}
    for kw in node.keywords:
        if kw.arg is None:
            raise SpecError(f"{name}: '**' is not allowed in a spec")
        if kw.arg in kwargs:
            raise SpecError(f"{name}: {kw.arg} is given twice")
        kwargs[kw.arg] = _value_node(kw.value, owner, kw.arg)
    return aliases.build(name, kwargs)


def _value_node(node: ast.AST, cls: type[Schedule], name: str) -> Any:
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float, str)) or (
            isinstance(node, ast.Constant) and node.value is None):
        return node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _value_node(node.operand, cls, name)
        if isinstance(inner, (int, float)) and not isinstance(inner, bool):
            return -inner if isinstance(node.op, ast.USub) else inner
    if isinstance(node, (ast.List, ast.Tuple)):
        return tuple(_value_node(e, cls, name) for e in node.elts)
    if isinstance(node, ast.Call) and (name in cls.schedule_fields or (
            isinstance(node.func, ast.Name) and node.func.id in REGISTRY)):
        return _schedule_node(node)
    if isinstance(node, ast.Name):
        if node.id in _CONSTANT_NAMES:
            return _CONSTANT_NAMES[node.id]
        if node.id in REGISTRY and name in cls.schedule_fields:
            return _family(node.id)()
        raise SpecError(f"{cls.family}: {name}={node.id} is not a value; strings need quotes "
                        f"({name}={node.id!r})")
    raise SpecError(f"{cls.family}: {name}={_source(node)} is not a literal value; only numbers, quoted "
                    f"strings, lists and schedules are allowed (nothing is evaluated)")


def _source(node: ast.AST) -> str:
    try:
        return ast.unparse(node)
    except Exception:  # pragma: no cover - unparse handles every node ast.parse makes
        return type(node).__name__


def _build(cls: type[Schedule], kwargs: dict[str, Any]) -> Schedule:
    try:
        return cls(**kwargs)
    except SpecError:
        raise
    except TypeError as e:  # defensive: a parameter check that slipped through
        raise SpecError(f"{cls.family}: {e}") from None


def _from_dict(data: dict, where: str) -> Schedule:
    if "family" not in data:
        raise SpecError(f"{where}: a schedule dict needs a 'family' key, e.g. {{'family': 'cosine'}}; "
                        f"got keys {sorted(data)}")
    if isinstance(data["family"], str) and aliases.parses(data["family"]):
        return aliases.build(data["family"], {k: _tuples(x) for k, x in data.items() if k != "family"})
    cls = _family(data["family"])
    params = {k: x for k, x in data.items() if k != "family"}
    _check_params(cls, params)
    kwargs = {}
    for k, x in params.items():
        if k in cls.schedule_fields:
            kwargs[k] = tuple(_child(c, f"{cls.family}.{k}") for c in x) if isinstance(x, list) else _child(x, k)
        else:
            kwargs[k] = _tuples(x)
    return _build(cls, kwargs)


def _child(x: Any, where: str) -> Any:
    if isinstance(x, dict):
        return _from_dict(x, where)
    if isinstance(x, str):
        return _parse(x)
    return x


def _tuples(x: Any) -> Any:
    if isinstance(x, list):
        return tuple(_tuples(e) for e in x)
    if x == "inf":
        return math.inf
    return x
