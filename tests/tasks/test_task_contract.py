"""Every task of miestim.tasks has the Gaussian tasks' interface: reproducible samples, dims, names, true MI."""

from __future__ import annotations

import numpy as np
import pytest

from miestim.gaussian import GaussianTask, RotatedTask, TransformedTask
from miestim.gaussian._tasks import _check_mi_task
from miestim.tasks import AdditiveUniformTask, MixingTask, ScaleMixtureTask, SpiralTask, StudentTTask, beyond_gaussian_tasks

TASKS = {
    "student-t": lambda: StudentTTask(3, 2, df=3),
    "scale-mixture": lambda: ScaleMixtureTask(3, 2, sigma=1.0, mc_samples=2000),
    "uniform": lambda: AdditiveUniformTask(0.2),
    "spiral": lambda: SpiralTask(GaussianTask.correlated_pairs(3, 3, pairs=1, rho=0.6)),
    "mixing": lambda: MixingTask(StudentTTask(2, 2, df=5)),
}


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
def test_contract(make):
    task = _check_mi_task(make(), name="task")
    x, y = task.sample(64, 7)
    assert x.dtype == y.dtype == np.float32 and x.shape == (64, task.dim_x) and y.shape == (64, task.dim_y)
    again = make().sample(64, 7)
    np.testing.assert_array_equal(x, again[0])  # same (n, seed) -> identical arrays, from a fresh object too
    np.testing.assert_array_equal(y, again[1])
    assert not np.array_equal(x, task.sample(64, 8)[0])
    x64, _ = task.sample(64, 7, dtype=np.float64)
    assert x64.dtype == np.float64 and np.allclose(x64, x, atol=1e-5 * (1 + np.abs(x64)).max())
    assert isinstance(task.name, str) and task.name == make().name and " " not in task.name
    assert isinstance(task.mutual_information, float) and task.mutual_information > 0
    assert task.log_density_ratio(x, y).shape == (64,)


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
def test_the_gaussian_wrappers_take_them(make):
    task = make()
    for wrapped in (RotatedTask(task, seed=1), TransformedTask(task, transform="asinh")):
        assert wrapped.mutual_information == task.mutual_information
        assert np.isfinite(wrapped.log_density_ratio(*wrapped.sample(32, 0))).all()


@pytest.mark.parametrize("make", TASKS.values(), ids=TASKS.keys())
def test_bad_sample_arguments(make):
    task = make()
    with pytest.raises(ValueError, match="n must be an integer >= 1"):
        task.sample(0, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0"):
        task.sample(10, -1)
    with pytest.raises(TypeError, match="seed must be an integer"):
        task.sample(10, None)
    with pytest.raises(TypeError, match="dtype must be a numpy floating dtype"):
        task.sample(10, 0, dtype=np.int32)


def test_beyond_gaussian_tasks():
    tasks = beyond_gaussian_tasks()
    truths = {name: round(task.mutual_information, 4) for name, task in tasks.items()}
    assert truths == {
        "student-t-6x6-df4": 0.2595,
        "spiral-x(gaussian-4x4-2pairs-rho0.8)": 1.0217,
        "additive-uniform-eps0.2": 1.1163,
        "gaussian-20x20-3pairs-rho0.8": 1.5325,
    }
    assert [(t.dim_x, t.dim_y) for t in tasks.values()] == [(6, 6), (4, 4), (1, 1), (20, 20)]
    assert beyond_gaussian_tasks() is not tasks
