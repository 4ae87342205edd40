"""The LR range test (Smith 2017, "Cyclical learning rates", section 3.3): which peak LR to plan for.

``find_lr(model, optimizer, closure_or_batches)`` trains for ``steps`` steps while the LR grows from
``start_lr`` to ``end_lr`` (exponentially or linearly), records the smoothed loss, stops when it diverges,
puts the model and optimizer back exactly as they were, and suggests an LR from the curve as the
libraries users know define it:

* ``valley`` (fastai's default, ``fastai/callback/schedule.py``, ``valley``): the LR 1/3 + 1/6 of the way
  into the longest strictly decreasing stretch of the loss;
* ``steepest`` (Lightning's ``_LRFinder.suggestion``, ``src/lightning/pytorch/tuner/lr_finder.py``): where
  the loss falls fastest per unit of LR (``torch.gradient`` of the loss over the LRs, first 10 and last
  point left out);
* ``steep`` (fastai's ``steep``): where it falls fastest per unit of log LR (forward differences);
* ``minimum`` (fastai's ``minimum``): a tenth of the LR at the lowest loss.

fastai's suggestions read the curve without its first ``steps // 10`` and last 5 points, and up to the
first NaN, as ``Learner.lr_find`` does. The smoothing is fastai's and Lightning's: an exponential moving
average with ``smooth=0.98``, debiased; ``diverge=4.0`` stops once the smoothed loss exceeds 4 times the
best so far (fastai's ``LRFinder.after_batch``). DeepSpeed's ``LRRangeTest`` only sweeps, and suggests
nothing. The LRs are ``start_lr * (end_lr / start_lr) ** (i / (steps - 1))`` (``linear``: evenly spaced),
so the first and last step run at ``start_lr`` and ``end_lr`` exactly.
"""

from __future__ import annotations

import contextlib
import copy
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import SpecError
from ..schedules import validate as v

METHODS = ("valley", "steepest", "steep", "minimum")
MODES = ("exp", "linear")


# ----- the suggestions, on a recorded curve (pure numpy) ----------------------------------------------------

def _fastai_curve(lrs: np.ndarray, losses: np.ndarray, steps: int) -> tuple[np.ndarray, np.ndarray, int]:
    """fastai's slice ``[steps // 10 : -5]``, cut at the first NaN; returns it and its offset."""
    a = steps // 10
    lr, lo = lrs[a:len(lrs) - 5], losses[a:len(losses) - 5]
    bad = np.flatnonzero(~np.isfinite(lo))
    if bad.size:
        lr, lo = lr[:bad[0]], lo[:bad[0]]
    return lr, lo, a


def valley(lrs: np.ndarray, losses: np.ndarray) -> int:
    """fastai's ``valley``: the index ``max_start + int(s) + int(s/2)``, ``s`` a third of the longest valley.

    fastai's double loop, with its inner loop vectorised: ``lds[i]`` is the length of the longest strictly
    decreasing run ending at ``i``; ``max_start`` is set (as fastai sets it) from ``lds[i]`` at the moment it
    first exceeds the best so far.
    """
    n = len(losses)
    lds = np.ones(n, dtype=np.int64)
    max_start = max_end = 0
    for i in range(1, n):
        cand = np.where(losses[i] < losses[:i], lds[:i] + 1, 1)
        run = np.maximum.accumulate(np.maximum(cand, 1))
        lds[i] = run[-1]
        best = lds[max_end]
        if run[-1] > best:
            first = int(np.argmax(run > best))
            max_end, max_start = i, i - int(run[first])
    sections = (max_end - max_start) / 3
    return max_start + int(sections) + int(sections / 2)


def steepest(lrs: np.ndarray, losses: np.ndarray, skip_begin: int = 10, skip_end: int = 1) -> int | None:
    """Lightning's ``suggestion``: argmin of ``gradient(loss, lr)`` over ``[skip_begin:-skip_end]``, finite
    losses only; the index into the whole curve (None with fewer than 2 points)."""
    idx = np.arange(len(losses))[skip_begin:len(losses) - skip_end]
    keep = idx[np.isfinite(losses[idx])]
    if keep.size < 2:
        return None
    grads = np.gradient(losses[keep], lrs[keep])
    return int(keep[int(np.argmin(grads))])


def steep(lrs: np.ndarray, losses: np.ndarray) -> int:
    """fastai's ``steep``: argmin of ``(loss[1:] - loss[:-1]) / (log lr[1:] - log lr[:-1])``."""
    grads = np.diff(losses) / np.diff(np.log(lrs))
    return int(np.argmin(grads))


def minimum(lrs: np.ndarray, losses: np.ndarray) -> int:
    """fastai's ``minimum``: the index of the lowest loss (the suggestion is a tenth of its LR)."""
    return int(np.argmin(losses))


def suggest(lrs, losses, steps: int, method: str) -> tuple[float | None, int | None, str | None]:
    """``(lr, index into the curve, note)`` by ``method``; ``(None, None, why)`` when the curve is too short."""
    v.choice("find_lr", "suggestion", method, METHODS)
    lrs, losses = np.asarray(lrs, dtype=float), np.asarray(losses, dtype=float)
    if method == "steepest":
        i = steepest(lrs, losses)
        if i is None:
            return None, None, (f"steepest needs 2 finite losses after the first 10 and before the last point; "
                                f"the curve has {len(losses)} points")
        return float(lrs[i]), i, None
    lr, lo, offset = _fastai_curve(lrs, losses, steps)
    need = 2 if method == "steep" else 1
    if len(lo) < need:
        return None, None, (f"{method} needs {need} finite loss{'es' if need > 1 else ''} after the first "
                            f"{steps // 10} and before the last 5 points; the curve has {len(losses)} points")
    i = {"valley": valley, "steep": steep, "minimum": minimum}[method](lr, lo)
    i = i if i >= 0 else len(lo) + i  # (fastai's valley can give -1: Python's last element)
    return float(lr[i]) / (10.0 if method == "minimum" else 1.0), offset + i, None


# ----- the result -------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class LRRangeResult:
    """What :func:`find_lr` measured: the LRs tried, the smoothed (and raw) losses, and a suggestion."""

    lrs: np.ndarray
    losses: np.ndarray
    raw_losses: np.ndarray
    method: str
    suggestion: float | None
    index: int | None
    stopped: str
    steps: int
    mode: str
    start_lr: float
    end_lr: float
    note: str | None = None
    settings: dict = field(default_factory=dict)

    def suggest(self, method: str) -> float | None:
        """The suggestion by another method (``valley``, ``steepest``, ``steep``, ``minimum``) on this curve."""
        return suggest(self.lrs, self.losses, self.steps, method)[0]

    def suggestions(self) -> dict[str, float | None]:
        return {m: self.suggest(m) for m in METHODS}

    def __repr__(self) -> str:
        s = "None" if self.suggestion is None else f"{self.suggestion:.3g}"
        return (f"LRRangeResult(suggestion={s}, method={self.method!r}, steps={len(self.lrs)}/{self.steps}, "
                f"stopped={self.stopped!r})")

    def summary(self) -> str:
        """A few lines for a person: the sweep, why it stopped, the suggestion and the others."""
        done = len(self.lrs)
        head = (f"LR range test: {done} of {self.steps} steps, {self.mode} ramp {self.start_lr:.3g} .. "
                f"{self.end_lr:.3g}; stopped: {self.stopped}")
        if self.suggestion is None:
            lines = [head, f"no suggestion ({self.method}): {self.note}"]
        else:
            lines = [head, f"suggestion: {self.suggestion:.3g} ({self.method})"]
        others = [f"{m} {x:.3g}" for m, x in self.suggestions().items() if m != self.method and x is not None]
        if others:
            lines.append("others: " + ", ".join(others) + " (minimum: a tenth of the LR at the lowest loss)")
        finite = np.isfinite(self.losses)
        if finite.any():
            i = int(np.nanargmin(np.where(finite, self.losses, np.inf)))
            lines.append(f"lowest smoothed loss {self.losses[i]:.4g} at LR {self.lrs[i]:.3g} (step {i})")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the suggestion, every method's, and the curve (non-finite losses as None)."""
        def clean(a):
            return [float(x) if math.isfinite(x) else None for x in np.asarray(a, dtype=float)]

        return {"suggestion": self.suggestion, "method": self.method, "suggestions": self.suggestions(),
                "stopped": self.stopped, "steps": self.steps, "steps_done": len(self.lrs), "mode": self.mode,
                "start_lr": self.start_lr, "end_lr": self.end_lr, "note": self.note,
                "lrs": clean(self.lrs), "losses": clean(self.losses), "raw_losses": clean(self.raw_losses)}

    def plot(self, ax=None):
        """The smoothed loss against the LR (log axis for the ``exp`` ramp), the suggestion marked; the axes."""
        import matplotlib.pyplot as plt

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        ax.plot(self.lrs, self.raw_losses, color="0.75", lw=0.8, label="loss")
        ax.plot(self.lrs, self.losses, color="C0", lw=1.8, label=f"smoothed ({self.settings.get('smooth', '')})")
        if self.mode == "exp":
            ax.set_xscale("log")
        if self.index is not None:
            ax.axvline(self.suggestion, color="C3", lw=1, ls="--")
            ax.plot([self.lrs[self.index]], [self.losses[self.index]], "o", color="C3",
                    label=f"{self.method}: {self.suggestion:.3g}")
        finite = self.losses[np.isfinite(self.losses)]
        if finite.size:  # from the lowest loss to a little above the first: the blow-up is cut off
            raw = self.raw_losses[np.isfinite(self.raw_losses)]
            lo, hi = float(min(finite.min(), raw.min() if raw.size else np.inf)), float(finite[0])
            ax.set_ylim(lo - 0.05 * abs(hi - lo) - 1e-12, max(hi, lo) + 0.3 * abs(hi - lo) + 1e-12)
        ax.set_xlabel("learning rate")
        ax.set_ylabel("training loss")
        ax.set_title("LR range test")
        ax.legend(loc="best", fontsize=8)
        return ax


# ----- the test ---------------------------------------------------------------------------------------------

def ramp(start_lr: float, end_lr: float, steps: int, mode: str) -> np.ndarray:
    """The LR of each step: ``start_lr`` at the first, ``end_lr`` at the last."""
    if mode == "exp":
        return start_lr * (end_lr / start_lr) ** (np.arange(steps) / (steps - 1))
    return np.linspace(start_lr, end_lr, steps)


def _check(optimizer, start_lr, end_lr, steps, mode, smooth, diverge, suggestion, clip) -> tuple[str, int]:
    import torch

    if not isinstance(optimizer, torch.optim.Optimizer):
        raise SpecError(f"find_lr: optimizer is {type(optimizer).__name__}; expected a torch.optim.Optimizer")
    mode = "exp" if mode == "exponential" else mode
    v.choice("find_lr", "mode", mode, MODES)
    v.choice("find_lr", "suggestion", suggestion, METHODS)
    start = v.number("find_lr", "start_lr", start_lr, lo=0.0, lo_open=True)
    end = v.number("find_lr", "end_lr", end_lr, lo=0.0, lo_open=True)
    if not end > start:
        raise SpecError(f"find_lr: end_lr={end_lr!r} is not above start_lr={start_lr!r}; the test sweeps upward")
    steps = v.integer("find_lr", "steps", steps, lo=6)  # (fastai's LRFinder takes at least 6)
    v.number("find_lr", "smooth", smooth, lo=0.0, hi=1.0, hi_open=True)
    if diverge is not None:
        v.number("find_lr", "diverge", diverge, lo=1.0, lo_open=True)
    if clip is not None:
        v.number("find_lr", "clip", clip, lo=0.0, lo_open=True)
    return mode, steps


def _loss_source(closure_or_batches, loss_fn, model) -> Callable[[], Any]:
    """A function giving the next loss; ``StopIteration`` when a one-shot iterator of batches runs out."""
    if callable(closure_or_batches) and not isinstance(closure_or_batches, Iterable):
        if loss_fn is not None:
            raise SpecError("find_lr: loss_fn is used with batches; a closure returns the loss itself")
        return closure_or_batches
    if not isinstance(closure_or_batches, Iterable):
        raise SpecError(f"find_lr: closure_or_batches is {type(closure_or_batches).__name__}; expected a function "
                        f"returning the loss of a fresh batch, or an iterable of batches with loss_fn=")
    if loss_fn is None or not callable(loss_fn):
        raise SpecError("find_lr: batches need loss_fn=, a function (model, batch) -> loss")
    batches = closure_or_batches
    state = {"it": iter(batches), "fresh": True}

    def next_loss():
        try:
            batch = next(state["it"])
        except StopIteration:
            again = iter(batches)
            if again is batches or state["fresh"]:  # a one-shot iterator, or an empty iterable
                if state["fresh"]:
                    raise SpecError("find_lr: the batches are empty") from None
                raise
            state["it"] = again
            batch = next(again)
        state["fresh"] = False
        return loss_fn(model, batch)

    return next_loss


@contextlib.contextmanager
def restored(model, optimizer):
    """Put the model (parameters, buffers, gradients, train/eval modes), the optimizer (state and param
    groups) and torch's random number generators back exactly as they were, however the block ends."""
    import torch

    model_state = copy.deepcopy(model.state_dict())
    opt_state = copy.deepcopy(optimizer.state_dict())
    params = list(model.parameters())
    grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
    modes = [m.training for m in model.modules()]
    rng = torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else None
    try:
        yield
    finally:
        model.load_state_dict(model_state)
        optimizer.load_state_dict(opt_state)
        for p, g in zip(params, grads):
            p.grad = g
        for m, mode in zip(model.modules(), modes):
            m.training = mode
        torch.set_rng_state(rng)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def find_lr(model, optimizer, closure_or_batches, *, loss_fn: Callable | None = None, start_lr: float = 1e-7,
            end_lr: float = 10.0, steps: int = 100, mode: str = "exp", smooth: float = 0.98,
            diverge: float | None = 4.0, suggestion: str = "valley", clip: float | None = None) -> LRRangeResult:
    """Run the LR range test and return an :class:`LRRangeResult` (``.suggestion``, ``.lrs``, ``.losses``,
    ``.plot()``); the model and optimizer are restored exactly afterwards.

    ``closure_or_batches``: a function returning the loss of a fresh batch (``find_lr`` does the backward
    pass and the step), or an iterable of batches with ``loss_fn(model, batch) -> loss`` (iterated again when
    it runs out, if it can be). ``mode``: ``exp`` or ``linear``. ``smooth``: the EMA weight (0: none).
    ``diverge``: stop when the smoothed loss exceeds ``diverge`` times the best (None: never). ``suggestion``:
    ``valley``, ``steepest``, ``steep`` or ``minimum`` (see the module doc). ``clip``: gradient-norm clipping.
    Every parameter group runs at the ramp's LR times its own LR's ratio to the first group's.
    """
    import torch

    mode, steps = _check(optimizer, start_lr, end_lr, steps, mode, smooth, diverge, suggestion, clip)
    next_loss = _loss_source(closure_or_batches, loss_fn, model)
    lrs = ramp(float(start_lr), float(end_lr), steps, mode)
    base = [float(g["lr"]) for g in optimizer.param_groups]
    ratios = [b / base[0] for b in base] if base[0] > 0 and all(b > 0 for b in base) else [1.0] * len(base)
    params = [p for g in optimizer.param_groups for p in g["params"]]
    used, smoothed, raw = [], [], []
    avg, best, stopped = 0.0, math.inf, "steps"
    with restored(model, optimizer):
        model.train()
        for i, lr in enumerate(lrs):
            for g, r in zip(optimizer.param_groups, ratios):
                g["lr"] = float(lr) * r
            try:
                loss = next_loss()
            except StopIteration:
                stopped = "out of batches"
                break
            if not (isinstance(loss, torch.Tensor) and loss.numel() == 1 and loss.requires_grad):
                raise SpecError(f"find_lr: the loss is {_what(loss)}; expected a scalar tensor that depends on the "
                                f"model's parameters")
            value = float(loss.detach())
            used.append(float(lr))
            raw.append(value)
            if not math.isfinite(value):
                smoothed.append(math.nan)
                stopped = f"non-finite loss at step {i}"
                break
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if clip is not None:
                torch.nn.utils.clip_grad_norm_(params, clip)
            optimizer.step()
            avg = smooth * avg + (1.0 - smooth) * value
            s = avg / (1.0 - smooth ** (i + 1)) if smooth > 0 else value
            smoothed.append(s)
            best = min(best, s)
            if diverge is not None and i > 0 and s > diverge * best:
                stopped = f"diverged at step {i} (smoothed loss > {diverge:g} x best)"
                break
    lrs_a, sm_a, raw_a = np.asarray(used), np.asarray(smoothed, dtype=float), np.asarray(raw, dtype=float)
    lr, index, note = suggest(lrs_a, sm_a, steps, suggestion)
    return LRRangeResult(lrs_a, sm_a, raw_a, suggestion, lr, index, stopped, steps, mode, float(start_lr),
                         float(end_lr), note, {"smooth": smooth, "diverge": diverge, "clip": clip})


def _what(x: Any) -> str:
    shape = getattr(x, "shape", None)
    if shape is not None and hasattr(x, "requires_grad"):
        return f"a tensor of shape {tuple(shape)}" + ("" if x.requires_grad else " with no gradient")
    return type(x).__name__
