"""Additive uniform noise: the closed form against numerical integration, the exact log ratio, the sampler."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from scipy import integrate

from miestim.tasks import AdditiveUniformTask


def numerical_mi(eps: float) -> float:
    """h(Y) - log(2 eps), with h(Y) = -∫ p log p of the density of U(0,1) + U(-eps, eps) by quadrature."""

    def density(y: float) -> float:
        return max(0.0, min(y + eps, 1.0) - max(y - eps, 0.0)) / (2 * eps)

    def integrand(y: float) -> float:
        p = density(y)
        return -p * math.log(p) if p > 0 else 0.0

    kinks = sorted({-eps, eps, 1 - eps, 1 + eps})
    h = sum(integrate.quad(integrand, a, b, epsabs=1e-12, epsrel=1e-12)[0] for a, b in pairwise(kinks))
    return h - math.log(2 * eps)


@pytest.mark.parametrize("eps", [0.01, 0.1, 0.2, 0.5, 0.7, 3.0])
def test_closed_form_matches_quadrature(eps):
    assert AdditiveUniformTask(eps).mutual_information == pytest.approx(numerical_mi(eps), abs=1e-9)


def test_issue_values_and_continuity():
    assert AdditiveUniformTask(0.2).mutual_information == pytest.approx(1.1163, abs=5e-5)
    assert AdditiveUniformTask(0.1).mutual_information == pytest.approx(1.7094, abs=5e-5)
    assert AdditiveUniformTask(0.5).mutual_information == pytest.approx(AdditiveUniformTask(0.5 + 1e-12).mutual_information, abs=1e-9)


@pytest.mark.parametrize("eps", [0.2, 0.8])
def test_mean_log_ratio_over_samples_is_the_mi(eps):
    task = AdditiveUniformTask(eps)
    ratio = task.log_density_ratio(*task.sample(200_000, 2, dtype=np.float64))
    assert np.isfinite(ratio).all()
    se = ratio.std() / np.sqrt(ratio.size)
    assert abs(ratio.mean() - task.mutual_information) < 4 * se


def test_log_ratio_values_and_minus_infinity_off_the_support():
    task = AdditiveUniformTask(0.2)
    x = np.array([0.5, 0.5, 0.1, 0.5, 1.5, 0.95])
    y = np.array([0.6, 0.9, -0.05, 0.3, 1.5, 1.1])
    expected = [-math.log(0.4), -np.inf, -math.log(0.15), -math.log(0.4), -np.inf, -math.log(0.1)]
    np.testing.assert_allclose(task.log_density_ratio(x, y), expected, rtol=1e-12)


def test_sampler():
    x, y = AdditiveUniformTask(0.2).sample(10_000, 0, dtype=np.float64)
    assert x.shape == y.shape == (10_000, 1)
    assert 0 <= x.min() and x.max() <= 1 and np.abs(y - x).max() <= 0.2
    assert abs((y - x).mean()) < 4 * 0.2 / math.sqrt(3 * 10_000)


def test_properties():
    task = AdditiveUniformTask(0.25)
    assert (task.dim_x, task.dim_y, task.epsilon, task.name) == (1, 1, 0.25, "additive-uniform-eps0.25")
    assert AdditiveUniformTask(0.25, name="u").name == "u" and "epsilon=0.25" in repr(task)


@pytest.mark.parametrize(
    "eps, error, match",
    [
        (0, ValueError, "epsilon must be a finite number > 0"),
        (-0.1, ValueError, "epsilon must be a finite number > 0"),
        (float("nan"), ValueError, "epsilon must be a finite number > 0"),
        ("0.2", TypeError, "epsilon must be a real number"),
    ],
)
def test_bad_epsilon(eps, error, match):
    with pytest.raises(error, match=match):
        AdditiveUniformTask(eps)


def test_bad_points():
    with pytest.raises(ValueError, match="y must have 1 column"):
        AdditiveUniformTask(0.2).log_density_ratio(np.zeros(3), np.zeros((3, 2)))
