"""ScaleMixtureTask: its density against direct integration over the scale, its Gaussian limit, its Monte Carlo truth."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate, stats

from miestim.gaussian import mutual_information
from miestim.tasks import ScaleMixtureTask


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
def test_block_density_equals_the_integral_over_the_scale(sigma):
    cov = np.array([[1.0, 0.3], [0.3, 2.0]])
    task = ScaleMixtureTask(1, 1, sigma=sigma, dispersion=cov, mc_samples=1000)
    # The origin and a far outlier put the integrand's peak outside xi in [-10, 10] (at -2 sigma and near 13 / sigma).
    points = np.array([[0.0, 0.0], [0.5, -1.0], [4.0, 3.0], [40.0, -60.0]])

    def density(v: np.ndarray) -> float:
        law = lambda xi: stats.multivariate_normal(np.zeros(2), math.exp(2 * sigma * xi) * cov).pdf(v) * stats.norm.pdf(xi)  # noqa: E731
        return integrate.quad(law, -40, 40, points=(0.0, 4 / sigma, 13 / sigma), limit=1000, epsabs=0, epsrel=1e-11)[0]

    expected = np.log([density(v) for v in points])
    np.testing.assert_allclose(task._log_density((0, 1), points), expected, rtol=0, atol=1e-8)


def test_density_integrates_to_one():
    task = ScaleMixtureTask(1, 1, sigma=0.5, mc_samples=1000)
    v = np.linspace(-60, 60, 60001)
    assert np.trapezoid(np.exp(task._log_density((0,), v[:, None])), v) == pytest.approx(1.0, abs=1e-6)


def test_a_small_scale_spread_is_the_gaussian_of_the_dispersion():
    cov = np.array([[1.0, 0.8], [0.8, 1.0]])
    task = ScaleMixtureTask(1, 1, sigma=1e-3, dispersion=cov)
    truth = mutual_information(cov, [0], [1])
    assert abs(task.mutual_information - truth) < 4 * task.mutual_information_stderr
    assert task.name == "scale-mixture-1x1-sigma0.001-gmi0.5108"


def test_identity_dispersion_is_dependent_through_the_scale_only():
    task = ScaleMixtureTask(2, 2, sigma=1.0, mc_samples=20_000)
    x, y = task.sample(50_000, seed=0, dtype=np.float64)
    assert abs(np.corrcoef(x[:, 0], y[:, 0])[0, 1]) < 0.02  # uncorrelated...
    assert np.corrcoef(np.log(np.abs(x[:, 0])), np.log(np.abs(y[:, 0])))[0, 1] > 0.3  # ...but not independent
    # The MI grows with the spread of the scale, and its sample mean on fresh rows agrees with the stored truth.
    assert 0 < ScaleMixtureTask(2, 2, sigma=0.5, mc_samples=20_000).mutual_information < task.mutual_information
    fresh = task.log_density_ratio(x, y)
    se = math.hypot(fresh.std() / math.sqrt(fresh.size), task.mutual_information_stderr)
    assert abs(fresh.mean() - task.mutual_information) < 4 * se


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"sigma": 2.5}, ValueError, r"sigma must be in \(0, 2\]"),
        ({"sigma": 0.0}, ValueError, "sigma"),
        ({"sigma": 1.0, "mc_samples": 10}, ValueError, "mc_samples"),
        ({"sigma": 1.0, "dispersion": np.eye(3)}, ValueError, r"dispersion must have shape .* \(4, 4\)"),
        ({"sigma": "1"}, TypeError, "sigma"),
    ],
)
def test_bad_arguments_name_themselves(kwargs, error, match):
    with pytest.raises(error, match=match):
        ScaleMixtureTask(2, 2, **kwargs)
