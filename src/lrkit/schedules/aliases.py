"""The names users already type: transformers' ``lr_scheduler_type`` values and torch's and timm's scheduler
classes, read by :func:`~lrkit.schedules.spec.parse`.

* transformers' values (``warmup_stable_decay``, ``cosine_with_restarts``, ``constant_with_warmup``,
  ``cosine_with_min_lr``, ``cosine_warmup_with_min_lr``) **parse**, with transformers' argument names and
  defaults, as that schedule under transformers' counting: ``warmup_stable_decay(num_warmup_steps=100,
  num_decay_steps=200)`` is ``under(wsd(warmup=100, decay=200, form="cosine"), convention="hf")``, whatever
  convention evaluates it. ``linear``, ``cosine``, ``polynomial``, ``constant`` and ``inverse_sqrt`` are
  lrkit's own families of the same name (transformers' values under ``convention="hf"``).
* torch's and timm's class names (``CosineAnnealingLR``, ``CosineLRScheduler``, ...) and the transformers
  values without a clean reading (``reduce_lr_on_plateau``, ``greedy``) are refused in one line that spells
  the lrkit schedule, with the library's argument names in it: their LR floors and warmup starts are
  absolute LRs, where a spec holds multipliers of the base LR (``lr`` in the hints).

``FOREIGN_PARAMS`` names the lrkit parameter for a library's argument name given to an lrkit family
(``cosine(num_warmup_steps=100)``: transformers' ``num_warmup_steps`` is ``warmup=``).
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable
from typing import Any

from ..errors import SpecError
from .base import REGISTRY, Schedule

LIBRARIES = {"transformers": "hf", "torch": "torch", "timm": "timm"}


@dataclasses.dataclass(frozen=True)
class Alias:
    """A library's scheduler name: the lrkit spelling (``family(args)`` in the library's argument names, under
    ``convention``), and for the names that parse, the library's parameters and the translation."""

    library: str
    source: str
    family: str
    args: str = ""
    convention: str | None = None
    note: str = ""
    params: tuple[str, ...] = ()
    build: Callable[[dict], Schedule] | None = None

    def spelling(self) -> str:
        out = f"{self.family}({self.args})" if self.family else ""
        if out and self.convention:
            out += f" with convention={self.convention!r}"
        return out

    def hint(self) -> str:
        """``<library>'s <source> is <spelling> (<note>)``: one clause for an error message."""
        what = f"{_whose(self.library)} {self.source}"
        spelled = self.spelling()
        if spelled:
            return f"{what} is {spelled}" + (f" ({self.note})" if self.note else "")
        return f"{what} {self.note}"


def _whose(library: str) -> str:
    return f"{library}'" if library.endswith("s") else f"{library}'s"


def _family(name: str, **kwargs: Any) -> Schedule:
    if name not in REGISTRY:  # (defensive: every family named here is registered by lrkit.schedules)
        raise SpecError(f"the schedule family {name!r} is not part of this lrkit")
    return REGISTRY[name](**{k: x for k, x in kwargs.items() if x is not None})


def _hf(schedule: Schedule) -> Schedule:
    return REGISTRY["under"](schedule=schedule, convention="hf")


def _cycles(value: Any) -> Any:
    """transformers' ``num_cycles`` as lrkit's float (``2`` and ``2.0`` are the same count there)."""
    return float(value) if isinstance(value, numbers.Real) and not isinstance(value, bool) else value


def _min_lr_rate(name: str, kw: dict) -> Any:
    if kw.get("min_lr") is not None:
        raise SpecError(f"{name}: min_lr={kw['min_lr']!r} is an LR, and a spec holds multipliers of the base LR; "
                        f"give min_lr_rate=min_lr/lr instead")
    if kw.get("min_lr_rate") is None:
        raise SpecError(f"{name}: needs min_lr_rate= (the floor as a fraction of the base LR), as transformers "
                        f"needs min_lr or min_lr_rate")
    return kw["min_lr_rate"]


def _constant_with_warmup(kw: dict) -> Schedule:
    return _hf(_family("constant", warmup=kw.get("num_warmup_steps", 0)))


def _cosine_with_restarts(kw: dict) -> Schedule:
    return _hf(_family("cosine_restarts", warmup=kw.get("num_warmup_steps", 0), steps=kw.get("num_training_steps"),
                       cycles=_cycles(kw.get("num_cycles", 1))))


def _cosine_with_min_lr(kw: dict) -> Schedule:
    rate, waves = _min_lr_rate("cosine_with_min_lr", kw), _cycles(kw.get("num_cycles", 0.5))
    common = dict(warmup=kw.get("num_warmup_steps", 0), steps=kw.get("num_training_steps"), floor=rate)
    if waves == 0.5:
        return _hf(_family("cosine", **common))
    return _hf(_family("cosine_waves", waves=waves, **common))


def _cosine_warmup_with_min_lr(kw: dict) -> Schedule:
    rate = _min_lr_rate("cosine_warmup_with_min_lr", kw)
    return _hf(_family("cosine_lr_rate", warmup=kw.get("num_warmup_steps", 0), steps=kw.get("num_training_steps"),
                       waves=_cycles(kw.get("num_cycles", 0.5)), floor=rate, warmup_lr_rate=kw.get("warmup_lr_rate")))


def _warmup_stable_decay(kw: dict) -> Schedule:
    name = "warmup_stable_decay"
    if "num_decay_steps" not in kw:
        raise SpecError(f"{name}: needs num_decay_steps= (the decay's length in steps), as get_wsd_schedule does")
    if kw.get("num_training_steps") is not None and kw.get("num_stable_steps") is not None:
        raise SpecError(f"{name}: give num_training_steps or num_stable_steps, not both (transformers warns and "
                        f"uses num_stable_steps)")
    decay_type = kw.get("decay_type", "cosine")
    if _cycles(kw.get("num_cycles", 0.5)) != 0.5 and decay_type == "cosine":
        raise SpecError(f"{name}: num_cycles={kw['num_cycles']!r}: lrkit's wsd decays over half a cosine "
                        f"(num_cycles=0.5) only")
    W, D, S = kw.get("num_warmup_steps", 0), kw["num_decay_steps"], kw.get("num_stable_steps")
    steps = kw.get("num_training_steps")
    if S is not None:
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in (W, D, S)):
            raise SpecError(f"{name}: num_stable_steps={S!r} with num_warmup_steps={W!r} and num_decay_steps={D!r}: "
                            f"all three must be whole steps (the run is their sum)")
        steps = W + S + D
    return _hf(_family("wsd", warmup=W, decay=D, steps=steps, form=decay_type,
                       warmup_form=kw.get("warmup_type", "linear"), floor=kw.get("min_lr_ratio", 0.0)))


_TF_COMMON = ("num_warmup_steps", "num_training_steps")
_PLATEAU = ("mode=mode, factor=factor, patience=patience, threshold=threshold, threshold_mode=threshold_mode, "
            "cooldown=cooldown, min=min_lr/lr, eps=eps/lr")

ALIASES: dict[str, Alias] = {
    # ----- transformers' SchedulerType values that parse ------------------------------------------------------
    "constant_with_warmup": Alias("transformers", "get_constant_schedule_with_warmup", "constant",
                                  "warmup=num_warmup_steps", "hf", params=("num_warmup_steps",),
                                  build=_constant_with_warmup),
    "cosine_with_restarts": Alias("transformers", "get_cosine_with_hard_restarts_schedule_with_warmup",
                                  "cosine_restarts", "warmup=num_warmup_steps, cycles=num_cycles", "hf",
                                  params=(*_TF_COMMON, "num_cycles"), build=_cosine_with_restarts),
    "cosine_with_min_lr": Alias("transformers", "get_cosine_with_min_lr_schedule_with_warmup", "cosine",
                                "warmup=num_warmup_steps, floor=min_lr_rate", "hf",
                                "cosine_waves(waves=num_cycles, ...) for num_cycles other than 0.5",
                                params=(*_TF_COMMON, "num_cycles", "min_lr", "min_lr_rate"), build=_cosine_with_min_lr),
    "cosine_warmup_with_min_lr": Alias("transformers", "get_cosine_with_min_lr_schedule_with_warmup_lr_rate",
                                       "cosine_lr_rate", "warmup=num_warmup_steps, waves=num_cycles, "
                                       "floor=min_lr_rate, warmup_lr_rate=warmup_lr_rate", "hf",
                                       params=(*_TF_COMMON, "num_cycles", "min_lr", "min_lr_rate", "warmup_lr_rate"),
                                       build=_cosine_warmup_with_min_lr),
    "warmup_stable_decay": Alias("transformers", "get_wsd_schedule", "wsd",
                                 "warmup=num_warmup_steps, decay=num_decay_steps, form=decay_type, "
                                 "warmup_form=warmup_type, floor=min_lr_ratio", "hf",
                                 params=(*_TF_COMMON, "num_decay_steps", "num_stable_steps", "warmup_type",
                                         "decay_type", "min_lr_ratio", "num_cycles"), build=_warmup_stable_decay),
    # ----- transformers' values refused with the spelling -----------------------------------------------------
    "reduce_lr_on_plateau": Alias("transformers", "get_reduce_on_plateau_schedule (torch's ReduceLROnPlateau)",
                                  "plateau", _PLATEAU, None,
                                  "min_lr and eps are LRs, lr the base LR; feed it with scheduler.step(metrics=...)"),
    "greedy": Alias("transformers", "get_greedy_schedule (GreedyLR)", "",
                    note="raises and lowers the LR as a metric improves or stalls, which no lrkit schedule does; "
                         "plateau(...) lowers it when the metric stalls"),
    # ----- torch.optim.lr_scheduler -----------------------------------------------------------------------
    "LRScheduler": Alias("torch", "LRScheduler", "", note="is the base class of torch's schedulers, not a schedule; "
                         "name one, e.g. cosine(warmup=100): lrkit.torch.Scheduler(optimizer, spec, total_steps=N) "
                         "is an LRScheduler"),
    "_LRScheduler": Alias("torch", "_LRScheduler", "", note="is the (deprecated) base class of torch's schedulers, "
                          "not a schedule; name one, e.g. cosine(warmup=100)"),
    "LambdaLR": Alias("torch", "LambdaLR", "", note="takes a Python function, which a spec cannot hold (nothing in a "
                      "spec is evaluated); write the schedule as a spec, e.g. cosine(warmup=100), or "
                      "piecewise(points=[...]) for tabulated multipliers"),
    "MultiplicativeLR": Alias("torch", "MultiplicativeLR", "exponential", "gamma=g", "torch",
                              "for a constant factor g; it takes a Python function, which a spec cannot hold"),
    "StepLR": Alias("torch", "StepLR", "step", "every=step_size, gamma=gamma", "torch"),
    "MultiStepLR": Alias("torch", "MultiStepLR", "multistep", "milestones=milestones, gamma=gamma", "torch"),
    "ConstantLR": Alias("torch", "ConstantLR", "sequence", "constant(value=factor), constant(), "
                        "boundaries=[total_iters]", "torch"),
    "LinearLR": Alias("torch", "LinearLR", "piecewise", "points=[(0, start_factor), (total_iters, end_factor)]",
                      "torch", "as a warmup: constant(warmup=total_iters, warmup_init=start_factor)"),
    "ExponentialLR": Alias("torch", "ExponentialLR", "exponential", "gamma=gamma", "torch"),
    "SequentialLR": Alias("torch", "SequentialLR", "sequence", "<a spec per scheduler>, boundaries=milestones",
                          "torch", "or keep SequentialLR around an lrkit.torch.Scheduler"),
    "PolynomialLR": Alias("torch", "PolynomialLR", "polynomial", "steps=total_iters, power=power", "torch"),
    "CosineAnnealingLR": Alias("torch", "CosineAnnealingLR", "cosine", "steps=T_max, floor=eta_min/lr", "torch",
                               "eta_min is an LR, lr the base LR; the LR rises again after T_max"),
    "ChainedScheduler": Alias("torch", "ChainedScheduler", "product", "<a spec per scheduler>", "torch",
                              "or keep ChainedScheduler around an lrkit.torch.Scheduler"),
    "ReduceLROnPlateau": Alias("torch", "ReduceLROnPlateau", "plateau", _PLATEAU, None,
                               "min_lr and eps are LRs, lr the base LR; feed it with scheduler.step(metrics=...)"),
    "CyclicLR": Alias("torch", "CyclicLR", "cyclic", "base=base_lr/lr, max=max_lr/lr, up=step_size_up, "
                      "down=step_size_down, mode=mode, gamma=gamma", "torch", "lr: the optimizer's LR"),
    "CosineAnnealingWarmRestarts": Alias("torch", "CosineAnnealingWarmRestarts", "sgdr",
                                         "period=T_0, mult=T_mult, floor=eta_min/lr", "torch",
                                         "eta_min is an LR, lr the base LR"),
    "OneCycleLR": Alias("torch", "OneCycleLR", "onecycle", "pct_start=pct_start, div_factor=div_factor, "
                        "final_div_factor=final_div_factor, anneal=anneal_strategy, three_phase=three_phase",
                        "torch", "with max_lr as the base LR and total_steps as the total"),
    # ----- timm.scheduler ---------------------------------------------------------------------------------
    "CosineLRScheduler": Alias("timm", "CosineLRScheduler", "cosine", "steps=t_initial, floor=lr_min/lr, "
                               "warmup=warmup_t, warmup_init=warmup_lr_init/lr", "timm",
                               "'timm-prefix' for warmup_prefix=True; lr_min and warmup_lr_init are LRs, lr the base "
                               "LR; cycles: sgdr(...), k_decay: kdecay(...)"),
    "TanhLRScheduler": Alias("timm", "TanhLRScheduler", "tanh", "steps=t_initial, lb=lb, ub=ub, floor=lr_min/lr, "
                             "warmup=warmup_t, warmup_init=warmup_lr_init/lr", "timm",
                             "'timm-prefix' for warmup_prefix=True; lr_min and warmup_lr_init are LRs"),
    "StepLRScheduler": Alias("timm", "StepLRScheduler", "step", "every=decay_t, gamma=decay_rate, warmup=warmup_t, "
                             "warmup_init=warmup_lr_init/lr", "timm-prefix",
                             "its warmup_prefix defaults to True; 'timm' for warmup_prefix=False"),
    "MultiStepLRScheduler": Alias("timm", "MultiStepLRScheduler", "multistep", "milestones=[m - 1 for m in decay_t], "
                                  "gamma=decay_rate, warmup=warmup_t, warmup_init=warmup_lr_init/lr", "timm-prefix",
                                  "timm applies a milestone one step earlier than torch"),
    "PlateauLRScheduler": Alias("timm", "PlateauLRScheduler", "plateau", "factor=decay_rate, patience=patience_t, "
                                "threshold=threshold, cooldown=cooldown_t, mode=mode, min=lr_min/lr", None,
                                "timm's mode defaults to 'max'; feed it with scheduler.step(metrics=...)"),
    "PolyLRScheduler": Alias("timm", "PolyLRScheduler", "polynomial", "steps=t_initial, power=power, "
                             "floor=lr_min/lr, warmup=warmup_t, warmup_init=warmup_lr_init/lr", "timm",
                             "timm's power defaults to 0.5, lrkit's to 1.0"),
    "WSDLRScheduler": Alias("timm", "WSDLRScheduler", "wsd", "steps=t_initial, decay=decay_t, form=decay_fn, "
                            "floor=lr_min/lr, warmup=warmup_t, warmup_init=warmup_lr_init/lr", "timm-prefix",
                            "stable_fn='constant'; its warmup is always a prefix"),
}

#: transformers' ``lr_scheduler_type`` values that are lrkit families of the same name, and their reading.
SAME_NAMES = {
    "linear": "linear(warmup=num_warmup_steps) with convention='hf'",
    "cosine": "cosine(warmup=num_warmup_steps) with convention='hf' (cosine_waves(waves=num_cycles) otherwise)",
    "polynomial": "polynomial(warmup=num_warmup_steps, power=power, floor=lr_end/lr) with convention='hf'",
    "constant": "constant() (any convention)",
    "inverse_sqrt": "inverse_sqrt(warmup=num_warmup_steps, timescale=timescale) with convention='hf'",
}

#: A library's argument name given to an lrkit family: (library, lrkit parameters to try, how to convert).
FOREIGN_PARAMS: dict[str, tuple[str, tuple[str, ...], str]] = {
    "num_warmup_steps": ("transformers", ("warmup",), ""), "warmup_steps": ("", ("warmup",), ""),
    "num_training_steps": ("transformers", ("steps",), ""), "num_decay_steps": ("transformers", ("decay",), ""),
    "min_lr_ratio": ("transformers", ("floor",), ""), "min_lr_rate": ("transformers", ("floor",), ""),
    "warmup_type": ("transformers", ("warmup_form",), ""), "decay_type": ("transformers", ("form",), ""),
    "lr_end": ("transformers", ("floor",), "lr_end/lr"),
    "T_max": ("torch", ("steps",), ""), "total_iters": ("torch", ("steps",), ""), "step_size": ("torch", ("every",), ""),
    "eta_min": ("torch", ("floor",), "eta_min/lr"), "T_0": ("torch", ("period",), ""), "T_mult": ("torch", ("mult",), ""),
    "min_lr": ("torch", ("floor", "min"), "min_lr/lr"), "anneal_strategy": ("torch", ("anneal",), ""),
    "step_size_up": ("torch", ("up",), ""), "step_size_down": ("torch", ("down",), ""),
    "base_lr": ("torch", ("base",), "base_lr/lr"), "max_lr": ("torch", ("max",), "max_lr/lr"),
    "warmup_t": ("timm", ("warmup",), ""), "t_initial": ("timm", ("steps",), ""),
    "warmup_lr_init": ("timm", ("warmup_init",), "warmup_lr_init/lr"), "lr_min": ("timm", ("floor", "min"), "lr_min/lr"),
    "decay_rate": ("timm", ("gamma", "factor"), ""), "patience_t": ("timm", ("patience",), ""),
    "cooldown_t": ("timm", ("cooldown",), ""), "decay_fn": ("timm", ("form",), ""),
}


def _normal(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


def lookup(name: str) -> str | None:
    """The alias (or family) ``name`` means when written in another case or with other separators
    (``CosineWithRestarts``, ``cosine-annealing-lr``), else None."""
    want = _normal(name)
    for key in (*ALIASES, *REGISTRY):
        if _normal(key) == want:
            return key
    return None


def unknown_family(name: str) -> str | None:
    """The message for ``name`` when it is a library's scheduler name (or one written differently), else None."""
    if name in ALIASES:
        return f"unknown schedule family {name!r}; {ALIASES[name].hint()}"
    key = lookup(name)
    if key is None or key == name:
        return None
    if key in ALIASES:
        return f"unknown schedule family {name!r}; did you mean {key!r}? {ALIASES[key].hint()}"
    return f"unknown schedule family {name!r}; did you mean {key!r}?"


def parses(name: str) -> bool:
    """Whether ``name`` is a library's scheduler name that reads as a schedule (else it is refused)."""
    return name not in REGISTRY and name in ALIASES and ALIASES[name].build is not None


def build(name: str, kwargs: dict[str, Any]) -> Schedule:
    """The schedule a library's scheduler name with the library's arguments means (:func:`parses` is true)."""
    alias = ALIASES[name]
    for key in kwargs:
        if key not in alias.params:
            hint = ""
            if key in FOREIGN_PARAMS or key in ("warmup", "decay", "floor", "steps"):
                hint = f"; lrkit's own spelling is {alias.spelling()}"
            raise SpecError(f"{name} ({_whose(alias.library)} {alias.source}): unknown parameter {key!r} (valid: "
                            f"{', '.join(alias.params)}){hint}")
    try:
        return alias.build(kwargs)  # type: ignore[misc]
    except SpecError as e:
        text = str(e)
        if text.startswith(f"{name}:"):
            raise
        raise SpecError(f"{name} ({_whose(alias.library)} {alias.source}, read as {alias.spelling()}): {text}") from None


def foreign_param(family: str, name: str, valid: list[str]) -> str:
    """``; torch's T_max is steps= here`` for a library's argument name given to an lrkit family, else ``''``."""
    if name not in FOREIGN_PARAMS:
        return ""
    library, targets, conversion = FOREIGN_PARAMS[name]
    target = next((t for t in targets if t in valid), None)
    if target is None:
        return ""
    whose = f"{_whose(library)} {name}" if library else name
    if conversion:
        return f"; {whose} is an LR: {target}={conversion} here, a multiplier of the base LR"
    return f"; {whose} is {target}= here"
