"""GaussianTask.correlated_pairs: k correlated coordinate pairs, the rest independent."""

from __future__ import annotations

import math

import numpy as np
import pytest

from miestim.gaussian import CorrelatedGaussianTask, GaussianTask


@pytest.mark.parametrize("dim_x, dim_y, pairs, rho", [(4, 4, 2, 0.8), (20, 20, 3, 0.8), (3, 5, 3, -0.5), (2, 1, 0, 0.9)])
def test_mi_adds_over_pairs(dim_x, dim_y, pairs, rho):
    task = GaussianTask.correlated_pairs(dim_x, dim_y, pairs=pairs, rho=rho)
    assert (task.dim_x, task.dim_y) == (dim_x, dim_y)
    assert task.mutual_information == pytest.approx(-pairs / 2 * math.log(1 - rho**2), abs=1e-12)
    cov = task.covariance
    np.testing.assert_array_equal(np.diag(cov), 1.0)
    off = cov - np.eye(dim_x + dim_y)
    assert np.count_nonzero(off) == 2 * pairs and all(off[i, dim_x + i] == rho for i in range(pairs))


def test_issue_values_and_names():
    assert GaussianTask.correlated_pairs(20, 20, pairs=3, rho=0.8).mutual_information == pytest.approx(1.5325, abs=5e-5)
    assert GaussianTask.correlated_pairs(4, 4, pairs=2, rho=0.8).name == "gaussian-4x4-2pairs-rho0.8"
    assert GaussianTask.correlated_pairs(2, 2, pairs=1, rho=0.5, name="p").name == "p"
    full = GaussianTask.correlated_pairs(3, 3, pairs=3, rho=0.6)
    assert full.mutual_information == pytest.approx(CorrelatedGaussianTask(3, full.mutual_information).mutual_information)
    np.testing.assert_allclose(full.covariance, CorrelatedGaussianTask(3, full.mutual_information).covariance, atol=1e-12)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dim_x": 0, "dim_y": 2, "pairs": 0, "rho": 0.5}, ValueError, "dim_x must be an integer >= 1"),
        ({"dim_x": 2, "dim_y": "2", "pairs": 0, "rho": 0.5}, TypeError, "dim_y must be an integer"),
        ({"dim_x": 2, "dim_y": 3, "pairs": 3, "rho": 0.5}, ValueError, r"pairs must be at most min\(dim_x, dim_y\) = 2"),
        ({"dim_x": 2, "dim_y": 2, "pairs": -1, "rho": 0.5}, ValueError, "pairs must be an integer >= 0"),
        ({"dim_x": 2, "dim_y": 2, "pairs": 1, "rho": 1.0}, ValueError, r"rho must lie in the open interval \(-1, 1\)"),
        ({"dim_x": 2, "dim_y": 2, "pairs": 1, "rho": None}, TypeError, "rho must be a real number"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        GaussianTask.correlated_pairs(**kwargs)
