"""Gaussian ground truth: closed-form MI / CMI, sampling tasks that carry their true value,
and the exact invariant / specific / complementary decomposition. All values in nats.
"""

from ._closed_form import conditional_mutual_information, correlated_mi, mutual_information, rho_for_mi
from ._cmi_tasks import ClassConditionalGaussianTask, GaussianChainTask, GaussianCMITask
from ._decomposition import GaussianDecomposition, GaussianDecompositionTask, decomposition
from ._tasks import CorrelatedGaussianTask, GaussianTask, RotatedTask, TransformedTask

__all__ = [
    "ClassConditionalGaussianTask",
    "CorrelatedGaussianTask",
    "GaussianChainTask",
    "GaussianCMITask",
    "GaussianDecomposition",
    "GaussianDecompositionTask",
    "GaussianTask",
    "RotatedTask",
    "TransformedTask",
    "conditional_mutual_information",
    "correlated_mi",
    "decomposition",
    "mutual_information",
    "rho_for_mi",
]
