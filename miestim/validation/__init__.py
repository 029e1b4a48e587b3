"""Validate an estimator against ground truth: suites of tasks that carry their exact value, a runner and its report.

``miestim.validate(estimator, suite)`` runs a name of the library's estimators, an
:class:`~miestim.MIEstimator` or any callable on numpy arrays over a suite (``"quick"``,
``"standard"``, ``"cmi"``, ``"decomposition"``, or a list of tasks) and returns a
:class:`ValidationReport`. The same runs from the command line: ``python -m miestim validate``.
"""

from .report import ValidationReport, ValidationRow, ValidationSummary
from .runner import validate
from .suites import BEYOND_GAUSSIAN_TASKS, SUITES, Suite, get_suite

__all__ = ["BEYOND_GAUSSIAN_TASKS", "SUITES", "Suite", "ValidationReport", "ValidationRow", "ValidationSummary", "get_suite", "validate"]
