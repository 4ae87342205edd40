"""Loss-curve laws: fit them to pilot runs, predict any schedule's curve, plan the best schedule.

Laws: the multi-power law (Luo et al. 2025, arXiv 2503.12811; the default), the LR-annealing law
(Tissue, Wang, Wang 2024, arXiv 2408.11029), the multi-power law with its loss drop in intrinsic time
(``"mpl-it"``, after Li et al. 2025, arXiv 2509.19189), the Functional Scaling Law's ansatz (``"fsl"``, Li
et al. 2025) and the convex last-iterate bound as a law
(``"bound"``, Schaipp et al. 2025, arXiv 2501.18965).  Needs scipy (``pip install lrkit[fit]``); imported lazily.

>>> from lrkit.runs import load_run
>>> from lrkit.laws import fit, predict, plan           # doctest: +SKIP
>>> f = fit([load_run("cosine.csv"), load_run("constant.csv")], law="multipower")  # doctest: +SKIP
"""

from .base import Curve, Law, LawError, UndeterminedWarning
from .domain import Domain, ExtrapolationError, ExtrapolationWarning
from .fitting import fit
from .result import LAW_NAMES, FitResult, get_law
from .plan import Candidate, Plan, plan
from .predict import Prediction, evaluate, final_loss, predict

__all__ = ["Curve", "Law", "LawError", "UndeterminedWarning", "LAW_NAMES", "FitResult", "fit", "get_law", "Plan",
           "Candidate", "plan", "Prediction", "predict", "evaluate", "final_loss", "Domain", "ExtrapolationWarning",
           "ExtrapolationError"]
