"""Adapt the schedule during training, or from a previous run.

* :mod:`.refine`: a refined schedule from a run's gradient norms (Defazio et al. 2023), as a ``piecewise`` spec.
* :mod:`.plateau`: the ``plateau`` family, a metric-driven decay that composes with warmup and any sequence.
* :mod:`.hypergradient`: hypergradient descent (Baydin et al. 2018) as an LR controller; FedHyper's
  server-side global-LR rule.
* :mod:`.autolrs`: AutoLRS (Jin et al. 2021), stage-by-stage LR search with a forecast and BO.
* Population Based Training over schedule parameters trains bench workloads, so it lives in
  :mod:`lrkit.bench.pbt` (Ray Tune).

Importing this package needs only numpy (it registers the ``plateau`` family); the torch, scipy,
and scikit-optimize parts are imported by the modules that need them.
"""

from __future__ import annotations

from .plateau import Plateau, PlateauController
from .refine import Refined, refine, refine_run, smooth_norms

__all__ = ["Plateau", "PlateauController", "Refined", "refine", "refine_run", "smooth_norms"]
