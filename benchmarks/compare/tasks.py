"""The comparison's tasks: Gaussian MI and CMI problems with known truth, built from ``miestim.gaussian``.

MI tasks: ``d`` coordinate pairs with total MI ``mi`` (:class:`~miestim.gaussian.CorrelatedGaussianTask`),
plain, under a random rotation of X and of Y, or with every coordinate cubed (heavy tails) or
mapped by asinh (light tails); all keep the MI. CMI tasks: the Gaussian chain X -> Y -> Z,
its I(X;Y|Z) and its conditional-independence null I(X;Z|Y) = 0. Beyond-Gaussian tasks
(:mod:`miestim.tasks`, issue 17's acceptance): a Student-t, a spiral, additive uniform noise, and
a sparse 20x20 Gaussian, each at its own n. Issue 30's tasks (:func:`benchmarks.auto._gap_tasks`):
Student-t, spirals, a 50x50 equicorrelated Gaussian, additive uniform noise, mixed Gaussians and a
scale mixture, each at its own n (5,000 but for the 20x20 Gaussian's 1,000).

Every library gets the same samples: :func:`write_samples` stores one draw (rows in random
order, i.i.d.) in an ``.npz`` file that the in-process runners and the workers all read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask, GaussianTask, RotatedTask, TransformedTask

from .._suites import beyond_gaussian
from ..auto import _gap_tasks

TRANSFORMS = ("plain", "rotated", "cube", "asinh")
DIMS = (1, 5, 20)
MIS = (1.0, 2.0, 5.0, 7.0, 10.0)
SIZES = (1_000, 10_000)
#: the tasks every neural estimator of every library runs on (the issue's targets).
CORE = ((5, 2.0, "plain"), (20, 4.0, "plain"))
#: (dim, chain target) of the CMI tasks; "x;z|y" is the null.
CMI = ((1, "x;y|z"), (1, "x;z|y"), (5, "x;y|z"), (5, "x;z|y"))
#: seeds of the beyond-Gaussian tasks (the issue's 0-4).
BEYOND_SEEDS = (0, 1, 2, 3, 4)
#: seeds of issue 30's tasks (the issue's 0-4).
GAP_SEEDS = (0, 1, 2, 3, 4)
#: the ``transform`` label of issue 30's tasks: it keeps them apart from the beyond-Gaussian tasks that share a name.
GAPS = "issue-30"


@dataclass(frozen=True)
class Task:
    """One problem with known truth: ``key`` names it in tables and JSON."""

    key: str
    kind: str  # "mi" or "cmi"
    dim: int
    truth: float
    transform: str
    sampler: Any
    #: "gaussian" where rank-normal scores make the pair Gaussian (a Gaussian fit is the true model), else "other".
    copula: str = "gaussian"
    #: the sample size the task is scored at, for tasks that fix one (the beyond-Gaussian ones).
    n: int | None = None

    def sample(self, n: int, seed: int) -> dict[str, np.ndarray]:
        arrays = self.sampler.sample(n, seed)
        return dict(zip("xyz", arrays))


def mi_task(dim: int, mi: float, transform: str = "plain") -> Task:
    base = CorrelatedGaussianTask(dim, mi)
    if transform == "plain":
        sampler = base
    elif transform == "rotated":
        sampler = RotatedTask(base, seed=dim)
    elif transform in ("cube", "asinh"):
        sampler = TransformedTask(base, transform=transform)
    else:
        raise ValueError(f"transform must be one of {TRANSFORMS}; got {transform!r}.")
    return Task(f"d{dim}-mi{mi:g}-{transform}", "mi", dim, sampler.mutual_information, transform, sampler)


def cmi_task(dim: int, target: str) -> Task:
    sampler = GaussianChainTask(dim, target=target)
    label = "null" if target == "x;z|y" else target
    return Task(f"chain-d{dim}-{label}", "cmi", dim, sampler.conditional_mutual_information, "chain", sampler)


#: The beyond-Gaussian tasks: :func:`miestim.tasks.beyond_gaussian_tasks`, keyed by their names, each at its own n.
BEYOND_KEYS = tuple(judged.task.name for judged in beyond_gaussian())


def _chosen(entries: Iterable[tuple[Any, int]], keys: Iterable[str] | None, known: tuple[str, ...], what: str, transform: str) -> list[Task]:
    """The ``(sampler, n)`` entries whose name is in ``keys`` (all when ``None``), as comparison tasks labelled ``transform``."""
    chosen = known if keys is None else tuple(keys)
    unknown = sorted(set(chosen) - set(known))
    if unknown:
        raise ValueError(f"unknown {what} task(s) {unknown}; choose from {list(known)}.")
    # The truth is computed only for the chosen (the scale mixture's takes seconds). The Gaussian-copula plug-in is
    # the true model exactly where the task is a Gaussian.
    return [
        Task(s.name, "mi", s.dim_x, s.mutual_information, transform, s, copula="gaussian" if isinstance(s, GaussianTask) else "other", n=n)
        for s, n in entries
        if s.name in chosen
    ]


def beyond_tasks(keys: Iterable[str] | None = None) -> list[Task]:
    """The beyond-Gaussian tasks (all, or those whose key is in ``keys``), each with its own ``n``."""
    return _chosen(((judged.task, judged.n) for judged in beyond_gaussian()), keys, BEYOND_KEYS, "beyond-Gaussian", "beyond-gaussian")


#: Issue 30's tasks in :func:`benchmarks.auto._gap_tasks`'s order, and their bars for the default: (kind, bar).
GAP_KEYS = tuple(sampler.name for sampler, *_ in _gap_tasks())
GAP_BARS = {sampler.name: (kind, bar) for sampler, _, kind, bar in _gap_tasks()}


def gap_tasks(keys: Iterable[str] | None = None) -> list[Task]:
    """Issue 30's tasks (all, or those whose key is in ``keys``), each with its own ``n``; the list lives in ``benchmarks.auto``."""
    return _chosen(((sampler, n) for sampler, n, *_ in _gap_tasks()), keys, GAP_KEYS, "issue-30", GAPS)


def grid_tasks(dims: Iterable[int] = DIMS, mis: Iterable[float] = MIS, transforms: Iterable[str] = TRANSFORMS) -> list[Task]:
    return [mi_task(d, mi, t) for t in transforms for d in dims for mi in mis]


def write_samples(task: Task, n: int, seed: int, directory: Path) -> Path:
    """Draw ``n`` samples of ``task`` with ``seed`` once and store them for every library; returns the file."""
    path = Path(directory) / f"{task.key}-n{n}-s{seed}.npz".replace(";", "").replace("|", "_")
    if not path.exists():
        np.savez(path, **task.sample(n, seed))
    return path
