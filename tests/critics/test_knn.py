"""The k-NN critic (KSG's log density ratio at a pair) and its place in estimate_mi's family race."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

import miestim
from miestim.critics import KSGCritic
from miestim.crossfit import choose
from miestim.scaling import RankGaussianizer
from miestim.tasks import AdditiveUniformTask


def _pairs(task: miestim.gaussian.CorrelatedGaussianTask, n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    x, y = task.sample(n, seed=seed)
    return torch.as_tensor(x).reshape(n, -1), torch.as_tensor(y).reshape(n, -1)


@pytest.mark.parametrize("mi", [0.0, 1.0])
def test_mean_score_on_held_out_pairs_is_the_mi(mi):
    task = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=mi)
    critic = KSGCritic(*_pairs(task, 4000, seed=0))
    scores = critic.pair_scores(*_pairs(task, 2000, seed=1)).double()
    stderr = float(scores.std() / math.sqrt(scores.numel()))
    # KSG's bias at 4,000 reference pairs in two dimensions is a few hundredths of a nat (Kraskov et al.,
    # fig. 4); beyond that the mean may stray from the truth by sampling noise only.
    assert abs(float(scores.mean()) - mi) < 4 * stderr + 0.03, (float(scores.mean()), stderr)


def test_score_matrix_holds_every_pair_and_product_pairs_score_low():
    task = miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=2.0)
    critic = KSGCritic(*_pairs(task, 2000, seed=0))
    x, y = _pairs(task, 6, seed=1)
    matrix = critic(x, y)
    assert matrix.shape == (6, 6) and matrix.dtype == torch.float32
    assert torch.equal(matrix.diagonal(), critic.pair_scores(x, y))
    assert torch.equal(matrix[2, 4:5], critic.pair_scores(x[2:3], y[4:5]))
    # Joint pairs lie where the reference pairs are dense together; a product pair does not.
    off = matrix[~torch.eye(6, dtype=torch.bool)]
    assert float(matrix.diagonal().mean()) > float(off.mean()) + 1.0


def test_it_has_nothing_to_train_and_counts_its_reference_rows():
    critic = KSGCritic(torch.randn(50, 1), torch.randn(50, 2), k=4)
    assert list(critic.parameters()) == [] and critic.n_reference == 50 and (critic.x_dim, critic.y_dim) == (1, 2)


@pytest.mark.parametrize(
    ("x", "y", "k", "error", "match"),
    [
        (torch.randn(5, 1), torch.randn(5, 1), 5, ValueError, "k=5 neighbours need more than 5 reference rows; got 5"),
        (torch.randn(5, 1), torch.randn(6, 1), 3, ValueError, r"equal length; got shapes \(5, 1\) and \(6, 1\)"),
        (torch.randn(5), torch.randn(5, 1), 3, ValueError, "must be"),
        (torch.randn(9, 1), torch.randn(9, 1), 0, ValueError, "k must be an integer >= 1"),
    ],
)
def test_bad_reference_rows_are_refused(x, y, k, error, match):
    with pytest.raises(error, match=match):
        KSGCritic(x, y, k=k)


def _brute_force_ksg(x: np.ndarray, y: np.ndarray, k: int) -> float:
    """KSG's first estimator from all pairwise max-norm distances: the definition, written without a tree."""
    from scipy.special import digamma

    dx, dy = (np.abs(v[:, None, :] - v[None, :, :]).max(axis=2) for v in (x, y))
    joint = np.maximum(dx, dy)
    np.fill_diagonal(joint, np.inf)
    eps = np.sort(joint, axis=1)[:, k - 1]
    np.fill_diagonal(dx, np.inf)
    np.fill_diagonal(dy, np.inf)
    n_x, n_y = (dx < eps[:, None]).sum(axis=1), (dy < eps[:, None]).sum(axis=1)
    return float(digamma(k) + digamma(len(x)) - np.mean(digamma(n_x + 1) + digamma(n_y + 1)))


@pytest.mark.parametrize("k", [1, 3, 5])
def test_leave_one_out_scores_are_each_row_scored_by_the_others(k):
    x, y = _pairs(miestim.gaussian.CorrelatedGaussianTask(dim=2, mi=1.0), 80, seed=0)
    scores = KSGCritic(x, y, k=k).leave_one_out_scores()
    assert scores.shape == (80,) and scores.dtype == torch.float64
    for i in (0, 31, 79):
        others = torch.arange(80) != i
        alone = KSGCritic(x[others], y[others], k=k).pair_scores(x[i : i + 1], y[i : i + 1])
        assert float(alone) == pytest.approx(float(scores[i]), abs=1e-5)
    assert float(scores.mean()) == pytest.approx(_brute_force_ksg(x.double().numpy(), y.double().numpy(), k), abs=1e-9)


def _rows(mean: float, noise: torch.Tensor) -> torch.Tensor:
    return (mean + noise).double()


def test_the_simplest_family_within_two_standard_errors_of_the_best_is_kept():
    generator = torch.Generator().manual_seed(0)
    noise, jitter = torch.randn(400, generator=generator), torch.randn(400, generator=generator)
    gaussian = _rows(-0.9, noise)
    # Paired noise: differences are exact, so "within the margin" means a gain of zero.
    assert choose({"gaussian": gaussian, "knn": _rows(-0.8, noise), "residual": _rows(-0.8, noise)}, margin=2.0) == "knn"
    alike = {"gaussian": gaussian, "knn": _rows(-0.8, noise), "residual": _rows(-0.8, noise + 0.01 * jitter)}
    assert choose(alike, margin=2.0) == "knn"
    assert choose({"gaussian": gaussian, "knn": _rows(-0.8, noise), "residual": _rows(-0.7, noise)}, margin=2.0) == "residual"
    assert choose({"gaussian": gaussian, "knn": _rows(-0.95, noise), "residual": _rows(-0.9, noise)}, margin=2.0) == "gaussian"


def test_auto_keeps_the_knn_critic_for_bounded_noise_in_one_dimension():
    task = AdditiveUniformTask(0.2)
    x, y = task.sample(3000, seed=0)
    res = miestim.estimate_mi(x, y, max_steps=300, progress=False)
    assert res.extra["families"] == ["knn", "knn", "knn"]
    assert all(set(v) == {"gaussian", "knn", "elliptical", "residual"} for v in res.extra["validation"])
    # Every fold kept it, so every row is scored against all the others, with KSG's k = 3.
    assert res.extra["readout"] == "leave-one-out" and res.evaluated_on.startswith("all 3000 rows, leave-one-out")
    assert [(c.n_reference, c.k) for c in res.estimator] == [(3000, 3)] and res.row_values.numel() == 3000
    scaled = (RankGaussianizer(torch.as_tensor(v))(torch.as_tensor(v)).double().numpy() for v in (x, y))
    assert res.value == pytest.approx(_brute_force_ksg(*scaled, 3), abs=1e-5)
    # The held-out readout (the fold's critics rebuilt on its 2,000 non-test rows) is kept beside it.
    assert res.extra["held_out"][0] != res.value
    # KSG reads bounded noise a few hundredths low at this size; 4 standard errors more is noise.
    assert task.mutual_information - 0.06 - 4 * res.stderr < res.value < task.mutual_information + 4 * res.stderr


def test_the_knn_family_is_raced_by_default_in_few_dimensions_only():
    x, y = miestim.gaussian.CorrelatedGaussianTask(dim=3, mi=1.0).sample(600, seed=0)
    res = miestim.estimate_mi(x, y, max_steps=20, progress=False)
    assert all("knn" not in v for v in res.extra["validation"])  # 6 columns > KNN_MAX_DIM
    res = miestim.estimate_mi(x, y, families=("gaussian", "knn"), progress=False)
    assert all(set(v) == {"gaussian", "knn"} for v in res.extra["validation"])
    assert np.isfinite(res.value)


def test_split_half_stderr_matches_the_spread_over_samples_and_leaves_global_rngs_alone():
    from miestim.crossfit.knn import split_half_stderr

    task = miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=1.0)
    state = torch.get_rng_state()
    estimates, stderrs, own = [], [], []
    for seed in range(40):
        x, y = _pairs(task, 1000, seed=seed)
        scores = KSGCritic(x, y, k=3).leave_one_out_scores()
        estimates.append(float(scores.mean()))
        own.append(float(scores.std() / math.sqrt(1000)))
        stderrs.append(split_half_stderr(x, y, k=3))
    assert torch.equal(torch.get_rng_state(), state)
    spread = float(np.std(estimates, ddof=1))
    # 40 samples know the spread to about 11%; the scores' own stderr is 0.8 of it (shared neighbours).
    assert 0.8 < np.mean(stderrs) / spread < 1.25, (np.mean(stderrs), spread)
    assert np.mean(stderrs) > np.mean(own)
    assert split_half_stderr(x, y, k=3) == stderrs[-1]


def test_split_half_stderr_above_its_row_cap_halves_a_subsample_and_scales_it(monkeypatch):
    import miestim.crossfit.knn as knn_family

    x, y = _pairs(miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=1.0), 3200, seed=0)
    full = knn_family.split_half_stderr(x, y, k=3)
    monkeypatch.setattr(knn_family, "SPLIT_HALF_ROWS", 200)
    capped = knn_family.split_half_stderr(x, y, k=3)
    # The variance of 200 rows' estimate is 16 times that of 3,200 rows': unscaled, the ratio would be near 4;
    # each stderr is known to about 16% (20 halvings), the capped one less well (its halves have 100 rows).
    assert 0.5 < capped / full < 2.0, (capped, full)


def test_the_knn_familys_leave_one_out_readout_uses_its_k():
    x, y = _pairs(miestim.gaussian.CorrelatedGaussianTask(dim=1, mi=1.0), 400, seed=0)
    readout = miestim.crossfit.KNNFamily(k=5).in_sample_readout(x, y)
    assert readout is not None and readout.critic.k == 5 and readout.readout == "leave-one-out"
    assert torch.equal(readout.values, KSGCritic(x, y, k=5).leave_one_out_scores())
    assert readout.stderr == miestim.crossfit.split_half_stderr(x, y, k=5)
    assert miestim.crossfit.KNNFamily(k=5).in_sample_readout(x[:23], y[:23]) is None  # too few rows to halve for k = 5
