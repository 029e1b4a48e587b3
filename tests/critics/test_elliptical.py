"""The elliptical critic: Tyler's shape, the log density ratio of elliptical laws whatever their tails, and its edges."""

import numpy as np
import pytest
import torch

import miestim
from miestim.critics import EllipticalCritic
from miestim.critics.elliptical import tyler_shape
from miestim.gaussian import CorrelatedGaussianTask
from miestim.scaling import RankGaussianizer
from miestim.tasks import ScaleMixtureTask, StudentTTask

DISPERSION = np.array([[1.0, 0.3, 0.5, 0.0], [0.3, 1.0, 0.0, 0.4], [0.5, 0.0, 1.0, 0.2], [0.0, 0.4, 0.2, 1.0]])


def _split(task, n_fit: int, n_test: int, seed: int = 0) -> tuple[torch.Tensor, ...]:
    x, y = (torch.as_tensor(a) for a in task.sample(n_fit + n_test, seed=seed))
    return x[:n_fit], y[:n_fit], x[n_fit:], y[n_fit:]


def test_tyler_shape_recovers_a_cauchy_dispersion_up_to_scale():
    task = StudentTTask(2, 2, df=1, dispersion=DISPERSION)
    x, y = task.sample(20_000, seed=0)
    z = torch.as_tensor(np.hstack([x, y]), dtype=torch.float64)
    shape = tyler_shape(z)  # the centre is known: 0
    assert float(torch.trace(shape)) == pytest.approx(4.0)
    # The covariance of a Cauchy law does not exist; the shape is the dispersion, scaled to trace 4.
    np.testing.assert_allclose(shape.numpy(), DISPERSION, atol=0.04)


@pytest.mark.parametrize(
    "task",
    [StudentTTask(3, 3, df=1), StudentTTask(2, 2, df=3, dispersion=DISPERSION), ScaleMixtureTask(2, 2, sigma=1.0, mc_samples=20_000)],
    ids=lambda t: t.name,
)
def test_the_held_out_mean_score_reads_the_mi_of_elliptical_laws(task):
    x, y, x_test, y_test = _split(task, 4000, 4000)
    scores = EllipticalCritic.fit(x, y).pair_scores(x_test, y_test).double()
    exact = torch.as_tensor(task.log_density_ratio(x_test.numpy(), y_test.numpy()))
    # Against the exact log ratio on the same rows, their noise shared: about 0.01 nats of kernel bias here.
    assert abs(float(scores.mean() - exact.mean())) < 0.03, (float(scores.mean()), float(exact.mean()))
    assert float(torch.corrcoef(torch.stack([scores, exact]))[0, 1]) > 0.9


def test_the_score_matrix_scores_every_pair_as_pair_scores_does():
    x, y, x_test, y_test = _split(StudentTTask(2, 3, df=2), 1000, 40)
    critic = EllipticalCritic.fit(x, y)
    matrix = critic(x_test, y_test)
    shuffled = torch.roll(torch.arange(40), 7)
    assert matrix.shape == (40, 40) and matrix.dtype == x_test.dtype
    torch.testing.assert_close(matrix.diagonal(), critic.pair_scores(x_test, y_test), atol=1e-5, rtol=0)
    torch.testing.assert_close(matrix[torch.arange(40), shuffled], critic.pair_scores(x_test, y_test[shuffled]), atol=1e-5, rtol=0)


def test_a_gaussian_is_an_elliptical_law():
    task = CorrelatedGaussianTask(3, 1.0)
    x, y, x_test, y_test = _split(task, 4000, 4000)
    value = float(EllipticalCritic.fit(x, y).pair_scores(x_test, y_test).double().mean())
    assert value == pytest.approx(1.0, abs=0.06)


def test_queries_far_out_or_at_the_centre_score_finite_and_tail_pairs_move_in_along_their_ray():
    x, y, _, _ = _split(StudentTTask(2, 2, df=1), 2000, 1)
    critic = EllipticalCritic.fit(x, y)
    centre = critic.location.to(torch.float32)
    far = torch.tensor([[1e7, -2e7]]), torch.tensor([[3e7, 1e7]])
    scores = critic.pair_scores(torch.cat([centre[None, :2], far[0]]), torch.cat([centre[None, 2:], far[1]]))
    assert bool(torch.isfinite(scores).all())
    # Beyond every fitting radius a pair scores as its direction does at the largest one: moving farther changes nothing.
    assert float(critic.pair_scores(far[0] * 10, far[1] * 10)) == pytest.approx(float(scores[1]), abs=1e-4)


def test_a_fit_needs_more_rows_than_columns():
    with pytest.raises(ValueError, match="more rows than columns; got 4 rows of 4 columns"):
        EllipticalCritic.fit(torch.randn(4, 2), torch.randn(4, 2))


def test_the_family_reads_the_data_as_given_and_wins_the_race_on_heavy_tails():
    task = StudentTTask(4, 4, df=2)
    x, y = task.sample(3000, seed=0)
    res = miestim.estimate_mi(x, y, families=("gaussian", "elliptical"), progress=False)
    assert res.extra["families"] == ["elliptical"] * 3 and res.extra["readout"] == "held-out"
    # The Gaussian copula of an uncorrelated Student-t pair reads about 0 of its 0.37 nats.
    assert all(v["gaussian"] < 0.05 for v in res.extra["validation_readout"])
    assert abs(res.value - task.mutual_information) < 4 * res.stderr + 0.02
    # On normal scores the same law is no longer elliptical: the family must not see them.
    xt, yt = torch.as_tensor(x), torch.as_tensor(y)
    rows = miestim.crossfit.fold_splits(3000, 3, 0.125, generator=torch.Generator().manual_seed(0))[0]
    sx, sy = RankGaussianizer(xt, rows=rows.train), RankGaussianizer(yt, rows=rows.train)
    fold = miestim.crossfit.Fold(xt, yt, rows, sx, sy, sx(xt[rows.validation]), sy(yt[rows.validation]))
    seen = miestim.crossfit.EllipticalFamily().view(fold)
    assert seen.sx is None and seen.sy is None and torch.equal(seen.x_val, xt[rows.validation]) and torch.equal(seen.y_val, yt[rows.validation])
    assert all(torch.equal(a, b[rows.train]) for a, b in zip(seen.training_rows(), (xt, yt)))
    assert miestim.crossfit.GaussianFamily().view(fold) is fold
