"""Learning-rate "areas" used by the loss-curve laws, computed exactly and fast.

All functions take ``lr``: the absolute learning rate of every step ``0..N-1`` (numpy array), and
``steps``: the (sorted, integer) steps at which the law is evaluated.

Conventions (shared by both laws, following the multi-power-law reference code, Luo et al. 2025):

* ``S1(t) = sum_{tau <= t} lr[tau]`` -- the forward area *includes warmup*.
* LR changes ``delta_k = lr[k-1] - lr[k]`` (positive when the LR drops) enter the annealing terms
  only from the first decrease on: the initial non-decreasing stretch (the warmup, and any constant
  plateau after it) is treated as warmup and contributes only through ``S1``.  Later increases
  (re-warming) enter with a negative sign.  See :func:`change_steps`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

#: LR values below this fraction of the peak are clamped when raised to a negative power.
MIN_LR_FRACTION = 1e-6

#: Upper bound on (change step, evaluation step) pairs held in memory at once.
MAX_PAIRS = 2_000_000


def warmup_end(lr: np.ndarray) -> int:
    """Index of the first LR decrease (``len(lr)`` if the LR never decreases)."""
    lr = np.asarray(lr, dtype=float)
    drops = np.nonzero(np.diff(lr) < 0)[0]
    return int(drops[0] + 1) if drops.size else int(lr.size)


def change_steps(lr: np.ndarray, from_start: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Steps ``k`` where the LR changes after warmup, and ``delta_k = lr[k-1] - lr[k]`` there.

    ``from_start``: count every change from step 1 on, warmup increases included (the multi-power-law
    reference code's treatment; the increases enter with a negative sign).
    """
    lr = np.asarray(lr, dtype=float)
    w = 1 if from_start else warmup_end(lr)
    k = np.arange(max(w, 1), lr.size)
    delta = lr[k - 1] - lr[k]
    nz = delta != 0.0
    return k[nz], delta[nz]


def final_changes(lr: np.ndarray, first: int) -> tuple[np.ndarray, float, np.ndarray, np.ndarray, np.ndarray]:
    """What the laws' exact final-loss gradients share: ``lr`` as floats, the clamp floor
    (:data:`MIN_LR_FRACTION` of the peak), ``cum`` (``cum[i] = sum_{tau<i} lr[tau]``), and every step
    ``k >= first`` with its change ``delta_k = lr[k-1] - lr[k]`` (zeros included: the gradient needs them)."""
    lr = np.asarray(lr, dtype=float)
    k = np.arange(max(int(first), 1), lr.size)
    return lr, MIN_LR_FRACTION * float(lr.max()), np.concatenate([[0.0], np.cumsum(lr)]), k, lr[k - 1] - lr[k]


def forward_area(lr: np.ndarray, steps: np.ndarray) -> np.ndarray:
    """``S1(t) = sum_{tau<=t} lr[tau]`` at ``steps`` (Tissue et al. 2024; Luo et al. 2025)."""
    return np.cumsum(np.asarray(lr, dtype=float))[np.asarray(steps, dtype=int)]


def annealing_area(lr: np.ndarray, steps: np.ndarray, lam: float = 0.999) -> np.ndarray:
    """Annealing area ``S2`` of the LR-annealing law (Tissue, Wang, Wang 2024, arXiv 2408.11029).

    ``m_i = lam * m_{i-1} + (lr[i-1] - lr[i])`` and ``S2(t) = sum_{i<=t} m_i``, with LR changes
    counted after warmup only (see module docstring).  Exact, O(N): ``m`` is the first-order
    recursive filter of the changes (``scipy.signal.lfilter``), ``S2`` its cumulative sum.
    """
    lr = np.asarray(lr, dtype=float)
    steps = np.asarray(steps, dtype=int)
    d = np.zeros(lr.size)
    k, delta = change_steps(lr)
    d[k] = delta
    from scipy.signal import lfilter  # lazy: scipy is only needed for fitting

    m = lfilter([1.0], [1.0, -lam], d)
    return np.cumsum(m)[steps]


@dataclass(frozen=True)
class LDPairs:
    """Parameter-free part of the multi-power loss-drop term for one curve.

    One entry per pair (change step ``k``, evaluation step ``t_m``) with ``k <= t_m``, grouped by
    ``m`` in contiguous segments: ``delta`` (``lr[k-1]-lr[k]``), ``log_lr`` (``log lr[k]``) and
    ``log_s`` (``log S_k(t_m)``, ``S_k(t) = sum_{tau=k}^{t} lr[tau]``) and ``log_s1k`` (``log S1(k)``, the
    forward area when the change is made: the ``fsl`` law's drop weight).  ``seg_start[j]`` is where
    the segment of evaluation step ``seg_m[j]`` begins (empty segments are left out).
    """

    n_eval: int
    seg_m: np.ndarray
    seg_start: np.ndarray
    delta: np.ndarray
    log_lr: np.ndarray
    log_s: np.ndarray
    log_s1k: np.ndarray

    @property
    def size(self) -> int:
        return int(self.delta.size)

    @cached_property
    def s(self) -> np.ndarray:
        """``S_k(t_m)`` itself (computed once: a law that needs it at every evaluation reuses it)."""
        return np.exp(self.log_s)

    def segment_sum(self, w: np.ndarray) -> np.ndarray:
        """Sum of ``w`` over the pairs of each evaluation step (zeros where there are none)."""
        out = np.zeros(self.n_eval)
        if self.seg_start.size:
            out[self.seg_m] = np.add.reduceat(w, self.seg_start)
        return out


#: Default relative block width of the compressed loss-drop sum (see :func:`ld_pairs`).
REL_WIDTH = 0.02


def _block_edges(n: int, rel_width: float) -> np.ndarray:
    """Distance edges ``0 = e_0 < e_1 < ...`` (last >= n) with ``e_{j+1} - e_j = max(1, floor(rel_width e_j))``."""
    edges = [0]
    while edges[-1] < n:
        edges.append(edges[-1] + max(1, int(rel_width * edges[-1])))
    return np.asarray(edges, dtype=np.int64)


def _pairs_from(m: np.ndarray, delta: np.ndarray, lr_k: np.ndarray, s: np.ndarray, s1k: np.ndarray, n_eval: int,
                floor: float) -> LDPairs:
    counts = np.bincount(m, minlength=n_eval)
    starts = np.cumsum(counts) - counts
    nonempty = counts > 0
    return LDPairs(n_eval, np.nonzero(nonempty)[0], starts[nonempty], delta,
                   np.log(np.maximum(lr_k, floor)), np.log(np.maximum(s, floor)), np.log(np.maximum(s1k, floor)))


def pairs_per_step(n: int, rel_width: float | None = None) -> int:
    """An upper bound on the loss-drop pairs of one evaluation step in a run of ``n`` steps."""
    return 2 * int(_block_edges(n, REL_WIDTH if rel_width is None else float(rel_width)).size)


def ld_pairs(lr: np.ndarray, steps: np.ndarray, rel_width: float | None = None, from_start: bool = False) -> LDPairs:
    """Build :class:`LDPairs`: only steps where the LR changes and only the evaluation steps.

    ``rel_width = 0``: exact, one pair per (change step ``k <= t``, evaluation step ``t``), O(K*M)
    for K change steps and M evaluation steps instead of the naive O(N^2).

    ``rel_width > 0`` (default :data:`REL_WIDTH`): the changes ``k <= t`` are grouped by their distance
    ``d = t - k`` into blocks of width ``max(1, floor(rel_width * d))`` (one step wide for
    ``d < 1/rel_width``, geometric further away), and each block's increases and decreases become one
    node each: their summed change, with the change-weighted means of ``log lr_k``, of ``S_k(t)`` and of
    ``log S1(k)``.  The summand is smooth in ``k`` on the scale of ``d``, so the relative error per block is
    about ``rel_width^2 / 24``: below 1e-5 of the loss drop for the default, with O(M log N) pairs
    instead of O(K*M) (about 60x fewer for a 24000-step cosine).  A block holding one change (a
    step schedule, a plateau's edge) is exact.
    """
    lr = np.asarray(lr, dtype=float)
    steps = np.asarray(steps, dtype=int)
    rel_width = REL_WIDTH if rel_width is None else float(rel_width)
    k, delta = change_steps(lr, from_start)
    cum = np.concatenate([[0.0], np.cumsum(lr)])  # cum[i] = sum_{tau < i} lr[tau]
    floor = MIN_LR_FRACTION * max(float(lr.max(initial=0.0)), 1e-300)
    if rel_width <= 0 or k.size == 0:
        counts = np.searchsorted(k, steps, side="right")  # number of change steps k <= t_m
        total = int(counts.sum())
        m = np.repeat(np.arange(steps.size), counts)
        starts = np.cumsum(counts) - counts
        kk = k[np.arange(total) - np.repeat(starts, counts)]
        s = cum[steps[m] + 1] - cum[kk]
        return _pairs_from(m, delta[np.arange(total) - np.repeat(starts, counts)] if total else delta[:0],
                           lr[kk], s, cum[kk + 1], steps.size, floor)
    edges = _block_edges(int(steps.max(initial=0)) + 1, rel_width)
    ms, ds, lk, ck, l1 = [], [], [], [], []
    log_lr = np.log(np.maximum(lr, floor))
    log_s1 = np.log(np.maximum(cum[1:], floor))  # log S1(k)
    for sign in (delta > 0, delta < 0):
        ks, dk = k[sign], delta[sign]
        if ks.size == 0:
            continue
        pre = [np.concatenate([[0.0], np.cumsum(v)]) for v in (dk, dk * log_lr[ks], dk * cum[ks], dk * log_s1[ks])]
        # block j of evaluation step t: k in [t - e_{j+1} + 1, t - e_j]
        hi = np.searchsorted(ks, steps[:, None] - edges[None, :-1], side="right")
        lo = np.searchsorted(ks, steps[:, None] - edges[None, 1:] + 1, side="left")
        nz = hi > lo
        hi, lo = hi[nz], lo[nz]
        d = pre[0][hi] - pre[0][lo]
        ms.append(np.broadcast_to(np.arange(steps.size)[:, None], nz.shape)[nz])
        ds.append(d)
        lk.append((pre[1][hi] - pre[1][lo]) / d)  # change-weighted mean of log lr_k
        ck.append((pre[2][hi] - pre[2][lo]) / d)  # ... and of cum[k]
        l1.append((pre[3][hi] - pre[3][lo]) / d)  # ... and of log S1(k)
    m = np.concatenate(ms)
    order = np.argsort(m, kind="stable")
    m = m[order]
    s = cum[steps[m] + 1] - np.concatenate(ck)[order]
    counts = np.bincount(m, minlength=steps.size)
    starts = np.cumsum(counts) - counts
    nonempty = counts > 0
    return LDPairs(steps.size, np.nonzero(nonempty)[0], starts[nonempty], np.concatenate(ds)[order],
                   np.concatenate(lk)[order], np.log(np.maximum(s, floor)), np.concatenate(l1)[order])


def ld_chunks(lr: np.ndarray, steps: np.ndarray, max_pairs: int = MAX_PAIRS,
              rel_width: float | None = None, from_start: bool = False) -> list[tuple[slice, LDPairs]]:
    """Split evaluation steps into chunks whose :class:`LDPairs` stay below ``max_pairs``."""
    steps = np.asarray(steps, dtype=int)
    rel_width = REL_WIDTH if rel_width is None else float(rel_width)
    k, _ = change_steps(lr, from_start)
    if rel_width > 0 and steps.size:
        per = 2 * _block_edges(int(steps.max()) + 1, rel_width).size  # bound on pairs per step
        counts = np.minimum(np.searchsorted(k, steps, side="right"), per)
    else:
        counts = np.searchsorted(k, steps, side="right")
    out: list[tuple[slice, LDPairs]] = []
    start, acc = 0, 0
    for i, c in enumerate(counts):
        if acc + c > max_pairs and i > start:
            out.append((slice(start, i), ld_pairs(lr, steps[start:i], rel_width, from_start)))
            start, acc = i, 0
        acc += int(c)
    out.append((slice(start, steps.size), ld_pairs(lr, steps[start:], rel_width, from_start)))
    return out


def loss_drop(pairs: LDPairs, C: float, beta: float, gamma: float) -> np.ndarray:
    """``sum_k delta_k * G(lr_k^-gamma * S_k(t))`` with ``G(x) = 1 - (C x + 1)^-beta``, per step.

    This is the multi-power law's LD(t) divided by ``B`` (Luo et al. 2025, arXiv 2503.12811).
    """
    x = pairs.log_lr * gamma
    np.subtract(pairs.log_s, x, out=x)
    np.exp(x, out=x)  # u = lr_k^-gamma S_k(t)
    x *= C
    np.log1p(x, out=x)
    x *= -beta
    np.expm1(x, out=x)  # -G
    x *= pairs.delta
    return -pairs.segment_sum(x)


def loss_drop_jac(pairs: LDPairs, C: float, beta: float, gamma: float) -> tuple[np.ndarray, np.ndarray]:
    """:func:`loss_drop` and its derivatives with respect to ``(C, beta, gamma)``, shape (M, 3)."""
    u = pairs.log_lr * gamma
    np.subtract(pairs.log_s, u, out=u)
    np.exp(u, out=u)
    cu = u * C
    lz = np.log1p(cu)
    dq = lz * -beta
    np.exp(dq, out=dq)  # q = (1 + C u)^-beta
    dq *= pairs.delta  # delta * q
    ld = pairs.segment_sum(pairs.delta) - pairs.segment_sum(dq)
    lz *= dq
    d_beta = pairs.segment_sum(lz)  # sum delta q log(1 + C u)
    cu += 1.0
    np.divide(u, cu, out=u)
    u *= dq  # delta q u / (1 + C u)
    d_c = beta * pairs.segment_sum(u)
    u *= pairs.log_lr
    d_gamma = -C * beta * pairs.segment_sum(u)
    return ld, np.stack([d_c, d_beta, d_gamma], axis=1)
