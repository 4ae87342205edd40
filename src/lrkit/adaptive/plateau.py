"""Plateau phases (the family and its controller live with the schedules: :mod:`lrkit.schedules.plateau`)."""

from ..schedules.plateau import Plateau, PlateauController, has_plateau, rewrite_plateaus, strip_reductions

__all__ = ["Plateau", "PlateauController", "has_plateau", "rewrite_plateaus", "strip_reductions"]
