"""The validation suites: named lists of tasks that carry their own true value, with a default size.

A task is anything with ``sample(n, seed)``, a ``name`` and its truth, in one of three kinds:

- MI: ``mutual_information`` (nats); ``sample`` returns ``(x, y)``;
- CMI: ``conditional_mutual_information`` (nats); ``sample`` returns ``(x, y, z)``;
- decomposition: ``decomposition`` (a :class:`~miestim.gaussian.GaussianDecomposition`);
  ``sample`` returns ``(modalities, target)`` with ``modalities`` a dict of arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._validation import check_choice
from ..gaussian import (
    ClassConditionalGaussianTask,
    CorrelatedGaussianTask,
    GaussianChainTask,
    GaussianCMITask,
    GaussianDecompositionTask,
    GaussianTask,
    RotatedTask,
    TransformedTask,
)

__all__ = ["BEYOND_GAUSSIAN_TASKS", "SUITES", "Suite", "get_suite"]

#: MI tasks beyond the Gaussian families (non-Gaussian ground truth) that the ``"standard"`` suite
#: runs after its Gaussian tasks; a module of such tasks registers them here.
BEYOND_GAUSSIAN_TASKS: list[Any] = []


@dataclass(frozen=True)
class Suite:
    r"""A named list of ground-truth tasks with the sample size and seeds it runs at by default.

    Every task carries its exact value (e.g. :math:`I(X;Y) = -\tfrac d2 \log(1-\rho^2)` for a
    :class:`~miestim.gaussian.CorrelatedGaussianTask`), in nats.

    Attributes:
        name: the suite's name (``"quick"``, ``"standard"``, ``"cmi"``, ``"decomposition"``).
        tasks: the task objects, in run order.
        n: default samples per task.
        seeds: default seeds; each task is sampled (and the estimator seeded) once per seed.
        description: one line on what the suite covers.
    """

    name: str
    tasks: tuple[Any, ...]
    n: int
    seeds: tuple[int, ...]
    description: str


def _toeplitz_task() -> GaussianTask:
    """A 3 x 2 Gaussian with every coordinate correlated (AR(1) covariance, coefficient 0.7)."""
    lags = np.abs(np.subtract.outer(np.arange(5), np.arange(5)))
    return GaussianTask(0.7**lags, [0, 2, 4], [1, 3], name="gaussian-ar1-3x2")


def _quick() -> Suite:
    tasks = (
        CorrelatedGaussianTask(1, 0.5),
        CorrelatedGaussianTask(5, 2.0),
        CorrelatedGaussianTask(10, 4.0),
        CorrelatedGaussianTask(5, 0.0),
        RotatedTask(CorrelatedGaussianTask(5, 1.0)),
        TransformedTask(CorrelatedGaussianTask(2, 1.0), transform="cube"),
    )
    return Suite("quick", tasks, 4000, (0,), "six MI tasks: correlated Gaussians (d 1-10, MI 0-4), independence, rotated, cubed")


def _standard() -> Suite:
    correlated = [CorrelatedGaussianTask(d, mi) for d, mi in ((1, 0.5), (1, 2.0), (5, 1.0), (5, 4.0), (20, 4.0), (20, 10.0), (5, 0.0))]
    rotated = [RotatedTask(CorrelatedGaussianTask(5, 2.0)), RotatedTask(CorrelatedGaussianTask(20, 4.0))]
    transformed = [
        TransformedTask(CorrelatedGaussianTask(5, 2.0), transform="cube"),
        TransformedTask(CorrelatedGaussianTask(5, 2.0), transform="asinh"),
        TransformedTask(RotatedTask(CorrelatedGaussianTask(5, 2.0)), transform="cube"),
    ]
    tasks = (*correlated, _toeplitz_task(), *rotated, *transformed, *BEYOND_GAUSSIAN_TASKS)
    return Suite(
        "standard",
        tasks,
        10_000,
        (0, 1, 2),
        "correlated Gaussians over d 1-20 and MI 0-10, a dense covariance, rotated and marginally transformed Gaussians",
    )


def _cmi() -> Suite:
    cov = np.array([[1.0, 0.5, 0.4, 0.3], [0.5, 1.0, 0.2, 0.4], [0.4, 0.2, 1.0, 0.5], [0.3, 0.4, 0.5, 1.0]])
    tasks = (
        GaussianChainTask(1),
        GaussianChainTask(1, target="x;z|y"),
        GaussianChainTask(3),
        GaussianCMITask(cov, [0], [1], [2, 3], name="gaussian-cmi-1x1|2"),
        ClassConditionalGaussianTask((0.0, 0.6, 0.9)),
        ClassConditionalGaussianTask((0.0, 0.0, 0.0), dim=2),
    )
    return Suite("cmi", tasks, 5000, (0,), "Gaussian chain (CMI and its conditional-independence null), a dense Gaussian, discrete conditioning")


def _decomposition() -> Suite:
    tasks = (
        GaussianDecompositionTask.latent_factor(("t", "a"), dim=1, seed=0),
        GaussianDecompositionTask.latent_factor(("t", "a", "v"), dim=2, seed=1),
    )
    return Suite("decomposition", tasks, 5000, (0,), "invariant, specific and complementary terms of 2 and 3 Gaussian modalities")


#: Suite name -> the function building it (tasks are built afresh on each call).
SUITES: dict[str, Callable[[], Suite]] = {"quick": _quick, "standard": _standard, "cmi": _cmi, "decomposition": _decomposition}


def get_suite(name: str) -> Suite:
    """The suite called ``name``: one of :data:`SUITES` (``"quick"``, ``"standard"``, ``"cmi"``, ``"decomposition"``).

    Args:
        name: the suite's name (case-insensitive).

    Returns:
        A :class:`Suite`.

    Raises:
        TypeError: ``name`` is not a string.
        ValueError: an unknown name (the message lists the suites and suggests the closest).

    Example:
        >>> suite = get_suite("quick")
        >>> len(suite.tasks), suite.n, suite.seeds
        (6, 4000, (0,))
    """
    return SUITES[check_choice(name, name="suite", choices=SUITES)]()
