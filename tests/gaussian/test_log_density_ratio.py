"""Pointwise (conditional) MI of the Gaussian tasks: exact values, their means, wrappers, input checks."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import multivariate_normal

from miestim.gaussian import (
    CorrelatedGaussianTask,
    GaussianChainTask,
    GaussianCMITask,
    GaussianTask,
    RotatedTask,
    TransformedTask,
)


def random_covariance(dim: int, seed: int) -> np.ndarray:
    a = np.random.default_rng(seed).standard_normal((dim, dim))
    return a @ a.T + 0.5 * np.eye(dim)


def logpdf(values: np.ndarray, cov: np.ndarray) -> np.ndarray:
    return multivariate_normal(mean=np.zeros(cov.shape[0]), cov=cov).logpdf(values)


def test_mi_ratio_equals_scipy_log_densities():
    cov = random_covariance(5, seed=3)
    task = GaussianTask(cov, [0, 2], [1, 3, 4])
    x, y = task.sample(50, seed=0, dtype=np.float64)
    c = task.covariance
    expected = logpdf(np.hstack([x, y]), c) - logpdf(x, c[:2, :2]) - logpdf(y, c[2:, 2:])
    np.testing.assert_allclose(task.log_density_ratio(x, y), expected, rtol=0, atol=1e-9)


def test_cmi_ratio_equals_scipy_log_densities():
    cov = random_covariance(5, seed=4)
    task = GaussianCMITask(cov, [0], [1, 2], [3, 4])
    x, y, z = task.sample(50, seed=0, dtype=np.float64)
    c = task.covariance
    xz, yz = [0, 3, 4], [1, 2, 3, 4]
    expected = (
        logpdf(np.hstack([x, y, z]), c)
        + logpdf(z, c[3:, 3:])
        - logpdf(np.hstack([x, z]), c[np.ix_(xz, xz)])
        - logpdf(np.hstack([y, z]), c[np.ix_(yz, yz)])
    )
    np.testing.assert_allclose(task.log_density_ratio(x, y, z), expected, rtol=0, atol=1e-9)


@pytest.mark.parametrize(
    "task", [CorrelatedGaussianTask(3, 1.5), GaussianTask(random_covariance(4, seed=5), [0, 1], [2, 3])], ids=["correlated", "general"]
)
def test_mean_over_joint_samples_is_the_mi_and_exp_mean_over_products_is_one(task):
    x, y = task.sample(40_000, seed=1)
    joint = task.log_density_ratio(x, y)
    # Four standard errors of a sample mean of 40,000 draws.
    assert abs(joint.mean() - task.mutual_information) < 4 * joint.std() / np.sqrt(joint.size)
    # E_{p(x)p(y)}[p(x,y) / (p(x)p(y))] = 1: shifting y by one row pairs independent draws.
    weights = np.exp(task.log_density_ratio(x, np.roll(y, 1, axis=0)))
    assert abs(weights.mean() - 1.0) < 4 * weights.std() / np.sqrt(weights.size)


def test_chain_ratio_mean_and_exact_null():
    task = GaussianChainTask(2)
    x, y, z = task.sample(40_000, seed=2)
    ratio = task.log_density_ratio(x, y, z)
    assert abs(ratio.mean() - task.conditional_mutual_information) < 4 * ratio.std() / np.sqrt(ratio.size)
    # X -> Y -> Z: X and Z are independent given Y, so the ratio is 0 at every point, not only on average.
    null = GaussianChainTask(2, target="x;z|y")
    assert np.abs(null.log_density_ratio(*null.sample(1000, seed=3))).max() < 1e-8


def test_wrappers_carry_the_ratio_over():
    base = CorrelatedGaussianTask(2, 1.0)
    x, y = base.sample(200, seed=4, dtype=np.float64)
    rotated = RotatedTask(base, seed=7)
    qx, qy = rotated.rotations
    np.testing.assert_allclose(rotated.log_density_ratio(x @ qx.T, y @ qy.T), base.log_density_ratio(x, y), atol=1e-9)
    cubed = TransformedTask(base, transform="cube")
    np.testing.assert_allclose(cubed.log_density_ratio(x**3, y**3), base.log_density_ratio(x, y), atol=1e-8)
    asinh = TransformedTask(rotated, transform="asinh")
    np.testing.assert_allclose(asinh.log_density_ratio(np.arcsinh(x @ qx.T), np.arcsinh(y @ qy.T)), base.log_density_ratio(x, y), atol=1e-8)


def test_one_dimensional_points_are_one_column():
    task = CorrelatedGaussianTask(1, 0.5)
    x, y = task.sample(10, seed=0)
    np.testing.assert_allclose(task.log_density_ratio(x[:, 0], y[:, 0]), task.log_density_ratio(x, y))


@pytest.mark.parametrize(
    ("x", "y", "match"),
    [
        (np.zeros((5, 2)), np.zeros((5, 3)), "x must have 3 column"),
        (np.zeros((5, 3)), np.zeros((4, 3)), "same number of samples"),
        (np.full((5, 3), np.nan), np.zeros((5, 3)), "x"),
        (np.zeros((5, 3, 1)), np.zeros((5, 3)), "x"),
    ],
)
def test_bad_points_raise_value_error_naming_the_argument(x, y, match):
    with pytest.raises(ValueError, match=match):
        CorrelatedGaussianTask(3, 1.0).log_density_ratio(x, y)


def test_bad_types_and_wrapped_tasks_without_ratio_raise_type_error():
    with pytest.raises(TypeError, match="x"):
        CorrelatedGaussianTask(1, 1.0).log_density_ratio(["a", "b"], [0.0, 1.0])

    class SamplesOnly:
        dim_x = dim_y = 1
        name = "samples-only"
        mutual_information = 0.0

        def sample(self, n, seed, *, dtype=np.float32):
            return np.zeros((n, 1), dtype), np.zeros((n, 1), dtype)

    with pytest.raises(TypeError, match="no log_density_ratio"):
        RotatedTask(SamplesOnly()).log_density_ratio(np.zeros(3), np.zeros(3))
