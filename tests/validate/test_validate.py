"""miestim.validate: every task's row, failures recorded and the run going on, order-free samples, argument checks."""

from __future__ import annotations

import inspect
import math
import time

import numpy as np
import pytest

import miestim
from miestim.gaussian import CorrelatedGaussianTask, GaussianChainTask

TASKS = [CorrelatedGaussianTask(1, 0.5), CorrelatedGaussianTask(2, 1.0), CorrelatedGaussianTask(3, 2.0)]


def _comparable(report: miestim.ValidationReport) -> list[dict]:
    """The rows without their timings (NaN read as None, so that equal reports compare equal)."""
    return [{k: v for k, v in row.items() if k != "seconds"} for row in report.to_dict()["rows"]]


@pytest.mark.parametrize("suite", ["quick", "standard", "cmi", "decomposition"])
def test_truth_plus_a_tenth_reads_an_error_of_a_tenth_on_every_task(suite):
    # A callable cannot see the truth, so each task is run alone with a callable that knows its truth.
    for task in miestim.validation.get_suite(suite).tasks:
        report = miestim.validate(_truth_plus(task, 0.1), [task], n=40, progress=False)
        assert report.rows and all(r.status == "ok" for r in report.rows), report.rows
        assert [r.error for r in report.rows] == pytest.approx([0.1] * len(report.rows), abs=1e-9), task.name


def _truth_plus(task, offset):
    if hasattr(task, "decomposition"):
        return lambda modalities, target: {name: value + offset for name, value in task.decomposition.terms()}
    if hasattr(task, "conditional_mutual_information"):
        return lambda x, y, z: task.conditional_mutual_information + offset
    return lambda x, y: task.mutual_information + offset


def test_an_estimator_that_raises_on_some_tasks_fills_the_others():
    def picky(x, y):
        if x.shape[1] == 2:
            raise RuntimeError("cannot do d=2")
        return miestim.EstimateResult(1.0, 0.05, miestim.TrainingHistory(), None, 0.0)

    report = miestim.validate(picky, TASKS, n=50, seeds=2, progress=False)
    assert [(r.task, r.seed) for r in report.rows] == [(t.name, s) for t in TASKS for s in (0, 1)]
    failed = [r for r in report.rows if r.status != "ok"]
    assert [r.task for r in failed] == [TASKS[1].name] * 2
    assert all(r.status == "error" and r.message == "RuntimeError: cannot do d=2" and math.isnan(r.estimate) for r in failed)
    ok = [r for r in report.rows if r.status == "ok"]
    assert [(r.estimate, r.stderr) for r in ok] == [(1.0, 0.05)] * 4
    assert report.summary.failures == 2 and report.summary.tasks == 3 and report.failures == tuple(failed)


def test_nan_and_wrong_return_types_are_recorded():
    answers = {1: math.nan, 2: "1.0", 3: np.float32(2.0)}
    report = miestim.validate(lambda x, y: answers[x.shape[1]], TASKS, n=30, progress=False)
    assert [r.status for r in report.rows] == ["non-finite", "error", "ok"]
    assert "returned str" in report.rows[1].message and report.rows[2].error == 0.0


def test_samples_depend_only_on_task_n_and_seed():
    def fingerprint(x, y):
        return float(np.abs(x).sum() - np.abs(y).sum())

    one = miestim.validate(fingerprint, TASKS, n=64, seeds=[3, 1], progress=False)
    two = miestim.validate(fingerprint, TASKS, n=64, seeds=[3, 1], n_jobs=2, progress=False)
    assert _comparable(one) == _comparable(two)
    alone = miestim.validate(fingerprint, [TASKS[2]], n=64, seeds=[1], progress=False)
    assert alone.rows[0].estimate == one.rows[5].estimate  # the same sample, whatever ran before it


def test_a_job_past_the_timeout_is_stopped_and_recorded():
    def sleepy(x, y):
        if x.shape[1] == 1:
            time.sleep(120)
        return 0.0

    start = time.perf_counter()
    report = miestim.validate(sleepy, TASKS[:2], n=20, timeout=2, progress=False)
    assert [r.status for r in report.rows] == ["timeout", "ok"]
    assert "timeout of 2 s" in report.rows[0].message and report.rows[0].seconds == 2.0
    assert time.perf_counter() - start < 100  # the sleeper was killed, not waited for


def test_cmi_and_decomposition_callables_get_their_arguments():
    seen = []
    cmi = miestim.validate(lambda x, y, z: seen.append((x.shape, z.shape)) or 0.0, [GaussianChainTask(2)], n=25, progress=False)
    assert seen == [((25, 2), (25, 2))] and cmi.rows[0].quantity == "I(X;Y|Z)"
    task = miestim.validation.get_suite("decomposition").tasks[0]
    report = miestim.validate(lambda modalities, target: {"Inv": 0.0}, [task], n=25, progress=False)
    assert [r.quantity for r in report.rows] == ["Inv", "Comp", "Spec_t", "Spec_a"]
    assert [r.status for r in report.rows] == ["ok", "error", "error", "error"] and "no 'Comp'" in report.rows[1].message


def test_the_library_estimator_and_a_module_run_on_a_tiny_task():
    task = CorrelatedGaussianTask(1, 0.5)
    fast = {"max_steps": 20, "eval_every": 10, "batch_size": 64}
    by_name = miestim.validate("default", [task], n=200, progress=False, estimate_kwargs=fast)
    module = miestim.SMILE(1, 1)
    by_module = miestim.validate(module, [task, CorrelatedGaussianTask(2, 0.5)], n=200, progress=False, estimate_kwargs=fast)
    assert [r.status for r in by_name.rows + by_module.rows] == ["ok", "ok", "error"]
    assert math.isfinite(by_name.rows[0].stderr) and math.isfinite(by_module.rows[0].stderr)
    assert "built for x_dim=1, y_dim=1; this task has 2 and 2 columns" in by_module.rows[1].message
    assert not any(p.grad is not None for p in module.parameters())  # the caller's module is left untouched
    # Each row names its estimator, "default" spelled out from estimate_mi's own signature.
    default = inspect.signature(miestim.estimate_mi).parameters["estimator"].default
    assert {r.estimator for r in by_name.rows} == {f"default: estimate_mi(estimator={default!r})"} == {by_name.estimator}
    assert {r.estimator for r in by_module.rows} == {"SMILE"}


def test_suites_hold_distinct_tasks_with_their_truth():
    for name in miestim.validation.SUITES:
        suite = miestim.validation.get_suite(name)
        assert len({t.name for t in suite.tasks}) == len(suite.tasks) and suite.name == name
    assert len(miestim.validation.get_suite("quick").tasks) == 6


def test_summary_counts_tasks_within_tolerance():
    report = miestim.validate(lambda x, y: 1.05, TASKS, n=20, progress=False)  # errors +0.55, +0.05, -0.95
    summary = report.summary
    assert summary.within_tolerance == 1 and summary.tasks == 3 and summary.failures == 0
    assert summary.mean_abs_error == pytest.approx((0.55 + 0.05 + 0.95) / 3)
    assert miestim.validate(lambda x, y: 1.05, TASKS, n=20, tolerance=0.5, progress=False).summary.within_tolerance == 2


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"suite": "quik"}, ValueError, r"suite must be one of .*Did you mean 'quick'"),
        ({"suite": [object()]}, TypeError, r"suite\[0\] must be a task"),
        ({"suite": 3}, TypeError, r"suite must be one of"),
        ({"suite": [TASKS[0], CorrelatedGaussianTask(1, 0.5)]}, ValueError, r"several tasks named"),
        ({"n": 1}, ValueError, r"n must be an integer >= 2"),
        ({"n": 2.5}, TypeError, r"n must be an integer"),
        ({"seeds": [1, 1]}, ValueError, r"seeds must be a non-empty list of distinct seeds"),
        ({"seeds": "0"}, TypeError, r"seeds must be a number of seeds"),
        ({"seeds": [-1]}, ValueError, r"seeds must be an integer >= 0"),
        ({"n_jobs": 0}, ValueError, r"n_jobs must not be 0"),
        ({"n_jobs": 1.5}, TypeError, r"n_jobs must be an integer"),
        ({"timeout": 0}, ValueError, r"timeout must be a finite number > 0"),
        ({"progress": "yes"}, TypeError, r"progress must be True, False or None"),
        ({"tolerance": -1}, ValueError, r"tolerance must be a finite number > 0"),
        ({"estimate_kwargs": [1]}, TypeError, r"estimate_kwargs must be a dict"),
        ({"estimate_kwargs": {"max_steps": 5}}, ValueError, r"estimate_kwargs are for the library's estimators"),
    ],
)
def test_bad_arguments_name_the_argument(kwargs, error, match):
    with pytest.raises(error, match=match):
        miestim.validate(lambda x, y: 0.0, **{"suite": TASKS, **kwargs})


@pytest.mark.parametrize(
    ("estimator", "suite", "error", "match"),
    [
        ("smil", TASKS, ValueError, r"estimator must be one of .*Did you mean 'smile'"),
        ("smile", [GaussianChainTask(1)], ValueError, r"estimator 'smile' estimates MI; CMI tasks take 'default'"),
        (miestim.SMILE(1, 1), [GaussianChainTask(1)], ValueError, r"estimator: an MIEstimator module estimates I\(X;Y\)"),
        (42, TASKS, TypeError, r"estimator must be a name"),
        (lambda x: 0.0, TASKS, TypeError, r"estimator must accept \(x, y\) for the suite's mi tasks"),
        (lambda x, y: 0.0, [GaussianChainTask(1)], TypeError, r"estimator must accept \(x, y, z\)"),
    ],
)
def test_bad_estimators_are_refused_up_front(estimator, suite, error, match):
    with pytest.raises(error, match=match):
        miestim.validate(estimator, suite, n=10, progress=False)
