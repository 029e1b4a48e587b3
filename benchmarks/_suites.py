"""How the benchmarks judge the beyond-Gaussian tasks of :mod:`miestim.tasks`: the sample size and the bar of each.

The tasks themselves come from :func:`miestim.tasks.beyond_gaussian_tasks`, keyed by their names; the
``auto`` benchmark and the side-by-side comparison both read them from here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from miestim.tasks import beyond_gaussian_tasks

#: The sample size each task is scored at where it is not 10,000.
_N = {"gaussian-20x20-3pairs-rho0.8": 5_000}
#: Issue 17's bar on the mean over the seeds: ("within", tol) of the truth, or ("at least", value) for the estimate.
BARS = {
    "student-t-6x6-df4": ("within", 0.04),
    "spiral-x(gaussian-4x4-2pairs-rho0.8)": ("at least", 0.92),
    "additive-uniform-eps0.2": ("within", 0.08),
    "gaussian-20x20-3pairs-rho0.8": ("within", 0.06),
}


@dataclass(frozen=True)
class JudgedTask:
    """A task of :mod:`miestim.tasks` with the sample size and the bar it is judged at."""

    task: Any
    n: int
    kind: str
    bar: float


def beyond_gaussian() -> list[JudgedTask]:
    """The beyond-Gaussian tasks in :func:`miestim.tasks.beyond_gaussian_tasks`'s order."""
    return [JudgedTask(task, _N.get(name, 10_000), *BARS[name]) for name, task in beyond_gaussian_tasks().items()]
