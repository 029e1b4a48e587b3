"""The multivariate Student-t task: its MI against scipy's entropies, its exact log ratio, its sampler."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest
from scipy import stats
from scipy.special import digamma, gammaln

from miestim.gaussian import GaussianTask, mutual_information
from miestim.tasks import StudentTTask, student_t_tail_mi

DISPERSION = GaussianTask.correlated_pairs(3, 2, pairs=2, rho=0.6).covariance + 0.1 * np.ones((5, 5))


def t_entropy(dim: int, df: float, cov: np.ndarray) -> float:
    """Entropy of t_df(0, cov) in `dim` dimensions, written out from Arellano-Valle et al. (2013)."""
    _, logdet = np.linalg.slogdet(cov)
    return (
        0.5 * logdet
        + gammaln(df / 2)
        + dim / 2 * np.log(df * np.pi)
        - gammaln((df + dim) / 2)
        + (df + dim) / 2 * (digamma((df + dim) / 2) - digamma(df / 2))
    )


def scipy_entropy(cov: np.ndarray, df: float) -> float:
    return float(stats.multivariate_t(np.zeros(len(cov)), cov, df=df).entropy())


@pytest.mark.parametrize("dim_x, dim_y, df", [(1, 1, 1.0), (2, 2, 2.0), (6, 6, 4.0), (5, 5, 2.0), (1, 3, 0.7), (4, 2, 30.0)])
def test_identity_dispersion_mi_is_the_entropy_difference(dim_x, dim_y, df):
    task = StudentTTask(dim_x, dim_y, df=df)
    d = dim_x + dim_y
    expected = scipy_entropy(np.eye(dim_x), df) + scipy_entropy(np.eye(dim_y), df) - scipy_entropy(np.eye(d), df)
    assert task.mutual_information == pytest.approx(expected, abs=1e-10)
    assert task.mutual_information == pytest.approx(student_t_tail_mi(df, dim_x, dim_y), abs=0)


def test_issue_and_spec_values():
    assert StudentTTask(6, 6, df=4).mutual_information == pytest.approx(0.25953, abs=5e-6)  # the issue's 0.2595
    assert StudentTTask(2, 2, df=2).mutual_information == pytest.approx(0.19315, abs=5e-6)


def test_general_dispersion_is_gaussian_part_plus_tail_term():
    task = StudentTTask(3, 2, df=3.5, dispersion=DISPERSION)
    xs, ys = [0, 1, 2], [3, 4]
    by_entropy = t_entropy(3, 3.5, DISPERSION[np.ix_(xs, xs)]) + t_entropy(2, 3.5, DISPERSION[np.ix_(ys, ys)]) - t_entropy(5, 3.5, DISPERSION)
    assert task.mutual_information == pytest.approx(by_entropy, abs=1e-10)
    assert task.mutual_information == pytest.approx(mutual_information(DISPERSION, xs, ys) + student_t_tail_mi(3.5, 3, 2), abs=1e-12)
    assert t_entropy(5, 3.5, DISPERSION) == pytest.approx(scipy_entropy(DISPERSION, 3.5), abs=1e-10)


def test_tail_term_vanishes_in_the_gaussian_limit():
    values = [student_t_tail_mi(df, 3, 3) for df in (1, 4, 16, 64, 1e4)]
    assert all(a > b > 0 for a, b in pairwise(values))
    assert values[-1] < 1e-3


def test_log_density_ratio_matches_scipy_logpdf():
    task = StudentTTask(3, 2, df=3.5, dispersion=DISPERSION)
    x, y = task.sample(50, 1, dtype=np.float64)
    joint = stats.multivariate_t(np.zeros(5), DISPERSION, df=3.5).logpdf(np.hstack([x, y]))
    px = stats.multivariate_t(np.zeros(3), DISPERSION[:3, :3], df=3.5).logpdf(x)
    py = stats.multivariate_t(np.zeros(2), DISPERSION[3:, 3:], df=3.5).logpdf(y)
    np.testing.assert_allclose(task.log_density_ratio(x, y), joint - px - py, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize(
    "task", [StudentTTask(6, 6, df=4), StudentTTask(3, 2, df=1.5, dispersion=DISPERSION), StudentTTask(1, 1, df=1)], ids=lambda t: t.name
)
def test_mean_log_ratio_over_samples_is_the_mi(task):
    ratio = task.log_density_ratio(*task.sample(200_000, 3, dtype=np.float64))
    se = ratio.std() / np.sqrt(ratio.size)
    assert abs(ratio.mean() - task.mutual_information) < 4 * se, (ratio.mean(), task.mutual_information, se)


def test_marginals_are_t_with_one_shared_scale():
    x, y = StudentTTask(2, 2, df=3).sample(40_000, 5, dtype=np.float64)
    assert stats.kstest(x[:, 0], stats.t(df=3).cdf).pvalue > 1e-3  # each coordinate is a univariate t_3
    assert abs(stats.spearmanr(x[:, 0], y[:, 0]).statistic) < 0.03  # uncorrelated (y -> -y is a symmetry)...
    assert np.corrcoef(np.log(x[:, 0] ** 2), np.log(y[:, 0] ** 2))[0, 1] > 0.1  # ...but dependent: one scale per row


def test_properties_and_names():
    task = StudentTTask(3, 2, df=3.5, dispersion=DISPERSION)
    assert (task.dim_x, task.dim_y, task.df) == (3, 2, 3.5)
    np.testing.assert_array_equal(task.dispersion, DISPERSION)
    assert task.name.startswith("student-t-3x2-df3.5-gmi") and StudentTTask(1, 1, df=2, name="t").name == "t"
    assert StudentTTask(2, 2, df=2, dispersion=np.eye(4)).name == "student-t-2x2-df2"
    assert "StudentTTask(dim_x=3" in repr(task)


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"dim_x": 0, "dim_y": 2, "df": 2}, ValueError, "dim_x must be an integer >= 1"),
        ({"dim_x": 2, "dim_y": 1.5, "df": 2}, TypeError, "dim_y must be an integer"),
        ({"dim_x": 2, "dim_y": 2, "df": 0}, ValueError, "df must be a finite number > 0"),
        ({"dim_x": 2, "dim_y": 2, "df": float("inf")}, ValueError, "df must be a finite number > 0"),
        ({"dim_x": 2, "dim_y": 2, "df": "4"}, TypeError, "df must be a real number"),
        ({"dim_x": 2, "dim_y": 2, "df": 2, "dispersion": np.eye(3)}, ValueError, r"dispersion must have shape .* \(4, 4\)"),
        ({"dim_x": 1, "dim_y": 1, "df": 2, "dispersion": [[1.0, 2.0], [2.0, 1.0]]}, ValueError, "dispersion must be positive definite"),
        ({"dim_x": 1, "dim_y": 1, "df": 2, "dispersion": "eye"}, TypeError, "dispersion must be a numpy array"),
    ],
)
def test_bad_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        StudentTTask(**kwargs)


def test_bad_tail_term_arguments():
    with pytest.raises(ValueError, match="df must be a finite number > 0"):
        student_t_tail_mi(-1, 2, 2)
    with pytest.raises(ValueError, match="dim_x must be an integer >= 1"):
        student_t_tail_mi(2, 0, 2)
    with pytest.raises(TypeError, match="dim_y must be an integer"):
        student_t_tail_mi(2, 2, None)


def test_bad_points():
    task = StudentTTask(2, 1, df=3)
    with pytest.raises(ValueError, match="x must have 2 column"):
        task.log_density_ratio(np.zeros((4, 3)), np.zeros(4))
    with pytest.raises(ValueError, match="must have the same number of samples"):
        task.log_density_ratio(np.zeros((4, 2)), np.zeros(5))
