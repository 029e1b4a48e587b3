"""The mixing wrapper (rotation, coordinate-wise map, rotation): a bijection that keeps the MI."""

from __future__ import annotations

import numpy as np
import pytest

from miestim.gaussian import CorrelatedGaussianTask, GaussianTask
from miestim.tasks import AdditiveUniformTask, MixingTask, StudentTTask

BASE = GaussianTask.correlated_pairs(3, 3, pairs=2, rho=0.7)


@pytest.mark.parametrize(
    "task",
    [MixingTask(BASE), MixingTask(StudentTTask(2, 3, df=3), nonlinearity="cube", side="x", seed=4), MixingTask(AdditiveUniformTask(0.3), side="y")],
    ids=lambda t: t.name,
)
def test_mean_log_ratio_at_the_pre_image_is_the_mi(task):
    ratio = task.log_density_ratio(*task.sample(200_000, 1, dtype=np.float64))
    se = ratio.std() / np.sqrt(ratio.size)
    assert abs(ratio.mean() - task.mutual_information) < 4 * se


@pytest.mark.parametrize("nonlinearity", ["asinh", "cube"])
def test_round_trip(nonlinearity):
    task = MixingTask(BASE, nonlinearity=nonlinearity, seed=2)
    x, y = BASE.sample(1_000, 0, dtype=np.float64)
    back = task.inverse_transform(*task.transform(x, y))
    np.testing.assert_allclose(back[0], x, atol=1e-6)
    np.testing.assert_allclose(back[1], y, atol=1e-6)


def test_rotations_are_orthogonal_seeded_and_independent_of_side():
    both, only_x = MixingTask(BASE, seed=3), MixingTask(BASE, seed=3, side="x")
    for (q1, q2), (r1, r2) in zip(both.rotations.values(), only_x.rotations.values()):
        np.testing.assert_array_equal(q1, r1)
        np.testing.assert_array_equal(q2, r2)
        np.testing.assert_allclose(q1 @ q1.T, np.eye(3), atol=1e-12)
    _, y = only_x.sample(50, 0, dtype=np.float64)
    np.testing.assert_array_equal(y, BASE.sample(50, 0, dtype=np.float64)[1])
    assert not np.array_equal(MixingTask(BASE, seed=4).rotations["x"][0], both.rotations["x"][0])


def test_the_map_mixes_coordinates():
    task = MixingTask(CorrelatedGaussianTask(2, 1.0), nonlinearity="cube")
    x, _ = task.transform(np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [1.0, 0.5]]), np.zeros((4, 2)))
    assert not np.allclose(x[2], x[0] + x[1])  # not linear
    assert not np.isclose(x[2, 0], x[3, 0]) and not np.isclose(x[2, 1], x[3, 1])  # each output moves with the second input
    assert task.name == "mixed-both-cube-s0(correlated-gaussian-2d-mi1)" and "MixingTask(" in repr(task)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"nonlinearity": "tanh"}, ValueError, "nonlinearity must be one of"),
        ({"nonlinearity": None}, TypeError, "nonlinearity must be one of"),
        ({"side": "xy"}, ValueError, "side must be one of"),
        ({"seed": -1}, ValueError, "seed must be an integer >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an integer"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        MixingTask(BASE, **kwargs)


def test_bad_task_and_points():
    with pytest.raises(TypeError, match="task must be an MI task"):
        MixingTask("gaussian")
    with pytest.raises(ValueError, match="x must have 3 column"):
        MixingTask(BASE).transform(np.zeros((2, 2)), np.zeros((2, 3)))
