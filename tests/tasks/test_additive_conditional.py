"""AdditiveConditionalTask: a closed-form CMI whose conditioning variable is uniform, Student-t or Laplace."""

import math

import numpy as np
import pytest

import miestim
from miestim.tasks import AdditiveConditionalTask


@pytest.mark.parametrize("law", ["uniform", "student-t", "laplace"])
def test_the_truth_is_the_mean_exact_log_ratio_of_fresh_rows(law):
    task = AdditiveConditionalTask(20, rho=0.8, z_law=law, dim=2)
    x, y, z = task.sample(100_000, seed=1, dtype=np.float64)
    assert x.shape == y.shape == (100_000, 2) and z.shape == (100_000, 20)
    ratio = task.log_density_ratio(x, y, z)
    assert task.conditional_mutual_information == pytest.approx(-math.log(1 - 0.64))
    assert abs(ratio.mean() - task.conditional_mutual_information) < 4 * ratio.std() / math.sqrt(ratio.size)
    # Z's coordinates have unit variance whatever the law (the t's estimated variance is noisy: heavy tails).
    assert np.allclose(z.var(axis=0).mean(), 1.0, atol=0.05)


def test_z_has_the_law_asked_for_and_the_noise_given_z_the_correlation():
    task = AdditiveConditionalTask(5, rho=-0.5, z_law="uniform", seed=3)
    x, y, z = task.sample(50_000, seed=0, dtype=np.float64)
    assert np.abs(z).max() <= math.sqrt(3)
    _, _, heavy = AdditiveConditionalTask(5, rho=-0.5, z_law="student-t", df=5).sample(50_000, seed=0, dtype=np.float64)
    assert np.abs(heavy).max() > 5  # a t(5) tail, not a bounded law
    e_x, e_y = x - z @ task._a, y - z @ task._b
    assert np.corrcoef(e_x[:, 0], e_y[:, 0])[0, 1] == pytest.approx(-0.5, abs=0.02)
    # Z does explain X: the loadings are not zero.
    assert np.corrcoef((z @ task._a)[:, 0], x[:, 0])[0, 1] > 0.3


def test_names_and_arguments_are_checked():
    assert AdditiveConditionalTask(20, rho=0.6, z_law="student-t", df=4, dim=3).name == "additive-conditional-student-t4-z20-rho0.6-d3"
    with pytest.raises(ValueError, match="df must be > 2"):
        AdditiveConditionalTask(20, rho=0.6, z_law="student-t", df=2)
    with pytest.raises(ValueError, match="z_law"):
        AdditiveConditionalTask(20, rho=0.6, z_law="cauchy")
    with pytest.raises(ValueError, match="rho"):
        AdditiveConditionalTask(20, rho=1.0)
    with pytest.raises(ValueError, match="z must"):
        AdditiveConditionalTask(3, rho=0.5).log_density_ratio(np.zeros((2, 1)), np.zeros((2, 1)), np.zeros((2, 2)))


def test_validate_scores_a_cmi_estimator_on_it():
    task = AdditiveConditionalTask(4, rho=0.8, z_law="laplace")
    report = miestim.validate(lambda x, y, z: miestim.estimate_cmi(x, y, z, progress=False), [task], n=2000, seeds=[0], progress=False)
    (row,) = report.rows
    assert row.status == "ok" and row.quantity == "I(X;Y|Z)" and row.truth == pytest.approx(task.conditional_mutual_information)
