"""AutoLRS: automatic LR schedules by Bayesian optimisation on the fly (Jin et al., ICLR 2021; reference
YuchenJin/autolrs ``autolrs_server.py`` and ``autolrs_callback.py``).

Training runs in stages. At the start of a stage the model and optimizer are checkpointed in memory; then
``k`` candidate LRs are each tried for ``tau_probe`` steps from that checkpoint, each probe's loss series
is denoised (an iterative quadratic spline that drops the worst 3% outliers of its first half) and
extrapolated with the exponential model ``L(t) = a·e^{bt} + c`` (``b < 0``) to the stage length ``tau``;
a Gaussian-process BO over log-LR (scikit-optimize, LCB acquisition) proposes the candidates. The stage
then trains ``tau`` steps from the checkpoint with the LR of lowest forecast. After a stage, while
``tau_probe < tau_max / 10``, both ``tau`` and ``tau_probe`` double; after that, when a validation
function is given, the forecast uses the validation loss sampled every ``tau_probe / 16`` steps.

:class:`AutoLRS` is an online controller in your own training loop: call :meth:`AutoLRS.step` with each
step's training loss after ``optimizer.step()``; it sets the next LR and, between probes, restores the
model and optimizer in place. Probe steps are training steps too (the search costs about as much as the
training, as in the paper). Every decision is logged (:attr:`AutoLRS.decisions`, optionally as JSON lines)
and :meth:`AutoLRS.state_dict` holds everything, the in-memory checkpoint and the BO included, so a resumed
run makes the same decisions. The BO is saved as plain data (its seed and the LRs it proposed and was told,
in order) and rebuilt by replaying them, so ``torch.load(weights_only=True)`` reads a checkpoint and loading it
runs no pickled code.
"""

from __future__ import annotations

import copy
import json
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from ..errors import SpecError
from ..schedules import validate as v
from .autolrs_state import COUNTERS, clone, read_state, replay_bo

NAN_LOSS = 1e6  # the reference tells the BO 1e6 for a probe whose loss went NaN


# -------------------------------------------------------------------------------------------------- forecasting
def _smoothing(ys: np.ndarray) -> float:
    """The spline's smoothing factor ``s = m·σ̂²``, with the noise ``σ̂`` estimated from second differences.

    (The reference leaves scipy's default ``s = m``, which assumes unit noise: for losses of order 1 that
    turns the "denoising" spline into a single parabola, and the forecast into a parabola's extrapolation.)
    """
    d2 = np.diff(np.asarray(ys, dtype=float), 2)  # second differences: a smooth trend cancels, noise stays
    sigma2 = (1.4826 * float(np.median(np.abs(d2 - np.median(d2))))) ** 2 / 6.0 if d2.size else 0.0
    return len(ys) * sigma2


def _spline_iter(xs: np.ndarray, ys: np.ndarray, is_training: bool, filter_ratio: float = 0.03,
                 bound: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """The reference's outlier removal: over 10 rounds (1 for validation losses) drop the worst 3% of the
    residuals (the single worst for validation) that lie in the first half of the series.

    The residuals are taken from a running median of 5 points rather than from the reference's spline: with
    a smoothing factor matched to the noise, a spline passes through an outlier and hides it.
    """
    from scipy.ndimage import median_filter

    limit = xs[int((len(xs) - 1) * bound)]
    rounds = 10 if is_training else 1
    for _ in range(rounds):
        if len(xs) <= 5:
            break
        dys = np.abs(ys - median_filter(ys, size=5, mode="nearest"))
        order = np.argsort(dys, kind="stable")
        n_out = int(round(len(dys) * filter_ratio)) if is_training else 1
        worst = order[len(order) - n_out:] if n_out else order[:0]
        drop = np.array([i for i in worst if xs[i] < limit and dys[i] > 0], dtype=int)
        if drop.size == 0:
            continue
        keep = np.ones(len(xs), dtype=bool)
        keep[drop] = False
        xs, ys = xs[keep], ys[keep]
    return xs, ys


def fit_exponential(losses, is_training: bool = True, denoise: bool = True) -> tuple[float, float, float]:
    """``(a, b, c)`` of ``L(t) = a·e^{bt} + c`` (``b < 0``) fitted to a loss series at ``t = 0, 1, ...``.

    As the reference: ``b = -exp(b')`` with ``b'`` by Nelder-Mead (``scipy.optimize.fmin``) on the
    least-squares residual, ``(a, c)`` by linear least squares; the series is first denoised with the
    iterative quadratic spline (smoothing factor from the estimated noise, see :func:`_smoothing`).
    """
    from scipy import optimize
    from scipy.interpolate import UnivariateSpline

    y = np.asarray(losses, dtype=float)
    xs = np.arange(len(y), dtype=float)
    if len(y) < 3:
        raise SpecError(f"AutoLRS: need at least 3 losses to forecast, got {len(y)}")
    if not np.all(np.isfinite(y)):
        raise SpecError(f"AutoLRS: the losses to forecast hold {int(np.sum(~np.isfinite(y)))} NaN or infinite "
                        f"values; expected finite losses")
    if denoise and len(y) > 3:
        x2, y2 = _spline_iter(xs, y, is_training)
        ys = UnivariateSpline(x2, y2, k=2, s=_smoothing(y2))(xs)
    else:
        ys = y

    def residual(bp):
        b = -math.exp(float(np.clip(bp[0] if np.ndim(bp) else bp, -50.0, 50.0)))
        A = np.vstack([np.exp(b * xs), np.ones_like(xs)]).T
        coef = np.linalg.lstsq(A, ys, rcond=None)[0]
        r = A @ coef - ys
        return float(r @ r)

    bp = float(optimize.fmin(residual, 0.0, xtol=1e-5, ftol=1e-5, disp=False)[0])
    b = -math.exp(float(np.clip(bp, -50.0, 50.0)))
    A = np.vstack([np.exp(b * xs), np.ones_like(xs)]).T
    a, c = np.linalg.lstsq(A, ys, rcond=None)[0]
    return float(a), float(b), float(c)


def forecast(losses, horizon: float, is_training: bool = True) -> float:
    """The loss the exponential model predicts ``horizon`` steps after the first of ``losses``."""
    y = np.asarray(losses, dtype=float)
    if not np.all(np.isfinite(y)):
        return math.nan
    a, b, c = fit_exponential(y, is_training)
    return a * math.exp(b * horizon) + c


# -------------------------------------------------------------------------------------------------- controller
class AutoLRS:
    """The AutoLRS controller for a torch model and optimizer (see the module docstring).

    Args:
        model, optimizer: what is trained; both are checkpointed in memory and restored in place.
        min_lr, max_lr: the search range of the BO (log-uniform), as in the reference.
        tau: steps of the first stage's training with the chosen LR (reference: 1000).
        tau_probe: steps of each probe (reference: ``tau / 10`` = 100).
        k: LRs tried per stage (reference: 10).
        tau_max: ``tau`` stops doubling once ``tau_probe >= tau_max / 10`` (reference: 8000).
        warmup_steps, warmup_lr: an optional linear warmup to ``warmup_lr`` before the first stage.
        val_fn: optional ``() -> float``; used for the forecast once ``tau`` stops doubling.
        kappa: the LCB exploration weight (reference: 1e6, i.e. uncertainty sampling).
        loss_floor: no forecast goes below it (0 for a cross-entropy or squared loss).
        total_steps: the run's length, probes included, when known: once the steps left cannot hold
            another search and its stage, the rest is trained at the last chosen LR (the reference, which
            has no end, would spend them probing).
        seed: seeds the BO.
        log: optional path: each decision is appended to it as one JSON line.

    Use::

        ctl = AutoLRS(model, opt, min_lr=1e-4, max_lr=1e-1, tau=200)
        for batch in data:
            loss = ...; opt.zero_grad(); loss.backward(); opt.step()
            ctl.step(loss.item())
    """

    def __init__(self, model, optimizer, *, min_lr: float, max_lr: float, tau: int = 1000,
                 tau_probe: int | None = None, k: int = 10, tau_max: int = 8000, warmup_steps: int = 0,
                 warmup_lr: float | None = None, val_fn: Callable[[], float] | None = None, kappa: float = 1e6,
                 loss_floor: float = 0.0, total_steps: int | None = None, seed: int = 0,
                 log: str | None = None) -> None:
        self.min_lr = v.number("AutoLRS", "min_lr", min_lr, lo=0.0, lo_open=True)
        self.max_lr = v.number("AutoLRS", "max_lr", max_lr, lo=0.0, lo_open=True)
        if self.max_lr <= self.min_lr:
            raise SpecError(f"AutoLRS: max_lr={max_lr!r} must be above min_lr={min_lr!r}")
        self.tau = v.integer("AutoLRS", "tau", tau, lo=1)
        self.tau_probe = v.integer("AutoLRS", "tau_probe", tau_probe if tau_probe is not None else max(tau // 10, 3),
                                   lo=3)
        if self.tau_probe > self.tau:
            given = "" if tau_probe is not None else " (the default, max(tau // 10, 3))"
            raise SpecError(f"AutoLRS: tau_probe={self.tau_probe}{given} is longer than the stage it forecasts, "
                            f"tau={self.tau}; expected tau_probe <= tau")
        self.k = v.integer("AutoLRS", "k", k, lo=1)
        self.tau_max = v.integer("AutoLRS", "tau_max", tau_max, lo=1)
        self.warmup_steps = v.integer("AutoLRS", "warmup_steps", warmup_steps, lo=0)
        self.warmup_lr = self.max_lr if warmup_lr is None else v.number("AutoLRS", "warmup_lr", warmup_lr, lo=0.0,
                                                                         lo_open=True)
        self.kappa = v.number("AutoLRS", "kappa", kappa, lo=0.0)
        self.loss_floor = v.number("AutoLRS", "loss_floor", loss_floor)
        self.seed = v.integer("AutoLRS", "seed", seed, lo=0)
        self.total_steps = None if total_steps is None else v.integer("AutoLRS", "total_steps", total_steps, lo=1)
        if self.total_steps is not None:
            need = self.warmup_steps + self.k * self.tau_probe + 1
            if self.total_steps < need:
                raise SpecError(f"AutoLRS: total_steps={total_steps} cannot hold the first search: warmup_steps="
                                f"{self.warmup_steps} + k·tau_probe = {self.k}·{self.tau_probe} probe steps + 1 step "
                                f"at the chosen LR; expected total_steps >= {need} (or a smaller k or tau_probe)")
        if val_fn is not None and not callable(val_fn):
            raise SpecError(f"AutoLRS: val_fn={val_fn!r} is not callable; expected a function () -> validation loss")
        if log is not None:  # fail now, not after the first stage's search
            try:
                open(log, "a").close()
            except OSError as e:
                raise SpecError(f"AutoLRS: log={str(log)!r} cannot be written ({e.strerror or e})") from None
        self.model, self.optimizer, self.val_fn, self.log = model, optimizer, val_fn, log
        # --- the state ---
        self.step_count = 0  # training steps taken (probes included)
        #: Steps that train the model kept (warmup and exploitation); the rest are probes (the search).
        self.train_steps = 0
        self.stage = 0
        self.phase = "warmup" if self.warmup_steps else "probe"
        self.counter = 0  # steps in the current warmup / probe / exploitation
        self.val_stage = False
        self.lr = 0.0
        self.buffer: list[float] = []
        self.probes: list[dict[str, float]] = []
        self.decisions: list[dict[str, Any]] = []
        self._bo = None
        #: The current stage's BO as plain data: its random_state and every ask / tell, in order (replayed on load).
        self._bo_log: dict[str, Any] | None = None
        self._ckpt: dict[str, Any] | None = None
        if self.phase == "warmup":
            self._set_lr(self.warmup_lr / self.warmup_steps)
        else:
            self._start_stage()

    # ----- mechanics ------------------------------------------------------------------------------------
    def _set_lr(self, lr: float) -> None:
        import torch

        self.lr = float(lr)
        for g in self.optimizer.param_groups:
            if isinstance(g["lr"], torch.Tensor):
                g["lr"].fill_(self.lr)
            else:
                g["lr"] = self.lr

    def _checkpoint(self) -> None:
        self._ckpt = {"model": {k: t.detach().clone() for k, t in self.model.state_dict().items()},
                      "optimizer": copy.deepcopy(self.optimizer.state_dict())}

    def _restore(self) -> None:
        self.model.load_state_dict(self._ckpt["model"])
        self.optimizer.load_state_dict(copy.deepcopy(self._ckpt["optimizer"]))

    def _new_bo(self):
        random_state = (self.seed * 1000 + self.stage) % 2**32
        self._bo_log = {"random_state": random_state, "calls": []}
        return self._make_bo(random_state)

    def _make_bo(self, random_state: int):
        from skopt import Optimizer
        from skopt.space import Real

        return Optimizer([Real(self.min_lr, self.max_lr, prior="log-uniform")], base_estimator="GP",
                         n_initial_points=1, acq_func="LCB", acq_func_kwargs={"kappa": self.kappa},
                         random_state=random_state)

    def _bo_ask(self) -> float:
        lr = float(self._bo.ask()[0])
        self._bo_log["calls"].append(["ask", lr])
        return lr

    def _bo_tell(self, lr: float, value: float) -> None:
        self._bo.tell([lr], value)
        self._bo_log["calls"].append(["tell", lr, value])

    def _ask(self) -> float:
        from threadpoolctl import threadpool_limits

        tried = {p["lr"]: p["forecast"] for p in self.probes}
        # one BLAS thread: the GP is tiny, and threads contending for shared cores made each ask 10x slower
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")  # skopt warns when it proposes a point twice
            lr = self._bo_ask()
            for _ in range(20):  # as the reference: re-tell a repeated LR and ask again
                if lr not in tried:
                    break
                self._bo_tell(lr, tried[lr])
                lr = self._bo_ask()
        return lr

    def _start_stage(self) -> None:
        self._checkpoint()
        self._bo = self._new_bo()
        self.probes = []
        self.phase = "probe"
        self.counter = 0
        self.buffer = []
        self._set_lr(self._ask())

    def _forecast(self, series: np.ndarray) -> float:
        """The probe's forecast loss at the end of the stage, with two guards the reference lacks: it is not
        below ``loss_floor`` (the exponential fit of a nearly linear decrease extrapolates below zero), and a
        probe that ends worse than it started (its last quarter above its first loss, measured at the
        checkpoint) is forecast no better than where it ended."""
        if len(series) == 0 or not np.all(np.isfinite(series)):
            return math.nan
        if self.val_stage:
            pred = forecast(series, self.tau / self._val_every, is_training=False) if len(series) >= 3 else \
                float(series[-1])
        else:
            pred = forecast(series, self.tau, is_training=True)
        pred = max(pred, self.loss_floor)
        tail = float(np.mean(series[-max(len(series) // 4, 1):]))
        if tail > series[0]:
            pred = max(pred, tail)
        return pred

    @property
    def _val_every(self) -> int:
        return max(self.tau_probe // 16, 1)

    def _probe_done(self) -> None:
        from threadpoolctl import threadpool_limits

        series = np.asarray(self.buffer, dtype=float)
        with threadpool_limits(limits=1):
            pred = self._forecast(series)
        told = pred if math.isfinite(pred) else NAN_LOSS
        with warnings.catch_warnings(), threadpool_limits(limits=1):
            warnings.simplefilter("ignore")
            self._bo_tell(self.lr, told)
        end = float(np.mean(series[-max(len(series) // 4, 1):])) if len(series) else math.nan
        self.probes.append({"lr": self.lr, "forecast": told, "end_loss": end if math.isfinite(end) else NAN_LOSS})
        self._restore()
        self.buffer = []
        self.counter = 0
        if len(self.probes) < self.k:
            self._set_lr(self._ask())
            return
        # ties (at the floor, or every probe diverged): the lower end loss, then the smaller LR
        best = min(self.probes, key=lambda p: (p["forecast"], p["end_loss"], p["lr"]))
        decision = {"stage": self.stage, "step": self.step_count, "tau": self.tau, "tau_probe": self.tau_probe,
                    "forecast_on": "val_loss" if self.val_stage else "loss", "probes": list(self.probes),
                    "lr": best["lr"], "forecast": best["forecast"]}
        if all(p["forecast"] >= NAN_LOSS for p in self.probes):
            decision["note"] = "every probe diverged (NaN or infinite loss): the smallest LR tried"
            warnings.warn(f"AutoLRS: every probe of stage {self.stage} diverged (NaN or infinite loss); training "
                          f"on at the smallest LR tried, {best['lr']:.3g}", RuntimeWarning, stacklevel=3)
        self.decisions.append(decision)
        if self.log:
            with open(self.log, "a") as fh:
                fh.write(json.dumps(decision) + "\n")
        self.phase = "exploit"
        self._set_lr(best["lr"])

    def _stage_done(self) -> None:
        if self.total_steps is not None and self.step_count >= self.total_steps:
            self.counter = 0  # the run is over: keep the LR, decide nothing more
            return
        self.stage += 1
        if self.tau_probe < self.tau_max / 10:
            self.tau_probe *= 2
            self.tau *= 2
        elif self.val_fn is not None:
            self.val_stage = True
        left = None if self.total_steps is None else self.total_steps - self.step_count
        if left is not None and left < self.k * self.tau_probe + self.tau and self.decisions:
            # no room for another search and its stage: train the rest at the last chosen LR
            decision = {"stage": self.stage, "step": self.step_count, "tau": left, "tau_probe": 0,
                        "forecast_on": "none (final stage: no room to search)", "probes": [],
                        "lr": self.decisions[-1]["lr"], "forecast": math.nan}
            self.decisions.append(decision)
            if self.log:
                with open(self.log, "a") as fh:
                    fh.write(json.dumps(decision) + "\n")
            self.tau = max(left, 1)
            self.phase = "exploit"
            self.counter = 0
            self._set_lr(decision["lr"])
            return
        self._start_stage()

    # ----- the public loop --------------------------------------------------------------------------------
    def step(self, loss: float) -> None:
        """Record the training loss of the step just taken and set up the next one (maybe restoring)."""
        loss = _number("loss", loss)
        self.step_count += 1
        self.counter += 1
        if self.phase != "probe":
            self.train_steps += 1
        if self.phase == "warmup":
            if self.counter >= self.warmup_steps:
                self._start_stage()
            else:
                self._set_lr(self.warmup_lr * (self.counter + 1) / self.warmup_steps)
            return
        if self.phase == "probe":
            if self.val_stage:
                if self.counter % self._val_every == 0:
                    self.buffer.append(_number("val_fn()", self.val_fn()))
            else:
                self.buffer.append(loss)
            if not math.isfinite(loss):  # a diverged probe: stop it early
                self.buffer.append(math.nan)
                self._probe_done()
            elif self.counter >= self.tau_probe:
                self._probe_done()
            return
        if self.counter >= self.tau:  # exploitation
            self._stage_done()

    # ----- state ------------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """Everything a resume needs: counters, the stage's probes, the decisions, the BO (its seed and its
        asks and tells, plain data) and the in-memory checkpoint (tensors). Save it with ``torch.save``; it
        loads with ``torch.load(weights_only=True)``."""
        return {**{k: getattr(self, k) for k in COUNTERS}, "phase": self.phase, "val_stage": self.val_stage,
                "lr": self.lr, "buffer": list(self.buffer), "probes": copy.deepcopy(self.probes),
                "decisions": copy.deepcopy(self.decisions), "bo": copy.deepcopy(self._bo_log) if self._bo else None,
                "checkpoint": clone(self._ckpt)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a saved state (load the model's and optimizer's own states first, as usual).

        The BO is rebuilt by replaying its saved asks and tells; a state whose BO is a pickled object (saved
        by lrkit before plain-data states) is refused, since unpickling runs code. A state that fails a check
        (:mod:`lrkit.adaptive.autolrs_state`) changes nothing."""
        checked = read_state(state)
        bo, log = replay_bo(state["bo"], self._make_bo)
        ckpt = clone(checked.pop("checkpoint"))
        lr = checked.pop("lr")
        for k, x in checked.items():  # every check passed: restore
            setattr(self, k, x)
        self._bo, self._bo_log = bo, log
        self._ckpt = ckpt
        self._set_lr(lr)


def _number(name: str, value) -> float:
    """A loss as a float (a one-element tensor or array included), or a one-line SpecError."""
    try:
        if hasattr(value, "item"):
            value = value.item()
        if not v.is_real(value):
            raise TypeError
        return float(value)
    except (TypeError, ValueError, RuntimeError):
        shown = v.clip(repr(value), 60)
        raise SpecError(f"AutoLRS: {name}={shown} is not a number; expected one loss value") from None
