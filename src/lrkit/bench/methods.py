"""The adaptive methods a trial's ``schedule`` may name instead of a fixed spec (names only, no torch).

* ``refine(pilot="linear()", width=0.1, warmup=0.0)``: a pilot run under ``pilot`` logs the gradient norms,
  the refined schedule (Defazio et al. 2023) is computed from them, and the trial trains under it. The
  pilot's steps are spent too (``summary["search_steps"]``). ``warmup`` puts a linear warmup in front and
  leaves the pilot's norms of that stretch out (see :func:`lrkit.adaptive.refine.refine`).
* ``autolrs(low=0.03, high=3.0, tau=0, k=10)``: AutoLRS (Jin et al. 2021) searching ``[low·lr, high·lr]``
  (``tau=0``: the first stage is an eighth of the run, probes a tenth of a stage, as the reference's
  ratios). Probe steps are training steps of the trial; the history logs the validation loss of the
  model being kept.
* ``hypergradient(beta=0, mode="additive", schedule="constant()")``: hypergradient descent on the LR
  (Baydin et al. 2018), starting at the trial's LR, optionally under a schedule (``beta=0``: the
  reference's default for the optimizer).
* any spec with a ``plateau(...)`` phase: trained like a fixed schedule, with the validation loss fed to
  the scheduler at every logged point (``patience`` counts logged points).

:mod:`lrkit.bench.train` picks the driver of each; every driver trains through :mod:`lrkit.bench.loop`.
"""

from __future__ import annotations

import ast
import re
import warnings
from typing import Any

from ..errors import SpecError
from ..schedules.plateau import has_plateau
from ..spec import parse

METHODS: dict[str, dict[str, Any]] = {
    "refine": {"pilot": "linear()", "width": 0.1, "warmup": 0.0},
    "autolrs": {"low": 0.03, "high": 3.0, "tau": 0, "k": 10},
    "hypergradient": {"beta": 0.0, "mode": "additive", "schedule": "constant()"},
}
_NAMED = re.compile(r"\s*(" + "|".join(METHODS) + r")\s*(\(|$)")


def _node(text: str) -> ast.expr | None:
    """The expression ``text`` when it can name a method (its name first), else None; Python's own
    warnings about the text (e.g. ``1if``) are not shown, the spec parser reports problems."""
    if not _NAMED.match(text):
        return None
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text.strip(), mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parse_method(text: str) -> tuple[str, dict[str, Any]] | None:
    """``(name, arguments with defaults)`` when ``text`` names an adaptive method, else None."""
    if not isinstance(text, str):
        return None
    node = _node(text)
    if isinstance(node, ast.Name) and node.id in METHODS:
        return node.id, dict(METHODS[node.id])
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in METHODS):
        return None
    name = node.func.id
    if node.args:
        raise SpecError(f"{name}: give arguments as name=value")
    args = dict(METHODS[name])
    for kw in node.keywords:
        if kw.arg not in args:
            raise SpecError(f"{name}: unknown argument {kw.arg!r} (valid: {', '.join(args)})")
        try:
            value = ast.literal_eval(kw.value)
        except (ValueError, TypeError, SyntaxError, RecursionError, MemoryError):
            raise SpecError(f"{name}: {kw.arg}={ast.unparse(kw.value)[:60]} is not a literal value") from None
        if isinstance(args[kw.arg], (int, float)) and not isinstance(value, (int, float)) or \
                isinstance(args[kw.arg], str) and not isinstance(value, str):
            raise SpecError(f"{name}: {kw.arg}={value!r:.60} should be "
                            f"{'a string' if isinstance(args[kw.arg], str) else 'a number'}")
        args[kw.arg] = value
    _check(name, args)
    return name, args


def _check(name: str, args: dict[str, Any]) -> None:
    if name == "refine":
        parse(args["pilot"])
    elif name == "autolrs":
        if not 0 < args["low"] < args["high"]:
            raise SpecError(f"autolrs: need 0 < low < high; got low={args['low']}, high={args['high']}")
        if args["tau"] < 0 or args["k"] < 1:
            raise SpecError("autolrs: tau must be >= 0 and k >= 1")
    elif name == "hypergradient":
        parse(args["schedule"])
        if args["mode"] not in ("additive", "multiplicative") or args["beta"] < 0:
            raise SpecError("hypergradient: mode is 'additive' or 'multiplicative', beta >= 0")


def is_adaptive(spec: str) -> bool:
    """Whether ``spec`` needs more than a fixed schedule: an adaptive method, or a schedule with a plateau."""
    if parse_method(spec) is not None:
        return True
    try:
        return has_plateau(parse(spec))
    except SpecError:
        return False


def canonical(spec: str) -> str:
    """The spec as printed everywhere: a method with all its arguments, or a schedule's canonical spec, so
    equal schedules written differently are one trial."""
    m = parse_method(spec)
    if m is None:
        return str(parse(spec))
    name, args = m
    return f"{name}(" + ", ".join(f"{k}={v!r}" for k, v in args.items()) + ")"
