"""Refine a schedule from a previous run's gradient norms (Defazio, Cutkosky, Mehta, Mishchenko 2023,
"When, Why and How Much? Adaptive Learning Rate Scheduling by Refinement", arXiv 2310.07831).

The worst-case last-iterate analysis of the paper gives, for observed gradient norms ``g_t``, the step
sizes ``eta_t ∝ w_t · Σ_{p>t} w_p`` with weights ``w_t = ||g_t||_2^-2`` for SGD-like methods and
``w_t = ||g_t||_1^-1`` for Adam-like (per-coordinate) methods. With constant norms this is exactly linear
decay; large norms early give a warmup, norms that grow at the end a faster final anneal.

The norms are smoothed as in the authors' code (facebookresearch/adaptive_scheduling, ``visual.py``):
non-finite values and the first and last two logged points dropped, resampled to at least 10,000 points,
a median filter of width ``2·⌊0.1·n/2⌋ + 1`` (about 10% of the run) with the end reflect-padded by twice
the width, then interpolated back. The schedule is normalised to peak 1 (a multiplier of the tuned peak
LR) and written as a ``piecewise`` spec simplified to within ``tolerance`` of the exact values.

Only numpy and scipy are needed.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from ..errors import SpecError
from ..runs import COLUMNS, MAX_STEPS, Run, RunError, load_run, write_csv
from ..schedules import validate as v
from ..schedules.piecewise import Piecewise

OPTIMIZERS = ("sgd", "adam")
#: Grid the reference resamples short logs to before the median filter.
NVALS = 10_000


@dataclass(frozen=True)
class Refined:
    """A refined schedule: the exact multipliers of every step and their piecewise-linear spec.

    ``values[t]`` is the multiplier of step ``t`` (``0 .. steps-1``), peak 1.0; ``schedule`` is the
    :class:`~lrkit.schedules.Piecewise` spec through at most ``max_points`` knots, within
    ``tolerance`` of ``values`` everywhere (it reaches 0 at step ``steps``, after the last step, as
    lrkit's ``linear()`` does). ``smoothed`` are the smoothed gradient norms on the same steps.
    """

    values: np.ndarray
    schedule: Piecewise
    smoothed: np.ndarray
    steps: int
    optimizer: str
    notes: tuple[str, ...] = field(default=())

    @property
    def spec(self) -> str:
        return str(self.schedule)


def smooth_norms(norms: Sequence[float] | np.ndarray, width: float = 0.1, trim: int = 2) -> np.ndarray:
    """The reference's median-filter smoothing of a gradient-norm log (see the module docstring).

    Returns the smoothed norms on a uniform grid of ``max(len, 10000)`` points spanning the run.
    ``width`` is the filter width as a fraction of that grid (0.1 in the paper's figures; 0 disables it).
    """
    from scipy.ndimage import median_filter

    g = as_norms(norms)
    g = g[np.isfinite(g)]
    if trim and g.size > 2 * trim + 2:
        g = g[trim:-trim]
    if g.size < 2:
        raise SpecError(f"refine: need at least 2 finite gradient norms, got {g.size}")
    n = max(g.size, NVALS)
    if g.size < n:
        g = np.interp(np.linspace(0.0, 1.0, n), np.linspace(0.0, 1.0, g.size), g)
    if width > 0:
        size = 2 * (int(width * NVALS) // 2) + 1
        pad = min(2 * size, n - 1)
        padded = np.pad(g, (0, pad), mode="reflect")
        g = median_filter(padded, size=size, mode="nearest")[:n]
    return g


def as_norms(norms) -> np.ndarray:
    """Gradient norms as a 1-D float array; SpecError for anything else or for a norm <= 0 (NaN and inf pass:
    they are left out later, with a note)."""
    try:
        a = np.asarray(norms)
    except ValueError:  # a ragged list
        a = np.asarray(None)
    if a.dtype.kind not in "iuf":
        shown = v.clip(repr(norms), 60)
        raise SpecError(f"refine: norms={shown} is not a sequence of numbers; expected the gradient norms of a run "
                        f"in step order")
    if a.ndim != 1:
        raise SpecError(f"refine: norms has shape {a.shape}; expected a 1-D sequence of gradient norms, one per "
                        f"logged step")
    g = a.astype(float)
    bad = np.nonzero(g <= 0)[0]
    if bad.size:
        i = int(bad[0])
        raise SpecError(f"refine: norms[{i}]={float(g[i])!r} is not positive ({bad.size} of {g.size} norms are <= 0); "
                        f"gradient norms must be > 0")
    return g


def closed_form(weights: np.ndarray) -> np.ndarray:
    """``eta_t = w_t · Σ_{p>t} w_p`` (``eta`` of the last point is 0), normalised to peak 1.

    ``find_closed_form_schedule`` of the reference code, vectorised.
    """
    w = np.asarray(weights, dtype=float)
    tail = np.cumsum(w[::-1])[::-1]  # tail[t] = Σ_{p>=t} w_p
    eta = np.zeros_like(w)
    eta[:-1] = w[:-1] * tail[1:]
    peak = eta.max()
    if not peak > 0:
        raise SpecError("refine: the weights give an all-zero schedule (the gradient norms span too many orders of "
                        "magnitude to be represented)")
    return eta / peak


def simplify(values: np.ndarray, tolerance: float, max_points: int = 64) -> list[int]:
    """Knot indices of a piecewise-linear curve within ``tolerance`` of ``values`` (Ramer-Douglas-Peucker,
    vertical distance), loosening the tolerance until at most ``max_points`` knots remain."""
    y = np.asarray(values, dtype=float)
    n = y.size
    tol = tolerance
    while True:
        keep = np.zeros(n, dtype=bool)
        keep[0] = keep[-1] = True
        stack = [(0, n - 1)]
        while stack:
            a, b = stack.pop()
            if b - a < 2:
                continue
            x = np.arange(a + 1, b)
            line = y[a] + (y[b] - y[a]) * (x - a) / (b - a)
            err = np.abs(y[a + 1:b] - line)
            i = int(np.argmax(err))
            if err[i] > tol:
                k = a + 1 + i
                keep[k] = True
                stack.append((a, k))
                stack.append((k, b))
        idx = np.nonzero(keep)[0]
        if idx.size <= max_points:
            return [int(i) for i in idx]
        tol = tol * 1.5 if tol > 0 else 1e-9  # tolerance 0 that needs too many knots: loosen from 1e-9


def refine(norms: Sequence[float] | np.ndarray, steps: int, optimizer: str = "sgd", *, width: float = 0.1,
           tolerance: float = 5e-3, max_points: int = 64, digits: int = 6, warmup: int | float = 0) -> Refined:
    """A refined schedule for a run of ``steps`` steps from the gradient norms of a previous run.

    Args:
        norms: the previous run's gradient norms in step order (l2 norms for ``optimizer="sgd"``, l1 norms
            for ``"adam"``), evenly spaced in steps (any spacing: they are mapped onto the new run by their
            fraction of the run, as in the reference).
        steps: the number of steps of the run to schedule.
        optimizer: ``"sgd"`` (weights ``||g||_2^-2``) or ``"adam"`` (weights ``||g||_1^-1``).
        width: median-filter width as a fraction of the run (the reference's 0.1); 0 for none.
        tolerance: the largest allowed gap between the spec and the exact multipliers.
        max_points: at most this many knots in the spec (the tolerance is loosened to fit).
        digits: knot values are rounded to this many decimals (the gap still counts against ``tolerance``
            only approximately; 1.0 and 0.0 stay exact).
        warmup: steps (or a fraction of ``steps``) of linear warmup in front of the refined schedule. The
            norms logged during that stretch of the previous run are left out (replaced by the first norm
            after it): small norms at initialisation would otherwise put the schedule's peak at step 0 and
            scale the rest of the run down. 0 (the default) is the paper's formula as is.

    Returns a :class:`Refined`; ``refined.spec`` is its ``piecewise`` spec text.
    """
    steps = v.total_steps(steps, "steps")
    v.choice("refine", "optimizer", optimizer, OPTIMIZERS)
    width = v.number("refine", "width", width, lo=0.0, hi=1.0)
    tolerance = v.number("refine", "tolerance", tolerance, lo=0.0)
    max_points = v.integer("refine", "max_points", max_points, lo=2)
    digits = v.integer("refine", "digits", digits, lo=1)
    raw = as_norms(norms)
    notes = []
    dropped = int(np.sum(~np.isfinite(raw)))
    if dropped:
        notes.append(f"left out {dropped} non-finite gradient norm{'s' if dropped > 1 else ''} of {raw.size}")
    smoothed = smooth_norms(raw, width=width)
    # steps 0..steps: the schedule reaches 0 at step ``steps``, after the last step (lrkit's convention)
    W = v.resolve("refine", "warmup", v.duration("refine", "warmup", warmup), steps)
    if W >= steps:
        raise SpecError(f"refine: warmup={warmup!r} is {W} steps, not shorter than the run ({steps} steps)")
    if W:  # leave out the norms logged during the warmup (by their fraction of the previous run)
        fin = raw[np.isfinite(raw) & (raw > 0)]
        cut = int(round(W / steps * fin.size))
        if 0 < cut < fin.size - 2:
            smoothed = smooth_norms(np.r_[np.full(cut, fin[cut]), fin[cut:]], width=width)
    grid = np.interp(np.linspace(0.0, 1.0, steps + 1), np.linspace(0.0, 1.0, smoothed.size), smoothed)
    with np.errstate(over="ignore"):  # the schedule is scale-free: divide by the smallest norm, so no weight
        scaled = grid / grid.min()      # overflows (one beyond 1e308 times the smallest gets weight 0)
        weights = scaled ** -2.0 if optimizer == "sgd" else scaled ** -1.0
    eta = closed_form(weights)
    if W:
        eta = eta / eta[W:].max()
    knots = simplify(eta[W:], tolerance, max_points)
    points = []
    for i in knots:
        val = round(float(eta[W + i]), digits)
        points.append((int(W + i), val))
    schedule = Piecewise(points=tuple(points), warmup=W) if W else Piecewise(points=tuple(points))
    values = schedule.sample(steps) if W else eta[:-1]
    if W:
        values[W:] = eta[W:-1]
    gap = float(np.max(np.abs(schedule.sample(steps) - values)))
    if gap > tolerance + 0.5 * 10.0 ** -digits + 1e-12:  # beyond the tolerance and the rounding to ``digits``
        notes.append(f"the spec ({len(knots)} knots, max_points={max_points}, digits={digits}) is within {gap:.3g} of "
                     f"the exact values, more than tolerance={tolerance:g}")
    elif len(knots) == max_points:
        notes.append(f"the spec was simplified to {max_points} knots")
    return Refined(values=values, schedule=schedule, smoothed=grid[:-1], steps=steps, optimizer=optimizer,
                   notes=tuple(notes))


def norms_from_run(run, optimizer: str = "sgd", notes: list[str] | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, norms)`` of a :class:`~lrkit.runs.Run`'s logged ``grad_norm`` column, positive and finite.

    A negative norm is an error (the column is not a norm); zero and infinite norms are left out, with a
    line in ``notes`` when a list is given.
    """
    s, g = run.logged("grad_norm")
    order = np.argsort(s, kind="stable")
    s, g = s[order], g[order]
    src = run.source or run.name
    neg = np.nonzero(g < 0)[0]
    if neg.size:
        i = int(neg[0])
        raise RunError(f"{src}: step {int(s[i])}, column 'grad_norm': gradient norm {float(g[i]):g} is negative "
                       f"({neg.size} negative values); is this column a norm?")
    ok = np.isfinite(g) & (g > 0)
    if ok.sum() < 2:
        raise RunError(f"{src}: fewer than 2 positive gradient norms logged (column 'grad_norm')")
    if notes is not None and not ok.all():
        bad = s[~ok]
        shown = ", ".join(str(int(x)) for x in bad[:5]) + (", ..." if bad.size > 5 else "")
        notes.append(f"left out {bad.size} zero or infinite gradient norm{'s' if bad.size > 1 else ''} "
                     f"(step{'s' if bad.size > 1 else ''} {shown})")
    return s[ok], g[ok]


def refine_run(path_or_run, steps: int, optimizer: str = "sgd", *, columns=None, **kwargs) -> Refined:
    """Refine from a run file (or a :class:`~lrkit.runs.Run`): its ``grad_norm`` column.

    For ``optimizer="adam"`` a ``grad_norm_l1`` column (written by :class:`GradNormLogger`) is used when
    present; otherwise the ``grad_norm`` column is taken as the l1 norm, and a note says so. Norms logged
    at uneven steps are interpolated onto every step first.
    """
    notes: list[str] = []
    run = path_or_run if isinstance(path_or_run, Run) else load_norms(path_or_run, optimizer, columns, notes)
    s, g = norms_from_run(run, optimizer, notes)
    if s[-1] - s[0] >= MAX_STEPS:
        raise RunError(f"{run.source or run.name}: gradient norms logged from step {int(s[0]):,} to {int(s[-1]):,}: refine "
                       f"interpolates every step between, at most {MAX_STEPS:,} (a typo in the step column?)")
    if s.size > 1 and np.ptp(np.diff(s)) > 0:
        g = np.interp(np.arange(s[0], s[-1] + 1), s, g)
    out = refine(g, steps, optimizer, **kwargs)
    return Refined(out.values, out.schedule, out.smoothed, out.steps, out.optimizer, tuple(notes) + out.notes)


def logged_norms(path, optimizer: str = "sgd", columns=None) -> tuple[np.ndarray, np.ndarray]:
    """The ``(steps, norms)`` a run file logs, read as :func:`refine_run` reads it (a log without losses
    too), for figures.  Raises a ``ValueError`` if it has none."""
    return norms_from_run(load_norms(path, optimizer, columns), optimizer)


def load_norms(path, optimizer: str = "sgd", columns=None, notes: list[str] | None = None) -> Run:
    """A run file's gradient norms as a :class:`~lrkit.runs.Run` (losses optional): its ``grad_norm`` column,
    or for ``optimizer="adam"`` its ``grad_norm_l1`` column (written by :class:`GradNormLogger`) when there is
    one; otherwise ``grad_norm`` is taken as the l1 norm, and a line in ``notes`` says so."""
    cols = dict(columns or {})
    for role in cols:
        if role not in COLUMNS:
            raise SpecError(f"refine: column role {role!r} is not one of {', '.join(COLUMNS)}"
                            f"{v.did_you_mean(role, COLUMNS)}")
    need = ("step", "grad_norm")
    if optimizer == "adam" and "grad_norm" not in cols:
        try:
            return load_run(path, columns={**cols, "grad_norm": "grad_norm_l1"}, require=need)
        except RunError as e:
            if "'grad_norm_l1'" not in str(e):  # only a missing l1 column falls back
                raise
        if notes is not None:
            notes.append("no 'grad_norm_l1' column: using 'grad_norm' as the l1 norm")
    return load_run(path, columns=cols or None, require=need)


# ----------------------------------------------------------------------------------------------------------------
class GradNormLogger:
    """Log each optimizer step's gradient norms (l2 and l1 over all parameters) for :func:`refine`.

    A step pre-hook on the optimizer reads the gradients just before each ``optimizer.step()`` (after
    AMP's unscaling; an AMP-skipped step is not logged). The norms stay on the device as tensors (two
    ``torch._foreach_norm`` calls per step, no host synchronisation) until :meth:`norms` or
    :meth:`write_csv` reads them, so the cost is a small fraction of a training step.

    >>> log = GradNormLogger(optimizer)            # doctest: +SKIP
    >>> ...  # train; optionally log.loss(loss) after each backward
    >>> log.write_csv("run.csv")                   # step,loss,grad_norm,grad_norm_l1
    """

    def __init__(self, optimizer, every: int = 1) -> None:
        import torch

        self.every = v.integer("GradNormLogger", "every", every, lo=1)
        self._torch = torch
        self._calls = 0
        self._steps: list[int] = []
        self._l2: list = []
        self._l1: list = []
        self._loss: dict[int, object] = {}
        self._handle = optimizer.register_step_pre_hook(self._hook)
        self.optimizer = optimizer

    def _hook(self, opt, args, kwargs) -> None:
        step = self._calls
        self._calls += 1
        if step % self.every:
            return
        grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
        if not grads:
            return
        torch = self._torch
        with torch.no_grad():
            if any(gr.is_sparse for gr in grads):
                grads = [gr.coalesce().values() if gr.is_sparse else gr for gr in grads]
            l2 = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(grads, 2)).float())
            l1 = torch.stack(torch._foreach_norm(grads, 1)).float().sum()
        self._steps.append(step)
        self._l2.append(l2)
        self._l1.append(l1)

    def loss(self, value) -> None:
        """Record the loss of the current step (a tensor is kept on its device, not synchronised)."""
        self._loss[self._calls] = value.detach() if hasattr(value, "detach") else float(value)

    def remove(self) -> None:
        """Stop logging (remove the optimizer hook)."""
        self._handle.remove()

    def norms(self, kind: str = "l2") -> np.ndarray:
        """The logged norms (``"l2"`` or ``"l1"``) as a numpy array, one per logged step."""
        v.choice("GradNormLogger.norms", "kind", kind, ("l2", "l1"))
        values = self._l2 if kind == "l2" else self._l1
        if not values:
            return np.zeros(0)
        return self._torch.stack(values).cpu().numpy().astype(float)

    @property
    def steps(self) -> np.ndarray:
        return np.asarray(self._steps, dtype=np.int64)

    def write_csv(self, path) -> int:
        """Write ``step,loss,grad_norm,grad_norm_l1`` (``grad_norm`` is the l2 norm) with :func:`lrkit.runs.write_csv`;
        returns the rows written.  An unrecorded loss and a non-finite value (e.g. the norm of an overflowed step) are
        left empty, i.e. "not logged", so that ``lrkit refine`` reads the file (``--optimizer adam`` takes
        ``grad_norm_l1``)."""
        losses = {k: float(x) for k, x in self._loss.items()}
        return write_csv(path, {"step": self._steps, "loss": [losses.get(s) for s in self._steps],
                                "grad_norm": self.norms("l2"), "grad_norm_l1": self.norms("l1")})
