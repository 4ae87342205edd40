"""The mathematics and its language: every schedule family as an immutable, vectorised function of the step,
read from spec text (:func:`parse`) and printed back (``str(schedule)``)."""

from .base import REGISTRY, Bound, Finding, Phase, Schedule
from .catalog import Family, Parameter, families
from .budget import Infinite, Power, Rex, Uba, Wsd
from .classic import Constant, Cosine, Exponential, InverseSqrt, Linear, MultiStep, Polynomial, Step
from .compose import Clamp, Cooldown, Product, Repeat, Rewarm, Sequence
from .conventions import PRESETS, Convention, get_convention
from .cyclic import Cyclic, OneCycle, Sgdr
from .deepspeed import DeepSpeedWarmup, DeepSpeedWarmupCosine, DeepSpeedWarmupDecay
from .frameworks import CosineLrRate, Megatron, MegatronWd, Torchtitan
from .noise import Noise
from .piecewise import Piecewise
from .plateau import Plateau, PlateauController
from .restarts import CosineRestarts, CosineWaves, KDecay, Tanh
from .scaling import linear_scaling, sqrt_scaling
from .spec import parse
from .under import Under
from .warmup import Warmup, radam_rectification, untuned_period

__all__ = [
    "REGISTRY", "Bound", "Finding", "Phase", "Schedule", "Convention", "PRESETS", "get_convention",
    "Constant", "Linear", "Cosine", "Polynomial", "Exponential", "Step", "MultiStep", "InverseSqrt",
    "Rex", "Uba", "Wsd", "Power", "Infinite", "OneCycle", "Cyclic", "Sgdr", "Piecewise", "Warmup",
    "Plateau", "PlateauController", "Sequence", "Product", "Clamp", "Repeat", "Rewarm", "Cooldown", "linear_scaling",
    "sqrt_scaling", "radam_rectification", "untuned_period", "parse", "families", "Family", "Parameter", "Under",
    "Tanh", "KDecay", "CosineWaves", "CosineRestarts", "Noise",
    "Megatron", "MegatronWd", "Torchtitan", "CosineLrRate", "DeepSpeedWarmup", "DeepSpeedWarmupDecay",
    "DeepSpeedWarmupCosine",
]
