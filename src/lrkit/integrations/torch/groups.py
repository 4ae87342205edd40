"""What a :class:`~lrkit.integrations.torch.Scheduler` schedules: one spec per parameter group and
hyperparameter, each group's base values, and reading and writing the group fields (tensor values
included); also the one place that sees through optimizer wrappers such as accelerate's."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ...errors import SpecError
from ...schedules import Schedule
from ...schedules import validate as v
from ...spec import parse

#: Hyperparameters that can be scheduled, and where they live in a param group (field, index in a tuple).
HYPERPARAMS = {"lr": ("lr", None), "weight_decay": ("weight_decay", None), "momentum": ("momentum", None),
               "beta1": ("betas", 0), "beta2": ("betas", 1)}
#: Hyperparameters that must stay in [0, 1) (torch's own rule for Adam's betas; momentum >= 1 diverges).
BELOW_ONE = ("beta1", "beta2", "momentum")
_Tensor = torch.Tensor


def group_label(groups: list[dict], i: int) -> str:
    name = groups[i].get("name")
    return f"{i} ({name!r})" if name is not None else str(i)


def _is_one_spec(value: Any) -> bool:
    return isinstance(value, (str, Schedule)) or (isinstance(value, Mapping) and "family" in value)


def _group_names(groups: list[dict], what: str) -> dict[Any, int]:
    names: dict[Any, int] = {}
    for i, g in enumerate(groups):
        name = g.get("name")
        if name is not None:
            if name in names:
                raise SpecError(f"{what}: parameter groups {names[name]} and {i} are both named {name!r}; "
                                f"group names must be unique to select schedules by name")
            names[name] = i
    return names


def per_group(value: Any, groups: list[dict], what: str) -> list[Schedule]:
    """One schedule per param group from a spec, a list (by index) or a dict (by index or group ``name``)."""
    n = len(groups)
    if _is_one_spec(value):
        return [parse(value)] * n
    if isinstance(value, Mapping):
        names = _group_names(groups, what)
        out: list[Schedule | None] = [None] * n
        given: dict[int, Any] = {}
        for key, spec in value.items():
            if isinstance(key, int) and not isinstance(key, bool) and 0 <= key < n:
                i = key
            elif key in names:
                i = names[key]
            elif isinstance(key, str) and key.isdigit() and int(key) < n:  # JSON keys are strings
                i = int(key)
            else:
                valid = ", ".join([*map(str, range(n)), *map(repr, names)])
                raise SpecError(f"{what}: no parameter group {key!r}; groups are {valid} (an index, or the 'name' "
                                f"key of a group){v.did_you_mean(str(key), [str(k) for k in names])}")
            if i in given:
                raise SpecError(f"{what}: parameter group {group_label(groups, i)} is given twice ({given[i]!r} and "
                                f"{key!r})")
            given[i] = key
            out[i] = parse(spec)
        missing = [group_label(groups, i) for i, s in enumerate(out) if s is None]
        if missing:
            raise SpecError(f"{what}: no schedule for parameter group(s) {', '.join(missing)}; give one for every "
                            f"group")
        return out  # type: ignore[return-value]
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        if len(value) != n:
            raise SpecError(f"{what}: got {len(value)} schedules for {n} parameter groups; give one per group, "
                            f"one for all, or a dict by group name or index")
        return [parse(x) for x in value]
    raise SpecError(f"{what}={value!r} is not a schedule spec, a list or a dict of them")


def parse_specs(value: Any, what: str = "schedule") -> list[Schedule]:
    """Every schedule in a spec, or in a per-group list or dict of them, parsed (no optimizer needed)."""
    if _is_one_spec(value):
        return [parse(value)]
    if isinstance(value, Mapping):
        return [parse(x) for x in value.values()]
    if isinstance(value, Sequence) and not isinstance(value, (bytes, bytearray)):
        return [parse(x) for x in value]
    raise SpecError(f"{what}={value!r} is not a schedule spec, a list or a dict of them")


def check_hyperparams(hyperparams: Any) -> None:
    """Check a ``hyperparams=`` argument without an optimizer: a dict of schedulable keys and valid specs."""
    if hyperparams is None:
        return
    if not isinstance(hyperparams, Mapping):
        raise SpecError(f"hyperparams={hyperparams!r} is not a dict; expected e.g. "
                        f"{{'weight_decay': 'cosine(floor=0.1)'}}")
    for key, value in hyperparams.items():
        if key not in HYPERPARAMS or key == "lr":
            others = [k for k in HYPERPARAMS if k != "lr"]
            hint = "; Adam's betas are 'beta1' and 'beta2'" if key == "betas" else v.did_you_mean(str(key), others)
            raise SpecError(f"hyperparams: {key!r} cannot be scheduled; expected one of {', '.join(others)}{hint}")
        parse_specs(value, f"hyperparams[{key!r}]")


def hyperparam_schedules(optimizer, hyperparams: Mapping[str, Any] | None) -> dict[str, list[Schedule]]:
    """The schedules of the hyperparameters other than the LR, one per group, after checking that every group
    holds each one and that it is not 0 everywhere (a schedule multiplies it)."""
    check_hyperparams(hyperparams)
    groups = optimizer.param_groups
    out = {}
    for key, value in (hyperparams or {}).items():
        field, index = HYPERPARAMS[key]
        for i, g in enumerate(groups):
            if field not in g or (index is not None and not isinstance(g[field], (tuple, list, _Tensor))):
                adam = key == "momentum" and "betas" in g
                hint = "; Adam-style optimizers keep momentum in beta1" if adam else ""
                raise SpecError(f"hyperparams: {key!r} is scheduled but parameter group {group_label(groups, i)} "
                                f"of {type(optimizer).__name__} has no {field!r}"
                                f"{'' if index is None else ' tuple'}{hint}")
            base_value(optimizer, i, key, g.get(f"initial_{key}", raw(g, key)))
        if all(to_float(g.get(f"initial_{key}", raw(g, key))) == 0.0 for g in groups):
            raise SpecError(f"hyperparams: {key!r} is scheduled, but it is 0 in every parameter group of "
                            f"{type(optimizer).__name__}, and a schedule multiplies it, so it would stay 0; set "
                            f"{field}= on the optimizer")
        out[key] = per_group(value, groups, f"hyperparams[{key!r}]")
    return out


def to_float(value: Any) -> float:
    return float(value.item()) if isinstance(value, _Tensor) else float(value)


def base_value(optimizer, i: int, key: str, value: Any) -> float:
    """Group ``i``'s base ``key`` as a float: a finite number >= 0 (a Python number or a one-element tensor)."""
    x = value.item() if isinstance(value, _Tensor) and value.numel() == 1 else value
    if not v.is_real(x) or not 0.0 <= float(x) < math.inf:  # type: ignore[arg-type]
        hint = (" (an optimizer that sets its own LR, such as transformers' Adafactor with relative_step=True, "
                "cannot be scheduled; give it lr= and relative_step=False)" if key == "lr" and value is None else "")
        raise SpecError(f"parameter group {group_label(optimizer.param_groups, i)} of {type(optimizer).__name__} "
                        f"has {key}={value!r}; lrkit schedules multiply each group's base {key}, which must be a "
                        f"finite number >= 0{hint}")
    return float(x)  # type: ignore[arg-type]


def plain_int(value: Any) -> Any:
    """A one-element integer tensor or array as a Python int (other values unchanged, for the checks)."""
    if hasattr(value, "item") and getattr(value, "shape", None) in ((), (1,)) and not isinstance(value, bool):
        x = value.item()
        return x if isinstance(x, int) else value
    return value


def innermost(optimizer):
    """The optimizer that really steps: wrappers such as accelerate's ``AcceleratedOptimizer`` (which never
    runs ``Optimizer.__init__``, so its own step hooks never fire) hold it in ``.optimizer`` and call its
    ``step`` only for steps actually applied (not accumulation micro-steps)."""
    for _ in range(8):
        inner = getattr(optimizer, "optimizer", None)
        if hasattr(optimizer, "_optimizer_step_post_hooks") or not isinstance(inner, torch.optim.Optimizer):
            break
        optimizer = inner
    return optimizer


def raw(group: dict, key: str) -> Any:
    field, index = HYPERPARAMS[key]
    return group[field] if index is None else group[field][index]


def read(group: dict, key: str) -> float:
    return to_float(raw(group, key))


def write_all(groups: list[dict], field: str, index: int | None, values: list[float]) -> None:
    """Write one value per group into ``field`` (or item ``index`` of a tuple field), tensors in place."""
    if index is None:
        for g, x in zip(groups, values):
            current = g[field]
            if current.__class__ is not float and isinstance(current, _Tensor):
                _fill(current, x)
            else:
                g[field] = x
        return
    for g, x in zip(groups, values):
        current = g[field]
        if isinstance(current, _Tensor):
            _fill(current[index], x)
            continue
        item = current[index]
        if isinstance(item, _Tensor):
            _fill(item, x)
            continue
        items = list(current)
        items[index] = x
        g[field] = type(current)(items)


def _fill(tensor: _Tensor, x: float) -> None:
    """Write ``x`` into a tensor hyperparameter in place (also one that requires grad, as a learned LR does)."""
    if tensor.requires_grad:
        with torch.no_grad():
            tensor.fill_(x)
    else:
        tensor.fill_(x)


def resume_from(last_epoch: Any, groups: list[dict]) -> int:
    """``last_epoch``: -1, or the step a resumed count continues after (every group needs ``initial_lr``)."""
    if not isinstance(last_epoch, int) or isinstance(last_epoch, bool) or last_epoch < -1:
        raise SpecError(f"Scheduler: last_epoch={last_epoch!r} is not -1 (a new run) or a step >= 0 to resume after")
    missing = [group_label(groups, i) for i, g in enumerate(groups) if "initial_lr" not in g]
    if last_epoch >= 0 and missing:
        raise SpecError(f"Scheduler: last_epoch={last_epoch} resumes a run, but parameter group(s) "
                        f"{', '.join(missing)} have no initial_lr (load the optimizer's state first, as torch "
                        f"requires; or resume with load_state_dict)")
    return last_epoch
