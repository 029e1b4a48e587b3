"""miestim: mutual-information estimation for PyTorch.

All information quantities are in nats.
"""

from . import functional, gaussian
from .critics import BilinearCritic, ConcatCritic, Critic, SeparableCritic
from .estimate import estimate_mi
from .estimators import DV, ESTIMATORS, JS, MINE, NWJ, SMILE, TUBA, InfoNCE, InterpolatedBound, LogBaseline, MIEstimator
from .result import EstimateResult, TrainingHistory

__version__ = "0.1.0"

__all__ = [
    "BilinearCritic",
    "ConcatCritic",
    "Critic",
    "DV",
    "ESTIMATORS",
    "EstimateResult",
    "InfoNCE",
    "InterpolatedBound",
    "JS",
    "LogBaseline",
    "MIEstimator",
    "MINE",
    "NWJ",
    "SMILE",
    "SeparableCritic",
    "TUBA",
    "TrainingHistory",
    "estimate_mi",
    "functional",
    "gaussian",
]
