"""``lrkit.torch``: the PyTorch scheduler (see :mod:`lrkit.integrations.torch`)."""

from .integrations.lr_range import LRRangeResult, find_lr
from .integrations.torch import HYPERPARAMS, Scheduler, StateMismatchError

__all__ = ["Scheduler", "StateMismatchError", "HYPERPARAMS", "find_lr", "LRRangeResult"]
