"""An :class:`~lrkit.adaptive.autolrs.AutoLRS` state, checked as data: counters, the stage's probes and
decisions, the in-memory checkpoint (tensors, cloned without unpickling code), and the BO, saved as its seed
and its asks and tells in order and rebuilt by replaying them (each replayed ask must propose the LR the
state recorded). A state whose BO is a pickled object is refused unread: unpickling runs code."""

from __future__ import annotations

import copy
import io
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

from ..errors import SpecError
from ..schedules import validate as v

#: The integer counters of a saved state, and its other entries.
COUNTERS = ("step_count", "train_steps", "stage", "counter", "tau", "tau_probe")
OTHERS = ("phase", "val_stage", "lr", "buffer", "probes", "decisions", "bo", "checkpoint")


def _bad(what: str) -> SpecError:
    return SpecError(f"AutoLRS: the state's {what}")


def read_state(state: Any) -> dict[str, Any]:
    """The checked entries of ``state`` other than the BO, as the controller's attributes (and ``lr``,
    ``checkpoint``)."""
    if not isinstance(state, Mapping):
        raise SpecError(f"AutoLRS: the state is {type(state).__name__}; expected the dict from AutoLRS.state_dict()")
    missing = [k for k in (*COUNTERS, *OTHERS) if k not in state]
    if missing:
        raise SpecError(f"AutoLRS: the state has no {', '.join(map(repr, missing))}; expected a dict from "
                        f"AutoLRS.state_dict()")
    if state["phase"] not in ("warmup", "probe", "exploit"):
        raise _bad(f"phase={v.clip(repr(state['phase']), 60)} is not one of 'warmup', 'probe', 'exploit'")
    out: dict[str, Any] = {k: v.integer("AutoLRS", f"state {k}", state[k], lo=0) for k in COUNTERS}
    for k in ("tau", "tau_probe"):
        if out[k] < 1:
            raise _bad(f"{k}={out[k]} is out of range; expected an integer >= 1")
    if not isinstance(state["val_stage"], bool):
        raise _bad(f"val_stage={v.clip(repr(state['val_stage']), 60)} is not True or False")
    buffer = state["buffer"]
    if not isinstance(buffer, (list, tuple)) or not all(v.is_real(x) for x in buffer):
        raise _bad(f"buffer={v.clip(repr(buffer), 60)} is not a list of losses")
    for k in ("probes", "decisions"):
        if not isinstance(state[k], (list, tuple)) or not all(isinstance(x, Mapping) for x in state[k]):
            raise _bad(f"{k}={v.clip(repr(state[k]), 60)} is not a list of dicts")
    ckpt = state["checkpoint"]
    if ckpt is not None and not (isinstance(ckpt, Mapping) and {"model", "optimizer"} <= set(ckpt)):
        raise _bad(f"checkpoint={v.clip(repr(ckpt), 60)} is not the model's and optimizer's states; expected None "
                   f"or a dict with 'model' and 'optimizer'")
    out.update(phase=str(state["phase"]), val_stage=state["val_stage"], buffer=[float(x) for x in buffer],
               probes=copy.deepcopy(list(state["probes"])), decisions=copy.deepcopy(list(state["decisions"])),
               lr=v.number("AutoLRS", "state lr", state["lr"], lo=0.0), checkpoint=ckpt)
    return out


def _is_call(c: Any) -> bool:
    """One saved BO call: ``['ask', lr]`` or ``['tell', lr, value]`` with finite numbers."""
    if not isinstance(c, (list, tuple)) or not c or c[0] not in ("ask", "tell") or len(c) != (2 if c[0] == "ask" else 3):
        return False
    return all(v.is_real(x) and math.isfinite(x) for x in c[1:])


def replay_bo(saved: Any, make_bo: Callable[[int], Any]):
    """The BO of a saved state, rebuilt by ``make_bo(random_state)`` and a replay of its asks and tells in
    order, and its log; ``(None, None)`` for a state without one."""
    from threadpoolctl import threadpool_limits

    if saved is None:
        return None, None
    if isinstance(saved, (bytes, bytearray)):
        raise _bad("bo is a pickled object (saved by an older lrkit); it is refused, since unpickling runs code "
                   "from the file; resume from the start of the stage or save the state again with this version "
                   "(its BO is plain data)")
    calls = saved.get("calls") if isinstance(saved, Mapping) else None
    seed = saved.get("random_state") if isinstance(saved, Mapping) else None
    if not (isinstance(seed, int) and not isinstance(seed, bool) and 0 <= seed < 2**32
            and isinstance(calls, (list, tuple)) and all(_is_call(c) for c in calls)):
        raise _bad(f"bo={v.clip(repr(saved), 80)} is not a saved BO; expected {{'random_state': int, 'calls': "
                   f"[['ask', lr] or ['tell', lr, value], ...]}}")
    bo = make_bo(seed)
    with warnings.catch_warnings(), threadpool_limits(limits=1):  # as when it was recorded
        warnings.simplefilter("ignore")
        for i, call in enumerate(calls):
            try:
                if call[0] == "tell":
                    bo.tell([float(call[1])], float(call[2]))
                    continue
                got = float(bo.ask()[0])
            except ValueError as e:
                raise SpecError(f"AutoLRS: the state's BO cannot be replayed: call {i} {call!r} fails "
                                f"({v.clip(str(e), 80)})") from None
            if got != call[1]:
                raise SpecError(f"AutoLRS: the state's BO does not replay: ask {i} proposes {got!r} here, the state "
                                f"recorded {call[1]!r} (a controller with other min_lr, max_lr or kappa, another "
                                f"scikit-optimize, or an edited state)")
    return bo, {"random_state": seed, "calls": [list(c) for c in calls]}


def clone(ckpt):
    """A deep copy of an in-memory checkpoint of tensors, through ``torch.save`` and a ``weights_only`` load."""
    if ckpt is None:
        return None
    import torch

    buf = io.BytesIO()
    torch.save(ckpt, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)  # tensors and plain data only: loading runs no pickled code
