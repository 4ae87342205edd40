"""``lrkit.torch.Scheduler``: drive a PyTorch optimizer with lrkit schedules, and resume exactly.

The package, one job per module: :mod:`.groups` (what is scheduled per parameter group and hyperparameter,
reading and writing group fields, seeing through optimizer wrappers), :mod:`.plan` (the schedules each group
follows, with the run's decisions applied), :mod:`.state` (reading and checking a saved state) and
:mod:`.scheduler` (the :class:`Scheduler`). See :mod:`.scheduler` for how resume is exact.
"""

from .groups import BELOW_ONE, HYPERPARAMS, check_hyperparams, parse_specs
from .scheduler import Scheduler
from .state import STATE_VERSION, SavedState, StateMismatchError, read_state

__all__ = ["Scheduler", "StateMismatchError", "HYPERPARAMS", "BELOW_ONE", "STATE_VERSION", "SavedState",
           "check_hyperparams", "parse_specs", "read_state"]
