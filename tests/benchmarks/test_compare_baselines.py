"""The comparison's Gaussian-copula plug-in: exact for Gaussian copulas, blind to rank-preserving maps."""

from __future__ import annotations

import numpy as np
import pytest

from benchmarks.compare.baselines import gaussian_copula_mi, normal_scores
from miestim.gaussian import GaussianChainTask, GaussianTask
from miestim.tasks import StudentTTask


def test_close_to_the_truth_on_a_gaussian_and_unchanged_by_monotone_maps():
    task = GaussianTask.correlated_pairs(3, 2, pairs=2, rho=0.7)
    x, y = task.sample(20_000, 0, dtype=np.float64)
    value = gaussian_copula_mi(x, y)
    assert value == pytest.approx(task.mutual_information, abs=0.02)
    assert gaussian_copula_mi(x**3, np.exp(y)) == pytest.approx(value, abs=1e-12)  # ranks, hence scores, are unchanged


def test_conditional_and_blind_spots():
    chain = GaussianChainTask(1)
    x, y, z = chain.sample(20_000, 0, dtype=np.float64)
    assert gaussian_copula_mi(x, y, z) == pytest.approx(chain.conditional_mutual_information, abs=0.03)
    x, y = StudentTTask(2, 2, df=3).sample(5_000, 0)
    assert gaussian_copula_mi(x, y) < 0.02  # uncorrelated scores: the shared scale is invisible to it


def test_normal_scores():
    scores = normal_scores(np.array([[3.0], [1.0], [2.0], [2.0]]))
    np.testing.assert_allclose(scores[:, 0], [1.1503493803760079, -1.1503493803760079, 0.0, 0.0], atol=1e-12)  # mid-ranks 4, 1, 2.5, 2.5
