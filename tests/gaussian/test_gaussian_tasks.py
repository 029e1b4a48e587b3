"""Gaussian sampling tasks: true values, invariance of wrappers, sampling correctness, input checks."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats

from miestim.gaussian import (
    CorrelatedGaussianTask,
    GaussianChainTask,
    GaussianCMITask,
    GaussianTask,
    RotatedTask,
    TransformedTask,
    conditional_mutual_information,
    correlated_mi,
    mutual_information,
)

COV4 = np.array(
    [
        [2.0, 0.6, 0.3, 0.5],
        [0.6, 1.0, 0.2, 0.1],
        [0.3, 0.2, 1.5, 0.4],
        [0.5, 0.1, 0.4, 1.0],
    ]
)

MI_TASKS = {
    "correlated": lambda: CorrelatedGaussianTask(3, 1.2),
    "general": lambda: GaussianTask(COV4, [2, 0], [3]),
    "rotated": lambda: RotatedTask(CorrelatedGaussianTask(3, 1.2), seed=4),
    "cube": lambda: TransformedTask(CorrelatedGaussianTask(3, 1.2), transform="cube"),
    "asinh": lambda: TransformedTask(GaussianTask(COV4, [2, 0], [3]), transform="asinh"),
    "normal-cdf": lambda: TransformedTask(CorrelatedGaussianTask(2, 0.7), transform="normal-cdf"),
}
CMI_TASKS = {
    "cmi": lambda: GaussianCMITask(COV4, [0], [1, 3], [2]),
    "chain": lambda: GaussianChainTask(2),
    "chain-null": lambda: GaussianChainTask(2, target="x;z|y"),
}


def second_moment_check(samples: np.ndarray, cov: np.ndarray, n_se: float = 4.0) -> None:
    """Empirical second moments of zero-mean samples match ``cov`` within ``n_se`` standard errors.

    For zero-mean Gaussians, Isserlis' theorem gives Var(V_i V_j) = S_ii S_jj + S_ij^2, so the mean
    of n products has standard error sqrt((S_ii S_jj + S_ij^2) / n). Entries are compared to 4 SE:
    a two-sided normal tail of 6e-5 per entry (and the seed is fixed, so the test is deterministic).
    """
    v = samples.astype(np.float64)
    n = v.shape[0]
    empirical = v.T @ v / n
    se = np.sqrt((np.outer(np.diag(cov), np.diag(cov)) + cov**2) / n)
    assert np.all(np.abs(empirical - cov) <= n_se * se), np.max(np.abs(empirical - cov) / se)


# ---------------------------------------------------------------- shared task contract


@pytest.mark.parametrize("make", list(MI_TASKS.values()), ids=list(MI_TASKS))
def test_mi_task_contract(make):
    task = make()
    x, y = task.sample(64, 0)
    assert x.shape == (64, task.dim_x) and y.shape == (64, task.dim_y)
    assert x.dtype == np.float32 and y.dtype == np.float32
    x2, y2 = task.sample(64, 0)
    np.testing.assert_array_equal(x, x2)
    np.testing.assert_array_equal(y, y2)
    x3, _ = task.sample(64, 1)
    assert not np.array_equal(x, x3)
    x64, y64 = task.sample(64, 0, dtype=np.float64)
    assert x64.dtype == np.float64 and y64.dtype == np.float64
    np.testing.assert_allclose(x64.astype(np.float32), x)
    assert isinstance(task.mutual_information, float) and task.mutual_information > 0
    assert isinstance(task.name, str) and task.name
    assert type(task).__name__ in repr(task)


@pytest.mark.parametrize("make", list(CMI_TASKS.values()), ids=list(CMI_TASKS))
def test_cmi_task_contract(make):
    task = make()
    x, y, z = task.sample(32, 5)
    assert (x.shape, y.shape, z.shape) == ((32, task.dim_x), (32, task.dim_y), (32, task.dim_z))
    assert {a.dtype for a in (x, y, z)} == {np.dtype(np.float32)}
    for a, b in zip((x, y, z), task.sample(32, 5)):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(x, task.sample(32, 6)[0])
    assert all(a.dtype == np.float64 for a in task.sample(4, 0, dtype="float64"))
    assert isinstance(task.conditional_mutual_information, float)
    assert type(task).__name__ in repr(task) and task.name


# ---------------------------------------------------------------- MI tasks


def test_correlated_task_true_value_matches_closed_forms():
    task = CorrelatedGaussianTask(4, 2.0)
    assert task.mutual_information == 2.0
    assert correlated_mi(4, task.rho) == pytest.approx(2.0, rel=1e-12)
    assert mutual_information(task.covariance, range(4), range(4, 8)) == pytest.approx(2.0, rel=1e-10)
    assert repr(task) == "CorrelatedGaussianTask(dim=4, mi=2)"


def test_correlated_task_with_zero_mi_is_independent():
    task = CorrelatedGaussianTask(2, 0)
    assert task.rho == 0.0 and task.mutual_information == 0.0
    np.testing.assert_array_equal(task.covariance, np.eye(4))


def test_correlated_task_stays_finite_at_huge_mi():
    # The noise scale is exp(-mi / dim) directly, not sqrt(1 - rho^2) after rho has rounded to 1.
    x, y = CorrelatedGaussianTask(1, 20.0).sample(1000, 0, dtype=np.float64)
    assert 0 < np.max(np.abs(y - x)) < 1e-7  # noise exp(-20) ~ 2e-9 survives in float64
    task = CorrelatedGaussianTask(1, 1000.0)
    assert task.mutual_information == 1000.0 and np.all(np.isfinite(task.sample(10, 0)[1]))


def test_correlated_task_empirical_covariance():
    task = CorrelatedGaussianTask(3, 1.5)
    x, y = task.sample(200_000, 123)
    second_moment_check(np.hstack([x, y]), task.covariance)


def test_general_task_true_value_and_covariance():
    task = GaussianTask(COV4, [2, 0], [3])
    assert task.mutual_information == pytest.approx(mutual_information(COV4, [2, 0], [3]), rel=1e-12)
    np.testing.assert_array_equal(task.covariance, COV4[np.ix_([2, 0, 3], [2, 0, 3])])
    x, y = task.sample(100_000, 7)
    second_moment_check(np.hstack([x, y]), task.covariance)
    assert GaussianTask(COV4, 0, 1, name="mine").name == "mine"


def test_rotated_task_keeps_mi_and_rotates_base_samples():
    base = CorrelatedGaussianTask(3, 1.2)
    task = RotatedTask(base, seed=4)
    assert task.mutual_information == base.mutual_information
    qx, qy = task.rotations
    for q in (qx, qy):
        np.testing.assert_allclose(q @ q.T, np.eye(3), atol=1e-12)
    x, y = task.sample(50, 9, dtype=np.float64)
    bx, by = base.sample(50, 9, dtype=np.float64)
    np.testing.assert_allclose(x, bx @ qx.T)
    np.testing.assert_allclose(y, by @ qy.T)
    assert not np.allclose(qx, RotatedTask(base, seed=5).rotations[0])
    # The rotated covariance gives the same closed-form MI: an independent check of invariance.
    joint = np.block([[qx, np.zeros((3, 3))], [np.zeros((3, 3)), qy]])
    rotated_cov = joint @ base.covariance @ joint.T
    assert mutual_information(rotated_cov, range(3), range(3, 6)) == pytest.approx(1.2, rel=1e-10)
    assert repr(task) == "RotatedTask(CorrelatedGaussianTask(dim=3, mi=1.2), seed=4)"
    assert RotatedTask(CorrelatedGaussianTask(1, 0.3)).rotations[0].shape == (1, 1)


@pytest.mark.parametrize(
    ("transform", "g"), [("cube", lambda v: v**3), ("asinh", np.arcsinh), ("CUBE", lambda v: v**3), ("normal-cdf", scipy.stats.norm.cdf)]
)
def test_transformed_task_keeps_mi_and_maps_base_samples(transform, g):
    base = GaussianTask(COV4, [2, 0], [3])
    task = TransformedTask(base, transform=transform)
    assert task.mutual_information == base.mutual_information
    x, y = task.sample(50, 2, dtype=np.float64)
    bx, by = base.sample(50, 2, dtype=np.float64)
    np.testing.assert_allclose(x, g(bx))
    np.testing.assert_allclose(y, g(by))
    assert task.name == f"{transform.lower()}(gaussian-2x1)"


# ---------------------------------------------------------------- CMI tasks


def test_gaussian_cmi_task_true_value():
    task = GaussianCMITask(COV4, [0], [1, 3], [2])
    assert task.conditional_mutual_information == pytest.approx(conditional_mutual_information(COV4, [0], [1, 3], [2]), rel=1e-12)
    x, y, z = task.sample(100_000, 3)
    second_moment_check(np.hstack([x, y, z]), task.covariance)


def test_chain_task_values():
    # Independent per-coordinate reference: partial correlation of X, Y given Z from the scalar covariances.
    vx, vy, vz = 100.0, 101.0, 126.0
    r_xy, r_xz, r_yz = vx / math.sqrt(vx * vy), vx / math.sqrt(vx * vz), vy / math.sqrt(vy * vz)
    partial = (r_xy - r_xz * r_yz) / math.sqrt((1 - r_xz**2) * (1 - r_yz**2))
    per_dim = -0.5 * math.log(1 - partial**2)
    assert round(per_dim, 4) == 1.5185
    task = GaussianChainTask(5)
    assert task.conditional_mutual_information == pytest.approx(5 * per_dim, rel=1e-9)
    assert round(task.conditional_mutual_information, 3) == 7.592
    assert GaussianChainTask(5, target="x;z|y").conditional_mutual_information == pytest.approx(0.0, abs=1e-9)
    yz_x = GaussianChainTask(3, target="y;z|x").conditional_mutual_information
    xyz_cov = GaussianChainTask(3).covariance  # ordered (X, Y, Z)
    assert yz_x == pytest.approx(conditional_mutual_information(xyz_cov, range(3, 6), range(6, 9), range(3)), rel=1e-12)
    assert yz_x > 0
    assert repr(task) == "GaussianChainTask(dim=5, sigma_x=10, sigma_noise=1, sigma_z=5, target='x;y|z')"


def test_chain_task_orders_the_triple_by_target_and_samples_its_covariance():
    x, y, z = GaussianChainTask(2).sample(100, 8)
    a, b, c = GaussianChainTask(2, target="x;z|y").sample(100, 8)
    np.testing.assert_array_equal(a, x)
    np.testing.assert_array_equal(b, z)
    np.testing.assert_array_equal(c, y)
    task = GaussianChainTask(2, sigma_x=2.0, sigma_noise=1.5, sigma_z=0.5)
    second_moment_check(np.hstack(task.sample(100_000, 1)), task.covariance)


# ---------------------------------------------------------------- input checks


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: CorrelatedGaussianTask(0, 1.0), ValueError, "dim must be an integer >= 1; got 0"),
        (lambda: CorrelatedGaussianTask(2.5, 1.0), TypeError, "dim must be an integer >= 1"),
        (lambda: CorrelatedGaussianTask(2, -1.0), ValueError, "mi must be a finite number >= 0"),
        (lambda: CorrelatedGaussianTask(2, "1"), TypeError, "mi must be a real number"),
        (lambda: GaussianTask(np.ones((2, 2)), [0], [1]), ValueError, "cov must be positive definite"),
        (lambda: GaussianTask(COV4, [0, 1], [1]), ValueError, "x_idx and y_idx must not overlap"),
        (lambda: RotatedTask("task"), TypeError, "task must be an MI task with sample, .*got str without"),
        (lambda: RotatedTask(CorrelatedGaussianTask(2, 1.0), seed=-1), ValueError, "seed must be an integer >= 0"),
        (lambda: RotatedTask(CorrelatedGaussianTask(2, 1.0), seed=1.0), TypeError, "seed must be an integer >= 0"),
        (
            lambda: TransformedTask(GaussianChainTask(2)),
            TypeError,
            "task must be an MI task .*without mutual_information",
        ),
        (
            lambda: TransformedTask(CorrelatedGaussianTask(2, 1.0), transform="square"),
            ValueError,
            r"transform must be one of \['asinh', 'cube', 'normal-cdf'\]; got 'square'",
        ),
        (lambda: TransformedTask(CorrelatedGaussianTask(2, 1.0), transform=3), TypeError, "transform must be one of"),
        (lambda: GaussianCMITask(COV4, [0], [1], []), ValueError, "z_idx must contain at least one index"),
        (lambda: GaussianCMITask(COV4, [0], [1], [1, 2]), ValueError, "y_idx and z_idx must not overlap"),
        (lambda: GaussianChainTask(0), ValueError, "dim must be an integer >= 1"),
        (lambda: GaussianChainTask(2, sigma_x=0.0), ValueError, "sigma_x must be a finite number > 0; got 0.0"),
        (lambda: GaussianChainTask(2, sigma_noise=-1.0), ValueError, "sigma_noise must be a finite number > 0"),
        (lambda: GaussianChainTask(2, sigma_z="5"), TypeError, "sigma_z must be a real number"),
        (
            lambda: GaussianChainTask(2, target="x;y"),
            ValueError,
            r"target must be one of \['x;y\|z', 'x;z\|y', 'y;z\|x'\]; got 'x;y'",
        ),
        (lambda: GaussianChainTask(2, target=None), TypeError, "target must be one of"),
    ],
)
def test_invalid_task_arguments(call, error, match):
    with pytest.raises(error, match=match):
        call()


@pytest.mark.parametrize("make", [*MI_TASKS.values(), *CMI_TASKS.values()], ids=[*MI_TASKS, *CMI_TASKS])
def test_invalid_sample_arguments(make):
    task = make()
    with pytest.raises(ValueError, match="n must be an integer >= 1; got 0"):
        task.sample(0, 0)
    with pytest.raises(TypeError, match="n must be an integer >= 1"):
        task.sample(10.0, 0)
    with pytest.raises(ValueError, match="seed must be an integer >= 0; got -3"):
        task.sample(10, -3)
    with pytest.raises(TypeError, match="seed must be an integer >= 0"):
        task.sample(10, None)
    with pytest.raises(TypeError, match="dtype must be a numpy floating dtype such as np.float32"):
        task.sample(10, 0, dtype=np.int32)
    with pytest.raises(TypeError, match="dtype must be a numpy floating dtype"):
        task.sample(10, 0, dtype="not-a-dtype")
