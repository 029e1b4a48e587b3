"""``validate``: run an estimator over a suite of ground-truth tasks and report every error."""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import sys
import time
from collections.abc import Sequence
from typing import Any

import torch

from .._validation import check_choice, check_kwargs, check_optional_bool, check_positive_float, check_positive_int
from ._jobs import Job, run_job, task_kind, task_name
from .report import ValidationReport
from .suites import SUITES, Suite, get_suite

__all__ = ["validate"]

#: Samples and seeds of a list of tasks, when ``n`` / ``seeds`` are not given.
CUSTOM_N, CUSTOM_SEEDS = 5000, (0,)
_ARGUMENTS = {"mi": ("x", "y"), "cmi": ("x", "y", "z"), "decomposition": ("modalities", "target")}


def _resolve_suite(suite: Any) -> Suite:
    if isinstance(suite, Suite):
        return suite
    if isinstance(suite, str):
        return get_suite(suite)
    if not isinstance(suite, Sequence) or not suite:
        raise TypeError(
            f"suite must be one of {list(SUITES)}, a Suite or a non-empty list of tasks (objects with sample(n, seed) and "
            f"mutual_information); got {suite!r} ({type(suite).__name__})."
        )
    return Suite("custom", tuple(suite), CUSTOM_N, CUSTOM_SEEDS, "a list of tasks")


def _check_tasks(tasks: Sequence[Any]) -> list[str]:
    kinds = []
    for i, task in enumerate(tasks):
        kind = task_kind(task)
        if kind is None or not callable(getattr(task, "sample", None)):
            raise TypeError(
                f"suite[{i}] must be a task with sample(n, seed) and its truth (mutual_information, conditional_mutual_information "
                f"or decomposition), e.g. miestim.gaussian.CorrelatedGaussianTask(5, 1.0); got {type(task).__name__}."
            )
        kinds.append(kind)
    names = [task_name(t) for t in tasks]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise ValueError(f"suite holds several tasks named {repeated}; give each task its own name, since the report keys rows by it.")
    return kinds


def _check_seeds(seeds: Any) -> tuple[int, ...]:
    if isinstance(seeds, numbers.Integral) and not isinstance(seeds, bool):
        return tuple(range(check_positive_int(seeds, name="seeds")))
    if isinstance(seeds, (str, bytes)) or not isinstance(seeds, Sequence):
        raise TypeError(f"seeds must be a number of seeds S (0, ..., S-1) or a list of seeds; got {seeds!r} ({type(seeds).__name__}).")
    checked = tuple(check_positive_int(s, name="seeds", minimum=0) for s in seeds)
    if not checked or len(set(checked)) != len(checked):
        raise ValueError(f"seeds must be a non-empty list of distinct seeds; got {list(seeds)}.")
    return checked


#: The library function each task kind calls and the option that names its estimator.
_DEFAULT_OPTIONS = {"mi": ("estimate_mi", "estimator"), "cmi": ("estimate_cmi", "method"), "decomposition": ("decompose", "method")}


def _default_description(kinds: set[str]) -> str:
    """``"default"`` spelled out from the functions' own signatures, so a report says which estimator ran."""
    import miestim

    calls = []
    for kind in sorted(kinds):
        function, option = _DEFAULT_OPTIONS[kind]
        default = inspect.signature(getattr(miestim, function)).parameters[option].default
        calls.append(f"{function}({option}={default!r})")
    return "default: " + ", ".join(calls)


def _check_estimator(estimator: Any, kinds: set[str]) -> tuple[str, bool]:
    """Check the estimator fits the suite's task kinds; return its description for the report and whether it is the library's."""
    import miestim  # at call time, as in validate

    if isinstance(estimator, str):
        name = check_choice(estimator, name="estimator", choices=["default", *miestim.ESTIMATORS])
        if name != "default" and "cmi" in kinds:
            raise ValueError(f"estimator {name!r} estimates MI; CMI tasks take 'default' (miestim.estimate_cmi) or a callable f(x, y, z).")
        return (_default_description(kinds) if name == "default" else name), True
    if isinstance(estimator, miestim.MIEstimator):
        if kinds != {"mi"}:
            raise ValueError(f"estimator: an MIEstimator module estimates I(X;Y); the suite also holds {sorted(kinds - {'mi'})} tasks.")
        return type(estimator).__name__, True
    if not callable(estimator):
        raise TypeError(
            f"estimator must be a name ('default', {', '.join(repr(n) for n in miestim.ESTIMATORS)}), an MIEstimator or a callable "
            f"f(x, y) -> float | EstimateResult; got {type(estimator).__name__}."
        )
    try:
        signature = inspect.signature(estimator)
    except (TypeError, ValueError):  # some builtins have none: they are called, and a failure is recorded
        signature = None
    for kind in sorted(kinds) if signature is not None else ():
        arguments = _ARGUMENTS[kind]
        try:
            signature.bind(*arguments)  # type: ignore[union-attr]  # the loop is empty when signature is None
        except TypeError as err:
            raise TypeError(f"estimator must accept ({', '.join(arguments)}) for the suite's {kind} tasks; {err}.") from None
    return f"{getattr(estimator, '__module__', '') or ''}.{getattr(estimator, '__qualname__', type(estimator).__name__)}".lstrip("."), False


def _run_jobs(jobs: list[Job], n_jobs: int, timeout: float | None) -> Any:
    """The jobs' rows through joblib (the active backend: loky, or Dask / Ray inside ``joblib.parallel_config``), in job order."""
    import joblib

    try:  # as they come, for the progress bar
        parallel = joblib.Parallel(n_jobs=n_jobs, return_as="generator")
    except ValueError:  # a backend that only returns a list (multiprocessing, Ray)
        parallel = joblib.Parallel(n_jobs=n_jobs)
    return parallel(joblib.delayed(run_job)(job, timeout) for job in jobs)


def validate(
    estimator: Any,
    suite: str | Suite | Sequence[Any] = "standard",
    *,
    n: int | None = None,
    seeds: int | Sequence[int] | None = None,
    n_jobs: int = 1,
    timeout: float | None = None,
    progress: bool | None = None,
    tolerance: float = 0.1,
    estimate_kwargs: dict[str, Any] | None = None,
) -> ValidationReport:
    r"""Run an estimator on every task of a suite and compare each estimate with the exact value.

    For every task and seed the task draws ``n`` samples (they depend only on the task, ``n``
    and the seed, never on the order or place the jobs run in), the estimator estimates the
    task's quantity, and the row records

    .. math:: e = \hat I - I \quad \text{(nats)},

    the reported standard error, the estimator's wall time and a status. An estimator that
    raises, returns NaN / Inf or runs past ``timeout`` on a task is recorded as such
    (``"error"`` with its message, ``"non-finite"``, ``"timeout"``), and the run goes on.

    Estimators:

    - a name: ``"default"`` calls :func:`~miestim.estimate_mi` (CMI tasks: :func:`~miestim.estimate_cmi`;
      decomposition tasks: :func:`~miestim.decompose`) with its defaults; a name of
      :data:`~miestim.ESTIMATORS` (``"smile"``, ``"infonce"``, ...) passes ``estimator=name``
      (decomposition: ``mi_estimator=name``). Each call gets ``seed`` = the sample's seed.
    - an :class:`~miestim.MIEstimator` module: trained by :func:`~miestim.estimate_mi` as it
      trains any estimator, a fresh copy per task; it fits only tasks of its ``x_dim``, ``y_dim``.
    - a callable, your own estimator, on numpy arrays: ``f(x, y)`` for MI tasks, ``f(x, y, z)``
      for CMI tasks, ``f(modalities, target)`` for decomposition tasks (``modalities`` a dict
      of ``(n, d_m)`` arrays, ``target`` ``(n, d_C)``). It returns a number in nats, or an
      object with ``.value`` (and ``.stderr``) such as :class:`~miestim.EstimateResult`;
      decomposition callables return a :class:`~miestim.Decomposition` or a mapping of
      terms (``"Inv"``, ``"Comp"``, ``"Spec_<m>"``) to such values. A callable gets only the
      data, so seed any randomness of its own.

    Parallel runs go through joblib: ``n_jobs`` processes on this machine, or a cluster with
    joblib's Dask or Ray backend (``with joblib.parallel_config(backend="dask"):``; see the
    "Validate your own estimator" page). Each job is one (task, seed); jobs send the task
    and the estimator to the worker (lambdas and local functions included, via cloudpickle).

    Args:
        estimator: a name, an :class:`~miestim.MIEstimator` or a callable (see above).
        suite: ``"quick"`` (6 MI tasks, about a minute for the default estimator on 2 cores),
            ``"standard"`` (default), ``"cmi"``, ``"decomposition"`` (:data:`~miestim.validation.SUITES`),
            a :class:`~miestim.validation.Suite`, or a list of tasks: objects with ``sample(n, seed)``,
            a ``name`` and their truth (``mutual_information``, ``conditional_mutual_information``
            or ``decomposition``), e.g. :class:`~miestim.gaussian.CorrelatedGaussianTask`.
        n: samples per task (default: the suite's; 5,000 for a list of tasks).
        seeds: the seeds, or a number S of seeds ``0, ..., S-1`` (default: the suite's; ``(0,)`` for a list).
        n_jobs: joblib's number of parallel jobs (default 1: in this process, one after another; -1: all cores).
        timeout: seconds one job may take (default None: no limit). With a timeout every job
            runs the estimator in a fresh Python process (started with this interpreter and
            ``sys.path``; importing torch there costs a second or two per job), killed when the
            time is up, so even an estimator stuck in C code is stopped.
        progress: show a tqdm bar over the jobs (default: when stderr is a terminal).
        tolerance: the tolerance of :attr:`ValidationReport.summary`: a task is within it when
            its mean error over the seeds is at most ``tolerance * max(1, |truth|)`` nats (default 0.1).
        estimate_kwargs: more arguments for the library's estimator call (names and modules only),
            e.g. ``{"max_steps": 500, "device": "cuda"}``.

    Returns:
        A :class:`~miestim.ValidationReport`: the rows, ``.summary``, ``.to_markdown()``,
        ``.to_json()``, ``.to_pandas()`` and ``.plot()``.

    Raises:
        TypeError: a suite entry that is not a task, an estimator that is neither a name, an
            MIEstimator nor a callable (or a callable that cannot take the tasks' arguments),
            or options of the wrong type.
        ValueError: an unknown suite or estimator name (the message suggests the closest),
            an MI estimator name or module on CMI or decomposition tasks, two tasks with one name,
            ``n < 2``, repeated or negative seeds, ``n_jobs == 0``, a timeout or tolerance <= 0.

    Example:
        >>> import miestim
        >>> tasks = [miestim.gaussian.CorrelatedGaussianTask(1, 0.5), miestim.gaussian.CorrelatedGaussianTask(2, 1.0)]
        >>> report = miestim.validate(lambda x, y: 0.0, tasks, n=100, progress=False)
        >>> [round(r.error, 2) for r in report.rows]
        [-0.5, -1.0]
    """
    start = time.perf_counter()
    resolved = _resolve_suite(suite)
    kinds = _check_tasks(resolved.tasks)
    description, library = _check_estimator(estimator, set(kinds))
    n = check_positive_int(resolved.n if n is None else n, name="n", minimum=2)
    seeds = _check_seeds(resolved.seeds if seeds is None else seeds)
    if isinstance(n_jobs, bool) or not isinstance(n_jobs, numbers.Integral):
        raise TypeError(f"n_jobs must be an integer (1: one job at a time; -1: all cores); got {n_jobs!r} ({type(n_jobs).__name__}).")
    if n_jobs == 0:
        raise ValueError("n_jobs must not be 0: give 1 (one job at a time), a number of parallel jobs, or -1 (all cores).")
    timeout = None if timeout is None else check_positive_float(timeout, name="timeout")
    progress = check_optional_bool(progress, name="progress")
    tolerance = check_positive_float(tolerance, name="tolerance")
    options = check_kwargs(estimate_kwargs, name="estimate_kwargs")
    if options and not library:
        raise ValueError("estimate_kwargs are for the library's estimators (a name or an MIEstimator); a callable takes its own options.")

    jobs = [Job(task, kind, n, seed, estimator, options) for task, kind in zip(resolved.tasks, kinds, strict=True) for seed in seeds]
    results = _run_jobs(jobs, int(n_jobs), timeout)
    if progress if progress is not None else sys.stderr.isatty():
        from tqdm.auto import tqdm

        results = tqdm(results, total=len(jobs), desc=f"validate[{description}] on {resolved.name}", unit="job", file=sys.stderr)
    rows = tuple(dataclasses.replace(row, estimator=description) for job_rows in results for row in job_rows)
    import miestim  # at call time: this module is imported while miestim itself initialises

    meta = {
        "date": time.strftime("%Y-%m-%d %H:%M"),
        "miestim": miestim.__version__,
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "n_jobs": int(n_jobs),
        "timeout": timeout,
        "seconds": round(time.perf_counter() - start, 2),
    }
    return ValidationReport(rows=rows, estimator=description, suite=resolved.name, n=n, seeds=seeds, tolerance=tolerance, meta=meta)
