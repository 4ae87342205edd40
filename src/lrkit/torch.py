"""``lrkit.torch``: the PyTorch scheduler (see :mod:`lrkit.integrations.torch`)."""

from .integrations.torch import HYPERPARAMS, Scheduler, StateMismatchError

__all__ = ["Scheduler", "StateMismatchError", "HYPERPARAMS"]
