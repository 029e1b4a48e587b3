"""miestim: mutual-information estimation for PyTorch.

All information quantities are in nats.
"""

from . import distributed, functional, gaussian, sampling, tasks, validation
from .cmine import CMINE
from .critics import BilinearCritic, ConcatCritic, Critic, SeparableCritic
from .crossfit import CriticFamily
from .entry.cmi import estimate_cmi
from .entry.decomposition import Decomposition, decompose
from .entry.mi import estimate_mi
from .estimators import DV, ESTIMATORS, JS, MINE, NWJ, SMILE, TUBA, InfoNCE, InterpolatedBound, LogBaseline, MIEstimator
from .result import EstimateResult, TrainingHistory
from .sampling import KNNSampler
from .validation import Suite, ValidationReport, validate

__version__ = "0.1.0"

__all__ = [
    "BilinearCritic",
    "CMINE",
    "ConcatCritic",
    "Critic",
    "CriticFamily",
    "DV",
    "Decomposition",
    "ESTIMATORS",
    "EstimateResult",
    "InfoNCE",
    "InterpolatedBound",
    "JS",
    "KNNSampler",
    "LogBaseline",
    "MIEstimator",
    "MINE",
    "NWJ",
    "SMILE",
    "SeparableCritic",
    "Suite",
    "TUBA",
    "TrainingHistory",
    "ValidationReport",
    "decompose",
    "distributed",
    "estimate_cmi",
    "estimate_mi",
    "functional",
    "gaussian",
    "sampling",
    "tasks",
    "validate",
    "validation",
]
